"""The inbound path: run inline in the transport's reader, the incoming buffer, the
response waiters (internal).

:meth:`Receiver.on_message` is the transport handler's ``on_message``: the reader task
calls it for every complete message (JSON decode → incoming interceptors → the
heartbeat's pong check → waiters → ``message`` event → the buffer), with no task hop.
The buffer between the socket and ``async for`` is a bounded ``Inbox`` (_inbox.py); when it is
full the flow goes through :class:`Flow` (see :meth:`Receiver._on_full`).

Hooks for features built on top (internal): :attr:`Receiver.filter` (acks and dedupe,
see :func:`~trio_pterows._delivery.incoming_filter`) runs after the pong check and drops
the message when it returns True; None (one test per message) when both are off.
:attr:`Receiver.on_message_pong` is set by the heartbeat.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from ._codec import loads
from ._context import Shared
from ._events import DROP, MessageEvent
from ._exceptions import ResponseTimeout
from ._inbox import Inbox
from ._state import check_transition

__all__ = ["DRAIN_GRACE", "NO_PONG", "RECEIVE_BATCH", "Flow", "Receiver", "Waiter"]

#: incoming_overflow="drop-oldest": how long the reader waits, once per overflow
#: episode, for an iterating consumer to drain the full buffer before dropping.
DRAIN_GRACE = 0.25
#: receive() / ``async for``: messages taken from the buffer between two schedule points
#: (each call is still a cancel point; an empty buffer always waits in the scheduler).
RECEIVE_BATCH = 64
#: While the reader waits for the consumer: look at the buffer's fill every
#: ``incoming_queue_limit // DRAIN_CHECKS`` messages (every one for small buffers).
DRAIN_CHECKS = 16
#: "No pong message expected" (protocol heartbeat or none).
NO_PONG: Any = object()


class Flow(enum.Enum):
    """Where the incoming buffer's flow is."""

    FLOWING = "flowing"  #: room in the buffer
    BLOCKED = "blocked"  #: the reader waits for the consumer to drain it to half
    DROPPING = "dropping"  #: an overflow episode: the oldest messages are dropped


_FLOW = {
    Flow.FLOWING: {Flow.BLOCKED, Flow.DROPPING},
    Flow.BLOCKED: {Flow.FLOWING, Flow.DROPPING},
    Flow.DROPPING: {Flow.FLOWING, Flow.BLOCKED},
}


class Waiter:
    """A pending ``send_and_wait_response()``."""

    __slots__ = ("armed", "error", "event", "predicate", "result")

    def __init__(self, predicate: Callable[[Any], object], armed: bool) -> None:
        self.predicate = predicate
        #: Failed by a lost connection only once it was sent on one.
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


