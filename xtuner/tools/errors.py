"""Errors the command-line tools raise.

``xtuner`` (see :mod:`xtuner.entry_point`) prints an :class:`XTunerUserError` as one line,
``xtuner COMMAND: error: <message>``, without a traceback, and exits with status 2.
Any other exception escaping a tool is a failure of the tool itself (status 1).
"""


class XTunerUserError(Exception):
    """Bad input from the user: a wrong name, a missing file, a refused overwrite.

    The message must say what was wrong and, where possible, what to do instead.
    """
