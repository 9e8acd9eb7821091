"""The live-metrics REST route through a real Jupyter server: only the points a client lacks."""

from __future__ import annotations

import json

from jupyter_servers import get, index_url, jupyter_server, problems

import altakit
from altakit.catalog import Catalog
from altakit.events import EventStream
from altakit.train import RunRecorder

TOKEN = "run-metrics-token"


def test_metrics_route_sends_new_points_while_the_run_grows(tmp_path, monkeypatch):
    store_dir = tmp_path / "store"
    monkeypatch.setenv("ALTAKIT_INDEX", index_url(store_dir))  # the index the server reads too
    store = altakit.open_store(store_dir)
    Catalog(store, index_url(store_dir)).close()
    stream = EventStream("jobs/line4-model-1")  # a run name with a slash
    stream.subscribe(RunRecorder(store, "jobs/line4-model-1"))
    stream.start({"epochs": 3}, epochs=3)
    stream.epoch(0, {"loss": 1.0}, step=5)
    with jupyter_server(tmp_path, store_dir, TOKEN) as server:
        api = server.url.removesuffix("api") + "altakit/api"
        url = f"{api}/runs/jobs/line4-model-1/latest/metrics"
        assert get(url)[0] in (401, 403)  # behind Jupyter's auth
        status, body = get(f"{url}?after=0", TOKEN)
        assert status == 200, body
        first = json.loads(body)
        assert (first["status"], first["total"], first["version"]) == ("running", 1, 1)
        assert [p["loss"] for p in first["points"]] == [1.0]
        stream.epoch(1, {"loss": 0.5}, step=10)
        stream.epoch(2, {"loss": 0.25}, step=15)
        grown = json.loads(get(f"{url}?after=1", TOKEN)[1])
        assert [p["epoch"] for p in grown["points"]] == [1, 2] and grown["total"] == 3  # only the new ones
        stream.end("finished")
        ended = json.loads(get(f"{api}/runs/jobs/line4-model-1/1/metrics?after=3", TOKEN)[1])
        assert (ended["status"], ended["points"], ended["version"]) == ("finished", [], 2)
        status, body = get(f"{url}?after=x", TOKEN)
        assert status == 400 and json.loads(body)["hint"] == "?after=0"
        status, body = get(f"{api}/runs/nope/latest/metrics", TOKEN)
        assert status == 404 and "nope" in json.loads(body)["message"]
        status, body = get(f"{api}/runs/jobs/line4-model-1", TOKEN)  # the catalog's own route still answers
        assert status == 200 and len(json.loads(body)["versions"]) == 2
    assert problems(server.log) == [], server.log.read_text()
