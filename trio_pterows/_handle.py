"""Read-only public records: ``pw.Connection`` (one open connection) and
``pw.ManagerStatistics`` (a snapshot of the manager's components)."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Address", "Connection", "ManagerStatistics", "stream_addresses"]

#: ``(host, port)`` for TCP (IPv6: ``(host, port, flowinfo, scope_id)``), None otherwise.
Address = tuple[Any, ...] | str | None


@attrs.frozen(kw_only=True)
class Connection:
    """What :meth:`AdvancedWebSocket.connect` returns (also ``ws.connection``).

    Frozen and read-only: it carries no way to send or receive (the manager does
    that), and it stays valid as a record after the connection closed.
    """

    #: The URL connected to, redacted (no credentials, no query values).
    url: str
    #: The subprotocol the server chose, or None.
    subprotocol: str | None
    #: Negotiated extension names, e.g. ``("permessage-deflate",)``.
    extensions: tuple[str, ...]
    #: The transport's name: ``"trio-websocket"`` or ``"websockets"``.
    transport: str
    #: This side's socket address (None for streams without a socket).
    local_address: Address
    #: The server's socket address (None for streams without a socket).
    remote_address: Address
    #: When it opened (``trio.current_time()``).
    opened_at: float


@attrs.frozen(kw_only=True)
class ManagerStatistics:
    """A snapshot of the manager's components (:meth:`AdvancedWebSocket.statistics`)."""

    #: The supervisor: "idle", "running" or "stopping".
    supervisor: str
    #: The current connection's phase ("handshake", "setup", "open", "closing"), or None.
    connection: str | None
    #: The heartbeat: "idle" or "awaiting-pong".
    heartbeat: str
    #: The incoming buffer's flow: "flowing", "blocked" or "dropping".
    incoming_flow: str
    #: Messages in the incoming buffer.
    incoming_buffered: int
    #: Pending ``send_and_wait_response()`` calls.
    response_waiters: int
    #: Messages in the outgoing queue.
    queued: int
    #: The queued messages themselves, oldest first (the one being written excluded).
    queued_messages: tuple[object, ...]
    #: Messages the outgoing queue dropped (overflow policy, failed preparation).
    queue_dropped: int
    #: A flusher task is writing the queue.
    flushing: bool


def stream_addresses(stream: object) -> tuple[Address, Address]:
    """``(local, remote)`` socket addresses of a byte stream (TLS unwrapped)."""
    inner = getattr(stream, "transport_stream", stream)
    sock = getattr(inner, "socket", None)
    if sock is None:
        return None, None
    try:
        return _address(sock.getsockname()), _address(sock.getpeername())
    except OSError:
        return None, None


def _address(value: Any) -> Address:
    if isinstance(value, tuple):
        return value
    if isinstance(value, (str, bytes)):
        return value if isinstance(value, str) else value.decode(errors="replace")
    return None
