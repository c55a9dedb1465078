"""``xtuner list-dataset-format``: the dataset formats a config can name, and their map fns."""
import argparse

__all__ = ['main']


def main(argv=None):
    argparse.ArgumentParser(prog='xtuner list-dataset-format',
                            description=__doc__.splitlines()[0]).parse_args(argv)
    from xtuner.dataset.map_fns import DATASET_FORMAT_MAPPING
    for name, fn in sorted(DATASET_FORMAT_MAPPING.items()):
        doc = (fn.__doc__ or '').strip().splitlines()
        print(f'{name:<18} {fn.__name__:<28} {doc[0] if doc else ""}')
    return 0
