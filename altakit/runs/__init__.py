"""Runs: the one run-record model, and notebook execution shared by ``altakit run`` and the workflow.

- :mod:`altakit.runs.record` — the ``run`` record's document (:class:`RunDoc`), the one
  :func:`environment`, :func:`record_run` / :func:`read_run`. Training
  (:class:`altakit.train.RunRecorder`) and notebook runs write through it.
- :mod:`altakit.runs.reads` — which table/dataset/model versions a run read; pins that read them again.
- :mod:`altakit.runs.secrets` — secret-looking parameters refused, secret values redacted.
- :mod:`altakit.runs.notebook` — ``altakit run``: execute one notebook with papermill, record it.
- :mod:`altakit.runs.kernels` — the kernel of one execution: started before papermill, shut down
  while the run is kept.
- :mod:`altakit.runs.export` — the HTML copy: one nbconvert exporter per process, loaded while cells run.
- :mod:`altakit.runs.workflow` — run the curated notebooks and write a report.

Importing this package loads the record model only (no papermill, no training code).

Example:
    >>> from altakit.runs import RunDoc, environment
    >>> RunDoc(status="running", parameters={}, started="", environment=environment()).status
    'running'
"""

from altakit.runs.record import RunDoc, RunStatus, environment, notebook_info, read_run, record_run

__all__ = ["RunDoc", "RunStatus", "environment", "notebook_info", "read_run", "record_run"]
