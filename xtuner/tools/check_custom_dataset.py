"""``xtuner check-custom-dataset CONFIG``: check a config's training data before training.

Reads the data the way training does (same map fn, template, tokenizer and max_length) and
reports every problem, grouped, with counts and the first rows of each: broken JSON lines,
rows a map fn cannot read, empty conversations, rows with nothing to train on, truncated
samples. Training skips exactly the rows reported as skipped. Exit status 0 when nothing
would be skipped, 1 otherwise.
"""
import argparse
from collections import defaultdict

__all__ = ['main', 'build_parser']

SHOW = 5  # rows listed per problem


def build_parser():
    p = argparse.ArgumentParser(prog='xtuner check-custom-dataset',
                                description=__doc__.splitlines()[0])
    p.add_argument('config', help='config NAME (see `xtuner list-cfg`) or path to a .py file')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override config settings, as for xtuner train')
    return p


def _dataset_cfg(cfg):
    from xtuner.tools.errors import XTunerUserError
    data = cfg.train_dataloader.dataset
    if 'process_hf_dataset' not in str(data.get('type')):
        raise XTunerUserError('check-custom-dataset reads configs whose train_dataloader.dataset '
                              f'is process_hf_dataset (this one is {data.get("type")})')
    return data


def _broken_lines(data):
    from xtuner.dataset.jsonl import jsonl_files_of, read_jsonl
    problems = defaultdict(list)
    for path in jsonl_files_of(data.get('dataset')):
        for number, reason in read_jsonl(path)[1]:
            problems[f'broken line: {reason.split(" (")[0]}'].append(f'{path}:{number}')
    return problems


def _row_problems(processed):
    problems = defaultdict(list)
    for row, reason, labels, truncated in zip(processed['row'], processed['skip_reason'],
                                              processed['labels'], processed['truncated']):
        if reason:
            problems[f'skipped: {reason}'].append(row)
        elif all(label < 0 for label in labels):
            problems['kept, but nothing to train on (every label masked)'].append(row)
        if truncated:
            problems['kept, truncated to max_length'].append(row)
    return problems


def main(argv=None):
    args = build_parser().parse_args(argv)
    from xtuner.dataset.huggingface import encode_rows
    from xtuner.engine.preflight import load_config

    path, cfg = load_config(args.config, args.cfg_options)
    data = _dataset_cfg(cfg)
    keys = ('dataset', 'tokenizer', 'max_length', 'dataset_map_fn', 'template_map_fn',
            'max_dataset_length', 'split', 'rename_maps', 'input_ids_with_output')
    processed = encode_rows(**{k: data[k] for k in keys if k in data},
                            shuffle_before_pack=False)
    problems = {**_broken_lines(data), **_row_problems(processed)}
    skipped = sum(1 for r in processed['skip_reason'] if r)
    broken = sum(len(v) for k, v in problems.items() if k.startswith('broken line'))
    print(f'{path}: {broken} broken lines, {len(processed)} rows read, '
          f'{len(processed) - skipped} usable, {skipped} skipped (rows are numbered from 0 among '
          'the rows read; broken lines by file:line)')
    for kind, where in sorted(problems.items(), key=lambda kv: -len(kv[1])):
        shown = ', '.join(map(str, where[:SHOW])) + (', ...' if len(where) > SHOW else '')
        print(f'  {len(where):>6}  {kind}  [rows {shown}]')
    if not problems:
        print('  no problems found')
    return 1 if skipped or broken else 0
