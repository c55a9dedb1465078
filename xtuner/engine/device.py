"""Make a config written for GPUs run on the machine at hand (CPU: gloo, fp32)."""
import torch

__all__ = ['adapt_cfg_to_device']

_HALF = ('torch.float16', 'float16', 'fp16', 'half')


def _is_fp16(value):
    return value is torch.float16 or str(value) in _HALF


def _llm_cfgs(cfg):
    """The dicts that load weights: ``model.llm`` (also when nested in peft configs)."""
    model = cfg.get('model') or {}
    llm = model.get('llm') if isinstance(model, dict) else None
    return [llm] if isinstance(llm, dict) else []


def adapt_cfg_to_device(cfg, has_cuda=None):
    """Rewrite GPU-only settings in ``cfg`` (in place) when there is no GPU.

    Returns the list of changes made, each a short phrase (empty when nothing changed).
    """
    has_cuda = torch.cuda.is_available() if has_cuda is None else has_cuda
    if has_cuda:
        return []
    changes = []
    dist_cfg = cfg.get('env_cfg', {}).get('dist_cfg')
    if dist_cfg and dist_cfg.get('backend', 'nccl') != 'gloo':
        changes.append(f"dist backend {dist_cfg.get('backend', 'nccl')} -> gloo")
        dist_cfg['backend'] = 'gloo'
    optim = cfg.get('optim_wrapper')
    if isinstance(optim, dict) and 'AmpOptimWrapper' in str(optim.get('type')):
        dtype = optim.pop('dtype', None)
        optim.pop('loss_scale', None)
        optim['type'] = 'OptimWrapper'
        changes.append(f'AmpOptimWrapper({dtype or "float16"}) -> OptimWrapper (fp32)')
    for llm in _llm_cfgs(cfg):
        for key in ('torch_dtype', 'dtype'):
            if key in llm and _is_fp16(llm[key]):
                llm[key] = torch.float32
                changes.append(f'model.llm.{key} float16 -> float32')
        quant = llm.get('quantization_config')
        if isinstance(quant, dict) and _is_fp16(quant.get('bnb_4bit_compute_dtype')):
            quant['bnb_4bit_compute_dtype'] = torch.float32
            changes.append('bnb_4bit_compute_dtype float16 -> float32')
    return changes
