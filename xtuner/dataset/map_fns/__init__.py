"""Map fns: raw row → conversation (dataset map fns) → templated conversation."""
from .dataset_map_fns import *  # noqa: F401,F403
from .dataset_map_fns import __all__ as _dataset_map_fns_all
from .template_map_fn import template_map_fn, template_map_fn_factory

__all__ = _dataset_map_fns_all + ['template_map_fn', 'template_map_fn_factory']
