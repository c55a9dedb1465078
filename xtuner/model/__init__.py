"""Models (XTuner 0.2 import path: ``from xtuner.model import SupervisedFinetune``)."""
from .sft import SupervisedFinetune

__all__ = ['SupervisedFinetune']
