"""URL parsing and redaction (Sans-I/O, no trio import).

:func:`split_url` checks and splits a ws:// or wss:// URL; :func:`redact_url` is what
logs, errors and metrics show; ``repr_*`` are how :class:`WSConnectionOptions`'s repr
shows the fields that may carry credentials.
"""

from __future__ import annotations

import urllib.parse

__all__ = ["redact_url", "repr_headers", "repr_url", "repr_urls", "split_url"]


# ---------------------------------------------------------------------------- URLs


def split_url(url: str, *, option: str = "url") -> tuple[bool, str, int, str]:
    """Split a ws:// or wss:// URL into ``(secure, host, port, resource)``.

    ``resource`` is the path plus query string, as sent in the request line. The
    scheme is case-insensitive; whitespace anywhere in the URL is refused.
    """
    if not isinstance(url, str):
        raise TypeError(
            f"{option}: expected a ws:// or wss:// URL string, got {type(url).__name__}"
        )
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise ValueError(f"{option}: URL contains whitespace or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"{option}: invalid URL {redact_url(url)!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise ValueError(f"{option}: URL scheme must be ws:// or wss://, got {redact_url(url)!r}")
    if not host:
        raise ValueError(f"{option}: URL has no host: {redact_url(url)!r}")
    if port == 0:
        raise ValueError(f"{option}: port 0 is not a port to connect to: {redact_url(url)!r}")
    secure = scheme == "wss"
    if port is None:
        port = 443 if secure else 80
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    return secure, host, port, resource


def redact_url(url: object) -> str:
    """``url`` without credentials and query string, safe for logs and error messages."""
    text = str(url)
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "***" if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


# ------------------------------------------------------------------------ repr

#: Header names whose values are always credentials (lower case).
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
#: Any header whose name contains one of these (case-insensitive) is a credential too.
_SECRET_WORDS = ("token", "key", "secret")
_REDACTED = "***"


def repr_url(url: object) -> str:
    """``url`` for a repr: userinfo and every query value (and a fragment) replaced by
    ``***``; the query's names stay, so the repr still tells which URL it is."""
    if not isinstance(url, str):
        return repr(url)
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return repr("<unparseable URL>")
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{_REDACTED}@{netloc.rpartition('@')[2]}"
    query = "&".join(
        f"{name}={_REDACTED}" if sep else _REDACTED
        for name, sep, _ in (item.partition("=") for item in parts.query.split("&") if item)
    )
    fragment = _REDACTED if parts.fragment else ""
    return repr(urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, fragment)))


def _is_secret_header(name: str) -> bool:
    lower = name.lower()
    return lower in _SECRET_HEADERS or any(word in lower for word in _SECRET_WORDS)


def repr_headers(headers: tuple[tuple[str, str], ...]) -> str:
    return repr(
        tuple((name, _REDACTED if _is_secret_header(name) else value) for name, value in headers)
    )


def repr_urls(urls: tuple[str, ...]) -> str:
    shown = [repr_url(url) for url in urls]
    return f"({shown[0]},)" if len(shown) == 1 else f"({', '.join(shown)})"
