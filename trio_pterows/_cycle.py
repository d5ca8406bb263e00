"""The supervisor: connect rounds over url + fallbacks, backoff, reconnect (internal).

One connect *cycle* runs from ``connect()`` until the manager stops for good (close(),
aclose(), retries exhausted, a fatal error, or a lost connection without
auto_reconnect). Each *round* tries the URL (or ``url_provider``'s) then every fallback
once and runs the first connection that opens until it ends (:mod:`._live`). Between
rounds, :class:`RetryPolicy` decides, ``on_before_reconnect`` may cancel, and the
backoff delay runs. The cycle's own phase is :class:`CyclePhase`.
"""

from __future__ import annotations

import enum

import attrs
import trio

from ._backoff import reconnect_delay
from ._context import Shared
from ._events import (
    CloseEvent,
    ConnectionState,
    ReconnectAttemptEvent,
    ReconnectEvent,
    ReconnectSuccessEvent,
)
from ._exceptions import ConnectionFailed, ConnectionLost
from ._handle import Connection
from ._live import Live, LiveEnd, LiveRunner, Opened
from ._options import redact_url, split_url
from ._retry import RetryPolicy, close_is_fatal, connect_error_is_fatal
from ._state import StateCell, check_transition
from ._util import Pulse, call, close_text
from .transports._base import HandshakeError

__all__ = ["CyclePhase", "Supervisor"]

Attempts = list[tuple[str, BaseException]]


class CyclePhase(enum.Enum):
    IDLE = "idle"  #: no cycle runs
    RUNNING = "running"
    STOPPING = "stopping"  #: told to stop (close(), aclose(), a cancelled connect())


_PHASES = {
    CyclePhase.IDLE: {CyclePhase.RUNNING},
    CyclePhase.RUNNING: {CyclePhase.STOPPING, CyclePhase.IDLE},
    CyclePhase.STOPPING: {CyclePhase.IDLE},
}


@attrs.frozen
class Ran:
    """A round whose connection opened and has now ended."""

    opened: Opened


@attrs.frozen
class AllFailed:
    """A round in which no URL opened; ``fatal`` is the error that stops the cycle."""

    fatal: BaseException | None


class Next(enum.Enum):
    """After a connection ended, when the cycle goes on."""

    RECONNECT_NOW = "reconnect-now"  #: manual_reconnect(): no backoff, no retry counted
    RETRY = "retry"  #: the retry policy decides


#: Without auto_reconnect, a peer close with these codes ends iteration cleanly.
CLEAN_CLOSE_CODES = frozenset({1000, 1001})


@attrs.frozen
class CycleEnd:
    """How a cycle ended: iteration ends cleanly when ``clean``, else raises ``error``;
    connect() waiters get ``error`` unless it is about a connection that had opened
    (``after_open``: they joined too late for it and start a fresh cycle)."""

    error: BaseException | None
    clean: bool = True
    after_open: bool = False


@attrs.frozen
class Connected:
    handle: Connection


@attrs.frozen
class GaveUp:
    error: BaseException


@attrs.frozen
class EndedUnopened:
    """The cycle ended without opening a connection and without a connect error."""


Outcome = Connected | GaveUp | EndedUnopened


class _Outcome:
    """The result of one connect cycle, for everyone waiting in connect()."""

    __slots__ = ("event", "result")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.result: Outcome = EndedUnopened()

    def resolve(self, result: Outcome) -> None:
        if not self.event.is_set():
            self.result = result
            self.event.set()


