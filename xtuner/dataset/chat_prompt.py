"""Prompts for generation that match training token for token, and where answers stop.

Used by ``xtuner chat`` and ``EvaluateChatHook``: with a PROMPT_TEMPLATE entry the prompt is
built by the training pipeline itself (``template_map_fn`` then ``encode_conversations``), up
to where the next answer starts, so chat and training can never disagree on a token.
"""

__all__ = ['build_prompt_ids', 'stop_words', 'cut_at_stop']


def build_prompt_ids(tokenizer, template, system, history, query):
    """Token ids asking for the answer to ``query`` after ``history`` ([(query, answer)]).

    With ``template`` (a PROMPT_TEMPLATE entry): what training encodes for the conversation,
    up to where the answer to ``query`` starts: ``system`` ('' for none) on the first turn
    only, each earlier answer followed by SUFFIX, eos unless SUFFIX_AS_EOS, and SEP.
    With None: the tokenizer's ``apply_chat_template(..., add_generation_prompt=True)``.
    """
    if template is None:
        messages = [{'role': 'system', 'content': system}] if system else []
        for q, a in history:
            messages += [{'role': 'user', 'content': q}, {'role': 'assistant', 'content': a}]
        messages.append({'role': 'user', 'content': query})
        encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                tokenize=True, return_dict=True)
        return list(encoded['input_ids'])
    from xtuner.dataset.encode import encode_conversations
    from xtuner.dataset.map_fns.template_map_fn import template_map_fn
    turns = [{'input': q, 'output': a} for q, a in history] + [{'input': query}]
    if system:
        turns[0]['system'] = system
    conversation = template_map_fn({'conversation': turns}, template)['conversation']
    # The last turn stops where its answer starts: no answer, suffix, eos nor separator.
    conversation[-1].update(output='', need_eos_token=False, sep='')
    return encode_conversations([conversation], tokenizer, max_length=None)['input_ids'][0]


def _turn_end(tokenizer):
    """What the chat template writes right after an answer (``<|im_end|>``, ``<|eot_id|>``,
    ``</s>``...): the model's end of turn even when it is not the tokenizer's eos."""
    mark = 'XTUNER_CHAT_ANSWER_MARK'
    try:
        text = tokenizer.apply_chat_template(
            [{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': mark}],
            tokenize=False)
    except Exception:  # noqa: BLE001 - a template that rejects this: no extra stop word
        return None
    after = text.rpartition(mark)[2].split() if mark in text else []
    return after[0] if after else None


def stop_words(tokenizer, template, eos_ids):
    """The texts that end an answer: the template's STOP_WORDS (or, without a template, the
    chat template's end of turn) and the text of every eos id; in order, no repeats."""
    words = list(template.get('STOP_WORDS') or []) if template else [_turn_end(tokenizer)]
    words += [tokenizer.decode([i], skip_special_tokens=False) for i in eos_ids]
    return list(dict.fromkeys(w for w in words if w))


def cut_at_stop(text, stops):
    """``(text up to the earliest stop word, whether one was found)``."""
    ends = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[:min(ends)], True) if ends else (text, False)
