"""``process_hf_dataset``: raw rows → conversation → template → tokens → packed rows.

The XTuner 0.2 signature is kept, so configs written for it run unchanged. Differences a
user can see: rows that a map fn cannot read are skipped and counted (not a crash),
packing never splits or drops a sample, and the shuffle before packing is seeded.
"""
import logging

from datasets import Dataset, DatasetDict
from mmengine.logging import print_log

from xtuner.registry import MAP_FUNC, build
from . import map_fns  # noqa: F401  registers the map fns by name in MAP_FUNC
from .encode import encode_conversations
from .jsonl import jsonl_files_of, load_jsonl_tolerant
from .packing import PackedDataset

__all__ = ['process_hf_dataset', 'encode_rows']


def _resolve_map_fn(fn, what):
    if fn is None or callable(fn):
        return fn
    if isinstance(fn, str):
        found = MAP_FUNC.get(fn)
        if found is None:
            raise ValueError(f'unknown {what} {fn!r}: pass a function or a registered name')
        return found
    built = build(fn)
    if not callable(built):
        raise TypeError(f'{what} must be callable, got {type(built).__name__}')
    return built


ROW = '__xtuner_row__'  # a row's index in the dataset as loaded, for error reports


class _RowProcessor:
    """Picklable batched map: map fns + encode. Bad rows come back empty with a reason."""

    def __init__(self, tokenizer, max_length, dataset_map_fn, template_map_fn,
                 input_ids_with_output):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.dataset_map_fn = dataset_map_fn
        self.template_map_fn = template_map_fn
        self.input_ids_with_output = input_ids_with_output

    def _conversation(self, row):
        if self.dataset_map_fn is not None:
            row = {**row, **self.dataset_map_fn(row)}
        if self.template_map_fn is not None:
            row = {**row, **self.template_map_fn(row)}
        turns = row.get('conversation')
        if not isinstance(turns, list):
            raise KeyError("no 'conversation' list after the map fns; set dataset_map_fn")
        return turns

    def __call__(self, batch):
        keys = [k for k in batch if k != ROW]
        conversations, errors = [], []
        for j in range(len(batch[ROW])):
            try:
                turns = self._conversation({k: batch[k][j] for k in keys})
                errors.append('' if turns else 'empty conversation')
            except Exception as e:  # a bad row is skipped and counted, never a crash
                turns = []
                errors.append(f'{type(e).__name__}: {e}')
            conversations.append(turns)
        out = encode_conversations(conversations, self.tokenizer, self.max_length,
                                   self.input_ids_with_output)
        out['length'] = [len(ids) for ids in out['input_ids']]
        out['skip_reason'] = errors
        out['row'] = list(batch[ROW])
        return out


def _load(dataset_cfg):
    """Build the dataset; local JSON-lines files with broken lines are read line by line."""
    try:
        return build(dataset_cfg)
    except Exception as err:  # noqa: BLE001 - datasets raises several types for bad lines
        files = jsonl_files_of(dataset_cfg)
        if not files:
            raise
        print_log(f'load_dataset failed on {files} ({type(err).__name__}); reading them line '
                  'by line instead', logger='current', level=logging.WARNING)
        return load_jsonl_tolerant(files)


def _select_split(dataset, split):
    if isinstance(dataset, DatasetDict) or (isinstance(dataset, dict) and split in dataset):
        if split not in dataset:
            raise KeyError(f'dataset has no split {split!r}; it has {list(dataset)}')
        return dataset[split]
    return dataset


def _report_skipped(processed):
    reasons = processed['skip_reason']
    bad = [(row, r) for row, r in zip(processed['row'], reasons) if r]
    if bad:
        row, reason = bad[0]
        print_log(f'process_hf_dataset: skipped {len(bad)} of {len(reasons)} rows '
                  f'(first: row {row}: {reason})', logger='current', level=logging.WARNING)
    return len(bad)


