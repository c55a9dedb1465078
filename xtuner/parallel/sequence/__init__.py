"""Sequence parallelism (XTuner 0.2 import path and getter names)."""
from xtuner.parallel.context import parallel_context
from .sampler import SequenceParallelSampler

__all__ = [
    'SequenceParallelSampler', 'init_sequence_parallel', 'get_sequence_parallel_world_size',
    'get_sequence_parallel_rank', 'get_sequence_parallel_group', 'get_data_parallel_world_size',
    'get_data_parallel_rank', 'get_data_parallel_group'
]


def init_sequence_parallel(sequence_parallel_size=1):
    return parallel_context.init(sequence_parallel_size)


def get_sequence_parallel_world_size():
    return parallel_context.sp_size


def get_sequence_parallel_rank():
    return parallel_context.sp_rank


def get_sequence_parallel_group():
    return parallel_context.sp_group


def get_data_parallel_world_size():
    return parallel_context.dp_size


def get_data_parallel_rank():
    return parallel_context.dp_rank


def get_data_parallel_group():
    return parallel_context.dp_group
