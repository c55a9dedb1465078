"""``xtuner convert pth_to_hf CONFIG CKPT OUT_DIR``: a training checkpoint → a HF model dir.

The output loads with ``AutoModelForCausalLM.from_pretrained(OUT_DIR)`` (a LoRA run gives a
peft adapter dir instead; ``xtuner convert merge`` folds it into the base model).
"""
import argparse
import os.path as osp

__all__ = ['main', 'build_parser']


def build_parser():
    p = argparse.ArgumentParser(prog='xtuner convert pth_to_hf', description=__doc__.splitlines()[0])
    p.add_argument('config', help='the config NAME or path the checkpoint was trained with')
    p.add_argument('checkpoint', help='a checkpoint .pth file from the work dir')
    p.add_argument('out_dir', help='where to write the HF model')
    p.add_argument('--dtype', choices=['auto', 'fp32', 'bf16', 'fp16'], default='auto',
                   help='weights dtype (default auto: as trained)')
    p.add_argument('--fp32', action='store_true', help='same as --dtype fp32 (XTuner 0.2)')
    p.add_argument('--max-shard-size', default='5GB', help='largest safetensors shard')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override config settings, as for xtuner train')
    return p


def _state_dict(checkpoint):
    from xtuner.engine._mmengine_compat import load_trusted_checkpoint
    ckpt = load_trusted_checkpoint(checkpoint)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f'{checkpoint}: not a training checkpoint (no state_dict)')
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def main(argv=None):
    args = build_parser().parse_args(argv)
    from xtuner.configs import resolve_config
    from xtuner.engine.preflight import load_config
    from xtuner.model.export import save_hf
    from xtuner.registry import build
    from xtuner.tools.errors import XTunerUserError

    resolve_config(args.config)  # an unknown name is reported first
    if not osp.isfile(args.checkpoint):
        raise XTunerUserError(f'{args.checkpoint}: no such checkpoint file')
    path, cfg = load_config(args.config, args.cfg_options, check_data=False)
    state = _state_dict(args.checkpoint)

    model_cfg = dict(cfg.model)
    model_cfg['use_activation_checkpointing'] = False
    model = build(model_cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # A LoRA checkpoint may hold only the trained (adapter) weights; a full one holds all.
    partial_ok = getattr(model, 'use_lora', False) and len(missing) < len(model.state_dict())
    if unexpected or (missing and not partial_ok):
        raise XTunerUserError(f'{args.checkpoint} does not match the model of {path}: '
                              f'{len(unexpected)} unexpected keys {unexpected[:2]}, '
                              f'{len(missing)} missing {missing[:2]}')
    dtype = 'fp32' if args.fp32 else (None if args.dtype == 'auto' else args.dtype)
    tokenizer = build(cfg.tokenizer) if cfg.get('tokenizer') else None
    save_hf(model, args.out_dir, tokenizer=tokenizer, dtype=dtype,
            max_shard_size=args.max_shard_size)
    print(f'saved the Hugging Face model to {args.out_dir}')
    return 0
