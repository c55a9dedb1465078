"""A byte-level tokenizer built in code: no download, no training, same ids everywhere.

For tiny random-init models in tests and the fast tiny config. Every UTF-8 byte is one token,
so any text round-trips exactly. Vocabulary (261 ids):

=========  ================  ============================================
ids        tokens            meaning
=========  ================  ============================================
0-255      one per byte      id == byte value (``'A'`` -> 65, ``'é'`` -> 195, 169)
256        ``<|bos|>``       ``bos_token``
257        ``<|eos|>``       ``eos_token``
258        ``<|pad|>``       ``pad_token``
259        ``<|im_start|>``  ChatML turn start
260        ``<|im_end|>``    ChatML turn end
=========  ================  ============================================

Special tokens are matched as single tokens in text. Nothing is added around an encoded text
(no automatic ``<|bos|>``), as with ChatML models such as Qwen. The chat template is ChatML
after ``<|bos|>`` (as training encodes a sample), without a default system message.
"""
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

__all__ = ['build_byte_tokenizer', 'BYTE_SPECIAL_TOKENS', 'BYTE_VOCAB_SIZE', 'CHATML_TEMPLATE']

BYTE_SPECIAL_TOKENS = {
    '<|bos|>': 256,
    '<|eos|>': 257,
    '<|pad|>': 258,
    '<|im_start|>': 259,
    '<|im_end|>': 260,
}
BYTE_VOCAB_SIZE = 256 + len(BYTE_SPECIAL_TOKENS)

CHATML_TEMPLATE = (  # bos first, as xtuner's training encodes a sample
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

# Keyword arguments that configs pass to ``AutoTokenizer.from_pretrained``; they say where a
# tokenizer comes from, which means nothing here, so they are accepted and ignored.
_IGNORED_KWARGS = frozenset({
    'pretrained_model_name_or_path', 'trust_remote_code', 'use_fast', 'cache_dir',
    'revision', 'local_files_only', 'token', 'encode_special_tokens'
})


def _byte_symbols() -> list[str]:
    """The printable character that stands for each byte 0..255 in byte-level BPE.

    Byte-level BPE works on strings, so each byte is shown as one visible unicode character:
    printable Latin-1 bytes as themselves, the others (controls, space, ...) as the code
    points from 256 upwards, in byte order. This is the mapping ``ByteLevel`` expects.
    """
    visible = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    symbols, next_free = [], 256
    for byte in range(256):
        if byte in visible:
            symbols.append(chr(byte))
        else:
            symbols.append(chr(next_free))
            next_free += 1
    return symbols


def _backend() -> Tokenizer:
    vocab = {symbol: byte for byte, symbol in enumerate(_byte_symbols())}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))  # no merges: one token per byte
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    # Added in id order, so they get 256, 257, ... as documented above.
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in BYTE_SPECIAL_TOKENS])
    return tokenizer


def build_byte_tokenizer(padding_side: str = 'right',
                         truncation_side: str = 'right',
                         model_max_length: int = 1 << 20,
                         **kwargs) -> PreTrainedTokenizerFast:
    """Build the byte-level tokenizer; usable as ``tokenizer = dict(type=build_byte_tokenizer)``.

    Args:
        padding_side (str): ``'right'`` or ``'left'``. Defaults to ``'right'``.
        truncation_side (str): ``'right'`` or ``'left'``. Defaults to ``'right'``.
        model_max_length (int): What ``truncation=True`` truncates to. Defaults to 2**20.
        **kwargs: Loader arguments from XTuner configs (``pretrained_model_name_or_path``,
            ``trust_remote_code``, ``use_fast``, ``cache_dir``, ...), ignored. Any other
            name raises ``TypeError``, so a typo is not silently dropped.

    Returns:
        PreTrainedTokenizerFast: 261 ids; bos/eos/pad = ``<|bos|>``/``<|eos|>``/``<|pad|>``;
        a ChatML ``chat_template``. It pickles, and ``save_pretrained`` output reloads with
        ``AutoTokenizer.from_pretrained``.
    """
    unknown = sorted(set(kwargs) - _IGNORED_KWARGS)
    if unknown:
        raise TypeError(f'build_byte_tokenizer() got unexpected keyword arguments {unknown}')
    return PreTrainedTokenizerFast(
        tokenizer_object=_backend(),
        bos_token='<|bos|>',
        eos_token='<|eos|>',
        pad_token='<|pad|>',
        extra_special_tokens=['<|im_start|>', '<|im_end|>'],
        chat_template=CHATML_TEMPLATE,
        padding_side=padding_side,
        truncation_side=truncation_side,
        model_max_length=model_max_length,
    )
