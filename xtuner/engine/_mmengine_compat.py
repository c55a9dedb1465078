"""Fixes for running mmengine 0.10 on current torch, applied once by ``xtuner train``.

torch >= 2.6 loads checkpoints with ``weights_only=True`` by default, which cannot read
mmengine's own checkpoints (they pickle its log buffers), so ``--resume`` failed. We
register a local-file loader that reads them with ``weights_only=False``: only the run's
own checkpoints (files the user points at) go through it.
"""
import os

import torch
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = ['apply_mmengine_compat', 'load_trusted_checkpoint']


def load_trusted_checkpoint(filename, map_location='cpu'):
    """``torch.load`` of a checkpoint the user's own run wrote (may hold any pickle)."""
    return torch.load(filename, map_location=map_location, weights_only=False)


_applied = False


def apply_mmengine_compat():
    global _applied
    if _applied:
        return

    @CheckpointLoader.register_scheme(prefixes='', force=True)
    def load_from_local(filename, map_location):  # noqa: the name mmengine registers
        return load_trusted_checkpoint(os.path.expanduser(filename), map_location)

    _applied = True
