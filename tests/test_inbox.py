"""The incoming buffer (trio_pterows._inbox): a memory channel's semantics, smaller."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from trio_pterows._inbox import Inbox


def test_fifo_bounded_and_empty_again() -> None:
    inbox = Inbox(2)
    inbox.send_nowait("a")
    inbox.send_nowait("b")
    with pytest.raises(trio.WouldBlock):
        inbox.send_nowait("c")
    assert len(inbox) == 2
    assert inbox.receive_nowait() == "a"
    inbox.send_nowait("c")  # room again
    assert [inbox.receive_nowait(), inbox.receive_nowait()] == ["b", "c"]
    assert len(inbox) == 0
    with pytest.raises(trio.WouldBlock):
        inbox.receive_nowait()


def test_close_delivers_the_rest_then_ends() -> None:
    inbox = Inbox(4)
    inbox.send_nowait(1)
    inbox.close()
    assert inbox.closed
    with pytest.raises(trio.ClosedResourceError):
        inbox.send_nowait(2)
    assert inbox.receive_nowait() == 1
    with pytest.raises(trio.EndOfChannel):
        inbox.receive_nowait()


@given(st.lists(st.one_of(st.integers(), st.just(None)), max_size=60), st.integers(1, 8))
def test_behaves_like_a_bounded_list(ops: list[int | None], limit: int) -> None:
    """None = receive, an int = send: the same answers as a plain list model."""
    inbox, model = Inbox(limit), []
    for op in ops:
        if op is None:
            if model:
                assert inbox.receive_nowait() == model.pop(0)
            else:
                with pytest.raises(trio.WouldBlock):
                    inbox.receive_nowait()
        elif len(model) < limit:
            inbox.send_nowait(op)
            model.append(op)
        else:
            with pytest.raises(trio.WouldBlock):
                inbox.send_nowait(op)
        assert len(inbox) == len(model)


async def test_receive_waits_for_an_item_and_for_the_end() -> None:
    inbox = Inbox(4)
    got: list[Any] = []

    async def consume() -> None:
        while True:
            try:
                got.append(await inbox.receive())
            except trio.EndOfChannel:
                got.append("end")
                return

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            await trio.testing.wait_all_tasks_blocked()
            inbox.send_nowait("x")
            await trio.testing.wait_all_tasks_blocked()
            inbox.close()
    assert got == ["x", "end"]


async def test_receive_is_a_cancel_point_and_takes_nothing_when_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    inbox = Inbox(4)
    inbox.send_nowait("kept")
    with trio.CancelScope() as scope:
        scope.cancel()
        await inbox.receive()
    assert scope.cancelled_caught
    assert inbox.receive_nowait() == "kept"
    # Cancelled while waiting: nothing taken either.
    with trio.move_on_after(0.01):
        await inbox.receive()
    inbox.send_nowait("later")
    assert inbox.receive_nowait() == "later"


async def test_receive_is_a_schedule_point_with_an_item_ready() -> None:
    inbox = Inbox(4)
    inbox.send_nowait(1)
    with trio.testing.assert_checkpoints():
        await inbox.receive()


async def test_two_consumers_each_get_one() -> None:
    inbox = Inbox(4)
    got: list[Any] = []

    async def consume() -> None:
        got.append(await inbox.receive())

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            nursery.start_soon(consume)
            await trio.testing.wait_all_tasks_blocked()
            inbox.send_nowait("a")
            inbox.send_nowait("b")
    assert sorted(got) == ["a", "b"]
