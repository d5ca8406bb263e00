"""Proxy URLs and the environment's proxy settings (pure: no I/O, no trio).

``proxy=True`` reads the environment as curl does: ``https_proxy`` / ``HTTPS_PROXY``
for wss, ``http_proxy`` (lower case only) for ws, then ``all_proxy`` / ``ALL_PROXY``;
``no_proxy`` / ``NO_PROXY`` (``*``, host names matching as domain suffixes, ``host:port``
entries) is matched by the stdlib's ``urllib.request.proxy_bypass_environment``.
A proxy URL's credentials never appear in errors or reprs.
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping

import attrs

__all__ = [
    "PROXY_SCHEMES",
    "ProxyURL",
    "parse_proxy_url",
    "proxy_from_environment",
    "resolve_proxy",
]

#: Supported schemes and their default ports (curl's: 1080, and 443 for https).
_DEFAULT_PORTS = {"http": 1080, "https": 443, "socks4": 1080, "socks4a": 1080}
_DEFAULT_PORTS.update({"socks5": 1080, "socks5h": 1080})
PROXY_SCHEMES = tuple(_DEFAULT_PORTS)

#: The stdlib's no_proxy matcher (``*``, domain suffixes, ``host:port``), undocumented
#: but in every Python 3 (``urllib.request.proxy_bypass`` calls it on Linux).
_proxy_bypass: Callable[[str, dict[str, str]], bool] = getattr(  # noqa: B009
    urllib.request, "proxy_bypass_environment"
)


@attrs.frozen(repr=False)
class ProxyURL:
    """A parsed proxy URL. ``repr()`` and ``str()`` never show the credentials."""

    scheme: str
    host: str
    port: int
    username: str | None = attrs.field(default=None, eq=False)
    password: str | None = attrs.field(default=None, eq=False)

    @property
    def redacted(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        auth = "***@" if self.username is not None else ""
        return f"{self.scheme}://{auth}{host}:{self.port}"

    def __repr__(self) -> str:
        return f"ProxyURL({self.redacted!r})"

    __str__ = __repr__


def parse_proxy_url(value: str) -> ProxyURL:
    """Parse and check a proxy URL; ValueError naming ``proxy`` (never the credentials)."""
    if not isinstance(value, str):
        raise TypeError(f"proxy must be None, True or a URL string, not {type(value).__name__}")
    if "://" not in value:
        value = "http://" + value  # as curl reads "host:port"
    parsed = urllib.parse.urlsplit(value)
    scheme = parsed.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        known = ", ".join(f"{s}://" for s in _DEFAULT_PORTS)
        raise ValueError(f"proxy: unsupported scheme {scheme!r}; use one of {known}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        raise ValueError(f"proxy: the port of the {scheme}:// proxy URL is invalid") from None
    if not host:
        raise ValueError(f"proxy: the {scheme}:// proxy URL has no host")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        raise ValueError("proxy: a proxy URL is scheme://[user:password@]host[:port] only")
    username = password = None
    if parsed.username is not None:
        username = urllib.parse.unquote(parsed.username)
        password = urllib.parse.unquote(parsed.password or "")
    return ProxyURL(scheme, host, port or _DEFAULT_PORTS[scheme], username, password)


def proxy_from_environment(
    *, secure: bool, host: str, port: int, environ: Mapping[str, str] | None = None
) -> str | None:
    """The proxy curl would use for ``host:port`` (None: connect directly)."""
    env = os.environ if environ is None else environ
    names = ("https_proxy", "HTTPS_PROXY") if secure else ("http_proxy",)
    proxy = next((env[n] for n in (*names, "all_proxy", "ALL_PROXY") if env.get(n)), None)
    if proxy is None:
        return None
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY")
    if no_proxy:
        no_proxy = ",".join(part.strip() for part in no_proxy.split(","))
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if _proxy_bypass(target, {"no": no_proxy}):
            return None
    return proxy


def resolve_proxy(
    option: str | bool | None,
    *,
    secure: bool,
    host: str,
    port: int,
    environ: Mapping[str, str] | None = None,
) -> ProxyURL | None:
    """The proxy to use for one attempt, from the ``proxy`` option."""
    if option is None or option is False:
        return None
    if option is True:
        found = proxy_from_environment(secure=secure, host=host, port=port, environ=environ)
        return None if found is None else parse_proxy_url(found)
    return parse_proxy_url(option)
