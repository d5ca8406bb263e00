"""Opening a connection's byte stream, for any transport (internal).

:func:`open_stream` returns the stream a transport runs its handshake over: plain TCP,
TLS over TCP for ``wss://``, or whatever the ``stream_opener`` test hook returns
(``async (url) -> trio.abc.Stream``: memory streams in tests, unix sockets). A proxy
(the ``proxy`` option) plugs in here: :data:`PROXY_OPENER` names the module that opens
a tunnel through it (``transports/_proxy.py``, function ``open_proxied_stream``).
"""

from __future__ import annotations

import importlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

__all__ = ["StreamOpener", "StreamTarget", "open_stream"]

#: ``async (url) -> trio.abc.Stream``: how a connection's byte stream is opened.
StreamOpener = Callable[[str], Awaitable[trio.abc.Stream]]

#: Module and function that open a stream through a proxy.
PROXY_OPENER = ("trio_pterows.transports._proxy", "open_proxied_stream")


class ProxyUnavailable(RuntimeError):
    """``proxy`` is set but this build has no proxy support (fatal: no retry helps)."""

    fatal = True


@attrs.frozen(kw_only=True)
class StreamTarget:
    """Where one connection attempt goes."""

    url: str
    host: str
    port: int
    ssl_context: ssl.SSLContext | None
    proxy: str | bool | None = None

    @property
    def host_header(self) -> str:
        """The Host header: ``host[:port]`` (the port only when not the default)."""
        bracketed = f"[{self.host}]" if ":" in self.host else self.host
        default_port = 443 if self.ssl_context is not None else 80
        return bracketed if self.port == default_port else f"{bracketed}:{self.port}"


async def open_stream(target: StreamTarget, opener: StreamOpener | None) -> trio.abc.Stream:
    """Open the byte stream for ``target``; the caller bounds it with its timeout.

    Raises the stream's own errors (OSError, ssl.SSLError, a proxy's refusal).
    Cancellation: nothing is left open.
    """
    if opener is not None:
        return await opener(target.url)
    if target.proxy is not None and target.proxy is not False:
        open_proxied = _proxy_opener()
        stream: trio.abc.Stream = await open_proxied(target)
        return stream
    if target.ssl_context is None:
        return await trio.open_tcp_stream(target.host, target.port)
    return await trio.open_ssl_over_tcp_stream(
        target.host, target.port, ssl_context=target.ssl_context, https_compatible=True
    )


def _proxy_opener() -> Callable[[StreamTarget], Awaitable[Any]]:
    module_name, function = PROXY_OPENER
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ProxyUnavailable("proxy: this build of trio_pterows has no proxy support") from None
    opener: Callable[[StreamTarget], Awaitable[Any]] = getattr(module, function)
    return opener
