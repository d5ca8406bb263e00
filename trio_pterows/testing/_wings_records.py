"""FakeWings' node records: what it keeps per handshake and per open socket."""

from __future__ import annotations

from collections import deque

import attrs
import trio
from trio_websocket import WebSocketConnection

from trio_pterows.pterodactyl._ratelimit import RateLimiter

from ._wings_tokens import Token

__all__ = ["Close", "Drop", "NodeConnection", "NodeCounters", "Outbound", "Session"]


@attrs.define(eq=False)
class NodeConnection:
    """One websocket handshake the fake node received (accepted or not).

    ``received`` and ``sent`` hold the latest frames (bounded), ``headers`` the
    handshake headers as sent by the client. ``close_code``/``close_reason``: the close
    the node sent, or else the one the client sent (set once known); ``dropped``: the
    node aborted the connection without a close frame.
    """

    id: int
    path: str
    origin: str | None
    headers: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    received: deque[str | bytes] = attrs.field(repr=False)
    sent: deque[str] = attrs.field(repr=False)
    accepted: bool = False
    rejected_status: int | None = None
    auths: int = 0
    close_code: int | None = None
    close_reason: str | None = None
    dropped: bool = False
    open: bool = False


@attrs.frozen
class Close:
    code: int
    reason: str


@attrs.frozen
class Drop:
    """Abort the socket once everything queued before it went out."""


Outbound = str | Close | Drop


@attrs.define(eq=False)
class Session:
    record: NodeConnection
    ws: WebSocketConnection
    stream: trio.abc.Stream
    send: trio.MemorySendChannel[Outbound]
    receive: trio.MemoryReceiveChannel[Outbound]
    limiter: RateLimiter
    cancel_scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    nursery: trio.Nursery | None = None
    writer_done: trio.Event = attrs.field(factory=trio.Event)
    token: Token | None = None
    throttled: set[str] = attrs.field(factory=set)


@attrs.define
class NodeCounters:
    """What the node counts (FakeWings' observation properties read these)."""

    accepted: int = 0
    rejected: int = 0
    auths_received: int = 0
    auth_successes: int = 0
    throttled_sent: int = 0
    overflow_drops: int = 0
    connection_ids: int = 0
