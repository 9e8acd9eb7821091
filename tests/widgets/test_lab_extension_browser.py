"""The altakit JupyterLab extension (widgets/src), driven in Debian Chromium against a real JupyterLab.

One ``jupyter lab`` server (loopback, ephemeral port, a token whose user is "ana") serves a temp
store holding: 5,000 keys under ``bulk/``, a CSV with two versions and a PNG under ``samples/``,
the table ``sensors@1`` ingested from CSV with a second ingest (a new column) pending review, a
run and two versions of a tiny torch model trained on ``sensors@1``. The tests click through the
sidebar (catalog, store browser, schema inbox) and the detail view (versions, schema, profile,
metrics, parameters, diffs, snippet, URL, dashboard link, lineage graph to the source files, alias
promotion and rollback), run cells in a notebook, take light and dark screenshots
(``build/screenshots/``; a failing test leaves one there too) and check the extension in Notebook 7.
A second server browses the same files in an encrypted store: decrypted server-side, no key
material in any response or page. Everything the UI shows comes from the REST API; each page load
uses a fresh workspace and waits for ``jupyterapp.restored`` (the app is exposed for that).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import secrets
import shutil
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from fixtures.parts import need
from jupyter_servers import BROWSER_ARGS, REPO, free_port, index_url, problems, serve

import altakit
from altakit.catalog import Catalog, Ref
from altakit.errors import SchemaChangePending
from altakit.ingestion import SchemaRegistry, ingest
from altakit.store.crypto import EncryptedStore
from altakit.store.local import LocalStore

pytestmark = pytest.mark.browser
WAIT = 60_000
KEYS = 5_000
NOTEBOOK = "scratch.ipynb"
DAY1 = REPO / "notebooks" / "data" / "sensors_day1.csv"
DAY2 = REPO / "notebooks" / "data" / "sensors_day2.csv"
SPEC = {"time": "timestamp", "by": ["sensor"]}
LABEXTENSION = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "altakit"
SCREENSHOTS = REPO / "build" / "screenshots"
CSV = b"city,temp\nOslo,3\nLima,19\n"
MASTER_KEY = bytes(range(32))
#: The token's user is "ana", as JupyterHub names its users.
NAMED_USER = """
from jupyter_server.auth.identity import IdentityProvider, User

class Named(IdentityProvider):
    async def get_user_token(self, handler):
        user = await super().get_user_token(handler)
        return None if user is None else User(username="ana", name="Ana Lyst")

