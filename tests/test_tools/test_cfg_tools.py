"""Config resolver (xtuner.configs), `xtuner list-cfg` and `xtuner copy-cfg` on a tmp tree."""
import os

import pytest

import xtuner.configs as configs
from xtuner.configs import (config_name_paths, list_configs, resolve_config,
                            resolve_deepspeed)
from xtuner.entry_point import dispatch
from xtuner.tools import copy_cfg, list_cfg
from xtuner.tools.errors import XTunerUserError

LEAVES = {
    'llama_speed_benchmark/llama2_7b/llama2_7b_full_alpaca_enzh_32k_sp1.py': 'sp = 1\n',
    'llama_speed_benchmark/yi_34b/yi_34b_full_alpaca_enzh_32k_sp2.py': 'sp = 2\n',
    'smollm2/smollm2_135m_full_demo.py': b'# caf\xc3\xa9\r\nlr = 1e-4\r\n',  # bytes kept as is
    'smollm2/smollm2_135m_lora_demo.py': 'lr = 2e-4\n',
}
NOT_CONFIGS = ['__init__.py', '_base_/models/smollm2_base.py', 'smollm2/_helper.py',
               '.ipynb_checkpoints/stale.py', 'deepspeed/readme.txt', 'smollm2/notes.md']
NAMES = ['llama2_7b_full_alpaca_enzh_32k_sp1', 'smollm2_135m_full_demo',
         'smollm2_135m_lora_demo', 'yi_34b_full_alpaca_enzh_32k_sp2']


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


@pytest.fixture
def tree(tmp_path, monkeypatch):
    root = tmp_path / 'configs'
    for rel, text in LEAVES.items():
        _write(root / rel, text)
    for rel in NOT_CONFIGS:
        _write(root / rel, 'x = 0\n')
    for name in ('deepspeed_zero2', 'deepspeed_zero3'):
        _write(root / 'deepspeed' / f'{name}.json', '{}\n')
    monkeypatch.setattr(configs, 'CONFIGS_ROOT', str(root))  # the default root of every call
    return root


def test_names_skip_base_parts_and_hidden(tree):
    assert list_configs(root=str(tree)) == NAMES
    expected = {os.path.basename(rel)[:-3]: str(tree / rel) for rel in LEAVES}
    assert config_name_paths() == expected
    # the XTuner 0.2 name, built on access from the default root
    assert configs.cfgs_name_path == expected
    from xtuner.configs import cfgs_name_path
    assert cfgs_name_path == expected


@pytest.mark.parametrize('pattern, names', [
    ('SMOLLM2', NAMES[1:3]),
    ('*sp?', [NAMES[0], NAMES[3]]),
    ('smollm2_*_lora_*', [NAMES[2]]),
    ('alpaca_enzh', [NAMES[0], NAMES[3]]),
    ('no_such', []),
])
def test_list_configs_pattern(tree, pattern, names):
    assert list_configs(pattern) == names


def test_resolve_config_name_and_path(tree, tmp_path, monkeypatch):
    leaf = 'llama_speed_benchmark/llama2_7b/llama2_7b_full_alpaca_enzh_32k_sp1.py'
    assert resolve_config('llama2_7b_full_alpaca_enzh_32k_sp1') == str(tree / leaf)
    monkeypatch.chdir(tree)
    assert resolve_config(leaf) == leaf  # an existing file is returned as given
    with pytest.raises(XTunerUserError, match=r"config file 'my/missing\.py' does not exist$"):
        resolve_config('my/missing.py')
    with pytest.raises(XTunerUserError, match="named 'smollm2_135m_lora_demo' \\(no .py\\)"):
        resolve_config('smollm2_135m_lora_demo.py')


def test_unknown_config_names_closest(tree):
    with pytest.raises(XTunerUserError) as err:
        resolve_config('smolm2_demo')
    assert str(err.value) == ("unknown config 'smolm2_demo'; closest: smollm2_135m_lora_demo, "
                              'smollm2_135m_full_demo (xtuner list-cfg lists all)')
    with pytest.raises(XTunerUserError) as err:  # substring hits come first, sorted
        resolve_config('alpaca')
    assert 'closest: llama2_7b_full_alpaca_enzh_32k_sp1, yi_34b_full' in str(err.value)
    with pytest.raises(XTunerUserError, match="'qqq'; no similar names"):
        resolve_config('qqq')


