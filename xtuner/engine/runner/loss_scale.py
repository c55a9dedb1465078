"""Global token-mean loss across ranks and gradient accumulation.

The loss we want is Σ token losses / N, with N the trained tokens of the whole optimizer step:
every data-parallel rank, every sequence-parallel shard and every accumulation micro-batch.
Two things divide gradients on the way: DDP averages over the W ranks of the world, and
mmengine's OptimWrapper divides each micro-batch loss by the window length A (the number of
micro-batches accumulated into this step). So each rank returns

    loss = (its own sum of token losses) / (N / (W · A))

and the gradients add up to Σ ∇(token losses) / N, whatever W, sp and A are.

N must be known before the first micro-batch of a window runs, so :class:`TokenCountingIterator`
reads the window's batches ahead (they are collated already, so counting their labels is
cheap), all-reduces the counts in one collective, and puts the denominator in each batch.
"""
import torch
import torch.distributed as dist

from xtuner.utils.constants import IGNORE_INDEX

__all__ = ['TokenCountingIterator']


def _data(batch):
    return batch['data'] if isinstance(batch, dict) and 'data' in batch else batch


class TokenCountingIterator:
    """Wraps the loop's batch iterator; windows are aligned to optimizer steps.

    Args:
        iterator: yields collated batches (``{'data': {...}}``).
        accumulative_counts (int): micro-batches per optimizer step.
        max_iters (int): the run's length (the last window may be shorter).
        start_iter (int): the iteration of the first batch this iterator yields.
    """

    def __init__(self, iterator, accumulative_counts, max_iters, start_iter=0):
        self.iterator = iterator
        self.accum = max(1, int(accumulative_counts))
        self.max_iters = max_iters
        self.iter = start_iter
        self.pending = []

    def __iter__(self):
        return self

    def _fill_window(self):
        window_end = min((self.iter // self.accum + 1) * self.accum, self.max_iters)
        # the last window may also be cut by max_iters; mmengine divides it by its length
        window_len = window_end - (self.iter // self.accum) * self.accum
        batches = [next(self.iterator) for _ in range(max(1, window_end - self.iter))]
        counts = torch.tensor([float((_data(b)['labels'] != IGNORE_INDEX).sum())
                               for b in batches], dtype=torch.float64)
        world = 1
        if dist.is_initialized():
            dist.all_reduce(counts)
            world = dist.get_world_size()
        denominator = max(float(counts.sum()), 1.0) / (world * window_len)
        for b in batches:
            _data(b)['loss_denominator'] = torch.tensor(denominator)
        self.pending = batches

    def __next__(self):
        if not self.pending:
            self._fill_window()
        self.iter += 1
        return self.pending.pop(0)
