"""A corpus of secret shapes and names: what ``altakit run`` redacts and refuses, and what it leaves alone.

Each shape is planted in every place a notebook keeps text (stdout, stderr,
display data, HTML, an execute result, an error traceback, metadata, a source),
in the forms code prints it in (raw, JSON-escaped, repr, URL-encoded, HTML-escaped);
the redacted notebook, written as nbformat writes it, must hold none of them in
any byte, and the innocent text around them must survive.
"""

from __future__ import annotations

import base64
import html
import json

import pytest
from fixtures.notebooks import printed_forms

from altakit.errors import ConfigError
from altakit.runs.secrets import Redactor, check_parameters, redact_notebook, secret_env_values

SHAPES = {
    "quotes": 'pa"ss\'w0rd-"quoted"',
    "backslashes": r"C:\new\table\x41\\u00e9-9f3k",
    "unicode": "pässwörd-ключ-🔑-密码",
    "newline": "first-line-7x\nsecond-line-9y",
    "tab_and_cr": "tab\there\r\nz-4kq",
    "long": "L0ng-" + "abcdEFGH1234" * 900,
    "base64": base64.b64encode(b"\xfb\xff\xfe secret bytes \x00\x01").decode(),
    "html": '<b class="x">&amp;</b>-s3c',
    "percent": "p%40ss%2Fw0rd+plus",
    "json_like": '{"k": "v\\\\"}-zz',
}
INNOCENT = "innocent text: rows=42 passes=3 bypass_cache=yes"


def notebook_with(value: str) -> dict:
    """A notebook whose outputs, metadata and sources print ``value`` in every form."""
    forms = sorted(printed_forms(value))
    lines = "".join(f"{INNOCENT} {f}\n" for f in forms)
    multiline = lines.splitlines(keepends=True)
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3"}, "note": f"{INNOCENT} {value}", "tags": ["a", "b"]},
        "cells": [
            {
                "cell_type": "code",
                "id": "c1",
                "metadata": {"tags": ["parameters"], "hint": value},
                "source": multiline,
                "execution_count": 1,
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": multiline},
                    {"output_type": "stream", "name": "stderr", "text": lines},
                    {
                        "output_type": "display_data",
                        "metadata": {"text/html": {"title": value}},
                        "data": {
                            "text/html": [f"<p>{INNOCENT} {html.escape(value)}</p>\n", f"<i>{value}</i>"],
                            "text/plain": repr(value),
                            "application/json": {"secret": value, "list": [value, 1]},
                        },
                    },
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": {"text/plain": f"{{'k': {value!r}}}"},
                    },
                    {
                        "output_type": "error",
                        "ename": "RuntimeError",
                        "evalue": f"failed with {value}",
                        "traceback": [
                            "\x1b[0;31m-----\x1b[0m",
                            f"\x1b[0;31mRuntimeError\x1b[0m: failed with {value}",
                            f"RuntimeError: {json.dumps(value)}",
                        ],
                    },
                ],
            }
        ],
    }


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_printed_form_of_a_secret_is_redacted_from_a_notebook(shape, tmp_path):
    value = SHAPES[shape]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook_with(value), indent=1, ensure_ascii=False), encoding="utf-8")
    redactor = Redactor({"FOO_TOKEN": value})
    redact_notebook(path, redactor)
    raw = path.read_bytes()
    for form in printed_forms(value) | {value.strip()}:
        assert form.encode() not in raw, f"{shape}: {form[:60]!r} is still in the file"
    nb = json.loads(raw)
    assert redactor.found == {"FOO_TOKEN"}
    assert "[redacted]:FOO_TOKEN" in raw.decode()
    assert raw.decode().count(INNOCENT) >= 2 * len(printed_forms(value)), "innocent text was deleted"
    assert nb["metadata"]["tags"] == ["a", "b"] and nb["cells"][0]["metadata"]["tags"] == ["parameters"]
    assert nb["cells"][0]["outputs"][4]["ename"] == "RuntimeError"


def test_a_url_password_is_masked_wherever_it_stands(tmp_path):
    redactor = Redactor(secret_env_values({"DATABASE_URL": "postgresql://u:p%40ss@h/db"}))
    text = redactor.text(
        "db postgresql://u:p%40ss@h/db, other redis://:hunter2@cache:6379/0 and mysql://a:b@c@d/e, "
        "decoded p@ss, email ana@example.com, https://example.com/a:b@c"
    )
    assert "postgresql://u:***@h/db" in text and "redis://:***@cache:6379/0" in text
    assert "mysql://a:***@d/e" in text  # a raw '@' in the password: masked up to the last one
    assert "p%40ss" not in text and "p@ss" not in text and "hunter2" not in text
    assert "ana@example.com" in text and "https://example.com/a:b@c" in text  # no userinfo there
    assert redactor.found == {"DATABASE_URL"}


