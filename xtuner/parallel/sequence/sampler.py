"""A sampler that gives every rank of one sequence-parallel group the same samples."""
from mmengine.dataset import DefaultSampler
from mmengine.registry import DATA_SAMPLERS

from xtuner.parallel.context import parallel_context

__all__ = ['SequenceParallelSampler']


@DATA_SAMPLERS.register_module()
class SequenceParallelSampler(DefaultSampler):
    """mmengine's ``DefaultSampler`` over data-parallel ranks instead of world ranks.

    Args are those of ``DefaultSampler`` (``dataset, shuffle=True, seed=None,
    round_up=True``); the seed comes from the config (the runner passes it).
    """

    def __init__(self, dataset, shuffle=True, seed=None, round_up=True):
        super().__init__(dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        # DefaultSampler split the indices by world rank; split by dp rank instead.
        self.rank = parallel_context.dp_rank
        self.world_size = parallel_context.dp_size
        n = len(self.dataset)
        if self.round_up:
            self.num_samples = -(-n // self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = -(-(n - self.rank) // self.world_size)
            self.total_size = n
