"""Registries (names as in XTuner 0.2) and the one helper that builds a config value."""
from mmengine.registry import Registry

__all__ = ['BUILDER', 'MAP_FUNC', 'build']

BUILDER = Registry('builder')
MAP_FUNC = Registry('map_fn')


def _is_cfg(value):
    return isinstance(value, dict) and 'type' in value


def _build_nested(value):
    if _is_cfg(value):
        return build(value)
    if isinstance(value, dict):
        return type(value)({k: _build_nested(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return type(value)(_build_nested(v) for v in value)
    return value


def build(cfg_or_obj, **default_args):
    """Build ``cfg_or_obj`` when it is a config dict (``dict(type=..., ...)``), else return it.

    Arguments that are configs themselves (``quantization_config=dict(type=...)``,
    ``config=dict(type=LlamaConfig, ...)``) are built first, inner to outer, as XTuner 0.2
    configs expect. Plain dicts, mmengine ``ConfigDict``s and built objects are accepted.
    """
    if not _is_cfg(cfg_or_obj):
        return cfg_or_obj
    args = {**default_args, **{k: _build_nested(v) for k, v in cfg_or_obj.items() if k != 'type'}}
    obj_type = cfg_or_obj['type']
    if isinstance(obj_type, str):
        found = BUILDER.get(obj_type)
        if found is None:
            raise KeyError(f'{obj_type!r} is not a registered builder; use the object itself '
                           'as type= in the config')
        obj_type = found
    return obj_type(**args)
