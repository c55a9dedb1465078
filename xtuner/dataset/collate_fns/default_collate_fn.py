"""``default_collate_fn``: pad a batch and build what the model needs.

Legend: B = batch, S = padded sequence length.

Every row may hold several packed samples (``cumulative_len``). The batch gets:
- ``input_ids`` (B, S), padded with ``pad_index``;
- ``labels`` (B, S), **already shifted**: ``labels[b, t]`` is the target of position t, taken
  from the same sample only, so a sample's last token and all padding have IGNORE_INDEX
  (no target crosses a sample boundary, and nothing is lost when the sequence is split later);
- ``position_ids`` (B, S), restarting at 0 for every sample (padding counts as one more
  sample), which is how attention keeps samples apart;
- ``cumulative_len``: a list of B int tensors of sample boundaries (padding excluded).
"""
import torch

from xtuner.utils.constants import DEFAULT_PAD_TOKEN_INDEX, IGNORE_INDEX

__all__ = ['default_collate_fn', 'shift_labels']


def shift_labels(labels, cumulative_len):
    """Shift one row's labels left by one inside each sample [start, end)."""
    shifted = [IGNORE_INDEX] * len(labels)
    for start, end in zip(cumulative_len[:-1], cumulative_len[1:]):
        shifted[start:end - 1] = labels[start + 1:end]
    return shifted


def _position_ids(cumulative_len, total):
    pos = []
    for start, end in zip(cumulative_len[:-1], cumulative_len[1:]):
        pos += range(end - start)
    return pos + list(range(total - len(pos)))


def default_collate_fn(instances, pad_index=DEFAULT_PAD_TOKEN_INDEX, return_hf_format=False,
                       use_varlen_attn=False):
    """Collate samples (dicts with ``input_ids``, ``labels``, optional ``cumulative_len``).

    Args:
        instances (list[dict]): the samples.
        pad_index (int): token id used for padding (never trained on).
        return_hf_format (bool): return the data dict itself instead of mmengine's
            ``{'data': ..., 'data_samples': None}``.
        use_varlen_attn (bool): accepted for XTuner 0.2 configs; boundaries are kept always.
    """
    del use_varlen_attn
    seq_len = max(len(x['input_ids']) for x in instances)
    input_ids, labels, position_ids, cumulative = [], [], [], []
    for x in instances:
        n = len(x['input_ids'])
        if len(x['labels']) != n:
            raise ValueError(f'input_ids ({n}) and labels ({len(x["labels"])}) differ in length')
        cu = list(x.get('cumulative_len') or [0, n])
        if cu[0] != 0 or cu[-1] != n:
            raise ValueError(f'cumulative_len {cu[:3]}...{cu[-1:]} does not span the {n} tokens')
        pad = seq_len - n
        input_ids.append(list(x['input_ids']) + [pad_index] * pad)
        labels.append(shift_labels(list(x['labels']), cu) + [IGNORE_INDEX] * pad)
        position_ids.append(_position_ids(cu, seq_len))
        cumulative.append(torch.tensor(cu, dtype=torch.int32))
    data = {
        'input_ids': torch.tensor(input_ids, dtype=torch.long),
        'labels': torch.tensor(labels, dtype=torch.long),
        'position_ids': torch.tensor(position_ids, dtype=torch.long),
        'cumulative_len': cumulative,
    }
    return data if return_hf_format else {'data': data, 'data_samples': None}
