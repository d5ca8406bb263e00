"""AdvancedWebSocket: the façade users hold (``open_websocket`` is in :mod:`._open`).

The tasks (the supervisor, each connection's reader and flusher, the dispatcher) and
the modules are drawn in docs/topics/architecture.rst.

The façade owns no connection state of its own: each component does (the supervisor's
:class:`CyclePhase`, the connection's :class:`LivePhase`, the incoming buffer's
:class:`Flow`, the heartbeat's phase), and every :class:`ConnectionState` change goes
through one checked function (:class:`StateCell`). :meth:`AdvancedWebSocket.statistics`
is a snapshot of them. Nothing here outlives the ``async with`` block.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

import trio

from ._context import Shared
from ._cycle import Supervisor
from ._events import ConnectionState, EventType, Subscription
from ._handle import Connection, ManagerStatistics
from ._heartbeat import Heartbeat
from ._lifecycle import Lifecycle
from ._live import LiveRunner
from ._log import Log
from ._metrics import WSMetrics
from ._options import WSConnectionOptions, redact_url
from ._receive import Receiver
from ._send import Sender
from ._state import StateCell
from .transports import check_available
from .transports._stream import StreamOpener

__all__ = ["CLOSE_TIMEOUT", "AdvancedWebSocket"]

#: The default of ``close_timeout``: how long a closing handshake may take.
CLOSE_TIMEOUT = 2.0


class AdvancedWebSocket:
    """A WebSocket client that reconnects, heartbeats, queues and reports events.

    Use it as ``async with AdvancedWebSocket(options) as ws:``. Entering opens a
    nursery and does not connect; :meth:`connect` does. Leaving the block is
    :meth:`aclose`: every task is cancelled, the socket closed, the queue dropped.

    ``options`` is a :class:`WSConnectionOptions`; keyword arguments build one
    (``AdvancedWebSocket(url="ws://...", auto_reconnect=True)``).

    ``stream_opener`` (``async (url) -> trio.abc.Stream``) replaces TCP/TLS: tests use
    it with :func:`trio.testing.memory_stream_pair`; it also serves unix sockets.
    ``url`` still sets the Host header and request path.

    ``_connect_gate`` (internal, for connection groups): ``() -> async context
    manager`` entered around every handshake attempt (see ``trio_pterows._live``).
    """

    __slots__ = (
        "_cycle",
        "_dispatcher_started",
        "_heartbeat",
        "_life",
        "_receiver",
        "_runner",
        "_sender",
        "_shared",
        "_state",
    )

    def __init__(
        self,
        options: WSConnectionOptions | None = None,
        /,
        *,
        stream_opener: StreamOpener | None = None,
        _connect_gate: Callable[[], AbstractAsyncContextManager[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        if options is None:
            options = WSConnectionOptions(**kwargs)
        elif kwargs:
            options = options.evolve(**kwargs)
        elif not isinstance(options, WSConnectionOptions):
            raise TypeError(f"options: expected WSConnectionOptions, got {type(options).__name__}")
        check_available(options.transport)
        self._shared = shared = Shared(options)
        self._state = state = StateCell()
        self._receiver = receiver = Receiver(shared)
        self._heartbeat = heartbeat = Heartbeat(shared, receiver)
        self._sender = sender = Sender(shared, state)
        self._runner = runner = LiveRunner(
            shared,
            state,
            receiver,
            heartbeat,
            sender,
            owner=self,
            stream_opener=stream_opener,
        )
        runner.connect_gate = _connect_gate
        self._cycle = Supervisor(shared, state, runner)
        self._life = Lifecycle(shared, state, self._cycle)
        self._dispatcher_started = False
        self._apply_options()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> AdvancedWebSocket:
        await self._life.enter()
        self._maybe_start_dispatcher()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        await self._life.exit()
        return False

    async def aclose(self) -> None:
        """Close for good: close handshake (bounded by ``close_timeout``), cancel
        every task, drop the queue, end iteration and subscriptions.

        Idempotent. If cancelled, the socket is still closed (without waiting for
        the peer). Later calls to connect() or send() raise :class:`Destroyed`.
        """
        await self._life.aclose()

    #: Alias of :meth:`aclose`, the seed's name.
    destroy = aclose

    # ---------------------------------------------------------------- properties

    @property
    def options(self) -> WSConnectionOptions:
        """The current options (immutable; see :meth:`update_options`)."""
        return self._shared.options

    @property
    def state(self) -> ConnectionState:
        """``CONNECTING``, ``OPEN``, ``CLOSING``, ``CLOSED`` or ``RECONNECTING``."""
        return self._state.value

    @property
    def is_connected(self) -> bool:
        """True while a connection is open (``state == "OPEN"``)."""
        return self._state.value is ConnectionState.OPEN

    @property
    def connection(self) -> Connection | None:
        """The open connection's :class:`Connection` handle, or None (a new, equal
        handle on every call)."""
        live = self._runner.open_live
        return live.describe() if live is not None else None

    def get_connection_state(self) -> ConnectionState:
        """The seed's name for :attr:`state`."""
        return self._state.value

    async def wait_state(self, *states: ConnectionState | str) -> ConnectionState:
        """Wait until :attr:`state` is one of ``states`` and return it (at once if it
        already is). Cancellation: the wait simply stops."""
        self._life.check_owner()
        if not states:
            raise TypeError("wait_state: pass at least one ConnectionState")
        wanted = {ConnectionState(s) for s in states}
        return await self._state.wait(wanted)

    def get_metrics(self) -> WSMetrics:
        """A frozen snapshot of the counters."""
        runner, receiver = self._runner, self._receiver
        at = runner.connected_at if runner.open_live is not None else None
        connected_for = trio.current_time() - at if at is not None else None
        url = runner.current_url
        return WSMetrics(
            messages_sent=self._sender.sent,
            messages_received=receiver.received,
            last_latency=self._heartbeat.latency.last,
            reconnect_attempts=self._cycle.retry.counter(
                connected_for, self._shared.options.reconnect_reset_after
            ),
            current_url=redact_url(url) if url else None,
            latency=self._heartbeat.latency.stats(),
            queued=self._sender.queue.waiting,
            dropped=receiver.dropped + self._sender.queue.dropped + self._shared.hub.dropped,
            connected_since=at,
            connections=runner.connections,
            total_reconnects=self._cycle.total_reconnects,
        )

    def statistics(self) -> ManagerStatistics:
        """A snapshot of the components' phases and buffers (for tests and debugging)."""
        live = self._runner.current
        return ManagerStatistics(
            supervisor=self._cycle.phase.value,
            connection=live.phase.value if live is not None else None,
            heartbeat=self._heartbeat.phase.value,
            incoming_flow=self._receiver.flow.value,
            incoming_buffered=self._receiver.buffered,
            response_waiters=len(self._receiver.waiters),
            queued=len(self._sender.queue),
            queued_messages=tuple(self._sender.queue.snapshot()),
            queue_dropped=self._sender.queue.dropped,
            flushing=self._sender.flushing,
        )

    # ------------------------------------------------------------------- options

    def update_options(self, **changes: Any) -> None:
        """Change options, validated like the constructor (ValueError/TypeError).

        Connection settings (url, fallback_urls, headers, transport, ...) apply from
        the next connection attempt; heartbeat settings, hooks, interceptors and the
        outgoing queue's bound and policy at once; ``incoming_queue_limit`` from the
        next connect cycle after a close.
        """
        self._life.check_owner()
        options = self._shared.options.evolve(**changes)
        if "transport" in changes:
            check_available(options.transport)
        self._shared.options = options
        if "logger" in changes:
            self._shared.log = Log(options.logger)
        self._apply_options()
        self._heartbeat.changed.fire()

    def _apply_options(self) -> None:
        o = self._shared.options
        self._receiver.apply_options()
        self._sender.apply_options()
        self._shared.hub.set_option_callbacks(
            {"open": o.on_open, "message": o.on_message, "close": o.on_close, "error": o.on_error}
        )
        self._maybe_start_dispatcher()

    # -------------------------------------------------------------------- events

    def _maybe_start_dispatcher(self) -> None:
        hub, nursery = self._shared.hub, self._life.nursery
        if hub.needs_dispatcher and not self._dispatcher_started and nursery is not None:
            self._dispatcher_started = True
            nursery.start_soon(hub.run_dispatcher)

    def add_event_listener(self, type: str | EventType, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(event)`` for every event of ``type`` (sync or async).

        A listener that raises is logged and reported as an ``error`` event; it never
        affects the connection. Async listeners run in order in a dispatcher task.
        """
        self._shared.hub.add_listener(str(type), callback)
        self._maybe_start_dispatcher()

    def remove_event_listener(self, type: str | EventType, callback: Callable[[Any], Any]) -> bool:
        """Remove one registration of ``callback``; True if there was one."""
        return self._shared.hub.remove_listener(str(type), callback)

    def dispatch_event(self, type: str | EventType, event: object) -> None:
        """Deliver ``event`` (any object, unchanged) to the listeners of ``type``."""
        self._shared.hub.emit(str(type), event)

    def subscribe(self, *types: str | EventType, max_buffer_size: int = 256) -> Subscription:
        """A bounded stream of events: ``async with ws.subscribe("open") as events:``.

        No ``types`` means every built-in type. A full subscription misses events
        (counted in ``Subscription.missed``); it never slows the connection.
        """
        if max_buffer_size < 1:
            raise ValueError(f"max_buffer_size: must be >= 1, got {max_buffer_size!r}")
        return Subscription(self._shared.hub, frozenset(map(str, types)) or None, max_buffer_size)

    # ------------------------------------------------------------------ connect

    async def connect(self) -> Connection:
        """Connect (url, then each fallback; with ``auto_reconnect``, retries with
        backoff) and return the open connection's :class:`Connection` handle.

        Idempotent while open; while a connect or reconnect cycle runs, waits for
        it. Raises :class:`ConnectionFailed` (every attempt's error in ``.attempts``)
        when the cycle gives up.

        Cancellation: cancelling the call that started the cycle stops the cycle
        (state goes back to ``CLOSED``); cancelling a call that joined a running
        reconnect cycle only stops waiting.
        """
        return await self._life.connect()

    async def manual_reconnect(self) -> Connection:
        """Close the current connection (handshake bounded by ``close_timeout``) and
        connect anew, without backoff and without counting a retry.

        Only one socket exists at any time: the old one is closed before the new one
        opens. During a reconnect delay, skips the rest of the delay. Cancellation
        stops waiting; the reconnect itself goes on.
        """
        return await self._life.manual_reconnect()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with a close handshake (bounded by ``close_timeout``) and stop
        reconnecting. ``connect()`` may open again later.

        Ends ``async for`` iteration; queued messages stay queued for a later
        connect(). If cancelled, the socket is still closed, without waiting.
        """
        await self._life.close(code, reason)

    # --------------------------------------------------------------------- send

    async def send(self, data: Any, *, urgent: bool = False) -> None:
        """Send a message: ``on_before_send`` → outgoing interceptors → JSON
        (``auto_json``, for anything but str/bytes) → socket → ``on_after_send``.

        When not connected, or while older messages are still queued, the message is
        queued (``queue_messages``; hooks then run when it is flushed) or
        :class:`NotConnected` is raised. :class:`QueueFull` when the queue is full
        and the policy is ``"reject"``. A hook's or the encoder's exception reaches
        the caller (TypeError for an object JSON cannot encode).

        ``urgent=True`` writes now, ahead of anything queued, or raises
        :class:`NotConnected` (for control frames such as re-authentication on a
        live socket; ``on_connect`` sends are urgent by nature).

        Cancellation: cancelled before the frame is written, nothing is sent (and
        nothing queued). A write cancelled half-way leaves a partial frame on the
        wire, so the connection is dropped and, with ``auto_reconnect``, reopened.
        """
        self._life.check_send()
        await self._sender.send(data, urgent)

    def send_nowait(self, data: Any) -> None:
        """Hand ``data`` to the outgoing buffer (the queue) and return; never blocks.

        While connected, the flusher writes buffered messages in order, behind anything
        already queued; hooks, interceptors and encoding run at flush time, and their
        errors are ``error`` events (that message is dropped, counted). Raises
        :class:`QueueFull` when the queue is full (``message_queue_overflow="reject"``)
        and :class:`NotConnected` when not connected and ``queue_messages`` is off.
        """
        self._life.check_send()
        self._sender.send_nowait(data)

    async def wait_flushed(self) -> None:
        """Wait until the outgoing queue is empty: every queued message was written
        (or dropped by a failing hook, or cleared).

        Returns at once when nothing is queued. Safe to cancel.
        """
        self._life.check_owner()
        await self._sender.wait_flushed()

    def clear_message_queue(self) -> int:
        """Drop every queued message; return how many were dropped."""
        self._life.check_owner()
        return self._sender.clear()

    async def send_and_wait_response(
        self,
        message: Any,
        predicate: Callable[[Any], object],
        timeout: float = 5.0,  # noqa: ASYNC109 - the seed's signature
        *,
        urgent: bool = False,
    ) -> Any:
        """Send ``message`` and return the first incoming message for which
        ``predicate(message)`` is true.

        The predicate is registered before sending, so a fast reply is not missed.
        Raises :class:`ResponseTimeout` after ``timeout`` seconds (send included),
        :class:`ConnectionLost` at once if the connection drops first, and the
        predicate's own exception if it raises. The reply is also delivered to
        listeners and ``async for`` as usual. Safe to cancel.
        """
        self._life.check_owner()
        return await self._receiver.wait_response(
            lambda: self.send(message, urgent=urgent),
            predicate,
            timeout,
            armed=self._runner.set_up,
        )

    # ------------------------------------------------------------------ receive

    async def receive(self) -> Any:
        """The next message, across reconnects.

        Once the manager stopped for good and the buffer is drained: raises
        :class:`trio.EndOfChannel` when the user ended it (close(), aclose(),
        ``on_before_reconnect`` returning False) or, without ``auto_reconnect``, the
        peer closed with 1000/1001; otherwise raises the reason,
        :class:`ConnectionFailed` or :class:`ConnectionLost` (``async for`` alike, with
        StopAsyncIteration for the clean end). Safe to cancel: no message is lost.
        """
        self._life.check_owner()
        return await self._receiver.receive()

    def __aiter__(self) -> Receiver:
        self._life.check_owner()
        return self._receiver

    async def __anext__(self) -> Any:
        return await self._receiver.__anext__()

    def __repr__(self) -> str:
        return (
            f"<AdvancedWebSocket {redact_url(self._shared.options.url)} "
            f"state={self._state.value.value} queued={len(self._sender.queue)}>"
        )
