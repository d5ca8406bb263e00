"""The transport seam: the one small interface the manager talks to.

A *transport* turns an open byte stream into a WebSocket connection: it runs the opening
handshake, then one reader task that parses frames and runs the manager's receive path
inline (no task hop per message), and it writes frames, pings and the closing handshake.
Everything engine-specific (trio-websocket / wsproto, websockets' Sans-I/O protocol) lives
behind it, in one module per engine; the manager never imports an engine.

Contract, for every transport:

- ``await transport.open(nursery, stream, params, handler)`` runs the handshake over
  ``stream`` and returns a :class:`TransportConnection` once it is open; the reader runs in
  ``nursery``. On failure it closes ``stream`` and raises :class:`HandshakeError` (the
  cause named: the HTTP status, a wrong ``Sec-WebSocket-Accept``, an unrequested
  subprotocol or extension) or the stream's own error (``OSError``, ``ssl.SSLError``,
  ``trio.BrokenResourceError``). A refusal's body is read only up to
  :data:`MAX_REJECTION_BODY` bytes. The caller bounds the whole call with its own timeout.
- The reader calls ``handler.on_message(data)`` for every complete message, in order,
  awaiting it (that is how backpressure reaches the socket), ``handler.on_pong(payload)``
  for every pong, and ``handler.on_end(conn)`` exactly once when it stops, whatever the
  reason, after :attr:`TransportConnection.close_info` is final.
- Closing is always bounded by ``params.close_timeout``: after this side sent a close
  frame (``aclose``), after the peer's close frame, after a protocol error (bad UTF-8,
  reserved bits, a bad close code, an oversized message: the transport sends the close
  frame with 1002 / 1007 / 1009), the stream is closed within ``close_timeout`` whether or
  not the peer ever hangs up, and the reader ends.
- A write cancelled half-way may leave a partial frame on the wire: the transport calls
  ``handler.on_write_interrupted(conn)`` and the manager drops the connection.
- Sends on a closed or closing connection raise :class:`TransportClosed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs
import trio

from .._exceptions import HandshakeError

__all__ = [
    "MAX_REJECTION_BODY",
    "CloseInfo",
    "Frame",
    "HandshakeError",
    "HandshakeParams",
    "Transport",
    "TransportClosed",
    "TransportConnection",
    "TransportHandler",
]

#: A message as it travels: text or binary.
Frame = str | bytes

#: How much of a handshake refusal's body is read (for the error message), at most.
MAX_REJECTION_BODY = 4096


@attrs.frozen
class CloseInfo:
    """How a connection ended (or is ending).

    ``code`` is the close code of the close frame that ended it (the peer's, or ours
    when this side closed first or hit a protocol error: 1002 / 1007 / 1009), or 1006
    when no close frame was exchanged. ``clean`` is true when the closing handshake
    completed (both close frames), as RFC 6455 defines it.
    """

    code: int
    reason: str
    clean: bool


class TransportClosed(Exception):
    """A send on a connection that is closed or closing."""

    def __init__(self, info: CloseInfo | None) -> None:
        self.info = info
        text = f"{info.code} {info.reason}".strip() if info is not None else "lost"
        super().__init__(f"the connection is closed ({text})")


@attrs.frozen(kw_only=True)
class HandshakeParams:
    """What a transport needs for the opening handshake and the connection's limits."""

    host_header: str  #: the Host header (``host[:port]``, brackets for IPv6)
    resource: str  #: the request target (path and query)
    subprotocols: tuple[str, ...] | None
    headers: tuple[tuple[str, str], ...]
    max_message_size: int
    receive_buffer_size: int
    close_timeout: float
    compression: str | None = None  #: None or "deflate"


class TransportHandler(Protocol):
    """The manager's side of the seam: callbacks run in the transport's reader task."""

    async def on_message(self, data: Frame) -> None: ...

    def on_pong(self, payload: bytes) -> None: ...

    def on_write_interrupted(self, conn: TransportConnection) -> None: ...

    def on_end(self, conn: TransportConnection) -> None: ...


class TransportConnection(Protocol):
    """One open WebSocket connection, as the manager sees it."""

    @property
    def transport_name(self) -> str:
        """``"trio-websocket"`` or ``"websockets"``."""
        ...

    @property
    def subprotocol(self) -> str | None: ...

    @property
    def extensions(self) -> tuple[str, ...]:
        """Negotiated extension names, e.g. ``("permessage-deflate",)``."""
        ...

    @property
    def stream(self) -> trio.abc.Stream: ...

    @property
    def close_info(self) -> CloseInfo | None:
        """None while open; set once a close frame was sent or received or the
        connection was lost; final once :attr:`ended` is set."""
        ...

    @property
    def ended(self) -> trio.Event:
        """Set when the reader has stopped (after ``handler.on_end``)."""
        ...

    async def send(self, frame: Frame) -> None:
        """Write one message. Raises :class:`TransportClosed` when closed or closing."""
        ...

    async def send_many(self, frames: Sequence[Frame]) -> None:
        """Write several messages in order, in as few writes as the engine can (one
        ``send_all`` where it owns the I/O). Raises :class:`TransportClosed`."""
        ...

    async def ping(self, payload: bytes) -> None:
        """Send a ping frame; does not wait for the pong (``handler.on_pong`` gets it)."""
        ...

    async def aclose(self, code: int, reason: str) -> None:
        """Run the closing handshake, bounded by ``close_timeout``, then close the
        stream. Cancelled: the stream is closed at once, without waiting for the peer."""
        ...


class Transport(Protocol):
    """A WebSocket engine."""

    name: str

    async def open(
        self,
        nursery: trio.Nursery,
        stream: trio.abc.Stream,
        params: HandshakeParams,
        handler: TransportHandler,
    ) -> TransportConnection:
        """Run the opening handshake over ``stream``; the reader runs in ``nursery``."""
        ...
