"""S3-specific behaviour of S3Store, against moto's server on loopback.

The store contract (versions, listing, ranges …) is in test_contract.py; here:
opening and its faults, credentials, multipart, pickling into workers, retries
when the server goes away mid-read, and the options handed to polars/deltalake.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import threading
import time
from pathlib import Path

import pytest
from fixtures.s3 import FAST_RETRIES, MotoServer, make_bucket

import altakit
from altakit.errors import AccessDenied, ConfigError, CorruptObject, NotFound, StoreUnavailable

pytestmark = pytest.mark.s3
MiB = 1024 * 1024


def _blob(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating bytes (a wrong offset shows as a checksum mismatch)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest() * 64
        counter += 1
    return bytes(out[:size])


# ---------------------------------------------------------------- URLs and opening
@pytest.mark.parametrize(
    "url",
    ["s3://AKIAXXXX:s3cr3t@bucket/prefix", "s3://AKIAXXXX@bucket", "s3://:s3cr3t@bucket"],
)
def test_credentials_in_url_are_refused(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        altakit.open_store(url, endpoint_url="http://127.0.0.1:9")
    assert "refused" in str(err.value) and err.value.hint
    assert "s3cr3t" not in str(err.value) and "AKIAXXXX" not in str(err.value)


@pytest.mark.parametrize("url", ["s3://", "s3://Bad_Bucket/x", "s3://bucket/a/../b", "s3://bucket/p?x=1"])
def test_malformed_urls(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        altakit.open_store(url, endpoint_url="http://127.0.0.1:9")
    assert err.value.hint


def test_missing_bucket(s3_server: MotoServer) -> None:
    with pytest.raises(NotFound) as err:
        altakit.open_store("s3://no-such-bucket-here/p", endpoint_url=s3_server.url, **FAST_RETRIES)
    assert "no-such-bucket-here" in str(err.value)
    assert err.value.fields["bucket"] == "no-such-bucket-here"
    assert "mb s3://no-such-bucket-here" in err.value.hint
    assert isinstance(err.value, FileNotFoundError)


def test_unreachable_endpoint(s3_server: MotoServer) -> None:
    from fixtures.s3 import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as err:
        altakit.open_store("s3://bucket/p", endpoint_url=dead, **FAST_RETRIES)
    assert time.monotonic() - started < 10
    assert err.value.fields["op"] == "head_bucket"
    assert "3 attempts" in str(err.value) and "endpoint" in err.value.hint
    assert isinstance(err.value, ConnectionError)


def test_aws_endpoint_url_env(s3_server: MotoServer, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.url)
    store = altakit.open_store(f"s3://{s3_bucket}/p", **FAST_RETRIES)
    assert store.endpoint_url == s3_server.url
    assert store.get(store.put("a", b"x").key) == b"x"


def test_no_credentials(s3_server: MotoServer, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AccessDenied) as err:
        altakit.open_store(f"s3://{s3_bucket}", endpoint_url=s3_server.url, **FAST_RETRIES)
    assert "credentials_dir" in err.value.hint


def test_missing_profile(s3_server: MotoServer, s3_bucket: str) -> None:
    with pytest.raises(ConfigError) as err:
        altakit.open_store(f"s3://{s3_bucket}", endpoint_url=s3_server.url, profile="nope", **FAST_RETRIES)
    assert "nope" in str(err.value) and err.value.hint


# ---------------------------------------------------------------- real authentication
@pytest.fixture(scope="module")
def auth_server(s3_env: Path, tmp_path_factory: pytest.TempPathFactory):
    """A moto server that enforces IAM auth after setup: yields (server, bucket, key id, secret)."""
    import boto3

    # the first 4 requests are unauthenticated (setup), every later one is checked against IAM
    server = MotoServer(
        env={"INITIAL_NO_AUTH_ACTION_COUNT": "4"}, log_dir=str(tmp_path_factory.mktemp("auth"))
    )
    server.start()
    try:
        iam = boto3.client("iam", endpoint_url=server.url, region_name="us-east-1")
        iam.create_user(UserName="ana")
        policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
        iam.put_user_policy(UserName="ana", PolicyName="s3", PolicyDocument=policy)
        key = iam.create_access_key(UserName="ana")["AccessKey"]
        make_bucket(server.url, "auth-bucket")
        yield server, "auth-bucket", key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        server.stop()


def test_wrong_credentials(auth_server, monkeypatch: pytest.MonkeyPatch) -> None:
    server, bucket, _, _ = auth_server
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(AccessDenied) as err:
        altakit.open_store(f"s3://{bucket}/p", endpoint_url=server.url, **FAST_RETRIES)
    assert "AWS_ACCESS_KEY_ID" in err.value.hint
    assert isinstance(err.value, PermissionError)


def test_right_credentials_via_credentials_dir(auth_server, tmp_path: Path, monkeypatch) -> None:
    server, bucket, key_id, secret = auth_server
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")  # must not be used
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    folder = tmp_path / "secret"
    folder.mkdir()
    (folder / "AWS_ACCESS_KEY_ID").write_text(key_id + "\n")  # mounted secrets often end in a newline
    (folder / "AWS_SECRET_ACCESS_KEY").write_text(secret)
    store = altakit.open_store(
        f"s3://{bucket}/dir", endpoint_url=server.url, credentials_dir=folder, **FAST_RETRIES
    )
    v = store.put("a.txt", b"secret-backed")
    assert store.get("a.txt") == b"secret-backed"
    # the same through $ALTAKIT_S3_CREDENTIALS_DIR, and in a copy sent to a worker
    monkeypatch.setenv("ALTAKIT_S3_CREDENTIALS_DIR", str(folder))
    again = pickle.loads(pickle.dumps(altakit.open_store(f"s3://{bucket}/dir", endpoint_url=server.url)))
    assert again.get("a.txt", version=v.id) == b"secret-backed"
    assert secret not in pickle.dumps(again).decode("latin-1")


def test_right_credentials_via_profile(auth_server, tmp_path: Path, monkeypatch) -> None:
    server, bucket, key_id, secret = auth_server
    creds = tmp_path / "credentials"
    creds.write_text(f"[team]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = altakit.open_store(f"s3://{bucket}/prof", endpoint_url=server.url, profile="team", **FAST_RETRIES)
    assert store.get(store.put("b.txt", b"profile").key) == b"profile"


def test_bad_credentials_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        altakit.open_store("s3://bucket", credentials_dir=tmp_path / "missing")
    assert "credentials_dir" in err.value.hint
    (tmp_path / "AWS_ACCESS_KEY_ID").write_text("AKIA")
    with pytest.raises(AccessDenied) as denied:
        altakit.open_store("s3://bucket", credentials_dir=tmp_path)
    assert "AWS_SECRET_ACCESS_KEY" in str(denied.value)


# ---------------------------------------------------------------- data paths
def _head(store, version) -> dict:
    return store._client().head_object(Bucket=store.bucket, Key=store._key(version.name))


def test_multipart_upload_of_a_large_file(s3_store, tmp_path: Path) -> None:
    data = _blob(20 * MiB + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    v = s3_store.put("big/file.bin", path)
    assert _head(s3_store, v)["ETag"].strip('"').endswith("-2")  # two 16 MiB parts: a multipart upload
    assert s3_store.get("big/file.bin") == data  # parallel ranged GETs
    with s3_store.open("big/file.bin") as f:
        assert f.read() == data  # one streaming GET
        f.seek(17 * MiB)
        assert f.read(1000) == data[17 * MiB : 17 * MiB + 1000]
    # bytes from memory take the same multipart path; a small object is one PUT
    v2 = s3_store.put("big/mem.bin", memoryview(data)[: 17 * MiB])
    assert _head(s3_store, v2)["ETag"].strip('"').endswith("-2")
    assert s3_store.get("big/mem.bin") == data[: 17 * MiB]
    small = s3_store.put("small.bin", data[:100])
    assert "-" not in _head(s3_store, small)["ETag"]
    # server-side copy
    c = s3_store.copy("big/file.bin", "big/copy.bin")
    assert s3_store.get("big/copy.bin", version=c.id) == data


def test_put_into_a_vanished_bucket(s3_server: MotoServer, tmp_path: Path) -> None:
    """Both write paths (one PUT, multipart) raise NotFound naming the bucket, not a botocore error."""
    store = altakit.open_store(
        "s3://vanished-bucket", endpoint_url=s3_server.url, check=False, **FAST_RETRIES
    )
    path = tmp_path / "big.bin"
    path.write_bytes(_blob(17 * MiB))
    for data in (b"small", path):
        with pytest.raises(NotFound) as err:
            store.put("k", data)
        assert err.value.fields["bucket"] == "vanished-bucket"


def test_seeks_reopen_the_stream(s3_store) -> None:
    data = _blob(3 * MiB)
    v = s3_store.put("r.bin", data)
    raw = s3_store._open_raw(v.name, v.size)
    assert raw.read(10) == data[:10]
    raw.seek(100_000)  # short forward seek: read on, same GET
    assert raw.read(10) == data[100_000:100_010] and raw.reopens == 1
    raw.seek(5)  # backwards: a new GET from there
    assert raw.read(10) == data[5:15] and raw.reopens == 2
    raw.seek(0, 2)
    assert raw.read(10) == b"" and raw.reopens == 2  # at the end: no request
    raw.close()


def test_object_replaced_under_a_reader(s3_store) -> None:
    """If another tool rewrites an object, a reopened stream refuses it (If-Match on the ETag)."""
    data = _blob(2 * MiB, seed=1)
    v = s3_store.put("r.bin", data)
    raw = s3_store._open_raw(v.name, v.size)
    assert raw.read(10) == data[:10]
    key = s3_store._key(v.name)
    s3_store._client().put_object(Bucket=s3_store.bucket, Key=key, Body=_blob(2 * MiB, seed=2))
    raw.seek(0)
    with pytest.raises(CorruptObject) as err:
        raw.read(10)
    assert "changed" in str(err.value) and err.value.hint
    raw.close()


# ---------------------------------------------------------------- workers
def _read_in_worker(store, key: str) -> str:
    return hashlib.sha256(store.get(key)).hexdigest()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_store_pickles_into_workers(s3_store, method: str) -> None:
    data = _blob(100_000)
    s3_store.put("w.bin", data)
    clone = pickle.loads(pickle.dumps(s3_store))
    assert clone._client_cache is None and clone.get("w.bin") == data
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:  # fork copies the live client: the store must reconnect in the child
        digests = pool.starmap(_read_in_worker, [(s3_store, "w.bin")] * 2)
    assert digests == [hashlib.sha256(data).hexdigest()] * 2


# ---------------------------------------------------------------- faults
@pytest.fixture
def private_server(s3_env: Path, tmp_path: Path):
    """A moto server of this test alone (stopping the session server would disturb others)."""
    server = MotoServer(log_dir=str(tmp_path))
    server.start()
    yield server
    server.stop()


def test_server_restart_during_read(private_server: MotoServer, tmp_path: Path) -> None:
    data = _blob(32 * MiB, seed=7)
    src = tmp_path / "obj.bin"
    src.write_bytes(data)
    bucket = make_bucket(private_server.url)
    store = altakit.open_store(
        f"s3://{bucket}/p",
        endpoint_url=private_server.url,
        attempts=12,
        backoff=0.1,
        max_backoff=1.0,
        multipart_threshold=64 * MiB,  # one PUT, so the restored copy has the same ETag
    )
    v = store.put("obj.bin", src)
    # what a durable server holds when it comes back: the same object under the same name
    seed = {bucket: {store._key(v.name): src}}

    raw = store._open_raw(v.name, v.size)
    got = bytearray(raw.read(1 * MiB))
    private_server.stop()
    restart = threading.Thread(target=private_server.start, kwargs={"seed": seed})
    restart.start()
    try:
        while chunk := raw.read(1 * MiB):
            got += chunk
    except StoreUnavailable as exc:  # allowed: the server did not come back in time
        assert exc.fields["op"] == "read"
    else:
        assert bytes(got) == data
        assert raw.reopens >= 2  # the stream was really cut and reopened
    finally:
        restart.join()
        raw.close()
    assert bytes(got) == data[: len(got)]  # never a wrong byte
    # the verified reader on top: whole and correct, or an error
    with store.open("obj.bin") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()


def test_server_gone_during_read(private_server: MotoServer) -> None:
    bucket = make_bucket(private_server.url)
    store = altakit.open_store(f"s3://{bucket}", endpoint_url=private_server.url, **FAST_RETRIES)
    data = _blob(24 * MiB, seed=3)
    store.put("x.bin", data)
    got = bytearray()
    f = store.open("x.bin")
    got += f.read(1 * MiB)
    private_server.stop()
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as err:
        while chunk := f.read(1 * MiB):
            got += chunk
    assert err.value.fields["op"] == "read" and "read of" in str(err.value)
    assert time.monotonic() - started < 10
    assert bytes(got) == data[: len(got)]  # what came back before the error was right
    with pytest.raises(StoreUnavailable):
        store.get("x.bin")


# ---------------------------------------------------------------- other tools
def test_storage_options_reach_the_bucket_with_polars(s3_store) -> None:
    pl = pytest.importorskip("polars")
    opts = s3_store.storage_options()
    assert opts["aws_endpoint_url"] == s3_store.endpoint_url and opts["aws_allow_http"] == "true"
    url = f"{s3_store.root_url}/tables/t.parquet"
    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    df.write_parquet(url, storage_options=opts)
    assert pl.read_parquet(url, storage_options=opts).equals(df)
    listed = s3_store._client().list_objects_v2(Bucket=s3_store.bucket, Prefix=f"{s3_store.prefix}/tables/")
    assert [o["Key"] for o in listed["Contents"]] == [f"{s3_store.prefix}/tables/t.parquet"]


def test_import_altakit_does_not_import_boto3() -> None:
    import subprocess
    import sys

    code = "import sys, altakit; altakit.open_store; assert 'boto3' not in sys.modules, 'boto3 loaded'"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0, out.stderr


def _slow_down() -> Exception:
    from botocore.exceptions import ClientError

    response = {"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}}
    return ClientError({**response, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject")


def test_throttling_is_retried_then_reported(s3_store) -> None:
    """SlowDown (503) is retried with backoff; past the attempts it is StoreUnavailable naming the op."""
    from altakit.store.s3_faults import is_transient

    assert is_transient(_slow_down()) and is_transient(ConnectionResetError())
    calls = []

    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise _slow_down()
        return "ok"

    assert s3_store._call("put", "k", flaky) == "ok" and len(calls) == 3
    assert calls[1] - calls[0] >= 0.5 * FAST_RETRIES["backoff"]  # it waited before retrying
    calls.clear()

    def always() -> str:
        calls.append(1)
        raise _slow_down()

    with pytest.raises(StoreUnavailable) as err:
        s3_store._call("put", "k", always)
    assert len(calls) == s3_store.attempts and err.value.fields["op"] == "put"
