"""Connection metrics: a frozen snapshot, and the latency window behind it."""

from __future__ import annotations

import math
from collections import deque
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
    """The last ``size`` latency samples (bounded)."""

    __slots__ = ("_samples", "_size", "last")

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._samples: deque[float] | None = None  # created with the first sample
        self.last: float | None = None

    def add(self, latency: float) -> None:
        self.last = latency
        if self._samples is None:
            self._samples = deque(maxlen=self._size)
        self._samples.append(latency)

    def stats(self) -> LatencyStats | None:
        return LatencyStats.from_samples(self._samples or ())


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
