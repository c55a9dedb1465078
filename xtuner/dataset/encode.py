"""Tokenize conversations into ``input_ids`` and ``labels`` (IGNORE_INDEX on prompt tokens).

A conversation is the XTuner 0.2 format after ``template_map_fn``: a list of turns, each
with ``input`` (prompt text, template applied), ``output`` (answer text), ``need_eos_token``,
``sep`` and optionally ``output_with_loss`` (False: the answer is context, not trained on).
A key set to None (``datasets`` fills keys that only some turns have) means "not set". Texts are tokenized in one batched call per dataset batch (the fast
tokenizer's batch path), then assembled turn by turn.
"""
from xtuner.utils.constants import IGNORE_INDEX

__all__ = ['encode_conversations']


def _special_ids(tokenizer):
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    if tokenizer.eos_token_id is None:
        raise ValueError(f'tokenizer {type(tokenizer).__name__} has no eos_token; set one '
                         '(e.g. tokenizer.eos_token = "</s>") so answers can end')
    return bos, [tokenizer.eos_token_id]


def encode_conversations(conversations, tokenizer, max_length, input_ids_with_output=True):
    """Encode a batch of conversations.

    Args:
        conversations (list[list[dict]]): one list of turns per sample.
        tokenizer: a Hugging Face tokenizer.
        max_length (int | None): longer samples are truncated to it.
        input_ids_with_output (bool): train on the answers (XTuner 0.2 name); when False the
            answers are left out, as for building prompts only.

    Returns:
        dict: ``input_ids``, ``labels`` (lists of lists) and ``truncated`` (list of bool).
    """
    bos, eos = _special_ids(tokenizer)
    texts = []
    for turns in conversations:
        for turn in turns:
            texts += [turn.get('input') or '', turn.get('output') or '', turn.get('sep') or '']
    ids = tokenizer(texts, add_special_tokens=False)['input_ids'] if texts else []

    out = {'input_ids': [], 'labels': [], 'truncated': []}
    k = 0
    for turns in conversations:
        input_ids, labels = [], []
        for i, turn in enumerate(turns):
            prompt, answer, sep = ids[k], ids[k + 1], ids[k + 2]
            k += 3
            # BOS once per sample, unless the template already starts with it (ChatML models
            # whose bos is <|im_start|>).
            if i == 0 and bos and prompt[:1] != bos:
                input_ids += bos
                labels += [IGNORE_INDEX]
            input_ids += prompt
            labels += [IGNORE_INDEX] * len(prompt)
            if input_ids_with_output:
                tail = answer + (eos if turn.get('need_eos_token') is not False else [])
                input_ids += tail
                # openai-format messages may say `loss: false`: shown, not trained on
                trained = turn.get('output_with_loss') is not False
                labels += tail if trained else [IGNORE_INDEX] * len(tail)
            input_ids += sep
            labels += [IGNORE_INDEX] * len(sep)
        truncated = max_length is not None and len(input_ids) > max_length
        if truncated:
            input_ids, labels = input_ids[:max_length], labels[:max_length]
        out['input_ids'].append(input_ids)
        out['labels'].append(labels)
        out['truncated'].append(truncated)
    return out
