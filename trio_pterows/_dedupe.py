"""Receive dedupe: "was this key seen among the last N keys?". Sans-I/O: no trio import.

With acknowledgements on the sending side a message may arrive twice (its ack was
lost with the connection, so it was written again). ``dedupe_of`` names each incoming
message's key; :class:`DedupeWindow` remembers the last ``size`` distinct keys and
says whether a key is among them. One :class:`collections.OrderedDict`: a check, an
insertion and the eviction of the oldest key are O(1), and memory is bounded by
``size`` keys.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["DedupeWindow"]


class DedupeWindow:
    """The last ``size`` distinct keys accepted, oldest first.

    :meth:`seen` records a new key and answers False, or answers True for a key that
    is among the remembered ones (a duplicate). A duplicate does not refresh its key:
    the window is exactly the keys of the last ``size`` messages let through.
    """

    __slots__ = ("_keys", "duplicates", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"dedupe_window: must be >= 1, got {size!r}")
        self.size = size
        self._keys: OrderedDict[Hashable, None] = OrderedDict()
        #: How many times :meth:`seen` answered True.
        self.duplicates = 0

    def seen(self, key: Hashable) -> bool:
        """True if ``key`` is among the remembered keys; otherwise remember it (the
        oldest key is forgotten when ``size`` are remembered) and return False."""
        keys = self._keys
        if key in keys:
            self.duplicates += 1
            return True
        keys[key] = None
        if len(keys) > self.size:
            keys.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def clear(self) -> None:
        """Forget every key (the count of duplicates stays)."""
        self._keys.clear()

    def __repr__(self) -> str:
        return f"<DedupeWindow {len(self._keys)}/{self.size} duplicates={self.duplicates}>"
