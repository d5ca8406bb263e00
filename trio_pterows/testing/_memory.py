"""A WebSocket server over in-memory streams: no sockets, fully deterministic.

Real sockets and :func:`trio.testing.MockClock` (``autojump_clock``) do not mix: the
clock jumps while the kernel is still delivering bytes. Pass
``stream_opener=server.open_stream`` to :class:`~trio_pterows.AdvancedWebSocket` and
every byte moves through memory instead, so timing tests (backoff, heartbeat,
connection timeouts) run instantly and always the same way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

import trio
import trio.testing
import trio_websocket
from trio_websocket import ConnectionClosed, WebSocketConnection

__all__ = ["MemoryWebSocketServer", "echo_handler"]

Handler = Callable[[WebSocketConnection], Awaitable[None]]


async def echo_handler(conn: WebSocketConnection) -> None:
    """Send every message back."""
    while True:
        await conn.send_message(await conn.get_message())


class _Valve(trio.abc.Stream):
    """Passes bytes through until the server is blackholed; then swallows them."""

    def __init__(self, inner: trio.abc.Stream, server: MemoryWebSocketServer) -> None:
        self._inner = inner
        self._server = server
        #: Set when the client's side is gone (end of stream or a broken stream).
        self.eof = trio.Event()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._server.blackholed:
            await trio.lowlevel.checkpoint()
            return
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        while True:
            try:
                data = await self._inner.receive_some(max_bytes)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.eof.set()
                raise
            if not data:
                self.eof.set()
                return data
            if not self._server.blackholed:
                return data

    async def aclose(self) -> None:
        await self._inner.aclose()


class MemoryWebSocketServer:
    """Serve WebSocket connections over :func:`trio.testing.memory_stream_pair`.

    ::

        server = MemoryWebSocketServer(echo_handler)
        await nursery.start(server.run)
        async with AdvancedWebSocket(url="ws://memory/", stream_opener=server.open_stream) as ws:
            ...

    Knobs, settable at any moment: ``refuse`` (None, or an HTTP status to reject the
    handshake with; ``0`` makes the "TCP connect" itself fail with
    ConnectionRefusedError), ``handshake_delay`` (seconds before the server answers
    the upgrade), ``handler``, ``blackholed`` (True: the server side silently drops
    every byte both ways while the connection stays "open" — a half-open link; the
    connections it affects are not usable afterwards). Controls: :meth:`close_all`,
    :meth:`vanish`. Counters: ``accepted``, ``attempts``, ``handshaking`` and
    ``max_handshaking`` (handshakes in progress now, and the most ever at once).
    Cancelling the nursery that runs :meth:`run` ends every connection.
    """

    def __init__(self, handler: Handler = echo_handler) -> None:
        self.handler = handler
        self.refuse: int | None = None
        self.handshake_delay = 0.0
        self.blackholed = False
        #: Connections whose handshake completed, over the server's life.
        self.accepted = 0
        #: Stream-open attempts, refused ones included.
        self.attempts = 0
        #: Handshakes in progress now: from the stream's opening to the accept or
        #: the refusal (a client that gives up mid-handshake ends one too).
        self.handshaking = 0
        #: The most handshakes that were ever in progress at once.
        self.max_handshaking = 0
        #: Request paths seen, most recent last (bounded).
        self.paths: deque[str] = deque(maxlen=256)
        #: Handshake headers of the most recent requests (bounded).
        self.headers: deque[dict[str, str]] = deque(maxlen=256)
        self._live: dict[WebSocketConnection, trio.abc.Stream] = {}
        self._nursery: trio.Nursery | None = None

    @property
    def live(self) -> int:
        """Connections currently open."""
        return len(self._live)

    async def run(self, *, task_status: trio.TaskStatus[MemoryWebSocketServer]) -> None:
        """Serve until cancelled (use with ``nursery.start``)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started(self)
            await trio.sleep_forever()

    async def open_stream(self, url: str) -> trio.abc.Stream:
        """A ``stream_opener`` for :class:`~trio_pterows.AdvancedWebSocket`."""
        if self._nursery is None:
            raise RuntimeError("start the server first: await nursery.start(server.run)")
        self.attempts += 1
        await trio.lowlevel.checkpoint()
        if self.refuse == 0:
            raise ConnectionRefusedError("memory server refused the connection")
        client, server = trio.testing.memory_stream_pair()
        self._nursery.start_soon(self._serve, _Valve(server, self))
        return client

    async def _serve(self, stream: _Valve) -> None:
        async with trio.open_nursery() as nursery:
            accepted = trio.Event()

            async def give_up_if_the_client_leaves() -> None:
                # trio-websocket's server waits for a request for ever if the client
                # disappears mid-handshake: end that wait when the stream ends.
                await stream.eof.wait()
                if not accepted.is_set():
                    nursery.cancel_scope.cancel()

            nursery.start_soon(give_up_if_the_client_leaves)
            try:
                await self._converse(nursery, stream, accepted)
            except ConnectionClosed:
                pass  # the client went away
            finally:
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(stream)
                nursery.cancel_scope.cancel()

    async def _converse(self, nursery: trio.Nursery, stream: _Valve, accepted: trio.Event) -> None:
        self.handshaking += 1
        self.max_handshaking = max(self.max_handshaking, self.handshaking)
        try:
            request = await trio_websocket.wrap_server_stream(nursery, stream)
            self.paths.append(request.path)
            self.headers.append(
                {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
            )
            if self.handshake_delay:
                await trio.sleep(self.handshake_delay)
            if self.refuse is not None:
                await request.reject(self.refuse)
                return
            conn = await request.accept()
        finally:
            self.handshaking -= 1
        accepted.set()
        self.accepted += 1
        self._live[conn] = stream
        try:
            await self.handler(conn)
        finally:
            self._live.pop(conn, None)

    async def close_all(self, code: int = 1000, reason: str = "") -> None:
        """Close every live connection with a close handshake and ``code``."""
        for conn in list(self._live):
            with trio.move_on_after(1):
                await conn.aclose(code, reason)

    async def vanish(self) -> None:
        """Drop every live connection without a close frame (the peer is gone)."""
        for conn, stream in list(self._live.items()):
            self._live.pop(conn, None)
            await trio.aclose_forcefully(stream)
