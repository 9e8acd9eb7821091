"""PyTorch: exact resume after SIGKILL, SIGKILL inside a checkpoint write, DDP with gloo, safe loading."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import altakit  # noqa: E402
from altakit.errors import CheckpointError, CorruptObject  # noqa: E402
from altakit.train.torch import Checkpointer  # noqa: E402

SCRIPTS = Path(__file__).parent / "scripts"


def _train(store: Path, run: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPTS / "torch_train.py"), str(store), run, str(out), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240)


def _equal(a: Path, b: Path) -> bool:
    sa, sb = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    store = tmp_path / "store"
    assert _train(store, "full", tmp_path / "full.pt").returncode == 0
    killed = _train(store, "cut", tmp_path / "cut.pt", "--kill-at-step", "40")  # epoch 2 of 3, mid-epoch
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "cut.pt").exists()
    resumed = _train(store, "cut", tmp_path / "cut.pt")
    assert resumed.returncode == 0, resumed.stderr
    assert _equal(tmp_path / "full.pt", tmp_path / "cut.pt")


@pytest.mark.slow
@pytest.mark.parametrize("point", ["stream", "rename", "manifest"])
def test_sigkill_during_checkpoint_write_restores_previous(tmp_path, point):
    store = tmp_path / "store"
    killed = _train(store, "r", tmp_path / "x.pt", "--kill-point", point)
    assert killed.returncode == -signal.SIGKILL
    ckpt = Checkpointer(altakit.open_store(store), "r")
    listed = ckpt.checkpoints()
    assert [c.step for c in listed] == [7]  # the first save; the second never committed
    state, c = ckpt.load("latest")
    assert c.step == 7 and state["step"] == 7 and "0.weight" in state["model"]
    if point == "stream":  # the half-written bytes stay in the temp folder, never a version
        assert [f.stat().st_size > 0 for f in (store / ".altakit-tmp").iterdir()] == [True]
        assert len(ckpt.store.versions(ckpt.state_key)) == 1
    if point == "manifest":  # the written but uncommitted version is swept on the next save
        assert len(ckpt.store.versions(ckpt.state_key)) == 2
        ckpt.save({"w": torch.zeros(1)}, step=8)
        assert [v.id for v in ckpt.store.versions(ckpt.state_key)] == [c.version, ckpt.find().version]


def test_mismatched_model_and_unsafe_payload_are_refused(local_store):
    ckpt = Checkpointer(local_store, "r")
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ckpt.save(step=1, epoch=0, model=model, optimizer=opt)
    with pytest.raises(CheckpointError, match="does not match the model"):
        ckpt.resume(model=torch.nn.Linear(5, 2))
    with pytest.raises(CheckpointError, match="optimizer"):
        other = torch.nn.Sequential(torch.nn.Linear(4, 2))
        ckpt.resume(
            model=model, optimizer=torch.optim.SGD([*other.parameters(), torch.nn.Parameter(torch.ones(1))])
        )
    # a pickle that would run code is refused, not executed
    import io
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    buf = io.BytesIO()
    torch.save({"x": Evil()}, buf, _use_new_zipfile_serialization=True, pickle_module=pickle)
    from altakit.train.torch import decode

    with pytest.raises(CheckpointError, match="safe torch payload"):
        decode(buf.getvalue())


def test_streamed_checkpoint_is_plain_torch_and_damage_fails_its_checksum(local_store):
    ckpt = Checkpointer(local_store, "r", keep_last=2)
    first = ckpt.save({"w": torch.ones(3)}, step=1)
    big = {"w": torch.arange(300_000, dtype=torch.float32), "b": torch.zeros(5)}  # > one write buffer
    c = ckpt.save(big, step=2)
    raw = local_store.get(c.key, c.version)
    assert c.size == len(raw)
    plain = torch.load(io.BytesIO(raw), weights_only=True)  # any torch reads it: no altakit wrapper
    assert torch.equal(plain["w"], big["w"]) and torch.equal(ckpt.load()[0]["b"], big["b"])
    path = local_store._path(local_store.resolve(c.key, c.version).name)
    for offset, byte in [(0, 0x00), (len(raw) // 2, raw[len(raw) // 2] ^ 0xFF)]:
        damaged = bytearray(raw)
        damaged[offset] = byte  # the zip magic (torch.load fails) / a weight (torch.load succeeds)
        path.write_bytes(bytes(damaged))
        with pytest.raises(CorruptObject, match="fails its checksum") as info:
            ckpt.load("latest")
        assert first.version in info.value.hint
    state, older = ckpt.load(1)
    assert older.version == first.version and torch.equal(state["w"], torch.ones(3))


@pytest.mark.s3
def test_streamed_s3_checkpoint_is_multipart_and_damage_fails_its_checksum(s3_server, s3_bucket):
    store = altakit.open_store(
        f"s3://{s3_bucket}/ck", endpoint_url=s3_server.url, part_size=5 << 20, multipart_threshold=5 << 20
    )
    ckpt = Checkpointer(store, "r", keep_last=2)
    first = ckpt.save({"w": torch.ones(3)}, step=1)
    big = {"w": torch.arange(3_000_000, dtype=torch.float32), "b": torch.zeros(5)}  # 12 MB: three parts
    c = ckpt.save(big, step=2)
    key = store._key(store.resolve(c.key, c.version).name)
    client = store._client()
    assert client.head_object(Bucket=s3_bucket, Key=key)["ETag"].strip('"').endswith("-3")
    state, _ = ckpt.load()
    assert torch.equal(state["w"], big["w"]) and torch.equal(state["b"], big["b"])
    raw = store.get(c.key, c.version)
    damaged = bytearray(raw)
    damaged[len(raw) // 2] ^= 0xFF  # a weight: torch.load alone would not notice
    client.put_object(Bucket=s3_bucket, Key=key, Body=bytes(damaged))
    with pytest.raises(CorruptObject, match="fails its checksum") as info:
        ckpt.load("latest")
    assert first.version in info.value.hint
    state, older = ckpt.load(1)
    assert older.version == first.version and torch.equal(state["w"], torch.ones(3))
    store.close()


def test_resume_returns_none_without_checkpoint(local_store):
    assert Checkpointer(local_store, "nothing").resume(model=torch.nn.Linear(1, 1)) is None


@pytest.mark.slow
def test_ddp_gloo_two_ranks_one_writer_then_resume_on_one(tmp_path):
    store = tmp_path / "store"
    cmd = [sys.executable, str(SCRIPTS / "ddp_train.py"), str(store), str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    s = altakit.open_store(store)
    ckpt = Checkpointer(s, "ddp", keep_last=10)
    listed = ckpt.checkpoints()
    assert [c.epoch for c in listed] == [1, 2]  # one writer: one version per save, not one per rank
    assert len(s.versions(ckpt.state_key)) == 2
    assert all(c.meta["world_size"] == 2 for c in listed)
    model = torch.nn.Linear(8, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    resumed = ckpt.resume(model=model, optimizer=opt)  # one process, no process group
    assert resumed.epoch == 2
    final = torch.load(tmp_path / "rank0.pt", weights_only=True)
    assert all(torch.equal(final[k], model.state_dict()[k]) for k in final)
