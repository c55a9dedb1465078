"""``xtuner check-custom-dataset`` reports each kind of bad row; training skips exactly those."""
import json

from conftest import losses, xtuner

TINY = 'tiny_llama_full_alpaca_demo'


def _bad_file(tmp_path):
    good = [{'instruction': f'q{i}', 'input': '', 'output': f'a{i}'} for i in range(6)]
    lines = [json.dumps(r) for r in good[:2]]
    lines.append('{"instruction": "broken", "output": ')            # not JSON
    lines.append(b'\xff\xfe'.decode('latin-1'))                      # invalid UTF-8 (below)
    lines.append(json.dumps({'instruction': None, 'input': '', 'output': 'x'}))  # None field
    lines.append(json.dumps({'instruction': 'no output', 'input': ''}))          # missing key
    lines.append(json.dumps({'instruction': 'q', 'input': '', 'output': '<nooutput>'}))
    lines += [json.dumps(r) for r in good[2:]]
    path = tmp_path / 'mixed.jsonl'
    path.write_bytes('\n'.join(lines).encode('latin-1').replace(b'\xc3\xbf\xc3\xbe', b'\xff\xfe'))
    return path


def test_reports_every_kind_and_training_skips_exactly_them(tmp_path):
    path = _bad_file(tmp_path)
    opt = f'train_dataloader.dataset.dataset.data_files={path}'
    r = xtuner('check-custom-dataset', TINY, '--cfg-options', opt)
    assert r.returncode == 1, r.stderr[-2000:]
    out = r.stdout
    assert '2 broken lines, 9 rows read, 6 usable, 3 skipped' in out
    assert '1  broken line: not JSON  [rows ' in out and 'mixed.jsonl:3]' in out
    assert '1  broken line: invalid UTF-8 at byte 0  [rows ' in out
    assert "skipped: ValueError: alpaca_map_fn: 'instruction' is None" in out
    assert "1  skipped: ValueError: alpaca_map_fn: 'output' is None  [rows 3]" in out
    assert '1  skipped: empty conversation  [rows 4]' in out

    t = xtuner('train', TINY, '--work-dir', str(tmp_path / 'wd'), '--cfg-options', opt,
               'train_cfg.max_iters=1')
    assert t.returncode == 0, t.stderr[-2000:]
    log = t.stdout + t.stderr
    assert 'skipped 2 broken lines' in log and 'skipped 3 of 9 rows' in log
    assert losses(str(tmp_path / 'wd'))


def test_clean_data_passes(tmp_path):
    path = tmp_path / 'ok.jsonl'
    path.write_text(json.dumps({'instruction': 'q', 'input': '', 'output': 'a'}))
    r = xtuner('check-custom-dataset', TINY, '--cfg-options',
               f'train_dataloader.dataset.dataset.data_files={path}')
    assert r.returncode == 0 and 'no problems found' in r.stdout, r.stdout + r.stderr
