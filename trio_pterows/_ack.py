"""Acknowledged delivery: the policy users configure and the unacked window behind it.

Sans-I/O: no trio import. A WebSocket has no delivery receipt: a frame written just
before the connection died may never have been read by the peer. With an
:class:`AckPolicy` the application names the outgoing messages that expect an
acknowledgement (``id_of``) and recognises the acknowledgements (``ack_of``); the
manager keeps every written message in an :class:`UnackedWindow` until its
acknowledgement arrives, and writes what is left again, in the original order, on the
next connection. That turns at-most-once into at-least-once for those messages.

The window is an :class:`collections.OrderedDict` keyed by id: adding, acknowledging
(in any order) and expiring the oldest are O(1) per message, and iteration is the
order the messages were first written.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar

import attrs

from ._exceptions import QueueFull

__all__ = ["AckPolicy", "UnackedWindow"]

T = TypeVar("T")

#: ``(message) -> Hashable | None``.
IdOf = Callable[[Any], Hashable | None]


def _callable(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not callable(value):
        raise TypeError(f"{attribute.name}: expected a callable, got {type(value).__name__}")


def _timeout(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(
            f"{attribute.name}: expected a number of seconds or None, got {type(value).__name__}"
        )
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name}: must be > 0 seconds and finite, got {value!r}")


def _limit(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{attribute.name}: expected an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{attribute.name}: must be >= 1, got {value!r}")


@attrs.frozen
class AckPolicy:
    """How outgoing messages are acknowledged: ``pw.AckPolicy(id_of, ack_of)``.

    ``id_of(message)`` is called on each outgoing message (after ``on_before_send``
    and the outgoing interceptors, before JSON encoding) and returns the id under
    which its acknowledgement will come, or None for a message that expects none.
    ``ack_of(incoming)`` is called on each incoming message (decoded, after the
    incoming interceptors) and returns the id it acknowledges, or None for an
    ordinary message; an acknowledgement is consumed (not delivered).

    ::

        ack = pw.AckPolicy(
            id_of=lambda m: m.get("id") if isinstance(m, dict) else None,
            ack_of=lambda m: m.get("ack") if isinstance(m, dict) else None,
            timeout=30.0,
            limit=1024,
        )

    A message stays unacknowledged for at most ``timeout`` seconds after it was first
    written (None: no bound in time); at most ``limit`` messages are unacknowledged at
    once. Both callables run on the message path: keep them cheap. If ``id_of``
    raises, ``send()`` raises it (for a queued message: an ``error`` event, context
    ``"flush"``, and the message is dropped); if ``ack_of`` raises, the message is
    delivered as an ordinary one and an ``error`` event (context ``"ack_of"``) says why.
    See :doc:`/topics/delivery`.
    """

    #: ``(outgoing message) -> Hashable | None``: the id of a message expecting an ack.
    id_of: IdOf = attrs.field(validator=_callable)
    #: ``(incoming message) -> Hashable | None``: the id an incoming message acknowledges.
    ack_of: IdOf = attrs.field(validator=_callable)
    #: Seconds an unacked message may wait for its ack after it was first written;
    #: then it is dropped with an ``error`` event (context ``"ack-timeout"``). None: never.
    timeout: float | None = attrs.field(default=30.0, validator=_timeout, kw_only=True)
    #: How many messages may be unacknowledged at once.
    limit: int = attrs.field(default=1024, validator=_limit, kw_only=True)


class _Entry(Generic[T]):
    __slots__ = ("item", "sent_at")

    def __init__(self, item: T, sent_at: float) -> None:
        self.item = item
        self.sent_at = sent_at


class UnackedWindow(Generic[T]):
    """Messages written and not yet acknowledged, in the order they were first written.

    ``T`` is whatever the caller needs to write the message again (the manager keeps
    the encoded frame). ``now`` is the caller's clock (``trio.current_time()``); it
    must not go backwards between calls. Every operation is O(1) per message.
    """

    __slots__ = ("_entries", "expired", "limit", "timeout")

    def __init__(self, limit: int, timeout: float | None) -> None:
        if limit < 1:
            raise ValueError(f"limit: must be >= 1, got {limit!r}")
        self.limit = limit
        self.timeout = timeout
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        #: Messages dropped by :meth:`expire` since the window was created.
        self.expired = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __contains__(self, id: Hashable) -> bool:
        return id in self._entries

    @property
    def full(self) -> bool:
        """True when ``limit`` messages wait for their ack: the next add must wait."""
        return len(self._entries) >= self.limit

    def add(self, id: Hashable, item: T, now: float) -> None:
        """Record ``item`` as written at ``now`` and waiting for the ack ``id``.

        Raises :class:`ValueError` if ``id`` is already waiting (two messages under one
        id could not be told apart by their acks) and :class:`QueueFull` when the
        window is :attr:`full`; the window is unchanged then.
        """
        if id in self._entries:
            raise ValueError(f"id_of: id {id!r} is already waiting for its ack")
        if len(self._entries) >= self.limit:
            raise QueueFull(f"the unacked window is full ({self.limit} messages, ack.limit)")
        self._entries[id] = _Entry(item, now)

    def ack(self, id: Hashable) -> bool:
        """Forget the message ``id``: True if it was waiting, False for an unknown id
        (a late or repeated ack, or one for a message that expired)."""
        return self._entries.pop(id, None) is not None

    def pending(self) -> list[T]:
        """The items to write again after a reconnect, oldest first (a copy)."""
        return [entry.item for entry in self._entries.values()]

    def items(self) -> Iterator[tuple[Hashable, T]]:
        """``(id, item)`` pairs, oldest first. Do not change the window while iterating."""
        for id, entry in self._entries.items():
            yield id, entry.item

    def next_deadline(self) -> float | None:
        """When the oldest message expires (None: empty window or no timeout)."""
        if self.timeout is None or not self._entries:
            return None
        oldest = next(iter(self._entries.values()))
        return oldest.sent_at + self.timeout

    def expire(self, now: float) -> list[tuple[Hashable, T]]:
        """Drop and return, oldest first, every message waiting ``timeout`` or longer.

        Costs O(1) per expired message plus O(1): messages are in write order, so the
        first one still young enough ends the scan.
        """
        timeout = self.timeout
        if timeout is None:
            return []
        entries = self._entries
        expired: list[tuple[Hashable, T]] = []
        while entries:
            id, entry = next(iter(entries.items()))
            if now - entry.sent_at < timeout:
                break
            entries.popitem(last=False)
            expired.append((id, entry.item))
        self.expired += len(expired)
        return expired

    def clear(self) -> int:
        """Forget every message (the manager was closed for good); return how many."""
        n = len(self._entries)
        self._entries.clear()
        return n

    def __repr__(self) -> str:
        return f"<UnackedWindow {len(self._entries)}/{self.limit}>"
