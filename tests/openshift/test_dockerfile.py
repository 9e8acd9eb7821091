"""openshift/Dockerfile, parsed (no Docker engine runs here), and linted by hadolint."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
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


def stages(parsed) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """``(image, alias, instructions)`` per ``FROM`` stage, in order (alias ``""`` when unnamed)."""
    out: list[tuple[str, str, list[tuple[str, str]]]] = []
    for kw, args in parsed:
        if kw == "FROM":
            words = args.split()
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            out.append((words[0], alias, []))
        elif out:
            out[-1][2].append((kw, args))
    return out


def _image(parsed, ref: str) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: _arg_defaults(parsed)[m[1]], ref)


def test_parser_splits_stages():
    text = "ARG B=x:1.2.3\nFROM ${B} AS build\nRUN a\nFROM ${B}\nCOPY --from=build /o /o\n"
    got = stages(instructions(text))
    assert [(i, a) for i, a, _ in got] == [("${B}", "build"), ("${B}", "")]
    assert got[1][2] == [("COPY", "--from=build /o /o")]


def test_base_images_are_pinned(parsed):
    froms = _all(parsed, "FROM")
    assert len(froms) == 3, froms
    for base in froms:
        image = _image(parsed, base.split()[0])
        assert ":latest" not in image and ":" in image, image
        tag = image.split("@")[0].rsplit(":", 1)[1]
        pinned_digest = re.search(r"@sha256:[0-9a-f]{64}$", image)
        assert pinned_digest or re.match(r"^\d+\.\d+\.\d+-", tag), (
            f"{image}: use an exact x.y.z tag or a digest"
        )


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


# --- the JupyterLab extension: built in the `labextension` stage, shipped prebuilt, checked in the image ---

WIDGETS = REPO / "widgets"
LABEXT = "altakit_widgets/labextension"  # package.json's jupyterlab.outputDir, relative to widgets/
VENV = REPO / ".venv"


def test_labextension_is_built_in_its_own_stage_on_the_same_base(parsed):
    (node_img, node_alias, _), (build_img, build_alias, build), (final_img, final_alias, _) = stages(parsed)
    assert (node_alias, build_alias, final_alias) == ("node", "labextension", "")
    assert build_img == final_img == "${BASE_IMAGE}", "the build stage runs on the image's own base"
    assert re.match(r"node:20\.\d+\.\d+-bookworm-slim", _image(parsed, node_img)), "Node 20 on bookworm"
    copies = [a for kw, a in build if kw == "COPY"]
    assert "--from=node /usr/local/bin/node /usr/local/bin/node" in copies
    runs = [a for kw, a in build if kw == "RUN"]
    assert any(re.search(r"pip install -c requirements/constraints.txt jupyterlab$", r) for r in runs), (
        "jlpm and jupyter-builder come from the pinned jupyterlab"
    )
    (jlpm,) = [r for r in runs if "jlpm" in r]
    assert jlpm.index("jlpm install --immutable") < jlpm.index("jlpm build:prod"), jlpm
    workdirs = [a for kw, a in build[: build.index(("RUN", jlpm))] if kw == "WORKDIR"]
    assert workdirs[-1] == "/opt/altakit/src/widgets", "jlpm runs in widgets/"
    assert json.loads((WIDGETS / "package.json").read_text())["jupyterlab"]["outputDir"] == LABEXT


def test_final_stage_ships_the_prebuilt_labextension_before_installing_widgets(parsed):
    *_, (_, _, final) = stages(parsed)
    kinds = [(kw, a) for kw, a in final]
    widgets_copy = kinds.index(("COPY", "widgets ./widgets"))
    src = f"/opt/altakit/src/widgets/{LABEXT}"
    prebuilt = kinds.index(("COPY", f"--from=labextension {src} ./widgets/{LABEXT}"))
    install = next(
        i for i, (kw, a) in enumerate(kinds) if kw == "RUN" and "pip install" in a and "./widgets" in a
    )
    assert widgets_copy < prebuilt < install, "copy widgets/, then the built labextension over it, then pip"
    assert re.search(r"PIP_CONSTRAINT=\S*requirements/constraints\.txt", kinds[install][1]), (
        "the wheel's isolated build environment (hatchling, hatch-jupyter-builder) from the pins too"
    )
    hook = tomllib.loads((WIDGETS / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["hooks"]
    skip = hook["jupyter-builder"]["skip-if-exists"]
    assert skip and all(p.startswith(LABEXT + "/") for p in skip), "pip must skip the node build"


def test_final_stage_has_no_node_and_checks_the_extensions(parsed):
    *_, (_, _, final) = stages(parsed)
    text = " ".join(a for _, a in final)
    assert "--from=node" not in text and "nodejs" not in text and "jlpm" not in text, "no node in the image"
    runs = [a for kw, a in final if kw == "RUN"]
    install = next(i for i, r in enumerate(runs) if "pip install" in r and "./widgets" in r)
    enable = next(i for i, r in enumerate(runs) if "server extension enable" in r)
    check = next(i for i, r in enumerate(runs) if "check-extensions" in r)
    assert install < enable < check, "the check runs on the installed, enabled image"
    assert "command -v node" in runs[check] and "exit 1" in runs[check]
    assert ("COPY", "openshift/check-extensions /opt/altakit/check-extensions") in final


def test_dockerignore_keeps_local_builds_out():
    ignored = {
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line and line[0] != "#"
    }
    for path in ("**/node_modules", "widgets/lib", f"widgets/{LABEXT}", "**/*.tsbuildinfo"):
        assert path in ignored, f".dockerignore: {path} (the image builds the extension itself)"


CLASSES = "CLASSES altakit_widgets.jobs.AltakitScheduler altakit_widgets.jobs.AltakitExecutionManager"


def _fake_jupyter(tmp_path: Path, lab: str, server: str, classes: str = CLASSES) -> dict[str, str]:
    """An environment whose ``jupyter`` prints ``lab`` / ``server`` for the two list commands, and whose
    ``python`` (beside it) prints ``classes`` for the scheduler configuration probe."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "lab.txt").write_text(lab)
    (tmp_path / "server.txt").write_text(server)
    script = bin_dir / "jupyter"
    script.write_text(
        f'#!/bin/bash\ncase "$1" in labextension) cat {tmp_path}/lab.txt >&2;; '
        f"server) cat {tmp_path}/server.txt;; *) exit 2;; esac\n"
    )
    script.chmod(0o755)
    python = bin_dir / "python"
    python.write_text(f"#!/bin/bash\necho '{classes}'\n")
    python.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}


