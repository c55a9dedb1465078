"""xtuner's attention function against transformers' own attention."""
from unittest import mock

import pytest
import torch
from transformers import (AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config,
                          Qwen3Config)

from xtuner.dataset.collate_fns import default_collate_fn
from xtuner.model import SupervisedFinetune, attention
from xtuner.utils import IGNORE_INDEX

BASE = dict(vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            bos_token_id=1, eos_token_id=2, pad_token_id=0)


def _pair(config):
    """The same weights twice: one with HF's eager attention, one with xtuner's."""
    torch.manual_seed(0)
    ref = AutoModelForCausalLM.from_config(config, attn_implementation='eager')
    ours = SupervisedFinetune(AutoModelForCausalLM.from_config(config),
                              use_activation_checkpointing=False)
    ours.llm.load_state_dict(ref.state_dict())
    return ref, ours


def _ids(n, seed=0):
    return torch.randint(3, 97, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


@pytest.mark.parametrize('config', [
    LlamaConfig(**BASE),
    MistralConfig(**BASE, sliding_window=None),
    Qwen2Config(**BASE),
    Qwen3Config(**BASE, head_dim=8),
    # sliding window of 5 tokens on every layer: a 12-token sample must use it
    Qwen2Config(**BASE, use_sliding_window=True, sliding_window=5, max_window_layers=0,
                layer_types=['sliding_attention'] * 2),
], ids=['llama', 'mistral', 'qwen2', 'qwen3', 'qwen2_sliding_window'])
def test_matches_transformers_attention_on_each_sample(config):
    ref, ours = _pair(config)
    assert ours.llm.config._attn_implementation == attention.ATTN_IMPLEMENTATION
    samples = [_ids(12, 1), _ids(7, 2)]
    packed = default_collate_fn([{'input_ids': sum(samples, []),
                                  'labels': [IGNORE_INDEX] * 19,
                                  'cumulative_len': [0, 12, 19]}])['data']
    logits = ours(packed, mode='tensor')[0]
    with torch.no_grad():
        expected = torch.cat([ref(torch.tensor([s])).logits[0] for s in samples])
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)


def test_sliding_window_changes_the_result():
    """Guards the test above: the window is really applied (12 tokens > window 5)."""
    cfg = dict(BASE, use_sliding_window=True, sliding_window=5, max_window_layers=0,
               layer_types=['sliding_attention'] * 2)
    _, windowed = _pair(Qwen2Config(**cfg))
    _, full = _pair(Qwen2Config(**BASE))
    data = default_collate_fn([{'input_ids': _ids(12), 'labels': [IGNORE_INDEX] * 12}])['data']
    a, b = windowed(data, mode='tensor'), full(data, mode='tensor')
    torch.testing.assert_close(a[0, :5], b[0, :5])  # inside the window: identical
    assert not torch.allclose(a[0, 5:], b[0, 5:])


def test_generation_with_kv_cache_matches_transformers():
    ref, ours = _pair(LlamaConfig(**BASE))
    prompt = torch.tensor([_ids(6)])
    ours.llm.config.use_cache = True
    kwargs = dict(max_new_tokens=8, do_sample=False, pad_token_id=0)
    assert torch.equal(ours.llm.generate(prompt, **kwargs), ref.generate(prompt, **kwargs))


def test_backend_choice():
    assert attention.select_backend('auto', 'cpu') == 'sdpa'
    assert attention.select_backend('sdpa', 'cuda') == 'sdpa'
    with pytest.raises(ValueError, match="attention backend 'flash': choose one of auto, "):
        attention.select_backend('flash')


def test_backend_is_named_in_the_log():
    _, ours = _pair(LlamaConfig(**BASE))
    attention._state['logged'] = None
    data = default_collate_fn([{'input_ids': _ids(5), 'labels': _ids(5)}])['data']
    with mock.patch('xtuner.model.attention.print_log') as print_log:
        ours(data, mode='tensor')
        ours(data, mode='tensor')
    assert [c.args[0] for c in print_log.call_args_list] == ['attention backend: sdpa']


@pytest.mark.skipif(not torch.cuda.is_available(), reason='GPU backends need a GPU')
@pytest.mark.parametrize('backend', ['flash_attn', 'torch_varlen'])
def test_gpu_backends_match_sdpa_in_bf16(backend):
    if backend == 'flash_attn':
        pytest.importorskip('flash_attn')
    torch.manual_seed(0)
    q = torch.randn(4, 300, 64, device='cuda', dtype=torch.bfloat16)
    k, v = torch.randn(2, 2, 300, 64, device='cuda', dtype=torch.bfloat16).unbind(0)
    cu = torch.tensor([0, 100, 250, 300], device='cuda')
    out = attention._RUN[backend](q, k, v, cu, 64 ** -0.5, None)
    ref = attention._sdpa(q, k, v, cu, 64 ** -0.5, None)
    torch.testing.assert_close(out, ref, rtol=2e-2, atol=2e-2)
