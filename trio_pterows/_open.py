"""``open_websocket``: enter an :class:`AdvancedWebSocket` and connect, in one ``async with``."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from ._manager import AdvancedWebSocket
from ._options import WSConnectionOptions
from .transports._stream import StreamOpener

__all__ = ["open_websocket"]


class open_websocket:
    """``async with open_websocket(url, **options) as ws:`` — enter and connect.

    Like ``async with AdvancedWebSocket(...)`` followed by ``await ws.connect()``;
    a :class:`ConnectionFailed` from that first connect is raised by ``async with``.
    """

    def __init__(
        self,
        url: str | None = None,
        /,
        *,
        options: WSConnectionOptions | None = None,
        stream_opener: StreamOpener | None = None,
        **kwargs: Any,
    ) -> None:
        if options is None:
            if url is None:
                raise TypeError("open_websocket: pass a url or options=")
            options = WSConnectionOptions(url=url, **kwargs)
        else:
            changes = dict(kwargs)
            if url is not None:
                changes["url"] = url
            options = options.evolve(**changes) if changes else options
        self._ws = AdvancedWebSocket(options, stream_opener=stream_opener)

    async def __aenter__(self) -> AdvancedWebSocket:
        ws = await self._ws.__aenter__()
        try:
            await ws.connect()
        except BaseException as exc:
            await ws.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return ws

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return await self._ws.__aexit__(exc_type, exc, tb)
