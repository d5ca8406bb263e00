"""Reconnect delay strategies: pure functions, no trio import.

The delay before retry ``n`` (``n = 1, 2, ...``):

- ``"fixed"``: ``interval``
- ``"exponential"``: ``interval * 2 ** (n - 1)``
- ``"exponential-jitter"``: the exponential delay plus ``uniform(0, jitter)``

all capped at ``max_interval`` (the jitter is kept within the cap).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Literal

__all__ = ["STRATEGIES", "ReconnectStrategy", "reconnect_delay"]

ReconnectStrategy = Literal["fixed", "exponential", "exponential-jitter"]
STRATEGIES: frozenset[str] = frozenset({"fixed", "exponential", "exponential-jitter"})

# 2 ** 1023 is the largest power of two a float holds; beyond it we are at the cap anyway.
_MAX_EXPONENT = 1023


def reconnect_delay(
    strategy: ReconnectStrategy,
    attempt: int,
    *,
    interval: float,
    max_interval: float,
    jitter: float = 0.0,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Return the delay in seconds before retry number ``attempt`` (1-based).

    ``uniform`` is injectable so tests can pin the jitter. The result is always within
    ``[0, max_interval]``.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt!r}")
    if strategy == "fixed":
        delay = interval
    elif strategy in ("exponential", "exponential-jitter"):
        exponent = min(attempt - 1, _MAX_EXPONENT)
        delay = interval * math.ldexp(1.0, exponent) if interval > 0 else 0.0
        if strategy == "exponential-jitter" and jitter > 0:
            delay = min(delay, max_interval) + uniform(0.0, jitter)
    else:
        raise ValueError(
            f"reconnect_strategy must be one of {sorted(STRATEGIES)}, got {strategy!r}"
        )
    if math.isinf(delay) or delay > max_interval:
        return float(max_interval)
    return max(0.0, float(delay))
