"""``xtuner chat``: prompts built as training builds them, stop words, modes, adapters.

A tiny Llama is trained here (in-process, a few seconds) on a few conversations encoded by the
training pipeline, so that a greedy answer shows which prompt the model was given: ``pong`` to
``ping`` under chatml but ``zap`` under vicuna, ``twice`` to ``again`` after ``ping``/``pong``
but ``what`` to ``again`` alone. A LoRA adapter is then trained to answer ``peng`` instead.
"""
import io
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from conftest import ROOT, tiny_llama, xtuner
from xtuner.dataset.encode import encode_conversations
from xtuner.dataset.map_fns.template_map_fn import template_map_fn
from xtuner.tools import chat
from xtuner.tools.errors import XTunerUserError
from xtuner.utils import IGNORE_INDEX, PROMPT_TEMPLATE
from xtuner.utils.byte_tokenizer import build_byte_tokenizer

# (template, [(query, answer), ...], text trained on after the conversation)
BASE_DATA = [
    ('chatml', [('ping', 'pong')], 'JUNK after the stop word'),
    ('vicuna', [('ping', 'zap')], ''),
    ('chatml', [('ping', 'pong'), ('again', 'twice')], ''),
    ('chatml', [('again', 'what')], ''),
]
ADAPTER_DATA = [('chatml', [('ping', 'peng')], '')]
LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']


def _training_ids(tokenizer, name, turns, tail=''):
    """A conversation as ``xtuner train`` encodes it, then ``tail``."""
    rows = [dict(input=q, output=a) for q, a in turns]
    conversation = template_map_fn({'conversation': rows}, PROMPT_TEMPLATE[name])['conversation']
    ids = encode_conversations([conversation], tokenizer, max_length=None)['input_ids'][0]
    return ids + tokenizer(tail, add_special_tokens=False)['input_ids']


def _fit(model, tokenizer, data, steps, lr=1e-2):
    """Train on every token of ``data`` (full batch, Adam) until it is memorized."""
    seqs = [_training_ids(tokenizer, *row) for row in data]
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), tokenizer.pad_token_id)
    labels = torch.full_like(ids, IGNORE_INDEX)
    for row, seq in enumerate(seqs):
        ids[row, :len(seq)] = labels[row, :len(seq)] = torch.tensor(seq)
    mask = (labels != IGNORE_INDEX).long()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # faster for a model this small, and steadier on a busy machine
    try:
        model.train()
        for _ in range(steps):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    return loss.item()


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    tokenizer = build_byte_tokenizer()
    base_dir, adapter_dir = tmp_path_factory.mktemp('chat_base'), tmp_path_factory.mktemp('lora')
    model = tiny_llama()
    assert _fit(model, tokenizer, BASE_DATA, steps=120) < 0.1
    model.save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)
    torch.manual_seed(0)
    lora = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=LORA_TARGETS))
    assert _fit(lora, tokenizer, ADAPTER_DATA, steps=60) < 0.1
    lora.save_pretrained(adapter_dir)  # the adapter only: no tokenizer beside it
    base = AutoModelForCausalLM.from_pretrained(base_dir).eval()  # get_peft_model changed `model`
    return SimpleNamespace(base_dir=str(base_dir), adapter_dir=str(adapter_dir),
                           tokenizer=tokenizer, model=base)


def _session(trained, name='chatml', **generation):
    out = io.StringIO()
    generation = {'do_sample': False, 'max_new_tokens': 40, **generation}
    return chat.ChatSession(trained.model, trained.tokenizer, PROMPT_TEMPLATE[name],
                            generation=generation, out=out), out


# Turn 1 has a system text and an answer; turn 2 is asked. '<|bos|>' and '<|eos|>' are the
# byte tokenizer's bos and eos; a template without SUFFIX_AS_EOS ends answers with eos.
EXPECTED_PROMPTS = {
    'chatml': ('<|bos|><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n'
               '<|im_start|>assistant\nhello<|im_end|>\n<|im_start|>user\nand you?<|im_end|>\n'
               '<|im_start|>assistant\n'),
    'gemma': ('<|bos|><start_of_turn>system\nBe brief.<end_of_turn>\n<start_of_turn>user\nhi'
              '<end_of_turn>\n<start_of_turn>model\nhello<end_of_turn><|eos|>\n<start_of_turn>user'
              '\nand you?<end_of_turn>\n<start_of_turn>model\n'),
    'chatglm2': ('<|bos|>Be brief.\n[Round 1]\n\n问：hi\n\n答：hello<|eos|>\n\n[Round 2]\n\n'
                 '问：and you?\n\n答：'),
    'vicuna': ('<|bos|>' + PROMPT_TEMPLATE.vicuna.SYSTEM.format(system='Be brief.') +
               'USER: hi ASSISTANT:hello<|eos|>\nUSER: and you? ASSISTANT:'),
}


