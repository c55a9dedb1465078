"""The data path: encode → pack → collate, with exact ids, labels and boundaries."""
import json
import re

import pytest
import torch
from datasets import Dataset

from xtuner.dataset import PackedDataset, process_hf_dataset
from xtuner.dataset.collate_fns import default_collate_fn, shift_labels
from xtuner.dataset.encode import encode_conversations
from xtuner.dataset.map_fns import alpaca_map_fn, template_map_fn_factory
from xtuner.dataset.packing import pack_greedy
from xtuner.utils import IGNORE_INDEX, PROMPT_TEMPLATE

I = IGNORE_INDEX  # noqa: E741
BOS, EOS = 256, 257


def test_encode_masks_prompt_and_adds_bos_eos(byte_tokenizer):
    conv = [[{'input': 'ab', 'output': 'c', 'sep': ''},
             {'input': 'd', 'output': 'e', 'need_eos_token': False, 'sep': 'Z'}]]
    out = encode_conversations(conv, byte_tokenizer, max_length=None)
    assert out['input_ids'] == [[BOS, 97, 98, 99, EOS, 100, 101, 90]]
    assert out['labels'] == [[I, I, I, 99, EOS, I, 101, I]]
    assert out['truncated'] == [False]


def test_encode_output_without_loss_and_truncation(byte_tokenizer):
    conv = [[{'input': 'a', 'output': 'b', 'output_with_loss': False},
             {'input': 'c', 'output': 'd'}]]
    out = encode_conversations(conv, byte_tokenizer, max_length=6)
    assert out['input_ids'] == [[BOS, 97, 98, EOS, 99, 100]]
    assert out['labels'] == [[I, I, I, I, I, 100]]
    assert out['truncated'] == [True]


def test_encode_skips_bos_when_template_starts_with_it(byte_tokenizer):
    out = encode_conversations([[{'input': '<|bos|>q', 'output': 'r'}]], byte_tokenizer, None)
    assert out['input_ids'] == [[BOS, 113, 114, EOS]]


def test_pack_greedy_keeps_every_sample_whole():
    assert pack_greedy([3, 4, 2, 5, 1], max_length=7) == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match='sample 1 has 9 tokens'):
        pack_greedy([3, 9], max_length=8)


def test_packed_dataset_concatenates_with_boundaries():
    rows = Dataset.from_dict({'input_ids': [[1, 2], [3, 4, 5], [6]],
                              'labels': [[I, 2], [I, 4, 5], [6]]})
    packed = PackedDataset(rows, max_length=5)
    assert len(packed) == 2
    assert packed[0] == {'input_ids': [1, 2, 3, 4, 5], 'labels': [I, 2, I, 4, 5],
                         'cumulative_len': [0, 2, 5]}
    assert packed[1]['cumulative_len'] == [0, 1]
    assert packed.length == [5, 1]


def test_shift_labels_never_crosses_a_sample():
    # two samples [10 11 12] [13 14]: each target comes from its own sample only
    assert shift_labels([10, 11, 12, 13, 14], [0, 3, 5]) == [11, 12, I, 14, I]


def test_collate_makes_one_row_without_padding():
    batch = default_collate_fn([
        {'input_ids': [1, 2, 3, 4, 5], 'labels': [I, 2, 3, 4, 5], 'cumulative_len': [0, 2, 5]},
        {'input_ids': [7, 8], 'labels': [I, 8]},
    ], pad_index=0)
    data = batch['data']
    assert batch['data_samples'] is None
    assert data['input_ids'].tolist() == [[1, 2, 3, 4, 5, 7, 8]]
    assert data['labels'].tolist() == [[2, I, 4, 5, I, 8, I]]
    assert data['position_ids'].tolist() == [[0, 1, 0, 1, 2, 0, 1]]
    assert data['cu_seq_lens_q'].tolist() == [0, 2, 5, 7] and data['max_length_q'] == 3
    assert [c.tolist() for c in data['cumulative_len']] == [[0, 2, 5], [0, 2]]


def test_collate_pads_for_sp_and_shards_after_the_shift():
    sample = {'input_ids': [1, 2, 3, 4, 5], 'labels': [1, 2, 3, 4, 5]}
    shards = [default_collate_fn([sample], pad_index=0, sp_size=4, sp_rank=r)['data']
              for r in range(4)]
    # 5 tokens + 3 padding (its own segment) = 8, two per rank; targets cross shard edges
    assert [d['input_ids'].tolist() for d in shards] == [[[1, 2]], [[3, 4]], [[5, 0]], [[0, 0]]]
    assert [d['labels'].tolist() for d in shards] == [[[2, 3]], [[4, 5]], [[I, I]], [[I, I]]]
    assert [d['position_ids'].tolist() for d in shards] == [[[0, 1]], [[2, 3]], [[4, 0]],
                                                             [[1, 2]]]
    assert shards[3]['cu_seq_lens_q'].tolist() == [0, 5, 8]


