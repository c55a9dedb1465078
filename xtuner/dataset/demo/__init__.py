"""xtuner's own demo data, shipped with the package.

``ALPACA_DEMO``: path of ``alpaca_demo.jsonl``, 400 short instruction rows in Alpaca format
(``instruction``, ``input``, ``output``), written by ``make_alpaca_demo.py``.
"""
import os.path as osp

ALPACA_DEMO = osp.join(osp.dirname(osp.abspath(__file__)), 'alpaca_demo.jsonl')

__all__ = ['ALPACA_DEMO']