ENV = {
    "PGPASSWORD": "pg-9f3k2",
    "MYSQL_PWD": "my-7q2w9",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "FOO_TOKEN": "foo-4r5t6",
    "dbPassword": "camel-1a2b",
    "api-key": "kebab-3c4d5e6f7g8h9i0j",
    "client_secret": "snake-5e6f",
    "BASIC_AUTH": "ana:pw-7g8h",
    "GH_PAT": "ghp_" + "A1b2C3d4" * 5,
    "MY_CUSTOM": "custom-0x9y",
    "DATABASE_URL": "postgresql://u:p%40ss@h/db",
    # innocent
    "PWD": "/home/ana/work",
    "OLDPWD": "/home/ana",
    "HOME": "/home/ana",
    "TOKENIZERS_PARALLELISM": "false",
    "PGPASSFILE": "/home/ana/.pgpass",
    "SSH_AUTH_SOCK": "/tmp/ssh-x/agent.1",
    "SORT_KEY": "timestamp",
    "PASSES": "three-passes",
    "AUTH_TYPE": "basic-auth",
    "PASSWORD_ENV": "PGPASSWORD",
    "FOO_TOKEN_SHORT_TOKEN": "abc",
    "ALTAKIT_SECRET_ENV": "MY_CUST*",
}


def test_env_secrets_by_name_pattern_and_value():
    found = secret_env_values(ENV)
    assert found == {
        "PGPASSWORD": "pg-9f3k2",
        "MYSQL_PWD": "my-7q2w9",
        "AWS_SECRET_ACCESS_KEY": ENV["AWS_SECRET_ACCESS_KEY"],
        "FOO_TOKEN": "foo-4r5t6",
        "dbPassword": "camel-1a2b",
        "api-key": ENV["api-key"],
        "client_secret": "snake-5e6f",
        "BASIC_AUTH": "ana:pw-7g8h",
        "GH_PAT": ENV["GH_PAT"],
        "MY_CUSTOM": "custom-0x9y",
        "DATABASE_URL": "p%40ss",
    }


SECRET_PARAMETERS = [
    "dbPassword", "apiToken", "pwd", "userPass", "password", "PASSWORD", "db_password", "DbPassword",
    "db_passwd", "passphrase", "clientSecret", "client_secret", "SECRET", "apiKey", "api_key", "APIKey",
    "apikey", "privateKey", "private_key", "credentials", "awsCredential", "creds", "auth", "basicAuth",
    "BASIC_AUTH", "github_token", "GITHUB_TOKEN", "authToken", "accessToken", "sessiontoken", "mysqlPwd",
    "db_pw", "jwt", "bearer", "sig", "api_token_value", "aws_secret_access_key", "AccessKey",
]  # fmt: skip
INNOCENT_PARAMETERS = [
    "passes", "n_passes", "bypass_cache", "passenger_count", "compass", "author", "authority", "auth_type",
    "tokenizer_name", "token_url", "password_env", "secret_name", "token_file", "password_length",
    "sort_key", "key", "max_tokens", "monkey", "keyboard_layout", "secretary", "pass_rate", "passthrough",
    "rows", "store_url",
]  # fmt: skip


@pytest.mark.parametrize("name", SECRET_PARAMETERS)
def test_secret_named_parameters_are_refused_whatever_their_case(name):
    for value in ("hunter2", 123456, ["x1", "x2"], {"v": "hunter2"}):
        with pytest.raises(ConfigError) as info:
            check_parameters({name: value})
        assert info.value.fields["parameter"] == name and "hunter2" not in info.value.message


@pytest.mark.parametrize("name", INNOCENT_PARAMETERS)
def test_innocent_parameters_pass(name):
    for value in ("timestamp", 3, True, ["a", "b"], {"n": "x"}):
        assert check_parameters({name: value}) == {name: value}


def test_binary_outputs_are_left_whole_and_text_is_still_redacted():
    png = base64.b64encode(b"\x89PNG" + bytes(range(256)) * 4).decode() + "abcd1234"
    bundle = {"image/png": png, "image/svg+xml": "<svg>abcd1234</svg>", "text/plain": "x abcd1234"}
    out = Redactor({"MYSQL_PWD": "abcd1234"}).value({"data": bundle})["data"]
    assert out["image/png"] == png  # a chance match inside base64 bytes would break the image
    assert (
        out["image/svg+xml"] == "<svg>[redacted]:MYSQL_PWD</svg>"
        and out["text/plain"] == "x [redacted]:MYSQL_PWD"
    )


def test_secret_assignments_and_presigned_urls_are_masked_innocent_ones_kept():
    text = Redactor({}).text(
        "get https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=9f8e7d&X-Amz-Expires=60\n"
        "jupyter http://127.0.0.1:8888/lab?token=c0ffee42\n"
        "Server=db;User Id=ana;Password=hunter2;Database=app\n"
        "password=s3cr3t passes=3 max_tokens=512 auth_type=basic sort_key=ts rows=2\n"
    )
    for secret in ("AKIA%2F1", "9f8e7d", "c0ffee42", "hunter2", "s3cr3t"):
        assert secret not in text
    assert "X-Amz-Signature=***" in text and "token=***" in text and ";Password=***;" in text
    assert "X-Amz-Expires=60" in text and "Database=app" in text
    assert "passes=3 max_tokens=512 auth_type=basic sort_key=ts rows=2" in text
