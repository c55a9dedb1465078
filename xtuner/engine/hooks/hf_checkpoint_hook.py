"""``HFCheckpointHook``: save the trained model as a Hugging Face dir when the run ends."""
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from xtuner.model.export import save_hf
from xtuner.registry import build

__all__ = ['HFCheckpointHook']


class HFCheckpointHook(Hook):
    """Args: out_dir (str | None): where to save; default ``{work_dir}/hf_model``."""
    priority = 95  # after CheckpointHook

    def __init__(self, out_dir=None):
        self.out_dir = out_dir

    def after_run(self, runner):
        if not is_main_process():
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        tokenizer = runner.cfg.get('tokenizer')
        out_dir = self.out_dir or osp.join(runner.work_dir, 'hf_model')
        save_hf(model, out_dir, tokenizer=build(tokenizer) if tokenizer else None)
        runner.logger.info(f'Hugging Face model saved to {out_dir}')
