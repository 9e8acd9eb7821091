"""``altakit schedule export``: a Jupyter Scheduler job definition as a CronJob that validates against the
Kubernetes schema (kubernetes-validate, strict), and whose container command, run here with the
environment the pod would get (the Secret's keys through envFrom), executes the notebook and records the
run. The definition comes from a real server's scheduler database, and as the JSON its REST API returns."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from fixtures.notebooks import write_notebook
from jupyter_servers import REPO
from scheduler_api import catalog, scheduler_server

from altakit.cli.schedule import MOUNT

pytestmark = pytest.mark.timeout(300)
ALTAKIT = str(Path(sys.executable).with_name("altakit"))
K8S_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())  # timeZone is GA since 1.27
SECRET = "cronsecret-" + secrets.token_hex(12)


@pytest.fixture(scope="module")
def definition(tmp_path_factory):
    """A scheduled definition made through a real server's REST API: (id, its JSON file, the folder)."""
    folder = tmp_path_factory.mktemp("export")
    cell = "import os\nprint('DAY', day, rows * 3)\nprint(os.environ['PGPASSWORD'])"
    write_notebook(folder / "nightly.ipynb", cell, parameters="day = ''\nrows = 1")
    with scheduler_server(folder, folder / "store") as client:
        body = {"input_uri": "nightly.ipynb", "runtime_environment_name": client.environment(),
                "name": "Nightly report (line 4)", "output_formats": ["ipynb"], "schedule": "30 2 * * 1-5",
                "timezone": "Europe/Berlin", "parameters": {"day": "2026-01-02", "rows": "5"}}  # fmt: skip
        status, created = client.call("POST", "scheduler/job_definitions", body)
        assert status == 200, created
        ident = created["job_definition_id"]
        status, described = client.call("GET", f"scheduler/job_definitions/{ident}")
        assert status == 200, described
    saved = folder / "definition.json"
    saved.write_text(json.dumps(described))
    return ident, saved, folder


def export(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JUPYTER_DATA_DIR": str(folder / "jupyter-data")}
    return subprocess.run([ALTAKIT, "schedule", "export", *args], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip


def test_the_export_is_a_valid_cronjob_of_the_definition(definition):
    ident, saved, folder = definition
    done = export(folder, ident, "--store", "s3://team-bucket/store", "--secret", "team-s3")
    assert done.returncode == 0, done.stderr
    config_map, cron = yaml.safe_load_all(done.stdout)
    for doc in (config_map, cron):
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
    assert cron["metadata"]["name"] == "nightly-report-line-4"
    assert cron["metadata"]["annotations"]["altakit.io/job-definition"] == ident
    assert (cron["spec"]["schedule"], cron["spec"]["timeZone"]) == ("30 2 * * 1-5", "Europe/Berlin")
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == [  # the date quoted: the job reads it as a string, so must altakit run
        "start-altakit", "run", f"{MOUNT}/nightly.ipynb", "-p", "day", '"2026-01-02"', "-p", "rows", "5",
        "--store", "s3://team-bucket/store",
    ]  # fmt: skip
    assert container["envFrom"] == [{"secretRef": {"name": "team-s3"}}]
    staged = folder / "jupyter-data" / "scheduler_staging_area" / ident / "nightly.ipynb"
    assert config_map["data"]["nightly.ipynb"] == staged.read_text()
    # the JSON the scheduler's REST API returns exports the same manifests
    again = export(folder, str(saved), "--store", "s3://team-bucket/store", "--secret", "team-s3")
    assert again.returncode == 0 and again.stdout == done.stdout, again.stderr


def test_the_validator_rejects_a_broken_cronjob(definition):
    ident, _, folder = definition
    cron = list(yaml.safe_load_all(export(folder, ident, "--store", "s3://b/s").stdout))[1]
    cron["spec"]["timeZone"] = 2  # what a wrong export would write
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cron, kubernetes_validate.latest_version(), strict=True)
    del cron["spec"]["timeZone"]
    cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"secret": "x"}]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cron, kubernetes_validate.latest_version(), strict=True)


def test_the_cronjob_command_runs_here_and_records_the_run(definition, tmp_path):
    ident, _, folder = definition
    store = tmp_path / "store"
    done = export(folder, ident, "--store", str(store), "--secret", "local-secret")
    assert done.returncode == 0, done.stderr
    config_map, cron = yaml.safe_load_all(done.stdout)
    mount = tmp_path / "mount"  # the ConfigMap's volume, as the pod sees it at MOUNT
    mount.mkdir()
    for name, text in config_map["data"].items():
        (mount / name).write_text(text)
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    args = [a.replace(MOUNT, str(mount)) for a in container["args"]]
    assert args[0] == "start-altakit"
    secret_data = {"PGPASSWORD": SECRET}  # what the Secret named in envFrom holds
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALTAKIT_", "JUPYTER_"))}
    env |= {"ALTAKIT_VENV": str(REPO / ".venv"), "HOME": str(tmp_path / "home"),
            "ALTAKIT_COPY_NOTEBOOKS": "0", "ALTAKIT_INDEX": f"sqlite:///{store.parent / 'index.sqlite'}",
            **secret_data}  # fmt: skip
    ran = subprocess.run(["bash", str(REPO / "openshift" / "start-altakit"), *args[1:]], env=env,
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    doc = catalog(store).resolve("run:nightly").doc
    assert doc["status"] == "finished" and doc["parameters"]["rows"] == 5
    executed = catalog(store).store.get(doc["executed"]["key"], doc["executed"]["version"]).decode()
    assert "DAY 2026-01-02 15" in executed and "[redacted]:PGPASSWORD" in executed
    assert SECRET not in done.stdout + ran.stdout + ran.stderr + executed


def test_secrets_never_land_in_the_manifest(definition, tmp_path):
    ident, saved, folder = definition
    described = json.loads(saved.read_text())
    described["parameters"] = {"api_token": "abcd1234abcd1234abcd"}
    leaky = tmp_path / "leaky.json"
    leaky.write_text(json.dumps(described))
    refused = export(folder, str(leaky), "--store", "s3://b/s")
    assert (
        refused.returncode == 1
        and "looks like a secret" in refused.stderr
        and "abcd1234" not in refused.stderr
    )
    in_url = export(folder, ident, "--store", "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI@bucket/s")
    assert in_url.returncode == 1 and "credentials in store URLs are refused" in in_url.stderr
    assert "wJalrXUtnFEMI" not in in_url.stdout + in_url.stderr
    missing = export(folder, "no-such-definition-id", "--store", "s3://b/s")
    assert missing.returncode == 1 and "no job definition" in missing.stderr and "hint:" in missing.stderr
