"""Built-in configs and the resolver that finds them by NAME.

A config is a ``*.py`` file anywhere under this folder; its NAME is the file stem
(``llama_speed_benchmark/llama2_7b/llama2_7b_full_alpaca_enzh_32k_sp1.py`` is
``llama2_7b_full_alpaca_enzh_32k_sp1``). Files and folders whose name starts with ``_`` (base
parts such as ``_base_/``, ``__init__.py``) or ``.`` are not configs. DeepSpeed configs are
``deepspeed/*.json``, named by stem (``deepspeed_zero2``).

Every function takes an optional ``root`` (default: this folder) so tests can use a tree of
their own. Scanning is a directory walk done on each call: nothing happens at import.
"""
import fnmatch
import os
from difflib import get_close_matches

from xtuner.tools.errors import XTunerUserError

CONFIGS_ROOT = os.path.dirname(os.path.abspath(__file__))
DEEPSPEED_DIR = 'deepspeed'
_GLOB_CHARS = frozenset('*?[')


def _is_hidden(name: str) -> bool:
    return name.startswith(('_', '.'))


def _config_index(root: str | None = None) -> dict[str, list[str]]:
    """Map each config NAME to the absolute paths that carry it (more than one = duplicate)."""
    root = os.path.abspath(root or CONFIGS_ROOT)
    index: dict[str, list[str]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _is_hidden(d))
        for file in sorted(files):
            if file.endswith('.py') and not _is_hidden(file):
                index.setdefault(file[:-3], []).append(os.path.join(folder, file))
    return index


def _deepspeed_index(root: str | None = None) -> dict[str, str]:
    folder = os.path.join(os.path.abspath(root or CONFIGS_ROOT), DEEPSPEED_DIR)
    if not os.path.isdir(folder):
        return {}
    return {f[:-5]: os.path.join(folder, f) for f in sorted(os.listdir(folder))
            if f.endswith('.json') and not _is_hidden(f)}


def config_name_paths(root: str | None = None) -> dict[str, str]:
    """NAME -> absolute path of every config whose NAME is unique (duplicates are left out:
    :func:`resolve_config` reports them)."""
    return {name: paths[0] for name, paths in sorted(_config_index(root).items())
            if len(paths) == 1}


def __getattr__(attr: str):
    # ``cfgs_name_path`` is the name XTuner 0.2 exposes; built on access so import stays cheap.
    if attr == 'cfgs_name_path':
        return config_name_paths()
    raise AttributeError(f'module {__name__!r} has no attribute {attr!r}')


def _matches(name: str, pattern: str) -> bool:
    name, pattern = name.lower(), pattern.lower()
    if _GLOB_CHARS & set(pattern):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


def list_configs(pattern: str | None = None, root: str | None = None) -> list[str]:
    """Sorted config NAMEs; ``pattern`` keeps those it matches, case-insensitively: a glob when
    it holds ``*``, ``?`` or ``[``, otherwise a substring."""
    names = sorted(_config_index(root))
    return [n for n in names if _matches(n, pattern)] if pattern else names


def closest_names(query: str, names: list[str], n: int = 5) -> list[str]:
    """Up to ``n`` names like ``query``: names containing it first, then difflib's closest."""
    low = query.lower()
    found = [name for name in sorted(names) if low in name.lower()]
    found += get_close_matches(query, names, n=n, cutoff=0.5)
    return list(dict.fromkeys(found))[:n]


def resolve_config(name_or_path: str, root: str | None = None) -> str:
    """The file of a config given by NAME or path.

    An existing file is returned as given; a NAME returns its absolute path. Raises
    :class:`XTunerUserError` for a missing ``.py`` path, an unknown NAME (naming up to five close
    NAMEs) or a NAME found in more than one folder (naming every path).
    """
    if os.path.isfile(name_or_path):
        return name_or_path
    index = _config_index(root)
    if name_or_path.endswith('.py') or os.sep in name_or_path:
        stem = os.path.splitext(os.path.basename(name_or_path))[0]
        hint = f"; the built-in config is named '{stem}' (no .py)" if stem in index else ''
        raise XTunerUserError(f'config file {name_or_path!r} does not exist{hint}')
    paths = index.get(name_or_path)
    if paths is None:
        near = closest_names(name_or_path, list(index))
        near_text = f'closest: {", ".join(near)}' if near else 'no similar names'
        raise XTunerUserError(f'unknown config {name_or_path!r}; {near_text} '
                              '(xtuner list-cfg lists all)')
    if len(paths) > 1:
        raise XTunerUserError(f'config name {name_or_path!r} is ambiguous: it names '
                              f'{" and ".join(paths)}; pass the path instead')
    return paths[0]


def resolve_deepspeed(name_or_path: str, root: str | None = None) -> str:
    """The file of a DeepSpeed config given by NAME (``deepspeed_zero2``) or path.

    An existing file is returned as given. Raises :class:`XTunerUserError` for a missing
    ``.json`` path or an unknown NAME (listing the available NAMEs).
    """
    if os.path.isfile(name_or_path):
        return name_or_path
    if name_or_path.endswith('.json') or os.sep in name_or_path:
        raise XTunerUserError(f'DeepSpeed config file {name_or_path!r} does not exist')
    index = _deepspeed_index(root)
    if name_or_path in index:
        return index[name_or_path]
    available = ', '.join(index) or 'none found'
    raise XTunerUserError(f'unknown DeepSpeed config {name_or_path!r}; available: {available}')
