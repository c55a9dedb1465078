"""Checks run before anything expensive: every error names the option or file at fault."""
import glob
import os

from xtuner.tools.errors import XTunerUserError

__all__ = ['check_cfg_options', 'check_data_files', 'load_config', 'parse_cfg_options']

_DATA_EXTS = ('.json', '.jsonl', '.csv', '.parquet', '.txt', '.arrow', '.tsv')


def _children(node):
    if isinstance(node, dict):
        return node.keys()
    if isinstance(node, (list, tuple)):
        return [str(i) for i in range(len(node))]
    return []


def check_cfg_options(cfg, options):
    """Every ``--cfg-options`` key must name a setting the config has (typos are errors)."""
    from difflib import get_close_matches
    for key in options or {}:
        node, walked = cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg, []
        for part in key.split('.'):
            names = list(_children(node))
            if part not in names:
                where = '.'.join(walked) or 'the config'
                hint = get_close_matches(part, names, n=3)
                hint = f"; did you mean {', '.join(hint)}?" if hint else ''
                raise XTunerUserError(
                    f"--cfg-options {key}: {where} has no key '{part}'{hint} (to add new "
                    'settings, edit a copy made with `xtuner copy-cfg`)')
            node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
            walked.append(part)


def _local_paths(value):
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _local_paths(v)]
    if isinstance(value, dict):
        return [p for v in value.values() for p in _local_paths(v)]
    return []


def _looks_local(path):
    return path.startswith(('/', './', '../', '~')) or path.lower().endswith(_DATA_EXTS)


def _walk(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            yield f'{where}.{k}' if where else str(k), k, v
            yield from _walk(v, f'{where}.{k}' if where else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _walk(v, f'{where}.{i}')


def check_data_files(cfg):
    """Local dataset files named in the config (``data_files``, file-like ``path``) exist."""
    root = cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg
    for where, key, value in _walk(root, ''):
        if key not in ('data_files', 'path', 'data_path'):
            continue
        for path in _local_paths(value):
            if key != 'data_files' and not _looks_local(path):
                continue  # a hub name such as 'tatsu-lab/alpaca'
            if not glob.glob(os.path.expanduser(path)):
                raise XTunerUserError(f'{where}: dataset file {path!r} does not exist '
                                      '(fix the path or pass --cfg-options '
                                      f'{where}=/path/to/file)')


def parse_cfg_options(pairs):
    """``--cfg-options KEY=VALUE ...`` as a dict (mmengine's parsing of values)."""
    import argparse

    from mmengine.config import DictAction
    ns = argparse.Namespace()
    try:
        DictAction(option_strings=['--cfg-options'], dest='opts')(None, ns, list(pairs))
    except Exception as err:  # noqa: BLE001 - any parse failure is the user's input
        raise XTunerUserError(f'--cfg-options: {err} (expected KEY=VALUE pairs)') from err
    return ns.opts or {}


def load_config(name_or_path, cfg_options=(), check_data=True):
    """The config a command was given, checked: ``(path, cfg)``.

    Resolves a NAME or path, applies ``--cfg-options`` (every key must exist) and, with
    ``check_data``, checks that local dataset files exist: all before anything is built.
    """
    from mmengine.config import Config

    from xtuner.configs import resolve_config
    path = resolve_config(name_or_path)
    options = parse_cfg_options(cfg_options)
    cfg = Config.fromfile(path)
    check_cfg_options(cfg, options)
    cfg.merge_from_dict(options)
    if check_data:
        check_data_files(cfg)
    return path, cfg
