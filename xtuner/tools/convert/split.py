"""``xtuner convert split SRC OUT [--max-shard-size 2GB]``: re-shard a HF model dir by size.

Tensors are streamed shard by shard from SRC's safetensors (or ``pytorch_model*.bin``) files
into new safetensors shards; the model is never built, so this needs memory for one shard,
not the model. Every other file of SRC (config, tokenizer, generation config, ...) is copied.
A tensor stored once in SRC is stored once in OUT: names that alias one tensor in a ``.bin``
(tied weights) keep the first name only, as ``save_pretrained`` does; loading re-ties them.
"""
import argparse
import json
import math
import os
import os.path as osp
import re
import shutil
import struct

from xtuner.tools.errors import XTunerUserError

__all__ = ['main', 'build_parser', 'parse_size', 'find_weights', 'plan_shards']

SAFE_INDEX, BIN_INDEX = 'model.safetensors.index.json', 'pytorch_model.bin.index.json'
_UNITS = {'': 1, 'B': 1, 'KB': 10**3, 'MB': 10**6, 'GB': 10**9, 'TB': 10**12,
          'KIB': 2**10, 'MIB': 2**20, 'GIB': 2**30, 'TIB': 2**40}


def build_parser():
    p = argparse.ArgumentParser(prog='xtuner convert split', description=__doc__.splitlines()[0])
    p.add_argument('src', help='a Hugging Face model dir')
    p.add_argument('out', help='where to write the re-sharded model dir')
    p.add_argument('--max-shard-size', default='2GB',
                   help='largest shard, e.g. 500MB, 2GB, 1.5GiB, 200KB (default 2GB); '
                        'a tensor larger than this gets a shard of its own')
    p.add_argument('--force', action='store_true', help='write into a non-empty OUT dir')
    return p


def parse_size(text):
    """'1.5GiB' -> 1610612736 bytes. KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024."""
    m = re.fullmatch(r'\s*(\d+(?:\.\d*)?)\s*([KMGT]I?B|B)?\s*', str(text), re.IGNORECASE)
    size = int(float(m.group(1)) * _UNITS[(m.group(2) or '').upper()]) if m else 0
    if size <= 0:
        raise XTunerUserError(f"bad size '{text}': write a positive size such as 500MB, "
                              '2GB or 1.5GiB')
    return size


def find_weights(src):
    """The weight files of a HF model dir and the files to leave out of the copy."""
    for index, single in ((SAFE_INDEX, 'model.safetensors'), (BIN_INDEX, 'pytorch_model.bin')):
        if osp.isfile(osp.join(src, index)):
            with open(osp.join(src, index)) as f:
                files = list(dict.fromkeys(json.load(f)['weight_map'].values()))
            missing = [n for n in files if not osp.isfile(osp.join(src, n))]
            if missing:
                raise XTunerUserError(f'{src}: {index} names shards that are missing: '
                                      f'{", ".join(missing[:3])}')
            return files
        if osp.isfile(osp.join(src, single)):
            return [single]
    raise XTunerUserError(f'{src}: no model weights (expected {SAFE_INDEX}, model.safetensors, '
                          f'{BIN_INDEX} or pytorch_model.bin)')


def _skipped(src):
    """Names not to copy: weight files and indexes of both formats (OUT has its own)."""
    names = {SAFE_INDEX, BIN_INDEX, 'model.safetensors', 'pytorch_model.bin'}
    pattern = re.compile(r'(model|pytorch_model)-\d{5}-of-\d{5}\.(safetensors|bin)$')
    return names | {n for n in os.listdir(src) if pattern.match(n)}


def _safetensors_entries(path):
    """(name, nbytes, numel) of each tensor in file order, from the header alone."""
    with open(path, 'rb') as f:
        header = json.loads(f.read(struct.unpack('<Q', f.read(8))[0]))
    header.pop('__metadata__', None)
    items = sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0])
    return [(name, end - start, math.prod(info['shape']))
            for name, info in items for start, end in [info['data_offsets']]]


def _bin_tensors(path):
    """A .bin state dict (mmap, not read into memory), with aliases of one tensor dropped."""
    import torch
    state = torch.load(path, map_location='cpu', mmap=True, weights_only=True)
    seen, out = set(), {}
    for name, t in state.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape),
               t.stride(), t.dtype)
        if key not in seen:
            seen.add(key)
            out[name] = t
    return out


