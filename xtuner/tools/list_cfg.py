"""``xtuner list-cfg``: print the NAMEs of the built-in configs, one per line."""
import argparse
import sys

from xtuner.configs import list_configs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='xtuner list-cfg',
        description='Print the NAMEs of the built-in configs, sorted, one per line. '
        'A NAME can be passed to "xtuner train" and "xtuner copy-cfg".')
    parser.add_argument(
        '-p', '--pattern', default=None,
        help='keep only NAMEs that match, ignoring case: a substring (llama2_7b) or a glob '
        "when it holds * ? or [ ('*full*sp1')")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = list_configs(args.pattern)
    if not names:
        what = f'no config NAME matches {args.pattern!r}' if args.pattern else 'no configs found'
        print(f'xtuner list-cfg: {what}', file=sys.stderr)
        return 1
    print('\n'.join(names))
    return 0
