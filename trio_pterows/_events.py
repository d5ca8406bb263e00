"""Event classes, connection states, and listener / subscription dispatch.

Dispatch never blocks the task that emits (the receiver above all):

- sync listeners run inline; an exception is logged and emitted as an ``error`` event;
- async listeners run, in order, in one dispatcher task fed by a bounded channel; when
  that channel is full the event is dropped for async listeners and counted;
- each :meth:`~AdvancedWebSocket.subscribe` channel is bounded; a full subscriber
  misses events (``Subscription.missed``), it never blocks anyone.

No event object is built for a type nobody listens to.

Every type name the application gives (to a listener, a subscription or
``dispatch_event``) goes through :func:`~trio_pterows._event_names.event_name`:
both spellings work, typos are a ValueError.
"""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import attrs
import trio

from ._event_names import CANONICAL, event_name

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "DROP",
    "CloseEvent",
    "ConnectionState",
    "ErrorEvent",
    "Event",
    "EventType",
    "MessageEvent",
    "OpenEvent",
    "PingEvent",
    "PongEvent",
    "ReconnectAttemptEvent",
    "ReconnectEvent",
    "ReconnectSuccessEvent",
    "Subscription",
]


class _Drop(enum.Enum):
    DROP = "DROP"

    def __repr__(self) -> str:
        return "DROP"


#: Returned by ``on_before_send`` or an interceptor to drop the message.
DROP: Final = _Drop.DROP


class EventType(str, enum.Enum):
    """Event type names; plain strings with these values are accepted everywhere."""

    OPEN = "open"
    MESSAGE = "message"
    CLOSE = "close"
    ERROR = "error"
    RECONNECT_ATTEMPT = "reconnectAttempt"
    RECONNECT_SUCCESS = "reconnectSuccess"
    RECONNECT = "reconnect"
    PING = "ping"
    PONG = "pong"
    CUSTOM = "custom"

    def __str__(self) -> str:
        return self.value


class ConnectionState(str, enum.Enum):
    """What :attr:`AdvancedWebSocket.state` reports."""

    CONNECTING = "CONNECTING"
    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"
    RECONNECTING = "RECONNECTING"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(kw_only=True)
class Event:
    """Base of every built-in event: its ``type`` and a ``timestamp`` (trio time)."""

    type: str
    timestamp: float


@attrs.frozen(kw_only=True)
class OpenEvent(Event):
    """A connection is open (after ``on_connect`` ran)."""

    url: str


@attrs.frozen(kw_only=True)
class MessageEvent(Event):
    """A message arrived (decoded and intercepted)."""

    data: Any


@attrs.frozen(kw_only=True)
class CloseEvent(Event):
    """A connection ended. ``code`` 1006 means it was abandoned without a close frame."""

    code: int
    reason: str
    #: True when a close handshake completed.
    was_clean: bool
    url: str | None = None


@attrs.frozen(kw_only=True)
class ErrorEvent(Event):
    """Something went wrong that did not (by itself) end the connection."""

    error: BaseException
    #: Where: "connect" (a failed attempt), "listener", "incoming_interceptor",
    #: "incoming_overflow", "flush", "on_after_send", "on_before_reconnect", "heartbeat".
    context: str


@attrs.frozen(kw_only=True)
class ReconnectAttemptEvent(Event):
    """A retry's delay starts."""

    attempt: int
    url: str
    delay: float


@attrs.frozen(kw_only=True)
class ReconnectEvent(Event):
    """A retry's delay ended; the attempt begins."""

    attempt: int
    url: str


@attrs.frozen(kw_only=True)
class ReconnectSuccessEvent(Event):
    """A retry connected."""

    attempt: int
    url: str


@attrs.frozen(kw_only=True)
class PingEvent(Event):
    """A heartbeat ping was sent."""


@attrs.frozen(kw_only=True)
class PongEvent(Event):
    """A heartbeat answer arrived; ``latency`` in seconds."""

    latency: float


Listener = Callable[[Any], Any]


def is_async_callable(func: object) -> bool:
    """True for ``async def`` functions, bound methods, partials and objects with one."""
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.iscoroutinefunction(func):
        return True
    if isinstance(func, type):  # calling a class builds an instance synchronously
        return False
    call = getattr(type(func), "__call__", None)  # noqa: B004 - objects with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


