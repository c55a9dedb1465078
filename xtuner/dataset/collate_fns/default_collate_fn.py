"""``default_collate_fn``: turn a batch of samples into one packed row for the model.

Legend: T = real tokens in the batch, P = padding to a multiple of the sp size, sp = sequence
parallel size.

The batch becomes a single row of T (+ P) tokens, with no padding between samples:
- ``input_ids`` (1, t): the row, or this rank's contiguous shard of it (t = (T + P) / sp);
- ``labels`` (1, t): **already shifted** (``labels[t]`` is the target of position t), taken
  from the same sample only: a sample's last token and all padding have IGNORE_INDEX. The
  shift happens before the row is split, so no target is lost at a shard edge;
- ``position_ids`` (1, t): restart at 0 for every sample (padding counts as one more sample);
- ``cu_seq_lens_q`` / ``cu_seq_lens_k`` (int32): sample boundaries over the whole row, and
  ``max_length_q`` / ``max_length_k``: the longest sample (the names transformers passes to
  attention functions);
- ``cumulative_len``: per input instance, its own sample boundaries (padding excluded), for
  hooks and XTuner 0.2 code.
"""
import torch

from xtuner.parallel.context import parallel_context
from xtuner.utils.constants import DEFAULT_PAD_TOKEN_INDEX, IGNORE_INDEX

__all__ = ['default_collate_fn', 'shift_labels']


def shift_labels(labels, cumulative_len):
    """Shift one row's labels left by one inside each sample [start, end)."""
    shifted = [IGNORE_INDEX] * len(labels)
    for start, end in zip(cumulative_len[:-1], cumulative_len[1:]):
        shifted[start:end - 1] = labels[start + 1:end]
    return shifted


def _boundaries(instance):
    n = len(instance['input_ids'])
    if len(instance['labels']) != n:
        raise ValueError(f'input_ids ({n}) and labels ({len(instance["labels"])}) differ in '
                         'length')
    cu = list(instance.get('cumulative_len') or [0, n])
    if cu[0] != 0 or cu[-1] != n:
        raise ValueError(f'cumulative_len {cu[:3]}...{cu[-1:]} does not span the {n} tokens')
    return cu


def default_collate_fn(instances, pad_index=DEFAULT_PAD_TOKEN_INDEX, return_hf_format=False,
                       use_varlen_attn=False, sp_size=None, sp_rank=None):
    """Collate samples (dicts with ``input_ids``, ``labels``, optional ``cumulative_len``).

    Args:
        instances (list[dict]): the samples (packed rows or single samples).
        pad_index (int): token id of the padding that makes the row divisible by sp.
        return_hf_format (bool): return the data dict itself instead of mmengine's
            ``{'data': ..., 'data_samples': None}``.
        use_varlen_attn (bool): accepted for XTuner 0.2 configs; boundaries are kept always.
        sp_size, sp_rank (int | None): sequence-parallel layout; default: the process's.
    """
    del use_varlen_attn
    sp_size = parallel_context.sp_size if sp_size is None else sp_size
    sp_rank = parallel_context.sp_rank if sp_rank is None else sp_rank
    input_ids, labels, positions, cu_seq, cumulative = [], [], [], [0], []
    for x in instances:
        cu = _boundaries(x)
        input_ids += x['input_ids']
        labels += shift_labels(list(x['labels']), cu)
        for start, end in zip(cu[:-1], cu[1:]):
            positions += range(end - start)
            cu_seq.append(cu_seq[-1] + end - start)
        cumulative.append(torch.tensor(cu, dtype=torch.int32))
    pad = -len(input_ids) % sp_size
    if pad:
        input_ids += [pad_index] * pad
        labels += [IGNORE_INDEX] * pad
        positions += range(pad)
        cu_seq.append(cu_seq[-1] + pad)
    cu_seq = torch.tensor(cu_seq, dtype=torch.int32)
    max_len = int((cu_seq[1:] - cu_seq[:-1]).max())
    shard = slice(sp_rank * len(input_ids) // sp_size, (sp_rank + 1) * len(input_ids) // sp_size)
    data = {
        'input_ids': torch.tensor([input_ids[shard]], dtype=torch.long),
        'labels': torch.tensor([labels[shard]], dtype=torch.long),
        'position_ids': torch.tensor([positions[shard]], dtype=torch.long),
        'cu_seq_lens_q': cu_seq, 'cu_seq_lens_k': cu_seq,
        'max_length_q': max_len, 'max_length_k': max_len,
        'cumulative_len': cumulative,
    }
    return data if return_hf_format else {'data': data, 'data_samples': None}
