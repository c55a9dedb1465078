import string

import pytest

from xtuner.utils import (DEFAULT_PAD_TOKEN_INDEX, IGNORE_INDEX, PROMPT_TEMPLATE,
                          SYSTEM_TEMPLATE)

XTUNER_02_PROMPT_NAMES = [
    'default', 'zephyr', 'internlm_chat', 'internlm2_chat', 'moss_sft', 'llama2_chat',
    'code_llama_chat', 'chatglm2', 'chatglm3', 'qwen_chat', 'baichuan_chat', 'baichuan2_chat',
    'wizardlm', 'wizardcoder', 'vicuna', 'deepseek_coder', 'deepseekcoder', 'deepseek_moe',
    'deepseek_v2', 'mistral', 'mixtral', 'minicpm', 'minicpm3', 'gemma', 'cohere_chat',
    'llama3_chat', 'phi3_chat'
]
ADDED_PROMPT_NAMES = ['chatml', 'qwen2_chat', 'smollm2_chat']
KEYS = {'SYSTEM', 'INSTRUCTION', 'SUFFIX', 'SUFFIX_AS_EOS', 'SEP', 'STOP_WORDS'}


def _fields(fmt):
    return {name for _, name, _, _ in string.Formatter().parse(fmt) if name is not None}


def test_constants():
    assert IGNORE_INDEX == -100
    assert DEFAULT_PAD_TOKEN_INDEX == 0


def test_prompt_template_names():
    assert sorted(PROMPT_TEMPLATE) == sorted(XTUNER_02_PROMPT_NAMES + ADDED_PROMPT_NAMES)


@pytest.mark.parametrize('name', XTUNER_02_PROMPT_NAMES + ADDED_PROMPT_NAMES)
def test_every_template_is_well_formed(name):
    template = PROMPT_TEMPLATE[name]
    assert set(template) <= KEYS and 'INSTRUCTION' in template
    assert _fields(template.INSTRUCTION) in ({'input'}, {'input', 'round'})
    prompt = template.INSTRUCTION.format(input='QUESTION', round=3)
    assert prompt.count('QUESTION') == 1 and '{' not in prompt and '}' not in prompt
    if 'SYSTEM' in template:
        assert _fields(template.SYSTEM) == {'system'}
        assert template.SYSTEM.format(system='@sys@').count('@sys@') == 1
    else:
        assert name == 'minicpm'
    assert isinstance(template.get('SUFFIX', ''), str)
    assert isinstance(template.get('SEP', ''), str)
    assert isinstance(template.get('SUFFIX_AS_EOS', False), bool)
    stop_words = template.get('STOP_WORDS', [])
    assert isinstance(stop_words, list) and all(isinstance(w, str) and w for w in stop_words)
    if template.get('SUFFIX_AS_EOS'):
        # The suffix ends the answer, so generation must stop on it.
        assert template.SUFFIX and template.SUFFIX in stop_words


def test_exact_prompt_strings():
    llama3 = PROMPT_TEMPLATE.llama3_chat
    assert (llama3.SYSTEM.format(system='S') + llama3.INSTRUCTION.format(input='Q', round=1)
            == '<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>'
            '<|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>'
            '<|start_header_id|>assistant<|end_header_id|>\n\n')
    assert PROMPT_TEMPLATE.chatglm2.INSTRUCTION.format(input='Q', round=2) == \
        '[Round 2]\n\n问：Q\n\n答：'
    assert PROMPT_TEMPLATE.llama2_chat.SYSTEM.format(system='S').endswith(
        'positive in nature.\nS\n<</SYS>>\n [/INST] ')
    assert PROMPT_TEMPLATE.llama2_chat.SYSTEM.startswith(
        '[INST] <<SYS>>\n You are a helpful, respectful and honest assistant.')
    assert PROMPT_TEMPLATE.deepseek_v2.SUFFIX == '<\uff5cend\u2581of\u2581sentence\uff5c>'
    assert dict(PROMPT_TEMPLATE.chatml) == {
        'SYSTEM': '<|im_start|>system\n{system}<|im_end|>\n',
        'INSTRUCTION': '<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n',
        'SUFFIX': '<|im_end|>',
        'SUFFIX_AS_EOS': True,
        'SEP': '\n',
        'STOP_WORDS': ['<|im_end|>'],
    }


def test_shared_formats_are_equal_but_independent():
    assert PROMPT_TEMPLATE.mistral == PROMPT_TEMPLATE.mixtral == PROMPT_TEMPLATE.deepseek_moe
    assert PROMPT_TEMPLATE.vicuna == PROMPT_TEMPLATE.wizardlm
    assert PROMPT_TEMPLATE.deepseekcoder == PROMPT_TEMPLATE.deepseek_coder
    assert PROMPT_TEMPLATE.qwen2_chat == PROMPT_TEMPLATE.qwen_chat == PROMPT_TEMPLATE.minicpm3
    assert PROMPT_TEMPLATE.smollm2_chat == PROMPT_TEMPLATE.chatml == \
        PROMPT_TEMPLATE.internlm2_chat
    # Each entry is its own object: editing one in a config must not change another.
    assert PROMPT_TEMPLATE.chatml is not PROMPT_TEMPLATE.smollm2_chat
    assert PROMPT_TEMPLATE.chatml.STOP_WORDS is not PROMPT_TEMPLATE.smollm2_chat.STOP_WORDS


def test_system_template():
    assert sorted(SYSTEM_TEMPLATE) == [
        'alpaca', 'arxiv_gentile', 'coder', 'colorist', 'lawyer', 'medical', 'moss_sft', 'sql'
    ]
    for name, text in SYSTEM_TEMPLATE.items():
        assert isinstance(text, str) and text.endswith('\n'), name
        assert _fields(text) == ({'bot_name'} if name == 'moss_sft' else set()), name
    assert SYSTEM_TEMPLATE.alpaca == ('Below is an instruction that describes a task. Write a '
                                      'response that appropriately completes the request.\n')
    assert SYSTEM_TEMPLATE.moss_sft.format(bot_name='Bot').startswith(
        'You are an AI assistant whose name is Bot.\nCapabilities and tools that Bot can')
