"""Connection metrics: a frozen snapshot, and the latency window behind it."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable

import attrs

__all__ = ["LatencyStats", "LatencyWindow", "WSMetrics"]


@attrs.frozen(kw_only=True)
class LatencyStats:
    """Heartbeat round-trip statistics over the most recent pongs, in seconds."""

    #: How many samples these statistics cover.
    count: int
    min: float
    avg: float
    max: float
    #: Median (nearest rank).
    p50: float
    #: 99th percentile (nearest rank).
    p99: float

    @classmethod
    def from_samples(cls, samples: Iterable[float]) -> LatencyStats | None:
        """Statistics of ``samples``, or None when there are none."""
        ordered = sorted(samples)
        if not ordered:
            return None
        n = len(ordered)

        def rank(p: float) -> float:
            return ordered[max(0, math.ceil(p * n) - 1)]

        return cls(
            count=n,
            min=ordered[0],
            avg=min(max(math.fsum(ordered) / n, ordered[0]), ordered[-1]),
            max=ordered[-1],
            p50=rank(0.50),
            p99=rank(0.99),
        )


class LatencyWindow:
    """The last ``size`` latency samples, in a ring of unboxed doubles.

    An idle connection pongs for ever: a deque of float objects cost it ~8 KiB;
    this ring costs ``8 * size`` bytes, allocated with the first sample.
    """

    __slots__ = ("_count", "_next", "_ring", "_size", "last")

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._ring: array[float] | None = None
        self._next = 0
        self._count = 0
        self.last: float | None = None

    def add(self, latency: float) -> None:
        self.last = latency
        if self._ring is None:
            self._ring = array("d", bytes(8 * self._size))
        self._ring[self._next] = latency
        self._next = (self._next + 1) % self._size
        self._count = min(self._count + 1, self._size)

    def stats(self) -> LatencyStats | None:
        if self._ring is None:
            return None
        return LatencyStats.from_samples(self._ring[: self._count])


@attrs.frozen(kw_only=True)
class WSMetrics:
    """A snapshot of :class:`AdvancedWebSocket`'s counters (see :meth:`get_metrics`)."""

    #: User messages written to a socket (heartbeats excluded).
    messages_sent: int
    #: User messages received (heartbeat pongs excluded).
    messages_received: int
    #: Latency of the most recent heartbeat, in seconds, or None.
    last_latency: float | None
    #: The current retry counter (resets after ``reconnect_reset_after`` connected).
    reconnect_attempts: int
    #: The URL of the live connection (or of the last one), or None.
    current_url: str | None
    #: Statistics over recent heartbeats, or None before the first pong.
    latency: LatencyStats | None
    #: Messages waiting in the outgoing queue.
    queued: int
    #: Messages the library dropped: incoming overflow, outgoing overflow, failed preparation.
    dropped: int
    #: trio time at which the live connection opened, or None while not connected.
    connected_since: float | None
    #: Connections opened over the manager's life.
    connections: int
    #: Retries that began (reconnect events) over the manager's life.
    total_reconnects: int
    #: Messages written and still waiting for their ack (``ack`` option; 0 without).
    unacked: int = 0
    #: Incoming messages dropped as duplicates by ``dedupe_of`` (0 without).
    duplicates: int = 0
