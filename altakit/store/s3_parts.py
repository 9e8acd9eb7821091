"""Streamed S3 writes: bytes gathered in part-sized buffers, uploaded in parallel on commit.

:meth:`S3Store.open_writer <altakit.store.base.Store.open_writer>` spools into a
:class:`PartSpool`: every byte is copied once, into a buffer of exactly one
multipart part, while a second thread hashes the filled spans. A version's object
name holds its size and checksum, so the object can only be created once the
producer is done; then :func:`upload_parts` sends the buffers as they are (no
join into one large buffer, no re-reading through a transfer manager): one PUT
for a small object, else a multipart upload of the parts on a thread pool whose
buffers are freed as their parts land. A multipart upload is invisible until it
completes and is aborted on any failure, so a failed, aborted or interrupted
write leaves neither a version nor an open upload behind.

Why parts are not sent while the producer still writes: S3 binds a multipart
upload to its final key when it starts, and that key (the version name) holds
the size and checksum, known only at the end. Uploading to a temporary key and
copying it into place makes the server pass over every byte a second time (a
server-side copy: ~0.7 s per 200 MB on loopback moto, seconds on AWS), far more
than overlapping the producer (~0.2 s of ``torch.save`` per 200 MB) could save.

Example:
    >>> spool = PartSpool(5 * 1024 * 1024)
    >>> spool.write(memoryview(b"abc"))
    >>> staged = spool.finish()
    >>> staged.size, [bytes(p) for p in staged.parts]
    (3, [b'abc'])
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from altakit.errors import NotFound
from altakit.store.stream import Spool

if TYPE_CHECKING:
    from altakit.store.s3 import S3Store

__all__ = ["PartSpool", "StagedParts", "upload_parts"]

log = logging.getLogger(__name__)
#: Checksum the server verifies for every part and keeps for the object (what boto3's
#: ``upload_fileobj`` asks for too); the store's own SHA-256 is checked on every read.
CHECKSUM = "CRC32"
_CHECKSUM_FIELD = "ChecksumCRC32"


class StagedParts:
    """A version's bytes, in order, as part buffers (the last one may be shorter).

    Attributes:
        parts: One buffer per part; an entry becomes None once it is uploaded.
            A ``memoryview`` part is copied to ``bytes`` only when it is sent.
        size: Total bytes.
    """

    def __init__(self, parts: list[bytearray] | list[memoryview], size: int) -> None:
        self.parts: list[bytearray | memoryview | None] = list(parts)
        self.size = size

    @classmethod
    def of_view(cls, view: memoryview, part_size: int) -> StagedParts:
        """Bytes already in memory, cut into parts without copying them.

        Example:
            >>> [bytes(p) for p in StagedParts.of_view(memoryview(b"abcde"), 2).parts]
            [b'ab', b'cd', b'e']
        """
        return cls([view[i : i + part_size] for i in range(0, view.nbytes, part_size)], view.nbytes)

    def release(self) -> None:
        """Drop every buffer."""
        self.parts = []


class PartSpool(Spool):
    """Bytes copied once into buffers of ``part_size`` bytes, hashed on a second thread.

    The buffers are allocated at full size and never resized, so the hashing
    thread reads filled spans of a buffer while the producer fills the rest.

    Args:
        part_size: Bytes per buffer: the part size of the multipart upload.
    """

    def __init__(self, part_size: int) -> None:
        self.part_size = part_size
        self._parts: list[bytearray] = []
        self._fill = part_size  # bytes used in the last buffer (full: allocate on the next write)
        super().__init__()

    def finish(self) -> StagedParts:
        """Wait for the hash; return the buffers, the last one trimmed to its bytes."""
        self._stop()  # the hashing thread must let go of the buffers before one is trimmed
        parts, self._parts = self._parts, []
        if parts and self._fill < self.part_size:
            del parts[-1][self._fill :]
        return StagedParts(parts, self.size)

    def discard(self) -> None:
        super().discard()
        self._parts = []

    def _append(self, view: memoryview) -> None:
        while view.nbytes:
            if self._fill == self.part_size:
                self._parts.append(bytearray(self.part_size))
                self._fill = 0
            n = min(view.nbytes, self.part_size - self._fill)
            self._parts[-1][self._fill : self._fill + n] = view[:n]
            self._fill += n
            view = view[n:]

    def _hash_span(self, start: int, stop: int) -> None:
        while start < stop:
            index, offset = divmod(start, self.part_size)
            end = min(stop - start, self.part_size - offset) + offset
            with memoryview(self._parts[index]) as whole, whole[offset:end] as span:
                self._hash.update(span)
            start += end - offset


def upload_parts(store: S3Store, name: str, staged: StagedParts) -> None:
    """Create object ``name`` from staged parts: one PUT when small, else a multipart upload.

    Parts upload on up to ``store.max_concurrency`` threads, each retried like
    any request of the store; a buffer is freed as soon as its part is stored.
    On any failure (an exhausted retry, an interrupt) the parts still in flight
    are waited for and the upload is aborted: nothing becomes visible.

    Raises:
        StoreUnavailable: A request kept failing; the upload was aborted.
    """
    key = store._key(name)
    client = store._client()
    parts = staged.parts
    if staged.size < store.multipart_threshold or len(parts) <= 1:
        body: Any = _sendable(parts[0]) if len(parts) == 1 else b"".join(p for p in parts if p is not None)
        staged.release()
        store._call("put", name, lambda: client.put_object(Bucket=store.bucket, Key=key, Body=body))
        return
    upload_id: str | None = None  # set once the server has made the upload

    def send(index: int) -> dict[str, Any]:
        part = parts[index]
        assert part is not None
        body = _sendable(part)
        number = index + 1
        resp = store._call(
            "upload_part",
            f"{name} part {number}",
            lambda: _answered(
                client.upload_part(
                    Bucket=store.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,
                    ChecksumAlgorithm=CHECKSUM,
                ),
                "ETag",
            ),
        )
        parts[index] = None  # stored: let the memory go
        entry = {"PartNumber": number, "ETag": resp["ETag"]}
        if resp.get(_CHECKSUM_FIELD):
            entry[_CHECKSUM_FIELD] = resp[_CHECKSUM_FIELD]
        return entry

    try:
        upload_id = store._call(
            "create_multipart_upload",
            name,
            lambda: _answered(
                client.create_multipart_upload(Bucket=store.bucket, Key=key, ChecksumAlgorithm=CHECKSUM),
                "UploadId",
            ),
        )["UploadId"]
        with ThreadPoolExecutor(
            min(store.max_concurrency, len(parts)), thread_name_prefix="altakit-s3-part"
        ) as pool:
            futures: list[Future[dict[str, Any]]] = [pool.submit(send, i) for i in range(len(parts))]
            try:
                done = [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()  # leaving the pool waits for the parts already in flight
                raise
        _complete(store, name, key, upload_id, done, staged.size)
    except Exception:
        if upload_id is not None:
            _abort(store, name, key, upload_id)
        raise
    except BaseException:  # an interrupt, maybe after the server made the upload but before its id came
        _abort(store, name, key, upload_id)
        raise
    finally:
        staged.release()


def _answered(resp: dict[str, Any], field: str) -> dict[str, Any]:
    """``resp`` if it holds ``field``; else the answer was cut short (a transient fault, retried)."""
    if not resp.get(field):
        raise ConnectionError(f"the answer lacks {field}: the connection was cut")
    return resp


def _sendable(part: bytearray | memoryview | None) -> bytes | bytearray:
    """A body botocore sends as it is (it takes bytes and bytearrays, not memoryviews)."""
    assert part is not None
    return part.tobytes() if isinstance(part, memoryview) else part


def _complete(
    store: S3Store, name: str, key: str, upload_id: str, done: list[dict[str, Any]], size: int
) -> None:
    """Complete the upload; a retry that finds it gone checks whether the first try did it."""
    client = store._client()
    attempts = 0

    def complete() -> Any:
        nonlocal attempts
        attempts += 1
        return client.complete_multipart_upload(
            Bucket=store.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
        )

    try:
        store._call("complete_multipart_upload", name, complete)
    except NotFound:
        if attempts < 2:
            raise
        # the first try completed it and only its answer was lost: the object is there
        head = store._call("head", name, lambda: client.head_object(Bucket=store.bucket, Key=key))
        if head.get("ContentLength") != size:
            raise


def _abort(store: S3Store, name: str, key: str, upload_id: str | None) -> None:
    """Abort a multipart upload (every one open on ``key`` if its id is unknown).

    Version names are unique, so any upload open on ``key`` is this write's. A
    failure to abort is logged: the upload stays invisible, and an
    ``AbortIncompleteMultipartUpload`` lifecycle rule on the bucket removes it.
    """
    client = store._client()
    try:
        if upload_id is not None:
            ids = [upload_id]
        else:
            found = store._call(
                "list_multipart_uploads",
                name,
                lambda: client.list_multipart_uploads(Bucket=store.bucket, Prefix=key),
            )
            ids = [u["UploadId"] for u in found.get("Uploads", ()) if u["Key"] == key]
        for uid in ids:
            store._call(
                "abort_multipart_upload",
                name,
                functools.partial(client.abort_multipart_upload, Bucket=store.bucket, Key=key, UploadId=uid),
            )
    except Exception as exc:
        log.warning("could not abort the multipart upload of %s (%s); it stays invisible", name, exc)
