"""The incoming buffer between the transport's reader and ``async for``.

A bounded FIFO with the memory channel's ``send_nowait`` / ``receive_nowait`` /
``receive`` / ``close`` semantics, for one writer (the reader task) and any number of
consumers, in a fraction of a memory channel's size: an idle connection keeps an empty
list and no Event (a ``trio.open_memory_channel`` pair holds a deque, two OrderedDicts,
two channel objects and their task sets, about 1 KiB).

Items are appended to a list and read at a moving head; the list is emptied whenever
the head catches up, so each operation is O(1) amortised and nothing is kept once
the buffer drained.
"""

from __future__ import annotations

from typing import Any

import trio

__all__ = ["Inbox"]


class Inbox:
    """A bounded FIFO of incoming messages (internal)."""

    __slots__ = ("_closed", "_head", "_items", "_limit", "_ready")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: list[Any] = []
        self._head = 0
        self._closed = False
        self._ready: trio.Event | None = None  # exists only while a consumer waits

    def __len__(self) -> int:
        return len(self._items) - self._head

    @property
    def closed(self) -> bool:
        """True after :meth:`close` (buffered items can still be received)."""
        return self._closed

    def send_nowait(self, item: Any) -> None:
        """Append ``item``: :class:`trio.WouldBlock` when full,
        :class:`trio.ClosedResourceError` after :meth:`close`."""
        if self._closed:
            raise trio.ClosedResourceError("the incoming buffer is closed")
        if len(self._items) - self._head >= self._limit:
            raise trio.WouldBlock
        self._items.append(item)
        ready = self._ready
        if ready is not None:
            self._ready = None
            ready.set()

    def receive_nowait(self) -> Any:
        """The oldest item: :class:`trio.WouldBlock` when empty,
        :class:`trio.EndOfChannel` when empty and closed."""
        items, head = self._items, self._head
        if head < len(items):
            item = items[head]
            head += 1
            if head == len(items):
                items.clear()
                head = 0
            else:
                items[head - 1] = None  # let it go before the list empties
            self._head = head
            return item
        if self._closed:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def receive(self) -> Any:
        """The oldest item, waiting for one. A cancel point and a schedule point, like a
        memory channel's; cancelled, no item is taken."""
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            item = self.receive_nowait()
        except trio.WouldBlock:
            while True:
                if self._ready is None:
                    self._ready = trio.Event()
                await self._ready.wait()
                try:
                    return self.receive_nowait()
                except trio.WouldBlock:
                    continue  # another consumer took it first
        await trio.lowlevel.cancel_shielded_checkpoint()
        return item

    def close(self) -> None:
        """No more items: consumers get the buffered ones, then EndOfChannel."""
        self._closed = True
        ready = self._ready
        if ready is not None:
            self._ready = None
            ready.set()
