"""Multi-turn datasets: OpenAI ``messages``, OpenAssistant (oasst1) text, WizardLM/ShareGPT.

All three pair messages the same way: system texts attach to the next turn, user texts
(several in a row are joined by '\\n') open a turn, the next answer closes it. Answers before
the first question are skipped, a later answer with no question between gets input '', and
a question left without an answer at the end is dropped.
"""
import re

from ._fields import join_lines, required, required_str, turn

__all__ = ['oasst1_map_fn', 'openai_map_fn', 'wizardlm_map_fn']


def _pair_turns(messages):
    """``(role, text, extra)`` items, role in system/user/assistant → conversation turns."""
    conversation, systems, users = [], [], []
    for role, text, extra in messages:
        if role == 'system':
            systems.append(text)
        elif role == 'user':
            users.append(text)
        elif conversation or users:  # an answer with nothing before it has no question
            conversation.append({**turn(join_lines(*users), text, join_lines(*systems)),
                                 **extra})
            systems, users = [], []
    return conversation


def _message_list(example, key, fn_name):
    messages = required(example, key, fn_name)
    if not isinstance(messages, list):
        raise ValueError(f'{fn_name}: {key!r} must be a list, got {type(messages).__name__}')
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ValueError(f'{fn_name}: {key}[{i}] must be a dict, got '
                             f'{type(message).__name__}')
    return messages


def _openai_content(message, where):
    content = required(message, 'content', where)
    if isinstance(content, list):  # [{'type': 'text', 'text': ...}, ...]
        if not all(isinstance(p, dict) and p.get('type') == 'text' for p in content):
            raise ValueError(f'{where}: only text content parts are supported')
        content = ''.join(required_str(part, 'text', where) for part in content)
    if not isinstance(content, str):
        raise ValueError(f"{where}: 'content' must be a string, got {type(content).__name__}")
    return content


def _openai_messages(messages, fn_name):
    for i, message in enumerate(messages):
        where = f'{fn_name} (messages[{i}])'
        role = required(message, 'role', where)
        if role not in ('system', 'user', 'assistant'):
            raise ValueError(f'{where}: unknown role {role!r}; expected system, user or '
                             'assistant')
        extra = {}
        if role == 'assistant':
            # XTuner 0.2 convention: "loss": false marks an answer that is not trained on.
            # Always set, so Arrow never fills the key with None on the other turns.
            extra['output_with_loss'] = str(message.get('loss', True)).lower() == 'true'
        yield role, _openai_content(message, where), extra


def openai_map_fn(example):
    """OpenAI fine-tuning row: ``messages`` of {'role', 'content'} → conversation.

    Every turn gets ``output_with_loss``: False when its assistant message has
    ``'loss': False`` (or 'false'), else True.
    """
    messages = _message_list(example, 'messages', 'openai_map_fn')
    return {'conversation': _pair_turns(_openai_messages(messages, 'openai_map_fn'))}


_OASST1_MARKER = re.compile(r'###\s*(Human|Assistant):')


def oasst1_map_fn(example):
    """openassistant-guanaco row: ``text`` as '### Human: q ### Assistant: a ...' → turns.

    Only '### Human:' and '### Assistant:' split the text, so '###' inside a message (a
    Markdown heading) stays part of it.
    """
    fn = 'oasst1_map_fn'
    pieces = _OASST1_MARKER.split(required_str(example, 'text', fn))
    if len(pieces) == 1:
        raise ValueError(f"{fn}: 'text' has no '### Human:' or '### Assistant:' marker")
    roles = {'Human': 'user', 'Assistant': 'assistant'}
    messages = ((roles[name], body.strip(), {})
                for name, body in zip(pieces[1::2], pieces[2::2]))
    return {'conversation': _pair_turns(messages)}


_SHAREGPT_ROLES = {'system': 'system', 'human': 'user', 'gpt': 'assistant'}


def wizardlm_map_fn(example):
    """WizardLM / ShareGPT row: ``conversations`` of {'from': human|gpt, 'value'} → turns."""
    fn = 'wizardlm_map_fn'

    def messages():
        for i, message in enumerate(_message_list(example, 'conversations', fn)):
            where = f'{fn} (conversations[{i}])'
            speaker = required(message, 'from', where)
            if speaker not in _SHAREGPT_ROLES:
                raise ValueError(f"{where}: unknown 'from' {speaker!r}; expected human or gpt")
            yield _SHAREGPT_ROLES[speaker], required_str(message, 'value', where), {}

    return {'conversation': _pair_turns(messages())}
