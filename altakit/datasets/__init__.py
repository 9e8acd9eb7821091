"""Typed sample datasets and their adapters (PyTorch, TensorFlow, polars / pandas).

The core (:mod:`altakit.datasets.dataset`) needs neither torch nor tensorflow; the
adapters import them on use.
"""
