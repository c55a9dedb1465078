import copy
import functools
import pickle

import pytest

from xtuner.dataset.map_fns import (DATASET_FORMAT_MAPPING, MapFnKeyError, alpaca_map_fn,
                                    alpaca_zh_map_fn, arxiv_map_fn, code_alpaca_map_fn,
                                    colors_map_fn, crime_kg_assitant_map_fn, default_map_fn,
                                    law_reference_map_fn, medical_map_fn, oasst1_map_fn,
                                    openai_map_fn, openorca_map_fn, pretrain_map_fn, sql_map_fn,
                                    stack_exchange_map_fn, template_map_fn,
                                    template_map_fn_factory, tiny_codes_map_fn, wizardlm_map_fn)
from xtuner.registry import MAP_FUNC
from xtuner.utils import PROMPT_TEMPLATE, SYSTEM_TEMPLATE

S = SYSTEM_TEMPLATE

# (map fn, raw row, expected conversation)
SINGLE_TURN_CASES = [
    (alpaca_map_fn, {'instruction': 'Add.', 'input': '1 2', 'output': '3'},
     [{'input': 'Add.\n1 2', 'output': '3'}]),
    (alpaca_map_fn, {'instruction': 'Greet.', 'input': '', 'output': 'Hi'},
     [{'input': 'Greet.', 'output': 'Hi'}]),
    (alpaca_map_fn, {'instruction': 'Draw.', 'input': '', 'output': '<nooutput>'}, []),
    (alpaca_zh_map_fn, {'instruction_zh': '加', 'input_zh': '1 2', 'output_zh': '3'},
     [{'input': '加\n1 2', 'output': '3'}]),
    (alpaca_zh_map_fn, {'instruction_zh': '画', 'input_zh': None, 'output_zh': '<nooutput>'}, []),
    (code_alpaca_map_fn, {'prompt': 'Sort x.', 'completion': 'sorted(x)'},
     [{'system': S.coder, 'input': 'Sort x.', 'output': 'sorted(x)'}]),
    (default_map_fn, {'input': None, 'output': 'o'}, [{'input': '', 'output': 'o'}]),
    (default_map_fn, {'input': 'i', 'output': 'o', 'extra': 1}, [{'input': 'i', 'output': 'o'}]),
    (arxiv_map_fn, {'abstract': 'We show.', 'title': 'A Title'},
     [{'system': S.arxiv_gentile, 'input': 'We show.', 'output': 'A Title'}]),
    (colors_map_fn, {'description': 'Deep ocean: a dark blue ', 'color': '#00008b'},
     [{'system': S.colorist, 'input': 'a dark blue', 'output': '#00008b'}]),
    (colors_map_fn, {'description': ' plain red ', 'color': '#ff0000'},
     [{'system': S.colorist, 'input': 'plain red', 'output': '#ff0000'}]),
    (crime_kg_assitant_map_fn, {'input': '问', 'output': '答'},
     [{'system': S.lawyer, 'input': '问', 'output': '答'}]),
    (law_reference_map_fn, {'question': '问', 'answer': '答'},
     [{'system': S.lawyer, 'input': '问', 'output': '答'}]),
    (medical_map_fn, {'instruction': '头疼', 'input': '三天', 'output': '休息'},
     [{'system': S.medical, 'input': '头疼\n三天', 'output': '休息'}]),
    (medical_map_fn, {'instruction': '头疼', 'input': '', 'output': '休息'},
     [{'system': S.medical, 'input': '头疼', 'output': '休息'}]),
    (openorca_map_fn, {'system_prompt': 'Be brief.', 'question': 'Q', 'response': 'R'},
     [{'system': 'Be brief.', 'input': 'Q', 'output': 'R'}]),
    (openorca_map_fn, {'system_prompt': '', 'question': 'Q', 'response': 'R'},
     [{'input': 'Q', 'output': 'R'}]),
    (sql_map_fn, {'context': 'CREATE TABLE t (a INT)', 'question': 'Count.',
                  'answer': 'SELECT COUNT(*) FROM t'},
     [{'system': S.sql, 'input': 'CREATE TABLE t (a INT)\nCount.',
       'output': 'SELECT COUNT(*) FROM t'}]),
    (stack_exchange_map_fn, {'question': 'Q', 'response': 'R'}, [{'input': 'Q', 'output': 'R'}]),
    (tiny_codes_map_fn, {'prompt': 'P', 'response': 'R'},
     [{'system': S.coder, 'input': 'P', 'output': 'R'}]),
    (pretrain_map_fn, {'text': '  A document.\n'},
     [{'input': '', 'output': 'A document.', 'need_eos_token': False}]),
    (pretrain_map_fn, {'text': ' \n '}, []),
]


