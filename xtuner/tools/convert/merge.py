"""``xtuner convert merge BASE ADAPTER OUT``: fold a LoRA adapter into its base model.

BASE is a HF model dir or hub name, ADAPTER a peft adapter dir (as ``xtuner convert pth_to_hf``
writes for a LoRA run). OUT gets a plain HF model (safetensors, sharded by --max-shard-size)
that loads with ``AutoModelForCausalLM.from_pretrained(OUT)`` without peft, plus the tokenizer
(ADAPTER's when it has one, else BASE's, chat template included) and the generation config.
"""
import argparse
import os
import os.path as osp

from xtuner.tools.errors import XTunerUserError

__all__ = ['main', 'build_parser']

ADAPTER_WEIGHTS = ('adapter_model.safetensors', 'adapter_model.bin')
TOKENIZER_FILES = ('tokenizer.json', 'tokenizer_config.json', 'tokenizer.model', 'vocab.json')


def build_parser():
    p = argparse.ArgumentParser(prog='xtuner convert merge', description=__doc__.splitlines()[0])
    p.add_argument('base', help='the base model: a HF model dir or hub name')
    p.add_argument('adapter', help='the LoRA adapter dir (with adapter_config.json)')
    p.add_argument('out', help='where to write the merged model')
    p.add_argument('--max-shard-size', default='5GB', help='largest safetensors shard')
    p.add_argument('--dtype', choices=['auto', 'fp32', 'bf16', 'fp16'], default='auto',
                   help="weights dtype (default auto: the base model's)")
    p.add_argument('--device', choices=['cpu', 'cuda', 'auto'], default='cpu',
                   help='where to merge (auto: spread over the GPUs and CPU)')
    p.add_argument('--force', action='store_true', help='write into a non-empty OUT dir')
    return p


def _looks_like_path(name):
    # hub names are 'name' or 'org/name'; anything else that is not there is a typo'd path
    return osp.exists(name) or name.startswith(('/', '.', '~')) or name.count('/') > 1


def _check_base(base):
    if not _looks_like_path(base):
        return
    if not osp.isdir(base):
        raise XTunerUserError(f'{base}: no such directory (BASE is a HF model dir or hub name)')
    if not osp.isfile(osp.join(base, 'config.json')):
        raise XTunerUserError(f'{base}: not a Hugging Face model dir (no config.json)')


def _check_adapter(adapter):
    if not osp.isdir(adapter):
        raise XTunerUserError(f'{adapter}: no such directory (ADAPTER is a LoRA adapter dir)')
    if not osp.isfile(osp.join(adapter, 'adapter_config.json')):
        names = os.listdir(adapter)
        if 'config.json' in names:
            hint = 'it holds a full model, which needs no merge'
        elif 'last_checkpoint' in names or any(n.endswith('.pth') for n in names):
            hint = 'it looks like a work dir: run xtuner convert pth_to_hf on its .pth first'
        else:
            hint = 'give the dir that xtuner convert pth_to_hf wrote for a LoRA run'
        raise XTunerUserError(f'{adapter}: no adapter_config.json, so not a LoRA adapter; {hint}')
    if not any(osp.isfile(osp.join(adapter, n)) for n in ADAPTER_WEIGHTS):
        raise XTunerUserError(f'{adapter}: has adapter_config.json but no adapter weights '
                              f'({" or ".join(ADAPTER_WEIGHTS)})')


def _check_out(out, base, adapter, force):
    if osp.exists(out) and not osp.isdir(out):
        raise XTunerUserError(f'{out} is a file; OUT must be a directory')
    for name, path in (('BASE', base), ('ADAPTER', adapter)):
        if osp.isdir(out) and osp.isdir(path) and osp.samefile(out, path):
            raise XTunerUserError(f'OUT {out} is {name}; write the merged model elsewhere')
    if osp.isdir(out) and os.listdir(out) and not force:
        raise XTunerUserError(f'{out} exists and is not empty; choose another OUT or pass '
                              '--force to write into it')


def _check_device(device):
    import torch
    if device in ('cuda', 'auto') and not torch.cuda.is_available():
        raise XTunerUserError(f'--device {device}: no CUDA GPU is visible; use --device cpu')


def _load_tokenizer(base, adapter):
    """ADAPTER's tokenizer if it saved one (training may add tokens), else BASE's, else None."""
    from transformers import AutoTokenizer
    has_own = any(osp.isfile(osp.join(adapter, n)) for n in TOKENIZER_FILES)
    if not has_own and osp.isdir(base) and \
            not any(osp.isfile(osp.join(base, n)) for n in TOKENIZER_FILES):
        return None
    return AutoTokenizer.from_pretrained(adapter if has_own else base)


def merge(base, adapter, dtype='auto', device='cpu', tokenizer=None):
    """The base model with the adapter merged in (a plain transformers model)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from xtuner.model.export import DTYPES
    model = AutoModelForCausalLM.from_pretrained(
        base, dtype='auto' if dtype == 'auto' else DTYPES[dtype],
        device_map='auto' if device == 'auto' else device)
    vocab = model.get_input_embeddings().weight.shape[0]
    if tokenizer is not None and len(tokenizer) > vocab:  # training added tokens
        model.resize_token_embeddings(len(tokenizer))
    model = PeftModel.from_pretrained(model, adapter)
    return model.merge_and_unload()


def main(argv=None):
    args = build_parser().parse_args(argv)
    _check_base(args.base)
    _check_adapter(args.adapter)
    _check_out(args.out, args.base, args.adapter, args.force)
    from xtuner.tools.convert.split import parse_size
    shard_size = parse_size(args.max_shard_size)  # a bad size fails now, not after the merge
    _check_device(args.device)

    tokenizer = _load_tokenizer(args.base, args.adapter)
    model = merge(args.base, args.adapter, args.dtype, args.device, tokenizer)
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out, max_shard_size=shard_size)
    if tokenizer is not None:
        tokenizer.save_pretrained(args.out)
    else:
        print(f'note: {args.base} has no tokenizer files; none written to {args.out}')
    print(f'saved the merged model to {args.out}')
    return 0
