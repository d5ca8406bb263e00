"""AdvancedWebSocket: the nursery-scoped connection manager.

Task layout (see docs/topics/architecture)::

    AdvancedWebSocket nursery (lives as long as the ``async with`` block)
    ├── supervisor            connect rounds over url + fallbacks, backoff, reconnect;
    │   │                     while a connection is open, runs its heartbeat (pings,
    │   │                     pong deadline, latency) in the connection's nursery
    │   └── per-connection nursery: its cancel scope is the connection's scope
    │       ├── trio-websocket reader   parses frames; runs the receive path inline
    │       └── flusher                 writes the outgoing queue in order (only
    │                                   while something is queued)
    └── dispatcher            runs async event listeners (bounded channel)

Dropping a connection (heartbeat timeout, a write cancelled half-way) cancels that
connection's scope and closes its stream at once; graceful closes (close(),
manual_reconnect(), aclose()) run the close handshake from the caller's task,
bounded by ``CLOSE_TIMEOUT``. Nothing here outlives the ``async with`` block.
"""

from __future__ import annotations

import contextvars
import inspect
import itertools
import ssl
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

import trio
from trio_websocket import ConnectionClosed, ConnectionRejected

from ._backoff import reconnect_delay
from ._codec import dumps, loads
from ._events import (
    DROP,
    CloseEvent,
    ConnectionState,
    ErrorEvent,
    EventHub,
    EventType,
    MessageEvent,
    OpenEvent,
    PingEvent,
    PongEvent,
    ReconnectAttemptEvent,
    ReconnectEvent,
    ReconnectSuccessEvent,
    Subscription,
)
from ._exceptions import (
    ConnectionFailed,
    ConnectionLost,
    Destroyed,
    NotConnected,
    ResponseTimeout,
)
from ._log import Log
from ._metrics import LatencyWindow, WSMetrics
from ._options import WSConnectionOptions, redact_url, split_url
from ._queue import DEFAULT_QUEUE_LIMIT, OutgoingQueue, QueueItem
from ._transport import SET_EVENT, ManagedConnection, StreamOpener, open_connection

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = ["CLOSE_TIMEOUT", "AdvancedWebSocket", "open_websocket"]

#: How long a graceful close handshake may take before the stream is closed anyway.
CLOSE_TIMEOUT = 2.0
#: incoming_overflow="drop-oldest": how long the reader waits, once per overflow
#: episode, for an iterating consumer to drain the full buffer before dropping.
DRAIN_GRACE = 0.25

# Which manager's on_connect hook the current task runs in (sends go straight out).
_ON_CONNECT: contextvars.ContextVar[AdvancedWebSocket | None] = contextvars.ContextVar(
    "trio_pterows_on_connect", default=None
)
_NO_PONG = object()
_ping_ids = itertools.count(1)


def _is_fatal_connect_error(exc: BaseException) -> bool:
    """Errors that another attempt cannot fix: stop retrying at once."""
    if getattr(exc, "fatal", False):
        return True
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True
    if isinstance(exc, ConnectionRejected):
        status = exc.status_code
        return 400 <= status < 500 and status not in (408, 425, 429)
    return False


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class _CycleEnded(ConnectionFailed):
    """The cycle ended without a connect failure (its connection closed, no retry)."""


class _Outcome:
    """The result of one connect cycle, for everyone waiting in connect()."""

    __slots__ = ("conn", "error", "event")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.conn: ManagedConnection | None = None
        self.error: BaseException | None = None

    def resolve(self, conn: ManagedConnection | None, error: BaseException | None) -> None:
        self.conn, self.error = conn, error
        self.event.set()

    def unwrap(self) -> ManagedConnection:
        if self.error is not None:
            raise self.error
        assert self.conn is not None
        return self.conn


class _Waiter:
    """A pending send_and_wait_response()."""

    __slots__ = ("armed", "error", "event", "predicate", "result")

    def __init__(self, predicate: Callable[[Any], object], armed: bool) -> None:
        self.predicate = predicate
        self.armed = armed
        self.event = trio.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def offer(self, data: Any) -> None:
        if self.event.is_set():
            return
        try:
            matched = self.predicate(data)
        except Exception as exc:
            self.error = exc
            self.event.set()
            return
        if matched:
            self.result = data
            self.event.set()

    def fail(self, error: BaseException) -> None:
        if not self.event.is_set():
            self.error = error
            self.event.set()


class _Live:
    """Book-keeping of one connection from handshake to teardown."""

    __slots__ = (
        "abandoned",
        "conn",
        "flusher",
        "local_close",
        "nursery",
        "opened",
        "scope",
        "url",
    )

    def __init__(self, conn: ManagedConnection, url: str, scope: trio.CancelScope) -> None:
        self.conn = conn
        self.url = url
        self.scope = scope
        self.opened = False
        #: Why the library dropped the connection without a close handshake, if it did.
        self.abandoned: str | None = None
        #: (code, reason) of a close this side started.
        self.local_close: tuple[int, str] | None = None
        self.nursery: trio.Nursery | None = None
        self.flusher = False


