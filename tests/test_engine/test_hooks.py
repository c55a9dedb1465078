"""DatasetInfoHook, EvaluateChatHook, HFCheckpointHook, VarlenAttnArgsToMessageHubHook."""
from types import SimpleNamespace
from unittest import mock

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub

from xtuner.dataset.collate_fns import default_collate_fn
from xtuner.engine.hooks import (DatasetInfoHook, EvaluateChatHook, HFCheckpointHook,
                                 VarlenAttnArgsToMessageHubHook)
from xtuner.model import SupervisedFinetune
from xtuner.utils import PROMPT_TEMPLATE


def _runner(model=None, dataset=None, work_dir='.', cfg=None):
    return SimpleNamespace(model=model, logger=mock.Mock(), work_dir=work_dir,
                           cfg=Config(cfg or {}), message_hub=MessageHub.get_instance('hooks'),
                           train_dataloader=SimpleNamespace(dataset=dataset), iter=0,
                           max_iters=10)


def test_dataset_info_hook_logs_first_row_with_trained_tokens_marked(byte_tokenizer):
    row = {'input_ids': [256, 113, 58, 104, 105, 257, 10],
           'labels': [-100, -100, -100, 104, 105, 257, -100]}
    runner = _runner(dataset=[row, {'input_ids': [1], 'labels': [1]}])
    DatasetInfoHook(byte_tokenizer).before_train(runner)
    assert [c.args[0] for c in runner.logger.info.call_args_list] == [
        'Num train samples 2',
        'train example (first row, 7 tokens; trained tokens in [[ ]]):',
        '<|bos|>q:[[hi<|eos|>]]\n']


def test_evaluate_chat_hook_prompts_with_template_saves_and_restores_train_mode(
        byte_tokenizer, make_tiny_llama, tmp_path):
    import json
    model = SupervisedFinetune(make_tiny_llama(), use_activation_checkpointing=False)
    model.train()
    hook = EvaluateChatHook(byte_tokenizer, ['hi', 'yo'], system='S',
                            prompt_template=PROMPT_TEMPLATE.chatml, max_new_tokens=3)
    runner = _runner(model=model, work_dir=str(tmp_path))
    hook.before_train(runner)
    logged = runner.logger.info.call_args_list[-1].args[0]
    # the prompt exactly as training encodes the turn: bos, system, user, assistant header
    prompt = ('<|bos|><|im_start|>system\nS<|im_end|>\n<|im_start|>user\nyo<|im_end|>\n'
              '<|im_start|>assistant\n')
    assert logged.startswith('Sample output:\n' + prompt)
    saved = [json.loads(line) for line in open(tmp_path / 'eval_chat.jsonl')]
    assert [(r['iter'], r['prompt']) for r in saved] == [(0, 'hi'), (0, 'yo')]
    assert logged == f'Sample output:\n{prompt}{saved[1]["answer"]}\n'
    assert model.llm.training and model.llm.config.use_cache is False


def test_hf_checkpoint_hook_saves_a_loadable_model(byte_tokenizer, make_tiny_llama, tmp_path):
    from transformers import AutoModelForCausalLM

    from xtuner.utils.byte_tokenizer import build_byte_tokenizer
    model = SupervisedFinetune(make_tiny_llama(), use_activation_checkpointing=False)
    runner = _runner(model=model, work_dir=str(tmp_path),
                     cfg=dict(tokenizer=dict(type=build_byte_tokenizer)))
    HFCheckpointHook().after_run(runner)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / 'hf_model')
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model.llm(ids).logits)
    assert (tmp_path / 'hf_model' / 'tokenizer.json').exists()


def test_varlen_hook_publishes_and_clears_boundaries():
    runner = _runner()
    batch = default_collate_fn([{'input_ids': [1] * 5, 'labels': [1] * 5,
                                 'cumulative_len': [0, 2, 5]}])
    hook = VarlenAttnArgsToMessageHubHook()
    hook.before_train_iter(runner, 0, batch)
    hub = runner.message_hub
    assert hub.get_info('max_seqlen_rank_0') == 3
    assert hub.get_info('cumulative_len_rank_0')[0].tolist() == [0, 2, 5]
    hook.after_train_iter(runner, 0, batch)
    assert hub.get_info('max_seqlen_rank_0') is None
