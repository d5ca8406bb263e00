"""One connection, from the handshake to its teardown (internal).

:meth:`LiveRunner.run` opens the byte stream (:mod:`.transports._stream`), runs the
transport's handshake, ``on_connect``, then the open connection: the transport's reader
runs the receive path inline, the heartbeat runs in this task, the flusher (only while
something is queued) beside them, all in the connection's nursery, whose cancel scope
is the connection's scope. It returns :class:`Opened` or :class:`Failed`.

A :class:`Live` is the transport handler of its connection and goes through
:class:`LivePhase`; how it ended (:class:`LiveEnd`) tells the supervisor what is next.

Internal hook: :attr:`LiveRunner.connect_gate` (from
``AdvancedWebSocket(..., _connect_gate=...)``) is entered around every handshake attempt,
first connect and reconnects alike, and costs nothing when unset.
"""

from __future__ import annotations

import enum
import ssl
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import attrs
import trio

from ._context import Shared
from ._events import CloseEvent, ConnectionState, OpenEvent
from ._exceptions import ConnectionLost
from ._handle import Connection, stream_addresses
from ._heartbeat import Heartbeat
from ._options import redact_url, split_url
from ._receive import Receiver
from ._send import Sender
from ._state import StateCell, check_transition
from ._util import close_text
from .transports import get_transport
from .transports._base import Frame, HandshakeParams, TransportConnection
from .transports._stream import StreamOpener, StreamTarget, open_stream

__all__ = ["Failed", "Live", "LiveEnd", "LivePhase", "LiveRunner", "Opened"]


class LivePhase(enum.Enum):
    HANDSHAKE = "handshake"  #: stream and WebSocket handshake
    SETUP = "setup"  #: on_connect runs
    OPEN = "open"
    CLOSING = "closing"  #: this side's closing handshake runs
    ENDED = "ended"


_PHASES = {
    LivePhase.HANDSHAKE: {LivePhase.SETUP, LivePhase.ENDED},
    LivePhase.SETUP: {LivePhase.OPEN, LivePhase.CLOSING, LivePhase.ENDED},
    LivePhase.OPEN: {LivePhase.CLOSING, LivePhase.ENDED},
    LivePhase.CLOSING: {LivePhase.ENDED},
    LivePhase.ENDED: set(),
}


class LiveEnd(enum.Enum):
    """Why a connection ended."""

    PEER = "peer"  #: closed by the peer, or lost
    ABANDONED = "abandoned"  #: dropped by this side without a close handshake
    LOCAL = "local"  #: close() / aclose()
    MANUAL = "manual"  #: manual_reconnect()


@attrs.frozen
class Opened:
    """The connection opened and has now ended."""

    opened_at: float
    close_event: CloseEvent
    end: LiveEnd


@attrs.frozen
class Failed:
    """The connection never opened."""

    error: BaseException


class Live:
    """Book-keeping of one connection; the transport handler of its connection."""

    __slots__ = (
        "_runner",
        "abandoned",
        "conn",
        "end",
        "on_message",
        "opened_at",
        "phase",
        "scope",
        "url",
    )

    def __init__(self, runner: LiveRunner, url: str, on_message: Any) -> None:
        self._runner = runner
        self.url = url
        #: The receive path: the transport's reader calls it for every message.
        self.on_message: Callable[[Frame], Any] = on_message
        self.phase = LivePhase.HANDSHAKE
        self.conn: TransportConnection | None = None
        self.scope = trio.CancelScope()  # replaced by the connection nursery's scope
        self.opened_at: float | None = None
        self.end = LiveEnd.PEER
        #: Why this side dropped the connection without a close handshake, if it did.
        self.abandoned: str | None = None

    def describe(self) -> Connection:
        """A :class:`Connection` handle (made on demand: an idle connection keeps none)."""
        conn = self.conn
        assert conn is not None
        assert self.opened_at is not None
        local, remote = stream_addresses(conn.stream)
        return Connection(
            url=redact_url(self.url),
            subprotocol=conn.subprotocol,
            extensions=conn.extensions,
            transport=conn.transport_name,
            local_address=local,
            remote_address=remote,
            opened_at=self.opened_at,
        )

    @property
    def usable(self) -> bool:
        """Open, and no close frame was sent or received (nor the stream lost)."""
        conn = self.conn
        return self.phase is LivePhase.OPEN and conn is not None and conn.close_info is None

    def set_phase(self, new: LivePhase) -> None:
        check_transition(_PHASES, self.phase, new)
        self.phase = new

    # -- TransportHandler ----------------------------------------------------------

    def on_pong(self, payload: bytes) -> None:
        self._runner.heartbeat.on_protocol_pong(payload)

    def on_write_interrupted(self, conn: TransportConnection) -> None:
        if conn is self.conn and conn.close_info is None:
            self.abandon("a write was cancelled half-way")

    def on_end(self, conn: TransportConnection) -> None:
        # The connection can carry no more replies: fail waiting calls at once
        # (also while on_connect runs, before the connection ever opened).
        if conn is not self.conn:  # a handshake that failed: nobody waits on it yet
            return
        if self.phase in (LivePhase.OPEN, LivePhase.CLOSING):
            self.scope.cancel()  # ends the heartbeat and the flusher
        info = conn.close_info
        code = info.code if info else None
        reason = info.reason if info else ""
        self._runner.receiver.fail_waiters(
            ConnectionLost(
                f"the connection closed ({close_text(code, reason)})", code=code, reason=reason
            )
        )

    def abandon(self, why: str) -> None:
        """Drop the connection at once, without waiting for a close handshake."""
        if self.abandoned is None:
            self.abandoned = why
            self.end = LiveEnd.ABANDONED
            self._runner.shared.log.warning(
                "dropping connection to %s: %s", redact_url(self.url), why
            )
        self.scope.cancel()