def test_duplicate_name_is_reported_with_both_paths(tree):
    other = tree / 'other' / 'smollm2_135m_full_demo.py'
    _write(other, 'lr = 3e-4\n')
    with pytest.raises(XTunerUserError) as err:
        resolve_config('smollm2_135m_full_demo')
    assert str(other) in str(err.value)
    assert str(tree / 'smollm2' / 'smollm2_135m_full_demo.py') in str(err.value)
    assert 'smollm2_135m_full_demo' not in config_name_paths()
    assert list_configs() == NAMES  # still listed, once


def test_resolve_deepspeed(tree):
    assert resolve_deepspeed('deepspeed_zero3') == str(tree / 'deepspeed' / 'deepspeed_zero3.json')
    with pytest.raises(XTunerUserError) as err:
        resolve_deepspeed('zero_2')
    assert str(err.value) == ("unknown DeepSpeed config 'zero_2'; "
                              'available: deepspeed_zero2, deepspeed_zero3')
    with pytest.raises(XTunerUserError, match="file 'ds/z.json' does not exist"):
        resolve_deepspeed('ds/z.json')


def test_list_cfg_output(tree, capsys):
    assert list_cfg.main([]) == 0
    assert capsys.readouterr().out.splitlines() == NAMES
    assert list_cfg.main(['-p', 'Lora']) == 0
    assert capsys.readouterr().out == 'smollm2_135m_lora_demo\n'
    assert list_cfg.main(['--pattern', 'gpt4']) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ('', "xtuner list-cfg: no config NAME matches 'gpt4'\n")


def test_copy_cfg_writes_identical_file_and_refuses_overwrite(tree, tmp_path, capsys):
    src = tree / 'smollm2' / 'smollm2_135m_full_demo.py'
    dest_dir = tmp_path / 'work' / 'cfgs'  # created on demand
    target = dest_dir / 'smollm2_135m_full_demo_copy.py'
    assert copy_cfg.main(['smollm2_135m_full_demo', str(dest_dir)]) == 0
    assert capsys.readouterr().out == f'{target}\n'
    assert target.read_bytes() == src.read_bytes()

    target.write_text('# my edits\n')
    assert dispatch(['copy-cfg', 'smollm2_135m_full_demo', str(dest_dir)]) == 2
    err = capsys.readouterr().err
    assert err == f"xtuner copy-cfg: error: '{target}' already exists; pass --force to " \
                  'overwrite it, or choose another DIR\n'
    assert target.read_text() == '# my edits\n'  # the user's file is untouched

    assert copy_cfg.main(['smollm2_135m_full_demo', str(dest_dir), '--force']) == 0
    assert target.read_bytes() == src.read_bytes()


def test_copy_cfg_from_a_path_and_into_a_file_fails(tree, tmp_path):
    src = tree / 'smollm2' / 'smollm2_135m_lora_demo.py'
    assert copy_cfg.copy_config(str(src), str(tmp_path)) == str(
        tmp_path / 'smollm2_135m_lora_demo_copy.py')
    with pytest.raises(XTunerUserError, match='is not a folder'):
        copy_cfg.copy_config(str(src), str(src))


def test_list_cfg_lists_every_shipped_config(capsys):
    import glob
    import os

    import xtuner.configs as configs
    shipped = sorted(os.path.basename(p)[:-3] for p in glob.glob(
        os.path.join(configs.CONFIGS_ROOT, '**', '*.py'), recursive=True)
        if not os.path.basename(p).startswith('_') and '/_' not in p[len(configs.CONFIGS_ROOT):])
    assert 'smollm2_135m_instruct_full_alpaca_demo' in shipped
    assert list_cfg.main([]) in (0, None)
    assert capsys.readouterr().out.split() == shipped
    assert list_cfg.main(['-p', 'TINY']) in (0, None)
    assert capsys.readouterr().out.split() == ['tiny_llama_full_alpaca_demo']
