"""Versioned objects in an S3 bucket (AWS, MinIO, Ceph RGW, moto …).

Each version is one object ``<prefix>/<key>✹<id>~…`` written by a single PUT,
or for large objects by a multipart upload that becomes visible only when it
completes (and is aborted on failure), so a reader never sees a partial version.
Streamed writes (``open_writer``) gather in part-sized buffers and upload them in
parallel on commit (:mod:`altakit.store.s3_parts`). Listing the versions of a
key is one prefix listing. Reads use Range GETs; :meth:`S3Store.open` streams
one GET from the current position and reopens it after a seek or a dropped
connection. Transient faults (5xx, throttling, connection resets) are retried
with exponential backoff, then raise :class:`~altakit.errors.StoreUnavailable`.

Credentials come from the standard AWS chain (environment, ``profile=``,
shared config, instance roles) or from a mounted secret folder holding files
named ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` (OpenShift), given by
``credentials_dir=`` or ``$ALTAKIT_S3_CREDENTIALS_DIR``. Credentials in the URL
are refused.

Example:
    >>> import altakit
    >>> url = "s3://team-bucket/altakit"
    >>> store = altakit.open_store(url, endpoint_url="http://127.0.0.1:9000")  # doctest: +SKIP
    >>> store.put("raw/a.csv", b"x,y\\n1,2\\n").size  # doctest: +SKIP
    8
"""

from __future__ import annotations

import functools
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import unquote, urlsplit

import boto3
import botocore.exceptions as bex
from botocore.config import Config
from s3transfer.manager import TransferConfig, TransferManager

from altakit.errors import (
    AccessDenied,
    AltakitError,
    ConfigError,
    StoreUnavailable,
)
from altakit.store.base import Store
from altakit.store.credentials import check_store_url
from altakit.store.names import SEP, parse_name, validate_key
from altakit.store.readers import SeekableReader
from altakit.store.s3_faults import (
    CREDENTIALS_DIR_ENV,
    CREDENTIALS_HINT,
    is_transient,
    read_credentials_dir,
    translate,
)
from altakit.store.s3_parts import PartSpool, StagedParts, upload_parts
from altakit.store.sources import Source

__all__ = ["S3Store"]

log = logging.getLogger(__name__)
T = TypeVar("T")
MiB = 1024 * 1024
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MAX_COPY = 5 * 1024 * MiB  # copy_object's limit; larger objects use a managed multipart copy
_SKIP_LIMIT = 256 * 1024  # forward seeks up to this read on instead of reopening the stream