c.ServerApp.identity_provider_class = Named
"""
#: A notebook cell that loads the champion into a fresh Linear(2, 1) and prints its weight.
LOAD_CHAMPION = (
    "import altakit, torch\nfrom altakit.train.registry import ModelRegistry\n"
    'm = ModelRegistry(altakit.open_store()).load_model("digits@champion", model=torch.nn.Linear(2, 1))\n'
    'print("champion weight", m.weight.sum().item())'
)


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _models(store, cat: Catalog) -> None:
    """digits@1 (weights all 1) and digits@2 (weights all 2), trained on sensors@1 by run train."""
    import torch

    from altakit.train.registry import ModelRegistry

    run = {"status": "ok", "parameters": {"lr": 0.1}, "started": "x", "environment": {}}
    cat.register("run", "train", run, links={"read": [Ref("table", "sensors", 1)]})
    registry = ModelRegistry(store, cat)
    for value in (1.0, 2.0):
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            model.weight.fill_(value)
            model.bias.fill_(0.0)
        registry.register("digits", model, metrics={"accuracy": 0.8 + value / 10},
                          dataset="table:sensors@1", run="train",
                          parameters={"epochs": int(value)})  # fmt: skip


@contextmanager
def _lab(folder: Path, store_dir: Path, config_py: str = "", kernel: bool = False):
    """A real ``jupyter lab`` on loopback (user "ana", the app exposed for waits) over ``store_dir``.

    ``kernel``: start the notebook's kernel before any browser opens it.
    """
    notebooks = folder / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("print('ready')")]
    nbformat.write(nb, notebooks / NOTEBOOK)
    shutil.copytree(REPO / "notebooks" / "dashboards", notebooks / "dashboards")  # as `make lab` serves them
    config = folder / "server" / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    disabled = {"@jupyterlab/apputils-extension:announcements": True}
    (config / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
    (config / "jupyter_server_config.py").write_text(NAMED_USER + config_py)
    token, port = secrets.token_hex(16), free_port()
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True"]  # fmt: skip
    if os.geteuid() == 0:
        argv.append("--allow-root")
    with serve(argv, f"http://127.0.0.1:{port}/api", folder / "server", store_dir) as running:
        running.token, running.root = token, f"http://127.0.0.1:{port}/"
        if kernel:
            _start_kernel(running, folder / "server" / "runtime")
        yield running
    assert problems(running.log) == [], running.log.read_text()[-4000:]


def _api(server, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{server.root}api/{path}", data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _start_kernel(server, runtime: Path) -> None:
    """The notebook's session and kernel, started and answering before a browser connects to it (a
    websocket that reaches a kernel still starting can race jupyter_server's own set-up)."""
    from jupyter_client import BlockingKernelClient

    session = _api(server, "sessions", {"path": NOTEBOOK, "name": NOTEBOOK, "type": "notebook",
                                         "kernel": {"name": "python3"}})  # fmt: skip
    client = BlockingKernelClient(connection_file=str(runtime / f"kernel-{session['kernel']['id']}.json"))
    client.load_connection_file()
    client.start_channels(iopub=False, stdin=False, hb=False, control=False)
    try:  # a kernel_info round trip (zmq holds the request until the kernel listens)
        request = client.kernel_info()
        while client.get_shell_msg(timeout=120)["parent_header"].get("msg_id") != request:
            pass
    finally:
        client.stop_channels()


def _built() -> None:
    need((LABEXTENSION / "package.json").exists() and (LABEXTENSION / "static" / "style.js").exists(),
         f"the altakit labextension is not built/linked at {LABEXTENSION} (make env)")  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _built()
    folder = tmp_path_factory.mktemp("labext")
    store_dir = folder / "store"
    env = pytest.MonkeyPatch()  # this process and the server share one index, as a hub's users do
    env.setenv("ALTAKIT_INDEX", index_url(store_dir))
    store = altakit.open_store(store_dir)
    cat = Catalog(store, index_url(store_dir))
    for i in range(KEYS):
        store.put(f"bulk/k{i:05d}.txt", b"x")
    store.put("samples/readings.csv", b"city,temp\nOslo,2\n")
    store.put("samples/readings.csv", CSV)
    store.put("samples/dot.png", _png())
    ingest(DAY1, "sensors", SPEC, store=store)
    with pytest.raises(SchemaChangePending):
        ingest(DAY2, "sensors", SPEC, store=store)
    _models(store, cat)
    try:
        with _lab(folder, store_dir, kernel=True) as running:
            running.store = store
            yield running
    finally:
        env.undo()


@pytest.fixture(scope="module")
def encrypted_server(tmp_path_factory):
    """The CSV (two versions) and the PNG in an AES-GCM encrypted store, handed to the extension."""
    _built()
    folder = tmp_path_factory.mktemp("labext-enc")
    key_file = folder / "master.key"
    key_file.write_bytes(base64.b64encode(MASTER_KEY))
    store = EncryptedStore(LocalStore(folder / "store", fsync=False), key=MASTER_KEY)
    store.put("samples/readings.csv", b"city,temp\nOslo,2\n")
    store.put("samples/readings.csv", CSV)
    store.put("samples/dot.png", _png())
    config = (
        "from altakit.store.crypto import EncryptedStore\nfrom altakit.store.local import LocalStore\n"
        f"c.ServerApp.tornado_settings = {{'altakit_store': lambda: EncryptedStore("
        f"LocalStore({str(folder / 'store')!r}), key_file={str(key_file)!r})}}\n"
    )
    with _lab(folder, folder / "store", config) as running:
        running.folder, running.key_file = folder, key_file
        yield running