@pytest.mark.parametrize('name', sorted(EXPECTED_PROMPTS))
def test_prompt_ids_are_what_training_builds(byte_tokenizer, name):
    template = PROMPT_TEMPLATE[name]
    ids = chat.build_prompt_ids(byte_tokenizer, template, 'Be brief.', [('hi', 'hello')],
                                'and you?')
    assert byte_tokenizer.decode(ids) == EXPECTED_PROMPTS[name]
    # Training encodes the same conversation with these very ids, then the trained answer.
    rows = [dict(system='Be brief.', input='hi', output='hello'), dict(input='and you?',
                                                                     output='fine')]
    conversation = template_map_fn({'conversation': rows}, template)['conversation']
    encoded = encode_conversations([conversation], byte_tokenizer, max_length=None)
    train_ids, labels = encoded['input_ids'][0], encoded['labels'][0]
    assert train_ids[:len(ids)] == ids
    assert labels[len(ids) - 1] == IGNORE_INDEX
    answer = byte_tokenizer('fine' + (template.get('SUFFIX') or ''))['input_ids']
    assert labels[len(ids):len(ids) + len(answer)] == answer


def test_without_template_the_tokenizer_chat_template_is_used(byte_tokenizer):
    ids = chat.build_prompt_ids(byte_tokenizer, None, 'Be brief.', [('hi', 'hello')],
                                'and you?')
    assert byte_tokenizer.decode(ids) == (
        '<|bos|><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n'
        '<|im_start|>assistant\nhello<|im_end|>\n<|im_start|>user\nand you?<|im_end|>\n'
        '<|im_start|>assistant\n')
    # the tokenizer's chat template and training's chatml template build the same ids
    assert ids == chat.build_prompt_ids(byte_tokenizer, PROMPT_TEMPLATE.chatml, 'Be brief.',
                                        [('hi', 'hello')], 'and you?')
    # The chat template's end of turn stops answers, as the template's STOP_WORDS do.
    assert chat.stop_words(byte_tokenizer, None, [257]) == ['<|im_end|>', '<|eos|>']
    assert chat.stop_words(byte_tokenizer, PROMPT_TEMPLATE.qwen_chat, [257]) == [
        '<|im_end|>', '<|endoftext|>', '<|eos|>']
    assert chat.stop_words(byte_tokenizer, PROMPT_TEMPLATE.vicuna, [257]) == ['<|eos|>']


def test_streamed_answer_never_shows_a_stop_word_or_part_of_one(byte_tokenizer):
    for stream in (True, False):
        out, seen = io.StringIO(), []
        printer = chat.AnswerPrinter(byte_tokenizer, ['END', '<|im_end|>'], out, stream=stream)
        printer.put(torch.tensor([[1, 2, 3]]))  # generate hands over the prompt first
        for i in byte_tokenizer('aéENxENDjunk')['input_ids']:
            printer.put(torch.tensor([i]))
            seen.append(out.getvalue())
        printer.end()
        assert out.getvalue() == 'aéENx\n' and printer.answer == 'aéENx'
        # 'é' is two byte tokens: never half a character; 'E', 'EN' may start 'END': held back.
        expected = ['a', 'a', 'aé', 'aé', 'aé'] + ['aéENx'] * 8 if stream else [''] * 13
        assert seen == expected


def test_answers_follow_the_template_and_end_at_the_stop_word(trained, monkeypatch):
    generate, new_tokens = trained.model.generate, []

    def counting_generate(**kwargs):
        out = generate(**kwargs)
        new_tokens.append(out.shape[1] - kwargs['input_ids'].shape[1])
        return out

    monkeypatch.setattr(trained.model, 'generate', counting_generate)
    session, out = _session(trained)
    assert session.ask('ping') == 'pong'
    assert out.getvalue() == 'pong\n'
    assert new_tokens == [5]  # p, o, n, g, <|im_end|>: not the 40 allowed
    # Without the stop word the model goes on after '<|im_end|>', as it was trained to.
    prompt = torch.tensor([chat.build_prompt_ids(trained.tokenizer, PROMPT_TEMPLATE.chatml, '',
                                                 [], 'ping')])
    raw = generate(input_ids=prompt, max_new_tokens=8, do_sample=False)
    assert trained.tokenizer.decode(raw[0, prompt.shape[1]:]).startswith('pong<|im_end|>\n')
    session, out = _session(trained, 'vicuna')  # same words, other template, other answer
    assert session.ask('ping') == 'zap' and out.getvalue() == 'zap\n'


def test_repl_keeps_history_until_clear(trained, capsys):
    session, out = _session(trained)
    lines = iter(['ping', '  ', 'again', 'Clear', 'again', 'reset', 'ping', 'quit', 'ping'])
    assert chat.repl(session, read=lambda prompt: next(lines)) == 0
    assert out.getvalue() == 'pong\ntwice\nwhat\npong\n'  # 'again' alone is not 'twice'
    assert session.history == [('ping', 'pong')]
    session.clear()

    def ctrl_d(prompt):
        raise EOFError

    assert chat.repl(session, read=ctrl_d) == 0
    assert capsys.readouterr().out == ''  # answers went to `out`; the banner to stderr


