"""``ThroughputHook``: tokens per GPU per second (TGS) and model TFLOPs, every iteration.

Counting rules (so the numbers can be compared across tools):
- tokens are real tokens: padding is excluded (each row's ``cumulative_len[-1]``);
- model FLOPs are counted once, forward + backward = 3 × forward; activation recompute
  is not counted as model work;
- forward FLOPs = 2 × (weights of every matmul, lm_head included) × tokens
  + attention 2 × layers × (heads × head_dim) × Σ sᵢ² over each packed sample i (causal:
  QKᵀ and AV each cost 2·s²·d, half of which is masked), so a pack of short samples is not
  charged as one long sequence;
- under sequence parallelism the sp ranks share one batch: each is credited 1/sp of its
  tokens and FLOPs (per-GPU figures);
- time is the training step: forward, backward and optimizer step (from before to after
  the iteration, hooks of other kinds such as checkpoint saving excluded).
"""
import time

import torch
from mmengine.hooks import Hook

from xtuner.parallel.context import parallel_context

__all__ = ['ThroughputHook', 'matmul_params', 'model_flops', 'device_peak_tflops']

# Dense bf16 tensor-core peak TFLOPs per device (vendor data sheets; no sparsity).
# Checked in this order, so 'A100' is found before its prefix 'A10'.
PEAK_BF16_TFLOPS = {'H200': 989.0, 'H100': 989.0, 'H800': 989.0, 'H20': 148.0,
                    'A100': 312.0, 'A800': 312.0, 'L40S': 362.0, 'A10': 125.0,
                    'RTX 4090': 165.0, 'RTX 3090': 71.0}


def device_peak_tflops(name=None):
    """bf16 peak of the current CUDA device (or of ``name``), or None when unknown."""
    if name is None:
        if not torch.cuda.is_available():
            return None
        name = torch.cuda.get_device_name()
    for key, peak in PEAK_BF16_TFLOPS.items():
        if key.lower() in name.lower():
            return peak
    return None


def _text_config(model):
    config = model.config
    return getattr(config, 'text_config', None) or config


def matmul_params(model):
    """Weights that multiply every token: all Linear layers (in × out, so 4-bit counts too)."""
    n = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            name = type(module).__name__.lower()
            if 'lora' in name:  # a peft wrapper: its base_layer is counted on its own
                continue
            n += module.in_features * module.out_features
    return n


def model_flops(num_matmul_params, num_layers, attn_dim, sample_lengths):
    """Forward + backward model FLOPs of one batch (see the module docstring)."""
    tokens = sum(sample_lengths)
    attn = 2 * num_layers * attn_dim * sum(s * s for s in sample_lengths)
    return 3 * (2 * num_matmul_params * tokens + attn)


class ThroughputHook(Hook):
    """Log ``tokens_per_sec`` (TGS) and ``tflops`` per GPU every training iteration.

    The XTuner 0.2 arguments are accepted; values not given are read from the model.

    With a known GPU (or ``peak_tflops`` given) it also logs ``mfu``: model TFLOPs over the
    device's dense bf16 peak.

    Args:
        peak_tflops (float | None): the device peak for MFU; default from a table of GPUs.
        use_activation_checkpointing, is_casual: accepted for XTuner 0.2 configs (model
            FLOPs do not depend on them).
        hidden_size, num_layers, vocab_size, mlp_ratio: accepted for XTuner 0.2 configs;
            the matmul size is counted from the model's own layers instead.
    """
    priority = 'VERY_HIGH'  # time the step itself, not the other hooks around it

    def __init__(self, use_activation_checkpointing=None, hidden_size=None, num_layers=None,
                 vocab_size=None, mlp_ratio=None, is_casual=None, peak_tflops=None):
        self._num_layers = num_layers
        self.peak_tflops = peak_tflops
        self._start = None
        self._spec = None

    def _model_spec(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        llm = getattr(model, 'llm', model)
        config = _text_config(llm)
        heads = config.num_attention_heads
        head_dim = getattr(config, 'head_dim', None) or config.hidden_size // heads
        layers = self._num_layers or config.num_hidden_layers
        return matmul_params(llm), layers, heads * head_dim

    def before_train(self, runner):
        self._spec = self._model_spec(runner)
        if self.peak_tflops is None:
            self.peak_tflops = device_peak_tflops()

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        seconds = time.perf_counter() - self._start
        lengths = _sample_lengths(data_batch)
        share = seconds * parallel_context.sp_size
        hub = runner.message_hub
        hub.update_scalar('train/tokens_per_sec', sum(lengths) / share)
        tflops = model_flops(*self._spec, lengths) / share / 1e12
        hub.update_scalar('train/tflops', tflops)
        if self.peak_tflops:
            hub.update_scalar('train/mfu', tflops / self.peak_tflops)


def _sample_lengths(data_batch):
    data = data_batch['data'] if 'data' in data_batch else data_batch
    cumulative = data.get('cumulative_len')
    if cumulative is None:  # no boundaries: each row is one sample of its unpadded length
        mask = data.get('attention_mask')
        if mask is not None:
            return [int(n) for n in mask.sum(-1)]
        return [int(data['input_ids'].shape[-1])] * int(data['input_ids'].shape[0])
    lengths = []
    for cu in cumulative:
        lengths += torch.diff(torch.as_tensor(cu)).tolist()
    return lengths
