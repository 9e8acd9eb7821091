"""The image's health check: ``GET <base URL>/api`` on the local server answers 200.

The base URL is ``$NB_PREFIX`` (OpenShift AI workbenches), else
``$JUPYTERHUB_SERVICE_PREFIX`` (JupyterHub single-user servers), else ``/``; the
port is ``$ALTAKIT_PORT`` (default 8888). Exit 0 when healthy, 1 otherwise.

Example:
    $ NB_PREFIX=/user/ana python healthcheck.py   # checks http://127.0.0.1:8888/user/ana/api
"""

from __future__ import annotations

import os
import sys
import urllib.request


def api_url(env: dict[str, str]) -> str:
    """The ``/api`` URL the server answers on, from the environment."""
    prefix = env.get("NB_PREFIX") or env.get("JUPYTERHUB_SERVICE_PREFIX") or "/"
    prefix = "/" + prefix.strip("/")
    port = env.get("ALTAKIT_PORT") or "8888"
    return f"http://127.0.0.1:{port}{prefix.rstrip('/')}/api"


def main() -> int:
    """Probe the server once; print why when it is not healthy."""
    url = api_url(dict(os.environ))
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status = response.status
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