def plan_shards(entries, limit):
    """Greedy: fill each shard up to ``limit`` bytes, in order. entries: (name, nbytes)."""
    shards, size = [[]], 0
    for name, nbytes in entries:
        if shards[-1] and size + nbytes > limit:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += nbytes
    return shards


class _Reader:
    """Tensors by name across SRC's weight files; opens one file at a time."""

    def __init__(self, src, files):
        self.src, self.where, self.entries, self.cache = src, {}, [], (None, None)
        for fname in files:
            path = osp.join(src, fname)
            if fname.endswith('.safetensors'):
                found = _safetensors_entries(path)
            else:
                found = [(n, t.nbytes, t.numel()) for n, t in _bin_tensors(path).items()]
            for name, nbytes, numel in found:
                if name in self.where:
                    raise XTunerUserError(f'{src}: tensor {name} is in both '
                                          f'{self.where[name]} and {fname}')
                self.where[name] = fname
                self.entries.append((name, nbytes, numel))

    def get(self, name):
        fname = self.where[name]
        if self.cache[0] != fname:
            path = osp.join(self.src, fname)
            if fname.endswith('.safetensors'):
                from safetensors import safe_open
                handle = safe_open(path, framework='pt')
                self.cache = (fname, handle.get_tensor)
            else:  # clone: a view of a mmap'd (maybe shared) storage cannot be saved as is
                tensors = _bin_tensors(path)
                self.cache = (fname, lambda key: tensors[key].contiguous().clone())
        return self.cache[1](name)


def _check_out(out, src, force):
    if osp.exists(out) and not osp.isdir(out):
        raise XTunerUserError(f'{out} is a file; OUT must be a directory')
    if osp.isdir(out) and osp.realpath(out) == osp.realpath(src):
        raise XTunerUserError(f'OUT {out} is SRC; write to another dir')
    if osp.isdir(out) and os.listdir(out) and not force:
        raise XTunerUserError(f'{out} exists and is not empty; choose another OUT or pass '
                              '--force to write into it')


def split(src, out, limit):
    """Write SRC's weights to OUT in shards of at most ``limit`` bytes; return the shard names."""
    from safetensors.torch import save_file
    reader = _Reader(src, find_weights(src))
    shards = plan_shards([(n, b) for n, b, _ in reader.entries], limit)
    os.makedirs(out, exist_ok=True)
    stale = re.compile(r'model(-\d{5}-of-\d{5})?\.safetensors$|' + re.escape(SAFE_INDEX))
    for name in os.listdir(out):  # with --force: shards of an earlier save would mislead
        if stale.fullmatch(name):
            os.remove(osp.join(out, name))
    names = ['model.safetensors'] if len(shards) == 1 else [
        f'model-{i + 1:05d}-of-{len(shards):05d}.safetensors' for i in range(len(shards))]
    weight_map = {}
    for fname, keys in zip(names, shards):
        save_file({k: reader.get(k) for k in keys}, osp.join(out, fname),
                  metadata={'format': 'pt'})
        weight_map.update(dict.fromkeys(keys, fname))
    if len(shards) > 1:
        total = sum(b for _, b, _ in reader.entries)
        params = sum(n for _, _, n in reader.entries)
        index = {'metadata': {'total_size': total, 'total_parameters': params},
                 'weight_map': dict(sorted(weight_map.items()))}
        with open(osp.join(out, SAFE_INDEX), 'w') as f:
            json.dump(index, f, indent=2)
    return names


def main(argv=None):
    args = build_parser().parse_args(argv)
    limit = parse_size(args.max_shard_size)
    if not osp.isdir(args.src):
        raise XTunerUserError(f'{args.src}: no such directory (SRC must be a HF model dir)')
    find_weights(args.src)
    _check_out(args.out, args.src, args.force)
    skipped = _skipped(args.src)
    names = split(args.src, args.out, limit)
    for name in sorted(os.listdir(args.src)):
        path = osp.join(args.src, name)
        if name in skipped:
            continue
        if osp.isdir(path):
            shutil.copytree(path, osp.join(args.out, name), dirs_exist_ok=True)
        else:
            shutil.copy2(path, osp.join(args.out, name))
    print(f'wrote {len(names)} shard(s) to {args.out}')
    return 0
