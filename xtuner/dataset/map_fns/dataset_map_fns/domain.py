"""Single-turn datasets read from two columns, most with a fixed system prompt.

Each docstring names the dataset XTuner 0.2 configs use the map fn with.
"""
from xtuner.utils import SYSTEM_TEMPLATE
from ._fields import join_lines, optional_str, required_str, turn

__all__ = [
    'arxiv_map_fn', 'colors_map_fn', 'crime_kg_assitant_map_fn', 'law_reference_map_fn',
    'medical_map_fn', 'openorca_map_fn', 'sql_map_fn', 'stack_exchange_map_fn',
    'tiny_codes_map_fn'
]


def _two_columns(example, fn_name, input_key, output_key, system=''):
    return {'conversation': [turn(required_str(example, input_key, fn_name),
                                  required_str(example, output_key, fn_name), system=system)]}


def arxiv_map_fn(example):
    """arXiv metadata (abstract → title), with the ``arxiv_gentile`` system prompt."""
    return _two_columns(example, 'arxiv_map_fn', 'abstract', 'title',
                        SYSTEM_TEMPLATE.arxiv_gentile)


def colors_map_fn(example):
    """burkelibbey/colors (description → color), with the ``colorist`` system prompt.

    Descriptions read 'Label: text'; the text after the first ':' is the input (the whole
    description when it has no ':').
    """
    fn = 'colors_map_fn'
    description = required_str(example, 'description', fn)
    _, colon, rest = description.partition(':')
    return {'conversation': [turn((rest if colon else description).strip(),
                                  required_str(example, 'color', fn),
                                  system=SYSTEM_TEMPLATE.colorist)]}


def crime_kg_assitant_map_fn(example):
    """CrimeKgAssitant Q&A (input → output), with the ``lawyer`` system prompt. Name sic."""
    return _two_columns(example, 'crime_kg_assitant_map_fn', 'input', 'output',
                        SYSTEM_TEMPLATE.lawyer)


def law_reference_map_fn(example):
    """Law reference Q&A (question → answer), with the ``lawyer`` system prompt."""
    return _two_columns(example, 'law_reference_map_fn', 'question', 'answer',
                        SYSTEM_TEMPLATE.lawyer)


def medical_map_fn(example):
    """shibing624/medical (instruction + input → output), ``medical`` system prompt."""
    fn = 'medical_map_fn'
    prompt = join_lines(required_str(example, 'instruction', fn),
                        optional_str(example, 'input', fn))
    return {'conversation': [turn(prompt, required_str(example, 'output', fn),
                                  system=SYSTEM_TEMPLATE.medical)]}


def openorca_map_fn(example):
    """Open-Orca/OpenOrca (question → response); the row's system_prompt, when set."""
    fn = 'openorca_map_fn'
    return {'conversation': [turn(required_str(example, 'question', fn),
                                  required_str(example, 'response', fn),
                                  system=optional_str(example, 'system_prompt', fn))]}


def sql_map_fn(example):
    """b-mc2/sql-create-context (context + question → answer), ``sql`` system prompt."""
    fn = 'sql_map_fn'
    prompt = join_lines(required_str(example, 'context', fn),
                        required_str(example, 'question', fn))
    return {'conversation': [turn(prompt, required_str(example, 'answer', fn),
                                  system=SYSTEM_TEMPLATE.sql)]}


def stack_exchange_map_fn(example):
    """Stack Exchange pairs (question → response), no system prompt."""
    return _two_columns(example, 'stack_exchange_map_fn', 'question', 'response')


def tiny_codes_map_fn(example):
    """nampdn-ai/tiny-codes (prompt → response), with the ``coder`` system prompt."""
    return _two_columns(example, 'tiny_codes_map_fn', 'prompt', 'response',
                        SYSTEM_TEMPLATE.coder)
