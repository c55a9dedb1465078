"""``LengthGroupedSampler``: batches of similar length, so unpacked batches pad little."""
import math

import torch
from mmengine.dist import sync_random_seed
from torch.utils.data import Sampler

from xtuner.parallel.context import parallel_context

__all__ = ['LengthGroupedSampler']


class LengthGroupedSampler(Sampler):
    """Shuffle, cut into mega-batches, sort each by length (longest first), deal to ranks.

    Args:
        dataset: a dataset whose ``length_property`` (attribute or column) gives each
            row's token count.
        per_device_batch_size (int): the dataloader's batch size.
        length_property (str): where the lengths are (default ``'length'``).
        mega_batch_mult (int | None): mega-batch = this many global batches (default:
            about 50 global batches, at least 1).
        seed (int | None): shuffle seed (synchronised across ranks when None).
        round_up (bool): pad the index list so every rank gets the same count.
    """

    def __init__(self, dataset, per_device_batch_size, length_property='length',
                 mega_batch_mult=None, seed=None, round_up=True):
        self.dataset = dataset
        self.rank = parallel_context.dp_rank
        self.world_size = parallel_context.dp_size
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.round_up = round_up
        lengths = getattr(dataset, length_property, None)
        if lengths is None:
            lengths = dataset[length_property]
        self.lengths = list(lengths)
        global_batch = per_device_batch_size * self.world_size
        if mega_batch_mult is None:
            mega_batch_mult = max(1, min(len(self.lengths) // (global_batch * 4), 50))
        self.mega_batch_size = mega_batch_mult * global_batch
        n = len(self.lengths)
        self.num_samples = math.ceil(n / self.world_size) if round_up else math.ceil(
            (n - self.rank) / self.world_size)
        self.total_size = self.num_samples * self.world_size if round_up else n

    def __iter__(self):
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=g).tolist()
        grouped = []
        for i in range(0, len(order), self.mega_batch_size):
            mega = order[i:i + self.mega_batch_size]
            grouped += sorted(mega, key=lambda k: -self.lengths[k])
        if self.round_up:
            grouped = (grouped * math.ceil(self.total_size / max(1, len(grouped))))[:self.total_size]
        return iter(grouped[self.rank:self.total_size:self.world_size])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        self.epoch = epoch
