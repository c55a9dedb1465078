"""``EvaluateChatHook``: answer a few fixed prompts before, during and after training.

Answers are logged and appended to ``{work_dir}/eval_chat.jsonl`` (one JSON object per
answer: ``iter``, ``prompt``, ``answer``), so their change over training can be compared.
"""
import json
import os.path as osp

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from xtuner.dataset.chat_prompt import build_prompt_ids, cut_at_stop, stop_words
from xtuner.registry import build

__all__ = ['EvaluateChatHook']


class EvaluateChatHook(Hook):
    """Generate greedy answers to ``evaluation_inputs`` with the training prompt template.

    Args:
        tokenizer: tokenizer or its config.
        evaluation_inputs (str | list[str]): the prompts.
        system (str): system text, formatted with ``prompt_template.SYSTEM``.
        prompt_template (dict | None): an entry of ``PROMPT_TEMPLATE``; None sends the
            prompt as is.
        every_n_iters (int | None): also answer every this many iterations.
        max_new_tokens (int): generation length.
        stop_word / stop_words: extra texts that end an answer.
        generation_kwargs (dict): passed to ``generate``.
        evaluation_images, image_processor: multimodal; not supported (must be None).
    """
    priority = 'LOW'

    def __init__(self, tokenizer, evaluation_inputs, evaluation_images=None,
                 image_processor=None, system='', prompt_template=None, every_n_iters=None,
                 max_new_tokens=600, stop_word=None, stop_words=(), generation_kwargs=None):
        if evaluation_images is not None or image_processor is not None:
            raise NotImplementedError('EvaluateChatHook: images are not supported')
        self.tokenizer = build(tokenizer)
        self.inputs = [evaluation_inputs] if isinstance(evaluation_inputs, str) \
            else list(evaluation_inputs)
        self.every_n_iters = every_n_iters
        self.max_new_tokens = max_new_tokens
        self.extra_stop_words = list(stop_words) + ([stop_word] if stop_word else [])
        self.template = prompt_template
        self.system = system or ''
        self.generation_kwargs = dict(generation_kwargs or {})

    def _prompt_ids(self, text):
        """As training encodes the turn (template, system, bos), or the raw text without one."""
        if self.template is None:
            return self.tokenizer(text, add_special_tokens=False).input_ids
        return build_prompt_ids(self.tokenizer, self.template, self.system, [], text)

    @torch.no_grad()
    def _generate(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        llm = model.llm
        was_training, use_cache = llm.training, llm.config.use_cache
        llm.eval()
        llm.config.use_cache = True
        device = next(llm.parameters()).device
        eos = self.tokenizer.eos_token_id
        stops = stop_words(self.tokenizer, self.template, [eos] if eos is not None else [])
        stops += [w for w in self.extra_stop_words if w not in stops]
        for text in self.inputs:
            prompt = self._prompt_ids(text)
            ids = torch.tensor([prompt], device=device)
            out = llm.generate(ids, max_new_tokens=self.max_new_tokens, do_sample=False,
                               eos_token_id=eos,
                               pad_token_id=self.tokenizer.pad_token_id or eos,
                               stop_strings=stops or None,
                               tokenizer=self.tokenizer if stops else None,
                               **self.generation_kwargs)
            answer = self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=False)
            answer = cut_at_stop(answer, stops)[0]  # the answer ends before its stop word
            shown = self.tokenizer.decode(prompt, skip_special_tokens=False)
            runner.logger.info(f'Sample output:\n{shown}{answer}\n')
            self._save(runner, text, answer)
        llm.config.use_cache = use_cache
        llm.train(was_training)

    @staticmethod
    def _save(runner, prompt, answer):
        if not is_main_process():
            return
        with open(osp.join(runner.work_dir, 'eval_chat.jsonl'), 'a', encoding='utf-8') as f:
            f.write(json.dumps({'iter': runner.iter, 'prompt': prompt, 'answer': answer},
                               ensure_ascii=False) + '\n')

    def before_train(self, runner):
        runner.logger.info('before training, the model answers:')
        self._generate(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.every_n_iters and self.every_n_train_iters(runner, self.every_n_iters) \
                and runner.iter + 1 < runner.max_iters:
            self._generate(runner)

    def after_train(self, runner):
        runner.logger.info('after training, the model answers:')
        self._generate(runner)
