"""One page of one folder level of an S3 store (``S3Store._level``, behind ``Store.list_page``).

``ListObjectsV2`` with ``Delimiter="/"`` rolls every sub-folder up into one common prefix, so a
page costs a request or two however many keys the folder holds; ``StartAfter`` is the cursor.

Example:
    >>> page = store.list_page("big/", limit=200)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from altakit.store.names import SEP

if TYPE_CHECKING:
    from altakit.store.s3 import S3Store


def level(
    store: S3Store, folder: str, after: str, limit: int
) -> tuple[list[tuple[str, list[str] | None]], bool]:
    """One page of a folder through ``ListObjectsV2`` with ``Delimiter="/"``: ``StartAfter`` the
    cursor, continuation tokens until the entry after the page shows, so the page's last key
    has all its versions. Markers: ``<name>/`` for a folder, ``<key>✹~`` past a key's versions."""
    params: dict[str, Any] = {"Bucket": store.bucket, "Prefix": store._key(folder), "Delimiter": "/",
                              "MaxKeys": min(1000, limit + 1)}  # fmt: skip
    if after:
        params["StartAfter"] = store._key(folder + after)
    cut = len(store._base) + len(folder)
    entries: dict[str, list[str] | None] = {}
    while True:
        page = store._call("list", repr(folder), functools.partial(store._list_page, dict(params)))
        found = [(p["Prefix"][cut:], None) for p in page.get("CommonPrefixes", ())]
        found += [(item["Key"][cut:], item["Key"][len(store._base) :]) for item in page.get("Contents", ())]
        for rest, name in sorted(found, key=lambda entry: entry[0]):
            if name is None:
                marker = rest
                if marker > after:  # a StartAfter inside a folder rolls that folder up again
                    entries.setdefault(marker, None)
            else:
                listed = entries.setdefault(rest.partition(SEP)[0] + SEP + "~", [])
                if listed is not None:
                    listed.append(name)
        if len(entries) > limit or not page.get("IsTruncated"):
            break
        params["ContinuationToken"] = page["NextContinuationToken"]
        params["MaxKeys"] = 1000
    markers = list(entries)
    return [(m, entries[m]) for m in markers[:limit]], len(markers) > limit