def encode_rows(dataset, tokenizer, max_length, dataset_map_fn=None, template_map_fn=None,
                max_dataset_length=None, split='train', rename_maps=(),
                shuffle_before_pack=True, input_ids_with_output=True, map_num_proc=4, seed=0):
    """Load, (shuffle,) map and tokenize every row; nothing is dropped yet.

    Returns a ``datasets.Dataset`` with ``input_ids``, ``labels``, ``length``, ``truncated``,
    ``skip_reason`` ('' for a usable row) and ``row`` (the row's index as loaded).
    """
    tokenizer = build(tokenizer)
    dataset = _select_split(_load(dataset), split)
    if not isinstance(dataset, Dataset):
        raise TypeError(f'dataset must be a datasets.Dataset, got {type(dataset).__name__}')
    for old, new in rename_maps:
        dataset = dataset.rename_column(old, new)
    dataset = dataset.add_column(ROW, list(range(len(dataset))))
    if shuffle_before_pack:
        dataset = dataset.shuffle(seed=seed)
    if max_dataset_length is not None and max_dataset_length < len(dataset):
        dataset = dataset.select(range(max_dataset_length))

    processor = _RowProcessor(tokenizer, max_length,
                              _resolve_map_fn(dataset_map_fn, 'dataset_map_fn'),
                              _resolve_map_fn(template_map_fn, 'template_map_fn'),
                              input_ids_with_output)
    num_proc = max(1, min(map_num_proc or 1, len(dataset) // 1000))
    return dataset.map(processor, batched=True, remove_columns=dataset.column_names,
                       num_proc=num_proc if num_proc > 1 else None, desc='Tokenize')


def process_hf_dataset(dataset, tokenizer, max_length, dataset_map_fn=None,
                       template_map_fn=None, max_dataset_length=None, split='train',
                       remove_unused_columns=False, rename_maps=(), shuffle_before_pack=True,
                       pack_to_max_length=True, use_varlen_attn=False,
                       input_ids_with_output=True, with_image_token=False, map_num_proc=4,
                       seed=0):
    """Turn a Hugging Face dataset into training samples.

    Args:
        dataset: a ``datasets.Dataset``/``DatasetDict`` or a config that builds one
            (``dict(type=load_dataset, path=...)``).
        tokenizer: a tokenizer or its config.
        max_length (int): samples are truncated to it; packed rows hold at most this many.
        dataset_map_fn: raw row → ``{'conversation': [...]}`` (a function or a MAP_FUNC name).
        template_map_fn: applies the prompt template (``template_map_fn_factory(...)``).
        max_dataset_length (int | None): keep at most this many rows (after the shuffle).
        split (str): the split taken from a ``DatasetDict``.
        remove_unused_columns (bool): accepted for XTuner 0.2 configs; the output always
            holds only the training columns.
        rename_maps (list[tuple[str, str]]): columns renamed before the map fns.
        shuffle_before_pack (bool): shuffle (seeded with ``seed``) before packing.
        pack_to_max_length (bool): pack samples into rows of ``max_length`` tokens.
        use_varlen_attn (bool): accepted for XTuner 0.2 configs; packed samples never
            attend to each other either way.
        input_ids_with_output (bool): train on the answers.
        with_image_token (bool): multimodal data; not supported yet (raises).
        map_num_proc (int): processes for tokenization (capped by the row count).
        seed (int): seed of the shuffle before packing.

    Returns:
        A ``PackedDataset`` when packing, else a ``datasets.Dataset`` with ``input_ids``,
        ``labels`` and ``length``.
    """
    del remove_unused_columns, use_varlen_attn  # see the docstring
    if with_image_token:
        raise NotImplementedError('with_image_token=True (multimodal data) is not supported')
    processed = encode_rows(dataset, tokenizer, max_length, dataset_map_fn, template_map_fn,
                            max_dataset_length, split, rename_maps, shuffle_before_pack,
                            input_ids_with_output, map_num_proc, seed)
    skipped = _report_skipped(processed)
    truncated = sum(processed['truncated'])
    processed = processed.filter(lambda r: not r, input_columns='skip_reason')
    processed = processed.remove_columns(['skip_reason', 'row', 'truncated'])
    if len(processed) == 0:
        raise ValueError(f'no usable rows: all {skipped} rows were skipped (see the warning '
                         'above for the first reason)')
    if truncated:
        print_log(f'process_hf_dataset: truncated {truncated} samples to max_length='
                  f'{max_length}', logger='current', level=logging.WARNING)
    if not pack_to_max_length:
        return processed
    packed = PackedDataset(processed, max_length, lengths=processed['length'])
    print_log(f'process_hf_dataset: {len(processed)} samples packed into {len(packed)} rows '
              f'of <= {max_length} tokens (fill {packed.fill_ratio:.1%})', logger='current')
    return packed