def test_collate_rejects_bad_boundaries():
    with pytest.raises(ValueError, match='does not span'):
        default_collate_fn([{'input_ids': [1, 2], 'labels': [1, 2], 'cumulative_len': [0, 1]}])


def _alpaca_rows(n):
    return [{'instruction': f'q{i}', 'input': '', 'output': 'a' * (i % 5 + 1)} for i in range(n)]


def test_process_hf_dataset_packs_every_token(byte_tokenizer):
    rows = _alpaca_rows(40)
    packed = process_hf_dataset(
        Dataset.from_list(rows), byte_tokenizer, max_length=64, dataset_map_fn=alpaca_map_fn,
        template_map_fn=template_map_fn_factory(PROMPT_TEMPLATE.chatml))
    unpacked = process_hf_dataset(
        Dataset.from_list(rows), byte_tokenizer, max_length=64, dataset_map_fn=alpaca_map_fn,
        template_map_fn=template_map_fn_factory(PROMPT_TEMPLATE.chatml),
        pack_to_max_length=False)
    assert len(unpacked) == 40
    total = sum(unpacked['length'])
    assert sum(packed.length) == total and all(n <= 64 for n in packed.length)
    # every sample appears whole in exactly one row, in the (seeded) shuffled order
    flat = [packed[i] for i in range(len(packed))]
    samples = [ids for row in flat for ids in
               (row['input_ids'][a:b] for a, b in zip(row['cumulative_len'], row['cumulative_len'][1:]))]
    assert samples == unpacked['input_ids']
    # ChatML: the prompt up to '<|im_start|>assistant\n' is masked; the answer and its
    # '<|im_end|>' (the suffix that acts as EOS, so no extra eos) are the targets.
    for row in unpacked:
        trained = [t for t, l in zip(row['input_ids'], row['labels']) if l != I]
        prompt = byte_tokenizer.decode([t for t, l in zip(row['input_ids'], row['labels']) if l == I])
        assert re.fullmatch(r'a{1,5}<\|im_end\|>', byte_tokenizer.decode(trained))
        assert re.fullmatch(r'<\|bos\|><\|im_start\|>user\nq\d+<\|im_end\|>\n<\|im_start\|>assistant\n\n', prompt)


def test_process_hf_dataset_skips_and_counts_bad_rows(byte_tokenizer, caplog):
    rows = _alpaca_rows(5) + [{'instruction': None, 'input': '', 'output': 'x'},
                              {'instruction': 'q', 'input': '', 'output': '<nooutput>'}]
    out = process_hf_dataset(Dataset.from_list(rows), byte_tokenizer, max_length=64,
                             dataset_map_fn=alpaca_map_fn, pack_to_max_length=False,
                             shuffle_before_pack=False)
    assert len(out) == 5


def test_process_hf_dataset_all_bad_is_a_clear_error(byte_tokenizer):
    with pytest.raises(ValueError, match='no usable rows: all 2 rows were skipped'):
        process_hf_dataset(Dataset.from_list([{'text': 'a'}, {'text': 'b'}]), byte_tokenizer,
                           max_length=8, dataset_map_fn=alpaca_map_fn)


def test_process_hf_dataset_builds_configs_and_map_fn_names(byte_tokenizer, tmp_path):
    from datasets import load_dataset

    from xtuner.utils.byte_tokenizer import build_byte_tokenizer
    path = tmp_path / 'd.jsonl'
    path.write_text('\n'.join(json.dumps(r) for r in _alpaca_rows(6)))
    out = process_hf_dataset(
        dataset=dict(type=load_dataset, path='json', data_files=str(path)),
        tokenizer=dict(type=build_byte_tokenizer), max_length=32,
        dataset_map_fn='alpaca_map_fn',
        template_map_fn=dict(type=template_map_fn_factory, template=PROMPT_TEMPLATE.chatml))
    assert len(out.sample_lengths) == 6 and sum(out.length) == sum(out.sample_lengths)


def test_process_hf_dataset_is_reproducible(byte_tokenizer):
    kwargs = dict(tokenizer=byte_tokenizer, max_length=48, dataset_map_fn=alpaca_map_fn)
    a = process_hf_dataset(Dataset.from_list(_alpaca_rows(30)), **kwargs)
    b = process_hf_dataset(Dataset.from_list(_alpaca_rows(30)), **kwargs)
    assert [a[i] for i in range(len(a))] == [b[i] for i in range(len(b))]
    c = process_hf_dataset(Dataset.from_list(_alpaca_rows(30)), seed=1, **kwargs)
    assert [a[i] for i in range(len(a))] != [c[i] for i in range(len(c))]
