"""`xtuner convert merge` (LoRA folded into its base) and `xtuner convert split` (re-sharding).

Merged logits are compared with base + adapter run by peft; re-sharded weights with the source.
"""
import filecmp
import json
import os
import os.path as osp

import pytest
import torch
from conftest import xtuner
from safetensors import safe_open

from xtuner.tools.convert import split as split_tool
from xtuner.tools.errors import XTunerUserError

LINEAR = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']
IDS = torch.tensor([[256, 72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100, 257]])


def load(path):
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


@torch.no_grad()
def logits(model):
    return model(IDS).logits


def shard_tensors(out):
    """Shard file -> {name: tensor} for every safetensors file in ``out``."""
    shards = {}
    for name in sorted(os.listdir(out)):
        if name.endswith('.safetensors'):
            with safe_open(osp.join(out, name), framework='pt') as f:
                shards[name] = {k: f.get_tensor(k) for k in f.keys()}
    return shards


def one_line_error(result, command):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith(f'xtuner {command}: error: '), lines
    return lines[0]


@pytest.fixture(scope='module')
def adapter_dir(tiny_llm_dir, tmp_path_factory):
    """A LoRA adapter on the tiny Llama with random (non-zero) A and B, and its own tokenizer
    whose chat template differs from the base's (so the merge must take the adapter's)."""
    from peft import LoraConfig, get_peft_model

    from xtuner.utils.byte_tokenizer import build_byte_tokenizer
    torch.manual_seed(1)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=LINEAR, init_lora_weights=False)
    peft_model = get_peft_model(load(tiny_llm_dir), cfg)
    path = tmp_path_factory.mktemp('adapter')
    peft_model.save_pretrained(path)
    tokenizer = build_byte_tokenizer()
    tokenizer.chat_template = 'ADAPTER {{ messages[0]["content"] }}'
    tokenizer.save_pretrained(path)
    return str(path)


