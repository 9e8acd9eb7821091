"""The catalog, detail, diff, schema inbox and alias routes through a real Jupyter server.

A real ingest proposes a schema change; the inbox shows it, an approval through the API is
recorded as the Jupyter user with its comment, and the next ingest lands with the new column.
Aliases move and roll back through the API, as the Jupyter user.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from jupyter_servers import REPO, index_url, jupyter_server, problems
from lab_api import Api, leaks

import altakit
from altakit.catalog import Catalog
from altakit.errors import SchemaChangePending
from altakit.ingestion import SchemaRegistry, ingest
from altakit.train.registry import ModelDoc, ModelRegistry

TOKEN = "lab-api-catalog-token"
DAY1 = REPO / "notebooks" / "data" / "sensors_day1.csv"
DAY2 = REPO / "notebooks" / "data" / "sensors_day2.csv"
SPEC = {"time": "timestamp", "by": ["sensor"]}
#: The token's user is "ana", as JupyterHub names its users (the plain token user is anonymous).
NAMED_USER = """
from jupyter_server.auth.identity import IdentityProvider, User

class Named(IdentityProvider):
    async def get_user_token(self, handler):
        user = await super().get_user_token(handler)
        return None if user is None else User(username="ana", name="Ana Lyst")

c.ServerApp.identity_provider_class = Named
"""


def model_doc(accuracy: float, epochs: int) -> dict:
    notebook = {"path": "train.ipynb", "parameters": {"epochs": epochs}}
    return ModelDoc("torch", "torch", "models/digits/w", "v1", 10, "ab", {"accuracy": accuracy}, notebook,
                    {}).to_doc()  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """sensors@1 ingested, a second ingest pending review, two model versions, 12 datasets to page."""
    folder = tmp_path_factory.mktemp("lab-api-catalog")
    store = altakit.open_store(folder / "store")
    cat = Catalog(store, index_url(folder / "store"))
    ingest(DAY1, "sensors", SPEC, store=store)
    with pytest.raises(SchemaChangePending):
        ingest(DAY2, "sensors", SPEC, store=store)
    cat.register("model", "digits", model_doc(0.91, 2))
    cat.register("model", "digits", model_doc(0.95, 5))
    for i in range(12):
        cat.register("run", f"sweep/r{i:02d}", {"status": "ok", "parameters": {"lr": i}, "started": "x",
                                                "environment": {}})  # fmt: skip
    config = folder / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.py").write_text(NAMED_USER)
    with jupyter_server(folder, folder / "store", TOKEN) as server:
        yield Api(server.url, TOKEN), server, folder, store


def test_catalog_pages_and_search(served):
    api, _, _, _ = served
    items, offset = [], 0
    while offset is not None:
        status, page, body = api.get("catalog", kind="run", offset=offset, limit=5)
        assert status == 200, body
        assert len(page["items"]) <= 5
        items += page["items"]
        offset = page["next"]
    assert [r["name"] for r in items] == [f"sweep/r{i:02d}" for i in range(12)]
    assert api.get("catalog", kind="run", limit=5)[1]["next"] == 5
    found = api.get("catalog", kind="run", q="r07")[1]["items"]
    assert [r["ref"] for r in found] == ["run:sweep/r07@1"]
    (table,) = api.get("catalog", kind="table")[1]["items"]
    assert table["ref"] == "table:sensors@1"
    (model,) = api.get("catalog", kind="model")[1]["items"]
    assert model["version"] == 2 and set(model) >= {"ref", "kind", "name", "version", "created", "doc"}


def test_inbox_approve_as_the_jupyter_user_then_the_next_ingest_lands(served):
    api, server, _, store = served
    status, box, body = api.get("schema/inbox")
    assert status == 200, body
    assert box["count"] == 1
    (change,) = box["pending"]
    assert change["table"] == "sensors" and change["change"].startswith("schema_change:sensors@")
    rows = {row["column"]: row for row in change["diff"]}
    assert rows["pressure"]["change"] == "added" and rows["pressure"]["samples"] == []
    assert set(rows["pressure"]) == {"column", "change", "before", "after", "samples"}

    user = api.me()
    assert user == "ana"
    status, decision, body = api.post(
        "schema/decide", {"change": change["change"], "decision": "approve", "comment": "new barometer"}
    )
    assert status == 200, body
    assert decision["doc"]["status"] == "approved" and decision["doc"]["decided_by"] == user
    assert api.get("schema/inbox")[1] == {"count": 0, "pending": []}
    again = api.post("schema/decide", {"change": change["change"], "decision": "reject", "comment": "x"})
    assert again[0] == 409 and set(again[1]) == {"message", "hint"}

    report = ingest(DAY2, "sensors", SPEC, store=store)
    assert report.version == 2
    history = api.get("schema/history", table="sensors")[1]["decisions"]
    assert [(d["decision"], d["by"], d["comment"]) for d in history] == [("approved", user, "new barometer")]
    assert history[0]["change"] == decision["ref"] != change["change"] and history[0]["time"]
    assert SchemaRegistry(store).changes("sensors")[-1].doc["decided_by"] == user

    diff = api.get("diff/table/sensors", a=1, b=2)[1]
    assert {"column": "pressure", "change": "added", "before": "", "after": "float64"} in diff["schema"]
    assert diff["rows"]["a"] > 0 and diff["rows"]["b"] > 0
    drift = {d["column"]: d for d in diff["drift"]}
    assert "temperature" in drift and drift["temperature"]["psi"] >= 0 and "pressure" not in drift
    assert problems(server.log) == []


def test_detail_of_a_table_and_its_snippet_runs(served):
    api, _, folder, _ = served
    status, found, body = api.get("detail/table/sensors/1")
    assert status == 200, body
    assert found["record"]["ref"] == "table:sensors@1" and found["versions"][0]["version"] == 1
    assert {"name": "temperature", "type": "float64"} in found["schema"]
    assert (
        found["profile"]["temperature"]["type"] == "Float64" and found["profile"]["temperature"]["rows"] > 0
    )
    assert "pressure" not in found["profile"] and found["metrics"] is None
    assert found["snippet"] == 'from altakit import read_table\n\ndf = read_table("sensors@1")'
    code = found["snippet"] + "\nprint(df.height)"
    env = {"ALTAKIT_STORE": str(folder / "store"), "ALTAKIT_INDEX": index_url(folder / "store"),
           "PATH": "/usr/bin:/bin", "HOME": str(folder)}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert int(out.stdout) == found["profile"]["temperature"]["rows"]


def test_detail_and_diff_of_a_model(served):
    api, _, _, _ = served
    found = api.get("detail/model/digits/latest")[1]
    assert found["metrics"] == {"accuracy": 0.95} and found["params"] == {"epochs": 5}
    assert found["url"] == "altakit://models/digits/w@v1" and found["schema"] is None
    assert 'load_model("digits@2")' in found["snippet"]
    diff = api.get("diff/model/digits", a=1, b=2)[1]
    assert diff == {"metrics": [{"name": "accuracy", "a": 0.91, "b": 0.95}],
                    "params": [{"name": "epochs", "a": 2, "b": 5}]}  # fmt: skip


def test_promote_and_roll_back_an_alias_as_the_jupyter_user(served):
    api, server, _, store = served
    user = api.me()
    status, moved, body = api.post("aliases", {"model": "digits", "alias": "champion", "version": 1})
    assert status == 200, body
    assert moved["doc"]["version"] == 1
    moved = api.post("aliases", {"model": "digits", "alias": "champion", "version": 2, "comment": "better"})[
        1
    ]
    assert moved["doc"]["version"] == 2 and moved["doc"]["previous"] == 1
    assert ModelRegistry(store).alias_target("digits", "champion") == 2
    assert api.get("detail/model/digits/2")[1]["aliases"] == {"champion": 2}
    back = api.post("aliases/rollback", {"model": "digits", "alias": "champion"})
    assert back[0] == 200 and back[1]["doc"]["version"] == 1
    history = ModelRegistry(store).history("digits")
    assert [(m.version, m.action, m.by) for m in history] == [(1, "move", user), (2, "move", user),
                                                              (1, "rollback", user)]  # fmt: skip
    assert api.post("aliases", {"model": "digits", "alias": "champion", "version": 9})[0] == 404
    assert api.post("aliases/rollback", {"model": "digits", "alias": "nope"})[0] == 404
    assert leaks(api.bodies, "Traceback", "/tmp/") == []
    assert problems(server.log) == []