@pytest.mark.parametrize('fn,row,expected', SINGLE_TURN_CASES)
def test_single_turn_map_fns(fn, row, expected):
    before = copy.deepcopy(row)
    assert fn(row) == {'conversation': expected}
    assert row == before


def test_openai_map_fn_multi_turn():
    row = {'messages': [
        {'role': 'assistant', 'content': 'Welcome!'},  # nothing asked yet: skipped
        {'role': 'system', 'content': 'Be terse.'},
        {'role': 'user', 'content': 'Hi.'},
        {'role': 'assistant', 'content': 'Hello.'},
        {'role': 'user', 'content': 'Part one.'},
        {'role': 'user', 'content': [{'type': 'text', 'text': 'Part '}, {'type': 'text',
                                                                         'text': 'two.'}]},
        {'role': 'assistant', 'content': 'Both read.', 'loss': 'false'},
        {'role': 'user', 'content': 'Unanswered.'},  # no answer: dropped
    ]}
    assert openai_map_fn(row) == {'conversation': [
        {'system': 'Be terse.', 'input': 'Hi.', 'output': 'Hello.', 'output_with_loss': True},
        {'input': 'Part one.\nPart two.', 'output': 'Both read.', 'output_with_loss': False},
    ]}


def test_oasst1_map_fn():
    text = ('### Human: Explain H1.### Assistant: Use:\n### Title\nin Markdown.'
            '### Human: Thanks. ### Assistant: You are welcome.### Human: Bye')
    assert oasst1_map_fn({'text': text}) == {'conversation': [
        {'input': 'Explain H1.', 'output': 'Use:\n### Title\nin Markdown.'},
        {'input': 'Thanks.', 'output': 'You are welcome.'},
    ]}
    assert oasst1_map_fn({'text': '### Human: Only a question.'}) == {'conversation': []}


def test_wizardlm_map_fn():
    row = {'conversations': [
        {'from': 'gpt', 'value': 'Ignored.'},
        {'from': 'human', 'value': 'Q1'},
        {'from': 'gpt', 'value': 'A1'},
        {'from': 'human', 'value': 'Q2'},
        {'from': 'gpt', 'value': 'A2'},
    ]}
    assert wizardlm_map_fn(row) == {'conversation': [
        {'input': 'Q1', 'output': 'A1'}, {'input': 'Q2', 'output': 'A2'}]}


