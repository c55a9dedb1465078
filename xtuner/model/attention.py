"""The one attention function xtuner registers with transformers (``attn_implementation``).

Every model on transformers' attention interface (Llama, Mistral, Qwen2, Qwen3, ...) calls
it with q/k/v of its local tokens. It
1. under sequence parallelism, turns sequence-sharded q/k/v into head-sharded full sequences
   (Ulysses all-to-all), repeating KV heads when sp exceeds them;
2. runs causal attention inside each packed sample only (boundaries ``cu_seq_lens_q``), with
   the best backend present: flash-attn varlen, torch varlen (GPU), or SDPA per sample;
3. turns the output back to sequence-sharded.

Legend: B = batch (1 when packed), H = query heads, K = KV heads, S = full sequence,
s = local shard, D = head dim, T = tokens.
"""
import importlib.util
import logging
from math import gcd

import torch
import torch.nn.functional as F
from mmengine.logging import print_log

from xtuner.parallel.context import parallel_context
from xtuner.parallel.sequence.comm import head_to_seq, seq_to_head

__all__ = ['ATTN_IMPLEMENTATION', 'BACKENDS', 'available_backends', 'register',
           'select_backend', 'varlen_attention', 'kv_repeats_for_sp']

ATTN_IMPLEMENTATION = 'xtuner_varlen'
BACKENDS = ('auto', 'flash_attn', 'torch_varlen', 'sdpa')
_state = {'backend': 'auto', 'logged': None}


def _has_flash_attn():
    return importlib.util.find_spec('flash_attn') is not None


def _has_torch_varlen():
    return importlib.util.find_spec('torch.nn.attention.varlen') is not None


def available_backends(device_type='cpu'):
    """The backends that can run on ``device_type`` here, fastest first."""
    found = []
    if device_type == 'cuda' and _has_flash_attn():
        found.append('flash_attn')
    if device_type == 'cuda' and _has_torch_varlen():
        found.append('torch_varlen')
    return found + ['sdpa']


def select_backend(name='auto', device_type='cpu'):
    """The backend to run: ``name`` itself, or for 'auto' the fastest available here."""
    if name not in BACKENDS:
        raise ValueError(f'attention backend {name!r}: choose one of {", ".join(BACKENDS)}')
    return name if name != 'auto' else available_backends(device_type)[0]


def register(backend='auto'):
    """Register the function with transformers and choose the backend (config override)."""
    from transformers import AttentionInterface
    select_backend(backend)  # validates the name now, not at the first step
    _state['backend'] = backend
    AttentionInterface.register(ATTN_IMPLEMENTATION, varlen_attention)
    return ATTN_IMPLEMENTATION


def kv_repeats_for_sp(num_heads, num_kv_heads, sp):
    """How many times to repeat each KV head so sp ranks each get whole KV heads.

    Raises ValueError when sp cannot serve the head counts (query heads not divisible by sp).
    """
    if num_heads % sp:
        raise ValueError(f'sequence_parallel_size={sp} must divide the number of attention '
                         f'heads ({num_heads}); choose an sp size among its divisors')
    repeats = sp // gcd(num_kv_heads, sp)
    if num_heads % (num_kv_heads * repeats):
        raise ValueError(f'sequence_parallel_size={sp} cannot split {num_kv_heads} KV heads '
                         f'for {num_heads} query heads')
    return repeats


# -- backends: q (H, S, D), k/v (K, S, D), boundaries cu (N+1,) over S -> out (S, H, D) --------

def _sdpa(q, k, v, cu, scale, window):
    out = []
    for a, b in zip(cu[:-1].tolist(), cu[1:].tolist()):
        # 4-D inputs: with 3-D ones torch's CPU SDPA falls back to the math kernel, which
        # materialises the (H, s, s) scores (measured: 5x slower, 100x the memory at 8k).
        qs, ks, vs = q[None, :, a:b], k[None, :, a:b], v[None, :, a:b]
        if window is not None and b - a > window:
            i = torch.arange(b - a, device=q.device)
            mask = (i[None, :] <= i[:, None]) & (i[None, :] > i[:, None] - window)
            o = F.scaled_dot_product_attention(qs, ks, vs, attn_mask=mask, scale=scale,
                                               enable_gqa=True)
        else:
            o = F.scaled_dot_product_attention(qs, ks, vs, is_causal=True, scale=scale,
                                               enable_gqa=True)
        out.append(o[0])
    return torch.cat(out, dim=1).transpose(0, 1)


