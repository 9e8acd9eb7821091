"""The store browser's REST API through a real Jupyter server: paging, versions, previews, encryption,
auth (token, cookie + XSRF) and errors as JSON that name no server path."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import urllib.request

import polars as pl
import pytest
from jupyter_servers import index_url, jupyter_server, problems
from lab_api import Api, cookie_session, leaks

import altakit
from altakit.catalog import Catalog
from altakit.store.crypto import EncryptedStore
from altakit.store.local import LocalStore

TOKEN = "lab-api-token"
MANY = 5000
CSV_V1 = b"x,y\n1,a\n2,b\n"
CSV_V2 = b"x,y\n1,a\n2,b\n3,secret-row-c\n"
NOTE = "Grüße from the store\n" * 3


def png(colour: tuple[int, int, int], size: tuple[int, int] = (640, 480)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def parquet() -> bytes:
    out = io.BytesIO()
    pl.DataFrame({"id": list(range(120)), "name": [f"n{i}" for i in range(120)]}).write_parquet(out)
    return out.getvalue()


def fill(store) -> None:
    for i in range(MANY):
        store.put(f"many/k{i:05d}.bin", b"%d" % i)
    store.put("many/sub/inner.txt", b"inner")
    store.put("raw/a.csv", CSV_V1)
    store.put("raw/a.csv", CSV_V2)
    store.put("raw/notes.txt", NOTE.encode())
    store.put("raw/pic.png", png((200, 30, 30)))
    store.put("raw/t.parquet", parquet())
    store.put("raw/blob.bin", bytes(range(256)) * 4)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A local store of 5,000 keys and a few files to preview, served by a real Jupyter server."""
    folder = tmp_path_factory.mktemp("lab-api")
    fill(LocalStore(folder / "store", fsync=False))
    Catalog(altakit.open_store(folder / "store"), index_url(folder / "store")).list()
    with jupyter_server(folder, folder / "store", TOKEN) as server:
        yield Api(server.url, TOKEN), server, folder


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory):
    """The same files in an encrypted store, served through a config that hands the extension the store."""
    folder = tmp_path_factory.mktemp("lab-api-enc")
    key = bytes(range(32))
    key_file = folder / "master.key"
    key_file.write_bytes(base64.b64encode(key))
    store = EncryptedStore(LocalStore(folder / "store", fsync=False), key=key)
    for k in ("raw/a.csv", "raw/notes.txt", "raw/pic.png"):
        store.put(
            k, {"raw/a.csv": CSV_V2, "raw/notes.txt": NOTE.encode(), "raw/pic.png": png((10, 200, 10))}[k]
        )
    config = folder / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.py").write_text(
        "from altakit.store.crypto import EncryptedStore\nfrom altakit.store.local import LocalStore\n"
        f"c.ServerApp.tornado_settings = {{'altakit_store': lambda: EncryptedStore("
        f"LocalStore({str(folder / 'store')!r}), key_file={str(key_file)!r})}}\n"
    )
    with jupyter_server(folder, folder / "store", TOKEN) as server:
        yield Api(server.url, TOKEN), server, folder, key


