"""LoRA and QLoRA: adapter-sized checkpoints that resume, adapter export, 4-bit on CPU."""
import glob
import importlib.util
import os

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, losses, xtuner

TINY = os.path.join(ROOT, 'xtuner', 'configs', 'tiny', 'tiny_llama_full_alpaca_demo.py')
LORA = """    lora=dict(type=LoraConfig, r=8, lora_alpha=16, lora_dropout=0.0, bias='none',
              task_type='CAUSAL_LM'),
"""
QUANT = """        quantization_config=dict(type=BitsAndBytesConfig, load_in_4bit=True,
                                 bnb_4bit_quant_type='nf4', bnb_4bit_use_double_quant=True,
                                 bnb_4bit_compute_dtype=torch.float16),
"""


def _config(tmp_path, model_dir, quantized=False):
    """The tiny demo config, edited as a user would: a pretrained base and a LoRA adapter."""
    text = open(TINY).read()
    start = text.index('    llm=dict(\n        type=AutoModelForCausalLM.from_config')
    end = text.index('pad_token_id=258)))') + len('pad_token_id=258)))')
    llm = (f"    llm=dict(type=AutoModelForCausalLM.from_pretrained,\n"
           f"             pretrained_model_name_or_path={model_dir!r},\n"
           + (QUANT if quantized else '') + '             ),\n' + LORA + ')')
    text = text[:start] + llm + text[end:]
    text = text.replace('from transformers import AutoModelForCausalLM, LlamaConfig',
                        'import torch\nfrom peft import LoraConfig\n'
                        'from transformers import AutoModelForCausalLM, BitsAndBytesConfig')
    path = tmp_path / ('qlora.py' if quantized else 'lora.py')
    path.write_text(text)
    return str(path)


@pytest.mark.slow
def test_lora_checkpoint_holds_the_adapter_resumes_and_exports(tiny_llm_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    cfg = _config(tmp_path, tiny_llm_dir)
    opts = ['--cfg-options', 'default_hooks.checkpoint.interval=2']
    full = xtuner('train', cfg, '--work-dir', str(tmp_path / 'full'), *opts,
                  'train_cfg.max_iters=4')
    assert full.returncode == 0, full.stderr[-3000:]
    ckpt = torch.load(tmp_path / 'full' / 'iter_4.pth', weights_only=False)['state_dict']
    assert ckpt and all('lora_' in k for k in ckpt)  # the adapter only: 2 layers × 7 × A, B
    assert len(ckpt) == 2 * 7 * 2

    part = xtuner('train', cfg, '--work-dir', str(tmp_path / 'part'), *opts,
                  'train_cfg.max_iters=2')
    assert part.returncode == 0, part.stderr[-3000:]
    resumed = xtuner('train', cfg, '--work-dir', str(tmp_path / 'part'), '--resume', *opts,
                     'train_cfg.max_iters=4')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'missing keys' not in resumed.stdout + resumed.stderr
    assert losses(str(tmp_path / 'part')) == losses(str(tmp_path / 'full'))

    out = tmp_path / 'adapter'
    r = xtuner('convert', 'pth_to_hf', cfg, str(tmp_path / 'full' / 'iter_4.pth'), str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / 'adapter_config.json').exists() and not glob.glob(str(out / 'model*.safetensors'))
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llm_dir), out)
    exported = {k: v for k, v in model.state_dict().items() if 'lora_' in k}
    assert len(exported) == len(ckpt)
    for key, value in ckpt.items():  # llm.base_model.model.X == base_model.model.X
        torch.testing.assert_close(exported[key[len('llm.'):]], value)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec('bitsandbytes') is None,
                    reason='QLoRA needs bitsandbytes (pip install -e ".[qlora]")')
def test_qlora_trains_on_cpu(tiny_llm_dir, tmp_path):
    cfg = _config(tmp_path, tiny_llm_dir, quantized=True)
    r = xtuner('train', cfg, '--work-dir', str(tmp_path / 'wd'), '--cfg-options',
               'train_cfg.max_iters=6')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'bnb_4bit_compute_dtype float16 -> float32' in r.stdout + r.stderr
    loss = losses(str(tmp_path / 'wd'))
    assert sorted(loss) == list(range(1, 7)) and loss[6] < loss[1]


def test_every_shipped_config_parses_and_names_its_parts():
    from xtuner.configs import config_name_paths
    paths = config_name_paths()
    assert len(paths) >= 4
    for name, path in paths.items():
        cfg = Config.fromfile(path)
        assert callable(cfg.model.type) and callable(cfg.train_dataloader.dataset.type), name
        assert cfg.train_cfg.max_iters > 0 or cfg.train_cfg.max_epochs > 0, name
