"""The retry policy (trio_pterows/_retry.py): pure, tested without trio."""

from __future__ import annotations

import ssl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_pterows import PterowsError
from trio_pterows._retry import RetryPolicy, close_is_fatal, connect_error_is_fatal


def test_retries_count_up_to_the_limit() -> None:
    policy = RetryPolicy()
    numbers = []
    while (attempt := policy.next_attempt(3)) is not None:
        policy.begin(attempt)
        numbers.append(attempt)
    assert numbers == [1, 2, 3]
    assert policy.attempt == 3


def test_no_limit_retries_for_ever() -> None:
    policy = RetryPolicy()
    for n in range(1, 1000):
        assert policy.next_attempt(None) == n
        policy.begin(n)


def test_a_limit_of_zero_never_retries() -> None:
    assert RetryPolicy().next_attempt(0) is None


def test_asking_changes_nothing() -> None:
    policy = RetryPolicy()
    assert policy.next_attempt(5) == 1
    assert policy.next_attempt(5) == 1  # a cancelled retry counts nowhere
    assert policy.attempt == 0


def test_begin_out_of_order_is_an_internal_error() -> None:
    policy = RetryPolicy()
    with pytest.raises(AssertionError):
        policy.begin(2)


def test_the_counter_resets_only_after_reset_after() -> None:
    policy = RetryPolicy()
    policy.begin(1)
    policy.begin(2)
    policy.connection_ended(connected_for=4.9, reset_after=5.0)
    assert policy.attempt == 2  # accepted and dropped at once: still counting
    policy.connection_ended(connected_for=5.0, reset_after=5.0)
    assert policy.attempt == 0


def test_the_reported_counter_reads_zero_once_the_connection_lasted() -> None:
    policy = RetryPolicy()
    policy.begin(1)
    assert policy.counter(None, 5.0) == 1
    assert policy.counter(1.0, 5.0) == 1
    assert policy.counter(5.0, 5.0) == 0
    assert policy.attempt == 1  # reading it changes nothing


@given(
    limit=st.none() | st.integers(min_value=0, max_value=20),
    lives=st.lists(st.floats(min_value=0, max_value=20), max_size=40),
    reset_after=st.floats(min_value=0, max_value=10),
)
def test_retries_between_lasting_connections_never_exceed_the_limit(
    limit: int | None, lives: list[float], reset_after: float
) -> None:
    """Model: a sequence of connections, each followed by retries until the limit."""
    policy = RetryPolicy()
    in_a_row = 0
    for connected_for in lives:
        policy.connection_ended(connected_for, reset_after)
        if connected_for >= reset_after:
            in_a_row = 0
        attempt = policy.next_attempt(limit)
        if attempt is None:
            assert limit is not None
            assert in_a_row >= limit
            break
        policy.begin(attempt)
        in_a_row += 1
        assert attempt == in_a_row
        assert limit is None or attempt <= limit


def test_fatal_attribute_is_fatal() -> None:
    error = PterowsError("no")
    assert not connect_error_is_fatal(error)
    error.fatal = True
    assert connect_error_is_fatal(error)


def test_only_a_true_fatal_counts() -> None:
    class Odd(Exception):
        fatal = "yes"

    assert not connect_error_is_fatal(Odd())


def test_certificate_errors_are_fatal() -> None:
    assert connect_error_is_fatal(ssl.SSLCertVerificationError("bad cert"))
    assert not connect_error_is_fatal(ssl.SSLError("eof"))
    assert not connect_error_is_fatal(OSError("refused"))


@pytest.mark.parametrize(
    ("status", "fatal"),
    [
        (400, True),
        (401, True),
        (403, True),
        (404, True),
        (408, False),
        (425, False),
        (429, False),
        (499, True),
        (500, False),
        (502, False),
        (503, False),
        (301, False),
    ],
)
def test_http_refusals(status: int, fatal: bool) -> None:
    assert connect_error_is_fatal(ConnectionError("refused"), refusal_status=status) is fatal


def test_fatal_close_codes() -> None:
    assert close_is_fatal(4001, {4001})
    assert not close_is_fatal(1000, {4001})
    assert not close_is_fatal(None, {4001})
    assert not close_is_fatal(4001, frozenset())