@pytest.fixture
def page(request, tmp_path, chromium_path):
    """A fresh Chromium profile; a failing test leaves ``build/screenshots/failed-<test>.png``."""
    from playwright.sync_api import sync_playwright

    failed = request.session.testsfailed
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=chromium_path, headless=True, args=BROWSER_ARGS,
            viewport={"width": 1400, "height": 1000},
        )  # fmt: skip
        try:
            browser.grant_permissions(["clipboard-read", "clipboard-write"])
            tab = browser.new_page()
            tab.console_messages, tab.api_responses = [], []
            tab.on("console", lambda msg: tab.console_messages.append(msg.text))
            tab.on("response", lambda r: "/altakit/api/" in r.url and tab.api_responses.append(r))
            yield tab
            if request.session.testsfailed > failed:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                tab.screenshot(path=str(SCREENSHOTS / f"failed-{request.node.name}.png"))
        finally:
            browser.close()


def _set_theme(server, theme: str) -> None:
    body = json.dumps({"raw": json.dumps({"theme": theme})}).encode()
    request = urllib.request.Request(
        f"{server.root}lab/api/settings/@jupyterlab/apputils-extension:themes", data=body, method="PUT",
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204, response.status


def _restored(page) -> None:
    """Wait until the app (exposed as ``window.jupyterapp``) has restored its layout: no later moves."""
    page.wait_for_function("window.jupyterapp !== undefined", timeout=WAIT)
    page.evaluate("() => window.jupyterapp.restored.then(() => true)")


def _open_lab(server, page, path: str = "") -> None:
    """JupyterLab in a fresh workspace (nothing of an earlier test is restored, then moved by a route)."""
    workspace = f"t{secrets.token_hex(6)}"
    page.goto(f"{server.root}lab/workspaces/{workspace}/{path}?token={server.token}", timeout=WAIT)
    _restored(page)
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=WAIT)


def _sidebar(page, section: str):
    """Open the altakit sidebar (a click on its tab, unless the restored layout shows it) on ``section``."""
    sidebar = page.locator("#altakit-sidebar")
    if not sidebar.is_visible():  # the layout is restored (_open_lab): nothing moves it any more
        page.locator('.lm-TabBar-tab[data-id="altakit-sidebar"]').click()
    sidebar.wait_for(timeout=WAIT)
    sidebar.locator(f'.altakit-tab[data-section="{section}"]').click()
    return sidebar


def _open_notebook(server, page):
    _open_lab(server, page, f"tree/{NOTEBOOK}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=WAIT)
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').first.wait_for(
        state="attached", timeout=WAIT
    )


def _run_cell_with(page, code: str) -> None:
    """Append a cell holding ``code`` to the open notebook and run it."""
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    notebook.locator(".jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # new cell below, edit it
    page.keyboard.press("Enter")
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")


def _idle(page) -> None:
    """Wait until the open notebook's kernel is idle (no message in flight when the browser closes)."""
    page.locator(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status="idle"]'
    ).first.wait_for(state="attached", timeout=WAIT)


def _outputs(page) -> str:
    return "\n".join(
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output").all_inner_texts()
    )


def _open_readings(sidebar):
    """Open ``samples/readings.csv`` in the store browser: its two versions, and the newest's CSV preview."""
    sidebar.locator('.altakit-folder[data-prefix="samples/"]').click()
    sidebar.locator('.altakit-key[data-key="samples/readings.csv"]').click()
    versions = sidebar.locator(".altakit-key-version")
    versions.nth(1).wait_for(timeout=WAIT)
    assert versions.count() == 2
    preview = sidebar.locator(".altakit-preview")
    preview.locator(".altakit-table").wait_for(timeout=WAIT)
    return versions, preview


