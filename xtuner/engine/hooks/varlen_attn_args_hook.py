"""``VarlenAttnArgsToMessageHubHook``, kept for XTuner 0.2 configs.

xtuner passes sample boundaries to attention as arguments, so training does not need this
hook. It still publishes ``cumulative_len_rank_{rank}`` and ``max_seqlen_rank_{rank}`` in
the message hub during each iteration, for user code written against XTuner 0.2.
"""
from mmengine.dist import get_rank
from mmengine.hooks import Hook

__all__ = ['VarlenAttnArgsToMessageHubHook']


class VarlenAttnArgsToMessageHubHook(Hook):

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        data = data_batch['data'] if 'data' in data_batch else data_batch
        cumulative = data.get('cumulative_len')
        if cumulative is None:
            return
        rank = get_rank()
        max_seqlen = max(int((cu[1:] - cu[:-1]).max()) for cu in cumulative)
        runner.message_hub.update_info(f'cumulative_len_rank_{rank}', cumulative)
        runner.message_hub.update_info(f'max_seqlen_rank_{rank}', max_seqlen)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        rank = get_rank()
        for key in (f'cumulative_len_rank_{rank}', f'max_seqlen_rank_{rank}'):
            runner.message_hub.runtime_info.pop(key, None)
