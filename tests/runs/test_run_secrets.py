"""``altakit run`` on a real kernel keeps no secret in any byte of anything it writes.

The notebook reads secrets from the environment (``PGPASSWORD``, ``MYSQL_PWD``,
``DATABASE_URL`` with a password, ``AWS_SECRET_ACCESS_KEY``, a custom
``FOO_TOKEN``) and leaks them every way a careless notebook does: printed to
stdout, JSON-escaped to stderr, as a repr result, in displayed HTML, in a raised
exception. None of the values — nor their JSON-escaped, URL-encoded or
HTML-escaped forms — may appear in the executed notebook, its HTML, any object
the run put into the store, the run record, or the SQL index; the innocent
output around them must survive.
"""

from __future__ import annotations

import json
import secrets

from fixtures.notebooks import printed_forms, write_notebook

import altakit
from altakit.catalog import catalog_of
from altakit.runs.notebook import run_notebook

TAG = secrets.token_hex(6)
ENV = {
    "PGPASSWORD": f'pg"quo\\te-{TAG}',
    "MYSQL_PWD": f"mysql-pässwörd-ключ-{TAG}",
    "DATABASE_URL": "postgresql://u:p%40ss@h/db",
    "AWS_SECRET_ACCESS_KEY": f"wJalrXUtnFEMI/K7MDENG+bPxRfiCY{TAG}",
    "FOO_TOKEN": f"foo<tok>&{TAG}\nsecond-line",
}
#: The secret in each variable (DATABASE_URL's is its password, as written and decoded).
SECRETS = [
    ENV["PGPASSWORD"],
    ENV["MYSQL_PWD"],
    "p%40ss",
    "p@ss",
    ENV["AWS_SECRET_ACCESS_KEY"],
    ENV["FOO_TOKEN"],
]

CELLS = [
    "import html, json, os, sys\n"
    "S = {k: os.environ[k] for k in ['PGPASSWORD', 'MYSQL_PWD', 'DATABASE_URL', 'AWS_SECRET_ACCESS_KEY',"
    " 'FOO_TOKEN']}",
    "print('innocent: rows =', rows, 'passes = 3')\nfor k, v in S.items():\n    print(k, '=', v)",
    "print(json.dumps(S), file=sys.stderr)\nprint(json.dumps(S, ensure_ascii=False), file=sys.stderr)",
    "from urllib.parse import quote\nprint('encoded', quote(S['PGPASSWORD'], safe=''), 'decoded p@ss')",
    "from IPython.display import HTML, display\n"
    "display(HTML('<p>innocent html</p><b>' + html.escape(S['FOO_TOKEN']) + '</b>'\n"
    "             '<i>' + S['MYSQL_PWD'] + '</i>'))",
    "S",
    "raise RuntimeError('connect failed for ' + S['PGPASSWORD'] + ' with ' + S['AWS_SECRET_ACCESS_KEY'])",
]


def test_run_keeps_no_secret_in_any_byte(tmp_path, monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    index = tmp_path / "kept" / "index.sqlite"
    monkeypatch.setenv("ALTAKIT_INDEX", f"sqlite:///{index}")
    nb = write_notebook(tmp_path / "leaky.ipynb", *CELLS)
    store = altakit.open_store(tmp_path / "kept" / "store")

    result = run_notebook(nb, {"rows": 2}, store=store, out=tmp_path / "kept" / "runs")

    assert not result.ok and "RuntimeError" in result.error
    doc = result.record.doc
    with catalog_of(store) as catalog:  # the record as the SQL index returns it
        indexed = json.dumps(catalog.resolve("run:leaky").doc)
    files = [p for p in (tmp_path / "kept").rglob("*") if p.is_file()]
    assert index.is_file() and result.executed in files and result.html in files
    assert any(".ipynb" in str(p) for p in files if "store" in p.parts) and len(files) >= 6
    kept = {str(p): p.read_bytes() for p in files} | {
        "record": json.dumps(doc).encode(),
        "indexed": indexed.encode(),
    }
    for secret in SECRETS:
        for form in printed_forms(secret):
            for where, data in kept.items():
                assert form.encode() not in data, f"{form!r} (a form of a planted secret) is in {where}"

    executed = result.executed.read_text(encoding="utf-8")
    page = result.html.read_text(encoding="utf-8")
    for text in (executed, page):  # the rest of the output survives
        assert "innocent: rows = 2 passes = 3" in text and "innocent html" in text
        assert "postgresql://u:***@h/db" in text and "decoded [redacted]:DATABASE_URL" in text
        assert "[redacted]:PGPASSWORD" in text and "[redacted]:FOO_TOKEN" in text and "RuntimeError" in text
    assert "connect failed for [redacted]:PGPASSWORD with [redacted]:AWS_SECRET_ACCESS_KEY" in doc["error"]
    assert set(doc["redacted"]) == set(ENV)
    assert store.get(doc["executed"]["key"]).decode() == executed