@pytest.mark.parametrize('fn,row,error,message', [
    (alpaca_map_fn, {'input': '', 'output': 'o'}, MapFnKeyError,
     "alpaca_map_fn: row has no key 'instruction' (row keys: ['input', 'output'])"),
    (alpaca_map_fn, {'instruction': 'i', 'output': None}, ValueError,
     "alpaca_map_fn: 'output' is None"),
    (alpaca_zh_map_fn, {'instruction': 'i', 'output': 'o'}, MapFnKeyError,
     "alpaca_zh_map_fn: row has no key 'output_zh' (row keys: ['instruction', 'output'])"),
    (default_map_fn, {'output': 'o'}, MapFnKeyError,
     "default_map_fn: row has no key 'input' (row keys: ['output'])"),
    (default_map_fn, {'input': 'i', 'output': 3}, ValueError,
     "default_map_fn: 'output' must be a string, got int"),
    (sql_map_fn, {'question': 'q', 'answer': 'a'}, MapFnKeyError,
     "sql_map_fn: row has no key 'context' (row keys: ['answer', 'question'])"),
    (pretrain_map_fn, {'content': 'x'}, MapFnKeyError,
     "pretrain_map_fn: row has no key 'text' (row keys: ['content'])"),
    (openai_map_fn, {'conversations': []}, MapFnKeyError,
     "openai_map_fn: row has no key 'messages' (row keys: ['conversations'])"),
    (openai_map_fn, {'messages': 'hi'}, ValueError,
     "openai_map_fn: 'messages' must be a list, got str"),
    (openai_map_fn, {'messages': [{'role': 'user', 'content': 'q'}, {'role': 'tool',
                                                                    'content': '1'}]},
     ValueError, "openai_map_fn (messages[1]): unknown role 'tool'; expected system, user or "
     'assistant'),
    (openai_map_fn, {'messages': [{'role': 'user'}]}, MapFnKeyError,
     "openai_map_fn (messages[0]): row has no key 'content' (row keys: ['role'])"),
    (oasst1_map_fn, {'text': 'Human: no markers'}, ValueError,
     "oasst1_map_fn: 'text' has no '### Human:' or '### Assistant:' marker"),
    (wizardlm_map_fn, {'conversations': [{'from': 'bot', 'value': 'x'}]}, ValueError,
     "wizardlm_map_fn (conversations[0]): unknown 'from' 'bot'; expected human or gpt"),
])
def test_bad_rows_raise_with_fn_and_key(fn, row, error, message):
    with pytest.raises(error) as info:
        fn(row)
    assert str(info.value) == message
    if error is MapFnKeyError:
        assert isinstance(info.value, KeyError)
        # Errors cross process boundaries under datasets.map(num_proc=...).
        assert str(pickle.loads(pickle.dumps(info.value))) == message


def test_chatml_two_turns_with_system():
    raw = {'messages': [
        {'role': 'system', 'content': 'You are terse.'},
        {'role': 'user', 'content': 'Hi {there}'},  # braces in data are not format fields
        {'role': 'assistant', 'content': 'Hello.'},
        {'role': 'user', 'content': '2+2?'},
        {'role': 'assistant', 'content': '4'},
    ]}
    example = openai_map_fn(raw)
    snapshot = copy.deepcopy(example)
    result = template_map_fn_factory(PROMPT_TEMPLATE.chatml)(example)
    assert example == snapshot  # not modified in place
    assert result == {'conversation': [
        {'system': 'You are terse.',
         'input': '<|im_start|>system\nYou are terse.<|im_end|>\n'
                  '<|im_start|>user\nHi {there}<|im_end|>\n<|im_start|>assistant\n',
         'output': 'Hello.<|im_end|>', 'output_with_loss': True, 'need_eos_token': False,
         'sep': '\n'},
        {'input': '<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n',
         'output': '4<|im_end|>', 'output_with_loss': True, 'need_eos_token': False,
         'sep': '\n'},
    ]}
    text = ''.join(t['input'] + t['output'] + t['sep'] for t in result['conversation'])
    assert text == ('<|im_start|>system\nYou are terse.<|im_end|>\n'
                    '<|im_start|>user\nHi {there}<|im_end|>\n'
                    '<|im_start|>assistant\nHello.<|im_end|>\n'
                    '<|im_start|>user\n2+2?<|im_end|>\n'
                    '<|im_start|>assistant\n4<|im_end|>\n')


