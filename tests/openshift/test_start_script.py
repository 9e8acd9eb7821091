"""openshift/start-altakit as OpenShift runs it: UID 23456, GID 0, a fresh group-writable HOME."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from uidenv import REPO, SCRIPT, UID, free_port, group_writable, wait_http

PREFIX = "/user/test"
TOKEN = "test-token-not-a-secret"
HEALTHCHECK = REPO / "openshift" / "healthcheck.py"


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _problems(log: Path) -> list[str]:
    """Error lines in a server log (Jupyter's ``[E …]`` lines and tracebacks)."""
    return [line for line in log.read_text().splitlines() if line.startswith("[E ") or "Traceback" in line]


def test_lab_serves_api_under_nb_prefix(uid_env, server):
    port = free_port()
    proc, log = server(NB_PREFIX=PREFIX, JUPYTER_TOKEN=TOKEN, ALTAKIT_PORT=str(port))
    base = f"http://127.0.0.1:{port}{PREFIX}"
    assert wait_http(f"{base}/api", proc, log) == 200, log.read_text()
    status, body = _get(f"{base}/api")
    assert status == 200 and "version" in json.loads(body)
    # the token comes from the environment: refused without it, accepted with it
    assert _get(f"{base}/api/contents")[0] == 403
    status, body = _get(f"{base}/api/contents/altakit-notebooks", TOKEN)
    assert status == 200, body
    assert any(item["name"] == "dashboards" for item in json.loads(body)["content"])
    # the image's health check agrees, and fails for a wrong prefix
    check = [sys.executable, str(HEALTHCHECK)]
    env = {"NB_PREFIX": PREFIX, "ALTAKIT_PORT": str(port)}
    assert subprocess.run(check, env=env, capture_output=True).returncode == 0
    wrong = subprocess.run(check, env={**env, "NB_PREFIX": "/nope"}, capture_output=True, text=True)
    assert wrong.returncode == 1 and "unhealthy" in wrong.stderr
    # the process really runs as the arbitrary UID, and what it wrote in HOME stays group-writable
    status_file = Path(f"/proc/{proc.pid}/status").read_text()
    assert f"Uid:\t{UID}\t" in status_file
    assert group_writable(uid_env.home / "altakit-notebooks" / "dashboards" / "store.ipynb")
    assert _problems(log) == [], log.read_text()


def test_voila_dashboard_renders_in_chromium(uid_env, server, chromium_path, artifacts_dir, tmp_path):
    import altakit

    store_dir = uid_env.base / "dashboard-store"
    store = altakit.open_store(store_dir)
    store.put("raw/sensors.csv", b"t,temperature\n0,21.5\n")
    store.put("raw/sensors.csv", b"t,temperature\n0,21.5\n1,22.0\n")
    store.put("models/champion.bin", b"\x00" * 2048)
    subprocess.run(["chmod", "-R", "g=u,o+rX", str(store_dir)], check=True)
    port = free_port()
    proc, log = server(
        "voila",
        "dashboards/store.ipynb",
        NB_PREFIX=PREFIX,
        ALTAKIT_PORT=str(port),
        ALTAKIT_STORE=str(store_dir),
    )
    url = f"http://127.0.0.1:{port}{PREFIX}/"
    assert wait_http(url, proc, log, timeout=120) == 200, log.read_text()

    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run"]  # fmt: skip
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=chromium_path, headless=True, args=args
        )
        try:
            page = browser.new_page()
            page.goto(f"{url}?prefix=raw/", timeout=120_000)
            page.locator("b", has_text="1 key,").wait_for(timeout=120_000)  # the panel, not the printed line
            page.get_by_text("raw/sensors.csv").first.click()
            page.get_by_text("raw/sensors.csv: 2 versions").wait_for(timeout=30_000)
            page.screenshot(path=str(Path(artifacts_dir) / "openshift-voila-store.png"), full_page=True)
            content = page.content()
        finally:
            browser.close()
    assert "models/champion.bin" not in content  # filtered by ?prefix=raw/
    assert "def human" not in content  # sources stripped
    assert _problems(log) == [], log.read_text()


def _runs(uid_env) -> Path:
    runs = uid_env.base / "runs"
    runs.mkdir(exist_ok=True)
    runs.chmod(0o2775)
    return runs


