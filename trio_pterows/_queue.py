"""The bounded outgoing queue and its overflow policy. Sans-I/O: no trio import.

Items keep the caller's original data until the flusher prepares them (hooks,
interceptors, encoding) for the first time; the prepared frame is cached on the item
so a message whose write was interrupted by a dropped connection is not run through
the hooks twice. An item leaves the queue only once its frame was written
(:meth:`OutgoingQueue.remove`).
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from ._exceptions import QueueFull

__all__ = ["DEFAULT_QUEUE_LIMIT", "OVERFLOW_POLICIES", "OutgoingQueue", "QueueItem"]

OverflowPolicy = Literal["reject", "drop-oldest", "drop-newest"]
OVERFLOW_POLICIES: frozenset[str] = frozenset({"reject", "drop-oldest", "drop-newest"})

#: The bound used when ``message_queue_limit`` is None: every buffer is bounded.
DEFAULT_QUEUE_LIMIT = 10_000


class QueueItem:
    """One queued message: the caller's data and, once prepared, the wire frame."""

    __slots__ = ("data", "frame", "prepared")

    def __init__(self, data: object) -> None:
        self.data = data
        self.frame: str | bytes | None = None
        self.prepared = False

    def __repr__(self) -> str:
        return f"<QueueItem prepared={self.prepared}>"


class _NoItems(deque[QueueItem]):
    """The deque of every queue that never held anything (an empty deque is 760
    bytes, and most queues stay empty): shared, so it refuses items loudly rather
    than let one queue's message appear in another's or vanish."""

    __slots__ = ()

    def append(self, item: QueueItem) -> None:
        raise AssertionError("internal error: an item was put into the shared empty deque")

    appendleft = append


_NO_ITEMS = _NoItems()


class OutgoingQueue:
    """A FIFO of :class:`QueueItem` bounded by ``limit`` with an overflow policy.

    - ``"reject"``: :meth:`put` raises :class:`QueueFull` and the queue is unchanged;
    - ``"drop-oldest"``: the oldest item is dropped to make room (counted);
    - ``"drop-newest"``: the new item is dropped (counted) and :meth:`put` returns None.
    """

    __slots__ = ("_items", "dropped", "in_flight", "limit", "overflow")

    def __init__(self, limit: int | None, overflow: OverflowPolicy = "reject") -> None:
        self.limit = DEFAULT_QUEUE_LIMIT if limit is None else limit
        self.overflow: OverflowPolicy = overflow
        self._items: deque[QueueItem] = _NO_ITEMS
        #: Items dropped by the overflow policy or by a failed preparation.
        self.dropped = 0
        #: The head item while its frame is being written: neither clear() nor the
        #: overflow policy may take it (it is about to count as sent).
        self.in_flight: QueueItem | None = None

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def put(self, data: object) -> QueueItem | None:
        """Append ``data``; return its item, or None if the policy dropped it."""
        # The frame being written has left the queue in all but name: it does not
        # count toward the limit and the policy never drops it.
        writing = 1 if self._items and self._items[0] is self.in_flight else 0
        if len(self._items) - writing >= self.limit:
            if self.overflow == "reject":
                raise QueueFull(
                    f"outgoing queue is full ({self.limit} messages, "
                    "message_queue_overflow='reject')"
                )
            self.dropped += 1
            if self.overflow == "drop-newest" or self.limit == 0:
                return None
            if writing:
                del self._items[1]
            else:
                self._items.popleft()
        item = QueueItem(data)
        if self._items is _NO_ITEMS:
            self._items = deque()
        self._items.append(item)
        return item

    def put_front(self, item: QueueItem) -> None:
        """Put back an item whose write did not happen, ahead of everything else.

        Used for a direct send that lost its connection: it was issued before anything
        now in the queue. Over the limit, the policy drops from the tail instead.
        """
        if self._items is _NO_ITEMS:
            self._items = deque()
        self._items.appendleft(item)
        if len(self._items) > self.limit:
            self.dropped += 1
            self._items.pop()

    def peek(self) -> QueueItem:
        """The oldest item (IndexError if empty)."""
        return self._items[0]

    def remove(self, item: QueueItem) -> bool:
        """Remove ``item`` if it is still at the head (a concurrent clear may have won)."""
        if self._items and self._items[0] is item:
            self._items.popleft()
            return True
        return False

    def drop(self, item: QueueItem) -> None:
        """Remove ``item`` because it could not be prepared; counted in ``dropped``."""
        if self.remove(item):
            self.dropped += 1

    def clear(self) -> int:
        """Drop everything; return how many items were dropped (not counted in ``dropped``)."""
        keep = self.in_flight if self._items and self._items[0] is self.in_flight else None
        n = len(self._items) - (keep is not None)
        self._items.clear()
        if keep is not None:
            self._items.append(keep)
        return n

    @property
    def waiting(self) -> int:
        """Items waiting to be written (the one being written excluded)."""
        return len(self._items) - (1 if self._items and self._items[0] is self.in_flight else 0)

    def snapshot(self) -> list[object]:
        """The waiting data, oldest first (the item being written excluded)."""
        return [item.data for item in self._items if item is not self.in_flight]
