"""``TrainLoop``: mmengine's iteration loop that also takes ``max_epochs`` (XTuner 0.2)."""
import logging

from mmengine.runner import IterBasedTrainLoop

from .loss_scale import TokenCountingIterator

__all__ = ['TrainLoop']


class TrainLoop(IterBasedTrainLoop):
    """Train for ``max_iters`` iterations, or ``max_epochs`` passes over the dataloader.

    Checkpoints, logging and resume are by iteration either way (a resumed run skips the
    batches already trained and continues with the next one).
    """

    def __init__(self, runner, dataloader, max_iters=None, max_epochs=None, **kwargs):
        if (max_iters is None) == (max_epochs is None):
            raise ValueError('TrainLoop needs exactly one of max_iters and max_epochs')
        if max_epochs is not None:
            dataloader = runner.build_dataloader(dataloader, seed=runner.seed) \
                if isinstance(dataloader, dict) else dataloader
            max_iters = int(max_epochs * len(dataloader))
            runner.logger.info(f'{max_epochs} epochs of {len(dataloader)} iterations: '
                               f'max_iters={max_iters}')
            _drop_empty_epoch_schedulers(runner, len(dataloader))
        super().__init__(runner, dataloader, max_iters=max_iters, **kwargs)

    def run(self):
        """Train; every batch carries the loss denominator of its optimizer step."""
        accum = getattr(self.runner.optim_wrapper, '_accumulative_counts', 1)
        # The base loop skips the batches a resumed run already trained by calling next()
        # on this iterator, so counting from 0 keeps windows aligned to optimizer steps.
        self.dataloader_iterator = TokenCountingIterator(self.dataloader_iterator, accum,
                                                         self._max_iters)
        return super().run()


def _drop_empty_epoch_schedulers(runner, epoch_length):
    """Drop epoch-based schedulers that span no iteration once converted (a 3% warm-up of a
    short run rounds to 0 iterations, which mmengine rejects with an obscure error)."""
    schedulers = runner.param_schedulers
    if not isinstance(schedulers, list):
        return
    kept = []
    for cfg in schedulers:
        if isinstance(cfg, dict) and cfg.get('by_epoch', True) and cfg.get(
                'convert_to_iter_based', False) and 'end' in cfg:
            begin = int(cfg.get('begin', 0) * epoch_length)
            end = int(cfg['end'] * epoch_length)
            if end <= begin:
                runner.logger.log(logging.WARNING, f'{_name(cfg)} spans epochs '
                                  f'{cfg.get("begin", 0)}..{cfg["end"]}, less than one of the '
                                  f'{epoch_length} iterations per epoch: skipped')
                continue
        kept.append(cfg)
    runner.param_schedulers = kept


def _name(cfg):
    kind = cfg.get('type')
    return getattr(kind, '__name__', str(kind))
