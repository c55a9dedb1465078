"""One object that holds the process layout: sequence-parallel (sp) and data-parallel groups.

World ranks are laid out sp-major: ranks ``[k*sp, (k+1)*sp)`` form sp group k, and the
ranks with the same position inside their sp group form one data-parallel group. With one
process (or before ``init``) every size is 1 and every group is None, so collectives on it
are no-ops.
"""
import torch.distributed as dist

__all__ = ['ParallelContext', 'parallel_context']


class ParallelContext:

    def __init__(self):
        self.sp_size = 1
        self.sp_group = None
        self.dp_group = None

    def init(self, sequence_parallel_size=1):
        """Build the groups; call once, after ``torch.distributed`` is initialised."""
        world = dist.get_world_size() if dist.is_initialized() else 1
        sp = int(sequence_parallel_size)
        if sp < 1 or world % sp:
            raise ValueError(f'sequence_parallel_size={sp} must divide the world size {world}')
        self.sp_size = sp
        if world == 1:
            return self
        rank = dist.get_rank()
        # new_group must be called by every rank for every group, in the same order.
        for k in range(world // sp):
            group = dist.new_group(list(range(k * sp, (k + 1) * sp)))
            if rank // sp == k:
                self.sp_group = group
        for j in range(sp):
            group = dist.new_group(list(range(j, world, sp)))
            if rank % sp == j:
                self.dp_group = group
        return self

    @property
    def world_size(self):
        return dist.get_world_size() if dist.is_initialized() else 1

    @property
    def rank(self):
        return dist.get_rank() if dist.is_initialized() else 0

    @property
    def sp_rank(self):
        return self.rank % self.sp_size

    @property
    def dp_size(self):
        return self.world_size // self.sp_size

    @property
    def dp_rank(self):
        return self.rank // self.sp_size


parallel_context = ParallelContext()
