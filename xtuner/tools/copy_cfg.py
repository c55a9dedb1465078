"""``xtuner copy-cfg NAME DIR``: copy a built-in config into DIR as ``NAME_copy.py`` to edit."""
import argparse
import os

from xtuner.configs import resolve_config
from xtuner.tools.errors import XTunerUserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='xtuner copy-cfg',
        description='Copy a config, byte for byte, to DIR/NAME_copy.py so you can edit it and '
        'run it with "xtuner train DIR/NAME_copy.py".')
    parser.add_argument('config', metavar='NAME',
                        help='config NAME (see "xtuner list-cfg") or path to a config file')
    parser.add_argument('save_dir', metavar='DIR',
                        help='folder to write the copy into; created if missing')
    parser.add_argument('-f', '--force', action='store_true',
                        help='overwrite DIR/NAME_copy.py if it exists (by default, refuse)')
    return parser


def copy_config(name_or_path: str, save_dir: str, force: bool = False) -> str:
    """Copy the config ``name_or_path`` to ``save_dir/NAME_copy.py``; return the written path.

    Raises :class:`XTunerUserError` when the target exists and ``force`` is False, so nothing a
    user wrote is overwritten by accident.
    """
    src = resolve_config(name_or_path)
    stem = os.path.splitext(os.path.basename(src))[0]
    target = os.path.join(save_dir, f'{stem}_copy.py')
    if os.path.exists(save_dir) and not os.path.isdir(save_dir):
        raise XTunerUserError(f'{save_dir!r} exists and is not a folder')
    os.makedirs(save_dir, exist_ok=True)
    with open(src, 'rb') as f:
        data = f.read()
    try:
        # 'x' creates the file only if absent, so an existing one is never truncated.
        with open(target, 'wb' if force else 'xb') as f:
            f.write(data)
    except FileExistsError:
        raise XTunerUserError(f'{target!r} already exists; pass --force to overwrite it, '
                              'or choose another DIR') from None
    return target


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(copy_config(args.config, args.save_dir, args.force))
    return 0
