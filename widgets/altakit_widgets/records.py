"""What the JupyterLab extension shows of catalog records: paged lists, a record's detail, diffs.

Each function takes an open :class:`~altakit.catalog.Catalog` (and its store)
and returns JSON-ready dicts built from library calls only; the REST handlers
(:mod:`altakit_widgets.handlers`) call them on their worker thread.

Example:
    >>> page = catalog_page(cat, "table", None, 0, 50)  # doctest: +SKIP
    >>> detail(cat, "table", "sensors", 4)["snippet"]  # doctest: +SKIP
    'from altakit import read_table\\n\\ndf = read_table("sensors@4")'
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from altakit.catalog.snippets import record_snippet
from altakit.errors import AltakitError, ConfigError

if TYPE_CHECKING:
    from altakit.catalog import Catalog, Record

log = logging.getLogger(__name__)
#: Kinds the catalog view lists.
CATALOG_KINDS = ("dataset", "table", "model", "run", "schema")
#: Largest page of a catalog list.
MAX_LIMIT = 500
#: The Voila dashboard (a notebook under the server's root) matching each record kind, and its query fields.
DASHBOARDS = {
    "table": ("dashboards/ingest.ipynb", "dataset"),
    "schema": ("dashboards/schema_review.ipynb", "dataset"),
    "model": ("dashboards/training.ipynb", "model"),
    "dataset": ("dashboards/catalog.ipynb", "name"),
    "run": ("dashboards/catalog.ipynb", "name"),
}


def dashboard_of(kind: str, name: str) -> tuple[str, str] | None:
    """The Voila dashboard matching a record: its notebook path (relative to the server's root) and query.

    Returns:
        ``(path, query)``, or None for a kind without a dashboard.

    Example:
        >>> dashboard_of("table", "sensors")
        ('dashboards/ingest.ipynb', 'dataset=sensors')
        >>> dashboard_of("run", "train")
        ('dashboards/catalog.ipynb', 'kind=run&name=train')
    """
    from urllib.parse import urlencode

    if kind not in DASHBOARDS:
        return None
    path, field = DASHBOARDS[kind]
    query = {"kind": kind, field: name} if path.endswith("catalog.ipynb") else {field: name}
    return path, urlencode(query)


def catalog_page(cat: Catalog, kind: str, text: str | None, offset: int, limit: int) -> dict[str, Any]:
    """The latest record of each name of ``kind`` (matching ``text``), sorted by name, one page.

    Returns:
        ``{"items": [Record.to_json() …], "next": next offset or None, "total": n}``.

    Raises:
        ConfigError: An unknown kind, or ``offset``/``limit`` out of range.
    """
    if kind not in CATALOG_KINDS:
        raise ConfigError(f"unknown kind {kind!r}", hint=f"use one of {', '.join(CATALOG_KINDS)}")
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        raise ConfigError("offset or limit out of range", hint=f"offset >= 0, limit 1 … {MAX_LIMIT}")
    if text:
        latest: dict[str, Record] = {}
        for rec in cat.search(kind, text):
            if rec.name not in latest or latest[rec.name].version < rec.version:
                latest[rec.name] = rec
        records = [latest[name] for name in sorted(latest)]
    else:
        records = cat.list(kind)
    page = records[offset : offset + limit]
    more = offset + limit < len(records)
    return {
        "items": [r.to_json() for r in page],
        "next": offset + limit if more else None,
        "total": len(records),
    }


def _schema_fields(cat: Catalog, rec: Record) -> list[dict[str, Any]] | None:
    """``[{"name","type"}]`` of a table's or schema's schema, or a dataset's sample fields."""
    target = rec
    if rec.kind == "table":
        linked = [ref for relation, ref in rec.links if relation == "schema"]
        if not linked:
            return None
        target = cat.resolve(linked[0])
    fields = target.doc.get("fields")
    if rec.kind == "dataset":
        fields = (rec.doc.get("schema") or {}).get("fields")
    if not isinstance(fields, list):
        return None
    return [
        {"name": f.get("name"), "type": f.get("type") or f.get("kind")} for f in fields if isinstance(f, dict)
    ]


def _metrics_params(rec: Record) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    if rec.kind == "model":
        notebook = rec.doc.get("notebook") or {}
        return dict(rec.doc.get("metrics") or {}), dict(notebook.get("parameters") or {})
    if rec.kind == "run":
        return dict(rec.doc.get("final") or {}), dict(rec.doc.get("parameters") or {})
    return None, None


def _profile(cat: Catalog, rec: Record) -> dict[str, Any] | None:
    if rec.kind != "table":
        return None
    from altakit.datasets.profile import profile_table

    try:
        return profile_table(f"{rec.name}@{rec.version}", store=cat.store)
    except AltakitError as exc:  # a detail view without a profile beats no detail view
        log.info("no profile of %s: %s", rec.ref, exc)
        return None


def detail(cat: Catalog, kind: str, name: str, version: int | None) -> dict[str, Any]:
    """Everything the detail view shows of one record version.

    Returns:
        ``{"record","versions":[{"version","created"}],"schema","profile","metrics","params",
        "snippet","url","aliases"}`` (``url``: the ``altakit://key@version`` of a model's weights).

    Raises:
        NotFound: No such record.
    """
    rec = cat.get(kind, name, version)
    metrics, params = _metrics_params(rec)
    url = None
    aliases: dict[str, int] = {}
    if kind == "model":
        from altakit.train.registry import ModelRegistry

        url = f"altakit://{rec.doc.get('key')}@{rec.doc.get('store_version')}"
        aliases = ModelRegistry(cat.store, cat).aliases(name)
    return {
        "record": rec.to_json(),
        "versions": [
            {"version": r.version, "created": r.created.isoformat()} for r in cat.versions(kind, name)
        ],
        "schema": _schema_fields(cat, rec),
        "profile": _profile(cat, rec),
        "metrics": metrics,
        "params": params,
        "snippet": record_snippet(kind, name, rec.version),
        "url": url,
        "aliases": aliases,
    }


def source_edges(cat: Catalog, root: str, edges: list[dict[str, str]]) -> list[dict[str, str]]:
    """Upstream edges from each table version in a lineage graph to the files its ingest read.

    A table version's sources are in its record (``doc["sources"]``), not links; as nodes
    they are ``file:<name>`` (relation ``source``), the end of the chain model → run →
    table → schema → source files.

    Example:
        >>> source_edges(cat, "table:sensors@1", [])  # doctest: +SKIP
        [{'from': 'table:sensors@1', 'relation': 'source', 'to': 'file:data/sensors_day1.csv'}]
    """
    from altakit.catalog import Ref

    refs = {root} | {e["from"] for e in edges} | {e["to"] for e in edges}
    found: list[dict[str, str]] = []
    for ref in sorted(r for r in refs if r.startswith("table:")):
        for source in cat.resolve(Ref.parse(ref)).doc.get("sources") or []:
            if isinstance(source, dict) and source.get("name") and not source.get("skipped"):
                found.append({"from": ref, "relation": "source", "to": f"file:{source['name']}"})
    return found


def _side_by_side(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[dict[str, Any]]:
    a, b = a or {}, b or {}
    return [{"name": k, "a": a.get(k), "b": b.get(k)} for k in sorted(set(a) | set(b))]


def diff(cat: Catalog, kind: str, name: str, a: int, b: int) -> dict[str, Any]:
    """Two versions of a record compared.

    Tables: ``{"schema": [{"column","change","before","after"}], "rows": {"a","b"},
    "drift": [{"column","psi","ks"}]}``; models and runs: ``{"metrics": [{"name","a","b"}],
    "params": [...]}``; other kinds: ``{"doc": [{"name","a","b"}]}`` over the top-level doc fields.

    Raises:
        NotFound: Either version does not exist.
    """
    ra, rb = cat.get(kind, name, a), cat.get(kind, name, b)
    if kind == "table":
        return _table_diff(cat, ra, rb)
    if kind in ("model", "run"):
        (ma, pa), (mb, pb) = _metrics_params(ra), _metrics_params(rb)
        return {"metrics": _side_by_side(ma, mb), "params": _side_by_side(pa, pb)}
    return {"doc": _side_by_side(ra.doc, rb.doc)}


def _table_diff(cat: Catalog, ra: Record, rb: Record) -> dict[str, Any]:
    from altakit.datasets.profile import drift
    from altakit.datasets.tables import read_table
    from altakit.ingestion.review import diff_rows
    from altakit.ingestion.schema import Schema
    from altakit.ingestion.schema import diff as schema_diff

    def schema_of(rec: Record) -> Schema | None:
        linked = [ref for relation, ref in rec.links if relation == "schema"]
        return Schema.from_doc(cat.resolve(linked[0]).doc["fields"]) if linked else None

    sa, sb = schema_of(ra), schema_of(rb)
    rows: list[dict[str, Any]] = []
    if sa is not None and sb is not None:
        rows = [
            {"column": c, "change": k, "before": x, "after": y}
            for k, c, x, y in diff_rows(schema_diff(sa, sb).to_doc())
        ]
    fa = read_table(f"{ra.name}@{ra.version}", store=cat.store)
    fb = read_table(f"{rb.name}@{rb.version}", store=cat.store)
    drifted = [{"column": c, "psi": d["psi"], "ks": d["ks"]} for c, d in sorted(drift(fa, fb).items())]
    return {"schema": rows, "rows": {"a": fa.height, "b": fb.height}, "drift": drifted}


def record_at(cat: Catalog, kind: str, name: str, version: str) -> Record:
    """One record by ``version``: a number, ``latest``, or for a model one of its aliases (``champion``).

    Raises:
        NotFound: No such record, or the model has no such alias (the hint lists its aliases).
        ConfigError: ``version`` is neither a number nor ``latest`` for a kind without aliases.
    """
    from altakit.errors import NotFound

    if version == "latest" or version.isdigit():
        return cat.get(kind, name, None if version == "latest" else int(version))
    if kind != "model":
        raise ConfigError(
            f"version {version!r} of {kind}:{name} is not a number", hint="use a version number or latest"
        )
    from altakit.train.registry import ModelRegistry

    aliases = ModelRegistry(cat.store, cat).aliases(name)
    if version not in aliases:
        cat.get(kind, name)  # no such model: its own NotFound
        known = ", ".join(sorted(aliases)) or "none yet"
        raise NotFound(f"model {name!r} has no alias {version!r}", model=name, hint=f"its aliases: {known}")
    return cat.get(kind, name, aliases[version])


def versions_of(cat: Catalog, kind: str, name: str) -> list[Record]:
    """Every version of ``kind:name``; a 404 for a sample dataset that is a table names the table's route."""
    from altakit.catalog import Ref
    from altakit.errors import NotFound

    found = cat.versions(kind, name)
    if found:
        return found
    if kind == "dataset" and cat.versions("table", name):
        raise NotFound(
            f"{name!r} is a table (ingested rows), not a sample dataset",
            name=name,
            hint=f"its versions are at altakit/api/tables/{name}",
        )
    cat.resolve(Ref(kind, name))  # raises NotFound with its hint
    return found
