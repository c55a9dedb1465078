"""Read JSON-lines files a line at a time, so one broken line costs one row, not the run.

``datasets.load_dataset('json', ...)`` stops at the first line that is not valid UTF-8 or not
JSON. ``process_hf_dataset`` falls back to :func:`read_jsonl` for such local files, and
``xtuner check-custom-dataset`` uses it to report every broken line.
"""
import json
import logging

from mmengine.logging import print_log

__all__ = ['read_jsonl', 'load_jsonl_tolerant', 'jsonl_files_of']


def read_jsonl(path):
    """Rows (dicts) of a JSON-lines file, and ``(line_number, reason)`` for each bad line."""
    rows, problems = [], []
    with open(path, 'rb') as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode('utf-8')
            except UnicodeDecodeError as err:
                problems.append((number, f'invalid UTF-8 at byte {err.start}'))
                continue
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as err:
                problems.append((number, f'not JSON ({err.msg})'))
                continue
            if not isinstance(row, dict):
                problems.append((number, f'a JSON {type(row).__name__}, not an object'))
                continue
            rows.append(row)
    return rows, problems


def jsonl_files_of(dataset_cfg):
    """The local JSON(-lines) files a ``dict(type=load_dataset, path='json', ...)`` names."""
    if not (isinstance(dataset_cfg, dict) and dataset_cfg.get('path') == 'json'):
        return []
    files = dataset_cfg.get('data_files')
    if isinstance(files, str):
        return [files]
    if isinstance(files, dict):
        files = [f for v in files.values() for f in ([v] if isinstance(v, str) else v)]
    return list(files or [])


def load_jsonl_tolerant(files):
    """One ``datasets.Dataset`` of the good rows of ``files``; bad lines are logged, counted."""
    from datasets import Dataset
    rows, problems = [], []
    for path in files:
        got, bad = read_jsonl(path)
        rows += got
        problems += [(path, n, reason) for n, reason in bad]
    if problems:
        path, number, reason = problems[0]
        print_log(f'skipped {len(problems)} broken lines (first: {path}:{number}: {reason})',
                  logger='current', level=logging.WARNING)
    return Dataset.from_list(rows)
