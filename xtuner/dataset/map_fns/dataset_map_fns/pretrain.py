"""Plain text for continued pre-training."""
from ._fields import required_str

__all__ = ['pretrain_map_fn']


def pretrain_map_fn(example):
    """``text`` → one turn with no prompt: the whole (stripped) text is trained on.

    ``need_eos_token`` is False, as in XTuner 0.2: documents are not closed with EOS.
    A text that is empty after stripping drops the row.
    """
    text = required_str(example, 'text', 'pretrain_map_fn').strip()
    if not text:
        return {'conversation': []}
    return {'conversation': [{'input': '', 'output': text, 'need_eos_token': False}]}