def test_store_browser_pages_5000_keys_versions_and_previews(server, page):
    _open_lab(server, page)
    sidebar = _sidebar(page, "Store")
    sidebar.locator('.altakit-folder[data-prefix="bulk/"]').click()
    keys = sidebar.locator(".altakit-key")
    keys.first.wait_for(timeout=WAIT)
    first = keys.count()
    assert 0 < first < KEYS, f"the first page should be a page, not {first} keys"
    more = sidebar.locator(".altakit-store .altakit-more")
    pages = 1
    while True:
        shown = keys.count()
        if not more.is_visible():
            break
        more.click()
        page.wait_for_function(f"document.querySelectorAll('#altakit-sidebar .altakit-key').length > {shown}"
                               " || document.querySelector('#altakit-sidebar .altakit-error') !== null",
                               timeout=WAIT)  # fmt: skip
        assert sidebar.locator(".altakit-error").count() == 0, sidebar.locator(
            ".altakit-error"
        ).all_inner_texts()
        pages += 1
    names = keys.evaluate_all("els => els.map(e => e.dataset.key)")
    assert len(names) == KEYS and len(set(names)) == KEYS and pages > 1
    assert names[0] == "bulk/k00000.txt" and names[-1] == f"bulk/k{KEYS - 1:05d}.txt"

    sidebar.locator(".altakit-crumb").first.click()
    versions, preview = _open_readings(sidebar)
    assert preview.locator("th").all_inner_texts() == ["city", "temp"]
    assert "Lima" in preview.inner_text()
    seen = []  # each version previews its own content
    for version in versions.all():
        version.click()
        vid = version.get_attribute("data-version")
        preview.locator(".altakit-preview-head", has_text=vid).wait_for(timeout=WAIT)
        preview.locator(".altakit-table").wait_for(timeout=WAIT)
        seen.append("Lima" in preview.inner_text())
    assert sorted(seen) == [False, True]
    # the last version shown: its altakit:// URL, copied as it is
    preview.locator("button.altakit-copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == f"altakit://samples/readings.csv@{vid}"

    sidebar.locator('.altakit-key[data-key="samples/dot.png"]').click()
    image = preview.locator("img.altakit-preview-image")
    image.wait_for(timeout=WAIT)
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    assert page.evaluate("document.querySelector('.altakit-preview-image').naturalWidth") == 8


def test_encrypted_store_previews_decrypted_server_side_only(encrypted_server, page):
    server = encrypted_server
    on_disk = b"".join(p.read_bytes() for p in (server.folder / "store").rglob("*") if p.is_file())
    assert b"Lima" not in on_disk and b"Oslo" not in on_disk  # really encrypted at rest
    _open_lab(server, page)
    sidebar = _sidebar(page, "Store")
    versions, preview = _open_readings(sidebar)
    assert preview.locator("th").all_inner_texts() == ["city", "temp"] and "Lima" in preview.inner_text()
    versions.last.click()  # the older version, decrypted too
    preview.locator(".altakit-preview-head", has_text=versions.last.get_attribute("data-version")).wait_for(
        timeout=WAIT
    )
    preview.locator(".altakit-table td", has_text="Oslo").wait_for(timeout=WAIT)
    assert "Lima" not in preview.inner_text()
    sidebar.locator('.altakit-key[data-key="samples/dot.png"]').click()
    preview.locator("img.altakit-preview-image").wait_for(timeout=WAIT)
    assert page.evaluate("document.querySelector('.altakit-preview-image').naturalWidth") == 8

    bodies = [r.body() for r in page.api_responses if r.status == 200]
    assert len(bodies) >= 6, len(bodies)  # listings, versions, three previews
    page_html = page.content().encode()
    key_forms = (MASTER_KEY, base64.b64encode(MASTER_KEY), MASTER_KEY.hex().encode(),
                 str(server.key_file).encode(), b"AKE2")  # fmt: skip
    for form in key_forms:
        assert not any(form in body for body in bodies), form
        assert form not in page_html, form


def test_table_snippet_into_a_notebook_and_run_it(server, page):
    _open_notebook(server, page)
    sidebar = _sidebar(page, "Catalog")
    sidebar.locator(".altakit-kind").select_option("table")
    sidebar.locator('.altakit-item[data-ref="table:sensors@1"] .altakit-name').click()
    detail = page.locator(".altakit-detail")
    detail.locator("h2.altakit-ref").get_by_text("table:sensors@1").wait_for(timeout=WAIT)
    detail.locator('[data-section="Schema"] td').get_by_text("temperature", exact=True).wait_for(timeout=WAIT)
    assert detail.locator('[data-section="Versions"] li.altakit-version').count() >= 1
    assert "temperature" in detail.locator('[data-section="Profile"]').inner_text()
    detail.locator("button.altakit-insert").click()
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
    cells.nth(1).wait_for(timeout=WAIT)
    assert 'read_table("sensors@1")' in cells.nth(1).inner_text()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")  # run the inserted cell
    _run_cell_with(page, 'print("rows", df.height, df.columns)')
    page.locator(".jp-OutputArea-output").get_by_text("rows ").wait_for(timeout=WAIT)
    out = _outputs(page)
    rows = int(out.split("rows ", 1)[1].split()[0])
    assert rows > 0 and "temperature" in out and "Traceback" not in out
    _idle(page)


def test_schema_inbox_badge_approve_and_audit(server, page):
    _open_lab(server, page)
    badge = page.locator('.lm-TabBar-tab[data-id="altakit-sidebar"]')
    page.locator('.lm-TabBar-tab[data-id="altakit-sidebar"][data-altakit-count="1"]').wait_for(timeout=WAIT)
    sidebar = _sidebar(page, "Schema inbox")
    change = sidebar.locator(".altakit-change")
    change.wait_for(timeout=WAIT)
    added = change.locator("tr.altakit-diff-added")
    assert "pressure" in added.inner_text()
    review = change.locator("a.altakit-review-dashboard")  # the change's Voila review page
    assert review.get_attribute("href") == "/voila/render/dashboards/schema_review.ipynb?dataset=sensors"
    assert review.get_attribute("target") == "_blank"
    change.locator("textarea.altakit-comment").fill("new barometer")
    change.locator("button.altakit-approve").click()
    history = sidebar.locator(".altakit-history")
    history.get_by_text("new barometer").wait_for(timeout=WAIT)
    row = history.locator("tbody tr").first.inner_text()
    assert "approved" in row and "ana" in row
    sidebar.locator(".altakit-pending .altakit-empty").wait_for(timeout=WAIT)
    page.wait_for_function(
        "!document.querySelector('.lm-TabBar-tab[data-id=\"altakit-sidebar\"]').hasAttribute('data-altakit-count')",
        timeout=WAIT,
    )
    assert badge.get_attribute("data-altakit-count") is None

    report = ingest(DAY2, "sensors", SPEC, store=server.store)
    assert report.version == 2
    assert SchemaRegistry(server.store).changes("sensors")[-1].doc["decided_by"] == "ana"
    assert "pressure" in altakit.read_table("sensors@2", store=server.store).columns

    # the new version in the detail view: diff @1 → @2 (schema, row counts, drift)
    sidebar = _sidebar(page, "Catalog")
    sidebar.locator(".altakit-kind").select_option("table")
    sidebar.locator('.altakit-item[data-ref="table:sensors@2"] .altakit-name').click()
    detail = page.locator(".altakit-detail:visible")
    detail.locator("h2.altakit-ref").get_by_text("table:sensors@2").wait_for(timeout=WAIT)
    diff = detail.locator('[data-section="Diff two versions"]')
    assert diff.locator("select.altakit-diff-version").first.input_value() == "1"
    diff.locator("button.altakit-diff").click()
    diff.locator("tr.altakit-diff-added", has_text="pressure").wait_for(timeout=WAIT)
    result = diff.locator(".altakit-diff-result")
    assert re.search(r"rows: @1 \d+ → @2 \d+", result.inner_text()), result.inner_text()
    assert result.locator("th", has_text="PSI").count() == 1 and "temperature" in result.inner_text()


def test_model_lineage_graph_navigates(server, page):
    _open_lab(server, page)
    sidebar = _sidebar(page, "Catalog")
    sidebar.locator(".altakit-kind").select_option("model")
    sidebar.locator('.altakit-item[data-ref="model:digits@2"] .altakit-name').click()
    detail = page.locator(".altakit-detail:visible")
    graph = detail.locator("svg.altakit-graph")
    graph.wait_for(timeout=WAIT)
    refs = graph.locator("g.altakit-node").evaluate_all("els => els.map(e => e.dataset.ref)")
    assert "model:digits@2" in refs and "table:sensors@1" in refs and "run:train@1" in refs, refs
    assert graph.locator("line.altakit-edge").count() >= 2
    # the chain reaches the source file of the table version, through its schema's table
    sources = [r for r in refs if r.startswith("file:") and r.endswith("sensors_day1.csv")]
    assert len(sources) == 1 and "schema:sensors@1" in refs, refs
    chain = [("model:digits@2", "run:train@1"), ("run:train@1", "table:sensors@1"),
             ("table:sensors@1", "schema:sensors@1"), ("table:sensors@1", sources[0])]  # fmt: skip
    for a, b in chain:
        assert graph.locator(f'line.altakit-edge[data-from="{a}"][data-to="{b}"]').count() == 1, (a, b)
    graph.locator('g.altakit-node[data-ref="table:sensors@1"]').click()
    page.locator(".altakit-detail:visible h2.altakit-ref").get_by_text("table:sensors@1").wait_for(
        timeout=WAIT
    )


def test_model_detail_metrics_params_diff_and_url(server, page):
    _open_lab(server, page)
    sidebar = _sidebar(page, "Catalog")
    sidebar.locator(".altakit-kind").select_option("model")
    sidebar.locator('.altakit-item[data-ref="model:digits@2"] .altakit-name').click()
    detail = page.locator(".altakit-detail:visible")
    detail.locator("h2.altakit-ref").get_by_text("model:digits@2").wait_for(timeout=WAIT)
    assert detail.locator('[data-section="Versions"] li.altakit-version').count() == 2
    assert "accuracy" in detail.locator('[data-section="Metrics"]').inner_text()
    assert "epochs" in detail.locator('[data-section="Parameters"]').inner_text()
    diff = detail.locator('[data-section="Diff two versions"]')
    diff.locator("button.altakit-diff").click()
    accuracy = diff.locator("tr.altakit-diff-changed", has_text="accuracy")
    accuracy.wait_for(timeout=WAIT)
    assert [float(v) for v in accuracy.locator("td").all_inner_texts()[1:]] == pytest.approx([0.9, 1.0])
    epochs = diff.locator("tr.altakit-diff-changed", has_text="epochs").locator("td").all_inner_texts()
    assert epochs == ["epochs", "1", "2"]
    detail.locator("button.altakit-copy").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert re.fullmatch(r"altakit://\S+@\S+", copied), copied
    assert copied == detail.locator("button.altakit-copy").get_attribute("title")
    dashboard = detail.locator("a.altakit-dashboard").get_attribute("href")
    assert dashboard == "/voila/render/dashboards/training.ipynb?model=digits", dashboard


def test_promote_a_model_to_champion_then_load_it_in_a_cell(server, page):
    from playwright.sync_api import expect

    from altakit.train.registry import ModelRegistry

    _open_notebook(server, page)
    sidebar = _sidebar(page, "Catalog")
    sidebar.locator(".altakit-kind").select_option("model")
    item = sidebar.locator('.altakit-item[data-ref="model:digits@2"]')
    item.locator(".altakit-caret").click()
    item.locator(".altakit-version", has_text=re.compile(r"^@1 ")).click()
    detail = page.locator(".altakit-detail:visible")
    detail.locator("h2.altakit-ref").get_by_text("model:digits@1").wait_for(timeout=WAIT)
    detail.locator("button.altakit-promote").click()
    page.locator(".jp-Dialog").get_by_text("champion").wait_for(timeout=WAIT)
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=WAIT)
    expect(detail.locator(".altakit-alias-status")).to_have_text("Promote: done.", timeout=WAIT)
    assert ModelRegistry(server.store).alias_target("digits", "champion") == 1

    # promote @2, then roll back (each after a confirmation): champion points at @1 again
    detail.locator('[data-section="Versions"] li.altakit-version', has_text=re.compile(r"^@2 ")).click()
    detail = page.locator(".altakit-detail:visible")
    detail.locator("h2.altakit-ref").get_by_text("model:digits@2").wait_for(timeout=WAIT)
    detail.locator("button.altakit-promote").click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=WAIT)
    expect(detail.locator(".altakit-alias-status")).to_have_text("Promote: done.", timeout=WAIT)
    assert ModelRegistry(server.store).alias_target("digits", "champion") == 2
    detail.locator("button.altakit-rollback").click()
    page.locator(".jp-Dialog").get_by_text("back to its previous version").wait_for(timeout=WAIT)
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=WAIT)
    expect(detail.locator(".altakit-alias-status")).to_have_text("Roll back: done.", timeout=WAIT)
    assert ModelRegistry(server.store).alias_target("digits", "champion") == 1

    page.locator(f'.lm-TabBar-tab[data-type="document-title"]:has-text("{NOTEBOOK}")').click()
    _run_cell_with(page, LOAD_CHAMPION)
    page.locator(".jp-OutputArea-output").get_by_text(re.compile(r"^champion weight")).wait_for(timeout=WAIT)
    assert "champion weight 2.0" in _outputs(page)  # Linear(2, 1) of ones: weight sum 2
    _idle(page)


