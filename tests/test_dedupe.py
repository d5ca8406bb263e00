"""The receive-dedupe window (Sans-I/O)."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_pterows._dedupe import DedupeWindow


def test_second_sighting_is_a_duplicate() -> None:
    window = DedupeWindow(3)
    assert window.seen("a") is False
    assert window.seen("a") is True
    assert window.duplicates == 1
    assert len(window) == 1
    assert "a" in window


def test_only_the_last_n_keys_are_remembered() -> None:
    window = DedupeWindow(2)
    for key in ("a", "b", "c"):
        assert window.seen(key) is False
    assert "a" not in window  # evicted by "c"
    assert window.seen("a") is False  # so it passes again
    assert window.seen("c") is True
    assert len(window) == 2


def test_a_duplicate_does_not_refresh_its_key() -> None:
    window = DedupeWindow(2)
    window.seen("a")
    window.seen("b")
    assert window.seen("a") is True
    window.seen("c")  # evicts "a", the oldest accepted, despite the recent duplicate
    assert "a" not in window
    assert "b" in window


def test_clear_and_bad_size() -> None:
    window = DedupeWindow(4)
    window.seen(1)
    window.seen(1)
    window.clear()
    assert len(window) == 0
    assert window.duplicates == 1
    assert window.seen(1) is False
    assert "duplicates=1" in repr(window)
    with pytest.raises(ValueError, match=r"^dedupe_window: "):
        DedupeWindow(0)


@given(st.lists(st.integers(0, 30), max_size=300), st.integers(1, 12))
def test_matches_a_model_of_the_last_n_accepted_keys(keys: list[int], size: int) -> None:
    window = DedupeWindow(size)
    accepted: deque[int] = deque(maxlen=size)  # the model: last `size` keys let through
    duplicates = 0
    for key in keys:
        expected = key in accepted
        assert window.seen(key) is expected
        if expected:
            duplicates += 1
        else:
            accepted.append(key)
        assert len(window) == len(accepted) <= size
    assert window.duplicates == duplicates
    assert all(k in window for k in accepted)
