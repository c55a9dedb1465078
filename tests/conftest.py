"""Shared fixtures: tiny models and tokenizers the project makes itself (no download),
and helpers that run ``xtuner`` as a user does."""
import glob
import json
import os
import subprocess
import sys

import pytest
import torch

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('HF_DATASETS_OFFLINE', '1')
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')

TINY_LLAMA = dict(vocab_size=261, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                  bos_token_id=256, eos_token_id=257, pad_token_id=258)


@pytest.fixture(autouse=True)
def _reset_global_state():
    dtype = torch.get_default_dtype()
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(dtype)


@pytest.fixture
def byte_tokenizer():
    from xtuner.utils.byte_tokenizer import build_byte_tokenizer
    return build_byte_tokenizer()


def tiny_llama(**overrides):
    from transformers import AutoModelForCausalLM, LlamaConfig
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(LlamaConfig(**{**TINY_LLAMA, **overrides}))


@pytest.fixture
def make_tiny_llama():
    """A factory of tiny random Llamas (seeded): ``make_tiny_llama(num_hidden_layers=3)``."""
    return tiny_llama


@pytest.fixture(scope='session')
def tiny_llm_dir(tmp_path_factory):
    """A tiny random Llama saved as a HF model dir, with the byte tokenizer beside it."""
    from xtuner.utils.byte_tokenizer import build_byte_tokenizer
    path = tmp_path_factory.mktemp('tiny_llama')
    tiny_llama().save_pretrained(path)
    build_byte_tokenizer().save_pretrained(path)
    return str(path)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def xtuner(*args, env=None):
    return subprocess.run([sys.executable, '-m', 'xtuner.entry_point', *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=600)


def losses(work_dir):
    """Iteration → logged loss, from every run's scalars.json in the work dir."""
    out = {}
    for path in sorted(glob.glob(os.path.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        for line in open(path):
            row = json.loads(line)
            if 'loss' in row:
                out[row['iter']] = row['loss']
    return out