def test_screenshots_light_and_dark(server, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for theme, name in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
        _set_theme(server, theme)
        _open_lab(server, page)
        expected = "true" if name == "light" else "false"
        page.wait_for_function(f"document.body.dataset.jpThemeLight === '{expected}'", timeout=WAIT)
        sidebar = _sidebar(page, "Catalog")
        sidebar.locator(".altakit-kind").select_option("model")
        sidebar.locator('.altakit-item[data-ref^="model:digits@"] .altakit-name').click()
        page.locator(".altakit-detail:visible svg.altakit-graph").wait_for(timeout=WAIT)
        page.screenshot(path=str(SCREENSHOTS / f"altakit-lab-{name}.png"))
        colour = page.evaluate("getComputedStyle(document.querySelector('.altakit-detail h2')).color")
        rgb = [float(v) for v in colour.split("(")[1].rstrip(")").split(",")[:3]]
        lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
        assert (lum < 128) == (name == "light"), (name, colour)
    _set_theme(server, "JupyterLab Light")
    assert (SCREENSHOTS / "altakit-lab-dark.png").stat().st_size > 10_000


def test_extension_loads_in_notebook_7(server, page):
    page.goto(f"{server.root}notebooks/{NOTEBOOK}?token={server.token}", timeout=WAIT)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=WAIT)
    page.wait_for_function("document.querySelector('#altakit-sidebar') !== null", timeout=WAIT)
    assert "altakit extension activated" in page.console_messages
    assert page.locator("#altakit-sidebar .altakit-tab").count() == 3
    _restored(page)
    page.keyboard.press("Control+Shift+c")  # the command palette: "altakit: Open sidebar"
    page.keyboard.type("altakit: Open sidebar")
    page.keyboard.press("Enter")
    sidebar = page.locator("#altakit-sidebar")
    sidebar.wait_for(timeout=WAIT)
    sidebar.locator(".altakit-kind").select_option("model")
    sidebar.locator('.altakit-item[data-ref^="model:digits@"]').wait_for(timeout=WAIT)