def test_template_without_suffix_rounds_and_eos():
    example = {'conversation': [{'input': 'Q1', 'output': 'A1'}, {'input': None, 'output': 'A2'}]}
    assert template_map_fn(example, PROMPT_TEMPLATE.chatglm2) == {'conversation': [
        {'input': '[Round 1]\n\n问：Q1\n\n答：', 'output': 'A1', 'need_eos_token': True,
         'sep': '\n\n'},
        {'input': '[Round 2]\n\n问：\n\n答：', 'output': 'A2', 'need_eos_token': True,
         'sep': '\n\n'},
    ]}
    # code_llama_chat has no SEP; gemma's suffix is trained but the tokenizer EOS still follows.
    assert template_map_fn({'conversation': [{'input': 'Q', 'output': 'A'}]},
                           PROMPT_TEMPLATE.code_llama_chat)['conversation'][0]['sep'] == ''
    gemma = template_map_fn({'conversation': [{'input': 'Q', 'output': 'A'}]},
                            PROMPT_TEMPLATE.gemma)['conversation'][0]
    assert (gemma['output'], gemma['need_eos_token']) == ('A<end_of_turn>', True)


def test_map_fn_need_eos_token_false_is_kept():
    example = pretrain_map_fn({'text': 'doc'})
    turns = template_map_fn(example, PROMPT_TEMPLATE.default)['conversation']
    assert turns == [{'input': '<|User|>:\n<|Bot|>:', 'output': 'doc', 'need_eos_token': False,
                      'sep': '\n'}]
    # After a datasets.map round trip, keys only some turns had come back as None: unset.
    example = {'conversation': [{'input': 'q', 'output': 'a', 'need_eos_token': None,
                                 'system': None}]}
    assert template_map_fn(example, PROMPT_TEMPLATE.default)['conversation'] == [
        {'input': '<|User|>:q\n<|Bot|>:', 'output': 'a', 'need_eos_token': True,
         'system': None, 'sep': '\n'}]


def test_template_map_fn_errors():
    with pytest.raises(MapFnKeyError, match="template_map_fn: row has no key 'conversation'"):
        template_map_fn({'text': 'x'}, PROMPT_TEMPLATE.chatml)
    with pytest.raises(ValueError, match='template has no SYSTEM'):
        template_map_fn({'conversation': [{'system': 's', 'input': 'q', 'output': 'a'}]},
                        PROMPT_TEMPLATE.minicpm)
    with pytest.raises(ValueError, match=r"conversation\[0\]\['input'\] must be a string"):
        template_map_fn({'conversation': [{'input': ['q'], 'output': 'a'}]},
                        PROMPT_TEMPLATE.chatml)
    assert template_map_fn({'conversation': []}, PROMPT_TEMPLATE.chatml) == {'conversation': []}


def test_factory_is_picklable_and_resolves_names():
    example = {'conversation': [{'system': 's', 'input': 'q', 'output': 'a'}]}
    expected = template_map_fn(example, PROMPT_TEMPLATE.llama3_chat)
    fn = template_map_fn_factory(PROMPT_TEMPLATE.llama3_chat)
    assert isinstance(fn, functools.partial) and fn.func is template_map_fn
    assert pickle.loads(pickle.dumps(fn))(example) == expected
    assert template_map_fn_factory('llama3_chat')(example) == expected
    assert template_map_fn_factory('xtuner.utils.PROMPT_TEMPLATE.llama3_chat')(example) == expected
    assert template_map_fn_factory(dict(PROMPT_TEMPLATE.llama3_chat))(example) == expected
    with pytest.raises(ValueError, match="unknown template 'no_such_template'"):
        template_map_fn_factory('no_such_template')
    with pytest.raises(MapFnKeyError, match="needs an 'INSTRUCTION' containing '{input}'"):
        template_map_fn_factory({'SYSTEM': '{system}', 'INSTRUCTION': 'no field'})


def test_registry_and_format_mapping():
    assert len(DATASET_FORMAT_MAPPING) == 17
    for fn in DATASET_FORMAT_MAPPING.values():
        assert MAP_FUNC.get(fn.__name__) is fn
    assert DATASET_FORMAT_MAPPING['crime_kg_assitan'] is crime_kg_assitant_map_fn
