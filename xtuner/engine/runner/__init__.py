from .loops import TrainLoop

__all__ = ['TrainLoop']
