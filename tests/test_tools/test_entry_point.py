"""`xtuner` dispatch: exit codes, error lines, suggestions and the torchrun command."""
import os
import subprocess
import sys

import pytest

import xtuner
from xtuner import entry_point as ep

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKE = 'xtuner_fake_tool_for_tests'
FAKE_SOURCE = '''
from xtuner.tools.errors import XTunerUserError

def main(argv=None):
    kind = argv[0] if argv else ''
    if kind == 'code':
        return int(argv[1])
    if kind == 'user':
        raise XTunerUserError('bad name')
    if kind == 'boom':
        raise ValueError('kaboom')
    print('args', argv)
'''


def run_cli(monkeypatch, *args):
    monkeypatch.setattr(sys, 'argv', ['xtuner', *args])
    with pytest.raises(SystemExit) as exc:
        ep.cli()
    return exc.value.code


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Point list-cfg, train and convert pth_to_hf at a throwaway tool module."""
    (tmp_path / f'{FAKE}.py').write_text(FAKE_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, FAKE, raising=False)
    for table, name in ((ep.COMMANDS, 'list-cfg'), (ep.COMMANDS, 'train'),
                        (ep.CONVERT, 'pth_to_hf')):
        monkeypatch.setitem(table, name, (FAKE, 'fake'))
    for var in ('NPROC_PER_NODE', 'NNODES', 'XTUNER_DEBUG', 'LOCAL_RANK'):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize('args', [(), ('-h',), ('--help',), ('help',)])
def test_help_lists_every_command(monkeypatch, capsys, args):
    assert run_cli(monkeypatch, *args) == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: xtuner COMMAND [ARGS...]\n')
    for name in [*ep.COMMANDS, 'help', 'version']:
        assert f'\n  {name} ' in out
    for name in ep.CONVERT:
        assert f'\n  convert {name} ' in out
    assert 'Examples:\n  xtuner list-cfg' in out


def test_version_and_command_help(monkeypatch, capsys):
    assert run_cli(monkeypatch, 'version') == 0
    assert capsys.readouterr().out == f'{xtuner.__version__}\n'
    assert run_cli(monkeypatch, 'help', 'list_cfg') == 0  # = xtuner list-cfg -h
    assert capsys.readouterr().out.startswith('usage: xtuner list-cfg [-h] [-p PATTERN]')
    assert run_cli(monkeypatch, 'copy-cfg', '--no-such-flag') == 2  # argparse's usage error


def test_tool_return_codes_and_arguments(fake, monkeypatch, capsys):
    assert run_cli(monkeypatch, 'list_cfg', 'a', '--b') == 0  # underscore spelling
    assert capsys.readouterr().out == "args ['a', '--b']\n"
    assert run_cli(monkeypatch, 'list-cfg', 'code', '3') == 3
    assert run_cli(monkeypatch, 'convert', 'pth-to-hf', 'code', '4') == 4


def test_tool_errors(fake, monkeypatch, capsys):
    assert run_cli(monkeypatch, 'list-cfg', 'user') == 2
    assert capsys.readouterr().err == 'xtuner list-cfg: error: bad name\n'
    assert run_cli(monkeypatch, 'convert', 'pth_to_hf', 'boom') == 1
    assert capsys.readouterr().err == ('xtuner convert pth_to_hf: error: ValueError: kaboom '
                                       '(XTUNER_DEBUG=1 shows the traceback)\n')
    monkeypatch.setenv('XTUNER_DEBUG', '1')
    assert run_cli(monkeypatch, 'list-cfg', 'boom') == 1
    err = capsys.readouterr().err
    assert err.startswith('Traceback (most recent call last):')
    assert err.endswith('\nxtuner list-cfg: error: ValueError: kaboom\n')


def test_missing_modules_are_unavailable(monkeypatch, capsys):
    monkeypatch.setitem(ep.COMMANDS, 'chat', ('xtuner.tools._no_such_tool', 'x'))
    monkeypatch.setitem(ep.CONVERT, 'merge', ('xtuner._no_such_pkg.merge', 'x'))
    assert run_cli(monkeypatch, 'chat', '--help') == 2
    assert capsys.readouterr().err == "xtuner: 'chat' is not available in this version\n"
    assert run_cli(monkeypatch, 'convert', 'merge', 'a', 'b') == 2
    assert capsys.readouterr().err == "xtuner: 'convert merge' is not available in this version\n"


@pytest.mark.parametrize('args, message', [
    (('trian',), "xtuner: unknown command 'trian'; did you mean: train? "),
    (('lsit-cfg', '-p', 'x'), "xtuner: unknown command 'lsit-cfg'; did you mean: list-cfg? "),
    (('lsit_cfg',), "xtuner: unknown command 'lsit_cfg'; did you mean: list-cfg? "),
    (('zzzz',), "xtuner: unknown command 'zzzz'; "),
    (('convert', 'pht_to_hf'), "xtuner: unknown convert sub-command 'pht_to_hf'; "
                               'did you mean: pth_to_hf? '),
    (('convert', 'pht-to-hf'), "xtuner: unknown convert sub-command 'pht-to-hf'; "
                               'did you mean: pth_to_hf? '),
])
def test_unknown_commands_suggest_closest(monkeypatch, capsys, args, message):
    assert run_cli(monkeypatch, *args) == 2
    assert capsys.readouterr().err == message + "(run 'xtuner help' for the list)\n"


def test_convert_without_sub_command(monkeypatch, capsys):
    assert run_cli(monkeypatch, 'convert') == 2
    assert capsys.readouterr().err.startswith('usage: xtuner convert SUB-COMMAND')
    assert run_cli(monkeypatch, 'convert', '-h') == 0
    assert '\n  pth_to_hf ' in capsys.readouterr().out


def test_torchrun_command():
    py = sys.executable
    head = [py, '-m', 'torch.distributed.run', '--nproc-per-node']
    assert ep.torchrun_command(['cfg'], {}) is None
    assert ep.torchrun_command(['cfg'], {'NNODES': '1'}) is None
    assert ep.torchrun_command(['cfg'], {'NPROC_PER_NODE': '8', 'LOCAL_RANK': '0'}) is None
    assert ep.torchrun_command(['cfg', '--deepspeed', 'deepspeed_zero2'],
                               {'NPROC_PER_NODE': '8'}) == head + [
        '8', '--nnodes', '1', '--node-rank', '0', '--master-addr', '127.0.0.1',
        '--master-port', '29500', '-m', 'xtuner.tools.train', 'cfg', '--deepspeed',
        'deepspeed_zero2', '--launcher', 'pytorch']
    env = {'NPROC_PER_NODE': '4', 'NNODES': '2', 'NODE_RANK': '1', 'ADDR': '10.0.0.7',
           'PORT': '12345'}
    assert ep.torchrun_command(['cfg', '--launcher=slurm'], env) == head + [
        '4', '--nnodes', '2', '--node-rank', '1', '--master-addr', '10.0.0.7',
        '--master-port', '12345', '-m', 'xtuner.tools.train', 'cfg', '--launcher=slurm']
    assert ep.torchrun_command(['cfg', '--launcher', 'none'], {'NNODES': '3'})[4:7] == [
        '1', '--nnodes', '3']


def test_train_relaunches_through_torchrun(fake, monkeypatch, capsys):
    launched = []

    class FakePopen:
        def __init__(self, cmd):
            launched.append(cmd)

        def wait(self):
            return -9 if 'killed' in launched[-1] else 3

    monkeypatch.setattr(ep.subprocess, 'Popen', FakePopen)
    assert run_cli(monkeypatch, 'train', 'cfg') == 0  # no NPROC_PER_NODE: runs in-process
    assert launched == []
    monkeypatch.setenv('NPROC_PER_NODE', '2')
    assert run_cli(monkeypatch, 'train', 'cfg') == 3
    assert launched[0][-5:] == ['-m', FAKE, 'cfg', '--launcher', 'pytorch']
    assert run_cli(monkeypatch, 'list-cfg', 'code', '5') == 5  # only train is launched
    assert run_cli(monkeypatch, 'train', 'killed') == 128 + 9
    assert len(launched) == 2


def test_python_m_runs_and_imports_only_the_chosen_tool():
    env = {**os.environ, 'PYTHONPATH': REPO}
    done = subprocess.run([sys.executable, '-m', 'xtuner.entry_point', 'version'], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, f'{xtuner.__version__}\n')
    code = ('import sys; from xtuner.entry_point import dispatch; '
            "rc = dispatch(['list-cfg', '-p', 'zz_no_config_zz']); "
            "print(rc, sorted(m for m in sys.modules if m.startswith('xtuner.tools.')))")
    done = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout == "1 ['xtuner.tools.errors', 'xtuner.tools.list_cfg']\n"
    assert done.stderr == "xtuner list-cfg: no config NAME matches 'zz_no_config_zz'\n"
