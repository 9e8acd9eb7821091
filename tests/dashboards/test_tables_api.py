"""Tables are first-class in the REST API (issue #20): ``tables`` routes, alias lookups and unknown
paths answer JSON, through a real Jupyter server with the altakit extension."""

from __future__ import annotations

import json

import plant
import pytest
from jupyter_servers import get, index_url, jupyter_server, problems

import altakit
from altakit.catalog import Catalog
from altakit.ingestion import ingest
from altakit.train.registry import ModelDoc, ModelRegistry

TOKEN = "tables-api-token"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables-api")
    store = altakit.open_store(folder / "store")
    cat = Catalog(store, index_url(folder / "store"))
    import os

    old = os.environ.get("ALTAKIT_INDEX")
    os.environ["ALTAKIT_INDEX"] = index_url(folder / "store")  # the index the server reads
    try:
        ingest(("day1.csv", plant.day1()), "line4", {"time": "timestamp"}, store=store)
        doc = ModelDoc("torch", "torch", "models/m/w", "v1", 10, "ab", {"accuracy": 0.9}, {}, {}).to_doc()
        cat.register("model", "line4-model", doc, links={"trained_on": "table:line4@1"})
        cat.register("model", "line4-model", doc, links={"trained_on": "table:line4@1"})
        ModelRegistry(store, cat).promote("line4-model", 1, alias="champion")
    finally:
        if old is None:
            os.environ.pop("ALTAKIT_INDEX")
        else:
            os.environ["ALTAKIT_INDEX"] = old
    with jupyter_server(folder / "server", folder / "store", TOKEN) as server:
        yield server.url.removesuffix("api") + "altakit/api"
    assert problems(server.log) == [], server.log.read_text()


def _json(url: str) -> tuple[int, dict]:
    status, body = get(url, TOKEN)
    return status, json.loads(body)  # every answer is JSON, errors too


def test_tables_are_listed_and_opened(api):
    status, body = _json(f"{api}/tables")
    assert status == 200 and [r["name"] for r in body["records"]] == ["line4"] and body["kind"] == "table"
    status, body = _json(f"{api}/tables/line4")
    assert status == 200 and [v["version"] for v in body["versions"]] == [1]
    status, body = _json(f"{api}")
    assert body["kinds"]["tables"] == "table"


def test_a_table_asked_for_as_a_dataset_names_the_table_route(api):
    status, body = _json(f"{api}/datasets/line4")
    assert status == 404 and "is a table" in body["message"] and "altakit/api/tables/line4" in body["hint"]


def test_alias_lookups_answer_json(api):
    status, body = _json(f"{api}/records/model/line4-model/champion")
    assert status == 200 and body["version"] == 1 and body["kind"] == "model"
    status, body = _json(f"{api}/records/model/line4-model/nosuch")
    assert status == 404 and "no alias 'nosuch'" in body["message"] and "champion" in body["hint"]
    status, body = _json(f"{api}/records/table/line4/champion")
    assert status == 400 and "not a number" in body["message"]
    status, body = _json(f"{api}/no/such/route")
    assert status == 404 and "no altakit API route" in body["message"]
