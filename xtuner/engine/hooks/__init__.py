"""Training hooks (XTuner 0.2 import path: ``from xtuner.engine.hooks import ...``)."""
from .dataset_info_hook import DatasetInfoHook
from .evaluate_chat_hook import EvaluateChatHook
from .hf_checkpoint_hook import HFCheckpointHook
from .throughput_hook import ThroughputHook
from .varlen_attn_args_hook import VarlenAttnArgsToMessageHubHook

__all__ = ['DatasetInfoHook', 'EvaluateChatHook', 'HFCheckpointHook', 'ThroughputHook',
           'VarlenAttnArgsToMessageHubHook']