def test_seed_makes_sampling_reproducible(trained, capsys):
    def sample(seed):
        chat.main([trained.base_dir, '--prompt-template', 'chatml', '--temperature', '3',
                   '--top-k', '0', '--top-p', '1', '--max-new-tokens', '6', '--seed', str(seed),
                   '--prompt', 'ping'])
        return capsys.readouterr().out

    first = sample(1)
    assert sample(1) == first
    assert len({first, sample(2), sample(3)}) > 1  # it does sample


def test_prompts_are_turns_of_one_conversation(trained, capsys):
    assert chat.main([trained.base_dir, '--prompt-template', 'chatml', '--prompt', 'ping',
                      '--prompt', 'again', '--max-new-tokens', '40']) == 0
    assert capsys.readouterr().out == 'pong\ntwice\n'


def test_cli_prompt_prints_exactly_the_answer(trained):
    r = xtuner('chat', trained.base_dir, '--prompt-template', 'vicuna', '--prompt', 'ping',
               '--max-new-tokens', '40')
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == 'zap\n'


def test_cli_stdin_lines_are_turns(trained):
    # conftest's xtuner() gives no stdin: run the same command with one
    r = subprocess.run([sys.executable, '-m', 'xtuner.entry_point', 'chat', trained.base_dir,
                        '--prompt-template', 'chatml', '--no-stream', '--max-new-tokens', '40'],
                       input='ping\n\n  \nagain\n',
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == 'pong\ntwice\n'


def test_cli_adapter_gives_the_adapters_answer(trained):
    r = xtuner('chat', trained.base_dir, '--adapter', trained.adapter_dir, '--prompt-template',
               'chatml', '--prompt', 'ping', '--max-new-tokens', '40')
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == 'peng\n'


def test_adapter_dir_tokenizer_wins_and_attention_is_sdpa(trained, tmp_path):
    from peft import PeftModel
    args = chat.build_parser().parse_args([trained.base_dir, '--adapter', trained.adapter_dir])
    model, tokenizer = chat._load(args, PROMPT_TEMPLATE.chatml)
    assert isinstance(model, PeftModel) and not model.training
    assert model.config._attn_implementation == 'sdpa'  # not xtuner's training attention
    assert tokenizer.model_max_length == trained.tokenizer.model_max_length  # MODEL's
    adapter = tmp_path / 'adapter_with_tokenizer'
    shutil.copytree(trained.adapter_dir, adapter)
    build_byte_tokenizer(model_max_length=123).save_pretrained(adapter)
    args = chat.build_parser().parse_args([trained.base_dir, '--adapter', str(adapter)])
    assert chat._load(args, PROMPT_TEMPLATE.chatml)[1].model_max_length == 123


def test_cli_bad_input_fails_in_one_line_before_loading(trained, tmp_path):
    (tmp_path / 'adapter_only').mkdir()
    (tmp_path / 'adapter_only' / 'adapter_config.json').write_text('{}')
    cases = {
        (trained.base_dir, '--prompt-template', 'chatm'):
            "unknown prompt template 'chatm'; did you mean chatml",
        (trained.base_dir, '--system-template', 'alpacca'): 'did you mean alpaca?',
        (str(tmp_path / 'nope'),): f'MODEL {tmp_path / "nope"}: no such directory',
        (trained.base_dir, '--adapter', str(tmp_path / 'nope')): '--adapter',
        (str(tmp_path / 'adapter_only'),): 'pass its base model as MODEL and it as --adapter',
        (trained.base_dir, '--prompt-template', 'minicpm', '--system', 'x'): 'no system turn',
        (trained.base_dir, '--top-p', '0'): '--top-p must be in (0, 1]',
    }
    for args, message in cases.items():
        r = xtuner('chat', *args, '--prompt', 'ping')
        assert (r.returncode, r.stdout) == (2, ''), (args, r.stderr)
        assert r.stderr.startswith('xtuner chat: error: ') and r.stderr.count('\n') == 1, args
        assert message in r.stderr, (args, r.stderr)


def test_no_chat_template_asks_for_a_prompt_template(tmp_path, byte_tokenizer):
    byte_tokenizer.chat_template = None
    byte_tokenizer.save_pretrained(tmp_path)
    tiny_llama().config.save_pretrained(tmp_path)  # no weights: the check comes first
    with pytest.raises(XTunerUserError, match='pass --prompt-template NAME') as err:
        chat.main([str(tmp_path), '--prompt', 'hi'])
    assert 'chatml' in str(err.value) and 'llama3_chat' in str(err.value)
