"""Dataset map fns: one raw row → ``{'conversation': [turn, ...]}`` (XTuner 0.2 format).

A turn is ``{'input': str, 'output': str}`` plus, when they apply, ``'system'`` (str),
``'need_eos_token'`` (bool) and ``'output_with_loss'`` (bool). ``{'conversation': []}`` drops
the row. A row that cannot be read raises KeyError/ValueError naming the map fn and the key.
Every map fn is also registered in ``xtuner.registry.MAP_FUNC`` under its own name, so a
config may give ``dataset_map_fn='alpaca_map_fn'``.
"""
from xtuner.registry import MAP_FUNC
from ._fields import MapFnKeyError
from .alpaca import alpaca_map_fn, alpaca_zh_map_fn, code_alpaca_map_fn, default_map_fn
from .chat import oasst1_map_fn, openai_map_fn, wizardlm_map_fn
from .domain import (arxiv_map_fn, colors_map_fn, crime_kg_assitant_map_fn,
                     law_reference_map_fn, medical_map_fn, openorca_map_fn, sql_map_fn,
                     stack_exchange_map_fn, tiny_codes_map_fn)
from .pretrain import pretrain_map_fn

# Short format names, as XTuner 0.2 has them ('crime_kg_assitan' included, sic).
DATASET_FORMAT_MAPPING = dict(
    alpaca=alpaca_map_fn,
    alpaca_zh=alpaca_zh_map_fn,
    arxiv=arxiv_map_fn,
    code_alpaca=code_alpaca_map_fn,
    colors=colors_map_fn,
    crime_kg_assitan=crime_kg_assitant_map_fn,
    default=default_map_fn,
    law_reference=law_reference_map_fn,
    medical=medical_map_fn,
    oasst1=oasst1_map_fn,
    openai=openai_map_fn,
    openorca=openorca_map_fn,
    pretrain=pretrain_map_fn,
    sql=sql_map_fn,
    stack_exchange=stack_exchange_map_fn,
    tiny_codes=tiny_codes_map_fn,
    wizardlm=wizardlm_map_fn,
)

for _fn in DATASET_FORMAT_MAPPING.values():
    MAP_FUNC.register_module(name=_fn.__name__, module=_fn, force=True)
del _fn

__all__ = [
    'DATASET_FORMAT_MAPPING', 'MapFnKeyError', 'alpaca_map_fn', 'alpaca_zh_map_fn',
    'arxiv_map_fn', 'code_alpaca_map_fn', 'colors_map_fn', 'crime_kg_assitant_map_fn',
    'default_map_fn', 'law_reference_map_fn', 'medical_map_fn', 'oasst1_map_fn',
    'openai_map_fn', 'openorca_map_fn', 'pretrain_map_fn', 'sql_map_fn',
    'stack_exchange_map_fn', 'tiny_codes_map_fn', 'wizardlm_map_fn'
]
