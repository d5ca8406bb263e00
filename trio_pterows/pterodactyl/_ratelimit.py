"""Wings' token buckets, Sans-I/O (no trio): the caller passes the time in.

:class:`RateLimiter` mirrors the buckets Wings applies to inbound frames, so a client
can pace itself instead of being ``throttled``; FakeWings uses the same class as the
node's side (:meth:`RateLimiter.check`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import attrs

from ._events import AUTH, SEND_COMMAND, SEND_LOGS

__all__ = [
    "WINGS_DEFAULT_LIMIT",
    "WINGS_EVENT_LIMITS",
    "WINGS_GLOBAL_LIMIT",
    "RateLimit",
    "RateLimiter",
]


def _check_burst(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attribute.name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value!r}")


def _check_interval(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{attribute.name} must be a number, not {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a finite number > 0, got {value!r}")


@attrs.frozen
class RateLimit:
    """A token bucket: ``burst`` tokens, one token back every ``interval`` seconds."""

    burst: int = attrs.field(validator=_check_burst)
    interval: float = attrs.field(validator=_check_interval)


#: Wings' limits (``router/websocket/limiter.go``, Wings >= 1.12 and Pelican), per connection.
WINGS_GLOBAL_LIMIT: Final = RateLimit(10, 0.2)
WINGS_DEFAULT_LIMIT: Final = RateLimit(4, 1.0)
WINGS_EVENT_LIMITS: Final[Mapping[str, RateLimit]] = MappingProxyType(
    {
        AUTH: RateLimit(2, 5.0),
        SEND_LOGS: RateLimit(2, 5.0),
        SEND_COMMAND: RateLimit(10, 1.0),
    }
)

_GLOBAL_KEY: Final = "\x00global"
_DEFAULT_KEY: Final = "\x00default"
#: Slack for float rounding when a frame is sent exactly when :meth:`RateLimiter.delay` said.
_EPSILON: Final = 1e-9


class RateLimiter:
    """Wings' token buckets, Sans-I/O: the caller passes the time in (seconds, any clock).

    A frame passes the global bucket and its event's bucket (``auth``, ``send logs``
    and ``send command`` have their own; every other event shares one). Buckets start
    full. The client side asks :meth:`delay`, waits, then :meth:`consume`; the node
    side (:class:`~trio_pterows.testing.FakeWings`) asks :meth:`check`, which
    behaves like Wings: take a global token, then an event token, or refuse.

    ``headroom`` keeps that many tokens of every bucket unused (never below a burst
    of one), a margin against network jitter bunching paced frames at the node.
    With ``enabled=False`` (settable at any time) every frame may go at once.

    Implemented as GCRA: per bucket, the theoretical arrival time of the next token.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        global_limit: RateLimit | None = WINGS_GLOBAL_LIMIT,
        event_limits: Mapping[str, RateLimit] = WINGS_EVENT_LIMITS,
        default_limit: RateLimit | None = WINGS_DEFAULT_LIMIT,
        headroom: int = 0,
    ) -> None:
        if isinstance(headroom, bool) or not isinstance(headroom, int) or headroom < 0:
            raise ValueError(f"headroom must be an int >= 0, got {headroom!r}")
        for name, limit in event_limits.items():
            if not isinstance(name, str) or not isinstance(limit, RateLimit):
                raise TypeError("event_limits must map event names to RateLimit")
        self.enabled: bool = enabled
        self._headroom = headroom
        self._global = global_limit
        self._events: Mapping[str, RateLimit] = MappingProxyType(dict(event_limits))
        self._default = default_limit
        self._tat: dict[str, float] = {}
        self._blocked_until = -math.inf

    def __repr__(self) -> str:
        return (
            f"<RateLimiter enabled={self.enabled} global={self._global} "
            f"events={dict(self._events)} default={self._default} headroom={self._headroom}>"
        )

    def _buckets(self, event: str) -> tuple[tuple[str, RateLimit], ...]:
        limit = self._events.get(event)
        if limit is not None:
            own: tuple[tuple[str, RateLimit], ...] = ((event, limit),)
        elif self._default is not None:
            own = ((_DEFAULT_KEY, self._default),)
        else:
            own = ()
        if self._global is None:
            return own
        return ((_GLOBAL_KEY, self._global), *own)

    def _ready_at(self, key: str, limit: RateLimit) -> float:
        tat = self._tat.get(key)
        if tat is None:
            return -math.inf
        burst = max(1, limit.burst - self._headroom)
        return tat - (burst - 1) * limit.interval

    def _take(self, key: str, limit: RateLimit, now: float) -> None:
        tat = self._tat.get(key, now)
        self._tat[key] = max(tat, now) + limit.interval

    def delay(self, event: str, now: float) -> float:
        """Seconds to wait before a frame of ``event`` may go (0.0: now). Changes nothing."""
        if not self.enabled:
            return 0.0
        ready = self._blocked_until
        for key, limit in self._buckets(event):
            ready = max(ready, self._ready_at(key, limit))
        wait = ready - now
        return wait if wait > _EPSILON else 0.0

    def consume(self, event: str, now: float) -> None:
        """Record that a frame of ``event`` was sent at ``now`` (takes its tokens)."""
        if not self.enabled:
            return
        for key, limit in self._buckets(event):
            self._take(key, limit, now)

    def check(self, event: str, now: float) -> str | None:
        """The node's view: take the tokens and return ``None``, or name the refusal.

        Returns ``"global"`` when the global bucket is empty (nothing taken), or
        ``event`` when its own bucket is empty (the global token stays taken, as in
        Wings). Ignores :meth:`backoff`.
        """
        if not self.enabled:
            return None
        for key, limit in self._buckets(event):
            if now + _EPSILON < self._ready_at(key, limit):
                return "global" if key == _GLOBAL_KEY else event
            self._take(key, limit, now)
        return None

    def backoff(self, now: float, seconds: float) -> None:
        """Hold every frame until ``now + seconds`` (the node said ``throttled``)."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self._blocked_until = max(self._blocked_until, now + seconds)

    def reset(self) -> None:
        """Forget all history (full buckets, no backoff): use for a new connection."""
        self._tat.clear()
        self._blocked_until = -math.inf
