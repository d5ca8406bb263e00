"""AckPolicy validation and the unacked window (Sans-I/O: no trio, no I/O)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import trio_pterows as pw
from trio_pterows._ack import UnackedWindow


def _id(message: Any) -> Hashable | None:
    return message.get("id") if isinstance(message, dict) else None


def _ack(message: Any) -> Hashable | None:
    return message.get("ack") if isinstance(message, dict) else None


# ---------------------------------------------------------------- AckPolicy


def test_policy_positional_callables_and_defaults() -> None:
    policy = pw.AckPolicy(_id, _ack)
    assert policy.id_of is _id
    assert policy.ack_of is _ack
    assert policy.timeout == 30.0
    assert policy.limit == 1024
    assert pw.AckPolicy(_id, _ack, timeout=None, limit=1).timeout is None


def test_policy_is_frozen() -> None:
    policy = pw.AckPolicy(_id, _ack)
    with pytest.raises(AttributeError):
        policy.limit = 3  # type: ignore[misc]


def test_timeout_and_limit_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        pw.AckPolicy(_id, _ack, 5.0)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"id_of": 3}, TypeError, "id_of"),
        ({"ack_of": "ack"}, TypeError, "ack_of"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": -1.0}, ValueError, "timeout"),
        ({"timeout": float("inf")}, ValueError, "timeout"),
        ({"timeout": float("nan")}, ValueError, "timeout"),
        ({"timeout": "30"}, TypeError, "timeout"),
        ({"timeout": True}, TypeError, "timeout"),
        ({"limit": 0}, ValueError, "limit"),
        ({"limit": 1.5}, TypeError, "limit"),
        ({"limit": True}, TypeError, "limit"),
    ],
)
def test_policy_rejects_bad_values_naming_the_field(
    kwargs: dict[str, Any], error: type[Exception], field: str
) -> None:
    args: dict[str, Any] = {"id_of": _id, "ack_of": _ack, **kwargs}
    with pytest.raises(error, match=rf"^{field}: "):
        pw.AckPolicy(**args)


# ---------------------------------------------------------------- the window


def test_add_ack_pending_in_send_order() -> None:
    window: UnackedWindow[str] = UnackedWindow(limit=10, timeout=5.0)
    for n in range(5):
        window.add(n, f"frame{n}", now=float(n))
    assert len(window) == 5
    assert window.ack(2) is True
    assert window.ack(2) is False  # a repeated ack
    assert window.ack("unknown") is False
    assert window.pending() == ["frame0", "frame1", "frame3", "frame4"]
    assert next(iter(window.items())) == (0, "frame0")
    assert 3 in window
    assert 2 not in window


def test_expire_drops_the_old_ones_oldest_first() -> None:
    window: UnackedWindow[str] = UnackedWindow(limit=10, timeout=5.0)
    window.add("a", "A", now=0.0)
    window.add("b", "B", now=1.0)
    window.add("c", "C", now=2.0)
    assert window.next_deadline() == 5.0
    assert window.expire(4.999) == []
    assert window.expire(6.0) == [("a", "A"), ("b", "B")]
    assert window.expired == 2
    assert window.pending() == ["C"]
    assert window.next_deadline() == 7.0
    assert window.ack("a") is False  # an ack after its message expired


def test_expire_at_the_deadline_exactly() -> None:
    # A timer that fires at next_deadline() must expire the message it waited for.
    window: UnackedWindow[str] = UnackedWindow(limit=3, timeout=2.0)
    window.add(1, "x", now=10.0)
    deadline = window.next_deadline()
    assert deadline == 12.0
    assert window.expire(deadline) == [(1, "x")]


def test_no_timeout_never_expires() -> None:
    window: UnackedWindow[str] = UnackedWindow(limit=3, timeout=None)
    window.add(1, "x", now=0.0)
    assert window.next_deadline() is None
    assert window.expire(1e12) == []
    assert len(window) == 1


def test_limit_full_and_refusal_leaves_window_unchanged() -> None:
    window: UnackedWindow[str] = UnackedWindow(limit=2, timeout=None)
    fullness = [window.full]
    window.add(1, "x", now=0.0)
    fullness.append(window.full)
    window.add(2, "y", now=0.0)
    fullness.append(window.full)
    assert fullness == [False, False, True]
    with pytest.raises(pw.QueueFull, match=r"ack\.limit"):
        window.add(3, "z", now=0.0)
    assert window.pending() == ["x", "y"]
    window.ack(1)
    assert not window.full
    window.add(3, "z", now=0.0)
    assert window.pending() == ["y", "z"]


def test_duplicate_id_is_refused() -> None:
    window: UnackedWindow[str] = UnackedWindow(limit=5, timeout=None)
    window.add("id", "first", now=0.0)
    with pytest.raises(ValueError, match=r"^id_of: id 'id' is already waiting"):
        window.add("id", "second", now=1.0)
    assert window.pending() == ["first"]


def test_clear_and_bad_limit() -> None:
    window: UnackedWindow[int] = UnackedWindow(limit=5, timeout=1.0)
    window.add(1, 1, now=0.0)
    window.add(2, 2, now=0.0)
    assert window.clear() == 2
    assert not window
    assert window.next_deadline() is None
    assert "0/5" in repr(window)
    with pytest.raises(ValueError, match=r"^limit: "):
        UnackedWindow(limit=0, timeout=None)


# ---------------------------------------------------------------- properties

# A program: ("add", id, dt) adds id (if not waiting and room) after dt seconds;
# ("ack", id) acknowledges; ("expire", dt) lets dt seconds pass and expires.
ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 20), st.floats(0, 3)),
        st.tuples(st.just("ack"), st.integers(0, 20)),
        st.tuples(st.just("expire"), st.floats(0, 3)),
    ),
    max_size=80,
)


@given(
    ops=ops,
    limit=st.integers(1, 8),
    timeout=st.one_of(st.none(), st.floats(0.5, 5)),
)
def test_window_matches_a_list_model(
    ops: list[tuple[Any, ...]], limit: int, timeout: float | None
) -> None:
    window: UnackedWindow[str] = UnackedWindow(limit=limit, timeout=timeout)
    model: list[tuple[int, str, float]] = []  # (id, item, sent_at), send order
    now = 0.0
    expired_total = 0
    for op in ops:
        if op[0] == "add":
            _, id, dt = op
            now += dt
            if any(m[0] == id for m in model):
                with pytest.raises(ValueError, match="already waiting"):
                    window.add(id, f"m{id}@{now}", now)
            elif len(model) >= limit:
                assert window.full
                with pytest.raises(pw.QueueFull):
                    window.add(id, f"m{id}@{now}", now)
            else:
                window.add(id, f"m{id}@{now}", now)
                model.append((id, f"m{id}@{now}", now))
        elif op[0] == "ack":
            _, id = op
            present = any(m[0] == id for m in model)
            assert window.ack(id) is present
            model = [m for m in model if m[0] != id]
        else:
            _, dt = op
            now += dt
            got = window.expire(now)
            if timeout is None:
                gone: list[tuple[int, str, float]] = []
            else:
                gone = [m for m in model if now - m[2] >= timeout]
            model = [m for m in model if m not in gone]
            assert got == [(m[0], m[1]) for m in gone]
            expired_total += len(gone)
        # Invariants after every step: order, bound, deadline, counters.
        assert window.pending() == [m[1] for m in model]
        assert len(window) == len(model) <= limit
        assert window.full is (len(model) >= limit)
        assert window.expired == expired_total
        if timeout is None or not model:
            assert window.next_deadline() is None
        else:
            assert window.next_deadline() == model[0][2] + timeout


@given(st.lists(st.integers(0, 1000), unique=True, max_size=200), st.randoms())
def test_acks_in_any_order_keep_the_rest_in_send_order(ids: list[int], rnd: Any) -> None:
    window: UnackedWindow[int] = UnackedWindow(limit=max(1, len(ids)), timeout=None)
    for i in ids:
        window.add(i, i, now=0.0)
    acked = rnd.sample(ids, k=len(ids) // 2)
    for i in acked:
        assert window.ack(i)
    assert window.pending() == [i for i in ids if i not in set(acked)]
