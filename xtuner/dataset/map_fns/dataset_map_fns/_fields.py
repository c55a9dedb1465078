"""Reading fields from a raw row, with errors that say which map fn and which key failed.

The data pipeline catches these errors, skips the row and counts it, so a message must be
enough to find the problem in the data.
"""

__all__ = ['MapFnKeyError', 'optional_str', 'required', 'required_str', 'join_lines', 'turn']


class MapFnKeyError(KeyError):
    """A row lacks a key a map fn needs. ``str()`` is the plain message (KeyError quotes it)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ''


def required(example, key, fn_name):
    """``example[key]``; raise MapFnKeyError naming ``key`` and ``fn_name`` when absent."""
    try:
        return example[key]
    except KeyError:
        keys = sorted(example) if hasattr(example, 'keys') else '?'
        raise MapFnKeyError(f'{fn_name}: row has no key {key!r} (row keys: {keys})') from None


def _as_str(value, key, fn_name):
    if not isinstance(value, str):
        raise ValueError(f'{fn_name}: {key!r} must be a string, got {type(value).__name__}')
    return value


def required_str(example, key, fn_name, none_ok=False):
    """A string field that must be present; None is an error unless ``none_ok`` (then '')."""
    value = required(example, key, fn_name)
    if value is None:
        if none_ok:
            return ''
        raise ValueError(f'{fn_name}: {key!r} is None')
    return _as_str(value, key, fn_name)


def optional_str(example, key, fn_name):
    """A string field that may be absent or None (both read as '')."""
    value = example.get(key)
    return '' if value is None else _as_str(value, key, fn_name)


def join_lines(*parts):
    """The non-empty ``parts`` joined by newlines (so an empty Alpaca input adds no '\\n')."""
    return '\n'.join(part for part in parts if part)


def turn(input, output, system=''):
    """One conversation turn; the 'system' key is present only when there is a system text."""
    single = {'input': input, 'output': output}
    if system:
        single['system'] = system
    return single
