"""``xtuner COMMAND [ARGS...]``: find the command's module, import it, run its ``main(argv)``.

Exit status: 0 success; 1 the tool failed (an exception escaped it, or it returned 1);
2 bad usage (unknown or unavailable command, bad arguments, :class:`XTunerUserError`);
a distributed ``train`` returns torchrun's status (128+N when killed by signal N).
Set ``XTUNER_DEBUG=1`` to see the traceback of a failure.
"""
import difflib
import importlib
import importlib.util
import os
import shlex
import subprocess
import sys
import traceback
from collections.abc import Mapping

# Command -> (module with main(argv), one-line description). Dash spelling; '_' is accepted too.
COMMANDS = {
    'list-cfg': ('xtuner.tools.list_cfg', 'list the built-in config NAMEs (-p PATTERN filters)'),
    'copy-cfg': ('xtuner.tools.copy_cfg', 'copy a config to DIR/NAME_copy.py to edit it'),
    'train': ('xtuner.tools.train', 'fine-tune a model from a config NAME or file'),
    'chat': ('xtuner.tools.chat', 'chat with a base or fine-tuned model'),
    'convert': (None, 'checkpoint conversions: pth_to_hf, merge (see below)'),
    'log-dataset': ('xtuner.tools.log_dataset',
                    "show a config's dataset samples as the model sees them"),
    'check-custom-dataset': ('xtuner.tools.check_custom_dataset',
                             'check a custom dataset file against a config'),
    'list-dataset-format': ('xtuner.tools.list_dataset_format',
                            'list the dataset formats (map fns) a config can name'),
}
CONVERT = {
    'pth_to_hf': ('xtuner.tools.convert.pth_to_hf',
                  'turn a training checkpoint into a Hugging Face model'),
    'merge': ('xtuner.tools.convert.merge', 'merge a LoRA adapter into its base model'),
    'split': ('xtuner.tools.convert.split', 're-shard a Hugging Face model dir by size'),
}
EXAMPLES = """\
Examples:
  xtuner list-cfg -p demo
  xtuner copy-cfg smollm2_135m_instruct_full_alpaca_demo ./my_cfgs
  xtuner train ./my_cfgs/smollm2_135m_instruct_full_alpaca_demo_copy.py
  xtuner train tiny_llama_full_alpaca_demo --cfg-options train_cfg.max_iters=20
  NPROC_PER_NODE=2 xtuner train tiny_llama_full_alpaca_demo
  xtuner convert pth_to_hf CONFIG CHECKPOINT.pth SAVE_DIR

Run "xtuner COMMAND -h" (or "xtuner help COMMAND") for a command's options.
Several GPUs: set NPROC_PER_NODE; several nodes: also NNODES, NODE_RANK, ADDR, PORT.
Set XTUNER_DEBUG=1 to print the traceback when a command fails."""


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def usage() -> str:
    def row(name: str, module: str | None, text: str) -> str:
        missing = '' if module is None or _available(module) else ' (not available)'
        return f'  {name:<22} {text}{missing}'

    lines = ['usage: xtuner COMMAND [ARGS...]', '', 'Commands:',
             row('help', None, 'show this message'),
             row('version', None, 'print the xtuner version')]
    lines += [row(name, module, text) for name, (module, text) in COMMANDS.items()]
    lines += [row(f'convert {name}', module, text) for name, (module, text) in CONVERT.items()]
    return '\n'.join(lines + ['', EXAMPLES])


def _unknown(kind: str, word: str, spelled: str, choices) -> int:
    near = difflib.get_close_matches(spelled, list(choices), n=3, cutoff=0.6)
    hint = f'did you mean: {", ".join(near)}? ' if near else ''
    print(f"xtuner: unknown {kind} '{word}'; {hint}(run 'xtuner help' for the list)",
          file=sys.stderr)
    return 2


