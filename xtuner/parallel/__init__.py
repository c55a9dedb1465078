from .context import ParallelContext, parallel_context

__all__ = ['ParallelContext', 'parallel_context']