if TYPE_CHECKING:
    import typing_extensions

    #: What a subscription yields (covariant: it only hands events out); a bare
    #: ``Subscription`` is ``Subscription[Any]``.
    E_co = typing_extensions.TypeVar("E_co", covariant=True, default=Any)
else:
    E_co = TypeVar("E_co", covariant=True)  # typing.TypeVar takes default= from 3.13


class Subscription(Generic[E_co]):
    """A bounded stream of events: ``async with ws.subscribe("open", "close") as events``.

    Iterate it (``async for event in events``) or call :meth:`receive`. When its buffer
    is full, new events are missed and counted in :attr:`missed`; the emitter never
    waits. Iteration ends when the subscription or the manager is closed.

    ``types`` are event type names in either spelling (ValueError for an unknown one);
    the ``types`` attribute holds the seed's spelling, None for every built-in type.
    """

    def __init__(self, hub: EventHub, types: Iterable[str] | None, max_buffer_size: int) -> None:
        self._hub = hub
        names = frozenset(event_name(t) for t in types) if types is not None else None
        self.types = names or None
        self._send, self._receive = trio.open_memory_channel[Any](max_buffer_size)
        #: Events this subscriber missed because its buffer was full.
        self.missed = 0

    def _deliver(self, event: Any) -> None:
        try:
            self._send.send_nowait(event)
        except trio.WouldBlock:
            self.missed += 1
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    def _close(self) -> None:
        self._send.close()

    async def receive(self) -> E_co:
        """The next event. Safe to cancel: no event is lost.

        Raises :class:`trio.EndOfChannel` once closed and drained.
        """
        event: E_co = await self._receive.receive()
        return event

    def receive_nowait(self) -> E_co:
        """The next event or :class:`trio.WouldBlock`."""
        event: E_co = self._receive.receive_nowait()
        return event

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> E_co:
        try:
            event: E_co = await self._receive.receive()
            return event
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        self._hub.add_subscription(self)
        await trio.lowlevel.checkpoint()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._hub.remove_subscription(self)
        self._send.close()
        self._receive.close()
        await trio.lowlevel.checkpoint_if_cancelled()


#: Shared by every hub that nobody listens to (most of them, at scale).
_NOTHING: frozenset[str] = frozenset()


