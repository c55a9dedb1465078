"""Data pipeline: load → map fn → prompt template → tokenize → pack (XTuner 0.2 names)."""
from .concat_dataset import ConcatDataset
from .huggingface import process_hf_dataset
from .packing import PackedDataset

__all__ = ['ConcatDataset', 'PackedDataset', 'process_hf_dataset']