def test_pages_of_200_cover_5000_keys_exactly_once(served):
    api, server, _ = served
    seen, folders, cursor, pages = [], [], None, 0
    while True:
        status, page, body = api.get("store/list", prefix="many/", limit=200, cursor=cursor)
        assert status == 200, body
        assert page["prefix"] == "many/" and len(page["folders"]) + len(page["keys"]) <= 200
        folders += page["folders"]
        seen += [k["key"] for k in page["keys"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
        assert pages <= MANY // 200 + 2
    assert len(seen) == MANY and set(seen) == {f"many/k{i:05d}.bin" for i in range(MANY)}
    assert folders == ["many/sub/"] and pages == MANY // 200 + 1
    first = api.get("store/list", prefix="many/", limit=3)[1]["keys"][0]
    assert set(first) == {"key", "version", "size", "time", "writer"} and first["size"] == 1
    root = api.get("store/list")[1]
    assert root["folders"] == ["many/", "raw/"] and root["keys"] == [] and root["next"] is None
    assert problems(server.log) == []


def test_versions_and_previews(served):
    api, _, _ = served
    status, found, _ = api.get("store/versions", key="raw/a.csv")
    assert status == 200 and found["key"] == "raw/a.csv"
    newest, oldest = found["versions"]
    assert set(newest) == {"id", "time", "size", "writer", "deleted"}
    assert (newest["size"], oldest["size"], newest["deleted"]) == (len(CSV_V2), len(CSV_V1), False)

    table = api.get("store/preview", key="raw/a.csv")[1]
    assert (table["kind"], table["columns"], table["version"]) == ("table", ["x", "y"], newest["id"])
    assert table["rows"] == [[1, "a"], [2, "b"], [3, "secret-row-c"]] and table["truncated"] is False
    older = api.get("store/preview", key="raw/a.csv", version=oldest["id"])[1]
    assert older["rows"] == [[1, "a"], [2, "b"]] and older["version"] == oldest["id"]

    text = api.get("store/preview", key="raw/notes.txt")[1]
    assert (text["kind"], text["text"], text["truncated"]) == ("text", NOTE, False)

    image = api.get("store/preview", key="raw/pic.png")[1]
    assert image["kind"] == "image" and image["image"].startswith("data:image/png;base64,")
    from PIL import Image

    thumb = Image.open(io.BytesIO(base64.b64decode(image["image"].split(",", 1)[1])))
    assert max(thumb.size) <= 320 and thumb.getpixel((5, 5))[:3] == (200, 30, 30)

    head = api.get("store/preview", key="raw/t.parquet")[1]
    assert head["kind"] == "table" and head["columns"] == ["id", "name"]
    assert len(head["rows"]) == 50 and head["rows"][1] == [1, "n1"] and head["truncated"] is True
    blob = api.get("store/preview", key="raw/blob.bin")[1]
    assert blob["kind"] == "binary"
    assert set(blob) == {"key", "version", "size", "kind", "truncated", "snippet", "url"}
    assert blob["url"] == f"altakit://{blob['key']}@{blob['version']}"


def test_encrypted_store_previews_plaintext_only_through_the_api(encrypted):
    api, server, folder, key = encrypted
    on_disk = b"".join(p.read_bytes() for p in (folder / "store").rglob("*") if p.is_file())
    assert b"secret-row-c" not in on_disk and b"Gr\xc3\xbc\xc3\x9fe" not in on_disk  # really encrypted
    page = api.get("store/list", prefix="raw/")[1]
    assert [k["key"] for k in page["keys"]] == ["raw/a.csv", "raw/notes.txt", "raw/pic.png"]
    assert api.get("store/preview", key="raw/a.csv")[1]["rows"][-1] == [3, "secret-row-c"]
    assert api.get("store/preview", key="raw/notes.txt")[1]["text"] == NOTE
    assert api.get("store/preview", key="raw/pic.png")[1]["kind"] == "image"
    api.get("store/versions", key="raw/a.csv")
    api.get("")
    key_forms = (key, base64.b64encode(key), key.hex().encode(), str(folder / "master.key"))
    assert leaks(api.bodies, *key_forms) == []
    assert problems(server.log) == []


def test_without_a_token_every_route_is_refused(served):
    api, _, _ = served
    anonymous = Api(api.server_url, None)
    for path in ("store/list", "store/versions?key=raw/a.csv", "store/preview?key=raw/a.csv", "schema/inbox",
                 "catalog", "detail/table/x/latest"):  # fmt: skip
        status, error, body = anonymous.get(path)
        assert status == 403, (path, status)
        assert b"secret-row-c" not in body and set(error) >= {"message", "hint"}
    for path in ("schema/decide", "aliases", "aliases/rollback"):
        assert anonymous.post(path, {"model": "m", "alias": "champion", "version": 1})[0] == 403
    wrong = Api(api.server_url, "wrong-token")
    assert wrong.get("store/list")[0] == 403


def test_a_post_without_the_xsrf_token_is_refused(served):
    api, _, _ = served
    opener, jar = cookie_session(api, TOKEN)
    browser = Api(api.server_url, None)
    # logged in by cookie, as a browser is: a GET works …
    with opener.open(f"{api.api}/store/list?prefix=raw/", timeout=30) as response:
        assert response.status == 200
    body = {"model": "nope", "alias": "champion", "version": 1}
    status, error, _ = browser.post("aliases", body, opener=opener)
    assert status == 403 and "XSRF" in error["message"] + error["hint"]
    # … and a POST with the double-submitted XSRF token passes the check (then 404: no such model)
    cookies = "; ".join([f"{c.name}={c.value}" for c in jar] + ["_xsrf=xsrf-test-value"])
    headers = {"X-XSRFToken": "xsrf-test-value", "Cookie": cookies}
    status, error, _ = browser.post("aliases", body, opener=opener, headers=headers)
    assert status == 404 and "nope" in error["message"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("store/versions", {"key": "raw/none.csv"}, 404),
        ("store/preview", {"key": "raw/none.csv"}, 404),
        ("store/preview", {"key": "raw/a.csv", "version": "20990101T000000000000000Z_00000000"}, 404),
        ("store/preview", {"key": "../etc/passwd"}, 400),
        ("store/preview", {"key": "raw/a.csv", "version": "../../x"}, 400),
        ("store/versions", {"key": ""}, 400),
        ("store/list", {"prefix": "raw"}, 400),
        ("store/list", {"prefix": "/etc/"}, 400),
        ("store/list", {"prefix": "raw/", "limit": "0"}, 400),
        ("store/list", {"prefix": "raw/", "limit": "x"}, 400),
        ("store/list", {"prefix": "raw/", "limit": "5000"}, 400),
        ("catalog", {"kind": "nonsense"}, 400),
        ("catalog", {"kind": "table", "offset": "-1"}, 400),
        ("detail/table/none/latest", {}, 404),
        ("detail/table/Bad%20Name!/1", {}, 400),
        ("diff/model/none", {"a": "1", "b": "2"}, 404),
        ("diff/model/none", {"a": "1"}, 400),
        ("schema/history", {}, 400),
    ],
)
def test_errors_are_json_and_name_no_server_path(served, path, params, status):
    api, _, folder = served
    got, error, body = api.get(path, **params)
    assert got == status, body
    assert set(error) == {"message", "hint"} and error["message"]
    assert leaks([body], str(folder), "/tmp/", "file://") == []


def test_bad_posts_are_json_errors(served):
    api, server, folder = served
    for path, body in (("aliases", b"not json"), ("aliases", {"model": "m", "version": "one"}),
                       ("schema/decide", {"change": "schema_change:none@1", "decision": "maybe"}),
                       ("schema/decide", {"change": "nonsense", "decision": "approve"})):  # fmt: skip
        status, error, raw = api.post(path, body)
        assert status == 400 and set(error) == {"message", "hint"}, raw
    assert leaks(api.bodies, str(folder), "Traceback") == []
    assert problems(server.log) == []


def test_store_snippet_loads_that_version(served):
    api, _, folder = served
    from altakit.catalog.snippets import store_snippet

    oldest = api.get("store/versions", key="raw/a.csv")[1]["versions"][-1]["id"]
    shown = api.get("store/preview", key="raw/a.csv", version=oldest)[1]
    assert shown["snippet"] == store_snippet("raw/a.csv", oldest)
    code = shown["snippet"] + "\nprint(data.decode(), end='')"
    env = {"ALTAKIT_STORE": str(folder / "store"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True, timeout=120)
    assert out.stdout == CSV_V1
    assert urllib.request  # the module is used by lab_api's client
