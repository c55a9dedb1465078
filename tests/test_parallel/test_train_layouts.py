"""``xtuner train`` on several processes logs the losses of one process on the same batches."""
import pytest

from conftest import losses, xtuner

TINY = 'tiny_llama_full_alpaca_demo'
ITERS = 'train_cfg.max_iters=3'


def _train(work_dir, *options, env=None):
    r = xtuner('train', TINY, '--work-dir', str(work_dir), '--cfg-options', ITERS, *options,
               env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout + r.stderr, losses(str(work_dir))


def _assert_same(got, ref):
    assert sorted(got) == sorted(ref) == [1, 2, 3]
    for it in ref:
        assert got[it] == pytest.approx(ref[it], rel=1e-4), it


@pytest.mark.slow
def test_sp2_on_two_processes_matches_one_process(tmp_path):
    _, ref = _train(tmp_path / 'one')
    log, got = _train(tmp_path / 'sp2', 'sequence_parallel_size=2',
                      env={'NPROC_PER_NODE': '2', 'PORT': '29621'})
    _assert_same(got, ref)


@pytest.mark.slow
def test_dp2_matches_one_process_with_twice_the_batch(tmp_path):
    _, ref = _train(tmp_path / 'one', 'train_dataloader.batch_size=2')
    _, got = _train(tmp_path / 'dp2', env={'NPROC_PER_NODE': '2', 'PORT': '29622'})
    _assert_same(got, ref)


def test_sp_without_processes_is_a_clear_error(tmp_path):
    r = xtuner('train', TINY, '--work-dir', str(tmp_path / 'wd'), '--cfg-options',
               'sequence_parallel_size=2')
    assert r.returncode == 2
    assert 'sequence_parallel_size=2 needs 2 or more processes: run NPROC_PER_NODE=2' in r.stderr
