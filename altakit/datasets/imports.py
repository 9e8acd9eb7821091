"""Existing WebDataset shards as altakit dataset versions, without rewriting them.

:func:`import_dataset` registers plain WebDataset tars (one member per field:
``<key>.jpg``, ``<key>.cls``, ``<key>.npy`` …) as a version of a dataset: shards
given as store keys stay where they are; local files are put into the store byte
for byte. The manifest (format ``webdataset/1``) lists each shard's store version,
sample count, bytes and checksum, and maps member extensions to fields
(``"members"`` in each shard entry). Reading such a shard turns each sample's
members into the msgpack map altakit's reader takes
(:func:`altakit.datasets.members.transcode`, which also says how each member type
decodes), so ``load_dataset``, the exact-once torch loader, ``.tensorflow()``,
lenses and the catalog work as on shards altakit wrote.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from typing import Any

from altakit.catalog.records import check_name
from altakit.datasets.dataset import Dataset
from altakit.datasets.manifest import DatasetDoc, register_manifest, register_sample_type
from altakit.datasets.members import KINDS, expand, field_name, infer, samples_of
from altakit.datasets.samples import schema_of
from altakit.datasets.shards import IMPORTED
from altakit.errors import ConfigError, NotFound
from altakit.store.base import Store
from altakit.store.names import new_id
from altakit.store.registry import open_store


def import_dataset(
    urls: str | Iterable[str],
    name: str,
    sample_type: type | None = None,
    store: Store | str | None = None,
    *,
    description: str = "",
) -> Dataset:
    """Register existing WebDataset shards as a new version of dataset ``name``, without rewriting them.

    Args:
        urls: Shard paths, store keys or URLs under the store (``s3://bucket/prefix/raw/s-0.tar`` for a
            store at ``s3://bucket/prefix``), or brace patterns (``"shards-{000..009}.tar"``). A path to an
            existing local file is put into the store unchanged; anything else is a key in ``store``.
        name: Dataset name.
        sample_type: A ``@sample`` class whose fields are named after the member extensions
            (``label: int`` for ``.label``/``cls`` → ``cls: int``); default: inferred from the first shard.
        store: A store or URL (default: the project store).
        description: Free text kept in the manifest.

    Returns:
        The new version as an :class:`altakit.datasets.dataset.Dataset`.

    Raises:
        ConfigError: No shards, a URL outside the store, or ``sample_type`` names a field no member
            extension gives.
        NotFound: A shard is neither a local file nor a key in the store.
        DataError: A shard is not a tar, or holds a member type that cannot be imported.

    Example:
        >>> import io, tarfile, tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> with tarfile.open(os.path.join(folder, "s-0.tar"), "w") as tar:
        ...     for key, body in [("a.cls", b"3"), ("a.txt", b"hi"), ("b.cls", b"4"), ("b.txt", b"yo")]:
        ...         info = tarfile.TarInfo(key); info.size = len(body)
        ...         tar.addfile(info, io.BytesIO(body))
        >>> ds = import_dataset(os.path.join(folder, "s-{0..0}.tar"), "imp", store=tempfile.mkdtemp())
        >>> [(s.cls, s.txt) for s in ds]
        [(3, 'hi'), (4, 'yo')]
    """
    check_name(name)  # before any shard is put into the store
    store = open_store(store)
    paths = [p for url in ([urls] if isinstance(urls, str) else urls) for p in expand(url)]
    if not paths:
        raise ConfigError(f"no shards to import into dataset {name!r}", dataset=name, hint="pass shard URLs")
    prefix = f"datasets/{name}/{new_id()}/"
    put: list[Any] = []  # versions this import wrote: removed if it is refused
    try:
        manifest = _manifest(store, paths, name, prefix, sample_type, description, put)
    except BaseException:
        for version in put:
            with contextlib.suppress(Exception):
                store.purge(version.key, version)
        raise
    # not under the clean-up: a record that failed half-way may list the shards already
    return Dataset.from_record(store, register_manifest(store, name, manifest), sample_type=sample_type)


def _store_key(store: Store, path: str) -> str:
    """``path`` as a key of ``store`` when it is a URL under the store's (``s3://bucket/prefix/k`` → ``k``).

    Raises:
        ConfigError: ``path`` is a URL (other than ``file://``) outside the store.
    """
    base = store.url.rstrip("/") + "/"
    if path.startswith(base):
        return path[len(base) :]
    if "://" in path and not path.startswith("file://"):
        raise ConfigError(
            f"cannot import {path!r}: not under the store's URL {store.url!r}",
            shard=path,
            hint="open the store at that bucket and prefix and pass store=…, or copy the shards locally",
        )
    return path


def _manifest(
    store: Store,
    paths: list[str],
    name: str,
    prefix: str,
    sample_type: type | None,
    description: str,
    put: list[Any],
) -> DatasetDoc:
    """Put local shards into the store (each version into ``put``) and build the manifest."""
    located: list[tuple[str, Any, Any]] = []  # (key, version, bytes)
    for i, given in enumerate(paths):
        path = _store_key(store, given)
        local = path.removeprefix("file://")
        if "://" not in path and os.path.isfile(local):
            with open(local, "rb") as file:
                data = file.read()
            key = f"{prefix}{i:06d}-{os.path.basename(local)}"
            version = store.put(key, data)
            put.append(version)
        else:
            try:
                version = store.resolve(path)
            except NotFound as exc:
                raise NotFound(
                    f"shard {path!r} is neither a local file nor a key in the store",
                    shard=path,
                    hint="pass local paths or keys of the store given as store=",
                ) from exc
            key, data = path, store.get(path, version)
        located.append((key, version, data))
    where = {"dataset": name, "shard": located[0][0]}
    first = samples_of(located[0][2], where)
    schema = schema_of(sample_type) if sample_type is not None else infer(name, first, where)
    exts = sorted({ext for _, parts in first for ext in parts} | {ext for ext in KINDS})
    members = {}
    for f in schema.fields:
        ext = next((e for e in exts if field_name(e) == f.name), None)
        if ext is None or ext not in KINDS:
            raise ConfigError(
                f"field {f.name!r} of {schema.name} matches no member extension of the shards",
                dataset=name,
                hint="name each field after a member extension (.cls → cls, .seg.png → seg_png)",
            )
        members[ext] = f.name
    shards, total = [], 0
    for key, version, data in located:
        count = len(samples_of(data, {"dataset": name, "shard": key}))
        entry = {"key": key, "version": version.id, "count": count, "first": total}
        entry.update(bytes=version.size, checksum=version.checksum, members=members)
        shards.append(entry)
        total += count
    manifest = DatasetDoc(
        format=IMPORTED,
        schema=schema.to_doc(),
        schema_ref=register_sample_type(store, schema),
        count=total,
        bytes=sum(s["bytes"] for s in shards),
        shards=shards,
        description=description or f"imported from {', '.join(paths[:3])}{' …' if len(paths) > 3 else ''}",
    )
    return manifest