class Receiver:
    """The inbound path and the incoming buffer of one manager."""

    __slots__ = (
        "_batched",
        "_check_every",
        "_consumer_seen",
        "_drained",
        "_end_error",
        "_flow",
        "_inbox",
        "_overflowed_once",
        "_shared",
        "_since_check",
        "_unblocked",
        "auto_json",
        "block",
        "dropped",
        "filter",
        "interceptors",
        "last_rx",
        "on_message_pong",
        "pong_expected",
        "received",
        "waiters",
    )

    def __init__(self, shared: Shared) -> None:
        self._shared = shared
        limit = shared.options.incoming_queue_limit
        self._inbox = Inbox(limit)
        self._end_error: BaseException | None = None
        self._flow = Flow.FLOWING
        self._drained: trio.Event | None = None
        self._unblocked: trio.Event | None = None
        self._consumer_seen = False
        self._overflowed_once = False
        self._batched = 0
        self._since_check = 0
        self._check_every = max(1, limit // DRAIN_CHECKS)
        self.waiters: list[Waiter] = []
        self.last_rx = 0.0
        self.received = 0
        self.dropped = 0
        #: Set by the heartbeat: a pong message arrived ("message" mode).
        self.on_message_pong: Callable[[], None] = _nothing
        #: ``(message) -> True`` to drop it (an ack, a duplicate); None: no filter.
        self.filter: Callable[[Any], bool] | None = None
        self.apply_options()

    def apply_options(self) -> None:
        """Hot-path copies of the options, so the receive path reads plain attributes."""
        o = self._shared.options
        self.auto_json = o.auto_json
        self.interceptors = o.incoming_message_interceptors
        self.block = o.incoming_overflow == "block"
        self.pong_expected = (
            o.expected_pong_message
            if o.heartbeat_enabled and o.heartbeat_mode == "message"
            else NO_PONG
        )

    # -- the reader's side --------------------------------------------------------

    async def on_message(self, raw: str | bytes) -> None:
        """The receive path, run inline in the transport's reader task."""
        self.last_rx = trio.current_time()
        data: Any = raw
        if self.auto_json and raw.__class__ is str:
            try:
                data = loads(raw)
            except ValueError:
                pass
        if self.interceptors:
            for interceptor in self.interceptors:
                try:
                    data = interceptor(data)
                    if inspect.isawaitable(data):
                        data = await data
                except Exception as exc:
                    self._shared.report(exc, "incoming_interceptor")
                    return
                if data is DROP:
                    return
        if self.pong_expected is not NO_PONG:
            try:
                is_pong = bool(data == self.pong_expected)
            except Exception:
                is_pong = False
            if is_pong:
                self.on_message_pong()
                return
        if self.filter is not None and self.filter(data):
            return
        self.received += 1
        if self.waiters:
            for waiter in tuple(self.waiters):
                waiter.offer(data)
        hub = self._shared.hub
        if hub.wants_message:
            hub.emit("message", MessageEvent(type="message", timestamp=self.last_rx, data=data))
        try:
            self._inbox.send_nowait(data)
        except trio.WouldBlock:
            try:
                await self._on_full(data)
            except trio.ClosedResourceError:
                pass
        except trio.ClosedResourceError:
            pass

    def _set_flow(self, new: Flow) -> None:
        check_transition(_FLOW, self._flow, new)
        self._flow = new

    async def _on_full(self, data: Any) -> None:
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
        waits = self.block or (grace and self._flow is not Flow.DROPPING)
        if waits and await self._wait_drained(data):
            return
        self._inbox.receive_nowait()
        self.dropped += 1
        self._inbox.send_nowait(data)
        if self._flow is not Flow.DROPPING:
            self._set_flow(Flow.DROPPING)
            self._shared.report(
                OverflowError(
                    f"incoming buffer full ({self._shared.options.incoming_queue_limit} "
                    "messages): dropping the oldest; iterate faster, raise "
                    "incoming_queue_limit, or use incoming_overflow='block'"
                ),
                "incoming_overflow",
            )

    async def _wait_drained(self, data: Any) -> bool:
        """BLOCKED until the consumer drained the buffer to half (bounded by DRAIN_GRACE
        unless "block"); True when ``data`` went into the buffer."""
        self._drained = trio.Event()
        self._unblocked = trio.Event()
        self._set_flow(Flow.BLOCKED)
        try:
            if self.block:
                while True:
                    await self._drained.wait()
                    try:
                        self._inbox.send_nowait(data)
                    except trio.WouldBlock:
                        self._drained = trio.Event()
                        continue
                    return True
            with trio.move_on_after(DRAIN_GRACE):
                await self._drained.wait()
        finally:
            self._set_flow(Flow.FLOWING)
            self.last_rx = trio.current_time()
            self._unblocked.set()
            self._unblocked = None
        try:
            self._inbox.send_nowait(data)
        except trio.WouldBlock:
            return False
        return True

    @property
    def flow(self) -> Flow:
        return self._flow

    @property
    def blocked_until(self) -> trio.Event | None:
        """While the consumer (not the peer) holds the reader up: set when it resumes."""
        return self._unblocked

    # -- the consumer's side --------------------------------------------------------

    def _after_receive(self) -> None:
        # Only while the reader waits, or an overflow episode runs: wake the reader
        # (or end the episode) once the consumer has drained the buffer to half.
        used = len(self._inbox)
        if used <= self._shared.options.incoming_queue_limit // 2:
            if self._drained is not None:
                self._drained.set()
            if self._flow is Flow.DROPPING:
                self._set_flow(Flow.FLOWING)

    async def _next(self) -> Any:
        """The next buffered message (waiting for one if none); raises EndOfChannel.

        Every call is a cancel point. A schedule point is taken only when the buffer
        is empty or once every :data:`RECEIVE_BATCH` messages: a consumer draining a
        full buffer does not pay a trip through the scheduler per message.
        """
        self._consumer_seen = True
        recv = self._inbox
        if self._batched < RECEIVE_BATCH:
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                value = recv.receive_nowait()
            except trio.WouldBlock:
                if self._flow is not Flow.FLOWING:
                    self._after_receive()  # empty: wake the reader before waiting
                self._batched = 0
                value = await recv.receive()
            else:
                self._batched += 1
        else:
            self._batched = 0
            value = await recv.receive()
        if self._flow is not Flow.FLOWING:
            self._since_check += 1
            if self._since_check >= self._check_every:
                self._since_check = 0
                self._after_receive()
        return value

    async def receive(self) -> Any:
        """The next message; after :meth:`end`, the buffered ones, then the end's error
        or :class:`trio.EndOfChannel`. Cancellation: no message is lost."""
        try:
            return await self._next()
        except trio.EndOfChannel:
            if self._end_error is not None:
                raise self._end_error from None
            raise

    def __aiter__(self) -> Receiver:
        return self

    async def __anext__(self) -> Any:
        """``async for message in ws`` iterates the receiver itself (no extra call)."""
        try:
            return await self._next()
        except trio.EndOfChannel:
            if self._end_error is not None:
                raise self._end_error from None
            raise StopAsyncIteration from None

    @property
    def buffered(self) -> int:
        return len(self._inbox)

    # -- life of the buffer ------------------------------------------------------------

    def end(self, error: BaseException | None = None) -> None:
        """No more messages: iteration ends after the buffered ones, with ``error``
        raised instead of a clean end if given."""
        if not self.ended:
            self._end_error = error
            self._inbox.close()

    @property
    def ended(self) -> bool:
        return self._inbox.closed

    def reopen(self) -> None:
        """A new connect cycle after the previous one ended for good: a fresh buffer."""
        if self.ended:
            limit = self._shared.options.incoming_queue_limit
            self._inbox = Inbox(limit)
            self._check_every = max(1, limit // DRAIN_CHECKS)
            self._end_error = None
            self._flow = Flow.FLOWING

    async def wait_response(
        self,
        send: Callable[[], Awaitable[None]],
        predicate: Callable[[Any], object],
        timeout: float,  # noqa: ASYNC109 - the seed's signature
        *,
        armed: bool,
    ) -> Any:
        """Register a waiter, ``await send()``, wait for the first matching message."""
        if not callable(predicate):
            raise TypeError(f"predicate: expected a callable, got {type(predicate).__name__}")
        waiter = Waiter(predicate, armed=armed)
        self.waiters.append(waiter)
        try:
            with trio.move_on_after(timeout) as cancel:
                await send()
                await waiter.event.wait()
            if cancel.cancelled_caught and not waiter.event.is_set():
                raise ResponseTimeout(f"no matching response within {timeout}s")
        finally:
            self.waiters.remove(waiter)
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    def fail_waiters(self, error: BaseException, *, armed_only: bool = True) -> None:
        for waiter in self.waiters:
            if waiter.armed or not armed_only:
                waiter.fail(error)

    def arm_waiters(self) -> None:
        for waiter in self.waiters:
            waiter.armed = True


def _nothing() -> None:
    pass