class S3Store(Store):
    """A versioned store under a prefix of an S3 bucket.

    Args:
        bucket: The bucket; it must exist.
        prefix: Folder inside the bucket (``""`` for the whole bucket).
        endpoint_url: S3-compatible endpoint (MinIO, Ceph, moto); default ``$AWS_ENDPOINT_URL_S3``,
            ``$AWS_ENDPOINT_URL``, the secret folder's ``AWS_ENDPOINT_URL``, else AWS.
        region: Region; default from the profile, environment or secret, else ``us-east-1``.
        profile: A profile of ``~/.aws/config``.
        credentials_dir: A mounted secret folder (see :func:`read_credentials_dir`);
            default ``$ALTAKIT_S3_CREDENTIALS_DIR``.
        attempts: Tries per request before :class:`StoreUnavailable` (default 5).
        backoff: First retry delay in seconds, doubled per retry (with jitter).
        max_backoff: Longest retry delay in seconds.
        multipart_threshold: Files and buffers this large upload in parts (default 16 MiB).
        part_size: Part size for multipart uploads and parallel ranged reads (default 16 MiB);
            a streamed write holds its bytes in buffers this large until each part is sent.
        max_concurrency: Parallel requests for one large upload, copy or read (default 10).
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait for data on an open connection.
        check: Check the bucket when opening (default True).
        writer: Name recorded as the writer of new versions.

    Example:
        >>> store = S3Store("team-bucket", "altakit", endpoint_url="http://127.0.0.1:9000")  # doctest: +SKIP
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        credentials_dir: str | os.PathLike | None = None,
        attempts: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 10.0,
        multipart_threshold: int = 16 * MiB,
        part_size: int = 16 * MiB,
        max_concurrency: int = 10,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        check: bool = True,
        writer: str | None = None,
    ) -> None:
        if not _BUCKET_RE.match(bucket or "") or ".." in bucket:
            raise ConfigError(
                f"invalid S3 bucket name {bucket!r}",
                bucket=bucket,
                hint="bucket names are 3-63 lowercase letters, digits, '.' or '-'",
            )
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
        if attempts < 1 or part_size < 5 * MiB or max_concurrency < 1:
            raise ConfigError(
                "S3 options out of range",
                hint="use attempts >= 1, part_size >= 5 MiB and max_concurrency >= 1",
            )
        super().__init__(f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}", writer=writer)
        self.bucket, self.prefix = bucket, prefix
        self._base = f"{prefix}/" if prefix else ""
        cdir = credentials_dir or os.environ.get(CREDENTIALS_DIR_ENV) or None
        self.credentials_dir = str(cdir) if cdir else None
        secret = read_credentials_dir(self.credentials_dir) if self.credentials_dir else {}
        self.profile = profile
        self.endpoint_url = (
            endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
            or secret.get("AWS_ENDPOINT_URL")
            or None
        )
        self.region = region or secret.get("AWS_REGION") or secret.get("AWS_DEFAULT_REGION")
        self.attempts, self.backoff, self.max_backoff = attempts, backoff, max_backoff
        self.multipart_threshold, self.part_size = multipart_threshold, part_size
        self.max_concurrency = max_concurrency
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._lock = threading.Lock()
        self._client_cache: tuple[int, Any, Any] | None = None  # (pid, session, client)
        if check:
            self.check()

    @classmethod
    def from_url(
        cls,
        url: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        credentials_dir: str | os.PathLike | None = None,
        **options: Any,
    ) -> S3Store:
        """Open ``s3://bucket/prefix``; see :class:`S3Store` for the options.

        Raises:
            ConfigError: Malformed URL, or credentials written into it.
            NotFound: The bucket does not exist.
            AccessDenied: Missing or wrong credentials.
            StoreUnavailable: The endpoint cannot be reached.

        Example:
            >>> S3Store.from_url("s3://team-bucket/altakit", profile="team")  # doctest: +SKIP
        """
        check_store_url(url, "s3")  # credentials refused, never echoed
        parts = urlsplit(url)
        if parts.scheme != "s3":
            raise ConfigError(f"not an S3 URL: {url.split('@')[-1]!r}", hint="use s3://bucket/prefix")
        if "@" in parts.netloc:
            raise ConfigError(
                f"credentials in the S3 URL are refused (s3://…@{parts.netloc.rpartition('@')[2]})",
                hint=f"never write secrets into URLs; {CREDENTIALS_HINT}",
            )
        if parts.query or parts.fragment:
            raise ConfigError(f"S3 URL {url!r} has a query or fragment", hint="use s3://bucket/prefix")
        if not parts.netloc:
            raise ConfigError(f"S3 URL {url!r} names no bucket", hint="use s3://bucket/prefix")
        return cls(
            parts.netloc,
            unquote(parts.path),
            endpoint_url=endpoint_url,
            region=region,
            profile=profile,
            credentials_dir=credentials_dir,
            **options,
        )

    # ------------------------------------------------------------ connection
    def _session(self) -> boto3.Session:
        if self.credentials_dir:
            secret = read_credentials_dir(self.credentials_dir)
            return boto3.Session(
                aws_access_key_id=secret["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=secret["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=secret.get("AWS_SESSION_TOKEN"),
                region_name=self.region,
            )
        try:
            return boto3.Session(profile_name=self.profile, region_name=self.region)
        except bex.ProfileNotFound as exc:
            raise ConfigError(
                f"AWS profile {self.profile!r} not found",
                profile=self.profile,
                hint="add it to ~/.aws/config, or pass another profile=",
            ) from exc

    def _client(self) -> Any:
        """The boto3 client, created on first use (and again in a forked or unpickled process)."""
        cache = self._client_cache
        pid = os.getpid()
        if cache is not None and cache[0] == pid:
            return cache[2]
        with self._lock:
            cache = self._client_cache
            if cache is not None and cache[0] == pid:
                return cache[2]
            session = self._session()
            if session.get_credentials() is None:
                raise AccessDenied(f"no AWS credentials found for {self.url}", hint=CREDENTIALS_HINT)
            config = Config(
                region_name=self.region or session.region_name or "us-east-1",
                retries={"total_max_attempts": 1, "mode": "standard"},  # we retry ourselves
                max_pool_connections=max(16, 2 * self.max_concurrency),
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                tcp_keepalive=True,
                s3={"addressing_style": "path" if self.endpoint_url else "auto"},
            )
            client = session.client("s3", endpoint_url=self.endpoint_url, config=config)
            self._client_cache = (pid, session, client)
            return client

    def _transfer(self) -> TransferManager:
        config = TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=self.part_size,
            max_request_concurrency=self.max_concurrency,
            io_chunksize=1 * MiB,
            max_in_memory_upload_chunks=self.max_concurrency * 2,
        )
        return TransferManager(self._client(), config)

    def check(self) -> None:
        """Check that the bucket exists and the credentials may use it.

        Raises:
            NotFound: No such bucket.
            AccessDenied: Missing or wrong credentials.
            StoreUnavailable: The endpoint cannot be reached.
        """
        self._call(
            "head_bucket", f"bucket {self.bucket!r}", lambda: self._client().head_bucket(Bucket=self.bucket)
        )

    def close(self) -> None:
        """Drop the client and its connections; the next call reconnects."""
        with self._lock:
            cache, self._client_cache = self._client_cache, None
        if cache is not None and cache[0] == os.getpid():
            cache[2].close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_client_cache"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ retries and errors
    def _call(self, op: str, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn``, retrying transient faults with exponential backoff and jitter."""
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except AltakitError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    raise translate(
                        exc, op, what, url=self.url, bucket=self.bucket, endpoint=self.endpoint_url
                    ) from exc
                if attempt == self.attempts:
                    raise StoreUnavailable(
                        f"S3 {op} of {what} at {self.endpoint_url or 'AWS'} failed after "
                        f"{attempt} attempts: {exc}",
                        op=op,
                        url=self.url,
                        endpoint=self.endpoint_url,
                        hint="check that the endpoint is up and reachable (endpoint_url= / "
                        "$AWS_ENDPOINT_URL), then retry; raise attempts= for a flaky network",
                    ) from exc
                wait = min(delay, self.max_backoff) * random.uniform(0.5, 1.0)
                log.info("S3 %s of %s: %s; retry %d in %.2fs", op, what, exc, attempt, wait)
                time.sleep(wait)
                delay *= 2
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ primitives
    def _key(self, name: str) -> str:
        return self._base + name

    def _write(self, name: str, source: Source) -> None:
        key = self._key(name)
        if isinstance(source, Path):
            if source.stat().st_size >= self.multipart_threshold:
                self._call("upload", name, lambda: self._upload(str(source), key))
                return

            def put_file() -> None:
                with open(source, "rb") as f:
                    self._client().put_object(Bucket=self.bucket, Key=key, Body=f)

            self._call("put", name, put_file)
            return
        view = memoryview(source).cast("B")
        if view.nbytes >= self.multipart_threshold:  # parts cut from memory, uploaded in parallel
            upload_parts(self, name, StagedParts.of_view(view, self.part_size))
            return
        body = source if isinstance(source, bytes) else view.tobytes()
        self._call("put", name, lambda: self._client().put_object(Bucket=self.bucket, Key=key, Body=body))

    def _open_spool(self) -> PartSpool:
        """Streamed writes gather in part-sized buffers, uploaded as they are on commit."""
        return PartSpool(self.part_size)

    def _commit(self, staged: Any, name: str) -> None:
        if isinstance(staged, StagedParts):
            upload_parts(self, name, staged)
        else:
            self._write(name, staged)

    def _discard(self, staged: Any) -> None:
        if isinstance(staged, StagedParts):
            staged.release()

    def _upload(self, source: str | BinaryIO, key: str) -> None:
        if not isinstance(source, str):
            source.seek(0)
        with self._transfer() as manager:  # multipart: visible only once completed
            manager.upload(source, self.bucket, key).result()

    def _get(self, key: str, start: int, stop: int) -> bytes:
        try:
            resp = self._client().get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{stop - 1}")
        except bex.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""  # start is past the end: the object is shorter
            raise
        with resp["Body"] as body:
            return body.read()

    def _read_range(self, name: str, start: int, stop: int) -> bytes:
        if stop <= start:
            return b""
        key = self._key(name)
        if stop - start < 2 * self.part_size or self.max_concurrency == 1:
            return self._call("get", name, lambda: self._get(key, start, stop))
        spans = [(s, min(s + self.part_size, stop)) for s in range(start, stop, self.part_size)]

        def fetch(span: tuple[int, int]) -> bytes:
            return self._call("get", name, lambda: self._get(key, *span))

        with ThreadPoolExecutor(
            min(self.max_concurrency, len(spans)), thread_name_prefix="altakit-s3"
        ) as pool:
            parts = list(pool.map(fetch, spans))
        kept = []
        for (s, e), part in zip(spans, parts, strict=True):
            kept.append(part)
            if len(part) < e - s:  # the object ends here
                break
        return b"".join(kept)

    def _open_raw(self, name: str, size: int) -> BinaryIO:
        return _S3Reader(self, name, size)  # type: ignore[return-value]

    def _list_page(self, params: dict[str, Any]) -> Any:
        return self._client().list_objects_v2(**params)

    def _list(self, prefix: str, delimiter: str | None) -> Iterator[str]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._key(prefix)}
        if delimiter:
            params["Delimiter"] = delimiter
        cut = len(self._base)
        while True:
            page = self._call("list", repr(prefix), functools.partial(self._list_page, dict(params)))
            for item in page.get("Contents", ()):
                yield item["Key"][cut:]
            if not page.get("IsTruncated"):
                return
            params["ContinuationToken"] = page["NextContinuationToken"]

    def _names_of(self, key: str) -> Iterator[str]:
        return self._list(f"{key}{SEP}", "/")

    def _scan(self, prefix: str, recursive: bool) -> Iterator[str]:
        return self._list(prefix, None if recursive else "/")

    def _level(self, folder: str, after: str, limit: int) -> tuple[list[tuple[str, list[str] | None]], bool]:
        from altakit.store.s3_list import level

        return level(self, folder, after, limit)

    def _copy(self, src: str, dst: str) -> None:
        version = parse_name(src)
        size = version.size if version is not None else 0
        source = {"Bucket": self.bucket, "Key": self._key(src)}
        dst_key = self._key(dst)
        if size < _MAX_COPY:
            self._call(
                "copy",
                src,
                lambda: self._client().copy_object(Bucket=self.bucket, Key=dst_key, CopySource=source),
            )
            return

        def managed() -> None:
            with self._transfer() as manager:
                manager.copy(source, self.bucket, dst_key).result()

        self._call("copy", src, managed)

    def _remove(self, name: str) -> None:
        key = self._key(name)
        self._call("delete", name, lambda: self._client().delete_object(Bucket=self.bucket, Key=key))

    # ------------------------------------------------------------ other tools
    @property
    def root_url(self) -> str:
        """``s3://bucket/prefix``: the store's folder, for tools that take a URL."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def storage_options(self) -> dict[str, str]:
        """Options for deltalake and polars (object_store keys) to reach this bucket.

        Returns:
            ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_region`` and, when
            set, ``aws_session_token``, ``aws_endpoint_url`` and ``aws_allow_http``;
            plus ``aws_conditional_put="etag"``: Delta commits use S3's conditional writes
            (If-None-Match), so concurrent writers never overwrite each other's commit.
            pyarrow users: see :meth:`pyarrow_filesystem`.

        Example:
            >>> import polars as pl  # doctest: +SKIP
            >>> opts = store.storage_options()  # doctest: +SKIP
            >>> df.write_parquet(f"{store.root_url}/t.parquet", storage_options=opts)  # doctest: +SKIP
        """
        session = self._session()
        creds = session.get_credentials()
        if creds is None:
            raise AccessDenied(f"no AWS credentials found for {self.url}", hint=CREDENTIALS_HINT)
        frozen = creds.get_frozen_credentials()
        opts = {
            "aws_access_key_id": frozen.access_key,
            "aws_secret_access_key": frozen.secret_key,
            "aws_region": self.region or session.region_name or "us-east-1",
            "aws_conditional_put": "etag",
        }
        if frozen.token:
            opts["aws_session_token"] = frozen.token
        if self.endpoint_url:
            opts["aws_endpoint_url"] = self.endpoint_url
            opts["aws_virtual_hosted_style_request"] = "false"
            if self.endpoint_url.startswith("http://"):
                opts["aws_allow_http"] = "true"
        return opts

    def pyarrow_filesystem(self) -> Any:
        """A ``pyarrow.fs.S3FileSystem`` reaching the same bucket (paths are ``bucket/prefix/…``).

        Example:
            >>> fs = store.pyarrow_filesystem()  # doctest: +SKIP
            >>> pq.write_table(table, f"{store.bucket}/t.parquet", filesystem=fs)  # doctest: +SKIP
        """
        from pyarrow import fs

        opts = self.storage_options()
        endpoint = opts.get("aws_endpoint_url")
        return fs.S3FileSystem(
            access_key=opts["aws_access_key_id"],
            secret_key=opts["aws_secret_access_key"],
            session_token=opts.get("aws_session_token"),
            region=opts["aws_region"],
            endpoint_override=endpoint.split("://", 1)[-1] if endpoint else None,
            scheme=endpoint.split("://", 1)[0] if endpoint else "https",
            force_virtual_addressing=False,
        )


class _S3Reader(SeekableReader):
    """A seekable stream over one object: one GET from the current position, reopened on seek.

    A dropped connection is retried from the current position with the store's
    backoff; ``If-Match`` on the first ETag makes sure every byte comes from the same object.
    """

    def __init__(self, store: S3Store, name: str, size: int) -> None:
        super().__init__(size)
        self.store, self.name = store, name
        self.key = store._key(name)
        self.body: Any = None
        self.etag: str | None = None
        self.reopens = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self.pos, self.size)[whence]
        target = max(0, base + offset)
        gap = target - self.pos
        if gap and self.body is not None and 0 < gap <= _SKIP_LIMIT:
            try:
                skipped = self.body.read(gap)
            except Exception:
                skipped = b""
            if len(skipped) != gap:
                self._drop()
        elif gap:
            self._drop()
        self.pos = target
        return self.pos

    def _drop(self) -> None:
        body, self.body = self.body, None
        if body is not None:
            body.close()

    def _open(self) -> bool:
        params: dict[str, Any] = {"Bucket": self.store.bucket, "Key": self.key, "Range": f"bytes={self.pos}-"}
        if self.etag:
            params["IfMatch"] = self.etag
        try:
            resp = self.store._client().get_object(**params)
        except bex.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return False  # at or past the end
            raise
        self.etag = self.etag or resp.get("ETag")
        self.body = resp["Body"]
        self.reopens += 1
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not view.nbytes or (self.body is None and self.pos >= self.size):
            return 0

        def step() -> bytes:
            if self.body is None and not self._open():
                return b""
            try:
                return self.body.read(view.nbytes)
            except BaseException:
                self._drop()
                raise

        data = self.store._call("read", self.name, step)
        n = len(data)
        view[:n] = data
        self.pos += n
        return n

    def close(self) -> None:
        self._drop()
        super().close()
