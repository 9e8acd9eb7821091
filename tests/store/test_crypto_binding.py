"""Encrypted objects are bound to their key and version, and their names confirm no guess of the bytes.

Attacks are made with the real stores' own primitives (local files and the loopback
S3 server): ciphertext copied under a newer version name of the same or another key
(a rollback), two objects' ciphertexts swapped, an object overwritten with another's.
"""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from altakit.errors import CorruptObject, DecryptionError
from altakit.store import EncryptedStore
from altakit.store.crypto import _PREFIX, _aad, _nonce, key_id
from altakit.store.names import Version, checksum, new_id

SEG = 1024
OLD = b"balance: 100 EUR;" * 300  # both 5,100 bytes: a swap keeps every size right
NEW = b"balance: 999 EUR;" * 300


@pytest.fixture(params=["local", "s3"])
def inner(request):
    """The store that holds the ciphertext: local files, or the loopback S3 server."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


def raw(store, name: str) -> bytes:
    """The stored bytes of object ``name`` as they are."""
    return store._read_range(name, 0, 1 << 30)


def place(store, name: str, data: bytes) -> None:
    """Make ``data`` the stored bytes of object ``name`` (replacing any)."""
    store._remove(name)
    store._write(name, data)


def forged(key: str, like: Version) -> Version:
    """A version name newer than any, with the size and checksum fields of ``like``."""
    return Version(key, new_id(), like.size, like.checksum, like.writer)


@pytest.mark.parametrize("source_key", ["acct/balance", "other/balance"])
def test_old_ciphertext_under_a_newer_name_is_refused(inner, key, source_key):
    enc = EncryptedStore(inner, key=key, segment_bytes=SEG)
    old = enc.put(source_key, OLD)
    enc.put("acct/balance", NEW)
    fake = forged("acct/balance", old)
    place(inner, fake.name, raw(inner, old.name))  # the rollback: old bytes as the latest version
    assert enc.resolve("acct/balance").id == fake.id
    for store in (enc, EncryptedStore(inner, key=key)):  # a fresh store too (no cached header)
        with pytest.raises(DecryptionError, match="another key or version"):
            store.get("acct/balance")
        with pytest.raises(DecryptionError):
            store._read_range(fake.name, 100, 200)
        with pytest.raises(DecryptionError), store.open("acct/balance") as f:
            f.read()


def test_newest_overwritten_with_old_ciphertext_is_refused(inner, key):
    enc = EncryptedStore(inner, key=key, segment_bytes=SEG)
    old = enc.put("acct/balance", OLD)
    new = enc.put("acct/balance", NEW)
    place(inner, new.name, raw(inner, old.name))
    fresh = EncryptedStore(inner, key=key)
    with pytest.raises((DecryptionError, CorruptObject)):
        fresh.get("acct/balance")
    with pytest.raises(DecryptionError), fresh.open("acct/balance") as f:
        f.seek(2000)
        f.read(100)  # a range is never the other version's bytes


def test_swapped_ciphertexts_fail_on_a_ranged_read(inner, key):
    enc = EncryptedStore(inner, key=key, segment_bytes=SEG)
    a, b = enc.put("a/data", OLD), enc.put("b/data", NEW)
    assert enc._read_range(a.name, 10, 20) == OLD[10:20]  # a header cached before the swap
    blob_a, blob_b = raw(inner, a.name), raw(inner, b.name)
    place(inner, a.name, blob_b)
    place(inner, b.name, blob_a)
    for store in (enc, EncryptedStore(inner, key=key, segment_bytes=SEG)):
        for v in (a, b):
            with pytest.raises(DecryptionError):
                store._read_range(v.name, 3000, 3100)
            with pytest.raises(DecryptionError), store.open(v.key) as f:
                f.seek(3000)
                f.read(100)


def test_names_confirm_no_guess_without_the_key(inner, key):
    enc = EncryptedStore(inner, key=key, segment_bytes=SEG)
    v = enc.put("hr/salary.txt", OLD)
    enc.put("hr/copy.txt", io.BytesIO(OLD))
    with enc.open_writer("hr/stream.txt") as f:
        f.write(OLD)
    enc.copy("hr/salary.txt", "hr/copied.txt")
    names = list(inner._scan("hr/", True))
    assert len(names) == 4
    bare = hashlib.sha256(OLD).hexdigest()
    for name in names:
        assert bare[:32] not in name and bare[:16] not in name
    # a guess cannot be checked without the key: another key names the same bytes differently
    other = EncryptedStore(inner, key=os.urandom(32))
    assert other._name_checksum(None, checksum(OLD)) != v.checksum
    assert checksum(OLD) != v.checksum
    # whoever holds the key still verifies every read
    assert enc.get("hr/salary.txt") == OLD
    assert enc.read_verified("hr/stream.txt", lambda f: f.read()) == OLD
    with enc.open("hr/copied.txt") as f:
        assert f.read() == OLD
    wrong = Version("hr/salary.txt", new_id(), v.size, "0" * 32, v.writer)  # a made-up checksum field
    place(inner, wrong.name, raw(inner, v.name))
    with pytest.raises((CorruptObject, DecryptionError)):
        enc.get("hr/salary.txt")


def legacy_blob(master: bytes, plain: bytes) -> bytes:
    """An object as written before binding: ``AKE1``, the data key wrapped with no name."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    prefix = _PREFIX.pack(b"AKE1", SEG, len(plain), key_id(master))
    data_key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
    out = prefix + nonce + AESGCM(master).encrypt(nonce, data_key, prefix)
    count = max(1, -(-len(plain) // SEG))
    for i in range(count):
        out += AESGCM(data_key).encrypt(_nonce(i), plain[i * SEG : (i + 1) * SEG], _aad(i, i == count - 1))
    return out


def test_objects_written_before_binding_stay_readable(inner, key):
    old = Version("legacy/a.bin", new_id(), len(OLD), checksum(OLD), "old@host")  # a bare-SHA name
    inner._write(old.name, legacy_blob(key, OLD))
    enc = EncryptedStore(inner, key=key)
    assert enc.get("legacy/a.bin") == OLD
    assert enc.read_verified("legacy/a.bin", lambda f: f.read()) == OLD
    assert enc._read_range(old.name, 1500, 1600) == OLD[1500:1600]
    with enc.open("legacy/a.bin") as f:
        assert f.read() == OLD
    strict = EncryptedStore(inner, key=key, accept_unbound=False)
    with pytest.raises(DecryptionError, match="AKE1"):
        strict.get("legacy/a.bin")
    with enc.open("legacy/a.bin") as f:  # the migration the hint names: rewrite it bound
        new = enc.put("legacy/a.bin", f)
    assert new.checksum != checksum(OLD)
    assert strict.get("legacy/a.bin") == OLD
    assert raw(inner, new.name)[:4] == b"AKE2"


def test_a_copy_is_bound_to_its_new_name(inner, key):
    enc = EncryptedStore(inner, key=key, segment_bytes=SEG)
    enc.put("a/data", OLD)
    c = enc.copy("a/data", "b/data")
    assert enc.get("b/data") == OLD
    fake = forged("b/data", c)
    place(inner, fake.name, raw(inner, c.name))
    with pytest.raises(DecryptionError):
        enc.get("b/data")
