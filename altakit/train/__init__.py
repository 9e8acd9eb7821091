"""Training: checkpoints in the store, run records from the event stream, a model registry.

Framework code lives in :mod:`altakit.train.torch`, :mod:`altakit.train.lightning`
and :mod:`altakit.train.keras` (imported only when used); everything imported
here is framework-free. :mod:`altakit.train.live`: a run's curves as they grow
(:func:`live_metrics`) and stopping it from anywhere (:func:`request_stop`, :class:`StopCheck`).

Example:
    >>> import tempfile, altakit
    >>> from altakit.train import Checkpointer, ModelRegistry
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> Checkpointer(store, "demo").save(b"state", step=1).step
    1
    >>> ModelRegistry(store).list()
    []
"""

from altakit.events import Event, EventStream, TqdmProgress
from altakit.train.checkpoint import Checkpoint, Checkpointer, Restored
from altakit.train.live import StopCheck, live_metrics, request_stop
from altakit.train.recorder import RunRecorder
from altakit.train.registry import ModelRegistry

__all__ = [
    "Checkpoint",
    "Checkpointer",
    "Event",
    "EventStream",
    "ModelRegistry",
    "Restored",
    "RunRecorder",
    "StopCheck",
    "TqdmProgress",
    "live_metrics",
    "request_stop",
]
