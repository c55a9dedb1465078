"""``xtuner log-dataset CONFIG``: show the training rows as the model will see them.

Builds the config's training dataset (nothing else: no model is loaded) and prints the first
rows decoded, with the trained tokens (labels) marked ``[[ ]]``, so a wrong template, a
missing EOS or a label mask that trains on the prompt is seen before training starts.
"""
import argparse

__all__ = ['main', 'build_parser']


def build_parser():
    p = argparse.ArgumentParser(prog='xtuner log-dataset', description=__doc__.splitlines()[0])
    p.add_argument('config', help='config NAME (see `xtuner list-cfg`) or path to a .py file')
    p.add_argument('-n', '--num-rows', type=int, default=2, help='rows to show (default 2)')
    p.add_argument('--show', choices=['marked', 'text', 'ids'], default='marked',
                   help='marked: decoded text with trained tokens in [[ ]] (default); '
                   'text: decoded text only; ids: input_ids and labels')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override config settings, as for xtuner train')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from xtuner.engine.hooks.dataset_info_hook import mark_trained
    from xtuner.engine.preflight import load_config
    from xtuner.registry import build
    from xtuner.tools.errors import XTunerUserError
    from xtuner.utils.constants import IGNORE_INDEX

    if args.num_rows < 1:
        raise XTunerUserError(f'--num-rows {args.num_rows}: must be at least 1')
    path, cfg = load_config(args.config, args.cfg_options)
    dataset = build(cfg.train_dataloader.dataset)
    tokenizer = build(cfg.tokenizer)
    print(f'{len(dataset)} rows in the training set of {path}')
    for i in range(min(args.num_rows, len(dataset))):
        row = dataset[i]
        ids, labels = row['input_ids'], row['labels']
        trained = sum(label != IGNORE_INDEX for label in labels)
        print(f'\n--- row {i}: {len(ids)} tokens, {trained} trained ---')
        if args.show == 'ids':
            print(f'input_ids: {list(ids)}\nlabels:    {list(labels)}')
        elif args.show == 'text':
            print(tokenizer.decode(ids, skip_special_tokens=False))
        else:
            print(mark_trained(tokenizer, ids, labels))
    return 0
