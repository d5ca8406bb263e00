"""The bridge to trio-websocket.

:class:`ManagedConnection` is a :class:`trio_websocket.WebSocketConnection` whose reader
task hands every complete message straight to the manager (``on_message``) instead of
into trio-websocket's internal channel: the manager's receive path runs in the reader
task, so a message costs no extra task hop between the socket and ``async for``.
It also reports pongs (for the protocol heartbeat) and writes that were cancelled
half-way (a partial frame cannot be taken back, so the connection must go).

This uses trio-websocket internals (``_reader_task``, ``_handle_*_event``, ``_send``);
the dependency is pinned below 0.13 and ``tests/test_transport_compat.py`` checks
that the hooks still exist.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import cast

import trio
import trio_websocket
import wsproto
import wsproto.utilities
from trio_websocket import ConnectionClosed, WebSocketConnection
from wsproto import ConnectionType, WSConnection
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.handshake import H11Handshake

__all__ = ["HandshakeFailed", "ManagedConnection", "StreamOpener", "open_connection"]

#: ``async (url) -> trio.abc.Stream``: how a connection's byte stream is opened.
StreamOpener = Callable[[str], Awaitable[trio.abc.Stream]]


class HandshakeFailed(ConnectionError):
    """The stream closed before the WebSocket opening handshake completed."""


_UNWATCHED_EVENT = trio.Event()
#: An Event that is already set: stands in for one that nobody will wait on again.
SET_EVENT = trio.Event()
SET_EVENT.set()
_UNUSED_CHANNEL = trio.open_memory_channel[str | bytes](0)
_UNUSED_CHANNEL[0].close()
_UNUSED_CHANNEL[1].close()


class _OpenedHandshake:
    """Stands in for wsproto's ``H11Handshake`` once the connection is open.

    ``WSConnection`` consults its handshake after the upgrade only to drain its
    (empty) event queue; the real one keeps an HTTP/1.1 parser, the request and a
    deque alive for the connection's whole life (about 1.5 KiB, measured).
    """

    __slots__ = ()

    def events(self) -> tuple[()]:
        return ()


_OPENED_HANDSHAKE = _OpenedHandshake()


class _Hooks:
    """ManagedConnection's own state, in one slotted object.

    trio-websocket's connection has 24 instance attributes; CPython shares the keys
    of instance dicts only up to 30, and seven more attributes of ours made every
    connection's ``__dict__`` a private 1.5 KiB table (measured: 296 B -> 1,584 B).
    """

    __slots__ = (
        "on_message",
        "on_pong",
        "on_reader_done",
        "on_write_interrupted",
        "reader_done",
        "reader_error",
        "ready",
    )

    def __init__(
        self,
        on_message: Callable[[str | bytes], Awaitable[None]],
        on_pong: Callable[[bytes], None],
        on_write_interrupted: Callable[[ManagedConnection], None],
        on_reader_done: Callable[[ManagedConnection], None] | None,
    ) -> None:
        self.on_message = on_message
        self.on_pong = on_pong
        self.on_write_interrupted = on_write_interrupted
        self.on_reader_done = on_reader_done
        self.ready = trio.Event()
        self.reader_done = trio.Event()
        self.reader_error: BaseException | None = None


class ManagedConnection(WebSocketConnection):
    """A client connection whose messages are delivered to a callback (internal)."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        *,
        host: str,
        path: str,
        subprotocols: tuple[str, ...] | None,
        extra_headers: list[tuple[bytes, bytes]],
        max_message_size: int,
        receive_buffer_size: int,
        on_message: Callable[[str | bytes], Awaitable[None]],
        on_pong: Callable[[bytes], None],
        on_write_interrupted: Callable[[ManagedConnection], None],
        on_reader_done: Callable[[ManagedConnection], None] | None = None,
    ) -> None:
        super().__init__(
            stream,
            WSConnection(ConnectionType.CLIENT),
            host=host,
            path=path,
            client_subprotocols=subprotocols,
            client_extra_headers=extra_headers,
            max_message_size=max_message_size,
            receive_buffer_size=receive_buffer_size,
        )
        # trio-websocket's own message channel is never used (messages go to
        # on_message): share one closed pair instead of a pair per connection.
        self._send_channel, self._recv_channel = _UNUSED_CHANNEL
        self._connection_proposal = None  # a server-side future; clients never use it
        # trio-websocket sets this test-only event and never waits on it: share one.
        self._for_testing_peer_closed_connection = _UNWATCHED_EVENT
        self._pw = _Hooks(on_message, on_pong, on_write_interrupted, on_reader_done)

    @property
    def pw_ready(self) -> trio.Event:
        """Set when the handshake completed or the reader stopped, whichever is first."""
        return self._pw.ready

    @property
    def pw_reader_done(self) -> trio.Event:
        """Set when the reader task has finished."""
        return self._pw.reader_done

    @property
    def pw_reader_error(self) -> BaseException | None:
        """Why the reader stopped, if it failed (rejected handshake, TLS, broken stream)."""
        return self._pw.reader_error

    @property
    def stream(self) -> trio.abc.Stream:
        """The underlying byte stream."""
        return self._stream

    async def get_message(self) -> str | bytes:
        """Not available: :class:`AdvancedWebSocket` receives every message itself.

        Iterate the manager (``async for message in ws``) instead.
        """
        raise RuntimeError(
            "this connection is managed by AdvancedWebSocket, which receives every message; "
            "use `async for message in ws` or ws.receive()"
        )

    async def pw_run_reader(self) -> None:
        """Run trio-websocket's reader; record (never raise) why it stopped."""
        pw = self._pw
        try:
            await self._reader_task()
        except Exception as exc:  # ConnectionRejected, protocol errors, broken streams
            pw.reader_error = exc
        finally:
            pw.ready.set()
            pw.reader_done.set()
            if pw.on_reader_done is not None:
                pw.on_reader_done(self)

    async def pw_send_ping(self, payload: bytes) -> None:
        """Send an RFC 6455 ping frame without waiting for its pong."""
        if self._close_reason:
            raise ConnectionClosed(self._close_reason)
        await self._send(Ping(payload=payload))

    # -- trio-websocket hooks --------------------------------------------------

    async def _handle_accept_connection_event(self, event: wsproto.events.AcceptConnection) -> None:
        await super()._handle_accept_connection_event(event)
        # Once upgraded, wsproto never touches its HTTP/1.1 handshake again; an idle
        # connection is cheaper without it (measured: about 1.5 KiB each).
        if self._wsproto.connection is not None:
            self._wsproto.handshake = cast("H11Handshake", _OPENED_HANDSHAKE)
        self._pw.ready.set()

    async def _handle_message_event(self, event: BytesMessage | TextMessage) -> None:
        self._message_size += len(event.data)
        self._message_parts.append(cast("bytes | str", event.data))
        if self._message_size > self._max_message_size:
            # Same behaviour as trio-websocket: close with 1009 and stop reading.
            err = f"Exceeded maximum message size: {self._max_message_size} bytes"
            self._message_size = 0
            self._message_parts = []
            self._close_reason = trio_websocket.CloseReason(1009, err)
            await self._send(CloseConnection(code=1009, reason=err))
            self._reader_running = False
        elif event.message_finished:
            parts = self._message_parts
            if len(parts) == 1:
                msg = parts[0]
            elif isinstance(event, BytesMessage):
                msg = b"".join(cast("list[bytes]", parts))
            else:
                msg = "".join(cast("list[str]", parts))
            self._message_size = 0
            self._message_parts = []
            await self._pw.on_message(msg)

    async def _handle_pong_event(self, event: wsproto.events.Pong) -> None:
        self._pw.on_pong(bytes(event.payload))
        await super()._handle_pong_event(event)

    async def _send(self, event: wsproto.events.Event) -> None:
        # Like trio-websocket's, but a write cancelled half-way is reported: the
        # stream may now hold a partial frame, so the manager drops the connection.
        # `async with lock` costs a scheduler pass of its own on top of send_all's;
        # taking a free lock without one keeps FIFO order (acquire_nowait refuses
        # while others wait) and halves the per-send overhead.
        lock = self._stream_lock
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        try:
            # While we waited for the lock the reader may have aborted the connection:
            # wsproto would refuse the event with LocalProtocolError.
            if self._close_reason is not None and not isinstance(event, CloseConnection):
                raise ConnectionClosed(self._close_reason)
            try:
                data = self._wsproto.send(event)
            except wsproto.utilities.LocalProtocolError:
                reason = self._close_reason or trio_websocket.CloseReason(1006, None)
                raise ConnectionClosed(reason) from None
            try:
                await self._stream.send_all(data)
            except trio.Cancelled:
                self._pw.on_write_interrupted(self)
                raise
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                if self._pw.reader_error is None and not self._open_handshake.is_set():
                    # The opening handshake's write is where TLS fails (unknown CA,
                    # wrong host name): keep that error, it decides whether to retry.
                    self._pw.reader_error = (
                        exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
                    )
                await self._abort_web_socket()
                assert self._close_reason is not None
                raise ConnectionClosed(self._close_reason) from None
        finally:
            lock.release()