def test_merge_equals_base_plus_adapter(tiny_llm_dir, adapter_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoTokenizer
    out = str(tmp_path / 'merged')
    result = xtuner('convert', 'merge', tiny_llm_dir, adapter_dir, out, '--dtype', 'fp32')
    assert result.returncode == 0, result.stderr
    assert out in result.stdout

    base_logits = logits(load(tiny_llm_dir))
    reference = logits(PeftModel.from_pretrained(load(tiny_llm_dir), adapter_dir).eval())
    assert (reference - base_logits).abs().max() > 1e-2  # the adapter changes the model
    merged = load(out)
    assert not any('lora' in k for k in merged.state_dict())  # a plain model, no peft layers
    torch.testing.assert_close(logits(merged), reference, rtol=1e-5, atol=1e-5)

    assert not osp.exists(osp.join(out, 'adapter_config.json'))
    assert {'config.json', 'generation_config.json', 'tokenizer.json'} <= set(os.listdir(out))
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer('Hello')['input_ids'] == [72, 101, 108, 108, 111]
    assert tokenizer.chat_template.startswith('ADAPTER ')  # the adapter's, not the base's


def test_merge_refuses_adapter_without_config(tiny_llm_dir, tmp_path):
    out = tmp_path / 'out'
    line = one_line_error(xtuner('convert', 'merge', tiny_llm_dir, tiny_llm_dir, str(out)),
                          'convert merge')
    assert 'no adapter_config.json' in line and 'full model' in line
    (tmp_path / 'empty').mkdir()
    line = one_line_error(xtuner('convert', 'merge', tiny_llm_dir, str(tmp_path / 'empty'),
                                 str(out)), 'convert merge')
    assert 'no adapter_config.json' in line
    line = one_line_error(xtuner('convert', 'merge', str(tmp_path / 'nope'), str(tmp_path),
                                 str(out)), 'convert merge')
    assert 'nope: no such directory' in line
    assert not out.exists()


@pytest.mark.parametrize('command', ['merge', 'split'])
def test_refuses_non_empty_out(command, tiny_llm_dir, adapter_dir, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    args = [tiny_llm_dir, adapter_dir] if command == 'merge' else [tiny_llm_dir]
    line = one_line_error(xtuner('convert', command, *args, str(out)), f'convert {command}')
    assert '--force' in line
    assert os.listdir(out) == ['notes.txt'] and (out / 'notes.txt').read_text() == 'mine'


def test_parse_size():
    assert split_tool.parse_size('500MB') == 500 * 10**6
    assert split_tool.parse_size('2GB') == 2 * 10**9
    assert split_tool.parse_size('1.5GiB') == 3 * 2**29
    assert split_tool.parse_size('200KB') == 200_000
    assert split_tool.parse_size('3kib') == 3072
    assert split_tool.parse_size('4096') == 4096
    for bad in ('abc', '0MB', '-1GB', '5GBs', ''):
        with pytest.raises(XTunerUserError, match='bad size'):
            split_tool.parse_size(bad)


def test_plan_shards_fills_in_order():
    entries = [('a', 4), ('b', 4), ('c', 3), ('big', 20), ('d', 10), ('e', 1)]
    assert split_tool.plan_shards(entries, 10) == [['a', 'b'], ['c'], ['big'], ['d'], ['e']]
    assert split_tool.plan_shards(entries, 100) == [['a', 'b', 'c', 'big', 'd', 'e']]


def test_split_into_shards(tiny_llm_dir, tmp_path):
    out, limit = str(tmp_path / 'split'), 40_000
    result = xtuner('convert', 'split', tiny_llm_dir, out, '--max-shard-size', '40KB')
    assert result.returncode == 0, result.stderr
    assert out in result.stdout

    (source,) = shard_tensors(tiny_llm_dir).values()  # the source is one model.safetensors
    shards = shard_tensors(out)
    n = len(shards)
    assert n >= 3 and list(shards) == [f'model-{i:05d}-of-{n:05d}.safetensors'
                                       for i in range(1, n + 1)]
    sizes = [sum(t.nbytes for t in tensors.values()) for tensors in shards.values()]
    assert all(size <= limit for size in sizes[:-1])
    with open(osp.join(out, 'model.safetensors.index.json')) as f:
        index = json.load(f)
    assert index['metadata']['total_size'] == sum(sizes) == sum(t.nbytes for t in source.values())
    assert index['weight_map'] == {k: name for name, ts in shards.items() for k in ts}
    assert sorted(index['weight_map']) == sorted(source)  # every tensor, each once
    for tensors in shards.values():
        for key, tensor in tensors.items():
            assert torch.equal(tensor, source[key]), key

    for name in os.listdir(tiny_llm_dir):  # every other file copied unchanged
        if name != 'model.safetensors':
            assert filecmp.cmp(osp.join(tiny_llm_dir, name), osp.join(out, name), shallow=False)
    want = load(tiny_llm_dir).state_dict()
    got = load(out).state_dict()
    assert got.keys() == want.keys()
    for key in want:
        assert torch.equal(got[key], want[key]), key


@pytest.mark.parametrize('source_format', ['safetensors', 'bin'])
def test_split_keeps_tied_embeddings(source_format, make_tiny_llama, tmp_path, capsys):
    model = make_tiny_llama(tie_word_embeddings=True).eval()
    src, out = tmp_path / 'src', str(tmp_path / 'out')
    if source_format == 'safetensors':  # a sharded source: 6 shards in, fewer out
        model.save_pretrained(src, max_shard_size='20KB')
        assert len(shard_tensors(src)) == 6
    else:  # a torch.save state dict: lm_head.weight and embed_tokens.weight share storage
        src.mkdir()
        model.config.save_pretrained(src)
        state = model.state_dict()
        assert state['lm_head.weight'].data_ptr() == state['model.embed_tokens.weight'].data_ptr()
        torch.save(state, src / 'pytorch_model.bin')
    assert split_tool.main([str(src), out, '--max-shard-size', '60KB']) == 0
    assert out in capsys.readouterr().out

    stored = [k for tensors in shard_tensors(out).values() for k in tensors]
    assert len(stored) == len(set(stored)) == len(model.state_dict()) - 1
    assert 'lm_head.weight' not in stored and 'model.embed_tokens.weight' in stored
    assert not any(n.endswith('.bin') for n in os.listdir(out))
    loaded = load(out)
    assert loaded.lm_head.weight.data_ptr() == loaded.model.embed_tokens.weight.data_ptr()
    torch.testing.assert_close(logits(loaded), logits(model), rtol=0, atol=0)


def test_split_refuses_dir_without_weights(tiny_llm_dir, tmp_path):
    with pytest.raises(XTunerUserError, match='no model weights'):
        split_tool.main([str(tmp_path), str(tmp_path / 'out')])
    with pytest.raises(XTunerUserError, match='bad size'):
        split_tool.main([tiny_llm_dir, str(tmp_path / 'out'), '--max-shard-size', '2 gigs'])
    assert not (tmp_path / 'out').exists()