GREEN = "\x1b[32m{}\x1b[0m"
LAB_OK = (
    f"JupyterLab v4.6.6\n/x/share/jupyter/labextensions\n        altakit v0.1.0 {GREEN.format('enabled')} "
    f"{GREEN.format('OK')} (python, altakit-widgets)\n        @jupyterlab/scheduler v2.12.1 "
    f"{GREEN.format('enabled')} {GREEN.format('OK')} (python, jupyter_scheduler)\n"
)
SERVER_OK = "Config dir: /x/etc/jupyter\n" + "".join(
    f"    {name} {GREEN.format('enabled')}\n    - Validating {name}...\n"
    f"      {name} 0.1.0 {GREEN.format('OK')}\n"
    for name in ("altakit_widgets", "jupyter_scheduler")
)


@pytest.mark.parametrize(
    ("lab", "server", "classes", "ok", "says"),
    [
        (LAB_OK, SERVER_OK, CLASSES, True, "enabled"),
        (LAB_OK.replace("altakit v", "other v"), SERVER_OK, CLASSES, False, "lab extension is not"),
        (LAB_OK.replace("enabled", "disabled", 1), SERVER_OK, CLASSES, False, "lab extension is not"),
        (LAB_OK, SERVER_OK.replace("enabled", "disabled", 1), CLASSES, False,
         "server extension is not enabled"),
        (LAB_OK, SERVER_OK.replace("OK", "X", 1), CLASSES, False, "does not load"),
        (LAB_OK.replace("@jupyterlab/scheduler", "@other/x"), SERVER_OK, CLASSES, False, "Scheduler lab"),
        (LAB_OK, SERVER_OK.replace("jupyter_scheduler 0.1.0", "jupyter_scheduler 0.1.0 X"), CLASSES, False,
         "jupyter_scheduler server extension"),
        (LAB_OK, SERVER_OK, CLASSES.replace("altakit_widgets.jobs.AltakitExecutionManager",
         "jupyter_scheduler.executors.DefaultExecutionManager"), False, "does not run jobs through altakit"),
    ],
    ids=["ok", "no-lab", "lab-disabled", "server-disabled", "server-broken", "no-scheduler-lab",
         "scheduler-broken", "default-executor"],
)  # fmt: skip
def test_check_extensions_script(tmp_path, lab, server, classes, ok, says):
    done = subprocess.run(
        ["bash", str(REPO / "openshift" / "check-extensions")],
        env=_fake_jupyter(tmp_path, lab, server, classes),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    assert says in done.stdout + done.stderr


def test_check_extensions_passes_in_the_project_env(tmp_path):
    need((VENV / "bin" / "jupyter").exists(), "the project's venv is not built (make env)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env |= {"JUPYTER_CONFIG_DIR": str(tmp_path / "c"), "JUPYTER_DATA_DIR": str(tmp_path / "d"),
            "PATH": f"{VENV / 'bin'}:/usr/bin:/bin"}  # fmt: skip
    done = subprocess.run(
        ["bash", str(REPO / "openshift" / "check-extensions")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _widgets_copy(tmp_path: Path, with_labextension: bool) -> Path:
    """widgets/ as the image's build context has it (.dockerignore applied), plus the built labextension."""
    dest = tmp_path / "widgets"
    shutil.copytree(
        WIDGETS,
        dest,
        ignore=shutil.ignore_patterns(
            "node_modules", "lib", ".yarn", "labextension", "*.egg-info", "*.tsbuildinfo"
        ),
    )
    if with_labextension:
        shutil.copytree(WIDGETS / LABEXT, dest / LABEXT)
    return dest


def _pip_wheel_without_node(tmp_path: Path, widgets: Path) -> subprocess.CompletedProcess:
    """``pip wheel --no-deps ./widgets`` with the venv's pinned hatchling, no network, no node on PATH."""
    need(
        (VENV / "bin" / "python").exists()
        and subprocess.run(
            [VENV / "bin" / "python", "-c", "import hatch_jupyter_builder, hatchling"]
        ).returncode
        == 0,
        "hatchling / hatch-jupyter-builder are not in the venv (dev extra: make env)",
    )
    path = str(VENV / "bin")
    assert shutil.which("node", path=path) is None and shutil.which("jlpm", path=path)
    env = {"PATH": path, "HOME": str(tmp_path), "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    cmd = [VENV / "bin" / "python", "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "./widgets"]
    cmd += ["-w", "dist"]
    # the hook would run `jlpm build:prod`; with no node on PATH that cannot build anything
    return subprocess.run(cmd, cwd=widgets.parent, env=env, capture_output=True, text=True, timeout=240)


def test_widgets_wheel_ships_the_prebuilt_labextension_without_node(tmp_path):
    need((WIDGETS / LABEXT / "static" / "style.js").exists(), "the labextension is not built (make env)")
    widgets = _widgets_copy(tmp_path, with_labextension=True)
    done = _pip_wheel_without_node(tmp_path, widgets)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp_path / "dist").glob("altakit_widgets-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        data = next(n.split("/data/")[0] for n in names if "/data/" in n) + "/data/"
        ext = data + "share/jupyter/labextensions/altakit/"
        package = json.loads(z.read(ext + "package.json"))
        assert package["name"] == "altakit" and package["jupyterlab"]["_build"]["load"].startswith("static/")
        assert ext + package["jupyterlab"]["_build"]["load"] in names, "remoteEntry is shipped"
        assert ext + "static/style.js" in names
        assert json.loads(z.read(ext + "install.json"))["packageName"] == "altakit-widgets"
        server = json.loads(z.read(data + "etc/jupyter/jupyter_server_config.d/altakit_widgets.json"))
        assert server["ServerApp"]["jpserver_extensions"] == {"altakit_widgets": True}
        built = sorted(p.name for p in (widgets / LABEXT / "static").iterdir())
        assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith(ext + "static/")) == built
        assert not [n for n in names if "node_modules" in n or n.endswith(".ts")], "sources stay out"


def test_widgets_wheel_without_the_prebuilt_labextension_needs_node(tmp_path):
    """The other side: without the build stage's output, the same step fails (it would need node)."""
    done = _pip_wheel_without_node(tmp_path, _widgets_copy(tmp_path, with_labextension=False))
    assert done.returncode != 0, done.stdout
    assert "jlpm" in done.stdout + done.stderr, "the hook tried to build with node"
    assert not list(tmp_path.glob("dist/*.whl"))
