"""Chat formats (``PROMPT_TEMPLATE``) and ready-made system prompts (``SYSTEM_TEMPLATE``).

Names and strings follow XTuner 0.2, so its configs (``PROMPT_TEMPLATE.internlm2_chat``)
keep working. A template renders one conversation turn by turn::

    turn 1:  SYSTEM.format(system=...) + INSTRUCTION.format(input=..., round=1) | output + SUFFIX | SEP
    turn n:                              INSTRUCTION.format(input=..., round=n) | output + SUFFIX | SEP

Everything left of the first ``|`` is the prompt (not trained on); ``output + SUFFIX`` is the
answer (trained on). Keys, all optional but ``INSTRUCTION``:

- ``SYSTEM``: format string with ``{system}``; used only on turns that carry a system text.
- ``INSTRUCTION``: format string with ``{input}`` (and optionally ``{round}``, 1-based).
- ``SUFFIX``: appended to every answer (default ``''``).
- ``SUFFIX_AS_EOS``: the suffix ends the answer, so no tokenizer EOS is added (default False).
- ``SEP``: text between turns, not trained on (default ``''``).
- ``STOP_WORDS``: strings that end generation at chat time (the tokenizer's EOS is implied).
"""
from mmengine.config import ConfigDict

__all__ = ['PROMPT_TEMPLATE', 'SYSTEM_TEMPLATE']

_VICUNA_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
                  "The assistant gives helpful, detailed, and polite answers to the user's "
                  "questions. {system}\n ")
_LLAMA2_DEFAULT_SYSTEM = (
    'You are a helpful, respectful and honest assistant. Always answer as helpfully as '
    'possible, while being safe. Your answers should not include any harmful, unethical, '
    'racist, sexist, toxic, dangerous, or illegal content. Please ensure that your responses '
    'are socially unbiased and positive in nature.')
# 'DeepSeekCompany' (no space) is how XTuner 0.2 spells it; kept so prompts stay identical.
_DEEPSEEK_CODER_SYSTEM = (
    'You are an AI programming assistant, utilizing the DeepSeek Coder model, developed by '
    'DeepSeekCompany, and you only answer questions related to computer science. For '
    'politically sensitive questions, security and privacy issues, and other non-computer '
    'science questions, you will refuse to answer. {system}\n')
_DEEPSEEK_EOS = '<｜end▁of▁sentence｜>'  # full-width bars and U+2581, as in DeepSeek's vocab


def _chatml(stop_words=('<|im_end|>',)):
    """The <|im_start|>role\\n...<|im_end|> format (InternLM2, Qwen, MiniCPM3, SmolLM2...)."""
    return dict(
        SYSTEM='<|im_start|>system\n{system}<|im_end|>\n',
        INSTRUCTION='<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n',
        SUFFIX='<|im_end|>',
        SUFFIX_AS_EOS=True,
        SEP='\n',
        STOP_WORDS=list(stop_words))


def _inst(system='[INST] {system} [/INST]\n'):
    """Mistral-style [INST] ... [/INST] turns; the answer is followed by the tokenizer EOS."""
    return dict(SYSTEM=system, INSTRUCTION='[INST] {input} [/INST]', SEP='\n')


def _vicuna():
    return dict(SYSTEM=_VICUNA_SYSTEM, INSTRUCTION='USER: {input} ASSISTANT:', SEP='\n')


def _deepseek_coder():
    return dict(SYSTEM=_DEEPSEEK_CODER_SYSTEM,
                INSTRUCTION='### Instruction:\n{input}\n### Response:\n', SEP='\n')