def torchrun_command(args: list[str], env: Mapping[str, str]) -> list[str] | None:
    """The torchrun command that runs ``xtuner train ARGS`` on several processes, or None.

    Launch when ``NPROC_PER_NODE`` is set or ``NNODES`` > 1, unless ``LOCAL_RANK`` shows we
    already run under a launcher. ``NNODES``, ``NODE_RANK``, ``ADDR``, ``PORT`` default to 1,
    0, 127.0.0.1, 29500. ``--launcher pytorch`` is added unless ARGS choose a launcher.
    """
    nnodes = env.get('NNODES') or '1'
    try:
        many_nodes = int(nnodes) > 1
    except ValueError:  # an elastic range such as '1:4': torchrun checks it
        many_nodes = True
    if 'LOCAL_RANK' in env or not (env.get('NPROC_PER_NODE') or many_nodes):
        return None
    cmd = [sys.executable, '-m', 'torch.distributed.run',
           '--nproc-per-node', env.get('NPROC_PER_NODE') or '1', '--nnodes', nnodes,
           '--node-rank', env.get('NODE_RANK') or '0',
           '--master-addr', env.get('ADDR') or '127.0.0.1',
           '--master-port', env.get('PORT') or '29500',
           '-m', COMMANDS['train'][0], *args]
    if not any(a == '--launcher' or a.startswith('--launcher=') for a in args):
        cmd += ['--launcher', 'pytorch']
    return cmd


def _launch(cmd: list[str]) -> int:
    print(f'xtuner: launching {shlex.join(cmd)}', file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd)
    while True:
        try:
            code = proc.wait()
            break
        except KeyboardInterrupt:  # torchrun got the same Ctrl-C: let it stop its workers
            continue
    return 128 - code if code < 0 else code


def _run_tool(label: str, module: str, args: list[str]) -> int:
    if not _available(module):
        print(f"xtuner: '{label}' is not available in this version", file=sys.stderr)
        return 2
    from xtuner.tools.errors import XTunerUserError
    try:
        if label == 'train' and (cmd := torchrun_command(args, os.environ)):
            return _launch(cmd)
        code = importlib.import_module(module).main(args)
    except XTunerUserError as err:
        print(f'xtuner {label}: error: {err}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'xtuner {label}: interrupted', file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the CLI boundary: report, do not crash
        debug = os.environ.get('XTUNER_DEBUG') == '1'
        if debug:
            traceback.print_exc()
        hint = '' if debug else ' (XTUNER_DEBUG=1 shows the traceback)'
        print(f'xtuner {label}: error: {type(err).__name__}: {err}{hint}', file=sys.stderr)
        return 1
    return 0 if code is None else int(code)


def dispatch(argv: list[str]) -> int:
    """Run ``xtuner`` with ``argv`` (without the program name) and return the exit status."""
    if not argv or argv[0] in ('help', '-h', '--help'):
        if len(argv) > 1 and argv[0] == 'help':  # 'xtuner help train' = 'xtuner train -h'
            return dispatch([argv[1], '-h'])
        print(usage())
        return 0
    command, args = argv[0].replace('_', '-'), argv[1:]
    if command in ('version', '--version'):
        from xtuner import __version__
        print(__version__)
        return 0
    if command not in COMMANDS:
        return _unknown('command', argv[0], command, [*COMMANDS, 'help', 'version'])
    if command != 'convert':
        return _run_tool(command, COMMANDS[command][0], args)
    if not args or args[0] in ('-h', '--help'):
        lines = ['usage: xtuner convert SUB-COMMAND [ARGS...]', '', 'Sub-commands:']
        lines += [f'  {name:<10} {text}' for name, (_, text) in CONVERT.items()]
        print('\n'.join(lines), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    sub = args[0].replace('-', '_')
    if sub not in CONVERT:
        return _unknown('convert sub-command', args[0], sub, CONVERT)
    return _run_tool(f'convert {sub}', CONVERT[sub][0], args[1:])


def cli() -> None:
    """Console-script entry: ``xtuner = xtuner.entry_point:cli``."""
    sys.exit(dispatch(sys.argv[1:]))


if __name__ == '__main__':
    cli()