def _flash_attn(q, k, v, cu, scale, window):
    from flash_attn import flash_attn_varlen_func
    cu = cu.to(torch.int32)
    max_len = int((cu[1:] - cu[:-1]).max())
    window_size = (-1, -1) if window is None else (window - 1, 0)
    return flash_attn_varlen_func(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1),
                                  cu, cu, max_len, max_len, softmax_scale=scale, causal=True,
                                  window_size=window_size)


def _torch_varlen(q, k, v, cu, scale, window):
    from torch.nn.attention.varlen import varlen_attn
    cu = cu.to(torch.int32)
    max_len = int((cu[1:] - cu[:-1]).max())
    rep = q.shape[0] // k.shape[0]
    k, v = k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
    kwargs = {'window_size': (-1, 0) if window is None else (window - 1, 0)}
    return varlen_attn(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), cu, cu,
                       max_len, max_len, scale=scale, **kwargs)


_RUN = {'sdpa': _sdpa, 'flash_attn': _flash_attn, 'torch_varlen': _torch_varlen}


def _boundaries(kwargs, total, device):
    cu = kwargs.get('cu_seq_lens_q')
    if cu is not None:
        return cu.to(device)
    position_ids = kwargs.get('position_ids')
    if position_ids is None:
        return torch.tensor([0, total], device=device)
    starts = (position_ids[0] == 0).nonzero().flatten()
    return torch.cat([starts, torch.tensor([total], device=device)])


def _plain_attention(module, q, k, v, scale):
    """No packing (generation with a KV cache): causal when q and k have the same length."""
    q_len, k_len = q.shape[-2], k.shape[-2]
    mask = None
    if q_len > 1:
        i = torch.arange(q_len, device=q.device)[:, None] + (k_len - q_len)
        mask = torch.arange(k_len, device=q.device)[None, :] <= i
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=True)
    return out.transpose(1, 2), None


def varlen_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                     **kwargs):
    """transformers attention function: query (B, H, s, D), key/value (B, K, s, D) →
    (B, s, H, D). Packed training rows have B = 1 and boundaries in ``cu_seq_lens_q``."""
    if dropout:
        raise ValueError('attention dropout is not supported by xtuner_varlen attention')
    packed = kwargs.get('cu_seq_lens_q') is not None or kwargs.get('position_ids') is not None
    if query.shape[0] != 1 or key.shape[-2] != query.shape[-2] or not packed:
        return _plain_attention(module, query, key, value, scaling)
    window = kwargs.get('sliding_window') or None
    backend = select_backend(_state['backend'], query.device.type)
    if _state['logged'] != backend:
        print_log(f'attention backend: {backend}', logger='current', level=logging.INFO)
        _state['logged'] = backend
    q, k, v = query[0], key[0], value[0]
    # Only collated training rows (which carry cu_seq_lens) are split across the sp group;
    # anything else (generation on each rank, say) holds its whole sequence locally.
    sharded = kwargs.get('cu_seq_lens_q') is not None
    sp, group = (parallel_context.sp_size, parallel_context.sp_group) if sharded else (1, None)
    if sp > 1:
        repeats = kv_repeats_for_sp(q.shape[0], k.shape[0], sp)
        if repeats > 1:
            k, v = k.repeat_interleave(repeats, 0), v.repeat_interleave(repeats, 0)
        q, k, v = seq_to_head(q, group), seq_to_head(k, group), seq_to_head(v, group)
    cu = _boundaries(kwargs, q.shape[1], q.device)
    out_SHD = _RUN[backend](q, k, v, cu, scaling, window)
    if sp > 1:
        out_SHD = head_to_seq(out_SHD.transpose(0, 1), group).transpose(0, 1)
    return out_SHD.unsqueeze(0), None