class LiveRunner:
    """Runs one connection at a time for one manager."""

    __slots__ = (
        "_default_ssl",
        "_opener",
        "_owner",
        "_state",
        "connect_gate",
        "connected_at",
        "connections",
        "current",
        "current_url",
        "heartbeat",
        "receiver",
        "sender",
        "shared",
    )

    def __init__(
        self,
        shared: Shared,
        state: StateCell,
        receiver: Receiver,
        heartbeat: Heartbeat,
        sender: Sender,
        *,
        owner: object,
        stream_opener: StreamOpener | None,
    ) -> None:
        self.shared = shared
        self._state = state
        self.receiver = receiver
        self.heartbeat = heartbeat
        self.sender = sender
        self._owner = owner  # what on_connect receives (the manager)
        self._opener = stream_opener
        self._default_ssl: ssl.SSLContext | None = None
        #: The connection being set up or open.
        self.current: Live | None = None
        self.current_url: str | None = None
        self.connected_at: float | None = None
        self.connections = 0
        #: Entered around every handshake (a connection group's shared budget); the
        #: wait for it does not count toward ``connection_timeout``. None: no gate.
        self.connect_gate: Callable[[], AbstractAsyncContextManager[None]] | None = None

    @property
    def open_live(self) -> Live | None:
        """The open connection (until its teardown), if any."""
        live = self.current
        return live if live is not None and live.phase is LivePhase.OPEN else None

    @property
    def set_up(self) -> bool:
        """A connection passed its handshake and has not been torn down yet."""
        live = self.current
        return live is not None and live.phase is not LivePhase.HANDSHAKE

    async def run(self, url: str, on_open: Callable[[Live], None]) -> Opened | Failed:
        """Open ``url`` and run the connection until it ends."""
        assert self.current is None, "one connection at a time"
        live = Live(self, url, self.receiver.on_message)
        self.current = live
        failure: BaseException | None = None
        try:
            # The nursery's cancel scope is the connection's scope (live.scope).
            async with trio.open_nursery() as nursery:
                live.scope = nursery.cancel_scope
                # No `return` in here: a cancelled scope would swallow it.
                failure = await self._open(live, nursery)
                if failure is None and self._may_open(live):
                    self._opened(live, nursery, on_open)
                    conn = live.conn
                    assert conn is not None
                    # The heartbeat runs in this task until the reader stops
                    # (Live.on_end then cancels the scope): no task of its own.
                    if not conn.ended.is_set():
                        await self.heartbeat.run(conn, live.abandon)
                    # The heartbeat may stop first (its ping met a closing socket).
                    await conn.ended.wait()
                nursery.cancel_scope.cancel()
        finally:
            close_event = await self._teardown(live)
        if live.opened_at is not None:
            assert close_event is not None
            return Opened(live.opened_at, close_event, live.end)
        if failure is None:  # the set-up was interrupted (dropped during on_connect)
            why = live.abandoned or (
                "closed by close() or aclose()" if live.end is LiveEnd.LOCAL else "interrupted"
            )
            failure = ConnectionLost(f"the connection was lost while being set up: {why}")
        return Failed(failure)

    def _may_open(self, live: Live) -> bool:
        return not live.scope.cancel_called and self._state.value not in (
            ConnectionState.CLOSING,
            ConnectionState.CLOSED,
        )

    def _params(self, url: str) -> tuple[StreamTarget, HandshakeParams]:
        options = self.shared.options
        secure, host, port, resource = split_url(url)
        ssl_context = None
        if secure:
            ssl_context = options.ssl_context or self._get_default_ssl()
        target = StreamTarget(
            url=url, host=host, port=port, ssl_context=ssl_context, proxy=options.proxy
        )
        params = HandshakeParams(
            host_header=target.host_header,
            resource=resource,
            subprotocols=options.protocols,
            headers=options.headers,
            max_message_size=options.max_message_size,
            receive_buffer_size=options.receive_buffer_size,
            close_timeout=options.close_timeout,
            compression=options.compression,
        )
        return target, params

    async def _open(self, live: Live, nursery: trio.Nursery) -> BaseException | None:
        """The handshake, then ``on_connect``: None when the connection may open."""
        options = self.shared.options
        try:
            gate = self.connect_gate
            if gate is None:
                conn = await self._handshake(live, nursery)
            else:
                async with gate():
                    conn = await self._handshake(live, nursery)
        except trio.TooSlowError:
            return TimeoutError(
                f"no WebSocket handshake within connection_timeout={options.connection_timeout}s"
            )
        except Exception as exc:
            return exc
        live.conn = conn
        live.set_phase(LivePhase.SETUP)
        self.receiver.last_rx = trio.current_time()
        hook = options.on_connect
        if hook is not None:
            with self.sender.setting_up(conn):
                try:
                    await hook(self._owner)
                except Exception as exc:
                    self.shared.log.warning("on_connect failed: %s: %s", type(exc).__name__, exc)
                    return self._fatal_close_error(conn) or exc
            if conn.ended.is_set():
                return self._fatal_close_error(conn) or self._lost_error(conn, "during on_connect")
        return None

    async def _handshake(self, live: Live, nursery: trio.Nursery) -> TransportConnection:
        options = self.shared.options
        transport = get_transport(options.transport)
        target, params = self._params(live.url)
        with trio.fail_after(options.connection_timeout):
            stream = await open_stream(target, self._opener)
            return await transport.open(nursery, stream, params, live)

    def _fatal_close_error(self, conn: TransportConnection) -> ConnectionLost | None:
        """A peer close with one of ``fatal_close_codes`` while setting up: stop."""
        info = conn.close_info
        if info is None or info.code not in self.shared.options.fatal_close_codes:
            return None
        return ConnectionLost(
            f"the peer closed with fatal code {close_text(info.code, info.reason)}",
            code=info.code,
            reason=info.reason,
            fatal=True,
        )

    def _lost_error(self, conn: TransportConnection, when: str) -> ConnectionLost:
        info = conn.close_info
        if info is not None:
            return ConnectionLost(
                f"connection closed {when}: {close_text(info.code, info.reason)}",
                code=info.code,
                reason=info.reason,
            )
        return ConnectionLost(f"connection lost {when}")

    def _get_default_ssl(self) -> ssl.SSLContext:
        if self._default_ssl is None:
            self._default_ssl = ssl.create_default_context()
        return self._default_ssl

    def _opened(self, live: Live, nursery: trio.Nursery, on_open: Callable[[Live], None]) -> None:
        conn = live.conn
        assert conn is not None
        now = trio.current_time()
        safe_url = redact_url(live.url)
        live.set_phase(LivePhase.OPEN)
        live.opened_at = now
        self.current_url = live.url
        self.connected_at = now
        self.connections += 1
        self._state.set(ConnectionState.OPEN)
        self.receiver.arm_waiters()
        # Sends from here on (an "open" listener's too) go to this connection; the
        # flusher, if anything is queued, starts at the next checkpoint.
        self.sender.attach(conn, nursery)
        self.shared.log.info("connected to %s", safe_url)
        self.shared.emit("open", lambda: OpenEvent(type="open", timestamp=now, url=safe_url))
        on_open(live)

    async def close(self, live: Live, code: int, reason: str, end: LiveEnd) -> None:
        """This side's closing handshake (bounded by ``close_timeout``); then the
        connection's scope is cancelled. Cancelled: the stream is closed at once."""
        if live.phase in (LivePhase.SETUP, LivePhase.OPEN):
            live.set_phase(LivePhase.CLOSING)
        if live.end is LiveEnd.PEER:
            live.end = end
        try:
            if live.conn is not None:
                await live.conn.aclose(code, reason)
            else:
                await trio.lowlevel.checkpoint()
        finally:
            live.scope.cancel()

    async def _teardown(self, live: Live) -> CloseEvent | None:
        """After the connection's nursery closed: close the stream, settle the books,
        emit and return the close event (None for a connection that never opened)."""
        conn = live.conn
        if conn is not None:
            with trio.CancelScope(shield=True):
                # Interrupts any writer still blocked on this stream.
                await trio.aclose_forcefully(conn.stream)
        if self.current is live:
            self.current = None
        self.sender.detach()
        self.heartbeat.reset()
        info = conn.close_info if conn is not None else None
        if live.abandoned is not None:
            code, reason, clean = 1006, live.abandoned, False
        elif info is not None:
            code, reason, clean = info.code, info.reason, info.clean
        else:
            code, reason, clean = 1006, "connection lost", False
        if conn is not None:  # waiters are armed only once a handshake completed
            self.receiver.fail_waiters(
                ConnectionLost(
                    f"the connection closed ({close_text(code, reason)})", code=code, reason=reason
                )
            )
        live.set_phase(LivePhase.ENDED)
        if live.opened_at is None:
            return None
        event = CloseEvent(
            type="close",
            timestamp=trio.current_time(),
            code=code,
            reason=reason,
            was_clean=clean,
            url=redact_url(live.url),
        )
        if self._state.value is ConnectionState.OPEN:
            self._state.set(ConnectionState.RECONNECTING)
        self.connected_at = None
        self.shared.log.info("connection to %s closed: %d %s", event.url, code, reason)
        if self.shared.hub.wants("close"):
            self.shared.hub.emit("close", event)
        return event
