"""Ulysses all-to-all: sequence-sharded ⇄ head-sharded, differentiable, gloo and NCCL.

Legend: H = heads, S = full sequence, s = S / sp (this rank's shard), D = head dim.
"""
import torch
import torch.distributed as dist

__all__ = ['seq_to_head', 'head_to_seq']


def _all_to_all(x, group, scatter_dim, gather_dim):
    """Split ``x`` into sp chunks along ``scatter_dim``, send chunk j to rank j, and
    concatenate what arrives along ``gather_dim`` (in rank order)."""
    sp = dist.get_world_size(group)
    chunks = [c.contiguous() for c in x.chunk(sp, dim=scatter_dim)]
    send = torch.stack(chunks)  # (sp, ...): dim 0 is the destination rank
    recv = torch.empty_like(send)
    dist.all_to_all_single(recv, send, group=group)
    return torch.cat(recv.unbind(0), dim=gather_dim)


class _AllToAll(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, group, scatter_dim, gather_dim):
        ctx.group, ctx.scatter_dim, ctx.gather_dim = group, scatter_dim, gather_dim
        return _all_to_all(x, group, scatter_dim, gather_dim)

    @staticmethod
    def backward(ctx, grad):
        return _all_to_all(grad, ctx.group, ctx.gather_dim, ctx.scatter_dim), None, None, None


def seq_to_head(x_HsD, group):
    """(H, s, D) on each rank → (H/sp, S, D): all heads' shards gathered for H/sp heads."""
    return _AllToAll.apply(x_HsD, group, 0, 1)


def head_to_seq(x_HSD, group):
    """(H/sp, S, D) → (H, s, D): the inverse of :func:`seq_to_head`."""
    return _AllToAll.apply(x_HSD, group, 1, 0)
