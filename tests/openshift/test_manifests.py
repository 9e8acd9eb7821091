"""The OpenShift / JupyterHub manifests: yamllint, then the fields the cluster needs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OPENSHIFT = REPO / "openshift"
MANIFESTS = sorted(p.name for p in OPENSHIFT.glob("*.yaml"))


def load(name: str) -> dict:
    return yaml.safe_load((OPENSHIFT / name).read_text())


def test_the_manifests_are_there():
    want = {
        "imagestream.yaml",
        "buildconfig.yaml",
        "odh-workbench-imagestream.yaml",
        "z2jh-profile.yaml",
        "cronjob.yaml",
    }
    assert want <= set(MANIFESTS)


def test_yamllint():
    files = [str(OPENSHIFT / m) for m in MANIFESTS]
    cmd = [sys.executable, "-m", "yamllint", "-c", str(REPO / ".yamllint"), "--strict", *files]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_imagestream_and_buildconfig():
    stream = load("imagestream.yaml")
    assert (stream["apiVersion"], stream["kind"]) == ("image.openshift.io/v1", "ImageStream")
    assert stream["spec"]["tags"] and all(t["name"] != "latest" for t in stream["spec"]["tags"])
    build = load("buildconfig.yaml")
    assert (build["apiVersion"], build["kind"]) == ("build.openshift.io/v1", "BuildConfig")
    strategy = build["spec"]["strategy"]
    assert strategy["type"] == "Docker"
    dockerfile = strategy["dockerStrategy"]["dockerfilePath"]
    assert (REPO / build["spec"]["source"].get("contextDir", ".") / dockerfile).is_file()
    output = build["spec"]["output"]["to"]
    assert output["kind"] == "ImageStreamTag"
    assert output["name"].split(":")[0] == stream["metadata"]["name"]
    base = {a["name"]: a["value"] for a in strategy["dockerStrategy"].get("buildArgs", [])}.get("BASE_IMAGE")
    assert base is None or "latest" not in base


def test_odh_workbench_imagestream():
    stream = load("odh-workbench-imagestream.yaml")
    meta = stream["metadata"]
    assert meta["labels"]["opendatahub.io/notebook-image"] == "true"
    for key in ("opendatahub.io/notebook-image-name", "opendatahub.io/notebook-image-desc"):
        assert meta["annotations"][key].strip()
    tag = stream["spec"]["tags"][0]
    for key in ("opendatahub.io/notebook-python-dependencies", "opendatahub.io/notebook-software"):
        entries = json.loads(tag["annotations"][key])
        assert entries and all({"name", "version"} <= set(e) for e in entries)
    assert tag["from"]["kind"] == "DockerImage" and ":" in tag["from"]["name"].rsplit("/", 1)[1]


def test_z2jh_profile():
    singleuser = load("z2jh-profile.yaml")["singleuser"]
    assert singleuser["uid"] is None and singleuser["fsGid"] is None, "OpenShift assigns the UID"
    (profile,) = singleuser["profileList"]
    override = profile["kubespawner_override"]
    image = override["image"]
    assert ":" in image.rsplit("/", 1)[1] and not image.endswith(":latest")
    assert override["cmd"] == ["start-altakit", "singleuser"]
    assert "runAsUser" not in override.get("container_security_context", {})
    assert override["uid"] is None


def test_cronjob_runs_a_notebook_with_secrets_from_a_secret():
    job = load("cronjob.yaml")
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "CronJob")
    assert len(job["spec"]["schedule"].split()) == 5
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    (container,) = pod["containers"]
    argv = container.get("command", []) + container.get("args", [])
    assert argv[:2] == ["start-altakit", "run"] or argv[:2] == ["altakit", "run"]
    notebook = argv[2]
    assert notebook.startswith("/opt/altakit/notebooks/")
    assert (REPO / "notebooks" / notebook.removeprefix("/opt/altakit/notebooks/")).is_file()
    assert "-p" in argv and argv[argv.index("--store") + 1].startswith("s3://")
    env = {e["name"]: e for e in container["env"]}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert "value" not in env[name], f"{name} must come from a Secret"
        assert env[name]["valueFrom"]["secretKeyRef"]["name"]
    for context in (pod.get("securityContext", {}), container.get("securityContext", {})):
        assert "runAsUser" not in context, "OpenShift assigns the UID"


@pytest.mark.parametrize("name", MANIFESTS)
def test_no_secret_values(name):
    text = (OPENSHIFT / name).read_text()
    assert not re.search(r"(?:AKIA|ASIA)[A-Z0-9]{16}", text)
    for doc in yaml.safe_load_all(text):
        for key, value in _walk(doc):
            if re.search(r"(?i)secret|password|token", str(key)) and isinstance(value, str):
                raise AssertionError(f"{name}: {key} has a literal value")


def _walk(node, key=""):
    if isinstance(node, dict):
        if "name" in node and "value" in node:  # an env entry: {name: X, value: literal}
            yield node["name"], node["value"]
        for k, v in node.items():
            yield from _walk(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)