class Supervisor:
    """The connect cycle of one manager."""

    __slots__ = (
        "_done",
        "_outcome",
        "_pending_success",
        "_phase",
        "_scope",
        "_shared",
        "_skip_backoff",
        "_state",
        "retry",
        "runner",
        "total_reconnects",
    )

    def __init__(self, shared: Shared, state: StateCell, runner: LiveRunner) -> None:
        self._shared = shared
        self._state = state
        self.runner = runner
        self._phase = CyclePhase.IDLE
        self._scope: trio.CancelScope | None = None
        self._done = trio.Event()
        self._done.set()
        self._outcome: _Outcome | None = None  # created when someone waits
        self._skip_backoff = Pulse()
        self._pending_success: int | None = None  # retry number to report on success
        self.retry = RetryPolicy()
        self.total_reconnects = 0

    @property
    def phase(self) -> CyclePhase:
        return self._phase

    def _set_phase(self, new: CyclePhase) -> None:
        check_transition(_PHASES, self._phase, new)
        self._phase = new

    # -- control ---------------------------------------------------------------------

    def start(self, nursery: trio.Nursery) -> bool:
        """Start a cycle unless one runs; True if this call started it."""
        if self._phase is not CyclePhase.IDLE:
            return False
        self.runner.receiver.reopen()  # a previous cycle ended for good: fresh stream
        self._set_phase(CyclePhase.RUNNING)
        self._done = trio.Event()
        self._scope = trio.CancelScope()
        self._state.set(ConnectionState.CONNECTING)
        nursery.start_soon(self._run, self._scope)
        return True

    def outcome(self) -> _Outcome:
        if self._outcome is None:
            self._outcome = _Outcome()
        return self._outcome

    def request_stop(self) -> None:
        """No reconnect after the current connection ends (close() is closing it)."""
        if self._phase is CyclePhase.RUNNING:
            self._set_phase(CyclePhase.STOPPING)

    def stop(self) -> None:
        """Tell the cycle to stop now (it winds down by itself; :meth:`wait_done`)."""
        self.request_stop()
        if self._scope is not None:
            self._scope.cancel()

    async def wait_done(self) -> None:
        await self._done.wait()

    async def wait_if_stopping(self) -> None:
        """A cycle that was told to stop may still be winding down: wait for it."""
        if self._phase is CyclePhase.STOPPING:
            await self._done.wait()
        else:
            await trio.lowlevel.checkpoint_if_cancelled()

    def skip_backoff(self) -> None:
        self._skip_backoff.fire()

    async def connect(self, nursery: trio.Nursery) -> Connection:
        """Start or join a cycle; return its connection or raise why it gave up."""
        while True:
            started = self.start(nursery)
            result = await self.wait_outcome(self.outcome(), started=started)
            if not isinstance(result, EndedUnopened):
                return self.unwrap(result)
            if started:
                raise ConnectionFailed("the connection closed before it opened", [])
            # We joined a cycle that was ending (its connection had just died and
            # it will not reconnect): start a fresh one instead of failing.
            await self._done.wait()

    async def wait_outcome(self, outcome: _Outcome, *, started: bool = False) -> Outcome:
        """Wait for ``outcome``. Cancelled: if this call ``started`` the cycle and it
        has not opened yet, the cycle stops (state goes back to CLOSED)."""
        try:
            await outcome.event.wait()
        except trio.Cancelled:
            if started and not outcome.event.is_set():
                self.stop()
                if not self.runner.set_up:
                    self._state.set(ConnectionState.CLOSED)
            raise
        return outcome.result

    @staticmethod
    def unwrap(result: Outcome) -> Connection:
        if isinstance(result, Connected):
            return result.handle
        if isinstance(result, GaveUp):
            raise result.error
        raise ConnectionFailed("the connection closed before it opened", [])

    # -- the cycle -----------------------------------------------------------------

    async def _run(self, scope: trio.CancelScope) -> None:
        attempts: Attempts = []
        end: CycleEnd | None = None
        try:
            with scope:
                end = await self._loop(attempts)
        except Exception as exc:  # a bug: report it rather than crash the user's nursery
            self._shared.log.log("error", "supervisor crashed", exc=exc)
            error = ConnectionFailed("internal error in the connection supervisor", attempts)
            error.__cause__ = exc
            end = CycleEnd(error, clean=False)
        finally:
            if end is None:  # cancelled: close(), aclose(), a cancelled first connect()
                why = "closed" if self._phase is CyclePhase.STOPPING else "cancelled"
                end = CycleEnd(ConnectionFailed(f"the connect cycle was {why}", attempts))
            self._finish(end)

    async def _loop(self, attempts: Attempts) -> CycleEnd:
        """Rounds until the cycle ends; how it ends (DESIGN §2 "Ending")."""
        close_event: CloseEvent | None = None
        while True:
            result = await self._round(attempts)
            options = self._shared.options
            if isinstance(result, Ran):
                close_event = result.opened.close_event
                attempts.clear()
                after = self._after_connection(result.opened)
                if after is Next.RECONNECT_NOW:
                    continue
                if isinstance(after, CycleEnd):
                    return after
            elif result.fatal is not None or not options.auto_reconnect:
                return self._give_up(attempts, "connect failed", close_event)
            attempt = self.retry.next_attempt(options.max_reconnect_attempts)
            if attempt is None:
                limit = options.max_reconnect_attempts
                return self._give_up(attempts, f"gave up after {limit} retries", close_event)
            if not await self._may_retry(attempt, close_event):
                why = "reconnect cancelled by on_before_reconnect"
                return CycleEnd(_failed(attempts, why) if attempts else None)
            await self._backoff(attempt)

    def _after_connection(self, opened: Opened) -> CycleEnd | Next:
        """A connection opened and ended: how the cycle ends, or how it goes on."""
        options = self._shared.options
        if self._phase is CyclePhase.STOPPING or opened.end is LiveEnd.LOCAL:
            return CycleEnd(None)  # the user ended it
        code, reason = opened.close_event.code, opened.close_event.reason
        text = close_text(code, reason)
        if close_is_fatal(code, options.fatal_close_codes):
            self._shared.log.warning("close code %d is fatal: not reconnecting", code)
            fatal = f"the peer closed with fatal code {text}"
            lost = ConnectionLost(fatal, code=code, reason=reason, fatal=True)
            return CycleEnd(lost, clean=False, after_open=True)
        if opened.end is LiveEnd.MANUAL:
            self._state.set(ConnectionState.RECONNECTING)
            return Next.RECONNECT_NOW
        connected_for = trio.current_time() - opened.opened_at
        self.retry.connection_ended(connected_for, options.reconnect_reset_after)
        if options.auto_reconnect:
            return Next.RETRY
        if code in CLEAN_CLOSE_CODES:
            return CycleEnd(None)
        lost = ConnectionLost(f"the connection closed ({text})", code=code, reason=reason)
        return CycleEnd(lost, clean=False, after_open=True)

    def _give_up(self, attempts: Attempts, why: str, close_event: CloseEvent | None) -> CycleEnd:
        """Retries exhausted or a fatal connect error: iteration raises it."""
        if attempts:
            error: BaseException = _failed(attempts, why)
        elif close_event is not None:  # a lost connection and no retry allowed
            closed = close_text(close_event.code, close_event.reason)
            error = ConnectionFailed(f"{why} (the connection closed: {closed})", [])
        else:
            return CycleEnd(None)
        self._shared.log.warning("giving up: %s", why)
        return CycleEnd(error, clean=False)

    async def _may_retry(self, attempt: int, close_event: CloseEvent | None) -> bool:
        hook = self._shared.options.on_before_reconnect
        if hook is None:
            return True
        try:
            go_on = await call(hook, attempt, close_event)
        except Exception as exc:
            self._shared.report(exc, "on_before_reconnect")
            return True
        if go_on is False:
            self._shared.log.info("on_before_reconnect returned False: not reconnecting")
            return False
        return True

    async def _backoff(self, attempt: int) -> None:
        options = self._shared.options
        self.retry.begin(attempt)
        self._state.set(ConnectionState.RECONNECTING)
        url = redact_url(options.url) if options.url_provider is None else "<url_provider>"
        delay = reconnect_delay(
            options.reconnect_strategy,
            attempt,
            interval=options.reconnect_interval,
            max_interval=options.max_reconnect_interval,
            jitter=options.jitter,
        )
        self._shared.log.info("reconnect attempt %d in %.3fs", attempt, delay)
        self._shared.emit(
            "reconnectAttempt",
            lambda: ReconnectAttemptEvent(
                type="reconnectAttempt",
                timestamp=trio.current_time(),
                attempt=attempt,
                url=url,
                delay=delay,
            ),
        )
        with trio.move_on_after(delay):
            await self._skip_backoff.wait()
        self.total_reconnects += 1
        self._pending_success = attempt
        self._shared.emit(
            "reconnect",
            lambda: ReconnectEvent(
                type="reconnect", timestamp=trio.current_time(), attempt=attempt, url=url
            ),
        )

    async def _urls(self, attempts: Attempts) -> list[str] | BaseException:
        """This round's URLs, or the url_provider's fatal error."""
        options = self._shared.options
        if options.url_provider is None:
            return list(options.urls())
        urls: list[str] = []
        try:
            url = await options.url_provider()
            split_url(url, option="url_provider()")
            urls.append(url)
        except Exception as exc:
            attempts.append(("<url_provider>", exc))
            # Reported like any failed attempt (the console uses url_provider itself:
            # the hook is not named); a fatal error is raised, so it is not logged too.
            fatal = connect_error_is_fatal(exc)
            self._shared.report(exc, "connect", log=not fatal)
            if fatal:
                return exc
        urls.extend(options.fallback_urls)
        return urls

    async def _round(self, attempts: Attempts) -> Ran | AllFailed:
        """Try each URL once; run the first connection that opens until it ends."""
        urls = await self._urls(attempts)
        if isinstance(urls, BaseException):
            return AllFailed(urls)
        for url in urls:
            result = await self.runner.run(url, self._on_open)
            if isinstance(result, Opened):
                return Ran(result)
            error = result.error
            attempts.append((redact_url(url), error))
            if self._phase is CyclePhase.STOPPING:
                return AllFailed(error)  # close()/aclose() interrupted it: no retry
            self._shared.report(error, "connect")
            status = error.status_code if isinstance(error, HandshakeError) else None
            if connect_error_is_fatal(error, refusal_status=status):
                return AllFailed(error)
        return AllFailed(None)

    def _on_open(self, live: Live) -> None:
        attempt = self._pending_success
        if attempt is not None:
            self._pending_success = None
            now, url = trio.current_time(), redact_url(live.url)
            self._shared.emit(
                "reconnectSuccess",
                lambda: ReconnectSuccessEvent(
                    type="reconnectSuccess", timestamp=now, attempt=attempt, url=url
                ),
            )
        outcome, self._outcome = self._outcome, None
        if outcome is not None:
            outcome.resolve(Connected(live.describe()))

    def _finish(self, end: CycleEnd) -> None:
        """The cycle ended for good: CLOSED, iteration ends (cleanly or with the
        reason), connect() waiters get the error, response waiters fail."""
        self._set_phase(CyclePhase.IDLE)
        if not self.runner.set_up:
            self._state.set(ConnectionState.CLOSED)
        self.fail_outcome(None if end.after_open else end.error)
        receiver = self.runner.receiver
        receiver.end(None if end.clean else end.error)
        receiver.fail_waiters(
            ConnectionLost("the connection was closed for good"), armed_only=False
        )
        self._done.set()

    def fail_outcome(self, error: BaseException | None) -> None:
        outcome, self._outcome = self._outcome, None
        if outcome is not None:
            outcome.resolve(GaveUp(error) if error is not None else EndedUnopened())


def _failed(attempts: Attempts, why: str) -> ConnectionFailed:
    error = ConnectionFailed(f"{why} ({len(attempts)} attempts)", list(attempts))
    error.__cause__ = attempts[-1][1]
    return error
