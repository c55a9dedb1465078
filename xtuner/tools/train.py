"""``xtuner train NAME|PATH``: fine-tune from a config with mmengine's Runner.

Order of work: resolve the config and every name the user typed, check options and data
files, adapt the config to the machine, and only then build the model and start.
"""
import argparse
import logging
import os
import os.path as osp
import sys

__all__ = ['main', 'build_parser']


def build_parser():
    p = argparse.ArgumentParser(prog='xtuner train', description=__doc__.splitlines()[0])
    p.add_argument('config', help='config NAME (see `xtuner list-cfg`) or path to a .py file')
    p.add_argument('--work-dir', help='where logs and checkpoints go '
                   '(default: ./work_dirs/CONFIG_NAME)')
    p.add_argument('--deepspeed', help='DeepSpeed config NAME (deepspeed_zero2, ...) or JSON path')
    p.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                   help='resume: from CKPT, or from the latest checkpoint in the work dir')
    p.add_argument('--seed', type=int, help='random seed (default: the config\'s, else 0)')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override settings, e.g. train_cfg.max_iters=20 optim_wrapper.optimizer.lr=1e-4')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                   help='set by NPROC_PER_NODE=N xtuner train ... (torchrun)')
    return p


def _load_config(args):
    from xtuner.configs import resolve_config, resolve_deepspeed
    from xtuner.engine.preflight import load_config
    from xtuner.tools.errors import XTunerUserError

    resolve_config(args.config)  # an unknown name is the first error a user sees
    if args.deepspeed:
        resolve_deepspeed(args.deepspeed)  # unknown names fail here, before any work
        raise XTunerUserError('--deepspeed is not supported by this version yet; '
                              'train without it (plain data parallel with NPROC_PER_NODE=N)')
    path, cfg = load_config(args.config, args.cfg_options)
    if args.resume is not None and args.resume != 'auto' and not osp.isfile(args.resume):
        raise XTunerUserError(f'--resume {args.resume}: no such checkpoint file')
    _check_parallel(cfg, args)
    return path, cfg


def _check_parallel(cfg, args):
    from xtuner.tools.errors import XTunerUserError
    sp = cfg.get('sequence_parallel_size', 1)
    if not isinstance(sp, int) or sp < 1:
        raise XTunerUserError(f'sequence_parallel_size={sp!r} must be a positive integer')
    if sp == 1:
        return
    if args.launcher == 'none':
        raise XTunerUserError(f'sequence_parallel_size={sp} needs {sp} or more processes: run '
                              f'NPROC_PER_NODE={sp} xtuner train ...')
    world = int(os.environ.get('WORLD_SIZE', os.environ.get('SLURM_NTASKS', '1')))
    if world % sp:
        raise XTunerUserError(f'sequence_parallel_size={sp} must divide the number of '
                              f'processes ({world})')
    sampler = cfg.train_dataloader.get('sampler') or {}
    if 'DefaultSampler' in str(sampler.get('type')):
        # every rank of an sp group must see the same samples (registered under this name)
        import xtuner.parallel.sequence  # noqa: F401
        sampler['type'] = 'SequenceParallelSampler'


def _setup(cfg, args, path):
    from mmengine.logging import print_log

    from xtuner.engine.device import adapt_cfg_to_device

    changes = adapt_cfg_to_device(cfg)
    if changes:
        print_log('no GPU: ' + '; '.join(changes), logger='current', level=logging.WARNING)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(path))[0])
    cfg.launcher = args.launcher
    randomness = dict(cfg.get('randomness') or {})
    if args.seed is not None or randomness.get('seed') is None:
        randomness['seed'] = args.seed if args.seed is not None else 0
    cfg.randomness = randomness
    if args.resume is not None:
        cfg.resume = True
        cfg.load_from = None if args.resume == 'auto' else args.resume
    if args.launcher != 'none':
        _init_distributed(cfg, args.launcher)


def slurm_env(env):
    """torch.distributed's env:// variables from a SLURM job step's (``srun xtuner train
    ... --launcher slurm``). MASTER_ADDR defaults to the first host of SLURM_NODELIST."""
    import subprocess
    out = {'RANK': env['SLURM_PROCID'], 'WORLD_SIZE': env['SLURM_NTASKS'],
           'LOCAL_RANK': env.get('SLURM_LOCALID', '0'),
           'MASTER_PORT': env.get('MASTER_PORT', env.get('PORT', '29500'))}
    addr = env.get('MASTER_ADDR')
    if not addr:
        nodes = env.get('SLURM_NODELIST', '127.0.0.1')
        addr = subprocess.run(['scontrol', 'show', 'hostnames', nodes], capture_output=True,
                              text=True, check=True).stdout.split()[0] if '[' in nodes \
            else nodes.split(',')[0]
    out['MASTER_ADDR'] = addr
    return out


def _init_distributed(cfg, launcher):
    import torch
    import torch.distributed as dist

    from xtuner.parallel import parallel_context

    if launcher == 'slurm':
        os.environ.update(slurm_env(os.environ))
    backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)))
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = backend
    parallel_context.init(cfg.get('sequence_parallel_size', 1))
    if not torch.cuda.is_available():  # DDP on CPU takes no device ids
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                     broadcast_buffers=False)


def main(argv=None):
    args = build_parser().parse_args(argv)
    path, cfg = _load_config(args)
    _setup(cfg, args, path)

    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from xtuner.engine._mmengine_compat import apply_mmengine_compat
    apply_mmengine_compat()
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()
    return 0


def _run_as_worker():
    """Entry for ``torchrun -m xtuner.tools.train``: the same one-line errors as ``xtuner``."""
    from xtuner.tools.errors import XTunerUserError
    try:
        return main()
    except XTunerUserError as err:
        print(f'xtuner train: error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(_run_as_worker())
