"""Credentials in store URLs are refused before any backend sees them, and never echoed.

Every case opens the URL through ``altakit.open_store`` (the S3 cases against the
loopback S3 server, so the endpoint is real and reachable) and through the
backend's own constructor where one parses URLs; the refusal is a ``ConfigError``
whose message, hint and fields show the URL masked and say where credentials go.
"""

from __future__ import annotations

import traceback

import pytest

import altakit
from altakit.errors import ConfigError
from altakit.store.credentials import mask_url, secret_name

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYzEXAMPLE"

S3_URLS = [
    f"s3://{{bucket}}/team?aws_secret_access_key={SECRET}",
    f"s3://{{bucket}}/team?AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE&aws_secret_access_key={SECRET}",
    f"s3://{{bucket}}/team?X-Amz-Signature={SECRET}",
    f"s3://{{bucket}}/team?sessionToken={SECRET}",
    f"s3://AKIAIOSFODNN7EXAMPLE:{SECRET}@{{bucket}}/team",
    f"s3://{SECRET}@{{bucket}}/team",
    f"s3://{{bucket}}/team?region=eu&x={SECRET}",  # an innocent name: still no echo of the value
    f"s3://{{bucket}}/team#{SECRET}",
]
OTHER_URLS = [
    (f"jvm+hdfs://user:{SECRET}@namenode:8020/lake", "Hadoop configuration"),
    (f"jvm+hdfs://namenode:8020/lake?password={SECRET}", "Hadoop configuration"),
    (f"jvm+webhdfs://nn/lake?delegation={SECRET}", "query or fragment"),
    (f"jvm+file://u:{SECRET}@/tmp/lake", "Hadoop configuration"),
    (f"file://user:{SECRET}@localhost/tmp/x", "needs no credentials"),
    (f"file://{SECRET}@localhost/tmp/x", "needs no credentials"),
    (f"file:///tmp/x?apiKey={SECRET}", "needs no credentials"),
    (f"FILE://user:{SECRET}@localhost/tmp/x", "needs no credentials"),
]


def _no_echo(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc))
    assert SECRET not in text, text
    assert SECRET not in repr(getattr(exc, "fields", {})) and SECRET not in str(getattr(exc, "hint", ""))
    assert SECRET[:12] not in text  # no part of it either


@pytest.mark.parametrize("url", S3_URLS)
def test_s3_url_credentials_refused_unechoed(url, s3_server, s3_bucket):
    url = url.format(bucket=s3_bucket)
    with pytest.raises(ConfigError) as info:
        altakit.open_store(url, endpoint_url=s3_server.url)
    _no_echo(info.value)
    assert s3_bucket in info.value.message  # the user still sees which URL
    if "credentials" in info.value.message:
        assert "AWS_SECRET_ACCESS_KEY" in info.value.hint and "profile" in info.value.hint
    from altakit.store.s3 import S3Store

    with pytest.raises(ConfigError) as direct:  # the backend's own parser refuses alike
        S3Store.from_url(url, endpoint_url=s3_server.url)
    _no_echo(direct.value)


@pytest.mark.parametrize(("url", "where"), OTHER_URLS)
def test_jvm_and_file_url_credentials_refused_unechoed(url, where, tmp_path):
    with pytest.raises(ConfigError) as info:
        altakit.open_store(url)
    _no_echo(info.value)
    assert where in str(info.value)
    assert "***" in info.value.fields["url"] or "?" not in info.value.fields["url"]
    assert not (tmp_path / "x").exists()


def test_jvm_store_constructor_refuses_before_the_jvm_starts():
    from altakit.store.jvm import JvmStore

    for url in (f"jvm+hdfs://user:{SECRET}@nn/lake", f"jvm+hdfs://nn/lake?token={SECRET}"):
        with pytest.raises(ConfigError) as info:
            JvmStore.from_url(url)
        _no_echo(info.value)
    with pytest.raises(ConfigError) as info:
        JvmStore(f"hdfs://user:{SECRET}@nn/lake")
    _no_echo(info.value)
    assert "hdfs://***@nn/lake" in info.value.message


def test_masked_url_shows_where_the_secret_was():
    with pytest.raises(ConfigError) as info:
        altakit.open_store(f"jvm+hdfs://ana:{SECRET}@nn:8020/lake")
    assert info.value.fields["url"] == "jvm+hdfs://***@nn:8020/lake"
    assert mask_url(f"postgresql://ana:{SECRET}@db/app") == "postgresql://ana:***@db/app"


def test_innocent_urls_and_paths_still_open(tmp_path, s3_server, s3_bucket):
    odd = tmp_path / "user:name@host" / "store"  # a plain path may hold ':' and '@'
    assert altakit.open_store(str(odd)).put("a", b"x").size == 1
    assert altakit.open_store(f"file://{tmp_path / 'plain'}").put("a", b"y").size == 1
    assert altakit.open_store(f"file://localhost{tmp_path / 'host'}").put("a", b"z").size == 1
    store = altakit.open_store(f"s3://{s3_bucket}/ok", endpoint_url=s3_server.url)
    assert store.put("a", b"x").size == 1 and store.url == f"s3://{s3_bucket}/ok"
    store.close()


@pytest.mark.parametrize(
    ("name", "kind"),
    [("aws_secret_access_key", "secret"), ("X-Amz-Credential", "secret"), ("sig", "secret"),
     ("region", None), ("endpoint_url", None), ("sslmode", None), ("user.name", None)],
)  # fmt: skip
def test_query_names(name, kind):
    assert secret_name(name) == kind
