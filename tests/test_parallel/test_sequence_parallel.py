"""Layout does not change the loss or gradients: sp=2, sp=4, sp=2×dp=2, dp=2 (gloo, CPU)
against one process on the same global batch; packed and unpacked; a length that sp does
not divide; fewer KV heads than sp."""
import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from xtuner.dataset.collate_fns import default_collate_fn
from xtuner.engine.runner.loss_scale import TokenCountingIterator
from xtuner.model import SupervisedFinetune
from xtuner.parallel import parallel_context
from xtuner.utils import IGNORE_INDEX

CONFIG = dict(vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
              bos_token_id=1, eos_token_id=2, pad_token_id=0)


def _model(arch='llama'):
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config
    torch.manual_seed(0)
    config = (LlamaConfig if arch == 'llama' else Qwen2Config)(**CONFIG)
    return SupervisedFinetune(AutoModelForCausalLM.from_config(config),
                              use_activation_checkpointing=False)


def _samples(lengths, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in lengths:
        ids = torch.randint(3, 97, (n,), generator=g).tolist()
        out.append({'input_ids': ids, 'labels': [IGNORE_INDEX] * 3 + ids[3:]})
    return out


def _packed(samples, per_row):
    rows = []
    for i in range(0, len(samples), per_row):
        row = {'input_ids': [], 'labels': [], 'cumulative_len': [0]}
        for s in samples[i:i + per_row]:
            row['input_ids'] += s['input_ids']
            row['labels'] += s['labels']
            row['cumulative_len'].append(len(row['input_ids']))
        rows.append(row)
    return rows


# Each case: instances of the global batch (dp ranks take instances[dp_rank::dp]).
CASES = {
    'packed': _packed(_samples([9, 14, 5, 12, 7, 11, 6, 13], seed=1), per_row=4),  # 2 rows
    'unpacked_odd': _samples([9, 14, 5, 17], seed=2),  # totals not divisible by sp
}


def _reference(instances, arch):
    """One process, the whole global batch in one step: mean over all trained tokens."""
    model = _model(arch)
    data = default_collate_fn(instances, sp_size=1, sp_rank=0)['data']
    loss = model(data, mode='loss')['loss']
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def _worker(rank, world, store, jobs, out_dir):
    dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=world)
    torch.set_num_threads(1)
    for job in jobs:
        name, sp, accum, arch = job
        parallel_context.init(sp)
        model = _model(arch)
        mine = CASES[name][parallel_context.dp_rank::parallel_context.dp_size]
        micro = [mine[i::accum] for i in range(accum)]  # accumulation: split the rank's share
        batches = iter([default_collate_fn(m) for m in micro])
        total, logged = torch.zeros(()), []
        for batch in TokenCountingIterator(batches, accum, max_iters=accum):
            out = model(batch['data'], mode='loss')
            (out['loss'] / accum).backward()  # what OptimWrapper does with accumulation
            total += out['loss'].detach() / accum
            logged.append(out['loss_for_log'])
        dist.all_reduce(total)  # the ranks' shares add up to the global token mean
        for p in model.parameters():  # what DDP does: average over the world
            dist.all_reduce(p.grad)
            p.grad /= world
        if rank == 0:
            torch.save({'loss': total / world, 'logged': logged,
                        'grads': {n: p.grad for n, p in model.named_parameters()}},
                       os.path.join(out_dir, '-'.join(map(str, job)) + '.pt'))
    parallel_context.init(1)
    dist.destroy_process_group()


def _run(world, jobs):
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_worker, args=(world, os.path.join(tmp, 'store'), jobs, tmp), nprocs=world)
        return {job: torch.load(os.path.join(tmp, '-'.join(map(str, job)) + '.pt'))
                for job in jobs}


def _check(results):
    refs = {}
    checked = expected = 0
    for (name, sp, accum, arch), got in results.items():
        if (name, arch) not in refs:
            refs[name, arch] = _reference(CASES[name], arch)
        loss, grads = refs[name, arch]
        torch.testing.assert_close(got['loss'], loss, rtol=1e-5, atol=1e-6)
        if accum == 1:  # the logged value is the global batch's token mean
            torch.testing.assert_close(got['logged'][0], loss, rtol=1e-5, atol=1e-6)
        expected += len(grads)
        assert set(got['grads']) == set(grads)
        for n, g in grads.items():
            torch.testing.assert_close(got['grads'][n], g, rtol=1e-5, atol=1e-7,
                                       msg=f'{name} sp={sp} accum={accum} {arch}: {n}')
            checked += 1
    assert checked == expected > 0  # every parameter of every job was compared


@pytest.mark.slow
def test_two_processes_sp2_and_dp2_match_one_process():
    _check(_run(2, [('packed', 2, 1, 'llama'), ('unpacked_odd', 2, 1, 'llama'),
                    ('packed', 1, 1, 'llama'), ('packed', 2, 1, 'qwen2')]))


@pytest.mark.slow
def test_four_processes_sp4_and_sp2_dp2_match_one_process():
    # sp=4 > 2 KV heads: KV heads are repeated; sp=2 × dp=2 with accumulation 2 too
    _check(_run(4, [('packed', 4, 1, 'llama'), ('unpacked_odd', 4, 1, 'llama'),
                    ('packed', 2, 1, 'llama'), ('unpacked_odd', 2, 2, 'llama')]))


def test_accumulation_2x_b_equals_1x_2b():
    instances = CASES['unpacked_odd']
    _, ref = _reference(instances, 'llama')
    model = _model()
    batches = iter([default_collate_fn(instances[:2]), default_collate_fn(instances[2:])])
    for batch in TokenCountingIterator(batches, 2, max_iters=2):
        (model(batch['data'], mode='loss')['loss'] / 2).backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, ref[n], rtol=1e-5, atol=1e-7, msg=n)


def test_sp_that_cannot_split_the_heads_is_refused():
    from xtuner.model.attention import kv_repeats_for_sp
    assert kv_repeats_for_sp(4, 2, 4) == 2 and kv_repeats_for_sp(8, 8, 4) == 1
    with pytest.raises(ValueError, match='must divide the number of attention heads'):
        kv_repeats_for_sp(6, 2, 4)
