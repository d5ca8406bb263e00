"""The ``"trio-websocket"`` transport: trio-websocket's connection behind the seam.

The ONLY module that names trio-websocket or wsproto internals (``_reader_task``,
``_handle_*_event``, ``_send``, ``_close_reason``, ``_wsproto``, ...); the dependency is
pinned below 0.13 and ``tests/test_transport_trio_websocket.py`` checks that every hook
is still there.

What it adds to trio-websocket's ``WebSocketConnection``:

- The reader hands every complete message straight to ``handler.on_message`` instead of
  into trio-websocket's channel: the manager's receive path runs inline in the reader
  task (no task hop per message), and awaiting it is the socket's backpressure.
- Writes take a free stream lock without a scheduler pass of their own (FIFO kept), a
  write cancelled half-way is reported (``handler.on_write_interrupted``), and
  :meth:`~TrioWebSocketConnection.send_many` puts many frames in one ``send_all``.
- Every closing handshake is bounded by ``close_timeout``: ours, the peer's, and the one
  a protocol error starts (wsproto reports bad UTF-8, reserved bits, bad close codes as a
  close event with 1007 / 1002: this side then sends that close frame itself). After it
  the stream is closed whether or not the peer hangs up.
- Handshake refusals are :class:`HandshakeError` naming their cause (the HTTP status, a
  bad ``Sec-WebSocket-Accept``, an unrequested subprotocol or extension); a refusal's
  body is kept only up to :data:`MAX_REJECTION_BODY` bytes and reading stops there.
- Memory: an idle connection drops wsproto's HTTP/1.1 handshake, shares one closed
  message channel and one never-watched event, and keeps its own state in one slotted
  object (trio-websocket's 24 attributes plus ours stay within CPython's shared-key
  instance dicts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import trio
import trio_websocket
import wsproto
import wsproto.utilities
from trio_websocket import CloseReason, ConnectionClosed, ConnectionRejected, WebSocketConnection
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState as WsState
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    TextMessage,
)
from wsproto.handshake import H11Handshake

from .._util import SET_EVENT
from ._base import (
    MAX_REJECTION_BODY,
    CloseInfo,
    Frame,
    HandshakeError,
    HandshakeParams,
    Transport,
    TransportClosed,
    TransportHandler,
)

__all__ = ["TRANSPORT", "TrioWebSocketConnection", "TrioWebSocketTransport"]

NAME = "trio-websocket"

_UNWATCHED_EVENT = trio.Event()
_UNUSED_CHANNEL = trio.open_memory_channel[str | bytes](0)
_UNUSED_CHANNEL[0].close()
_UNUSED_CHANNEL[1].close()
#: Close reasons are at most 123 bytes (RFC 6455 5.5: control frames carry <= 125).
_MAX_REASON = 120


class _Closed(ConnectionClosed, TransportClosed):
    """Both trio-websocket's ConnectionClosed (its reader and aclose catch that) and
    the seam's TransportClosed (what the manager catches)."""

    def __init__(self, reason: CloseReason | None) -> None:
        ConnectionClosed.__init__(self, reason)
        self.info = None if reason is None else CloseInfo(reason.code, reason.reason or "", False)


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


class _ClientWS(WSConnection):
    """wsproto's client connection, remembering why the server's upgrade was refused
    (wsproto raises it as a RemoteProtocolError whose hint the client cannot send)."""

    handshake_error: str | None = None

    def receive_data(self, data: bytes | None) -> None:
        if self.connection is not None:
            super().receive_data(data)
            return
        try:
            super().receive_data(data)
        except wsproto.utilities.RemoteProtocolError as exc:
            self.handshake_error = str(exc)
            raise


class _Hooks:
    """The connection's own state, in one slotted object.

    trio-websocket's connection has 24 instance attributes; CPython shares the keys
    of instance dicts only up to 30, and more attributes of ours made every
    connection's ``__dict__`` a private 1.5 KiB table (measured: 296 B -> 1,584 B).
    """

    __slots__ = (
        "close_timeout",
        "closing",
        "ended",
        "handler",
        "local_close",
        "nursery",
        "on_message",
        "reader_error",
        "ready",
    )

    def __init__(self, handler: TransportHandler, nursery: trio.Nursery, close_timeout: float):
        self.handler = handler
        #: The receive path, looked up once (the reader calls it for every message).
        self.on_message = handler.on_message
        self.nursery = nursery
        self.close_timeout = close_timeout
        self.ready = trio.Event()
        self.ended = trio.Event()
        self.reader_error: BaseException | None = None
        #: (code, reason) of a close this side started.
        self.local_close: tuple[int, str] | None = None
        self.closing = False  # the close timer runs


