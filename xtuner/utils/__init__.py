"""Shared constants and chat templates (import paths as in XTuner 0.2)."""
from .constants import DEFAULT_PAD_TOKEN_INDEX, IGNORE_INDEX
from .templates import PROMPT_TEMPLATE, SYSTEM_TEMPLATE

__all__ = ['DEFAULT_PAD_TOKEN_INDEX', 'IGNORE_INDEX', 'PROMPT_TEMPLATE', 'SYSTEM_TEMPLATE']
