"""ThroughputHook: FLOPs equal a hand count; TGS counts real tokens; values land in the log."""
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from mmengine.logging import MessageHub

from xtuner.dataset.collate_fns import default_collate_fn
from xtuner.engine.hooks import ThroughputHook
from xtuner.engine.hooks.throughput_hook import matmul_params, model_flops
from xtuner.model import SupervisedFinetune


def test_matmul_params_hand_count(make_tiny_llama):
    llm = make_tiny_llama()  # h=32, heads 4 (d=8), kv 2, ffn 64, 2 layers, vocab 261
    h, kv_dim, ffn, layers, vocab = 32, 2 * 8, 64, 2, 261
    per_layer = h * h + 2 * h * kv_dim + h * h + 3 * h * ffn  # q, k+v, o, gate/up/down
    assert matmul_params(llm) == layers * per_layer + h * vocab


def test_model_flops_hand_count():
    # 1000 matmul weights, 2 layers, attention width 8, a pack of samples of 3 and 5 tokens
    dense = 2 * 1000 * 8
    attn = 2 * 2 * 8 * (3 * 3 + 5 * 5)  # per sample, not (3 + 5) ** 2
    assert model_flops(1000, 2, 8, [3, 5]) == 3 * (dense + attn)


def test_hook_logs_tgs_and_tflops_per_iteration(make_tiny_llama):
    model = SupervisedFinetune(make_tiny_llama(), use_activation_checkpointing=False)
    hub = MessageHub.get_instance('test_throughput')
    runner = SimpleNamespace(model=model, message_hub=hub)
    batch = default_collate_fn([
        {'input_ids': [1] * 5, 'labels': [1] * 5, 'cumulative_len': [0, 2, 5]},
        {'input_ids': [1] * 3, 'labels': [1] * 3},
    ])
    hook = ThroughputHook()
    hook.before_train(runner)
    with mock.patch('xtuner.engine.hooks.throughput_hook.time.perf_counter',
                    side_effect=[10.0, 12.0]):
        hook.before_train_iter(runner, 0, batch)
        hook.after_train_iter(runner, 0, batch)
    assert hub.get_scalar('train/tokens_per_sec').current() == pytest.approx(8 / 2.0)
    flops = model_flops(matmul_params(model.llm), 2, 32, [2, 3, 3])
    assert hub.get_scalar('train/tflops').current() == pytest.approx(flops / 2.0 / 1e12)


def test_sp_ranks_share_tokens_and_flops(make_tiny_llama):
    from xtuner.parallel import parallel_context
    model = SupervisedFinetune(make_tiny_llama(), use_activation_checkpointing=False)
    hub = MessageHub.get_instance('test_throughput_sp')
    runner = SimpleNamespace(model=model, message_hub=hub)
    batch = default_collate_fn([{'input_ids': [1] * 8, 'labels': [1] * 8}], sp_size=1)
    hook = ThroughputHook()
    hook.before_train(runner)
    with mock.patch.object(parallel_context, 'sp_size', 2), mock.patch(
            'xtuner.engine.hooks.throughput_hook.time.perf_counter', side_effect=[0.0, 1.0]):
        hook.before_train_iter(runner, 0, batch)
        hook.after_train_iter(runner, 0, batch)
    assert hub.get_scalar('train/tokens_per_sec').current() == pytest.approx(4.0)
    flops = model_flops(matmul_params(model.llm), 2, 32, [8])
    assert hub.get_scalar('train/tflops').current() == pytest.approx(flops / 2 / 1e12)


def test_device_peak_table_and_mfu(make_tiny_llama):
    from xtuner.engine.hooks.throughput_hook import device_peak_tflops
    assert device_peak_tflops('NVIDIA H100 80GB HBM3') == 989.0
    assert device_peak_tflops('NVIDIA A100-SXM4-80GB') == 312.0
    assert device_peak_tflops('NVIDIA A10') == 125.0
    assert device_peak_tflops('AMD EPYC') is None
    model = SupervisedFinetune(make_tiny_llama(), use_activation_checkpointing=False)
    hub = MessageHub.get_instance('test_throughput_mfu')
    runner = SimpleNamespace(model=model, message_hub=hub)
    batch = default_collate_fn([{'input_ids': [1] * 8, 'labels': [1] * 8}])
    hook = ThroughputHook(peak_tflops=2e-6)
    hook.before_train(runner)
    with mock.patch('xtuner.engine.hooks.throughput_hook.time.perf_counter',
                    side_effect=[0.0, 1.0]):
        hook.before_train_iter(runner, 0, batch)
        hook.after_train_iter(runner, 0, batch)
    tflops = hub.get_scalar('train/tflops').current()
    assert hub.get_scalar('train/mfu').current() == pytest.approx(tflops / 2e-6)