def test_run_executes_a_curated_notebook(uid_env):
    curated = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))
    assert curated, "no curated notebook in notebooks/"
    store = uid_env.base / "run-store"
    runs = _runs(uid_env)
    done = uid_env.run(
        str(SCRIPT), "run", str(curated[0]), "-p", "store_url", str(store), "--store", str(store),
        env=uid_env.env(ALTAKIT_RUNS_DIR=str(runs)), timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert store.exists() and any(store.rglob("*")), "the notebook wrote nothing into the store"


def test_run_passes_parameters(uid_env):
    runs = _runs(uid_env)
    done = uid_env.run(
        str(SCRIPT), "run", str(REPO / "notebooks" / "dashboards" / "store.ipynb"), "-p", "prefix", "raw/",
        "--store", str(uid_env.base / "empty-store"), env=uid_env.env(ALTAKIT_RUNS_DIR=str(runs)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "run:      run:store@1" in done.stdout, done.stdout
    executed = sorted(runs.glob("store-*.ipynb"))[-1]
    text = json.dumps(json.loads(executed.read_text())["cells"][-1]["outputs"])
    assert "This store is empty under 'raw/'" in text


def _tiny_wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel, built by hand (nothing from the network)."""
    name, version = "altakit_uid_probe", "0.0.1"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": "WHO = 'probe'\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, text in {**files, f"{info}/RECORD": record}.items():
            z.writestr(path, text)
    wheel.chmod(0o644)
    return wheel


def test_pip_install_user_works(uid_env):
    wheel = _tiny_wheel(uid_env.base)
    python = str(uid_env.venv / "bin" / "python")
    env = uid_env.env()
    done = uid_env.run(
        python, "-m", "pip", "install", "--user", "--no-index", "--no-deps", str(wheel), env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    probe = uid_env.run(python, "-c", "import altakit_uid_probe as p; print(p.__file__)", env=env)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().startswith(str(uid_env.home / ".local")), probe.stdout


def test_unknown_uid_gets_a_passwd_entry(uid_env):
    passwd = uid_env.base / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n")
    passwd.chmod(0o664)  # like the image: chgrp 0 /etc/passwd && chmod g=u
    done = uid_env.run(str(SCRIPT), "no-such-mode", env=uid_env.env(ALTAKIT_PASSWD_FILE=str(passwd)))
    assert done.returncode == 2 and "unknown mode 'no-such-mode'" in done.stderr
    assert f"altakit-{UID}:x:{UID}:0:altakit user:{uid_env.home}:/bin/bash" in passwd.read_text()


def test_unwritable_home_falls_back_with_a_message(uid_env):
    locked = uid_env.base / "locked-home"
    locked.mkdir(mode=0o755, exist_ok=True)
    locked.chmod(0o755)  # root's, not writable by group 0
    done = uid_env.run(str(SCRIPT), "no-such-mode", env=uid_env.env(HOME=str(locked)))
    assert f"HOME={locked} is not writable by uid {UID}" in done.stderr
    assert done.returncode == 2


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("voila",), {}, "usage: start-altakit voila NOTEBOOK"),
        (("voila", "missing.ipynb"), {}, "no such notebook: missing.ipynb"),
        (("run",), {}, "usage: start-altakit run NOTEBOOK"),
        (("singleuser",), {}, "singleuser needs JUPYTERHUB_API_TOKEN"),
        ((), {"ALTAKIT_VENV": "/nonexistent"}, "no Python environment at /nonexistent"),
    ],
)
def test_clear_errors(uid_env, args, env, message):
    done = uid_env.run(str(SCRIPT), *args, env=uid_env.env(**env))
    assert done.returncode == 2
    assert message in done.stderr


def test_hub_token_selects_singleuser(uid_env, server):
    # A hub's spawner sets these; no hub runs here, so jupyterhub-singleuser must start under the
    # hub's prefix and go looking for the hub at the API URL it was given (a closed loopback port).
    port, hub = free_port(), f"http://127.0.0.1:{free_port()}/hub/api"
    prefix = "/user/test/"
    proc, log = server(
        JUPYTERHUB_API_TOKEN="from-the-hub", JUPYTERHUB_API_URL=hub, JUPYTERHUB_USER="test",
        JUPYTERHUB_SERVICE_PREFIX=prefix, JUPYTERHUB_SERVICE_URL=f"http://127.0.0.1:{port}{prefix}",
        JUPYTERHUB_CLIENT_ID="jupyterhub-user-test", JUPYTERHUB_BASE_URL="/",
        JUPYTERHUB_OAUTH_CALLBACK_URL=f"{prefix}oauth_callback",
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and f"Failed to connect to my Hub at {hub}" not in log.read_text():
        assert proc.poll() is None, log.read_text()
        time.sleep(0.5)
    text = log.read_text()
    assert "Starting jupyterhub single-user server extension" in text, text
    assert f"Failed to connect to my Hub at {hub}" in text, text
