"""``SupervisedFinetune``: an mmengine model around a Hugging Face causal LM.

The loss is computed here, not by the HF model: labels arrive already shifted per sample
(see ``default_collate_fn``), and the reduction is a token mean we control (a sum over
trained tokens divided by their count).
"""
import math

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel

from xtuner.registry import build
from xtuner.utils.constants import IGNORE_INDEX

__all__ = ['SupervisedFinetune', 'token_loss_sum']


def token_loss_sum(logits, labels):
    """Sum of cross-entropy over tokens whose label is not IGNORE_INDEX, and their count."""
    loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(),
                           ignore_index=IGNORE_INDEX, reduction='sum')
    return loss, (labels != IGNORE_INDEX).sum()


def _extend_context(llm_cfg, max_position_embeddings):
    """Linear RoPE scaling so a model trains at a context longer than it was built for."""
    if not (isinstance(llm_cfg, dict) and 'pretrained_model_name_or_path' in llm_cfg):
        raise ValueError('max_position_embeddings needs llm=dict(type=...from_pretrained, '
                         'pretrained_model_name_or_path=...)')
    from transformers import AutoConfig
    config = llm_cfg.get('config') or AutoConfig.from_pretrained(
        llm_cfg['pretrained_model_name_or_path'],
        trust_remote_code=llm_cfg.get('trust_remote_code', False))
    orig = getattr(config, 'max_position_embeddings', None)
    if orig and max_position_embeddings > orig:
        factor = float(math.ceil(max_position_embeddings / orig))
        if isinstance(getattr(config, 'rope_parameters', None), dict):
            config.rope_parameters = {**config.rope_parameters, 'rope_type': 'linear',
                                      'factor': factor}
        else:
            config.rope_scaling = {'type': 'linear', 'factor': factor}
        config.max_position_embeddings = max_position_embeddings
        print_log(f'RoPE scaled linearly by {factor} for {max_position_embeddings} positions',
                  logger='current')
    return {**llm_cfg, 'config': config}


class SupervisedFinetune(BaseModel):
    """Supervised fine-tuning of a causal LM (XTuner 0.2 signature).

    Args:
        llm: a ``transformers`` causal LM or its config.
        lora: a ``peft.LoraConfig`` (or its config) to train LoRA adapters only.
        peft_model (str | None): path of trained adapters to start from.
        use_activation_checkpointing (bool): recompute activations in backward.
        use_varlen_attn (bool): accepted for XTuner 0.2 configs; packed samples never see
            each other either way.
        tokenizer: when given and larger than the model's vocabulary, embeddings grow to fit.
        max_position_embeddings (int | None): train beyond the model's context (RoPE scaling).
    """

    def __init__(self, llm, lora=None, peft_model=None, use_activation_checkpointing=True,
                 use_varlen_attn=False, tokenizer=None, max_position_embeddings=None):
        super().__init__()
        if max_position_embeddings is not None:
            llm = _extend_context(llm, max_position_embeddings)
        self.llm = build(llm)
        self.use_varlen_attn = use_varlen_attn
        self.llm.config.use_cache = False  # the KV cache also disables packed-sample masking
        if tokenizer is not None:
            self._fit_vocab(build(tokenizer))
        self.use_activation_checkpointing = use_activation_checkpointing
        if use_activation_checkpointing:
            self.gradient_checkpointing_enable()
        self.use_lora = lora is not None or peft_model is not None
        if self.use_lora:
            self._add_lora(lora, peft_model)

    def _fit_vocab(self, tokenizer):
        n = len(tokenizer)
        if n > self.llm.get_input_embeddings().weight.shape[0]:
            self.llm.resize_token_embeddings(n)
            print_log(f'embeddings resized to the tokenizer: {n} tokens', logger='current')

    def _add_lora(self, lora, peft_model):
        from peft import PeftModel, get_peft_model, prepare_model_for_kbit_training
        if getattr(self.llm, 'is_loaded_in_4bit', False) or getattr(self.llm, 'is_loaded_in_8bit',
                                                                      False):
            self.llm = prepare_model_for_kbit_training(
                self.llm, use_gradient_checkpointing=self.use_activation_checkpointing)
        if self.use_activation_checkpointing:
            self.llm.enable_input_require_grads()
        if peft_model is not None:
            self.llm = PeftModel.from_pretrained(self.llm, peft_model, is_trainable=True)
            return
        lora = build(lora)
        if lora.target_modules is None:
            lora.target_modules = 'all-linear'
        self.llm = get_peft_model(self.llm, lora)

    def forward(self, data, data_samples=None, mode='loss'):
        if mode == 'loss':
            return self.compute_loss(data)
        if mode in ('tensor', 'predict'):
            return self._logits(data)
        raise NotImplementedError(f'mode {mode!r}; use loss, tensor or predict')

    def _logits(self, data):
        return self.llm(input_ids=data['input_ids'], position_ids=data.get('position_ids'),
                        attention_mask=data.get('attention_mask'), use_cache=False).logits

    def compute_loss(self, data):
        """Mean cross-entropy over the batch's trained tokens (labels already shifted)."""
        loss_sum, num_tokens = token_loss_sum(self._logits(data), data['labels'])
        return {'loss': loss_sum / num_tokens.clamp(min=1)}

    def gradient_checkpointing_enable(self):
        kwargs = {'use_reentrant': False}
        if hasattr(self.llm, 'activation_checkpointing_enable'):  # transformers >= 5.23
            self.llm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            self.llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)

    def gradient_checkpointing_disable(self):
        self.llm.gradient_checkpointing_disable()
