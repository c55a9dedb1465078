"""Apply a prompt template (an entry of ``xtuner.utils.PROMPT_TEMPLATE``) to a conversation.

After this step each turn holds the exact prompt text (``input``, not trained on), the answer
text (``output``, trained on), ``need_eos_token`` and ``sep``: all the encoder needs.
"""
from collections.abc import Mapping
from functools import partial

from mmengine.utils.misc import get_object_from_string

from xtuner.utils import PROMPT_TEMPLATE
from .dataset_map_fns._fields import MapFnKeyError

__all__ = ['template_map_fn', 'template_map_fn_factory']


def _text(single_turn, key, index):
    value = single_turn.get(key)
    if value is None:
        return ''
    if not isinstance(value, str):
        raise ValueError(f'template_map_fn: conversation[{index}][{key!r}] must be a string, '
                         f'got {type(value).__name__}')
    return value


def _wants_eos(single_turn):
    # None means unset: Arrow fills keys that only some turns have with None.
    return single_turn.get('need_eos_token') is not False


def template_map_fn(example, template):
    """Render every turn of ``example['conversation']`` with ``template``.

    Turn ``i`` (0-based) becomes::

        input  = SYSTEM.format(system=...) [only if the turn has a system text]
                 + INSTRUCTION.format(input=..., round=i + 1)
        output = output + SUFFIX
        need_eos_token = not SUFFIX_AS_EOS, and False when the turn already says False
        sep    = SEP

    A map fn that set ``need_eos_token=False`` (``pretrain_map_fn``) keeps it; XTuner 0.2
    overwrote it from the template. Other keys of a turn are kept. The input is not modified.

    Returns:
        dict: ``{'conversation': [rendered turn, ...]}``.
    """
    if 'conversation' not in example:
        raise MapFnKeyError("template_map_fn: row has no key 'conversation'; set a "
                            'dataset_map_fn that produces it')
    conversation = example['conversation'] or []
    instruction = template['INSTRUCTION']
    system_format = template.get('SYSTEM')
    suffix = template.get('SUFFIX') or ''
    suffix_as_eos = bool(template.get('SUFFIX_AS_EOS', False))
    sep = template.get('SEP') or ''
    rendered = []
    for i, single_turn in enumerate(conversation):
        prompt = instruction.format(input=_text(single_turn, 'input', i), round=i + 1)
        system = _text(single_turn, 'system', i)
        if system:
            if system_format is None:
                raise ValueError('template_map_fn: the turn has a system text but the '
                                 'template has no SYSTEM')
            prompt = system_format.format(system=system) + prompt
        rendered.append({
            **single_turn,
            'input': prompt,
            'output': _text(single_turn, 'output', i) + suffix,
            'need_eos_token': _wants_eos(single_turn) and not suffix_as_eos,
            'sep': sep,
        })
    return {'conversation': rendered}


def _resolve_template(template):
    if isinstance(template, str):
        # A PROMPT_TEMPLATE name ('chatml') or a dotted path, as XTuner 0.2 writes on resume
        # ('xtuner.utils.PROMPT_TEMPLATE.chatml').
        found = PROMPT_TEMPLATE.get(template) or get_object_from_string(template)
        if found is None:
            raise ValueError(f'template_map_fn_factory: unknown template {template!r}; give '
                             'a PROMPT_TEMPLATE entry, its name, or its dotted path')
        template = found
    if not isinstance(template, Mapping):
        raise ValueError('template_map_fn_factory: template must be a dict such as '
                         f'PROMPT_TEMPLATE.chatml, got {type(template).__name__}')
    if '{input}' not in template.get('INSTRUCTION', ''):
        raise MapFnKeyError("template_map_fn_factory: template needs an 'INSTRUCTION' "
                            "containing '{input}'")
    return template


def template_map_fn_factory(template):
    """``template_map_fn`` bound to ``template``; picklable, so ``datasets.map`` can use it
    with ``num_proc``. ``template`` is a PROMPT_TEMPLATE entry (or any dict with the same
    keys), a PROMPT_TEMPLATE name, or a dotted path to one.
    """
    return partial(template_map_fn, template=_resolve_template(template))
