"""Instruction/answer datasets: Alpaca (en, zh), Code Alpaca, and plain input/output rows."""
from xtuner.utils import SYSTEM_TEMPLATE
from ._fields import join_lines, optional_str, required_str, turn

__all__ = ['alpaca_map_fn', 'alpaca_zh_map_fn', 'code_alpaca_map_fn', 'default_map_fn']

_NO_OUTPUT = '<nooutput>'  # Alpaca marks tasks a text model cannot answer this way


def _alpaca_like(example, fn_name, suffix=''):
    output = required_str(example, 'output' + suffix, fn_name)
    if output == _NO_OUTPUT:
        return {'conversation': []}
    instruction = required_str(example, 'instruction' + suffix, fn_name)
    extra = optional_str(example, 'input' + suffix, fn_name)
    return {'conversation': [turn(join_lines(instruction, extra), output)]}


def alpaca_map_fn(example):
    """Alpaca row (instruction, input, output) → one turn; '<nooutput>' rows are dropped.

    The input is ``instruction + '\\n' + input``, or the instruction alone when input is empty.
    """
    return _alpaca_like(example, 'alpaca_map_fn')


def alpaca_zh_map_fn(example):
    """Chinese Alpaca row (instruction_zh, input_zh, output_zh), read as ``alpaca_map_fn``."""
    return _alpaca_like(example, 'alpaca_zh_map_fn', suffix='_zh')


def code_alpaca_map_fn(example):
    """Code Alpaca row (prompt, completion) → one turn with the ``coder`` system prompt."""
    fn = 'code_alpaca_map_fn'
    return {'conversation': [turn(required_str(example, 'prompt', fn),
                                  required_str(example, 'completion', fn),
                                  system=SYSTEM_TEMPLATE.coder)]}


def default_map_fn(example):
    """Row with ``input`` (may be empty or None) and ``output`` → one turn."""
    fn = 'default_map_fn'
    return {'conversation': [turn(required_str(example, 'input', fn, none_ok=True),
                                  required_str(example, 'output', fn))]}
