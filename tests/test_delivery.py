"""AckTracker, the manager's ack component: room, waits, expiry (autojump clock)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import pytest
import trio
import trio.testing

import trio_pterows as pw
from trio_pterows._delivery import AckTracker


def _id(message: Any) -> Hashable | None:
    return message.get("id") if isinstance(message, dict) else None


def _ack(message: Any) -> Hashable | None:
    return message.get("ack") if isinstance(message, dict) else None


def _tracker(
    nursery: trio.Nursery, *, limit: int = 4, timeout: float | None = 10.0
) -> tuple[AckTracker, list[BaseException]]:
    expired: list[BaseException] = []
    tracker = AckTracker(
        pw.AckPolicy(_id, _ack, limit=limit, timeout=timeout), on_expired=expired.append
    )
    tracker.bind(nursery)
    return tracker, expired


async def _write(tracker: AckTracker, n: int) -> None:
    await tracker.reserve(n)
    tracker.written(n, f"frame{n}")


async def test_written_messages_wait_for_their_ack_in_order(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    tracker, _ = _tracker(nursery)
    assert tracker.id_of({"id": 1}) == 1
    assert tracker.id_of("text") is None
    for n in range(3):
        await _write(tracker, n)
    assert tracker.unacked == 3
    assert tracker.on_incoming({"ack": 1}) is True
    assert tracker.on_incoming({"ack": 1}) is True  # a repeated ack is still an ack
    assert tracker.on_incoming({"other": 1}) is False
    assert tracker.to_resend() == [(0, "frame0"), (2, "frame2")]
    assert tracker.is_waiting(2)
    assert not tracker.is_waiting(1)
    assert tracker.acked == 1


async def test_reserve_waits_for_room(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    tracker, _ = _tracker(nursery, limit=2)
    await _write(tracker, 0)
    await tracker.reserve(1)  # reserved counts: the window is full now
    got_room = trio.Event()

    async def third() -> None:
        await _write(tracker, 2)
        got_room.set()

    nursery.start_soon(third)
    await trio.testing.wait_all_tasks_blocked()
    assert not got_room.is_set()
    tracker.written(1, "frame1")
    await trio.testing.wait_all_tasks_blocked()
    assert not got_room.is_set()
    tracker.on_incoming({"ack": 0})
    with trio.fail_after(1):
        await got_room.wait()
    assert [frame for _, frame in tracker.to_resend()] == ["frame1", "frame2"]


async def test_release_frees_the_reservation(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    tracker, _ = _tracker(nursery, limit=1)
    await tracker.reserve("x")
    with pytest.raises(ValueError, match=r"^id_of: id 'x' is already waiting"):
        await tracker.reserve("x")
    tracker.release("x")
    assert tracker.unacked == 0
    with trio.fail_after(1):
        await tracker.reserve("y")


async def test_unacked_messages_expire_with_an_error(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    tracker, expired = _tracker(nursery, timeout=5.0)
    start = trio.current_time()
    await _write(tracker, 0)
    await trio.sleep(2)
    await _write(tracker, 1)
    with trio.fail_after(30):
        await tracker.wait_acked()
    assert trio.current_time() - start == pytest.approx(7.0)  # the second one's deadline
    assert [str(e) for e in expired] == [
        "no ack for message 0 within 5.0 s",
        "no ack for message 1 within 5.0 s",
    ]
    assert all(isinstance(e, pw.ResponseTimeout) for e in expired)
    assert tracker.expired == 2
    assert tracker.unacked == 0


async def test_an_ack_before_the_deadline_prevents_expiry(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    tracker, expired = _tracker(nursery, timeout=5.0)
    await _write(tracker, 0)
    await trio.sleep(4)
    tracker.on_incoming({"ack": 0})
    await trio.sleep(10)
    assert expired == []
    await _write(tracker, 1)  # the timer starts again for a new message
    await trio.sleep(6)
    assert len(expired) == 1


async def test_wait_acked_returns_when_the_last_ack_comes(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    tracker, _ = _tracker(nursery, timeout=None)
    with trio.fail_after(1):
        await tracker.wait_acked()  # nothing waits: at once
    await _write(tracker, 0)
    await _write(tracker, 1)
    done = trio.Event()

    async def waiter() -> None:
        await tracker.wait_acked()
        done.set()

    nursery.start_soon(waiter)
    tracker.on_incoming({"ack": 0})
    await trio.testing.wait_all_tasks_blocked()
    assert not done.is_set()
    tracker.on_incoming({"ack": 1})
    with trio.fail_after(1):
        await done.wait()


async def test_close_forgets_and_wakes_waiters_with_destroyed(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    tracker, _ = _tracker(nursery, limit=1, timeout=None)
    await _write(tracker, 0)
    errors: list[BaseException] = []

    async def blocked(fn: Any) -> None:
        try:
            await fn()
        except pw.Destroyed as exc:
            errors.append(exc)

    nursery.start_soon(blocked, tracker.wait_acked)
    nursery.start_soon(blocked, lambda: tracker.reserve(1))
    await trio.testing.wait_all_tasks_blocked()
    assert tracker.close() == 1
    await trio.testing.wait_all_tasks_blocked()
    assert len(errors) == 2
    tracker.written(5, "late")  # after close: ignored
    assert tracker.unacked == 0
    with pytest.raises(pw.Destroyed):
        await tracker.reserve(2)


async def test_the_timer_ends_as_soon_as_the_window_is_empty(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    tracker, _ = _tracker(nursery, timeout=30.0)

    def timers() -> int:
        return sum(1 for task in nursery.child_tasks if task.name.endswith("expire"))

    await _write(tracker, 0)
    await trio.testing.wait_all_tasks_blocked()
    assert timers() == 1
    tracker.on_incoming({"ack": 0})
    await trio.testing.wait_all_tasks_blocked()
    assert timers() == 0  # not asleep until the acked message's deadline
