"""Samplers and ConcatDataset."""
import torch
from datasets import Dataset
from mmengine.dataset import DefaultSampler

from xtuner.dataset import ConcatDataset
from xtuner.dataset.samplers import LengthGroupedSampler
from xtuner.parallel.sequence import (SequenceParallelSampler, get_data_parallel_world_size,
                                      get_sequence_parallel_world_size)


class _Lengths(torch.utils.data.Dataset):
    def __init__(self, lengths):
        self.length = lengths

    def __len__(self):
        return len(self.length)


def test_length_grouped_sampler_sorts_each_mega_batch_and_is_seeded():
    lengths = [5, 1, 9, 3, 7, 2, 8, 4]
    sampler = LengthGroupedSampler(_Lengths(lengths), per_device_batch_size=2,
                                   mega_batch_mult=2, seed=3)
    order = list(sampler)
    assert sorted(order) == list(range(8)) and len(sampler) == 8
    for start in (0, 4):  # mega-batches of 2 × 2: longest first inside each
        mega = [lengths[i] for i in order[start:start + 4]]
        assert mega == sorted(mega, reverse=True)
    assert order == list(LengthGroupedSampler(_Lengths(lengths), 2, mega_batch_mult=2, seed=3))
    sampler.set_epoch(1)
    assert list(sampler) != order


def test_sequence_parallel_sampler_matches_default_sampler_without_sp():
    assert get_sequence_parallel_world_size() == 1 and get_data_parallel_world_size() == 1
    data = list(range(10))
    assert list(SequenceParallelSampler(data, seed=5)) == list(DefaultSampler(data, seed=5))


def test_concat_dataset_builds_configs_and_reports_lengths():
    a = Dataset.from_dict({'input_ids': [[1], [2, 3]], 'length': [1, 2]})
    b = _Lengths([4])
    concat = ConcatDataset([dict(type=lambda: a), b])
    assert len(concat) == 3 and concat.length == [1, 2, 4]
    assert concat[1]['input_ids'] == [2, 3]
