"""The typed event API: listeners and subscriptions typed by event name.

:class:`EventSource` holds ``add_event_listener``, ``remove_event_listener``,
``dispatch_event`` and ``subscribe`` for any class that has an
:class:`~trio_pterows._events.EventHub` in ``_hub``; ``_on_listener_added()`` is
called after each registration (the manager starts its async-listener dispatcher
there). Overloads on ``Literal`` names give the listener's argument its type::

    ws.add_event_listener("pong", lambda event: print(event.latency))  # a PongEvent
    async with ws.subscribe("close") as closes:                        # CloseEvents
        ...

Both spellings (``"reconnectAttempt"``, ``"reconnect_attempt"``) and EventType
members are typed alike. The last overload takes any name (``"custom"``,
``"custom:<name>"``, or a ``str`` variable) with a listener that accepts any object:
a listener annotated with another event class for a known name does not type-check.
Names are checked at run time by the hub (ValueError for an unknown one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeAlias, overload

from ._events import (
    CloseEvent,
    ErrorEvent,
    Event,
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

__all__ = ["BuiltinEventName", "EventSource"]

OpenName: TypeAlias = Literal["open", EventType.OPEN]
MessageName: TypeAlias = Literal["message", EventType.MESSAGE]
CloseName: TypeAlias = Literal["close", EventType.CLOSE]
ErrorName: TypeAlias = Literal["error", EventType.ERROR]
ReconnectAttemptName: TypeAlias = Literal[
    "reconnectAttempt", "reconnect_attempt", EventType.RECONNECT_ATTEMPT
]
ReconnectSuccessName: TypeAlias = Literal[
    "reconnectSuccess", "reconnect_success", EventType.RECONNECT_SUCCESS
]
ReconnectName: TypeAlias = Literal["reconnect", EventType.RECONNECT]
PingName: TypeAlias = Literal["ping", EventType.PING]
PongName: TypeAlias = Literal["pong", EventType.PONG]
#: Every built-in name whose events are built by the library (not "custom").
BuiltinEventName: TypeAlias = (
    OpenName
    | MessageName
    | CloseName
    | ErrorName
    | ReconnectAttemptName
    | ReconnectSuccessName
    | ReconnectName
    | PingName
    | PongName
)
AnyName: TypeAlias = str | EventType


class EventSource:
    """Typed listener and subscription methods over ``self._hub`` (a mixin)."""

    __slots__ = ()
    _hub: EventHub

    def _on_listener_added(self) -> None:
        """Called after every ``add_event_listener`` (override to react)."""

    # ------------------------------------------------------------------ listeners

    @overload
    def add_event_listener(
        self, type: OpenName, callback: Callable[[OpenEvent], object]
    ) -> None: ...
    @overload
    def add_event_listener(
        self, type: MessageName, callback: Callable[[MessageEvent], object]
    ) -> None: ...
    @overload
    def add_event_listener(
        self, type: CloseName, callback: Callable[[CloseEvent], object]
    ) -> None: ...
    @overload
    def add_event_listener(
        self, type: ErrorName, callback: Callable[[ErrorEvent], object]
    ) -> None: ...
    @overload
    def add_event_listener(
        self, type: ReconnectAttemptName, callback: Callable[[ReconnectAttemptEvent], object]
    ) -> None: ...
    @overload
    def add_event_listener(
        self, type: ReconnectSuccessName, callback: Callable[[ReconnectSuccessEvent], object]
    ) -> None: ...
    @overload
    def add_event_listener(
        self, type: ReconnectName, callback: Callable[[ReconnectEvent], object]
    ) -> None: ...
    @overload
    def add_event_listener(
        self, type: PingName, callback: Callable[[PingEvent], object]
    ) -> None: ...
    @overload
    def add_event_listener(
        self, type: PongName, callback: Callable[[PongEvent], object]
    ) -> None: ...
    @overload
    def add_event_listener(self, type: AnyName, callback: Callable[[object], object]) -> None: ...
    def add_event_listener(self, type: AnyName, callback: Callable[[Any], object]) -> None:
        """Call ``callback(event)`` for every event of ``type`` (sync or async).

        ``type`` in either spelling; an unknown name raises ValueError naming the
        nearest known one. A listener that raises is logged and reported as an
        ``error`` event; it never affects the connection. Async listeners run in
        order in a dispatcher task.
        """
        self._hub.add_listener(type, callback)
        self._on_listener_added()

    @overload
    def remove_event_listener(
        self, type: OpenName, callback: Callable[[OpenEvent], object]
    ) -> bool: ...
    @overload
    def remove_event_listener(
        self, type: MessageName, callback: Callable[[MessageEvent], object]
    ) -> bool: ...
    @overload
    def remove_event_listener(
        self, type: CloseName, callback: Callable[[CloseEvent], object]
    ) -> bool: ...
    @overload
    def remove_event_listener(
        self, type: ErrorName, callback: Callable[[ErrorEvent], object]
    ) -> bool: ...
    @overload
    def remove_event_listener(
        self, type: ReconnectAttemptName, callback: Callable[[ReconnectAttemptEvent], object]
    ) -> bool: ...
    @overload
    def remove_event_listener(
        self, type: ReconnectSuccessName, callback: Callable[[ReconnectSuccessEvent], object]
    ) -> bool: ...
    @overload
    def remove_event_listener(
        self, type: ReconnectName, callback: Callable[[ReconnectEvent], object]
    ) -> bool: ...
    @overload
    def remove_event_listener(
        self, type: PingName, callback: Callable[[PingEvent], object]
    ) -> bool: ...
    @overload
    def remove_event_listener(
        self, type: PongName, callback: Callable[[PongEvent], object]
    ) -> bool: ...
    @overload
    def remove_event_listener(
        self, type: AnyName, callback: Callable[[object], object]
    ) -> bool: ...
    def remove_event_listener(self, type: AnyName, callback: Callable[[Any], object]) -> bool:
        """Remove one registration of ``callback``; True if there was one (ValueError
        for an unknown name)."""
        return self._hub.remove_listener(type, callback)

    def dispatch_event(self, type: AnyName, event: object) -> None:
        """Deliver ``event`` (any object, unchanged) to the listeners and subscriptions
        of ``type``; never blocks. Your own types: ``"custom"`` or ``"custom:<name>"``."""
        self._hub.emit(type, event)

    # ------------------------------------------------------------------ subscriptions

    @overload
    def subscribe(
        self, type: OpenName, /, *, max_buffer_size: int = ...
    ) -> Subscription[OpenEvent]: ...
    @overload
    def subscribe(
        self, type: MessageName, /, *, max_buffer_size: int = ...
    ) -> Subscription[MessageEvent]: ...
    @overload
    def subscribe(
        self, type: CloseName, /, *, max_buffer_size: int = ...
    ) -> Subscription[CloseEvent]: ...
    @overload
    def subscribe(
        self, type: ErrorName, /, *, max_buffer_size: int = ...
    ) -> Subscription[ErrorEvent]: ...
    @overload
    def subscribe(
        self, type: ReconnectAttemptName, /, *, max_buffer_size: int = ...
    ) -> Subscription[ReconnectAttemptEvent]: ...
    @overload
    def subscribe(
        self, type: ReconnectSuccessName, /, *, max_buffer_size: int = ...
    ) -> Subscription[ReconnectSuccessEvent]: ...
    @overload
    def subscribe(
        self, type: ReconnectName, /, *, max_buffer_size: int = ...
    ) -> Subscription[ReconnectEvent]: ...
    @overload
    def subscribe(
        self, type: PingName, /, *, max_buffer_size: int = ...
    ) -> Subscription[PingEvent]: ...
    @overload
    def subscribe(
        self, type: PongName, /, *, max_buffer_size: int = ...
    ) -> Subscription[PongEvent]: ...
    @overload
    def subscribe(
        self, *types: BuiltinEventName, max_buffer_size: int = ...
    ) -> Subscription[Event]: ...
    @overload
    def subscribe(self, *types: AnyName, max_buffer_size: int = ...) -> Subscription[Any]: ...
    def subscribe(self, *types: AnyName, max_buffer_size: int = 256) -> Subscription[Any]:
        """A bounded stream of events: ``async with ws.subscribe("open") as events:``.

        No ``types`` means every built-in type. One type name types the events
        (``subscribe("pong")`` yields PongEvents). A full subscription misses events
        (counted in ``Subscription.missed``); it never slows the connection. ValueError
        for an unknown name or a ``max_buffer_size`` below 1.
        """
        if max_buffer_size < 1:
            raise ValueError(f"max_buffer_size: must be >= 1, got {max_buffer_size!r}")
        return Subscription(self._hub, types or None, max_buffer_size)