class AdvancedWebSocket:
    """A WebSocket client that reconnects, heartbeats, queues and reports events.

    Use it as ``async with AdvancedWebSocket(options) as ws:``. Entering opens a
    nursery and does not connect; :meth:`connect` does. Leaving the block is
    :meth:`aclose`: every task is cancelled, the socket closed, the queue dropped.

    ``options`` is a :class:`WSConnectionOptions`; keyword arguments build one
    (``AdvancedWebSocket(url="ws://...", auto_reconnect=True)``).

    ``stream_opener`` (``async (url) -> trio.abc.Stream``) replaces TCP/TLS: tests use
    it with :func:`trio.testing.memory_stream_pair`; it also serves unix sockets or
    proxies. ``url`` still sets the Host header and request path.
    """

    __slots__ = (
        "_auto_json",
        "_block_incoming",
        "_close_request",
        "_conn",
        "_connected_at",
        "_connections",
        "_consumer_seen",
        "_current_url",
        "_default_ssl",
        "_destroyed",
        "_dispatcher_started",
        "_drained",
        "_dropped_in",
        "_hb_changed",
        "_hub",
        "_in_interceptors",
        "_in_overflowing",
        "_in_recv",
        "_in_send",
        "_last_rx",
        "_latency",
        "_live",
        "_log",
        "_manual_pending",
        "_nursery",
        "_nursery_manager",
        "_options",
        "_outcome",
        "_overflowed_once",
        "_pending_success",
        "_ping_payload",
        "_ping_sent",
        "_pong_event",
        "_pong_expected",
        "_queue",
        "_queue_empty",
        "_received",
        "_retry",
        "_rx_blocked",
        "_rx_unblocked",
        "_send_plain",
        "_sent",
        "_skip_backoff",
        "_state",
        "_stream_opener",
        "_sup_done",
        "_sup_scope",
        "_supervising",
        "_total_reconnects",
        "_waiters",
    )

    def __init__(
        self,
        options: WSConnectionOptions | None = None,
        /,
        *,
        stream_opener: StreamOpener | None = None,
        **kwargs: Any,
    ) -> None:
        if options is None:
            options = WSConnectionOptions(**kwargs)
        elif kwargs:
            options = options.evolve(**kwargs)
        elif not isinstance(options, WSConnectionOptions):
            raise TypeError(f"options: expected WSConnectionOptions, got {type(options).__name__}")
        self._options = options
        self._stream_opener = stream_opener
        self._log = Log(options.logger)
        self._hub = EventHub(self._report, async_buffer=max(64, options.incoming_queue_limit))
        self._queue = OutgoingQueue(options.message_queue_limit, options.message_queue_overflow)
        # Events that most connections never need are created on first use.
        self._queue_empty: trio.Event | None = None
        self._default_ssl: ssl.SSLContext | None = None

        self._nursery_manager: Any = None
        self._nursery: trio.Nursery | None = None
        self._dispatcher_started = False
        self._destroyed = False
        self._state = ConnectionState.CLOSED

        self._supervising = False
        self._sup_scope: trio.CancelScope | None = None
        self._sup_done: trio.Event | None = None
        self._outcome: _Outcome | None = None  # created when someone waits
        self._close_request: tuple[int, str] | None = None
        self._manual_pending = False
        self._skip_backoff: trio.Event | None = None

        self._live: _Live | None = None  # the connection being set up or open
        self._conn: ManagedConnection | None = None  # only while OPEN
        self._current_url: str | None = None
        self._connected_at: float | None = None
        self._retry = 0
        self._pending_success: int | None = None  # retry number to report on success

        self._in_send, self._in_recv = trio.open_memory_channel[Any](options.incoming_queue_limit)
        self._rx_blocked = False
        self._rx_unblocked: trio.Event | None = None
        self._in_overflowing = False
        self._consumer_seen = False
        self._overflowed_once = False
        self._drained: trio.Event | None = None
        self._waiters: list[_Waiter] = []

        self._hb_changed = trio.Event()
        self._last_rx = 0.0
        self._ping_sent: float | None = None
        self._ping_payload: bytes | None = None
        self._pong_event = SET_EVENT  # no ping outstanding until the first one
        self._latency = LatencyWindow()

        self._sent = 0
        self._received = 0
        self._dropped_in = 0
        self._connections = 0
        self._total_reconnects = 0
        self._apply_options(options)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> AdvancedWebSocket:
        if self._nursery is not None or self._destroyed:
            raise RuntimeError("an AdvancedWebSocket can be entered only once")
        self._nursery_manager = trio.open_nursery()
        self._nursery = await self._nursery_manager.__aenter__()
        self._maybe_start_dispatcher()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            await self.aclose()
        finally:
            if self._nursery is not None:
                self._nursery.cancel_scope.cancel()  # the body is over: safe now
            # The body's exception is not handed to the nursery: it would come back
            # wrapped in an ExceptionGroup. Our tasks never raise by design.
            try:
                await self._nursery_manager.__aexit__(None, None, None)
            except BaseExceptionGroup as group:
                leaves = _leaves(group)
                if len(leaves) == 1:
                    raise leaves[0] from None
                raise
        return False

    async def aclose(self) -> None:
        """Close for good: close handshake (bounded by ``CLOSE_TIMEOUT``), cancel
        every task, drop the queue, end iteration and subscriptions.

        Idempotent. If cancelled, the socket is still closed (without waiting for
        the peer). Later calls to connect() or send() raise :class:`Destroyed`.
        """
        if self._destroyed:
            await trio.lowlevel.checkpoint()
            return
        self._destroyed = True
        self._close_request = self._close_request or (1000, "")
        try:
            await self._graceful_close(1000, "", ConnectionState.CLOSING)
        finally:
            # Not the nursery's own scope: it also wraps the caller's `async with`
            # body, which may be what called aclose(). Each task stops by itself:
            # the supervisor through its scope, the dispatcher when hub.close()
            # closes its channel; __aexit__ cancels whatever is left.
            if self._sup_scope is not None:
                self._sup_scope.cancel()
                if self._sup_done is not None and self._supervising:
                    # Let its teardown (close event, CLOSED) finish; bounded, and
                    # shielded so that a cancelled aclose() still leaves things tidy.
                    with trio.move_on_after(CLOSE_TIMEOUT) as bound:
                        bound.shield = True
                        await self._sup_done.wait()
            self._queue.clear()
            self._note_queue_empty()
            self._finish(Destroyed("the manager was closed (aclose)"))
            self._hub.close()

    #: Alias of :meth:`aclose`, the seed's name.
    destroy = aclose

    def _require_running(self) -> trio.Nursery:
        if self._destroyed:
            raise Destroyed("this AdvancedWebSocket was closed for good (aclose)")
        if self._nursery is None:
            raise RuntimeError(
                "use `async with AdvancedWebSocket(...) as ws:` (or open_websocket) before "
                "connecting: the manager's tasks need its nursery"
            )
        return self._nursery

    # ---------------------------------------------------------------- properties

    @property
    def options(self) -> WSConnectionOptions:
        """The current options (immutable; see :meth:`update_options`)."""
        return self._options

    @property
    def state(self) -> ConnectionState:
        """``CONNECTING``, ``OPEN``, ``CLOSING``, ``CLOSED`` or ``RECONNECTING``."""
        return self._state

    @property
    def is_connected(self) -> bool:
        """True while a connection is open (``state == "OPEN"``)."""
        return self._state is ConnectionState.OPEN

    @property
    def connection(self) -> ManagedConnection | None:
        """The open :class:`trio_websocket.WebSocketConnection`, or None."""
        return self._conn

    def get_connection_state(self) -> ConnectionState:
        """The seed's name for :attr:`state`."""
        return self._state

    def get_metrics(self) -> WSMetrics:
        """A frozen snapshot of the counters."""
        now = trio.current_time() if self._connected_at is not None else 0.0
        return WSMetrics(
            messages_sent=self._sent,
            messages_received=self._received,
            last_latency=self._latency.last,
            reconnect_attempts=self._retry_counter(now),
            current_url=redact_url(self._current_url) if self._current_url else None,
            latency=self._latency.stats(),
            queued=self._queue.waiting,
            dropped=self._dropped_in + self._queue.dropped + self._hub.dropped,
            connected_since=self._connected_at if self._conn is not None else None,
            connections=self._connections,
            total_reconnects=self._total_reconnects,
        )

    def _retry_counter(self, now: float) -> int:
        at = self._connected_at
        if (
            at is not None
            and self._conn is not None
            and now - at >= self._options.reconnect_reset_after
        ):
            return 0
        return self._retry

    # ------------------------------------------------------------------- options

    def update_options(self, **changes: Any) -> None:
        """Change options, validated like the constructor (ValueError/TypeError).

        Connection settings (url, fallback_urls, headers, ...) apply from the next
        connection attempt; heartbeat settings, hooks, interceptors and the outgoing
        queue's bound and policy at once; ``incoming_queue_limit`` from the next
        connect cycle after a close.
        """
        options = self._options.evolve(**changes)
        self._options = options
        self._apply_options(options)
        limit = options.message_queue_limit
        self._queue.limit = DEFAULT_QUEUE_LIMIT if limit is None else limit
        self._queue.overflow = options.message_queue_overflow
        if "logger" in changes:
            self._log = Log(options.logger)
        self._hb_changed.set()
        self._hb_changed = trio.Event()

    def _apply_options(self, o: WSConnectionOptions) -> None:
        # Hot-path copies, so the receive path reads plain attributes.
        self._auto_json = o.auto_json
        self._in_interceptors = o.incoming_message_interceptors
        self._block_incoming = o.incoming_overflow == "block"
        self._pong_expected: object = (
            o.expected_pong_message
            if o.heartbeat_enabled and o.heartbeat_mode == "message"
            else _NO_PONG
        )
        self._send_plain = not (o.on_before_send or o.outgoing_message_interceptors)
        self._hub.set_option_callbacks(
            {
                "open": o.on_open,
                "message": o.on_message,
                "close": o.on_close,
                "error": o.on_error,
            }
        )
        if hasattr(self, "_dispatcher_started"):
            self._maybe_start_dispatcher()

    # -------------------------------------------------------------------- events

    def _maybe_start_dispatcher(self) -> None:
        if self._hub.needs_dispatcher and not self._dispatcher_started and self._nursery:
            self._dispatcher_started = True
            self._nursery.start_soon(self._hub.run_dispatcher)

    def add_event_listener(self, type: str | EventType, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(event)`` for every event of ``type`` (sync or async).

        A listener that raises is logged and reported as an ``error`` event; it never
        affects the connection. Async listeners run in order in a dispatcher task.
        """
        self._hub.add_listener(str(type), callback)
        self._maybe_start_dispatcher()

    def remove_event_listener(self, type: str | EventType, callback: Callable[[Any], Any]) -> bool:
        """Remove one registration of ``callback``; True if there was one."""
        return self._hub.remove_listener(str(type), callback)

    def dispatch_event(self, type: str | EventType, event: object) -> None:
        """Deliver ``event`` (any object, unchanged) to the listeners of ``type``."""
        self._hub.emit(str(type), event)

    def subscribe(self, *types: str | EventType, max_buffer_size: int = 256) -> Subscription:
        """A bounded stream of events: ``async with ws.subscribe("open") as events:``.

        No ``types`` means every built-in type. A full subscription misses events
        (counted in ``Subscription.missed``); it never slows the connection.
        """
        if max_buffer_size < 1:
            raise ValueError(f"max_buffer_size: must be >= 1, got {max_buffer_size!r}")
        return Subscription(self._hub, frozenset(map(str, types)) or None, max_buffer_size)

    def _emit(self, type: str, build: Callable[[], object]) -> None:
        if self._hub.wants(type):
            self._hub.emit(type, build())

    def _report(self, exc: BaseException, context: str) -> None:
        """Log an error that did not end the connection and emit it as ``error``."""
        # A failed connect attempt is routine in a retry loop: one line, no traceback.
        trace = None if context == "connect" else exc
        self._log.warning("%s error: %s: %s", context, type(exc).__name__, exc, exc=trace)
        # A failing error listener, or an error event the dispatcher had no room for,
        # is logged only: reporting it as another error event could recurse.
        if context not in ("error-listener", "dispatch") and self._hub.wants("error"):
            self._hub.emit(
                "error",
                ErrorEvent(type="error", timestamp=trio.current_time(), error=exc, context=context),
            )

    # ------------------------------------------------------------------ connect

    async def connect(self) -> ManagedConnection:
        """Connect (url, then each fallback; with ``auto_reconnect``, retries with
        backoff) and return the open :class:`trio_websocket.WebSocketConnection`.

        Idempotent while open; while a connect or reconnect cycle runs, waits for
        it. Raises :class:`ConnectionFailed` (every attempt's error in ``.attempts``)
        when the cycle gives up.

        Cancellation: cancelling the call that started the cycle stops the cycle
        (state goes back to ``CLOSED``); cancelling a call that joined a running
        reconnect cycle only stops waiting.
        """
        self._require_running()
        await self._wait_for_ending_supervisor()
        conn = self._conn
        if conn is not None and conn.closed is None and self._state is ConnectionState.OPEN:
            await trio.lowlevel.checkpoint()
            return conn
        for _ in range(2):
            started = self._start_supervisor()
            outcome = self._current_outcome()
            try:
                await outcome.event.wait()
            except trio.Cancelled:
                if started and not outcome.event.is_set() and self._sup_scope is not None:
                    self._sup_scope.cancel()
                    if self._live is None:
                        self._state = ConnectionState.CLOSED
                raise
            if started or not isinstance(outcome.error, _CycleEnded):
                break
            # We joined a cycle that was ending (its connection had just died and
            # it will not reconnect): start a fresh one instead of failing.
            if self._sup_done is not None:
                await self._sup_done.wait()
        return outcome.unwrap()

    async def manual_reconnect(self) -> ManagedConnection:
        """Close the current connection (handshake bounded by ``CLOSE_TIMEOUT``) and
        connect anew, without backoff and without counting a retry.

        Only one socket exists at any time: the old one is closed before the new one
        opens. During a reconnect delay, skips the rest of the delay. Cancellation
        stops waiting; the reconnect itself goes on.
        """
        self._require_running()
        await self._wait_for_ending_supervisor()
        if not self._supervising:
            return await self.connect()
        outcome = self._current_outcome()
        live = self._live
        if live is not None and live.opened:
            self._manual_pending = True
            await self._close_connection(live, 1000, "manual reconnect")
        else:
            if self._skip_backoff is not None:
                self._skip_backoff.set()
        await outcome.event.wait()
        return outcome.unwrap()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with a close handshake (bounded by ``CLOSE_TIMEOUT``) and stop
        reconnecting. ``connect()`` may open again later.

        Ends ``async for`` iteration; queued messages stay queued for a later
        connect(). If cancelled, the socket is still closed, without waiting.
        """
        if not 1000 <= code <= 4999 or code in (1004, 1005, 1006, 1015):
            raise ValueError(f"code: {code!r} cannot be sent in a close frame")
        if self._destroyed or not self._supervising:
            await trio.lowlevel.checkpoint()
            return
        self._close_request = (code, reason)
        await self._graceful_close(code, reason, ConnectionState.CLOSING)
        if self._sup_scope is not None:
            self._sup_scope.cancel()
        if self._sup_done is not None:
            await self._sup_done.wait()

    async def _graceful_close(self, code: int, reason: str, state: ConnectionState) -> None:
        live = self._live
        if live is not None:
            self._state = state
            await self._close_connection(live, code, reason)

    async def _close_connection(self, live: _Live, code: int, reason: str) -> None:
        if live.local_close is None:
            live.local_close = (code, reason)
        try:
            with trio.move_on_after(CLOSE_TIMEOUT):
                await live.conn.aclose(code, reason)
        finally:
            # Bounded out or cancelled: close the stream without waiting for the peer.
            live.scope.cancel()
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(live.conn.stream)

    def _current_outcome(self) -> _Outcome:
        if self._outcome is None:
            self._outcome = _Outcome()
        return self._outcome

    async def _wait_for_ending_supervisor(self) -> None:
        # A supervisor that was told to stop (close(), a cancelled first connect())
        # may still be winding down: a new cycle must not join it.
        scope = self._sup_scope
        if self._supervising and (
            self._close_request is not None or (scope is not None and scope.cancel_called)
        ):
            assert self._sup_done is not None
            await self._sup_done.wait()
        else:
            await trio.lowlevel.checkpoint_if_cancelled()

    def _start_supervisor(self) -> bool:
        if self._supervising:
            return False
        nursery = self._require_running()
        if self._in_send._closed:  # a previous cycle ended for good: fresh stream
            self._in_send, self._in_recv = trio.open_memory_channel[Any](
                self._options.incoming_queue_limit
            )
        self._supervising = True
        self._close_request = None
        self._sup_done = trio.Event()
        self._sup_scope = trio.CancelScope()
        self._state = ConnectionState.CONNECTING
        nursery.start_soon(self._supervise, self._sup_scope)
        return True

    async def _supervise(self, scope: trio.CancelScope) -> None:
        attempts: list[tuple[str, BaseException]] = []
        final_error: BaseException | None = None
        try:
            with scope:
                final_error = await self._supervise_loop(attempts)
        except Exception as exc:  # a bug: report it rather than crash the user's nursery
            self._log.error("supervisor crashed", exc=exc)
            final_error = ConnectionFailed("internal error in the connection supervisor", attempts)
            final_error.__cause__ = exc
        finally:
            if final_error is None and scope.cancelled_caught:
                reason = "closed" if self._close_request else "cancelled"
                final_error = ConnectionFailed(f"the connect cycle was {reason}", attempts)
            self._supervising = False
            self._finish(final_error)
            if self._sup_done is not None:
                self._sup_done.set()

    async def _supervise_loop(
        self, attempts: list[tuple[str, BaseException]]
    ) -> BaseException | None:
        close_event: CloseEvent | None = None
        while True:
            opened_at, close_event_or_none, fatal = await self._round(attempts)
            if close_event_or_none is not None:
                close_event = close_event_or_none
            if opened_at is not None:
                # A connection opened and has now ended.
                attempts.clear()
                if self._close_request is not None:
                    return None
                if close_event is not None and close_event.code in self._options.fatal_close_codes:
                    self._log.info("close code %d is fatal: not reconnecting", close_event.code)
                    return None
                if self._manual_pending:
                    self._manual_pending = False
                    self._state = ConnectionState.RECONNECTING
                    continue
                if trio.current_time() - opened_at >= self._options.reconnect_reset_after:
                    self._retry = 0
                if not self._options.auto_reconnect:
                    return None
            elif fatal is not None or not self._options.auto_reconnect:
                return self._give_up(attempts, "connect failed")
            # Retry decision.
            options = self._options
            attempt = self._retry + 1
            limit = options.max_reconnect_attempts
            if limit is not None and attempt > limit:
                return self._give_up(attempts, f"gave up after {limit} retries")
            if options.on_before_reconnect is not None:
                try:
                    go_on = await _call(options.on_before_reconnect, attempt, close_event)
                except Exception as exc:
                    self._report(exc, "on_before_reconnect")
                    go_on = True
                if go_on is False:
                    self._log.info("on_before_reconnect returned False: not reconnecting")
                    return self._give_up(attempts, "reconnect cancelled by on_before_reconnect")
            self._retry = attempt
            self._state = ConnectionState.RECONNECTING
            url = redact_url(options.url) if options.url_provider is None else "<url_provider>"
            delay = reconnect_delay(
                options.reconnect_strategy,
                attempt,
                interval=options.reconnect_interval,
                max_interval=options.max_reconnect_interval,
                jitter=options.jitter,
            )
            self._log.info("reconnect attempt %d in %.3fs", attempt, delay)
            if self._hub.wants("reconnectAttempt"):
                self._hub.emit(
                    "reconnectAttempt",
                    ReconnectAttemptEvent(
                        type="reconnectAttempt",
                        timestamp=trio.current_time(),
                        attempt=attempt,
                        url=url,
                        delay=delay,
                    ),
                )
            self._skip_backoff = trio.Event()
            with trio.move_on_after(delay):
                await self._skip_backoff.wait()
            self._total_reconnects += 1
            self._pending_success = attempt
            if self._hub.wants("reconnect"):
                self._hub.emit(
                    "reconnect",
                    ReconnectEvent(
                        type="reconnect", timestamp=trio.current_time(), attempt=attempt, url=url
                    ),
                )

    def _give_up(self, attempts: list[tuple[str, BaseException]], why: str) -> BaseException | None:
        if not attempts:
            return None
        error = ConnectionFailed(f"{why} ({len(attempts)} attempts)", list(attempts))
        error.__cause__ = attempts[-1][1]
        return error

    async def _round(
        self, attempts: list[tuple[str, BaseException]]
    ) -> tuple[float | None, CloseEvent | None, BaseException | None]:
        """Try each URL once; run the first connection that opens until it ends.

        Returns ``(opened_at, close_event, fatal_error)``.
        """
        options = self._options
        urls: list[str] = []
        if options.url_provider is not None:
            try:
                url = await options.url_provider()
                split_url(url, option="url_provider()")
                urls.append(url)
            except Exception as exc:
                attempts.append(("<url_provider>", exc))
                self._log.warning("url_provider failed: %s: %s", type(exc).__name__, exc)
                if _is_fatal_connect_error(exc):
                    return None, None, exc
            urls.extend(options.fallback_urls)
        else:
            urls.extend(options.urls())
        for url in urls:
            opened_at, close_event, error = await self._run_connection(url)
            if opened_at is not None:
                return opened_at, close_event, None
            assert error is not None
            attempts.append((redact_url(url), error))
            if self._close_request is not None:
                return None, None, error  # close()/aclose() interrupted it: no retry
            self._report(error, "connect")
            if _is_fatal_connect_error(error):
                return None, None, error
        return None, None, None

    async def _run_connection(
        self, url: str
    ) -> tuple[float | None, CloseEvent | None, BaseException | None]:
        """Open ``url`` and run the connection until it ends.

        Returns ``(opened_at, close_event, None)`` for a connection that opened, or
        ``(None, None, error)`` for one that did not.
        """
        options = self._options
        secure = split_url(url)[0]
        ssl_context = None
        if secure:
            ssl_context = options.ssl_context or self._get_default_ssl()
        failure: BaseException | None = None
        live: _Live | None = None
        opened_at: float | None = None
        close_event: CloseEvent | None = None
        assert self._live is None, "one connection at a time"
        try:
            # The nursery's cancel scope is the connection's scope (live.scope).
            async with trio.open_nursery() as nursery:
                # No `return` in here: a cancelled scope would swallow it.
                failure, live = await self._open_live(nursery, url, ssl_context)
                if failure is None:
                    assert live is not None
                    opened_at = self._on_open(live)
                    live.nursery = nursery
                    if self._queue:
                        self._start_flusher(live)
                    # The heartbeat runs in this task until the reader stops
                    # (_on_reader_done then cancels the scope): no task of its own.
                    if not live.conn.pw_reader_done.is_set():
                        await self._heartbeat(live)
                    # The heartbeat may stop first (its ping met a closing socket).
                    await live.conn.pw_reader_done.wait()
                nursery.cancel_scope.cancel()
        finally:
            if live is None:
                # Interrupted during on_connect (aclose(), a cancelled connect()):
                # the connection exists, _open_live had no chance to return it.
                live = self._live
            if live is not None:
                with trio.CancelScope(shield=True):
                    # Interrupts any writer still blocked on this stream.
                    await trio.aclose_forcefully(live.conn.stream)
                close_event = self._on_connection_end(live)
        if opened_at is not None:
            return opened_at, close_event, None
        if failure is None:  # the set-up was interrupted (dropped during on_connect)
            if live is not None and live.abandoned:
                why = live.abandoned
            elif self._close_request is not None:
                why = "closed by close() or aclose()"
            else:
                why = "interrupted"
            failure = ConnectionLost(f"the connection was lost while being set up: {why}")
        return None, None, failure

    async def _open_live(
        self,
        nursery: trio.Nursery,
        url: str,
        ssl_context: ssl.SSLContext | None,
    ) -> tuple[BaseException | None, _Live | None]:
        """Open the connection and run ``on_connect``: ``(failure, live)``."""
        options = self._options
        _, host, port, resource = split_url(url)
        try:
            with trio.fail_after(options.connection_timeout):
                conn = await open_connection(
                    nursery,
                    url,
                    host=host,
                    port=port,
                    resource=resource,
                    ssl_context=ssl_context,
                    stream_opener=self._stream_opener,
                    subprotocols=options.protocols,
                    headers=options.headers,
                    max_message_size=options.max_message_size,
                    receive_buffer_size=options.receive_buffer_size,
                    on_message=self._on_frame,
                    on_pong=self._on_protocol_pong,
                    on_write_interrupted=self._on_write_interrupted,
                    on_reader_done=self._on_reader_done,
                )
        except trio.TooSlowError:
            return TimeoutError(
                f"no WebSocket handshake within connection_timeout={options.connection_timeout}s"
            ), None
        except Exception as exc:
            return exc, None
        live = _Live(conn, url, nursery.cancel_scope)
        self._live = live
        self._last_rx = trio.current_time()
        if options.on_connect is not None:
            token = _ON_CONNECT.set(self)
            try:
                await options.on_connect(self)
            except Exception as exc:
                self._log.warning("on_connect failed: %s: %s", type(exc).__name__, exc)
                return self._fatal_close_error(conn) or exc, live
            finally:
                _ON_CONNECT.reset(token)
            if conn.pw_reader_done.is_set():
                return self._fatal_close_error(conn) or self._lost_error(
                    conn, "during on_connect"
                ), live
        return None, live

    def _fatal_close_error(self, conn: ManagedConnection) -> ConnectionLost | None:
        """A peer close with one of ``fatal_close_codes`` while setting up: stop."""
        reason = conn.closed
        if reason is None or reason.code not in self._options.fatal_close_codes:
            return None
        error = ConnectionLost(
            f"the peer closed with fatal code {reason.code} {reason.reason or ''}".strip()
        )
        error.fatal = True
        error.code, error.reason = reason.code, reason.reason or ""  # type: ignore[attr-defined]
        return error

    def _lost_error(self, conn: ManagedConnection, when: str) -> BaseException:
        reason = conn.closed
        if reason is not None:
            return ConnectionLost(f"connection closed {when}: {reason.code} {reason.reason or ''}")
        return ConnectionLost(f"connection lost {when}")

    def _get_default_ssl(self) -> ssl.SSLContext:
        if self._default_ssl is None:
            self._default_ssl = ssl.create_default_context()
        return self._default_ssl

    def _on_open(self, live: _Live) -> float:
        now = trio.current_time()
        live.opened = True
        self._conn = live.conn
        self._current_url = live.url
        self._connected_at = now
        self._connections += 1
        self._state = ConnectionState.OPEN
        for waiter in self._waiters:
            waiter.armed = True
        safe_url = redact_url(live.url)
        self._log.info("connected to %s", safe_url)
        self._emit("open", lambda: OpenEvent(type="open", timestamp=now, url=safe_url))
        attempt = self._pending_success
        if attempt is not None:
            self._pending_success = None
            self._emit(
                "reconnectSuccess",
                lambda: ReconnectSuccessEvent(
                    type="reconnectSuccess", timestamp=now, attempt=attempt, url=safe_url
                ),
            )
        outcome, self._outcome = self._outcome, None
        if outcome is not None:
            outcome.resolve(live.conn, None)
        return now

    def _on_connection_end(self, live: _Live) -> CloseEvent | None:
        """Book-keeping after a connection ended; emits and returns its close event
        (None for a connection that never opened)."""
        conn = live.conn
        if self._live is live:
            self._live = None
        if self._conn is conn:
            self._conn = None
        if live.abandoned is not None:
            code, reason, clean = 1006, live.abandoned, False
        elif live.local_close is not None:
            code, reason = live.local_close
            clean = conn._close_handshake.is_set() and conn._wsproto.state.name == "CLOSED"
        elif conn.closed is not None:
            code, reason = conn.closed.code, conn.closed.reason or ""
            clean = code != 1006
            if code == 1006 and not reason:
                reason = "connection lost (no close frame)"
        else:
            code, reason, clean = 1006, "connection lost", False
        for waiter in self._waiters:
            if waiter.armed:
                waiter.fail(ConnectionLost(f"the connection closed ({code} {reason})".strip()))
        event = CloseEvent(
            type="close",
            timestamp=trio.current_time(),
            code=code,
            reason=reason,
            was_clean=clean,
            url=redact_url(live.url),
        )
        if not live.opened:
            return None
        if self._state is ConnectionState.OPEN:
            self._state = ConnectionState.RECONNECTING
        self._connected_at = None
        self._ping_sent = None
        self._log.info("connection to %s closed: %d %s", redact_url(live.url), code, reason)
        if self._hub.wants("close"):
            self._hub.emit("close", event)
        return event

    def _finish(self, error: BaseException | None) -> None:
        """The cycle ended for good: CLOSED, iteration ends, waiters fail."""
        if self._live is None:
            self._state = ConnectionState.CLOSED
        outcome, self._outcome = self._outcome, None
        if outcome is not None and not outcome.event.is_set():
            outcome.resolve(
                None, error or _CycleEnded("the connection closed before it opened", [])
            )
        self._in_send.close()
        for waiter in self._waiters:
            waiter.fail(ConnectionLost("the connection was closed for good"))
        if self._live is None:
            self._state = ConnectionState.CLOSED

    # ------------------------------------------------------------------ receive

    async def _on_frame(self, raw: str | bytes) -> None:
        """The receive path, run inline in trio-websocket's reader task."""
        self._last_rx = trio.current_time()
        data: Any = raw
        if self._auto_json and raw.__class__ is str:
            try:
                data = loads(raw)
            except ValueError:
                pass
        if self._in_interceptors:
            for interceptor in self._in_interceptors:
                try:
                    data = interceptor(data)
                    if inspect.isawaitable(data):
                        data = await data
                except Exception as exc:
                    self._report(exc, "incoming_interceptor")
                    return
                if data is DROP:
                    return
        if self._pong_expected is not _NO_PONG:
            try:
                is_pong = bool(data == self._pong_expected)
            except Exception:
                is_pong = False
            if is_pong:
                self._on_pong()
                return
        self._received += 1
        if self._waiters:
            for waiter in tuple(self._waiters):
                waiter.offer(data)
        if self._hub.wants_message:
            self._hub.emit(
                "message", MessageEvent(type="message", timestamp=self._last_rx, data=data)
            )
        try:
            self._in_send.send_nowait(data)
        except trio.WouldBlock:
            try:
                await self._on_incoming_full(data)
            except trio.ClosedResourceError:
                pass
        except trio.ClosedResourceError:
            pass

    async def _on_incoming_full(self, data: Any) -> None:
        """The buffer is full. The reader parses a whole socket read without yielding,
        so a consumer that is keeping up may simply not have run yet: hand over in
        batches by waiting until it drained the buffer to half. "block" waits as long
        as that takes; "drop-oldest" waits at most DRAIN_GRACE, once per overflow
        episode, for a consumer that iterates (and once for one about to start);
        then it drops the oldest.
        Time spent here never counts toward a heartbeat timeout.
        """
        # The very first overflow also waits: a burst can arrive before a consumer's
        # first __anext__ (listener-only users pay this grace once, ever).
        grace = self._consumer_seen or not self._overflowed_once
        self._overflowed_once = True
        if self._block_incoming or (grace and not self._in_overflowing):
            self._drained = trio.Event()
            self._rx_unblocked = trio.Event()
            self._rx_blocked = True
            try:
                if self._block_incoming:
                    while True:
                        assert self._drained is not None
                        await self._drained.wait()
                        try:
                            self._in_send.send_nowait(data)
                        except trio.WouldBlock:
                            self._drained = trio.Event()
                            continue
                        return
                with trio.move_on_after(DRAIN_GRACE):
                    await self._drained.wait()
            finally:
                self._rx_blocked = False
                self._last_rx = trio.current_time()
                if self._rx_unblocked is not None:
                    self._rx_unblocked.set()
                    self._rx_unblocked = None
            try:
                self._in_send.send_nowait(data)
                return
            except trio.WouldBlock:
                pass
        self._in_recv.receive_nowait()
        self._dropped_in += 1
        self._in_send.send_nowait(data)
        if not self._in_overflowing:
            self._in_overflowing = True
            self._report(
                OverflowError(
                    f"incoming buffer full ({self._options.incoming_queue_limit} messages): "
                    "dropping the oldest; iterate faster, raise incoming_queue_limit, "
                    "or use incoming_overflow='block'"
                ),
                "incoming_overflow",
            )

    def _after_receive(self) -> None:
        # Only while the reader waits, or an overflow episode runs: wake the reader
        # (or end the episode) once the consumer has drained the buffer to half.
        used = self._in_recv.statistics().current_buffer_used
        if used <= self._options.incoming_queue_limit // 2:
            if self._drained is not None:
                self._drained.set()
            self._in_overflowing = False

    async def receive(self) -> Any:
        """The next message, across reconnects.

        Raises :class:`trio.EndOfChannel` once the manager is closed for good and
        the buffer is drained. Safe to cancel: no message is lost.
        """
        self._consumer_seen = True
        value = await self._in_recv.receive()
        if self._rx_blocked or self._in_overflowing:
            self._after_receive()
        return value

    def __aiter__(self) -> AdvancedWebSocket:
        return self

    async def __anext__(self) -> Any:
        self._consumer_seen = True
        try:
            value = await self._in_recv.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None
        if self._rx_blocked or self._in_overflowing:
            self._after_receive()
        return value

    # ----------------------------------------------------------------- heartbeat

    def _on_pong(self) -> None:
        now = trio.current_time()
        sent = self._ping_sent
        if sent is None:
            return
        self._ping_sent = None
        latency = now - sent
        self._latency.add(latency)
        self._pong_event.set()
        self._emit("pong", lambda: PongEvent(type="pong", timestamp=now, latency=latency))

    def _on_protocol_pong(self, payload: bytes) -> None:
        self._last_rx = trio.current_time()
        if payload == self._ping_payload:
            self._ping_payload = None
            self._on_pong()

    def _on_reader_done(self, conn: ManagedConnection) -> None:
        # The connection can carry no more replies: fail waiting calls at once
        # (also while on_connect runs, before the connection ever opened).
        live = self._live
        if live is not None and live.conn is conn:
            if live.opened:
                live.scope.cancel()  # ends the heartbeat and the flusher
            reason = conn.closed
            text = f"{reason.code} {reason.reason or ''}".strip() if reason else "lost"
            for waiter in self._waiters:
                if waiter.armed:
                    waiter.fail(ConnectionLost(f"the connection closed ({text})"))

    def _on_write_interrupted(self, conn: ManagedConnection) -> None:
        live = self._live
        if live is not None and live.conn is conn and conn.closed is None:
            self._abandon(live, "a write was cancelled half-way")

    def _abandon(self, live: _Live, why: str) -> None:
        """Drop a connection at once, without waiting for a close handshake."""
        if live.abandoned is None:
            live.abandoned = why
            self._log.warning("dropping connection to %s: %s", redact_url(live.url), why)
        live.scope.cancel()

    async def _heartbeat(self, live: _Live) -> None:
        conn = live.conn
        last_ping = trio.current_time()
        while True:
            options = self._options
            interval = options.heartbeat_interval
            changed = self._hb_changed
            if interval is None:
                await changed.wait()
                continue
            with trio.move_on_at(last_ping + interval):
                await changed.wait()
                continue  # settings changed: recompute the deadline
            self._pong_event = pong = trio.Event()
            sent = last_ping = trio.current_time()
            self._ping_sent = sent
            try:
                if options.heartbeat_mode == "protocol":
                    payload = b"pw%d" % next(_ping_ids)
                    self._ping_payload = payload
                    await conn.pw_send_ping(payload)
                else:
                    message = options.heartbeat_message
                    if not isinstance(message, (str, bytes)):
                        message = dumps(message)
                    await conn.send_message(message)
            except ConnectionClosed:
                return
            except (TypeError, ValueError) as exc:
                self._report(exc, "heartbeat")
                continue
            self._emit("ping", lambda: PingEvent(type="ping", timestamp=trio.current_time()))
            while not pong.is_set():
                deadline = max(sent, self._last_rx) + self._options.heartbeat_timeout
                with trio.move_on_at(deadline):
                    await pong.wait()
                if pong.is_set():
                    break
                if self._rx_blocked:
                    # The consumer, not the peer, is holding the reader up.
                    assert self._rx_unblocked is not None
                    await self._rx_unblocked.wait()
                    continue
                if (
                    trio.current_time()
                    >= max(sent, self._last_rx) + self._options.heartbeat_timeout
                ):
                    self._abandon(
                        live, f"heartbeat timeout ({self._options.heartbeat_timeout}s of silence)"
                    )
                    return

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
        if self._destroyed:
            raise Destroyed("this AdvancedWebSocket was closed for good (aclose)")
        conn = self._conn
        if conn is None and _ON_CONNECT.get() is self and self._live is not None:
            conn = self._live.conn  # on_connect: straight to the new connection
        elif conn is not None and self._queue and not urgent and _ON_CONNECT.get() is not self:
            conn = None  # older messages are still queued: keep the order
        if conn is None and urgent:
            raise NotConnected(f"not connected (state {self._state.value}): urgent send refused")
        if conn is None:
            if not self._options.queue_messages:
                raise NotConnected(
                    f"not connected (state {self._state.value}) and queue_messages is off"
                )
            await trio.lowlevel.checkpoint_if_cancelled()
            self._queue.put(data)
            self._wake_flusher()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        if self._send_plain and (data.__class__ is str or data.__class__ is bytes):
            frame: str | bytes = data
            final: Any = data
        else:
            prepared = await self._prepare(data)
            if prepared is None:
                await trio.lowlevel.checkpoint()
                return
            final, frame = prepared
        try:
            await conn.send_message(frame)
        except ConnectionClosed as exc:
            if self._options.queue_messages and not urgent:
                item = QueueItem(data)
                item.prepared, item.frame, item.data = True, frame, final
                self._queue.put_front(item)
                self._wake_flusher()
                return
            raise ConnectionLost("the connection closed while sending") from exc
        self._sent += 1
        hook = self._options.on_after_send
        if hook is not None:
            await _call(hook, final)

    async def _prepare(self, data: Any) -> tuple[Any, str | bytes] | None:
        """Run hooks, interceptors and the encoder; None means DROP."""
        options = self._options
        message = data
        if options.on_before_send is not None:
            message = await _call(options.on_before_send, message)
            if message is DROP:
                return None
        for interceptor in options.outgoing_message_interceptors:
            message = await _call(interceptor, message)
            if message is DROP:
                return None
        if isinstance(message, (str, bytes)):
            return message, message
        if isinstance(message, (bytearray, memoryview)):
            return message, bytes(message)
        if options.auto_json:
            return message, dumps(message)
        raise TypeError(
            f"cannot send {type(message).__name__}: pass str or bytes, or enable auto_json"
        )

    def _start_flusher(self, live: _Live) -> None:
        # live.nursery is set once the connection opened. While the reader runs, that
        # nursery is open (the reader is one of its children); once it stopped, the
        # connection can write nothing more anyway.
        if not live.flusher and live.nursery is not None and not live.conn.pw_reader_done.is_set():
            live.flusher = True
            live.nursery.start_soon(self._flusher, live)

    def _wake_flusher(self) -> None:
        """Something was queued: make sure a flusher runs while connected."""
        if self._live is not None:
            self._start_flusher(self._live)  # a no-op until the connection opened

    def _note_queue_empty(self) -> None:
        if not self._queue and self._queue_empty is not None:
            self._queue_empty.set()
            self._queue_empty = None

    async def wait_flushed(self) -> None:
        """Wait until the outgoing queue is empty: every queued message was written
        (or dropped by a failing hook, or cleared).

        Returns at once when nothing is queued. Safe to cancel.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        while self._queue:
            if self._queue_empty is None:
                self._queue_empty = trio.Event()
            await self._queue_empty.wait()
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def _flusher(self, live: _Live) -> None:
        """Write the queue, oldest first, until it is empty, then end: an idle
        connection has no flusher task, and the next put starts one."""
        conn = live.conn
        queue = self._queue
        while queue:
            item = queue.peek()
            if not item.prepared:
                try:
                    prepared = await self._prepare(item.data)
                except Exception as exc:
                    queue.drop(item)
                    self._report(exc, "flush")
                    continue
                if prepared is None:
                    queue.remove(item)
                    continue
                item.prepared = True
                item.data, item.frame = prepared
            assert item.frame is not None
            queue.in_flight = item
            try:
                await conn.send_message(item.frame)
            except ConnectionClosed:
                # The item stays queued for the next connection; live.flusher
                # stays set: no new flusher for this connection.
                return
            finally:
                queue.in_flight = None
            if queue.remove(item):
                self._sent += 1
                hook = self._options.on_after_send
                if hook is not None:
                    try:
                        await _call(hook, item.data)
                    except Exception as exc:
                        self._report(exc, "on_after_send")
        # No checkpoint since the queue was seen empty: a put from now on starts a
        # new flusher.
        live.flusher = False
        self._note_queue_empty()

    def clear_message_queue(self) -> int:
        """Drop every queued message; return how many were dropped."""
        dropped = self._queue.clear()
        self._note_queue_empty()
        return dropped

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
        if not callable(predicate):
            raise TypeError(f"predicate: expected a callable, got {type(predicate).__name__}")
        waiter = _Waiter(predicate, armed=self._live is not None)
        self._waiters.append(waiter)
        try:
            with trio.move_on_after(timeout) as cancel:
                await self.send(message, urgent=urgent)
                await waiter.event.wait()
            if cancel.cancelled_caught and not waiter.event.is_set():
                raise ResponseTimeout(f"no matching response within {timeout}s")
        finally:
            self._waiters.remove(waiter)
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    def __repr__(self) -> str:
        return (
            f"<AdvancedWebSocket {redact_url(self._options.url)} state={self._state.value} "
            f"queued={len(self._queue)}>"
        )


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    result: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            result.extend(_leaves(exc))
        else:
            result.append(exc)
    return result


class open_websocket:
    """``async with open_websocket(url, **options) as ws:`` — enter and connect.

    Like ``async with AdvancedWebSocket(...)`` followed by ``await ws.connect()``;
    a :class:`ConnectionFailed` from that first connect is raised by ``async with``.
    """

    def __init__(
        self,
        url: str | None = None,
        /,
        *,
        options: WSConnectionOptions | None = None,
        stream_opener: StreamOpener | None = None,
        **kwargs: Any,
    ) -> None:
        if options is None:
            if url is None:
                raise TypeError("open_websocket: pass a url or options=")
            options = WSConnectionOptions(url=url, **kwargs)
        else:
            changes = dict(kwargs)
            if url is not None:
                changes["url"] = url
            options = options.evolve(**changes) if changes else options
        self._ws = AdvancedWebSocket(options, stream_opener=stream_opener)

    async def __aenter__(self) -> AdvancedWebSocket:
        ws = await self._ws.__aenter__()
        try:
            await ws.connect()
        except BaseException as exc:
            await ws.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return ws

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return await self._ws.__aexit__(exc_type, exc, tb)
