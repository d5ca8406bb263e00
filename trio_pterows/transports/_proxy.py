"""Opening a connection's stream through a proxy (any transport; extra ``[proxy]``).

HTTP CONNECT, SOCKS4(a) and SOCKS5(h) are spoken by python-socks' Trio backend; an
``https://`` proxy is an HTTP proxy reached over TLS (python-socks' ``proxy_ssl``).
For ``wss://`` the TLS to the server runs over the proxied stream, exactly as over a
direct TCP stream (the handshake happens on the first write, where the transport
reports certificate errors the same way).

Which proxy (the option, or the environment with ``proxy=True``) is decided by
:mod:`trio_pterows._proxy_url`, which has no I/O.

Credentials in a proxy URL are passed to the proxy and nowhere else: errors, logs and
reprs name the proxy as ``scheme://host:port``. A refusal (HTTP 407 / 403 or another
4xx, a SOCKS authentication failure, a SOCKS rule that forbids the connection) is a
:class:`ProxyError` with ``fatal = True``: another attempt cannot fix it. A proxy that is
down, times out, or cannot reach the server (HTTP 5xx, SOCKS "host unreachable") is a
non-fatal ``ProxyError`` -- an ``OSError``, retried like the server's own errors.
A SOCKS5 proxy that hangs up during the negotiation is taken as refusing: RFC 1929
has a failure status, but some proxies (pproxy) just close on wrong credentials.
"""

from __future__ import annotations

import ssl

import attrs
import trio

from .._proxy_url import ProxyURL, resolve_proxy
from ._stream import StreamTarget, open_stream

__all__ = ["ProxyError", "open_proxied_stream", "open_tunnel"]

#: SOCKS5 reply codes that another attempt cannot fix (RFC 1928 §6): connection not
#: allowed by the ruleset, command not supported, address type not supported.
_SOCKS5_FATAL = frozenset({0x02, 0x07, 0x08})
#: SOCKS4: the identd checks failed (0x5C, 0x5D); 0x5B "rejected or failed" is both.
_SOCKS4_FATAL = frozenset({0x5C, 0x5D})


class ProxyError(ConnectionError):
    """The proxy did not open a tunnel to the server.

    ``fatal`` is true for a refusal that another attempt cannot fix (authentication,
    a forbidding rule, a 4xx answer); the retry policy stops at once on those.
    ``status_code`` is the HTTP status or the SOCKS reply code, when there was one.
    The message names the proxy as ``scheme://host:port``, never its credentials.
    """

    def __init__(self, message: str, *, fatal: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.status_code = status_code


def _classify(proxy: ProxyURL, exc: Exception) -> ProxyError:
    """A python-socks error as a ProxyError that says whether retrying can help."""
    from python_socks import ProxyConnectionError, ProxyTimeoutError
    from python_socks import ProxyError as SocksError

    name = proxy.redacted
    if isinstance(exc, ProxyTimeoutError):
        return ProxyError(f"the proxy {name} timed out", fatal=False)
    if isinstance(exc, ProxyConnectionError):
        return ProxyError(f"cannot reach the proxy {name}: {exc.strerror}", fatal=False)
    if isinstance(exc, SocksError):
        code = exc.error_code
        text = str(exc.args[0]) if exc.args else "refused"
        if proxy.scheme in ("http", "https"):
            # No status: the proxy hung up or did not answer in HTTP (retried).
            fatal = code is not None and 400 <= code < 500 and code not in (408, 429)
        elif proxy.scheme.startswith("socks5"):
            # No reply code: an authentication failure, a malformed reply, or the proxy
            # hanging up during the negotiation -- which is how some proxies (pproxy)
            # refuse credentials instead of answering RFC 1929's failure status.
            fatal = code is None or code in _SOCKS5_FATAL
        else:
            fatal = code in _SOCKS4_FATAL
        return ProxyError(
            f"the proxy {name} refused the tunnel: {text}", fatal=fatal, status_code=code
        )
    cause = exc.__cause__
    if isinstance(exc, trio.BrokenResourceError) and isinstance(cause, ssl.SSLError):
        # TLS to an https:// proxy: a certificate that does not verify is as fatal as
        # the server's own; other TLS failures are retried.
        fatal = isinstance(cause, ssl.SSLCertVerificationError)
        detail = getattr(cause, "verify_message", None) or cause.reason or type(cause).__name__
        return ProxyError(f"TLS to the proxy {name} failed: {detail}", fatal=fatal)
    if isinstance(exc, ValueError):  # credentials python-socks cannot send
        return ProxyError(f"the proxy {name} cannot be used: {exc}", fatal=True)
    return ProxyError(f"the proxy {name} failed: {type(exc).__name__}", fatal=False)


async def open_proxied_stream(target: StreamTarget) -> trio.abc.Stream:
    """The stream for one attempt when the ``proxy`` option is set (see the module).

    ``proxy=True`` with nothing in the environment for this URL (or ``no_proxy``
    naming it) connects directly. A proxy URL that cannot be used is a fatal
    :class:`ProxyError`; see :func:`open_tunnel` for the rest.
    """
    assert target.proxy is not None
    assert target.proxy is not False
    try:
        proxy = resolve_proxy(
            target.proxy, secure=target.ssl_context is not None, host=target.host, port=target.port
        )
    except (TypeError, ValueError) as exc:  # already redacted by parse_proxy_url
        raise ProxyError(str(exc), fatal=True) from None
    if proxy is None:
        return await open_stream(attrs.evolve(target, proxy=None), None)
    return await open_tunnel(proxy, target.host, target.port, ssl_context=target.ssl_context)


async def open_tunnel(
    proxy: ProxyURL,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None,
    proxy_ssl_context: ssl.SSLContext | None = None,
) -> trio.abc.Stream:
    """A stream to ``host:port`` through ``proxy`` (TLS over it when ``ssl_context``).

    Raises :class:`ProxyError` (``fatal`` for refusals). Cancelled: whatever was
    opened is closed. The caller bounds the time.
    """
    try:
        from python_socks import ProxyType
        from python_socks.async_.trio.v2 import Proxy
    except ImportError:
        raise ProxyError(
            "proxy= needs python-socks: pip install 'trio-pterows[proxy]'", fatal=True
        ) from None
    scheme = proxy.scheme
    if scheme in ("http", "https"):
        kind = ProxyType.HTTP
    elif scheme.startswith("socks5"):
        kind = ProxyType.SOCKS5
    else:
        kind = ProxyType.SOCKS4
    tls_to_proxy = None
    if scheme == "https":
        tls_to_proxy = proxy_ssl_context or ssl.create_default_context()
    client = Proxy(
        kind,
        proxy.host,
        proxy.port,
        proxy.username,
        proxy.password,
        rdns=scheme in ("socks5h", "socks4a", "http", "https"),
        proxy_ssl=tls_to_proxy,
    )
    try:
        tunnel = await client.connect(host, port)
    except Exception as exc:  # python-socks' own ProxyError is not an OSError
        raise _classify(proxy, exc) from None
    stream: trio.abc.Stream = tunnel.trio_stream
    if ssl_context is None:
        return stream
    return trio.SSLStream(stream, ssl_context, server_hostname=host, https_compatible=True)
