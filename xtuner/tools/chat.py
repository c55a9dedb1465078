"""``xtuner chat MODEL``: talk to a base or fine-tuned model, interactively or from a script.

Prompts: with ``--prompt-template NAME`` a conversation is built exactly as training builds it
(``template_map_fn`` then ``encode_conversations``: same text segments, same bos, same eos after
answers), up to where the next answer starts. Without it, the tokenizer's own ``chat_template``.
Decoding is greedy by default (``--temperature 0``): the same prompt gives the same answer.
An answer ends at eos or at the first stop word (the template's STOP_WORDS, the eos text);
the stop word is never printed.

Modes: ``--prompt TEXT`` (repeatable, one turn each) or, when stdin is not a terminal, one turn
per non-empty stdin line: stdout gets each answer and a newline, nothing else (logs go to
stderr). Otherwise an interactive loop: ``exit``/``quit`` or Ctrl-D leave, ``clear``/``reset``
start a new conversation, Ctrl-C stops the answer being written.
"""
import argparse
import difflib
import importlib
import importlib.util
import os
import re
import sys

from xtuner.dataset.chat_prompt import build_prompt_ids, cut_at_stop, stop_words
from xtuner.tools.errors import XTunerUserError

__all__ = ['main', 'build_parser', 'build_prompt_ids', 'stop_words', 'cut_at_stop',
           'AnswerPrinter', 'ChatSession', 'repl']

EXIT_WORDS = ('exit', 'quit')
CLEAR_WORDS = ('clear', 'reset')
DTYPES = {'fp32': 'float32', 'bf16': 'bfloat16', 'fp16': 'float16'}
_TOKENIZER_FILES = ('tokenizer_config.json', 'tokenizer.json', 'tokenizer.model')


