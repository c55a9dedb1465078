"""Packed attention on this machine: backends side by side, and memory per rank under sp.

    python benchmarks/attention.py [--lengths 2048 8192 32768] [--sp 1 2 4] [--sp-length 8192]

Table 1: one attention layer, forward + backward, on a packed row of ~10 samples per length:
every xtuner backend available here against SDPA with a full block-diagonal mask (what a
dense-mask implementation does). Table 2: a tiny Llama (4 layers, hidden 256), forward +
backward at a fixed total length, split over sp = 1/2/4 gloo processes: peak memory growth
per rank (activation memory should fall near 1/sp). Each measurement runs in its own process;
memory is the growth of the process's peak RSS (VmHWM) during the step.
"""
import argparse
import json
import os
import subprocess
import sys
import time

H, KV, D = 8, 2, 64  # heads, KV heads, head dim of the attention layer in table 1


def _peak_rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM'):
                return int(line.split()[1]) / 1024


def _rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS'):
                return int(line.split()[1]) / 1024


def _boundaries(total, n=10, seed=0):
    import torch
    g = torch.Generator().manual_seed(seed)
    cuts = sorted(torch.randperm(total - 1, generator=g)[:n - 1].add(1).tolist())
    return torch.tensor([0, *cuts, total])


def attention_worker(backend, total):
    import torch
    import torch.nn.functional as F

    from xtuner.model import attention
    torch.manual_seed(0)
    q = torch.randn(H, total, D, requires_grad=True)
    k = torch.randn(KV, total, D, requires_grad=True)
    v = torch.randn(KV, total, D, requires_grad=True)
    cu = _boundaries(total)

    def step():
        if backend == 'dense_mask':
            doc = torch.repeat_interleave(torch.arange(len(cu) - 1), cu.diff())
            i = torch.arange(total)
            mask = (doc[:, None] == doc[None, :]) & (i[None, :] <= i[:, None])
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
        else:
            out = attention._RUN[backend](q, k, v, cu, D ** -0.5, None)
        out.float().sum().backward()

    step()  # warm-up
    base = _rss_mb()
    times = []
    for _ in range(3):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return {'ms': 1000 * sorted(times)[1], 'peak_mb': _peak_rss_mb() - base}


def sp_worker(rank, world, total, port, queue):
    import torch
    import torch.distributed as dist
    from transformers import AutoModelForCausalLM, LlamaConfig

    from xtuner.dataset.collate_fns import default_collate_fn
    from xtuner.model import SupervisedFinetune
    from xtuner.parallel import parallel_context
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world)
    parallel_context.init(world)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=1000, hidden_size=256, intermediate_size=512,
                         num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4,
                         max_position_embeddings=total)
    model = SupervisedFinetune(AutoModelForCausalLM.from_config(config),
                               use_activation_checkpointing=False)
    cu = _boundaries(total).tolist()
    ids = torch.randint(0, 1000, (total,)).tolist()
    data = default_collate_fn([{'input_ids': ids, 'labels': ids, 'cumulative_len': cu}])['data']
    base = _rss_mb()
    t = time.perf_counter()
    model(data, mode='loss')['loss'].backward()
    queue.put((rank, {'ms': 1000 * (time.perf_counter() - t), 'peak_mb': _peak_rss_mb() - base}))
    dist.destroy_process_group()


def _run_sp(sp, total, port):
    import torch.multiprocessing as mp
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    procs = [ctx.Process(target=sp_worker, args=(r, sp, total, port, queue)) for r in range(sp)]
    for p in procs:
        p.start()
    results = dict(queue.get() for _ in procs)
    for p in procs:
        p.join()
    return results


def _child(args):
    out = subprocess.run([sys.executable, __file__, '--child', json.dumps(args)],
                         capture_output=True, text=True)
    if out.returncode:
        return {'error': out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--lengths', type=int, nargs='+', default=[2048, 8192, 32768])
    p.add_argument('--sp', type=int, nargs='+', default=[1, 2, 4])
    p.add_argument('--sp-length', type=int, default=8192)
    p.add_argument('--dense-max', type=int, default=8192,
                   help='skip the dense mask above this length (it needs S^2 memory per head)')
    p.add_argument('--child', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        job = json.loads(args.child)
        if job['kind'] == 'attention':
            print(json.dumps(attention_worker(job['backend'], job['total'])))
        else:
            print(json.dumps(_run_sp(job['sp'], job['total'], job['port'])))
        return

    import torch

    from xtuner.model import attention
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    backends = attention.available_backends(device)
    print(f'## Packed attention, forward + backward (H={H}, KV={KV}, D={D}, ~10 samples/pack, '
          f'{device}, {torch.get_num_threads()} threads)\n')
    print('| total length | backend | time (ms) | peak memory growth (MB) |')
    print('|---|---|---|---|')
    for total in args.lengths:
        for backend in backends + ['dense_mask']:
            if backend == 'dense_mask' and total > args.dense_max:
                need = H * total * total * 4 / 2 ** 30
                print(f'| {total} | SDPA + block-diagonal mask | skipped | needs ~{need:.0f} GB '
                      'for the scores alone |')
                continue
            r = _child({'kind': 'attention', 'backend': backend, 'total': total})
            name = 'SDPA + block-diagonal mask' if backend == 'dense_mask' else f'xtuner {backend}'
            if 'error' in r:
                print(f'| {total} | {name} | failed | {r["error"]} |')
            else:
                print(f'| {total} | {name} | {r["ms"]:.1f} | {r["peak_mb"]:.0f} |')
    print(f'\n## Tiny Llama (4 layers, hidden 256) forward + backward at {args.sp_length} tokens, '
          'split over sp gloo processes\n')
    print('| sp | per-rank peak memory growth (MB) | ratio to sp=1 | step time (ms, rank 0) |')
    print('|---|---|---|---|')
    first = None
    for i, sp in enumerate(args.sp):
        r = _child({'kind': 'sp', 'sp': sp, 'total': args.sp_length, 'port': 29700 + i})
        if 'error' in r:
            print(f'| {sp} | failed: {r["error"]} | | |')
            continue
        peak = max(v['peak_mb'] for v in r.values())
        first = first or peak
        print(f'| {sp} | {peak:.0f} | {peak / first:.2f} | {r["0"]["ms"]:.0f} |')


if __name__ == '__main__':
    main()
