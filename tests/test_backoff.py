"""reconnect_delay: pure properties of every strategy (DESIGN.md section 2, "Retries")."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_pterows import reconnect_delay
from trio_pterows._backoff import STRATEGIES

ALL = ["fixed", "exponential", "exponential-jitter"]
MONOTONIC = ["fixed", "exponential"]

seconds = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
attempts = st.integers(min_value=1, max_value=10**6)


def never_called(low: float, high: float) -> float:
    raise AssertionError("uniform() must not be called")


def test_strategies_are_the_documented_ones() -> None:
    assert set(STRATEGIES) == set(ALL)


# ------------------------------------------------------------------ properties


@given(
    strategy=st.sampled_from(ALL),
    attempt=attempts,
    interval=seconds,
    max_interval=seconds,
    jitter=seconds,
)
def test_delay_within_zero_and_cap(
    strategy: str, attempt: int, interval: float, max_interval: float, jitter: float
) -> None:
    delay = reconnect_delay(
        strategy,  # type: ignore[arg-type]
        attempt,
        interval=interval,
        max_interval=max_interval,
        jitter=jitter,
    )
    assert isinstance(delay, float)
    assert 0.0 <= delay <= max_interval


@given(
    strategy=st.sampled_from(MONOTONIC),
    attempt=st.integers(min_value=1, max_value=2000),
    interval=seconds,
    max_interval=seconds,
)
def test_non_decreasing_in_attempt(
    strategy: str, attempt: int, interval: float, max_interval: float
) -> None:
    def delay(n: int) -> float:
        return reconnect_delay(
            strategy,  # type: ignore[arg-type]
            n,
            interval=interval,
            max_interval=max_interval,
            jitter=5.0,  # ignored by these strategies
            uniform=never_called,
        )

    assert delay(attempt) <= delay(attempt + 1)


@given(
    attempt=attempts,
    interval=seconds,
    max_interval=seconds,
    jitter=st.floats(min_value=1e-9, max_value=1e3),
    fraction=st.floats(min_value=0.0, max_value=1.0),
)
def test_jitter_with_injected_uniform(
    attempt: int, interval: float, max_interval: float, jitter: float, fraction: float
) -> None:
    calls: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        calls.append((low, high))
        return low + (high - low) * fraction

    delay = reconnect_delay(
        "exponential-jitter",
        attempt,
        interval=interval,
        max_interval=max_interval,
        jitter=jitter,
        uniform=uniform,
    )
    assert calls == [(0.0, jitter)]
    base = reconnect_delay("exponential", attempt, interval=interval, max_interval=max_interval)
    assert delay == min(base + jitter * fraction, max_interval)
    assert base <= delay <= min(base + jitter, max_interval)


@given(
    attempt=attempts,
    interval=seconds,
    max_interval=seconds,
    jitter=st.floats(min_value=0.0, max_value=1e3),
    seed=st.integers(0, 2**32 - 1),
)
def test_jitter_with_the_real_uniform(
    attempt: int, interval: float, max_interval: float, jitter: float, seed: int
) -> None:
    random.seed(seed)
    delay = reconnect_delay(
        "exponential-jitter", attempt, interval=interval, max_interval=max_interval, jitter=jitter
    )
    base = reconnect_delay("exponential", attempt, interval=interval, max_interval=max_interval)
    assert base <= delay <= min(base + jitter, max_interval)


def test_real_jitter_actually_varies() -> None:
    random.seed(1234)
    delays = {
        reconnect_delay("exponential-jitter", 1, interval=1.0, max_interval=30.0, jitter=0.3)
        for _ in range(50)
    }
    assert len(delays) > 1
    assert all(1.0 <= d <= 1.3 for d in delays)


@pytest.mark.parametrize("strategy", ["fixed", "exponential"])
def test_jitter_is_ignored_by_non_jitter_strategies(strategy: str) -> None:
    delay = reconnect_delay(
        strategy,  # type: ignore[arg-type]
        3,
        interval=1.0,
        max_interval=30.0,
        jitter=10.0,
        uniform=never_called,
    )
    assert delay == (1.0 if strategy == "fixed" else 4.0)


def test_zero_jitter_does_not_draw() -> None:
    assert (
        reconnect_delay(
            "exponential-jitter",
            2,
            interval=1.0,
            max_interval=30.0,
            jitter=0.0,
            uniform=never_called,
        )
        == 2.0
    )


# ------------------------------------------------------------------ exact values


@pytest.mark.parametrize("attempt", [1, 2, 3, 10, 100])
def test_fixed_is_interval(attempt: int) -> None:
    assert reconnect_delay("fixed", attempt, interval=1.5, max_interval=30.0) == 1.5


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 16.0), (7, 20.0), (50, 20.0)],
)
def test_exponential_exact(attempt: int, expected: float) -> None:
    assert reconnect_delay("exponential", attempt, interval=0.5, max_interval=20.0) == expected


@given(
    attempt=st.integers(min_value=1, max_value=40),
    interval=st.floats(min_value=0.0, max_value=100.0),
)
def test_exponential_formula_below_the_cap(attempt: int, interval: float) -> None:
    expected = interval * 2 ** (attempt - 1)
    assert (
        reconnect_delay("exponential", attempt, interval=interval, max_interval=1e300) == expected
    )


def test_fixed_is_capped() -> None:
    assert reconnect_delay("fixed", 1, interval=10.0, max_interval=3.0) == 3.0


def test_jitter_is_kept_within_the_cap() -> None:
    # base 16 capped to 20, plus 0.5 * 10 = 25 → capped at 20.
    delay = reconnect_delay(
        "exponential-jitter",
        5,
        interval=1.0,
        max_interval=20.0,
        jitter=10.0,
        uniform=lambda lo, hi: hi / 2,
    )
    assert delay == 20.0
    delay = reconnect_delay(
        "exponential-jitter",
        2,
        interval=1.0,
        max_interval=20.0,
        jitter=10.0,
        uniform=lambda lo, hi: hi / 2,
    )
    assert delay == 7.0


@pytest.mark.parametrize("strategy", ALL)
@pytest.mark.parametrize("attempt", [10**3, 1024, 1025, 10**6, 10**12])
def test_huge_attempts_do_not_overflow(strategy: str, attempt: int) -> None:
    delay = reconnect_delay(
        strategy,  # type: ignore[arg-type]
        attempt,
        interval=1.0,
        max_interval=30.0,
        jitter=0.3,
    )
    assert delay == (1.0 if strategy == "fixed" else 30.0)


def test_huge_interval_is_capped() -> None:
    assert reconnect_delay("exponential", 10**6, interval=1e308, max_interval=7.0) == 7.0
    assert reconnect_delay("exponential", 2, interval=1e308, max_interval=7.0) == 7.0


def test_zero_interval_stays_zero() -> None:
    assert reconnect_delay("exponential", 10**6, interval=0.0, max_interval=30.0) == 0.0
    assert reconnect_delay("fixed", 1, interval=0.0, max_interval=30.0) == 0.0


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize("strategy", ALL)
@pytest.mark.parametrize("attempt", [0, -1, -(10**9)])
def test_attempt_below_one_raises(strategy: str, attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt"):
        reconnect_delay(
            strategy,  # type: ignore[arg-type]
            attempt,
            interval=1.0,
            max_interval=30.0,
        )


@pytest.mark.parametrize("strategy", ["linear", "", "Fixed", "exponential_jitter", None])
def test_unknown_strategy_raises(strategy: str) -> None:
    with pytest.raises(ValueError, match="reconnect_strategy"):
        reconnect_delay(strategy, 1, interval=1.0, max_interval=30.0)  # type: ignore[arg-type]
