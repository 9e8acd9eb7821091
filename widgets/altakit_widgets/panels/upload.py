"""ChunkedUpload: a file upload that reaches the kernel in slices, for files of any size.

ipywidgets' ``FileUpload`` sends the whole file as one WebSocket message, and Jupyter's and
Voila's server close the page's connection on a message over 10 MiB. This anywidget
(``upload.js`` beside this module) reads the picked file in :data:`CHUNK` slices and sends
each as a custom message with a binary buffer, the next only after the kernel's ack. The
widget only moves bytes: each upload goes into a spool the owner opens
(``open_spool(name, size)``, e.g. :func:`~altakit_widgets.panels.safety.upload_spool`, which
checks the limits and hashes into a temp file); at the end ``on_received(spool)`` keeps it.
A refused chunk, a Cancel, a new pick or a closed page discards the spool.

Messages (view → kernel): ``start {id, name, size}``, ``chunk {id, offset}`` + one buffer,
``end {id}``, ``cancel {id}``; (kernel → view): ``ack {id, received}``, ``done {id, ok}``,
``refused {id, message}``.

Example:
    >>> from altakit.ingestion.uploads import UploadSpool
    >>> kept = []
    >>> upload = ChunkedUpload(open_spool=UploadSpool, on_received=lambda s: kept.append(s.size) or True)
    >>> upload.receive("day1.csv", b"ts,value\\n" * 1000, chunk=4096)
    True
    >>> kept, upload.received, upload.size, upload.filename
    ([9000], 9000, 9000, 'day1.csv')
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import anywidget
import traitlets

HERE = Path(__file__).parent
#: Bytes per slice the browser sends (one message each; the server's cap is 10 MiB).
CHUNK = 4 * 1024 * 1024
#: How the kernel answers the view (``widget.send``, or a list's ``append`` in :meth:`ChunkedUpload.receive`).
Reply = Callable[[dict[str, Any]], None]


class Spool(Protocol):
    """Where an upload's chunks go (:class:`altakit.ingestion.uploads.UploadSpool`)."""

    def write(self, data: bytes | bytearray | memoryview) -> int: ...

    def discard(self) -> None: ...


class ChunkedUpload(anywidget.AnyWidget):  # type: ignore[misc]
    """A file picker whose file reaches the kernel in acknowledged slices.

    Args:
        open_spool: ``(name, announced size) -> spool``; what it raises refuses the upload.
        on_received: Called with the spool when the last chunk arrived; returns whether the upload
            was kept (the view is told either way).
        on_error: Called with what refused an upload (a limit passed, a failed write).
        accept: The file name endings the browser's chooser offers.

    Attributes:
        filename: The file being (or last) received.
        size: Its announced size in bytes.
        received: The bytes received so far (follow it for a progress bar).
    """

    _esm = HERE / "upload.js"
    accept = traitlets.Unicode("").tag(sync=True)
    label = traitlets.Unicode("Upload").tag(sync=True)
    chunk_bytes = traitlets.Int(CHUNK).tag(sync=True)
    filename = traitlets.Unicode("")
    size = traitlets.Int(0)
    received = traitlets.Int(0)

    def __init__(
        self,
        *,
        open_spool: Callable[[str, int], Spool],
        on_received: Callable[[Any], bool],
        on_error: Callable[[BaseException], None] | None = None,
        accept: str = "",
    ) -> None:
        super().__init__(accept=accept)
        self._open_spool, self._on_received, self._on_error = open_spool, on_received, on_error
        self._lock = threading.RLock()
        self._id: str | None = None
        self._spool: Spool | None = None
        self.on_msg(self._message)

    def receive(self, name: str, data: bytes, *, chunk: int = CHUNK) -> bool:
        """Take ``data`` through the same messages a browser sends (a notebook or a test uploads a file)."""
        replies: list[dict[str, Any]] = []
        ident = f"local-{id(data)}"
        self._handle({"type": "start", "id": ident, "name": name, "size": len(data)}, [], replies.append)
        view = memoryview(data)
        for offset in range(0, len(data), chunk):
            if replies[-1]["type"] != "ack":
                return False
            piece = [view[offset : offset + chunk]]
            self._handle({"type": "chunk", "id": ident, "offset": offset}, piece, replies.append)
        if replies[-1]["type"] != "ack":
            return False
        self._handle({"type": "end", "id": ident}, [], replies.append)
        return replies[-1]["type"] == "done" and bool(replies[-1]["ok"])

    def cancel(self) -> None:
        """Drop the upload in flight, if any."""
        with self._lock:
            self._drop()

    # ------------------------------------------------------------------ messages
    def _message(self, _: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and isinstance(content.get("id"), str):
            self._handle(content, list(buffers or []), self.send)

    def _handle(
        self, msg: dict[str, Any], buffers: list[Any], reply: Callable[[dict[str, Any]], None]
    ) -> None:
        kind, ident = msg.get("type"), msg["id"]
        with self._lock:
            if kind == "start":
                self._drop()
                self._id, self.filename = ident, str(msg.get("name", ""))
                self.size, self.received = int(msg.get("size") or 0), 0
                name, size = self.filename, self.size
                if self._step(ident, reply, lambda: self._start(name, size))[0]:
                    reply({"type": "ack", "id": ident, "received": 0})
            elif ident != self._id or self._spool is None:
                if kind != "cancel":  # a stale view's message: that upload is gone
                    reply({"type": "refused", "id": ident, "message": "this upload was cancelled"})
            elif kind == "chunk" and buffers:
                spool, data, at = self._spool, buffers[0], msg.get("offset")
                if self._step(ident, reply, lambda: self._write(spool, data, at))[0]:
                    self.received = int(self.received + memoryview(data).nbytes)
                    reply({"type": "ack", "id": ident, "received": self.received})
            elif kind == "end":
                spool, self._spool, self._id = self._spool, None, None
                done, kept = self._step(ident, reply, lambda: self._on_received(spool))
                if not kept:
                    spool.discard()  # not kept: its temp file goes now, not at garbage collection
                if done:
                    reply({"type": "done", "id": ident, "ok": bool(kept)})
            elif kind == "cancel":
                self._drop()

    def _write(self, spool: Any, data: Any, at: Any) -> None:
        """Append a chunk sent for the place the file has reached (a re-sent or reordered one is refused)."""
        from altakit.errors import ConfigError

        if at != self.received:
            raise ConfigError(
                f"a piece of {self.filename} arrived for byte {at}, not {self.received}",
                hint="pick the file again to upload it",
            )
        spool.write(data)

    def _start(self, name: str, size: int) -> None:
        self._spool = self._open_spool(name, size)

    def _step(self, ident: str, reply: Reply, do: Callable[[], Any]) -> tuple[bool, Any]:
        """Run one step of an upload: (done, its result); what it raises ends the upload and is shown."""
        try:
            return True, do()
        except Exception as exc:  # the owner shows it (a limit passed, a full disk …)
            self._drop()
            reply({"type": "refused", "id": ident, "message": str(exc)})
            if self._on_error is not None:
                self._on_error(exc)
            return False, None

    def _drop(self) -> None:
        spool, self._spool, self._id = self._spool, None, None
        if spool is not None:
            spool.discard()
