"""Training: checkpoints in the store, an event stream, Keras and PyTorch helpers, a model registry.

Framework code lives in :mod:`altakit.train.torch` and :mod:`altakit.train.keras`
(imported only when used); everything else here is framework-free.

Example:
    >>> import tempfile, altakit
    >>> from altakit.train import Checkpointer
    >>> ckpt = Checkpointer(altakit.open_store(tempfile.mkdtemp()), "demo")
    >>> ckpt.save(b"state", step=1).step
    1
"""

from altakit.events import Event, EventStream, TqdmProgress
from altakit.train.checkpoint import Checkpoint, Checkpointer, Restored
from altakit.train.recorder import RunRecorder

__all__ = ["Checkpoint", "Checkpointer", "Event", "EventStream", "Restored", "RunRecorder", "TqdmProgress"]