def build_parser():
    p = argparse.ArgumentParser(prog='xtuner chat', description=__doc__.splitlines()[0],
                                epilog='\n'.join(__doc__.splitlines()[2:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('model', help='a Hugging Face model dir (or a hub name when online)')
    p.add_argument('--adapter', metavar='DIR', help='a peft LoRA adapter dir to apply to MODEL')
    p.add_argument('--prompt-template', metavar='NAME',
                   help='the PROMPT_TEMPLATE the model was trained with (default: the '
                        "tokenizer's chat_template)")
    system = p.add_mutually_exclusive_group()
    system.add_argument('--system', metavar='TEXT', default='', help='the system text')
    system.add_argument('--system-template', metavar='NAME',
                        help='a SYSTEM_TEMPLATE name (alpaca, coder, ...) as the system text')
    p.add_argument('--temperature', type=float, default=0.0, metavar='T',
                   help='0 (default): greedy; above 0: sample with this temperature')
    for flag, var, kind, default, text in (
            ('--top-p', 'P', float, 0.75, 'when sampling'),
            ('--top-k', 'K', int, 40, 'when sampling; 0: off'),
            ('--repetition-penalty', 'R', float, 1.0, '1: off'),
            ('--max-new-tokens', 'N', int, 2048, 'per answer')):
        p.add_argument(flag, type=kind, default=default, metavar=var,
                       help=f'{text} (default {default})')
    p.add_argument('--seed', type=int, metavar='S', help='seed the sampler (reproducible answers)')
    p.add_argument('--prompt', action='append', default=[], metavar='TEXT',
                   help='a user turn, answered on stdout; repeat for more turns (no loop)')
    p.add_argument('--no-stream', action='store_true', help='print each answer when complete')
    p.add_argument('--dtype', choices=['auto', *DTYPES], default='auto',
                   help="weights dtype (default auto: the checkpoint's on cuda, fp32 on cpu)")
    p.add_argument('--device', choices=['auto', 'cpu', 'cuda'], default='auto',
                   help='(default auto: cuda when available)')
    p.add_argument('--trust-remote-code', action='store_true',
                   help="run the model repo's own code (needed by some models, e.g. InternLM2)")
    return p


def _pick(table, name, option):
    if name in table:
        return table[name]
    near = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
    hint = f'did you mean {", ".join(near)}? ' if near else ''
    raise XTunerUserError(f'unknown {option} {name!r}; {hint}names: {", ".join(sorted(table))}')


def _check_source(path, what, marker):
    """Fail before loading anything when ``path`` is neither a dir with ``marker`` nor a hub
    name that can be fetched (or is cached, when offline)."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, marker)):
            return
        hint = ''
        if marker == 'config.json' and os.path.isfile(os.path.join(path, 'adapter_config.json')):
            hint = '; it holds a LoRA adapter: pass its base model as MODEL and it as --adapter'
        raise XTunerUserError(f'{what} {path}: no {marker} in this directory{hint}')
    if re.fullmatch(r'[\w-][\w.-]*/[\w.-]+', path) is None:
        raise XTunerUserError(f'{what} {path}: no such directory')
    from huggingface_hub import constants, try_to_load_from_cache
    if constants.HF_HUB_OFFLINE and not isinstance(try_to_load_from_cache(path, marker), str):
        raise XTunerUserError(f'{what} {path}: no such directory, and not in the Hugging Face '
                              'cache (offline)')


def _check_args(args):
    for ok, text in ((args.temperature >= 0, '--temperature must be >= 0'),
                     (0 < args.top_p <= 1, '--top-p must be in (0, 1]'),
                     (args.top_k >= 0, '--top-k must be >= 0'),
                     (args.repetition_penalty > 0, '--repetition-penalty must be > 0'),
                     (args.max_new_tokens >= 1, '--max-new-tokens must be >= 1')):
        if not ok:
            raise XTunerUserError(text)
    from xtuner.utils import PROMPT_TEMPLATE, SYSTEM_TEMPLATE
    template = args.prompt_template and _pick(PROMPT_TEMPLATE, args.prompt_template,
                                              'prompt template')
    system = args.system
    if args.system_template:  # moss_sft names the bot; XTuner 0.2 calls it BOT by default
        system = _pick(SYSTEM_TEMPLATE, args.system_template, 'system template')
        system = system.replace('{bot_name}', 'BOT')
    if system and template and not template.get('SYSTEM'):
        raise XTunerUserError(f'prompt template {args.prompt_template} has no system turn; '
                              'drop --system/--system-template')
    _check_source(args.model, 'MODEL', 'config.json')
    if args.adapter:
        _check_source(args.adapter, '--adapter', 'adapter_config.json')
    return template or None, system


def _partial_stop(text, stops):
    """Length of the longest end of ``text`` that may be the start of a stop word."""
    return max((k for s in stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)


class AnswerPrinter:
    """A ``generate`` streamer that writes the answer: the new tokens' text up to the first
    stop word, which is never written, not even in part. With ``stream=False`` the answer is
    written once at the end. Either way one newline follows it; ``answer`` holds it."""

    def __init__(self, tokenizer, stops, out, stream=True):
        self.tokenizer, self.stops, self.out, self.stream = tokenizer, stops, out, stream
        self.ids, self.shown, self.answer, self._prompt_seen = [], 0, '', False

    def put(self, value):
        if not self._prompt_seen:  # generate hands over the prompt first
            self._prompt_seen = True
            return
        self.ids += value.reshape(-1).tolist()
        if self.stream:
            self._write(final=False)

    def end(self):
        self._write(final=True)
        self.out.write('\n')
        self.out.flush()

    def _write(self, final):
        text, stopped = cut_at_stop(self.tokenizer.decode(self.ids, skip_special_tokens=False),
                                    self.stops)
        if not (final or stopped):  # hold back a possible stop word and unfinished characters
            text = text[:len(text) - _partial_stop(text, self.stops)].rstrip('\ufffd')
        self.out.write(text[self.shown:])
        self.out.flush()
        self.shown = max(self.shown, len(text))
        self.answer = text


class ChatSession:
    """One conversation with ``model``; ``ask`` answers a turn and remembers it.

    ``template``/``system`` as for :func:`build_prompt_ids`; ``generation``: ``generate``
    options (default greedy, 2048 new tokens); answers go to ``out`` (default: sys.stdout).
    """

    def __init__(self, model, tokenizer, template=None, system='', generation=None,
                 stream=True, out=None):
        self.model, self.tokenizer, self.template, self.system = model, tokenizer, template, system
        eos = [tokenizer.eos_token_id, model.generation_config.eos_token_id]
        flat = [i for e in eos for i in (e if isinstance(e, (list, tuple)) else [e])]
        self.eos_ids = list(dict.fromkeys(i for i in flat if i is not None))
        self.stops = stop_words(tokenizer, template, self.eos_ids)
        pad = next((i for i in (tokenizer.pad_token_id, *self.eos_ids) if i is not None), None)
        self.generation = {**(generation or dict(do_sample=False, max_new_tokens=2048)),
                           'eos_token_id': self.eos_ids, 'pad_token_id': pad}
        self.stream, self.out, self.history = stream, out, []

    def clear(self):
        self.history = []

    def ask(self, query):
        import torch
        ids = build_prompt_ids(self.tokenizer, self.template, self.system, self.history, query)
        input_ids = torch.tensor([ids], device=self.model.device)
        printer = AnswerPrinter(self.tokenizer, self.stops, self.out or sys.stdout, self.stream)
        with torch.inference_mode():
            self.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                streamer=printer, stop_strings=self.stops or None,
                                tokenizer=self.tokenizer, **self.generation)
        self.history.append((query, printer.answer))
        return printer.answer


def repl(session, read=input):
    """The interactive loop; returns 0 at ``exit``, ``quit`` or end of input (Ctrl-D)."""
    if importlib.util.find_spec('readline'):
        importlib.import_module('readline')  # line editing and history for input()
    print(f'xtuner chat: {"/".join(EXIT_WORDS)} or Ctrl-D to leave, {"/".join(CLEAR_WORDS)} '
          'to start a new conversation', file=sys.stderr)
    while True:
        try:
            line = read('\n>>> ')
        except EOFError:
            print(file=sys.stderr)
            return 0
        if (word := line.strip().lower()) in EXIT_WORDS:
            return 0
        if word in CLEAR_WORDS:
            session.clear()
            print('(new conversation)', file=sys.stderr)
        elif word:
            try:
                session.ask(line)
            except KeyboardInterrupt:  # stop this answer, keep chatting
                print('\n(interrupted)', file=sys.stderr)


def _load(args, template):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    device = args.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    elif device == 'cuda' and not torch.cuda.is_available():
        raise XTunerUserError('--device cuda: no CUDA device here; use --device cpu')
    has_tokenizer = args.adapter and any(
        os.path.isfile(os.path.join(args.adapter, f)) for f in _TOKENIZER_FILES)
    tokenizer = AutoTokenizer.from_pretrained(args.adapter if has_tokenizer else args.model,
                                              trust_remote_code=args.trust_remote_code)
    if template is None and not getattr(tokenizer, 'chat_template', None):
        from xtuner.utils import PROMPT_TEMPLATE
        raise XTunerUserError('the tokenizer has no chat_template; pass --prompt-template NAME '
                              f'(the one used in training): {", ".join(sorted(PROMPT_TEMPLATE))}')
    dtype = DTYPES.get(args.dtype) or ('auto' if device == 'cuda' else 'float32')
    kwargs = dict(dtype=dtype if dtype == 'auto' else getattr(torch, dtype),
                  trust_remote_code=args.trust_remote_code)
    try:  # never xtuner's training attention: the config may still name it
        model = AutoModelForCausalLM.from_pretrained(args.model, attn_implementation='sdpa',
                                                     **kwargs)
    except ValueError as err:  # a model class without SDPA: its default attention
        if 'sdpa' not in str(err).lower():
            raise
        model = AutoModelForCausalLM.from_pretrained(args.model, **kwargs)
    if args.adapter:
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, args.adapter)
    return model.to(device).eval(), tokenizer


def main(argv=None):
    args = build_parser().parse_args(argv)
    template, system = _check_args(args)
    model, tokenizer = _load(args, template)
    if args.seed is not None:
        importlib.import_module('transformers').set_seed(args.seed)
    generation = dict(max_new_tokens=args.max_new_tokens,
                      repetition_penalty=args.repetition_penalty, do_sample=False)
    if args.temperature > 0:
        generation.update(do_sample=True, temperature=args.temperature, top_p=args.top_p,
                          top_k=args.top_k)
    session = ChatSession(model, tokenizer, template, system, generation,
                          stream=not args.no_stream)
    if args.prompt:
        for query in args.prompt:
            session.ask(query)
    elif not sys.stdin.isatty():
        for line in sys.stdin:
            if line.strip():
                session.ask(line.rstrip('\r\n'))
    else:
        return repl(session)
    return 0
