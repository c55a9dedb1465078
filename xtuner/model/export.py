"""Write a trained model as a Hugging Face model dir (safetensors + config + tokenizer)."""
import os

import torch

__all__ = ['save_hf', 'DTYPES']

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def save_hf(model, out_dir, tokenizer=None, dtype=None, max_shard_size='5GB'):
    """Save ``model.llm`` (a ``SupervisedFinetune``) or a bare HF model to ``out_dir``.

    A LoRA model is saved as its adapter (``adapter_config.json`` + weights), as peft
    does; merge it into the base model with ``xtuner convert merge``.

    Args:
        dtype (str | None): 'fp32', 'bf16' or 'fp16'; None keeps the trained dtype.
    """
    llm = getattr(model, 'llm', model)
    if dtype is not None:
        llm = llm.to(DTYPES[dtype])
    os.makedirs(out_dir, exist_ok=True)
    llm.config.use_cache = True  # what generation wants; training turned it off
    llm.save_pretrained(out_dir, max_shard_size=max_shard_size)  # safetensors by default
    llm.config.use_cache = False
    if tokenizer is not None:
        tokenizer.save_pretrained(out_dir)
    return out_dir
