"""The catalog REST endpoints through a real Jupyter server (token auth, base URL /user/x/)."""

from __future__ import annotations

import json

import pytest
from jupyter_servers import get, index_url, jupyter_server, problems

import altakit
from altakit.catalog import Catalog

TOKEN = "widgets-test-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A store with a schema, two dataset versions, a model and a run; a server with the extension on it."""
    folder = tmp_path_factory.mktemp("jupyter")
    store = altakit.open_store(folder / "store")
    cat = Catalog(store, index_url(folder / "store"))
    cat.register("schema", "sensors", {"columns": {"t": "datetime", "temp": "float"}})
    cat.register("dataset", "sensors", {"rows": 10}, links={"schema": "schema:sensors@1"})
    cat.register("dataset", "sensors", {"rows": 20}, links={"schema": "schema:sensors"})
    cat.register("model", "team/forecast", {"mae": 0.4}, links={"trained_on": "dataset:sensors@2"})
    cat.register("run", "train", {"status": "ok", "parameters": {"epochs": 2}})
    with jupyter_server(folder, folder / "store", TOKEN) as server:
        yield server, cat


def test_without_a_token_every_endpoint_is_refused(served):
    server, _ = served
    api = server.url.removesuffix("api")
    for path in ("altakit/api", "altakit/api/datasets", "altakit/api/records/dataset/sensors/1"):
        status, body = get(api + path)
        assert status in (401, 403), (path, status)
        assert b"sensors" not in body
        assert get(api + path, "wrong-token")[0] in (401, 403)


def test_lists_and_versions(served):
    server, _ = served
    api = server.url.removesuffix("api") + "altakit/api"
    status, body = get(api, TOKEN)
    assert status == 200, body
    assert json.loads(body)["store"].endswith("store")
    status, body = get(f"{api}/datasets", TOKEN)
    assert status == 200, body
    (rec,) = json.loads(body)["records"]
    assert (rec["ref"], rec["doc"], rec["links"]) == (
        "dataset:sensors@2",
        {"rows": 20},
        {"schema": ["schema:sensors@1"]},
    )
    models = json.loads(get(f"{api}/models", TOKEN)[1])["records"]
    assert [m["ref"] for m in models] == ["model:team/forecast@1"]
    runs = json.loads(get(f"{api}/runs", TOKEN)[1])["records"]
    assert runs[0]["doc"]["parameters"] == {"epochs": 2}
    schemas = json.loads(get(f"{api}/schemas", TOKEN)[1])["records"]
    assert schemas[0]["doc"]["columns"]["temp"] == "float"
    status, body = get(f"{api}/datasets/sensors", TOKEN)
    assert status == 200
    assert [v["doc"]["rows"] for v in json.loads(body)["versions"]] == [10, 20]
    found = json.loads(get(f"{api}/datasets?q=sensors", TOKEN)[1])["records"]
    assert [r["version"] for r in found] == [1, 2]


def test_one_record_and_lineage(served):
    server, _ = served
    api = server.url.removesuffix("api") + "altakit/api"
    status, body = get(f"{api}/records/model/team/forecast/1", TOKEN)
    assert status == 200, body
    assert json.loads(body)["links"] == {"trained_on": ["dataset:sensors@2"]}
    assert json.loads(get(f"{api}/records/dataset/sensors/latest", TOKEN)[1])["version"] == 2
    # one rendering: the API answers with Record.to_json(), as `altakit catalog show` prints it
    assert json.loads(body) == served[1].get("model", "team/forecast", 1).to_json()
    status, body = get(f"{api}/lineage/model/team/forecast/latest", TOKEN)
    assert status == 200, body
    edges = [(e["from"], e["relation"], e["to"]) for e in json.loads(body)["edges"]]
    assert edges == [("model:team/forecast@1", "trained_on", "dataset:sensors@2"),
                     ("dataset:sensors@2", "schema", "schema:sensors@1")]  # fmt: skip
    down = json.loads(get(f"{api}/lineage/schema/sensors/1?direction=down&depth=1", TOKEN)[1])["edges"]
    assert {e["from"] for e in down} == {"dataset:sensors@1", "dataset:sensors@2"}


def test_records_registered_later_appear(served):
    server, cat = served
    cat.register("dataset", "drop2", {"rows": 5})
    api = server.url.removesuffix("api") + "altakit/api"
    names = [r["name"] for r in json.loads(get(f"{api}/datasets", TOKEN)[1])["records"]]
    assert names == ["drop2", "sensors"]


def test_errors_are_json_with_a_hint(served):
    server, _ = served
    api = server.url.removesuffix("api") + "altakit/api"
    status, body = get(f"{api}/records/dataset/nope/1", TOKEN)
    assert status == 404
    error = json.loads(body)
    assert "no record dataset:nope@1" in error["message"] and error["hint"]
    assert "Traceback" not in body.decode()
    assert get(f"{api}/datasets/nope", TOKEN)[0] == 404
    status, body = get(f"{api}/lineage/dataset/sensors/1?direction=sideways", TOKEN)
    assert status == 400 and "direction" in json.loads(body)["message"]
    assert get(f"{api}/records/Bad-Kind/x/1", TOKEN)[0] == 404  # no route
    assert problems(server.log) == [], server.log.read_text()
