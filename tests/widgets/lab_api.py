"""A small client for the altakit REST API of a real Jupyter server: token or cookie + XSRF auth.

Used by ``test_lab_api*.py``. ``Api.get``/``Api.post`` return ``(status, parsed JSON or None, raw body)``;
every body a test receives is kept in ``Api.bodies`` so a test can check that nothing leaked.
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Api:
    """The API of ``server_url`` (``…/user/x/api`` as ``jupyter_servers.Server.url`` has it)."""

    server_url: str
    token: str | None
    bodies: list[bytes] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.server_url.removesuffix("api")

    @property
    def api(self) -> str:
        return self.base + "altakit/api"

    def _send(self, request: urllib.request.Request, opener: Any = None) -> tuple[int, Any, bytes]:
        if self.token:
            request.add_header("Authorization", f"token {self.token}")
        try:
            with (opener or urllib.request.build_opener()).open(request, timeout=60) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        self.bodies.append(body)
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        return status, parsed, body

    def get(self, path: str, **params: Any) -> tuple[int, Any, bytes]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self._send(urllib.request.Request(f"{self.api}/{path}" + (f"?{query}" if query else "")))

    def post(self, path: str, body: Any, *, opener: Any = None, headers: dict | None = None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api}/{path}", data=data, method="POST", headers=headers or {}
        )
        return self._send(request, opener)

    def me(self) -> str:
        """The user name Jupyter sees for this client."""
        request = urllib.request.Request(
            self.base + "api/me", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["identity"]["username"]


def cookie_session(api: Api, token: str) -> tuple[Any, http.cookiejar.CookieJar]:
    """An opener logged in by cookie (a ``?token=`` visit sets it), as a browser is; no token header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(api.base + f"api/status?token={token}", timeout=30).close()
    assert any("username" in c.name or c.name.startswith("username") for c in jar) or len(jar) > 0
    return opener, jar


def leaks(bodies: list[bytes], *secrets: str | bytes) -> list[str]:
    """The secrets (or tracebacks) that appear in any body."""
    found = []
    for secret in (*secrets, "Traceback", 'File "'):
        needle = secret.encode() if isinstance(secret, str) else secret
        if needle and any(needle in body for body in bodies):
            found.append(repr(secret)[:80])
    return found