class TrioWebSocketConnection(WebSocketConnection):
    """A client connection whose reader runs the manager's receive path (internal)."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        params: HandshakeParams,
        handler: TransportHandler,
        nursery: trio.Nursery,
    ) -> None:
        super().__init__(
            stream,
            _ClientWS(ConnectionType.CLIENT),
            host=params.host_header,
            path=params.resource,
            client_subprotocols=params.subprotocols,
            client_extra_headers=[
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in params.headers
            ],
            max_message_size=params.max_message_size,
            receive_buffer_size=params.receive_buffer_size,
        )
        # trio-websocket's own message channel is never used (messages go to
        # on_message): share one closed pair instead of a pair per connection.
        self._send_channel, self._recv_channel = _UNUSED_CHANNEL
        self._connection_proposal = None  # a server-side future; clients never use it
        # trio-websocket sets this test-only event and never waits on it: share one.
        self._for_testing_peer_closed_connection = _UNWATCHED_EVENT
        self._pw = _Hooks(handler, nursery, params.close_timeout)

    # -- the seam ----------------------------------------------------------------

    @property
    def transport_name(self) -> str:
        return NAME

    @property
    def extensions(self) -> tuple[str, ...]:
        return ()  # trio-websocket negotiates no extensions

    @property
    def stream(self) -> trio.abc.Stream:
        return self._stream

    @property
    def ended(self) -> trio.Event:
        return self._pw.ended

    @property
    def close_info(self) -> CloseInfo | None:
        reason = self._close_reason
        if reason is None:
            return None
        clean = self._wsproto.state is WsState.CLOSED
        local = self._pw.local_close
        if local is not None:
            return CloseInfo(local[0], local[1], clean and self._close_handshake.is_set())
        code, text = reason.code, reason.reason or ""
        if code == 1006:
            return CloseInfo(1006, text or "connection lost (no close frame)", False)
        return CloseInfo(code, text, clean)

    async def get_message(self) -> str | bytes:
        """Not available: the manager receives every message itself."""
        raise RuntimeError(
            "this connection is managed by AdvancedWebSocket, which receives every message; "
            "use `async for message in ws` or ws.receive()"
        )

    async def send(self, frame: Frame) -> None:
        if self._close_reason:
            raise _Closed(self._close_reason)
        await self._send(
            TextMessage(data=frame) if isinstance(frame, str) else BytesMessage(data=frame)
        )

    async def send_many(self, frames: Sequence[Frame]) -> None:
        if self._close_reason:
            raise _Closed(self._close_reason)
        events = [
            TextMessage(data=f) if isinstance(f, str) else BytesMessage(data=f) for f in frames
        ]
        await self._send(None, events)

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping frame without waiting for its pong (``handler.on_pong`` gets it)."""
        if self._close_reason:
            raise _Closed(self._close_reason)
        await self._send(Ping(payload=payload or b""))

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Send our close frame and wait for the peer's, at most ``close_timeout``;
        then close the stream. Cancelled: the stream is closed at once."""
        pw = self._pw
        if pw.local_close is None and self._close_reason is None:
            pw.local_close = (code, reason or "")
        try:
            with trio.move_on_after(pw.close_timeout):
                await super().aclose(code, reason)
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(self._stream)

    # -- the reader ----------------------------------------------------------------

    async def run_reader(self) -> None:
        """Run trio-websocket's reader; record (never raise) why it stopped."""
        pw = self._pw
        try:
            await self._reader_task()
        except Exception as exc:  # rejected handshake, TLS, broken streams
            pw.reader_error = exc
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(self._stream)
            if self._close_reason is None:
                self._close_reason = CloseReason(1006, None)
            pw.ready.set()
            pw.ended.set()
            pw.handler.on_end(self)

    def check_opened(self) -> None:
        """Raise why the handshake failed, if it did (HandshakeError names the cause)."""
        error = self._pw.reader_error
        if isinstance(error, ConnectionRejected):
            body = error.body or b""
            raise HandshakeError(
                f"the server refused the WebSocket upgrade: HTTP {error.status_code}"
                + (f" ({body[:200]!r})" if body else ""),
                status_code=error.status_code,
                body=body[:MAX_REJECTION_BODY],
            ) from None
        refused = cast("_ClientWS", self._wsproto).handshake_error
        if refused is not None:
            raise HandshakeError(f"bad WebSocket upgrade response: {_cause(refused)}") from None
        if error is not None:
            raise error
        if not self._open_handshake.is_set():
            raise HandshakeError("the connection closed during the opening handshake")

    def _start_close_timer(self) -> None:
        pw = self._pw
        if not pw.closing and not pw.ended.is_set():
            pw.closing = True
            pw.nursery.start_soon(self._close_after_timeout)

    async def _close_after_timeout(self) -> None:
        pw = self._pw
        with trio.move_on_after(pw.close_timeout):
            await pw.ended.wait()
        if not pw.ended.is_set():  # the peer never hung up
            await trio.aclose_forcefully(self._stream)

    # -- trio-websocket hooks --------------------------------------------------

    async def _handle_accept_connection_event(self, event: wsproto.events.AcceptConnection) -> None:
        await super()._handle_accept_connection_event(event)
        # Once upgraded, wsproto never touches its HTTP/1.1 handshake again; an idle
        # connection is cheaper without it (measured: about 1.5 KiB each).
        if self._wsproto.connection is not None:
            self._wsproto.handshake = cast("H11Handshake", _OPENED_HANDSHAKE)
        self._pw.ready.set()

    async def _handle_reject_data_event(self, event: RejectData) -> None:
        # A refusal's body is read only up to MAX_REJECTION_BODY, whatever its length.
        self._reject_body += event.data
        if event.body_finished or len(self._reject_body) >= MAX_REJECTION_BODY:
            raise ConnectionRejected(
                self._reject_status, self._reject_headers, body=self._reject_body
            )

    async def _handle_close_connection_event(self, event: CloseConnection) -> None:
        if self._wsproto.state is WsState.OPEN:
            # Not the peer's close frame: wsproto reports a protocol error (bad UTF-8,
            # reserved bits, a bad close code) this way. Send that close frame.
            reason = (event.reason or "")[:_MAX_REASON]
            self._close_reason = CloseReason(event.code, reason or None)
            try:
                await self._send(CloseConnection(code=event.code, reason=reason))
            except ConnectionClosed:
                pass
        await super()._handle_close_connection_event(event)
        self._start_close_timer()

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
            self._reader_running = False  # after the next read (the peer's answer)
            self._start_close_timer()
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
        # trio-websocket's own ping bookkeeping is never used (ping() does not wait).
        self._pw.handler.on_pong(bytes(event.payload))

    async def _send(
        self, event: wsproto.events.Event | None, batch: Sequence[wsproto.events.Event] = ()
    ) -> None:
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
                raise _Closed(self._close_reason)
            if isinstance(event, RejectConnection):
                # wsproto's hint after a bad upgrade response; a client cannot send it.
                raise _Closed(CloseReason(1006, "bad upgrade response"))
            try:
                if event is not None:
                    data = self._wsproto.send(event)
                else:
                    data = b"".join([self._wsproto.send(e) for e in batch])
            except wsproto.utilities.LocalProtocolError:
                raise _Closed(self._close_reason or CloseReason(1006, None)) from None
            try:
                await self._stream.send_all(data)
            except trio.Cancelled:
                self._pw.handler.on_write_interrupted(self)
                raise
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                pw = self._pw
                if pw.reader_error is None and not self._open_handshake.is_set():
                    # The opening handshake's write is where TLS fails (unknown CA,
                    # wrong host name): keep that error, it decides whether to retry.
                    pw.reader_error = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
                await self._abort_web_socket()
                raise _Closed(self._close_reason) from None
        finally:
            lock.release()


