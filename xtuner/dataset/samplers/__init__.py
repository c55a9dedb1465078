from .length_grouped import LengthGroupedSampler

__all__ = ['LengthGroupedSampler']
