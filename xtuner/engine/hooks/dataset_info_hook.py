"""``DatasetInfoHook``: before training, log the dataset size and its first row decoded, with
the trained tokens marked, so a wrong template or label mask is seen before hours are spent."""
from mmengine.hooks import Hook

from xtuner.registry import build
from xtuner.utils.constants import IGNORE_INDEX

__all__ = ['DatasetInfoHook', 'mark_trained']

OPEN, CLOSE = '[[', ']]'


def mark_trained(tokenizer, input_ids, labels):
    """Decode ``input_ids`` with each run of trained tokens (label != IGNORE_INDEX) in [[ ]]."""
    out, run, trained = [], [], None
    for token, label in zip(input_ids, labels):
        is_trained = label != IGNORE_INDEX
        if run and is_trained != trained:
            text = tokenizer.decode(run, skip_special_tokens=False)
            out.append(OPEN + text + CLOSE if trained else text)
            run = []
        run.append(token)
        trained = is_trained
    if run:
        text = tokenizer.decode(run, skip_special_tokens=False)
        out.append(OPEN + text + CLOSE if trained else text)
    return ''.join(out)


class DatasetInfoHook(Hook):
    """Args: tokenizer (object or config); is_intern_repo_dataset (XTuner 0.2, ignored)."""

    def __init__(self, tokenizer, is_intern_repo_dataset=False):
        self.tokenizer = build(tokenizer)

    def _log(self, runner, mode, dataset):
        runner.logger.info(f'Num {mode} samples {len(dataset)}')
        sample = dataset[0]
        ids = sample['input_ids']
        runner.logger.info(f'{mode} example (first row, {len(ids)} tokens; trained tokens in '
                           f'{OPEN} {CLOSE}):')
        labels = sample.get('labels')
        text = mark_trained(self.tokenizer, ids, labels) if labels is not None else \
            self.tokenizer.decode(ids, skip_special_tokens=False)
        runner.logger.info(text)

    def before_train(self, runner):
        self._log(runner, 'train', runner.train_dataloader.dataset)
