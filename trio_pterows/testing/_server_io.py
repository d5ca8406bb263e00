"""TestServer's per-connection plumbing: the peer record, the stream it hands to
trio-websocket, and the pong filter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import final

import trio
from trio_websocket import WebSocketConnection

__all__ = ["GatedStream", "Peer", "strip_pong_frames"]

_PONG_OPCODE = 0xA


def strip_pong_frames(data: bytes) -> bytes:
    """Remove pong frames from ``data``, a run of whole frames the server sends.

    trio-websocket writes one event per ``send_all``, so a write is whole
    frames (or the HTTP handshake response, passed through). Anything that does
    not parse as whole frames is returned unchanged.
    """
    if data.startswith(b"HTTP/"):
        return data
    kept = bytearray()
    i, n = 0, len(data)
    while i < n:
        if n - i < 2:
            return data
        first, second = data[i], data[i + 1]
        length = second & 0x7F
        header = 2
        if length == 126:
            header = 4
            length = int.from_bytes(data[i + 2 : i + 4], "big")
        elif length == 127:
            header = 10
            length = int.from_bytes(data[i + 2 : i + 10], "big")
        if second & 0x80:
            header += 4
        end = i + header + length
        if end > n:
            return data
        if first & 0x0F != _PONG_OPCODE:
            kept += data[i:end]
        i = end
    return bytes(kept)


@final
class GatedStream(trio.abc.Stream):
    """The stream trio-websocket sees: every read and write first awaits ``wait()``
    (the server holds them while it is silent), and writes lose their pong frames
    while ``strip_pongs()`` is true."""

    def __init__(
        self,
        stream: trio.SocketStream,
        *,
        wait: Callable[[], Awaitable[None]],
        strip_pongs: Callable[[], bool],
    ) -> None:
        self._stream = stream
        self._wait = wait
        self._strip_pongs = strip_pongs

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._wait()
        payload = bytes(data)
        if self._strip_pongs():
            payload = strip_pong_frames(payload)
        if payload:
            await self._stream.send_all(payload)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        await self._wait()
        data = await self._stream.receive_some(max_bytes)
        # The server may have gone silent while we were blocked reading.
        await self._wait()
        return data

    async def aclose(self) -> None:
        await self._stream.aclose()

    def __repr__(self) -> str:
        try:
            host, port, *_ = self._stream.socket.getpeername()
        except OSError:
            return "<TestServer stream (closed)>"
        return f"<TestServer stream from {host}:{port}>"


@final
class Peer:
    """One TCP connection to the server, before and after its WebSocket handshake."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.connection: WebSocketConnection | None = None
        # Cancels everything of this peer (abort, restart).
        self.cancel_scope = trio.CancelScope()
        # Cancels only the handler (close_all), so the close handshake can follow.
        self.handler_scope = trio.CancelScope()
        self.close_with: tuple[int, str] | None = None
        # Closing bypasses stop_answering, or the close frame could never leave.
        self.released = False
