"""Pack tokenized samples into rows of at most ``max_length`` tokens, keeping boundaries.

A sample is never split across rows and never dropped: rows are filled greedily in the
given order (which is shuffled, with a seed, before packing), and the last row may be short.
Each packed row carries ``cumulative_len`` ([0, l1, l1+l2, ..., total], the XTuner 0.2
name) so attention and labels can respect the samples inside it.
"""
import torch

__all__ = ['pack_greedy', 'PackedDataset']


def pack_greedy(lengths, max_length):
    """Group consecutive sample indices into rows whose lengths sum to at most ``max_length``.

    Every length must be ``<= max_length`` (samples are truncated before packing).
    """
    rows, row, used = [], [], 0
    for idx, n in enumerate(lengths):
        if n > max_length:
            raise ValueError(f'sample {idx} has {n} tokens > max_length={max_length}; '
                             'truncate before packing')
        if row and used + n > max_length:
            rows.append(row)
            row, used = [], 0
        row.append(idx)
        used += n
    if row:
        rows.append(row)
    return rows


class PackedDataset(torch.utils.data.Dataset):
    """A view of an encoded dataset as packed rows (concatenated on access, nothing copied).

    Args:
        dataset: indexable rows with ``input_ids`` and ``labels`` (a ``datasets.Dataset``).
        max_length (int): the row capacity in tokens.
        lengths (list[int] | None): token counts of ``dataset``'s rows, when known.
    """

    def __init__(self, dataset, max_length, lengths=None):
        self.dataset = dataset
        self.max_length = max_length
        if lengths is None:
            lengths = [len(ids) for ids in dataset['input_ids']]
        self.sample_lengths = list(lengths)
        self.rows = pack_greedy(self.sample_lengths, max_length)
        # `length` is what LengthGroupedSampler and the modality-length code read.
        self.length = [sum(self.sample_lengths[i] for i in row) for row in self.rows]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        input_ids, labels, cumulative_len = [], [], [0]
        for i in self.rows[index]:
            sample = self.dataset[i]
            input_ids += sample['input_ids']
            labels += sample['labels']
            cumulative_len.append(len(input_ids))
        return {'input_ids': input_ids, 'labels': labels, 'cumulative_len': cumulative_len}

    @property
    def fill_ratio(self):
        """Tokens over row capacity: 1.0 means no padding is needed to ``max_length``."""
        return sum(self.length) / max(1, len(self.rows) * self.max_length)
