"""The shared helpers (trio_pterows/_util.py): Pulse, call, single_exception,
OwnedNursery, close_text."""

from __future__ import annotations

import sys

import pytest
import trio
import trio.testing

from trio_pterows._util import OwnedNursery, Pulse, call, close_text, single_exception

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


async def test_a_pulse_wakes_every_current_waiter_and_only_them() -> None:
    pulse = Pulse()
    woken: list[int] = []

    async def waiter(n: int) -> None:
        await pulse.wait()
        woken.append(n)

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter, 1)
            nursery.start_soon(waiter, 2)
            await trio.testing.wait_all_tasks_blocked()
            pulse.fire()
            await trio.testing.wait_all_tasks_blocked()
            assert sorted(woken) == [1, 2]
            nursery.start_soon(waiter, 3)
            await trio.testing.wait_all_tasks_blocked()
            assert woken.count(3) == 0  # a later waiter waits for the next fire
            pulse.fire()
    assert sorted(woken) == [1, 2, 3]


def test_firing_a_pulse_nobody_waits_on_allocates_nothing() -> None:
    pulse = Pulse()
    pulse.fire()
    assert pulse._event is None  # memory at scale: no Event until someone waits


async def test_call_awaits_only_what_is_awaitable() -> None:
    async def twice(x: int) -> int:
        await trio.lowlevel.checkpoint()
        return 2 * x

    assert await call(lambda x: x + 1, 1) == 2
    assert await call(twice, 2) == 4


def test_single_exception_unwraps_one_leaf_only() -> None:
    error = ValueError("one")
    nested = BaseExceptionGroup("outer", [ExceptionGroup("inner", [error])])
    assert single_exception(nested) is error
    assert single_exception(ExceptionGroup("two", [ValueError(), KeyError()])) is None


async def test_owned_nursery_raises_a_single_failure_as_itself() -> None:
    owned = OwnedNursery()
    nursery = await owned.open()

    async def fail() -> None:
        raise KeyError("boom")

    nursery.start_soon(fail)
    with pytest.raises(KeyError, match="boom"):
        await owned.close()


async def test_owned_nursery_close_cancels_what_is_left() -> None:
    with trio.fail_after(1):
        owned = OwnedNursery()
        nursery = await owned.open()
        nursery.start_soon(trio.sleep_forever)
        await owned.close()
    await OwnedNursery().close()  # never opened: nothing to do


def test_close_text() -> None:
    assert close_text(1000, "bye") == "1000 bye"
    assert close_text(1006, None) == "1006"
    assert close_text(None, "whatever") == "lost"
