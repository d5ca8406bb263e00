"""ConnectionState changes go through one checked function (trio_pterows/_state.py);
each component's phase enum uses the same check."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trio_pterows as pw
from trio_pterows._state import TRANSITIONS, InternalError, StateCell, check_transition

S = pw.ConnectionState


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize("old", list(S))
@pytest.mark.parametrize("new", list(S))
def test_transitions_outside_the_table_raise(old: S, new: S) -> None:
    cell = StateCell()
    cell.value = old
    if new is old or new in TRANSITIONS[old]:
        cell.set(new)
        assert cell.value is new
    else:
        with pytest.raises(InternalError, match=f"{old.name} -> {new.name}"):
            cell.set(new)
        assert cell.value is old  # refused: unchanged


def test_internal_errors_are_assertion_errors() -> None:
    assert issubclass(InternalError, AssertionError)


def test_the_check_works_for_any_enum() -> None:
    table = {S.OPEN: {S.CLOSED}, S.CLOSED: set()}
    check_transition(table, S.OPEN, S.CLOSED)
    check_transition(table, S.CLOSED, S.CLOSED)  # staying is always allowed
    with pytest.raises(InternalError):
        check_transition(table, S.CLOSED, S.OPEN)


def test_observer_sees_each_change() -> None:
    seen: list[tuple[S, S]] = []
    cell = StateCell(lambda old, new: seen.append((old, new)))
    cell.set(S.CONNECTING)
    cell.set(S.CONNECTING)  # no change, no call
    cell.set(S.OPEN)
    assert seen == [(S.CLOSED, S.CONNECTING), (S.CONNECTING, S.OPEN)]


async def test_wait_returns_at_once_when_already_there() -> None:
    cell = StateCell()
    with trio.fail_after(1):
        assert await cell.wait({S.CLOSED, S.OPEN}) is S.CLOSED


async def test_wait_wakes_on_the_change() -> None:
    cell = StateCell()
    got: list[S] = []

    async def waiter() -> None:
        got.append(await cell.wait({S.OPEN}))

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked()
            cell.set(S.CONNECTING)
            await trio.testing.wait_all_tasks_blocked()
            assert got == []
            cell.set(S.OPEN)
    assert got == [S.OPEN]