class EventHub:
    """Listener registry and dispatcher (internal; one per manager)."""

    __slots__ = (
        "_async",
        "_async_buffer",
        "_async_receive",
        "_async_send",
        "_closed",
        "_listeners",
        "_option_callbacks",
        "_report",
        "_subs_for",
        "_subscriptions",
        "_sync",
        "_wanted",
        "dropped",
        "wants_message",
    )

    def __init__(
        self,
        report: Callable[[BaseException, str], None],
        async_buffer: int = 1024,
    ) -> None:
        # report(exc, context): how a failing listener is logged and re-emitted.
        self._report = report
        self._listeners: dict[str, list[Listener]] = {}
        self._option_callbacks: dict[str, Listener] = {}
        self._subscriptions: list[Subscription] = []
        # Snapshots rebuilt on every change: the hot path reads a dict only.
        self._sync: dict[str, tuple[Listener, ...]] = {}
        self._async: dict[str, tuple[Listener, ...]] = {}
        self._subs_for: dict[str, tuple[Subscription, ...]] = {}
        self._wanted: frozenset[str] = _NOTHING
        #: Hot-path flag: somebody wants "message" events.
        self.wants_message = False
        # Created with the first async listener: most connections never need it.
        self._async_buffer = async_buffer
        self._async_send: trio.MemorySendChannel[tuple[Listener, Any, str]] | None = None
        self._async_receive: trio.MemoryReceiveChannel[tuple[Listener, Any, str]] | None = None
        self._closed = False
        #: Events not delivered to async listeners because the dispatcher was behind.
        self.dropped = 0

    # -- registry -------------------------------------------------------------

    def add_listener(self, event_type: str, callback: Listener) -> None:
        """Register ``callback`` for ``event_type`` (either spelling; ValueError for an
        unknown name, TypeError for a callback that is not callable)."""
        name = event_name(event_type)
        if not callable(callback):
            raise TypeError(
                f"listener for {event_type!r} must be callable, got {type(callback).__name__}"
            )
        self._listeners.setdefault(name, []).append(callback)
        self._rebuild()

    def remove_listener(self, type: str, callback: Listener) -> bool:
        """Remove one registration; False if there was none (ValueError for an unknown
        name: a typo would otherwise leave the listener registered in silence)."""
        listeners = self._listeners.get(event_name(type), [])
        for i, existing in enumerate(listeners):
            if existing == callback:
                del listeners[i]
                self._rebuild()
                return True
        return False

    def set_option_callbacks(self, callbacks: dict[str, Listener | None]) -> None:
        self._option_callbacks = {k: v for k, v in callbacks.items() if v is not None}
        self._rebuild()

    def add_subscription(self, sub: Subscription) -> None:
        self._subscriptions.append(sub)
        self._rebuild()

    def remove_subscription(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)
            self._rebuild()

    def close_subscriptions(self) -> None:
        for sub in self._subscriptions:
            sub._close()

    def _rebuild(self) -> None:
        types: set[str] = set(self._listeners) | set(self._option_callbacks)
        sync: dict[str, list[Listener]] = {}
        asyn: dict[str, list[Listener]] = {}
        for type_ in types:
            callbacks: list[Listener] = []
            if type_ in self._option_callbacks:
                callbacks.append(self._option_callbacks[type_])
            callbacks.extend(self._listeners.get(type_, ()))
            for cb in callbacks:
                (asyn if is_async_callable(cb) else sync).setdefault(type_, []).append(cb)
        self._sync = {k: tuple(v) for k, v in sync.items()}
        self._async = {k: tuple(v) for k, v in asyn.items()}
        subs: dict[str, list[Subscription]] = {}
        all_types = {t.value for t in EventType}
        for sub in self._subscriptions:
            for type_ in sub.types if sub.types is not None else all_types:
                subs.setdefault(type_, []).append(sub)
        self._subs_for = {k: tuple(v) for k, v in subs.items()}
        self._wanted = (
            frozenset(self._sync) | frozenset(self._async) | frozenset(self._subs_for)
        ) or _NOTHING
        if self._async and self._async_send is None and not self._closed:
            self._async_send, self._async_receive = trio.open_memory_channel[
                tuple[Listener, Any, str]
            ](self._async_buffer)
        self.wants_message = EventType.MESSAGE.value in self._wanted

    # -- dispatch -------------------------------------------------------------

    def wants(self, type: str) -> bool:
        """True if an event of this type would reach anybody."""
        return type in self._wanted

    def emit(self, type: str, event: Any) -> None:
        """Deliver ``event`` to everyone listening to ``type``; never blocks.

        ``type`` in either spelling (what ``dispatch_event`` passes); the library's own
        events use the seed's, which costs one set lookup here.
        """
        if type not in CANONICAL:
            type = event_name(type)
        for cb in self._sync.get(type, ()):
            try:
                result = cb(event)
            except Exception as exc:
                self._listener_failed(exc, type)
            else:
                if inspect.isawaitable(result):
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
                    self._listener_failed(
                        TypeError(
                            f"a listener for {type!r} returned an awaitable but is not an "
                            "async function; declare it with `async def`"
                        ),
                        type,
                    )
        for cb in self._async.get(type, ()):
            if self._async_send is None:  # closed before any async listener existed
                break
            try:
                self._async_send.send_nowait((cb, event, type))
            except trio.WouldBlock:
                self.dropped += 1
                self._report(
                    RuntimeError(f"async listeners are behind: dropped a {type!r} event"),
                    "dispatch",
                )
            except trio.ClosedResourceError:
                pass
        for sub in self._subs_for.get(type, ()):
            sub._deliver(event)

    def _listener_failed(self, exc: BaseException, type: str) -> None:
        # A failing "error" listener must not recurse into more error events.
        self._report(exc, "listener" if type != EventType.ERROR.value else "error-listener")

    @property
    def needs_dispatcher(self) -> bool:
        """True once an async listener exists (its events wait in the channel)."""
        return self._async_receive is not None

    async def run_dispatcher(self) -> None:
        """Run async listeners, one event at a time, until cancelled."""
        assert self._async_receive is not None
        async with self._async_receive:
            async for cb, event, type_ in self._async_receive:
                try:
                    await cb(event)
                except Exception as exc:
                    self._listener_failed(exc, type_)

    def close(self) -> None:
        self._closed = True
        if self._async_send is not None:
            self._async_send.close()
        self.close_subscriptions()
