"""SupervisedFinetune: the loss is the token mean, and packing does not change it."""
import pytest
import torch
import torch.nn.functional as F

from xtuner.dataset.collate_fns import default_collate_fn
from xtuner.model import SupervisedFinetune
from xtuner.utils import IGNORE_INDEX


def _samples():
    g = torch.Generator().manual_seed(1)
    out = []
    for n in (7, 12, 4):
        ids = torch.randint(0, 256, (n,), generator=g).tolist()
        out.append({'input_ids': ids, 'labels': [IGNORE_INDEX] * 2 + ids[2:]})
    return out


def _pack(samples):
    ids, labels, cu = [], [], [0]
    for s in samples:
        ids += s['input_ids']
        labels += s['labels']
        cu.append(len(ids))
    return {'input_ids': ids, 'labels': labels, 'cumulative_len': cu}


def test_loss_is_mean_over_trained_tokens(make_tiny_llama):
    model = SupervisedFinetune(make_tiny_llama(), use_activation_checkpointing=False)
    data = default_collate_fn([_pack(_samples())])['data']
    loss = model(data, mode='loss')['loss']
    logits = model(data, mode='tensor')
    ref = F.cross_entropy(logits[0], data['labels'][0], ignore_index=IGNORE_INDEX)
    torch.testing.assert_close(loss, ref)
    # 3 samples of n tokens, the first 2 masked: n - 2 targets each after the in-sample shift
    assert int((data['labels'] != IGNORE_INDEX).sum()) == (7 - 2) + (12 - 2) + (4 - 2)


@pytest.mark.parametrize('checkpointing', [False, True])
@pytest.mark.parametrize('arch', ['llama', 'qwen2'])
def test_packed_row_equals_samples_one_by_one(checkpointing, arch, make_tiny_llama):
    """Logits, loss and every gradient: a packed row == its samples run one by one
    (xtuner attention, SDPA per sample: the CPU backend)."""
    if arch == 'llama':
        llm = make_tiny_llama()
    else:
        from transformers import AutoModelForCausalLM, Qwen2Config

        from conftest import TINY_LLAMA
        torch.manual_seed(0)
        llm = AutoModelForCausalLM.from_config(Qwen2Config(**TINY_LLAMA))
    model = SupervisedFinetune(llm, use_activation_checkpointing=checkpointing)
    assert getattr(model.llm, 'is_activation_checkpointing',
                   model.llm.is_gradient_checkpointing) == checkpointing
    model.train()
    samples = _samples()
    packed = default_collate_fn([_pack(samples)])['data']
    logits = model(packed, mode='tensor')
    loss = model(packed, mode='loss')['loss']
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()

    total, count, ref_logits = 0.0, 0, []
    for s in samples:
        data = default_collate_fn([s])['data']
        ref_logits.append(model(data, mode='tensor')[0])
        n = int((data['labels'] != IGNORE_INDEX).sum())
        total = total + model(data, mode='loss')['loss'] * n
        count += n
    (total / count).backward()
    torch.testing.assert_close(logits[0], torch.cat(ref_logits), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(loss, total / count, rtol=1e-5, atol=1e-6)
    for n, p in model.named_parameters():
        torch.testing.assert_close(grads[n], p.grad, rtol=1e-5, atol=1e-7, msg=n)


def test_padded_batch_equals_unpadded_rows(make_tiny_llama):
    model = SupervisedFinetune(make_tiny_llama(), use_activation_checkpointing=False)
    a, b = _samples()[:2]
    both = model(default_collate_fn([a, b])['data'], mode='tensor')
    alone = model(default_collate_fn([a])['data'], mode='tensor')
    torch.testing.assert_close(both[0, :len(a['input_ids'])], alone[0], rtol=1e-5, atol=1e-6)


def test_builds_llm_from_nested_configs_and_grows_vocab(byte_tokenizer):
    from transformers import AutoModelForCausalLM, LlamaConfig

    from conftest import TINY_LLAMA
    cfg = dict(type=AutoModelForCausalLM.from_config,
               config=dict(type=LlamaConfig, **{**TINY_LLAMA, 'vocab_size': 200, 'pad_token_id': 0,
                                                'bos_token_id': 1, 'eos_token_id': 2}))
    model = SupervisedFinetune(cfg, tokenizer=byte_tokenizer, use_activation_checkpointing=False)
    assert model.llm.get_input_embeddings().weight.shape[0] == len(byte_tokenizer) == 261
    assert model.llm.config.use_cache is False


def test_max_position_embeddings_scales_rope(tiny_llm_dir):
    from transformers import AutoModelForCausalLM
    cfg = dict(type=AutoModelForCausalLM.from_pretrained,
               pretrained_model_name_or_path=tiny_llm_dir)
    model = SupervisedFinetune(cfg, max_position_embeddings=2048,
                               use_activation_checkpointing=False)
    config = model.llm.config
    assert config.max_position_embeddings == 2048
    rope = getattr(config, 'rope_parameters', None) or config.rope_scaling
    assert rope['rope_type' if 'rope_type' in rope else 'type'] == 'linear'
    assert rope['factor'] == 4.0


def test_lora_with_checkpointing_gives_the_same_adapter_gradients(make_tiny_llama):
    """peft + activation checkpointing + xtuner attention: same loss and LoRA gradients as
    without recompute, on a packed row."""
    from peft import LoraConfig
    grads, losses = [], []
    for checkpointing in (False, True):
        lora = LoraConfig(r=4, lora_alpha=8, init_lora_weights=False, task_type='CAUSAL_LM')
        model = SupervisedFinetune(make_tiny_llama(), lora=lora,
                                   use_activation_checkpointing=checkpointing)
        base = model.llm.get_base_model()
        assert getattr(base, 'is_activation_checkpointing',
                       base.is_gradient_checkpointing) == checkpointing
        model.train()
        torch.manual_seed(1)
        for p in model.parameters():  # identical adapter weights in both models
            if p.requires_grad:
                torch.nn.init.normal_(p, std=0.02)
        loss = model(default_collate_fn([_pack(_samples())])['data'], mode='loss')['loss']
        loss.backward()
        losses.append(loss.detach())
        grads.append({n: p.grad for n, p in model.named_parameters() if p.requires_grad})
    assert grads[0] and set(grads[0]) == set(grads[1])
    assert all('lora_' in n for n in grads[0])
    torch.testing.assert_close(losses[0], losses[1])
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], rtol=1e-5, atol=1e-7, msg=n)
