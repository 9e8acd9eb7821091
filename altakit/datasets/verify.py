"""Re-read every shard of a dataset version and check it against its manifest.

Example:
    >>> report = ds.verify()  # doctest: +SKIP
    >>> report["ok"], report["samples"]  # doctest: +SKIP
    (True, 1797)
"""

from __future__ import annotations

from typing import Any

from altakit.datasets.codec import decode
from altakit.datasets.fetch import ShardFetcher
from altakit.errors import AltakitError, DataError


def verify(dataset: Any) -> dict[str, Any]:
    """Check counts, sizes and checksums of every shard and decode every sample.

    Returns:
        ``{"ok", "shards", "samples", "errors": [{"shard", "key", "error"}]}``; nothing is raised
        for bad data, every problem is listed.
    """
    fetcher = ShardFetcher(dataset.store, None, 0, trust=False)  # the store itself, every byte
    errors: list[dict[str, Any]] = []
    samples = 0
    for entry in dataset.source.shards:
        try:
            version = dataset.store.resolve(entry["key"], entry["version"])
            if version.checksum != entry["checksum"]:
                raise DataError(
                    f"shard {entry['key']!r}: checksum differs from the manifest", shard=entry["key"]
                )
            shard = fetcher.fetch(dataset.name, entry)
        except AltakitError as exc:
            errors.append({"shard": entry["key"], "key": exc.fields.get("key"), "error": str(exc)})
            continue
        for i, key in enumerate(shard.keys):
            try:
                decode(dataset.schema, shard.doc(i))
                samples += 1
            except DataError as exc:
                errors.append({"shard": entry["key"], "key": key, "error": str(exc)})
    if samples + sum(1 for e in errors if e["key"]) < int(dataset.manifest["count"]) and not errors:
        errors.append({"shard": None, "key": None, "error": "fewer samples than the manifest says"})
    return {"ok": not errors, "shards": len(dataset.source.shards), "samples": samples, "errors": errors}
