"""What credentials look like: secret names in any case style, passwords in URLs, URLs with them masked.

Store URLs never carry credentials (:func:`check_store_url` refuses them, and
its message shows the URL masked); ``altakit run`` refuses secret-looking
parameters and redacts secret values (:mod:`altakit.runs.secrets`) with the same
judgement of names (:func:`secret_name`).

How a name is judged: it is split into words whatever its case style
(``dbPassword``, ``db_password``, ``db-password``, ``DB_PASSWORD``, ``APIKey``
all give the same words). Then

- ``password``, ``passwd``, ``passphrase``, ``secret``, ``credential``, ``apikey``,
  ``privatekey``, ``accesskey``, ``secretkey`` anywhere in the joined words mark a
  secret (``PGPASSWORD``, ``clientSecret``, ``aws_secret_access_key``);
- ``token``, ``pwd``, ``pw``, ``pass``, ``auth``, ``authorization``, ``creds``,
  ``bearer``, ``jwt``, ``sig``, ``signature`` mark a secret as the *last* word
  (``apiToken``, ``MYSQL_PWD``, ``userPass``, ``BASIC_AUTH``), and so does a last
  word ending in ``token`` or ``pwd`` (``githubtoken``); ``auth_type``,
  ``token_url``, ``passes``, ``bypass_cache``, ``author``, ``tokenizer_name``
  stay innocent: ``pass`` and ``auth`` are whole words only;
- a last word that says *about* the secret (``password_env``, ``secret_name``,
  ``token_file``, ``password_length`` …, :data:`QUALIFIERS`) leaves the name
  innocent: it names where the secret is, not the secret — the way secrets should
  travel; trailing ``value``/``b64``/``header`` … words are looked through
  (``api_token_value`` is a secret);
- ``key``/``keys``/``tokens`` (``sort_key``, ``max_tokens``) are ``"key"``: a
  secret only when the value looks like a credential.

Example:
    >>> [secret_name(n) for n in ("dbPassword", "MYSQL_PWD", "userPass", "apiToken", "PGPASSWORD")]
    ['secret', 'secret', 'secret', 'secret', 'secret']
    >>> [secret_name(n) for n in ("passes", "bypass_cache", "password_env", "author", "sort_key")]
    [None, None, None, None, 'key']
    >>> mask_url("postgresql://ana:s3cr3t@db:5432/app?sslmode=require&password=x")
    'postgresql://ana:***@db:5432/app?sslmode=require&password=***'
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import parse_qsl

from altakit.errors import ConfigError

#: Joined-word fragments that mark a secret wherever they occur.
STRONG = ("password", "passwd", "passphrase", "secret", "credential", "apikey", "privatekey", "accesskey")
#: Words that mark a secret as a name's last word.
LAST_WORDS = frozenset(
    {"token", "pwd", "pw", "pass", "auth", "authorization", "creds", "bearer", "jwt", "sig", "signature"}
)
#: Endings of a last word that mark a secret (``githubtoken``, ``mysqlpwd``).
LAST_ENDINGS = ("token", "pwd")
#: Words that mark a secret only when the value looks like a credential.
WEAK_WORDS = frozenset({"key", "keys", "tokens"})
#: Last words that name *about* a secret, not the secret: the name is innocent.
QUALIFIERS = frozenset(
    {
        "name", "names", "env", "envvar", "var", "variable", "file", "files", "path", "dir", "length",
        "len", "policy", "type", "types", "hint", "prompt", "field", "fields", "column", "col", "count",
        "min", "max", "url", "uri", "endpoint", "mode", "required", "enabled", "expiry", "expires", "ttl",
        "timeout", "format", "scope", "scopes", "provider", "method", "kind", "rotation", "source",
    }
)  # fmt: skip
#: Trailing words looked through (``api_token_value`` is judged as ``api_token``).
NEUTRAL = frozenset(
    {"value", "val", "str", "string", "b64", "base64", "hex", "raw", "text", "header", "headers"}
)
#: Words never read as secrets although they hold a marker.
INNOCENT = frozenset({"secretary", "secretaries", "secretariat"})
#: What a masked secret becomes in a URL.
MASK = "***"

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_URL_START = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://")
#: A URL's ``user:password@`` in running text (the password group is masked).
URL_PASSWORD = re.compile(
    r"(?P<pre>\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s/?#@:\"'<>\\]*:)(?P<pw>[^\s/?#\"'<>\\]*)@(?=[^\s@])"
)
_WHERE = {
    "s3": "set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment, pass profile=, "
    "or mount a secret folder and pass credentials_dir= (storage options of open_store)",
    "jvm": "put them in the Hadoop configuration: hadoop_conf={...} of open_store (fs.s3a.access.key / "
    "fs.s3a.secret.key, fs.ftp.password.<host> …), core-site.xml, a credential provider, or Kerberos",
    "file": "a local folder needs no credentials: use file:///absolute/path or a plain path",
}


def words(name: str) -> list[str]:
    """The lower-case words of ``name`` in any case style.

    Example:
        >>> words("dbPassword"), words("AWS_SECRET_ACCESS_KEY"), words("APIKey"), words("user-pass.2")
        (['db', 'password'], ['aws', 'secret', 'access', 'key'], ['api', 'key'], ['user', 'pass', '2'])
    """
    return [w.lower() for w in _WORDS.findall(name)]


def secret_name(name: str) -> Literal["secret", "key"] | None:
    """``"secret"`` if ``name`` names a secret, ``"key"`` if it does when its value looks like one, else None.

    See the module docstring for the rules.

    Example:
        >>> secret_name("clientSecret"), secret_name("token_url"), secret_name("service_key")
        ('secret', None, 'key')
    """
    ws = [w for w in words(name) if w not in INNOCENT]
    while ws and (ws[-1] in NEUTRAL or ws[-1].isdigit()) and len(ws) > 1:
        ws.pop()
    if not ws or (len(ws) > 1 and ws[-1] in QUALIFIERS):
        return None
    last = ws[-1]
    if any(s in "".join(ws) for s in STRONG) or last in LAST_WORDS or last.endswith(LAST_ENDINGS):
        return "secret"
    if last in WEAK_WORDS or any(w in WEAK_WORDS for w in ws) or last.endswith("key"):
        return "key"
    return None


def mask_url(url: str, *, user: bool = False) -> str:
    """``url`` with its password, the values of secret-named query parameters and its fragment masked.

    Args:
        url: Any URL (``jvm+hdfs://…`` too); text that is no URL comes back unchanged.
        user: Mask the whole ``user:password@`` (a user name alone too: a token is often written as the user);
            by default only the password is masked.

    Example:
        >>> mask_url("jvm+hdfs://ana:pw@nn:8020/lake"), mask_url("s3://b/p?aws_secret_access_key=abc")
        ('jvm+hdfs://ana:***@nn:8020/lake', 's3://b/p?aws_secret_access_key=***')
        >>> mask_url("https://ghp_abc@github.com/x", user=True), mask_url("s3://AKIA:pw@b/x", user=True)
        ('https://***@github.com/x', 's3://***@b/x')
    """
    head, auth, rest = split_authority(url)
    if auth is None:
        return url
    userinfo, at, host = auth.rpartition("@")
    if at:
        name, colon, _ = userinfo.partition(":")
        auth = f"{MASK}@{host}" if user else (f"{name}:{MASK}@{host}" if colon else auth)
    path, hashmark, _ = rest.partition("#")
    path, qmark, query = path.partition("?")
    if qmark:
        query = "&".join(_mask_pair(p) for p in query.split("&"))
    return f"{head}{auth}{path}{qmark}{query}{hashmark}{MASK if hashmark else ''}"


def _mask_pair(pair: str) -> str:
    key, eq, value = pair.partition("=")
    return f"{key}={MASK}" if eq and value and secret_name(key) is not None else pair


def split_authority(url: str) -> tuple[str, str | None, str]:
    """``(scheme://, authority, rest)`` of ``url`` (``jvm+`` kept in the head); authority None if no URL.

    Example:
        >>> split_authority("jvm+hdfs://u@nn/x?y")
        ('jvm+hdfs://', 'u@nn', '/x?y')
    """
    m = _URL_START.match(url)
    if not m:
        return url, None, ""
    after = url[m.end() :]
    end = min((i for i in (after.find(c) for c in "/?#") if i >= 0), default=len(after))
    return url[: m.end()], after[:end], after[end:]


def check_store_url(url: str, scheme: str) -> None:
    """Refuse a store URL that carries credentials (for s3/jvm: any query or fragment), never echoing them.

    Args:
        url: The store URL as given.
        scheme: The backend it is meant for (``file``, ``s3``, ``jvm`` …): says where credentials go instead.

    Raises:
        ConfigError: A password (or, outside ``jvm+``, any user) before ``@``, a secret-named query
            parameter, or a query or fragment where the backend takes none. The message, the hint and
            ``fields['url']`` show the URL masked (:func:`mask_url`).

    Example:
        >>> check_store_url("s3://bucket/team", "s3")
        >>> check_store_url("s3://bucket/team?aws_secret_access_key=wJalr", "s3")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        altakit.errors.ConfigError: credentials in store URLs are refused: '...?aws_secret_access_key=***' ...
    """
    _, auth, rest = split_authority(url)
    if auth is None:
        return
    scheme = scheme.lower()
    masked = mask_url(url, user=True)
    where = _WHERE.get(scheme, "pass them as storage options or through the environment, never in the URL")
    userinfo, at, _ = auth.rpartition("@")
    query = rest.partition("#")[0].partition("?")[2]
    secret_query = [k for k, _ in parse_qsl(query, keep_blank_values=True) if secret_name(k) is not None]
    if (at and (":" in userinfo or scheme != "jvm")) or secret_query:
        what = "a user and password" if at and ":" in userinfo else ("a user" if at else "a secret parameter")
        raise ConfigError(
            f"credentials in store URLs are refused: {masked!r} holds {what}",
            url=masked,
            hint=f"never write secrets into URLs; {where}",
        )
    if scheme in ("s3", "jvm") and ("?" in rest or "#" in rest):
        bare = masked.split("?")[0].split("#")[0]  # an innocent-looking name may still hold a secret value
        raise ConfigError(
            f"store URL {bare!r} has a query or fragment",
            url=bare,
            hint="use s3://bucket/prefix or jvm+<hadoop uri>; options go to open_store as keyword arguments",
        )
