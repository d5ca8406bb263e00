"""The heartbeat: pings, the pong deadline, latency (internal).

:meth:`Heartbeat.run` runs in the connection's task while it is open. Every
``heartbeat_interval`` it sends a ping (an RFC 6455 ping frame, or the
``heartbeat_message`` in "message" mode) and expects the pong within
``heartbeat_timeout`` of *silence*: any inbound message or pong proves the peer alive.
The timeout runs from the moment the ping was due, whether or not it could be written:
a peer that stopped reading (our write blocked on a full socket) is detected like one
that stopped answering. Time the consumer holds the reader up (incoming_overflow
"block") never counts.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable

import trio

from ._codec import dumps
from ._context import Shared
from ._events import PingEvent, PongEvent
from ._metrics import LatencyWindow
from ._receive import Receiver
from ._state import check_transition
from ._util import SET_EVENT, Pulse
from .transports._base import TransportClosed, TransportConnection

__all__ = ["Heartbeat", "HeartbeatPhase"]

_ping_ids = itertools.count(1)


class HeartbeatPhase(enum.Enum):
    IDLE = "idle"  #: no ping outstanding
    AWAITING_PONG = "awaiting-pong"  #: a ping was due; its pong has not come yet


_PHASES = {
    HeartbeatPhase.IDLE: {HeartbeatPhase.AWAITING_PONG},
    HeartbeatPhase.AWAITING_PONG: {HeartbeatPhase.IDLE},
}


class Heartbeat:
    """Pings and latency of one manager (one connection at a time)."""

    __slots__ = (
        "_payload",
        "_phase",
        "_pong",
        "_receiver",
        "_sent",
        "_shared",
        "changed",
        "latency",
    )

    def __init__(self, shared: Shared, receiver: Receiver) -> None:
        self._shared = shared
        self._receiver = receiver
        receiver.on_message_pong = self._pong_arrived
        self._phase = HeartbeatPhase.IDLE
        self._sent = 0.0  #: when the outstanding ping was due
        self._payload: bytes | None = None  #: the outstanding ping frame's payload
        self._pong = SET_EVENT
        #: Fired by update_options: heartbeat settings apply at once.
        self.changed = Pulse()
        self.latency = LatencyWindow()

    @property
    def phase(self) -> HeartbeatPhase:
        return self._phase

    def _set_phase(self, new: HeartbeatPhase) -> None:
        check_transition(_PHASES, self._phase, new)
        self._phase = new

    def on_protocol_pong(self, payload: bytes) -> None:
        """A pong frame arrived (the transport handler's ``on_pong``)."""
        self._receiver.last_rx = trio.current_time()
        if payload == self._payload:
            self._payload = None
            self._pong_arrived()

    def _pong_arrived(self) -> None:
        if self._phase is not HeartbeatPhase.AWAITING_PONG:
            return
        self._set_phase(HeartbeatPhase.IDLE)
        now = trio.current_time()
        latency = now - self._sent
        self.latency.add(latency)
        self._pong.set()
        self._shared.emit("pong", lambda: PongEvent(type="pong", timestamp=now, latency=latency))

    def reset(self) -> None:
        """The connection ended: no ping is outstanding any more."""
        if self._phase is HeartbeatPhase.AWAITING_PONG:
            self._set_phase(HeartbeatPhase.IDLE)
        self._payload = None

    async def run(self, conn: TransportConnection, abandon: Callable[[str], None]) -> None:
        """Ping ``conn`` until it closes, or call ``abandon(why)`` on a timeout and return.

        Cancellation: stops at once (the connection's scope owns it).
        """
        last_ping = trio.current_time()
        while True:
            interval = self._shared.options.heartbeat_interval
            changed = self.changed.event
            if interval is None:
                await changed.wait()
                continue
            with trio.move_on_at(last_ping + interval):
                await changed.wait()
                continue  # settings changed: recompute the deadline
            last_ping = trio.current_time()
            outcome = await self._beat(conn, last_ping)
            if outcome is not None:
                if outcome:
                    abandon(outcome)
                return

    async def _beat(self, conn: TransportConnection, due: float) -> str | None:
        """One ping and its pong: None when answered (or the ping could not be made),
        "" when the connection closed, or why the peer is judged dead."""
        self._pong = pong = trio.Event()
        self._sent = due
        self._set_phase(HeartbeatPhase.AWAITING_PONG)
        written = False
        receiver = self._receiver
        while True:
            timeout = self._shared.options.heartbeat_timeout
            with trio.move_on_at(max(due, receiver.last_rx) + timeout):
                if not written:
                    try:
                        await self._send_ping(conn)
                    except TransportClosed:
                        return ""
                    except (TypeError, ValueError) as exc:
                        self.reset()
                        self._shared.report(exc, "heartbeat")
                        return None
                    written = True
                    self._shared.emit(
                        "ping", lambda: PingEvent(type="ping", timestamp=trio.current_time())
                    )
                await pong.wait()
            if pong.is_set():
                return None
            blocked = receiver.blocked_until
            if blocked is not None:
                # The consumer, not the peer, is holding the reader up.
                await blocked.wait()
                continue
            if trio.current_time() >= max(due, receiver.last_rx) + timeout:
                if written:
                    return f"heartbeat timeout ({timeout}s of silence)"
                return f"heartbeat timeout ({timeout}s; the peer stopped reading: ping not written)"

    async def _send_ping(self, conn: TransportConnection) -> None:
        options = self._shared.options
        if options.heartbeat_mode == "protocol":
            payload = b"pw%d" % next(_ping_ids)
            self._payload = payload
            await conn.ping(payload)
        else:
            message = options.heartbeat_message
            if not isinstance(message, (str, bytes)):
                message = dumps(message)
            await conn.send(message)
