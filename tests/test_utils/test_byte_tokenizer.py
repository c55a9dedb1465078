import pickle

import pytest
from transformers import AutoTokenizer

from xtuner.utils.byte_tokenizer import (BYTE_SPECIAL_TOKENS, BYTE_VOCAB_SIZE,
                                         build_byte_tokenizer)

TEXT = 'Hi é€!\n<|im_start|>  x'
# 'é' is 2 UTF-8 bytes, '€' is 3; '<|im_start|>' inside text is one special token.
TEXT_IDS = [72, 105, 32, 195, 169, 226, 130, 172, 33, 10, 259, 32, 32, 120]
CHAT = [{'role': 'system', 'content': 'Be brief.'},
        {'role': 'user', 'content': 'Hi?'},
        {'role': 'assistant', 'content': 'Hello.'}]
CHAT_TEXT = ('<|bos|><|im_start|>system\nBe brief.<|im_end|>\n'
             '<|im_start|>user\nHi?<|im_end|>\n'
             '<|im_start|>assistant\nHello.<|im_end|>\n')


@pytest.fixture(scope='module')
def tok():
    return build_byte_tokenizer()


def test_exact_ids_and_round_trip(tok):
    assert tok(TEXT)['input_ids'] == TEXT_IDS  # nothing added: no bos, no eos
    assert tok.decode(TEXT_IDS) == TEXT
    plain = 'naïve 日本語 \t\x00 tabs,  spaces  and 🙂'
    ids = tok(plain)['input_ids']
    assert ids == list(plain.encode('utf-8'))  # id == byte value
    assert tok.decode(ids) == plain
    every_byte = bytes(range(256)).decode('latin-1')
    assert tok.decode(tok(every_byte)['input_ids']) == every_byte


def test_special_tokens(tok):
    assert BYTE_SPECIAL_TOKENS == {'<|bos|>': 256, '<|eos|>': 257, '<|pad|>': 258,
                                   '<|im_start|>': 259, '<|im_end|>': 260}
    assert len(tok) == BYTE_VOCAB_SIZE == 261
    for token, idx in BYTE_SPECIAL_TOKENS.items():
        assert tok(token)['input_ids'] == [idx]
        assert tok.convert_ids_to_tokens(idx) == token
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ('<|bos|>', '<|eos|>', '<|pad|>')
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (256, 257, 258)
    assert sorted(tok.all_special_ids) == [256, 257, 258, 259, 260]
    assert tok.decode([259, 104, 260, 257], skip_special_tokens=True) == 'h'


def test_chat_template(tok):
    assert tok.apply_chat_template(CHAT, tokenize=False) == CHAT_TEXT
    prompt = tok.apply_chat_template(CHAT[1:2], tokenize=False, add_generation_prompt=True)
    assert prompt == '<|bos|><|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n'
    ids = tok.apply_chat_template(CHAT[1:2], tokenize=True, add_generation_prompt=True)
    if not isinstance(ids, list):  # transformers 5 returns a BatchEncoding, 4 a list
        ids = ids['input_ids']
    assert ids == [256, 259] + list(b'user\nHi?') + [260, 10, 259] + list(b'assistant\n')


def test_config_kwargs():
    tok = build_byte_tokenizer(pretrained_model_name_or_path='anything',
                               trust_remote_code=True, padding_side='left')
    assert tok.padding_side == 'left'
    batch = tok(['ab', 'abcd'], padding=True)
    assert batch['input_ids'] == [[258, 258, 97, 98], [97, 98, 99, 100]]
    assert batch['attention_mask'] == [[0, 0, 1, 1], [1, 1, 1, 1]]
    assert build_byte_tokenizer().padding_side == 'right'
    with pytest.raises(TypeError, match='padding_sid'):
        build_byte_tokenizer(padding_sid='left')


def test_pickle(tok):
    clone = pickle.loads(pickle.dumps(tok))
    assert clone(TEXT)['input_ids'] == TEXT_IDS
    assert clone.apply_chat_template(CHAT, tokenize=False) == CHAT_TEXT
    assert (clone.eos_token_id, clone.pad_token_id) == (257, 258)


def test_save_and_auto_load(tmp_path):
    tok = build_byte_tokenizer(padding_side='left')
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded(TEXT)['input_ids'] == TEXT_IDS
    assert loaded.decode(TEXT_IDS) == TEXT
    assert loaded.apply_chat_template(CHAT, tokenize=False) == CHAT_TEXT
    assert (loaded.bos_token_id, loaded.eos_token_id, loaded.pad_token_id) == (256, 257, 258)
    assert sorted(loaded.all_special_ids) == [256, 257, 258, 259, 260]
    assert loaded.padding_side == 'left' and len(loaded) == 261


def test_datasets_map_num_proc(tok):
    """datasets pickles the map function (and the tokenizer it holds) into worker processes."""
    from datasets import Dataset
    from datasets.fingerprint import Hasher

    def encode(row):
        return {'input_ids': tok(row['text'])['input_ids']}

    ds = Dataset.from_dict({'text': [TEXT, 'ab', 'é', 'xyz']})
    out = ds.map(encode, num_proc=2)
    assert out['input_ids'] == [TEXT_IDS, [97, 98], [195, 169], [120, 121, 122]]
    # Two builds hash alike, so datasets' on-disk cache is reused across runs.
    assert Hasher.hash(tok) == Hasher.hash(build_byte_tokenizer())
