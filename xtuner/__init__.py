"""xtuner: fine-tune large language models from one config file."""
from .version import __version__

__all__ = ['__version__']
