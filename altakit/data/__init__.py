"""Typed sample datasets and their adapters (PyTorch, TensorFlow, polars / pandas).

The core (:mod:`altakit.data.dataset`) needs neither torch nor tensorflow; the
adapters import them on use.
"""