def _check_opened(conn: ManagedConnection) -> None:
    if conn.pw_reader_error is not None:
        raise conn.pw_reader_error
    if not conn._open_handshake.is_set():
        raise HandshakeFailed("the connection closed during the opening handshake")


async def _default_stream_opener(
    host: str, port: int, ssl_context: ssl.SSLContext | None
) -> trio.abc.Stream:
    if ssl_context is None:
        return await trio.open_tcp_stream(host, port)
    return await trio.open_ssl_over_tcp_stream(
        host, port, ssl_context=ssl_context, https_compatible=True
    )


async def open_connection(
    nursery: trio.Nursery,
    url: str,
    *,
    host: str,
    port: int,
    resource: str,
    ssl_context: ssl.SSLContext | None,
    stream_opener: StreamOpener | None,
    subprotocols: tuple[str, ...] | None,
    headers: tuple[tuple[str, str], ...],
    max_message_size: int,
    receive_buffer_size: int,
    on_message: Callable[[str | bytes], Awaitable[None]],
    on_pong: Callable[[bytes], None],
    on_write_interrupted: Callable[[ManagedConnection], None],
    on_reader_done: Callable[[ManagedConnection], None] | None = None,
) -> ManagedConnection:
    """Open the stream, run the handshake, return the open connection.

    The reader task runs in ``nursery``. On failure the stream is closed and the
    error (ConnectionRejected, OSError, HandshakeFailed, ...) is raised; the caller
    bounds the whole thing with its own timeout and cancels ``nursery`` on failure.
    """
    if stream_opener is not None:
        stream = await stream_opener(url)
    else:
        stream = await _default_stream_opener(host, port, ssl_context)
    try:
        bracketed = f"[{host}]" if ":" in host else host
        default_port = 443 if ssl_context is not None else 80
        host_header = bracketed if port == default_port else f"{bracketed}:{port}"
        conn = ManagedConnection(
            stream,
            host=host_header,
            path=resource,
            subprotocols=subprotocols,
            extra_headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            max_message_size=max_message_size,
            receive_buffer_size=receive_buffer_size,
            on_message=on_message,
            on_pong=on_pong,
            on_write_interrupted=on_write_interrupted,
            on_reader_done=on_reader_done,
        )
        nursery.start_soon(conn.pw_run_reader)
        await conn.pw_ready.wait()
        _check_opened(conn)
        conn._pw.ready = SET_EVENT  # nobody waits on it again: let it go
    except BaseException:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)
        raise
    return conn
