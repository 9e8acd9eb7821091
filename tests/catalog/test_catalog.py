"""The catalog against a real store and a real index (SQLite, then PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from altakit.catalog import Catalog, Ref, catalog_of
from altakit.catalog.index import _meta
from altakit.errors import StoreUnavailable


def lose_index(cat: Catalog) -> None:
    """Throw the index away: delete the SQLite files, or drop the PostgreSQL tables."""
    url = sa.engine.make_url(cat.index.url)
    if url.get_backend_name() == "sqlite":
        cat.close()
        for path in Path(url.database).parent.glob(Path(url.database).name + "*"):
            path.unlink()
        assert not Path(url.database).exists()
    else:
        _meta.drop_all(cat.index.engine())
        cat.close()


def build_lineage(cat: Catalog) -> None:
    cat.register("schema", "sensors", {"columns": {"t": "datetime", "v": "float"}})
    cat.register("dataset", "sensors", {"rows": 10}, links={"schema": "schema:sensors"})
    cat.register("schema", "sensors", {"columns": {"t": "datetime", "v": "float", "unit": "str"}})
    cat.register("dataset", "sensors", {"rows": 20}, links={"schema": "schema:sensors@2"})
    cat.register("dataset", "weather", {"rows": 5})
    cat.register(
        "model",
        "churn",
        {"auc": 0.91},
        links={"trained_on": ["dataset:sensors@2", Ref("dataset", "weather")]},
    )


def test_register_numbers_versions_and_reads_back(catalog, local_store) -> None:
    before = datetime.now(UTC)
    first = catalog.register("dataset", "team/sensors", {"rows": 10, "owner": "ana"})
    second = catalog.register("dataset", "team/sensors", {"rows": 12, "owner": "ana"})
    other = catalog.register("dataset", "team", {"rows": 1})
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert str(second.ref) == "dataset:team/sensors@2"
    assert first.writer == local_store.writer and before <= first.created <= datetime.now(UTC)
    assert catalog.get("dataset", "team/sensors") == second
    assert catalog.get("dataset", "team/sensors", 1) == first
    assert catalog.resolve("dataset:team/sensors@1") == first
    assert catalog.resolve(Ref("dataset", "team/sensors")) == second
    assert catalog.versions("dataset", "team/sensors") == [first, second]
    assert catalog.versions("dataset", "team") == [other]
    # records live in the store's reserved prefix, hidden from ordinary listings
    assert local_store.list() == []
    assert any(v.key.endswith("/@/rec/2.json") for v in local_store.list("_altakit/catalog/"))


def test_list_shows_latest_of_each(catalog) -> None:
    build_lineage(catalog)
    assert [str(r.ref) for r in catalog.list()] == [
        "dataset:sensors@2",
        "dataset:weather@1",
        "model:churn@1",
        "schema:sensors@2",
    ]
    assert [str(r.ref) for r in catalog.list("schema")] == ["schema:sensors@2"]
    assert catalog.list("run") == []
    listed = catalog.list("model")[0]
    assert listed == catalog.get("model", "churn")  # the index gives the same record as the store


def test_links_are_pinned_and_lineage_walks_both_ways(catalog) -> None:
    build_lineage(catalog)
    model = catalog.get("model", "churn")
    assert model.link("trained_on") == [Ref("dataset", "sensors", 2), Ref("dataset", "weather", 1)]
    assert catalog.get("dataset", "sensors", 1).link("schema") == [Ref("schema", "sensors", 1)]

    up = [(str(a), rel, str(b)) for a, rel, b in catalog.lineage("model:churn")]
    assert up == [
        ("model:churn@1", "trained_on", "dataset:sensors@2"),
        ("model:churn@1", "trained_on", "dataset:weather@1"),
        ("dataset:sensors@2", "schema", "schema:sensors@2"),
    ]
    assert len(catalog.lineage("model:churn@1", depth=1)) == 2
    assert catalog.lineage("model:churn", depth=0) == []

    down = [(str(a), rel, str(b)) for a, rel, b in catalog.lineage("schema:sensors@2", direction="down")]
    assert down == [
        ("dataset:sensors@2", "schema", "schema:sensors@2"),
        ("model:churn@1", "trained_on", "dataset:sensors@2"),
    ]
    # the old schema version leads only to the old dataset version, which no model used
    old = catalog.lineage("schema:sensors@1", direction="down")
    assert [(str(a), str(b)) for a, _, b in old] == [("dataset:sensors@1", "schema:sensors@1")]
    assert catalog.lineage("dataset:weather", direction="up") == []


def test_search(catalog) -> None:
    build_lineage(catalog)
    catalog.register("run", "train-1", {"status": "failed", "epochs": 3, "tags": ["gpu", "nightly"]})
    catalog.register("run", "train-2", {"status": "ok", "epochs": 3.0, "note": "100% on_time"})

    def refs(**kw):
        return [str(r.ref) for r in catalog.search(**kw)]

    assert refs(kind="dataset") == ["dataset:sensors@1", "dataset:sensors@2", "dataset:weather@1"]
    assert refs(kind="dataset", rows=20) == ["dataset:sensors@2"]
    assert refs(status="failed") == ["run:train-1@1"]
    assert refs(epochs=3) == ["run:train-1@1", "run:train-2@1"]  # 3 and 3.0 are equal JSON numbers
    assert refs(epochs="3") == []  # a string is not a number
    assert refs(tags=["gpu", "nightly"]) == ["run:train-1@1"]
    assert refs(text="UNIT") == ["schema:sensors@2"]
    assert refs(text="weather") == ["dataset:weather@1"]
    assert refs(text="100%") == ["run:train-2@1"]
    assert refs(text="0% on_") == ["run:train-2@1"]
    assert refs(text="rai_") == []  # "_" is literal, not a wildcard (it would match "rain")
    assert refs(kind="run", text="train", status="ok") == ["run:train-2@1"]
    assert refs(owner="nobody") == []


def test_records_survive_losing_the_index(catalog, local_store, index_url) -> None:
    build_lineage(catalog)
    expected = catalog.list()
    lose_index(catalog)

    fresh = Catalog(local_store, index_url=index_url)
    try:
        assert fresh.list() == expected  # rebuilt lazily from the store on first use
        assert [str(r.ref) for r in fresh.search(kind="dataset", rows=20)] == ["dataset:sensors@2"]
        assert len(fresh.lineage("model:churn")) == 3
        assert fresh.reindex() == 6
        assert fresh.register("dataset", "weather", {"rows": 6}).version == 2
    finally:
        fresh.close()

    lose_index(fresh)
    again = Catalog(local_store, index_url=index_url)
    try:
        assert again.reindex() == 7
        assert [str(r.ref) for r in again.list("dataset")] == ["dataset:sensors@2", "dataset:weather@2"]
    finally:
        again.close()


def test_reindex_picks_up_records_written_through_another_index(catalog, local_store, tmp_path) -> None:
    catalog.register("dataset", "sensors", {})
    elsewhere = Catalog(local_store, index_url=f"sqlite:///{tmp_path / 'other.sqlite'}")
    elsewhere.register("dataset", "sensors", {"rows": 2})
    elsewhere.close()
    assert [r.version for r in catalog.list()] == [1]  # the index is a cache ...
    assert catalog.get("dataset", "sensors").version == 2  # ... the store is the truth
    assert catalog.reindex() == 2
    assert [r.version for r in catalog.list()] == [2]


def test_default_index_lives_with_a_local_store(local_store) -> None:
    cat = catalog_of(local_store)
    try:
        assert cat.index.url == f"sqlite:///{local_store.root / '.altakit-catalog.sqlite'}"
        cat.register("dataset", "sensors", {})
        assert (local_store.root / ".altakit-catalog.sqlite").exists()
        assert local_store.list() == []  # the index file is not a key
    finally:
        cat.close()


def test_default_store_uses_the_project_index(tmp_path, monkeypatch) -> None:
    import altakit
    from altakit import config
    from altakit.catalog import default_index_url

    monkeypatch.setenv(config.HOME_ENV, str(tmp_path))
    monkeypatch.delenv(config.STORE_ENV, raising=False)
    monkeypatch.delenv(config.INDEX_ENV, raising=False)
    store = altakit.open_store(config.default_store_url())
    assert default_index_url(store) == f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    monkeypatch.setenv(config.INDEX_ENV, "postgresql+psycopg://hub@db/altakit")
    assert default_index_url(store) == "postgresql+psycopg://hub@db/altakit"


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://nobody:secret@127.0.0.1:1/altakit", "sqlite:///{tmp}/file-not-folder/x.sqlite"],
)
def test_unreachable_index_is_store_unavailable_and_writes_nothing(local_store, tmp_path, url) -> None:
    if url.startswith("postgresql"):
        from fixtures.parts import need
        from fixtures.postgres import psycopg_ok

        need(psycopg_ok(), "psycopg is not installed (pip install 'altakit[postgres]')")
    (tmp_path / "file-not-folder").write_text("")
    cat = Catalog(local_store, index_url=url.format(tmp=tmp_path))
    with pytest.raises(StoreUnavailable) as info:
        cat.register("dataset", "sensors", {"rows": 1})
    assert "secret" not in str(info.value)
    assert "reindex" in info.value.hint
    with pytest.raises(ConnectionError):  # the builtin a caller may catch
        cat.list()
    assert local_store.list("_altakit/") == []


def test_malformed_index_url_is_config_error(local_store) -> None:
    from altakit.errors import ConfigError

    for url in ("not a url", "nosuchdb://x/y"):
        with pytest.raises(ConfigError) as info:
            Catalog(local_store, index_url=url).list()
        assert info.value.hint
