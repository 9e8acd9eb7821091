"""openshift/Dockerfile, parsed (no Docker engine runs here), and linted by hadolint."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.parts import need

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "openshift" / "Dockerfile"
CONSTRAINTS = REPO / "requirements" / "constraints.txt"
LOCAL_PATHS = {".", "./", "./widgets"}


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        logical += " " + stripped
        if logical.endswith("\\"):
            logical = logical[:-1]
            continue
        keyword, _, args = " ".join(logical.split()).partition(" ")
        out.append((keyword.upper(), args.strip()))
        logical = ""
    return out


@pytest.fixture(scope="module")
def parsed() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def _all(parsed, keyword: str) -> list[str]:
    return [args for kw, args in parsed if kw == keyword]


def _arg_defaults(parsed) -> dict[str, str]:
    return dict(a.split("=", 1) for a in _all(parsed, "ARG") if "=" in a)


def test_parser_joins_continuations():
    assert instructions("FROM a\nRUN x \\\n  # note\n  && y\nUSER 1\n") == [
        ("FROM", "a"),
        ("RUN", "x && y"),
        ("USER", "1"),
    ]


def test_base_image_is_pinned(parsed):
    (base,) = _all(parsed, "FROM")
    image = re.sub(r"\$\{(\w+)\}", lambda m: _arg_defaults(parsed)[m[1]], base.split()[0])
    assert ":latest" not in image and ":" in image, image
    tag = image.split("@")[0].rsplit(":", 1)[1]
    pinned_digest = re.search(r"@sha256:[0-9a-f]{64}$", image)
    assert pinned_digest or re.match(r"^\d+\.\d+\.\d+-", tag), f"{image}: use an exact x.y.z tag or a digest"


def test_runs_as_numeric_non_root_user_in_group_0(parsed):
    users = _all(parsed, "USER")
    assert users, "no USER: the image would run as root"
    final = users[-1]
    uid, _, gid = final.partition(":")
    assert uid.isdigit() and int(uid) != 0, f"USER {final}: must be a numeric, non-root UID"
    assert gid in ("", "0"), "OpenShift runs the image in group 0"
    assert any(f"--uid {uid} --gid 0" in run for run in _all(parsed, "RUN")), "the user's primary group is 0"


def test_writable_paths_belong_to_group_0(parsed):
    env = " ".join(_all(parsed, "ENV"))
    home = re.search(r"HOME=(\S+)", env)[1]
    venv = re.search(r"ALTAKIT_VENV=(\S+)", env)[1]
    runs = " ".join(_all(parsed, "RUN"))
    for path in (home, venv, "/etc/passwd"):
        covering = [p for p in re.findall(r"chgrp (?:-R )?0 ([^&]+)", runs) for p in p.split()]
        assert any(path == c or path.startswith(c.rstrip("/") + "/") for c in covering), f"chgrp 0 {path}"
        modes = [p for p in re.findall(r"chmod (?:-R )?g=u ([^&]+)", runs) for p in p.split()]
        assert any(path == m or path.startswith(m.rstrip("/") + "/") for m in modes), f"chmod g=u {path}"


def test_installs_from_the_pins(parsed):
    pins = {
        re.sub(r"[-_.]+", "-", line.split("==")[0]).lower()
        for line in CONSTRAINTS.read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    installs = [run for run in _all(parsed, "RUN") if "pip install" in run]
    assert installs, "no pip install"
    for run in installs:
        assert "-c requirements/constraints.txt" in run, f"pip install without the pins: {run}"
        words = shlex.split(run.split("pip install", 1)[1].split("&&")[0])
        values = {"-c", "--extra-index-url", "--index-url"}
        names = [w for i, w in enumerate(words) if not w.startswith("-") and words[i - 1] not in values]
        for word in names:
            if word.split("[")[0] in LOCAL_PATHS:
                continue
            name = re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~]", word)[0]).lower()
            assert name in pins, f"{word} is installed but not pinned in {CONSTRAINTS.name}"
    copied = " ".join(_all(parsed, "COPY"))
    assert "requirements/constraints.txt" in copied


def test_listens_on_8888_with_a_health_check_on_api(parsed):
    assert "8888" in _all(parsed, "EXPOSE")
    (health,) = _all(parsed, "HEALTHCHECK")
    assert "healthcheck.py" in health
    script = (REPO / "openshift" / "healthcheck.py").read_text()
    assert "NB_PREFIX" in script and "JUPYTERHUB_SERVICE_PREFIX" in script and "/api" in script


def test_healthcheck_urls():
    sys.path.insert(0, str(REPO / "openshift"))
    try:
        from healthcheck import api_url
    finally:
        sys.path.remove(str(REPO / "openshift"))
    assert api_url({}) == "http://127.0.0.1:8888/api"
    assert api_url({"NB_PREFIX": "/notebook/ns/wb/"}) == "http://127.0.0.1:8888/notebook/ns/wb/api"
    assert (
        api_url({"JUPYTERHUB_SERVICE_PREFIX": "/user/ana/", "ALTAKIT_PORT": "9"})
        == "http://127.0.0.1:9/user/ana/api"
    )


def test_starts_with_the_start_script_and_ships_the_notebooks(parsed):
    (cmd,) = _all(parsed, "CMD")
    assert "start-altakit" in cmd
    copies = _all(parsed, "COPY")
    assert any(c.startswith("openshift/start-altakit ") for c in copies)
    assert any(c.startswith("notebooks ") for c in copies), "the curated notebooks and dashboards"
    assert "openjdk-17-jre-headless" in " ".join(_all(parsed, "RUN")), "Java 17 for the JVM store"


def test_server_extension_enabled_once_it_exists(parsed):
    import altakit_widgets

    enabled = any("server extension enable" in r and "altakit_widgets" in r for r in _all(parsed, "RUN"))
    exists = hasattr(altakit_widgets, "_jupyter_server_extension_points")
    assert enabled == exists, (
        "uncomment the `jupyter server extension enable` line in openshift/Dockerfile"
        if exists
        else "the Dockerfile enables altakit_widgets, which defines no server extension"
    )


SECRET_PATTERNS = {
    "AWS access key id": r"(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}",
    "private key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    # a literal value (not a $VAR, ${default}, path or option) assigned to a secret-looking name
    "assigned secret": (
        r"(?i)(password|passwd|secret|token|api_key|access_key)\w*\s*[=:]\s*['\"]?(?![$/{-])[^\s'\"$]{6,}"
    ),
    "GitHub token": r"gh[pousr]_[A-Za-z0-9]{30,}",
}


@pytest.mark.parametrize("name", sorted(SECRET_PATTERNS))
def test_scanner_catches(name):
    planted = {
        "AWS access key id": "ENV AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP",
        "private key": "-----BEGIN RSA PRIVATE KEY-----",
        "assigned secret": "ENV JUPYTER_TOKEN=hunter2hunter2",
        "GitHub token": "ghp_" + "a" * 36,
    }[name]
    assert re.search(SECRET_PATTERNS[name], planted)


@pytest.mark.parametrize(
    "path", ["openshift/Dockerfile", "openshift/start-altakit", "binder/postBuild", "binder/start"]
)
def test_no_secrets_baked_in(path):
    text = (REPO / path).read_text()
    for name, pattern in SECRET_PATTERNS.items():
        match = re.search(pattern, text)
        assert match is None, f"{path}: looks like a {name}: {match[0] if match else ''}"


def test_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.prefix) / "bin"))
    need(hadolint is not None, "hadolint is not installed (it comes with the dev extra: make env)")
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
