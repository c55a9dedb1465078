"""``SupervisedFinetune``: an mmengine model around a Hugging Face causal LM.

The loss is computed here, not by the HF model: labels arrive already shifted per sample
(see ``default_collate_fn``), and the loss is the mean over every trained token of the
global batch: all sequence-parallel shards, all data-parallel ranks and all gradient
accumulation steps (``xtuner.engine.runner.loss_scale`` explains the scaling), so loss and
gradients do not depend on how the work is laid out.
"""
import logging
import math
from collections import OrderedDict

import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel

from xtuner.model import attention
from xtuner.parallel.context import parallel_context
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


def _forget_frozen_missing_keys(module, incompatible_keys):
    frozen = {n for n, p in module.named_parameters() if not p.requires_grad}
    frozen |= {n for n, _ in module.named_buffers()}
    incompatible_keys.missing_keys[:] = [k for k in incompatible_keys.missing_keys
                                         if k not in frozen]


# Packing boundaries passed to the attention function (names transformers uses for them).
_ATTN_KWARGS = ('cu_seq_lens_q', 'cu_seq_lens_k', 'max_length_q', 'max_length_k')


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
        attn_backend (str): 'auto' (flash-attn, torch varlen on GPU; SDPA per sample on CPU)
            or one of ``xtuner.model.attention.BACKENDS``.
    """

    def __init__(self, llm, lora=None, peft_model=None, use_activation_checkpointing=True,
                 use_varlen_attn=False, tokenizer=None, max_position_embeddings=None,
                 attn_backend='auto'):
        super().__init__()
        if max_position_embeddings is not None:
            llm = _extend_context(llm, max_position_embeddings)
        self.llm = build(llm)
        self.use_varlen_attn = use_varlen_attn
        self._use_xtuner_attention(attn_backend)
        self.llm.config.use_cache = False  # the KV cache also disables packed-sample masking
        if tokenizer is not None:
            self._fit_vocab(build(tokenizer))
        self.use_activation_checkpointing = use_activation_checkpointing
        if use_activation_checkpointing:
            self.gradient_checkpointing_enable()
        self.use_lora = lora is not None or peft_model is not None
        if self.use_lora:
            self._add_lora(lora, peft_model)
            # resuming a LoRA checkpoint (trainable weights only) is not "missing" the rest
            self.register_load_state_dict_post_hook(_forget_frozen_missing_keys)

    def _use_xtuner_attention(self, backend):
        """Route attention through xtuner's function; check sp can split the heads."""
        name = attention.register(backend)
        config = getattr(self.llm.config, 'text_config', None) or self.llm.config
        sp = parallel_context.sp_size
        if sp > 1:
            attention.kv_repeats_for_sp(config.num_attention_heads,
                                        getattr(config, 'num_key_value_heads', None)
                                        or config.num_attention_heads, sp)
        try:
            self.llm.set_attn_implementation(name)
        except (AttributeError, ValueError) as err:
            if sp > 1:
                raise ValueError(f'{type(self.llm).__name__} does not take xtuner attention '
                                 f'({err}); sequence parallelism needs it') from err
            print_log(f'{type(self.llm).__name__} keeps its own attention ({err}); packed '
                      'samples stay apart through position_ids', logger='current',
                      level=logging.WARNING)

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

    def init_weights(self):
        """Nothing to do: the weights come from the HF model (mmengine would otherwise walk
        them for its init report, which fails on 4-bit quantized weights)."""

    def state_dict(self, *args, **kwargs):
        """All weights; with LoRA only the trainable ones (checkpoints stay adapter-sized)."""
        state = super().state_dict(*args, **kwargs)
        if not self.use_lora:
            return state
        prefix = kwargs.get('prefix', '')
        trainable = {prefix + n for n, p in self.named_parameters() if p.requires_grad}
        return OrderedDict((k, v) for k, v in state.items() if k in trainable)

    def forward(self, data, data_samples=None, mode='loss'):
        if mode == 'loss':
            return self.compute_loss(data)
        if mode in ('tensor', 'predict'):
            return self._logits(data)
        raise NotImplementedError(f'mode {mode!r}; use loss, tensor or predict')

    def _logits(self, data):
        kwargs = {k: data[k] for k in _ATTN_KWARGS if data.get(k) is not None}
        return self.llm(input_ids=data['input_ids'], position_ids=data.get('position_ids'),
                        attention_mask=data.get('attention_mask'), use_cache=False,
                        **kwargs).logits

    def compute_loss(self, data):
        """This rank's share of the global token-mean loss (labels already shifted).

        ``data['loss_denominator']`` (set by ``TrainLoop``) is the global count of trained
        tokens in the accumulation window over world size × window length; without it the
        window is this step alone. ``loss_for_log`` is the step's global token mean.
        """
        loss_sum, num_tokens = token_loss_sum(self._logits(data), data['labels'])
        denominator = data.get('loss_denominator')
        stats = torch.stack([loss_sum.detach(), num_tokens.to(loss_sum.dtype)])
        if dist.is_initialized():
            dist.all_reduce(stats)
        if denominator is None:
            denominator = stats[1].clamp(min=1) / (dist.get_world_size()
                                                  if dist.is_initialized() else 1)
        return {'loss': loss_sum / denominator,
                'loss_for_log': stats[0] / stats[1].clamp(min=1)}

    def parse_losses(self, losses):
        """Backward on ``loss``; log the global token mean as ``loss``."""
        log_vars = {'loss': losses['loss_for_log'].detach()}
        return losses['loss'], log_vars

    def gradient_checkpointing_enable(self):
        kwargs = {'use_reentrant': False}
        if hasattr(self.llm, 'activation_checkpointing_enable'):  # transformers >= 5.23
            self.llm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            self.llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)

    def gradient_checkpointing_disable(self):
        self.llm.gradient_checkpointing_disable()
