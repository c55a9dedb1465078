"""``ConcatDataset``: several dataset configs trained as one (XTuner 0.2 signature)."""
import torch

from xtuner.registry import build

__all__ = ['ConcatDataset']


class ConcatDataset(torch.utils.data.ConcatDataset):
    """Concatenate datasets given as configs or objects: ``ConcatDataset(datasets=[...])``."""

    def __init__(self, datasets):
        super().__init__([build(d) for d in datasets])

    @property
    def length(self):
        """Per-row token counts, for LengthGroupedSampler."""
        out = []
        for d in self.datasets:
            out += list(d['length'] if not hasattr(d, 'length') else d.length)
        return out
