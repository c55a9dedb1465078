from .default_collate_fn import default_collate_fn, shift_labels

__all__ = ['default_collate_fn', 'shift_labels']
