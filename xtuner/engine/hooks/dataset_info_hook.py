"""``DatasetInfoHook``: log the dataset size and the first sample, decoded, before training."""
from mmengine.hooks import Hook

from xtuner.registry import build

__all__ = ['DatasetInfoHook']


class DatasetInfoHook(Hook):
    """Args: tokenizer (object or config); is_intern_repo_dataset (XTuner 0.2, ignored)."""

    def __init__(self, tokenizer, is_intern_repo_dataset=False):
        self.tokenizer = build(tokenizer)

    def _log(self, runner, mode, dataset):
        runner.logger.info(f'Num {mode} samples {len(dataset)}')
        sample = dataset[0]
        runner.logger.info(f'{mode} example (first row, {len(sample["input_ids"])} tokens):')
        runner.logger.info(self.tokenizer.decode(sample['input_ids'], skip_special_tokens=False))

    def before_train(self, runner):
        self._log(runner, 'train', runner.train_dataloader.dataset)
