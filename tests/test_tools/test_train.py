"""``xtuner train`` end to end, as a user runs it: a subprocess per command."""
import glob
import json
import os

import pytest
import torch

from conftest import ROOT, losses, xtuner

TINY = 'tiny_llama_full_alpaca_demo'


@pytest.fixture(scope='module')
def full_run(tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('full'))
    r = xtuner('train', TINY, '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_iters=6',
               'default_hooks.checkpoint.interval=3')
    assert r.returncode == 0, r.stderr[-3000:]
    return work_dir, r


def test_train_logs_loss_tgs_tflops_and_loss_falls(full_run):
    work_dir, r = full_run
    log = r.stdout + r.stderr
    iters = [line for line in log.splitlines() if 'Iter(train)' in line]
    assert len(iters) == 6
    assert all('tokens_per_sec:' in line and 'tflops:' in line for line in iters)
    loss = losses(work_dir)
    assert sorted(loss) == [1, 2, 3, 4, 5, 6]
    assert loss[6] < loss[1] - 0.1
    assert os.path.isfile(os.path.join(work_dir, 'iter_6.pth'))


def test_resume_continues_with_the_same_losses(full_run, tmp_path):
    work_dir, _ = full_run
    first = xtuner('train', TINY, '--work-dir', str(tmp_path), '--cfg-options',
                   'train_cfg.max_iters=3', 'default_hooks.checkpoint.interval=3')
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = xtuner('train', TINY, '--work-dir', str(tmp_path), '--resume', '--cfg-options',
                     'train_cfg.max_iters=6', 'default_hooks.checkpoint.interval=3')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 0, iter: 3' in resumed.stdout + resumed.stderr
    assert losses(str(tmp_path)) == losses(work_dir)  # iterations 1-6, exactly


def test_pth_to_hf_exports_the_trained_weights(full_run, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig
    work_dir, _ = full_run
    ckpt = os.path.join(work_dir, 'iter_6.pth')
    out = str(tmp_path / 'hf')
    r = xtuner('convert', 'pth_to_hf', TINY, ckpt, out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert glob.glob(os.path.join(out, '*.safetensors'))
    exported = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer('hi').input_ids == [104, 105]
    # reference: the checkpoint's own tensors in a model built independently of xtuner
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    ref = AutoModelForCausalLM.from_config(LlamaConfig.from_pretrained(out))
    ref.load_state_dict({k[len('llm.'):]: v for k, v in state.items()})
    ids = torch.tensor([[256, 104, 105, 33, 10, 259]])
    with torch.no_grad():
        torch.testing.assert_close(exported(ids).logits, ref(ids).logits, rtol=0, atol=0)
    untrained = AutoModelForCausalLM.from_config(LlamaConfig.from_pretrained(out))
    assert not torch.equal(untrained.lm_head.weight, exported.lm_head.weight)


@pytest.mark.parametrize('args, message', [
    (['train', 'tiny_lama_full'], "unknown config 'tiny_lama_full'"),
    (['train', TINY, '--deepspeed', 'deepspeed_zero9'], "deepspeed_zero9"),
    (['train', TINY, '--cfg-options', 'optim_wrapper.optimizer.lrr=1'], "has no key 'lrr'"),
    (['train', TINY, '--cfg-options', 'train_dataloader.dataset.dataset.data_files=/no/d.jsonl'],
     "dataset file '/no/d.jsonl' does not exist"),
    (['train', TINY, '--resume', '/no/ckpt.pth'], 'no such checkpoint file'),
    (['convert', 'pth_to_hf', TINY, '/no/ckpt.pth', '/tmp/x'], 'no such checkpoint file'),
])
def test_bad_input_is_one_clear_line_before_any_work(args, message, tmp_path):
    r = xtuner(*args, '--work-dir', str(tmp_path / 'wd')) if args[0] == 'train' else xtuner(*args)
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if 'error' in line.lower()]
    assert len(errors) == 1 and message in errors[0], r.stderr[-2000:]
    assert not (tmp_path / 'wd').exists()  # nothing was started


def test_xtuner02_style_config_runs_on_cpu(tiny_llm_dir, tmp_path):
    data = tmp_path / 'alpaca.jsonl'
    rows = [{'instruction': f'Add {i} and {i}.', 'input': '', 'output': f'{i} + {i} = {2 * i}.'}
            for i in range(60)]
    data.write_text('\n'.join(json.dumps(row) for row in rows))
    template = open(os.path.join(ROOT, 'tests', 'data', 'xtuner02_style_config.py')).read()
    config = tmp_path / 'my_config.py'
    config.write_text(template.replace('MODEL_DIR', tiny_llm_dir).replace('DATA_FILE', str(data)))
    r = xtuner('train', str(config), '--work-dir', str(tmp_path / 'wd'))
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    warnings = [line for line in log.splitlines() if 'no GPU:' in line]
    assert len(warnings) == 1
    assert 'nccl -> gloo' in warnings[0] and 'AmpOptimWrapper(float16) -> OptimWrapper' in warnings[0]
    assert 'max_iters=' in log and 'Iter(train)' in log
    # 3% warm-up of a few iterations is less than one: skipped with a warning, not a crash
    assert 'LinearLR spans epochs 0..0.03, less than one of the' in log
    assert losses(str(tmp_path / 'wd'))


@pytest.mark.slow
def test_two_processes_train_with_gloo(tmp_path):
    r = xtuner('train', TINY, '--work-dir', str(tmp_path), '--cfg-options',
               'train_cfg.max_iters=3', env={'NPROC_PER_NODE': '2', 'PORT': '29611'})
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert 'Distributed launcher: pytorch' in log or 'launcher: pytorch' in log
    assert len(losses(str(tmp_path))) == 3


def test_copy_cfg_output_trains_unchanged(tmp_path):
    r = xtuner('copy-cfg', TINY, str(tmp_path))
    assert r.returncode == 0, r.stderr
    copy = tmp_path / f'{TINY}_copy.py'
    r = xtuner('train', str(copy), '--work-dir', str(tmp_path / 'wd'), '--cfg-options',
               'train_cfg.max_iters=2')
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(losses(str(tmp_path / 'wd'))) == [1, 2]


def test_slurm_env_maps_to_torch_env():
    from xtuner.tools.train import slurm_env
    env = {'SLURM_PROCID': '3', 'SLURM_NTASKS': '8', 'SLURM_LOCALID': '1',
           'SLURM_NODELIST': 'node7,node8'}
    assert slurm_env(env) == {'RANK': '3', 'WORLD_SIZE': '8', 'LOCAL_RANK': '1',
                              'MASTER_PORT': '29500', 'MASTER_ADDR': 'node7'}
