"""Training beyond one machine (#21 item 4): torchrun with two nodes on loopback (c10d rendezvous,
2 processes each, gloo), then a resume on another world size: no sample trained on twice or missed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import altakit

torch = pytest.importorskip("torch")

SCRIPT = Path(__file__).parent / "scripts" / "elastic_train.py"
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    out = subprocess.PIPE
    return subprocess.Popen([TORCHRUN, *args], env=env, text=True, stdout=out, stderr=subprocess.STDOUT)


def _finish(procs: list[subprocess.Popen[str]]) -> None:
    try:
        outs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-4000:]


def _seen(out: Path, phase: str) -> tuple[set[int], list[int]]:
    worlds, ids = set(), []
    for f in sorted(out.glob(f"seen-{phase}-*.json")):
        doc = json.loads(f.read_text())
        worlds.add(doc["world_size"])
        ids.extend(doc["ids"])
    return worlds, ids


def test_two_nodes_then_resume_on_three_ranks_sees_every_sample_once(tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1] / "datasets"))
    from datakit_types import digits

    store = tmp_path / "store"
    altakit.write_dataset(digits(), "digits", store=altakit.open_store(store), maxcount=200, progress=False)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "GLOO_SOCKET_IFNAME": "lo"}
    port = _port()
    rdzv = ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "altakit-elastic"]
    nodes = []
    for node in (0, 1):  # node 0 hosts the rendezvous store; both agents on loopback
        where = ["--node-rank", str(node), "--rdzv-conf", f"is_host={str(node == 0).lower()}"]
        args = ["--nnodes", "2", "--nproc-per-node", "2", *rdzv, *where, "--local-addr", "127.0.0.1"]
        nodes.append(_launch([*args, str(SCRIPT), str(store), str(out), "first", "5"], env))
    _finish(nodes)
    worlds, first = _seen(out, "first")
    assert worlds == {4} and len(first) == 4 * 5 * 32  # two nodes × two ranks, five batches each

    resume = ["--standalone", "--nproc-per-node", "3", str(SCRIPT), str(store), str(out), "resume"]
    _finish([_launch(resume, env)])
    worlds, rest = _seen(out, "resume")
    assert worlds == {3}
    both = first + rest
    assert len(both) == len(set(both)) == 1797  # every sample once across both worlds
    assert sorted(both) == list(range(1797))
