"""EncryptedStore: ciphertext at rest, wrong keys and tampering caught, ranges decrypt only what they need."""

from __future__ import annotations

import base64
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from altakit.errors import ConfigError, DecryptionError
from altakit.store import EncryptedStore
from altakit.store.crypto import HEADER, TAG, generate_key
from altakit.store.local import LocalStore
from altakit.store.wrap import WrappedStore

SEG = 1024
SECRET = b"TOP-SECRET-PAYLOAD:" * 200


class RangeCounter(WrappedStore):
    """A real store that records the byte ranges read from it."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.ranges: list[tuple[int, int]] = []

    def _read_range(self, name, start, stop):
        self.ranges.append((start, stop))
        return super()._read_range(name, start, stop)


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def enc(local_store, key) -> EncryptedStore:
    return EncryptedStore(local_store, key=key, segment_bytes=SEG)


def object_file(store: LocalStore, name: str) -> Path:
    return store._path(name)


def test_no_plaintext_at_rest(enc, local_store, tmp_path):
    src = tmp_path / "plain.bin"
    src.write_bytes(SECRET)
    vs = [enc.put("s/bytes.bin", SECRET), enc.put("s/path.bin", src), enc.copy("s/bytes.bin", "s/copy.bin")]
    for v in vs:
        assert enc.get(v.key) == SECRET
        assert v.size == len(SECRET)  # the name keeps the plaintext size ...
    stored = [p for p in local_store.root.rglob("*") if p.is_file()]
    assert len(stored) == 3
    for path in stored:
        raw = path.read_bytes()
        assert b"TOP-SECRET" not in raw  # ... the bytes are ciphertext
        assert len(raw) == HEADER + len(SECRET) + TAG * -(-len(SECRET) // SEG)
    assert len({p.read_bytes()[HEADER:] for p in stored}) == 2  # fresh data key per write; a copy is a copy


def test_wrong_key_names_the_object(enc, local_store):
    v = enc.put("k.bin", SECRET)
    other = EncryptedStore(local_store, key=os.urandom(32))
    with pytest.raises(DecryptionError) as err:
        other.get("k.bin")
    assert err.value.fields["name"] == v.name
    assert v.name in str(err.value) and "different master key" in str(err.value)
    assert err.value.hint
    with pytest.raises(DecryptionError), other.open("k.bin") as f:
        f.read(10)
    assert enc.get("k.bin") == SECRET  # nothing was lost


def flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "damage",
    ["header-key", "header-size", "segment", "last-tag", "truncate", "truncate-segment", "swap", "append"],
)
def test_tampering_detected(enc, local_store, damage):
    v = enc.put("t.bin", SECRET)
    path = object_file(local_store, v.name)
    raw = path.read_bytes()
    seg = SEG + TAG
    if damage == "header-key":
        flip(path, HEADER - 5)
    elif damage == "header-size":
        flip(path, 12)  # the authenticated plaintext size
    elif damage == "segment":
        flip(path, HEADER + seg + 100)
    elif damage == "last-tag":
        flip(path, len(raw) - 1)
    elif damage == "truncate":
        path.write_bytes(raw[:-500])
    elif damage == "truncate-segment":
        path.write_bytes(raw[: HEADER + 2 * seg])  # cut exactly at a segment boundary
    elif damage == "swap":
        a, b = raw[HEADER : HEADER + seg], raw[HEADER + seg : HEADER + 2 * seg]
        path.write_bytes(raw[:HEADER] + b + a + raw[HEADER + 2 * seg :])
    else:
        path.write_bytes(raw + b"extra")
    with pytest.raises(DecryptionError) as err:
        enc.get("t.bin")
    assert err.value.fields["name"] == v.name and v.name in str(err.value)
    with pytest.raises(DecryptionError), enc.open("t.bin") as f:
        f.read()


def test_tampered_segment_fails_only_where_read(enc, local_store):
    v = enc.put("t.bin", SECRET)
    flip(object_file(local_store, v.name), HEADER + 3 * (SEG + TAG) + 7)
    assert enc._read_range(v.name, 0, SEG) == SECRET[:SEG]  # untouched segments stay readable
    with pytest.raises(DecryptionError, match="segment 3"):
        enc._read_range(v.name, 3 * SEG + 10, 3 * SEG + 20)


def test_unencrypted_object_refused(local_store, enc):
    v = local_store.put("plain.bin", SECRET)
    with pytest.raises(DecryptionError, match="no valid encryption header") as err:
        enc.get("plain.bin")
    assert err.value.fields["key"] == "plain.bin" and err.value.fields["name"] == v.name


@pytest.mark.parametrize(
    ("start", "stop"),
    [(0, 1), (1020, 1030), (1023, 1025), (0, SEG), (SEG, 2 * SEG), (3000, 4100), (0, 3800), (3790, 3900)],
)
def test_ranges_across_segments(local_store, key, start, stop):
    counter = RangeCounter(local_store)
    enc = EncryptedStore(counter, key=key, segment_bytes=SEG)
    v = enc.put("r.bin", SECRET)  # 3800 bytes: 4 segments, the last one short
    counter.ranges.clear()
    assert enc._read_range(v.name, start, stop) == SECRET[start:stop]
    segments = (min(stop, v.size) - 1) // SEG - start // SEG + 1
    body = [r for r in counter.ranges if r[0] >= HEADER]
    assert len(body) == 1 and body[0][1] - body[0][0] <= segments * (SEG + TAG) + 1
    with enc.open("r.bin") as f:
        f.seek(start)
        assert f.read(stop - start) == SECRET[start:stop]


def test_stream_reads_cross_segments(enc):
    data = os.urandom(50 * SEG + 17)
    enc.put("s.bin", data)
    with enc.open("s.bin") as f:
        chunks = []
        while chunk := f.read(777):
            chunks.append(chunk)
    assert b"".join(chunks) == data
    raw = enc._open_raw(enc.info("s.bin").name, len(data))
    raw.seek(SEG - 3)
    assert raw.read(10) == data[SEG - 3 : SEG + 7]
    raw.close()


def test_key_from_env_and_file(local_store, tmp_path, monkeypatch):
    text = generate_key()
    monkeypatch.setenv("ALTAKIT_ENCRYPTION_KEY", text)
    from_env = EncryptedStore(local_store)
    v = from_env.put("e.bin", SECRET)
    secret_file = tmp_path / "secret"  # a mounted secret: base64 text with a newline
    secret_file.write_text(text + "\n")
    assert EncryptedStore(local_store, key_file=secret_file).get("e.bin") == SECRET
    raw_file = tmp_path / "raw-key"
    raw_file.write_bytes(base64.b64decode(text))
    assert EncryptedStore(local_store, key_file=raw_file).get("e.bin") == SECRET
    assert EncryptedStore(local_store, key=base64.b64decode(text)).get("e.bin", version=v.id) == SECRET
    monkeypatch.setenv("TEAM_KEY", base64.urlsafe_b64encode(base64.b64decode(text)).decode())
    assert EncryptedStore(local_store, key_env="TEAM_KEY").get("e.bin") == SECRET


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"key": b"short"},
        {"key": "not bytes"},
        {"key_env": "BAD_KEY"},
        {"key_file": "/nonexistent/secret"},
        {"key": bytes(32), "key_file": "/x"},
        {"key": bytes(32), "segment_bytes": 3},
    ],
)
def test_bad_key_config(local_store, monkeypatch, kwargs):
    monkeypatch.delenv("ALTAKIT_ENCRYPTION_KEY", raising=False)
    monkeypatch.setenv("BAD_KEY", "dG9vIHNob3J0")  # base64 of "too short"
    with pytest.raises(ConfigError) as err:
        EncryptedStore(local_store, **kwargs)
    assert err.value.hint or "either" in str(err.value)


def test_pickle_keeps_env_keys_out(local_store, monkeypatch):
    text = generate_key()
    monkeypatch.setenv("ALTAKIT_ENCRYPTION_KEY", text)
    store = EncryptedStore(local_store)
    store.put("p.bin", SECRET)
    dumped = pickle.dumps(store)
    assert base64.b64decode(text) not in dumped  # workers re-read the key from the environment
    assert pickle.loads(dumped).get("p.bin") == SECRET
    monkeypatch.delenv("ALTAKIT_ENCRYPTION_KEY")
    with pytest.raises(ConfigError):
        pickle.loads(dumped)


def test_import_altakit_stays_light():
    code = "import sys, altakit, altakit.store; assert 'cryptography' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