PROMPT_TEMPLATE = ConfigDict(
    default=dict(SYSTEM='<|System|>:{system}\n', INSTRUCTION='<|User|>:{input}\n<|Bot|>:',
                 SEP='\n'),
    zephyr=dict(SYSTEM='<|system|>\n{system}\n', INSTRUCTION='<|user|>\n{input}\n<|assistant|>\n',
                SEP='\n'),
    internlm_chat=dict(
        SYSTEM='<|System|>:{system}\n',
        INSTRUCTION='<|User|>:{input}<eoh>\n<|Bot|>:',
        SUFFIX='<eoa>',
        SUFFIX_AS_EOS=True,
        SEP='\n',
        STOP_WORDS=['<eoa>']),
    internlm2_chat=_chatml(),
    moss_sft=dict(SYSTEM='{system}\n', INSTRUCTION='<|Human|>: {input}<eoh>\n', SEP='\n',
                  STOP_WORDS=['<eoc>', '<eom>']),
    llama2_chat=_inst(system=f'[INST] <<SYS>>\n {_LLAMA2_DEFAULT_SYSTEM}\n{{system}}\n<</SYS>>\n'
                             ' [/INST] '),
    code_llama_chat=dict(SYSTEM='{system}\n', INSTRUCTION='[INST] {input} [/INST]'),
    chatglm2=dict(SYSTEM='{system}\n', INSTRUCTION='[Round {round}]\n\n问：{input}\n\n答：',
                  SEP='\n\n'),
    chatglm3=dict(SYSTEM='<|system|>\n{system}', INSTRUCTION='<|user|>\n{input}<|assistant|>\n',
                  SEP='\n'),
    qwen_chat=_chatml(stop_words=('<|im_end|>', '<|endoftext|>')),
    baichuan_chat=dict(SYSTEM='{system}\n', INSTRUCTION='<reserved_102>{input}<reserved_103>',
                       SEP='\n'),
    baichuan2_chat=dict(SYSTEM='{system}\n', INSTRUCTION='<reserved_106>{input}<reserved_107>',
                        SEP='\n'),
    wizardlm=_vicuna(),
    wizardcoder=dict(
        SYSTEM=('Below is an instruction that describes a task. Write a response that '
                'appropriately completes the request.\n\n{system}\n '),
        INSTRUCTION='### Instruction:\n{input}\n\n### Response:',
        SEP='\n\n'),
    vicuna=_vicuna(),
    deepseek_coder=_deepseek_coder(),
    deepseekcoder=_deepseek_coder(),  # old XTuner name, kept for old configs
    deepseek_moe=_inst(),
    deepseek_v2=dict(
        SYSTEM='{system}\n\n',
        INSTRUCTION='User: {input}\n\nAssistant: ',
        SUFFIX=_DEEPSEEK_EOS,
        SUFFIX_AS_EOS=True,
        STOP_WORDS=[_DEEPSEEK_EOS]),
    mistral=_inst(),
    mixtral=_inst(),
    minicpm=dict(INSTRUCTION='<用户> {input} <AI>', SEP='\n'),  # no system turn
    minicpm3=_chatml(stop_words=('<|im_end|>', '<|endoftext|>')),
    gemma=dict(
        # Gemma has no system role; XTuner 0.2 adds one in the same turn markup.
        SYSTEM='<start_of_turn>system\n{system}<end_of_turn>\n',
        INSTRUCTION='<start_of_turn>user\n{input}<end_of_turn>\n<start_of_turn>model\n',
        SUFFIX='<end_of_turn>',
        SUFFIX_AS_EOS=False,
        SEP='\n',
        STOP_WORDS=['<end_of_turn>']),
    cohere_chat=dict(
        SYSTEM='<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>{system}<|END_OF_TURN_TOKEN|>',
        INSTRUCTION=('<|START_OF_TURN_TOKEN|><|USER_TOKEN|>{input}<|END_OF_TURN_TOKEN|>'
                     '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'),
        SUFFIX='<|END_OF_TURN_TOKEN|>',
        SUFFIX_AS_EOS=True,
        STOP_WORDS=['<|END_OF_TURN_TOKEN|>']),
    llama3_chat=dict(
        SYSTEM='<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>',
        INSTRUCTION=('<|start_header_id|>user<|end_header_id|>\n\n{input}<|eot_id|>'
                     '<|start_header_id|>assistant<|end_header_id|>\n\n'),
        SUFFIX='<|eot_id|>',
        SUFFIX_AS_EOS=True,
        STOP_WORDS=['<|eot_id|>']),
    phi3_chat=dict(
        SYSTEM='<|system|>\n{system}<|end|>\n',
        INSTRUCTION='<|user|>\n{input}<|end|>\n<|assistant|>\n',
        SUFFIX='<|end|>',
        SUFFIX_AS_EOS=True,
        SEP='\n',
        STOP_WORDS=['<|end|>']),
    # Added here (not in XTuner 0.2): the generic ChatML format and two models that use it.
    # Qwen2/2.5's own chat template inserts a default system prompt when none is given;
    # these templates add a system turn only when the data carries one.
    chatml=_chatml(),
    qwen2_chat=_chatml(stop_words=('<|im_end|>', '<|endoftext|>')),
    smollm2_chat=_chatml(),
)

SYSTEM_TEMPLATE = ConfigDict(
    moss_sft=('You are an AI assistant whose name is {bot_name}.\n'
              'Capabilities and tools that {bot_name} can possess.\n'
              '- Inner thoughts: enabled.\n'
              '- Web search: enabled. API: Search(query)\n'
              '- Calculator: enabled. API: Calculate(expression)\n'
              '- Equation solver: enabled. API: Solve(equation)\n'
              '- Text-to-image: disabled.\n'
              '- Image edition: disabled.\n'
              '- Text-to-speech: disabled.\n'),
    alpaca=('Below is an instruction that describes a task. '
            'Write a response that appropriately completes the request.\n'),
    arxiv_gentile=('If you are an expert in writing papers, please generate a good paper '
                   "title for this paper based on other authors' descriptions of their "
                   'abstracts.\n'),
    colorist=('You are a professional color designer. Please provide the corresponding '
              'colors based on the description of Human.\n'),
    # 'programer' is XTuner 0.2's spelling; kept so trained prompts match.
    coder=('You are a professional programer. Please provide the corresponding code based '
           'on the description of Human.\n'),
    lawyer='你现在是一名专业的中国律师，请根据用户的问题给出准确、有理有据的回复。\n',
    medical='如果你是一名医生，请根据患者的描述回答医学问题。\n',
    sql=('If you are an expert in SQL, please generate a good SQL Query for Question based '
         'on the CREATE TABLE statement.\n'),
)