def _cause(wsproto_message: str) -> str:
    """wsproto's reason for refusing an upgrade response, in the protocol's terms."""
    if wsproto_message == "Bad accept token":
        return "wrong Sec-WebSocket-Accept (it does not answer our Sec-WebSocket-Key)"
    for what in ("subprotocol", "extension"):
        prefix = f"unrecognized {what} "
        if wsproto_message.startswith(prefix):
            name = wsproto_message[len(prefix) :]
            return f"the server chose the {what} {name!r}, which we did not offer"
    return wsproto_message


class TrioWebSocketTransport:
    """The ``"trio-websocket"`` engine."""

    name = NAME

    async def open(
        self,
        nursery: trio.Nursery,
        stream: trio.abc.Stream,
        params: HandshakeParams,
        handler: TransportHandler,
    ) -> TrioWebSocketConnection:
        """Run the handshake over ``stream``; the reader runs in ``nursery``.

        On failure (or cancellation) the stream is closed and the error raised."""
        if params.compression is not None:
            await trio.aclose_forcefully(stream)
            raise ValueError("compression: the trio-websocket transport has none")
        try:
            conn = TrioWebSocketConnection(stream, params, handler, nursery)
            nursery.start_soon(conn.run_reader)
            await conn._pw.ready.wait()
            conn.check_opened()
            conn._pw.ready = SET_EVENT  # nobody waits on it again: let it go
        except BaseException:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
            raise
        return conn


TRANSPORT: Transport = TrioWebSocketTransport()
