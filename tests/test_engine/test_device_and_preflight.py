"""Config checks before any work, and GPU-only settings adapted on a CPU machine."""
import pytest
import torch
from mmengine.config import Config

from xtuner.engine.device import adapt_cfg_to_device
from xtuner.engine.preflight import check_cfg_options, check_data_files
from xtuner.tools.errors import XTunerUserError


def _cfg(**extra):
    return Config(dict(
        model=dict(type='SupervisedFinetune', llm=dict(type='x', torch_dtype=torch.float16)),
        optim_wrapper=dict(type='AmpOptimWrapper', optimizer=dict(type='AdamW', lr=1e-4),
                           loss_scale='dynamic', dtype='float16'),
        env_cfg=dict(dist_cfg=dict(backend='nccl')),
        custom_hooks=[dict(type='H', every_n_iters=5)], **extra))


def test_xtuner02_gpu_settings_become_cpu_settings():
    cfg = _cfg()
    changes = adapt_cfg_to_device(cfg, has_cuda=False)
    assert changes == ['dist backend nccl -> gloo',
                       'AmpOptimWrapper(float16) -> OptimWrapper (fp32)',
                       'model.llm.torch_dtype float16 -> float32']
    assert cfg.optim_wrapper.to_dict() == dict(type='OptimWrapper',
                                               optimizer=dict(type='AdamW', lr=1e-4))
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model.llm.torch_dtype is torch.float32
    assert adapt_cfg_to_device(_cfg(), has_cuda=True) == []


def test_cfg_options_keys_must_exist():
    cfg = _cfg()
    check_cfg_options(cfg, {'optim_wrapper.optimizer.lr': 1e-3, 'custom_hooks.0.every_n_iters': 2})
    with pytest.raises(XTunerUserError, match=r"optim_wrapper.optimizer has no key 'lrr'; "
                                              r'did you mean lr\?'):
        check_cfg_options(cfg, {'optim_wrapper.optimizer.lrr': 1e-3})
    with pytest.raises(XTunerUserError, match=r"the config has no key 'modle'"):
        check_cfg_options(cfg, {'modle.llm': 1})


def test_missing_data_file_names_the_setting(tmp_path):
    good = tmp_path / 'a.jsonl'
    good.write_text('{}\n')
    ok = Config(dict(d=dict(dataset=dict(type='load_dataset', path='json', data_files=str(good)))))
    check_data_files(ok)
    hub = Config(dict(d=dict(dataset=dict(type='load_dataset', path='tatsu-lab/alpaca'))))
    check_data_files(hub)  # a hub name is not a local file
    bad = Config(dict(d=dict(dataset=dict(type='load_dataset', path='json',
                                          data_files=[str(good), '/no/such.jsonl']))))
    with pytest.raises(XTunerUserError, match=r"d.dataset.data_files: dataset file "
                                              r"'/no/such.jsonl' does not exist"):
        check_data_files(bad)
