"""The ``pterows`` command line, in-process: standard input without threads; telling when
output goes quiet."""

from __future__ import annotations

import os
import sys

import pytest
import trio

from trio_pterows.cli._stdin import Activity, LineReader

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


async def test_activity_waits_until_nothing_happens_for_a_while(
    autojump_clock: trio.abc.Clock,
) -> None:
    activity = Activity()

    async def busy() -> None:
        for _ in range(5):
            await trio.sleep(0.3)
            activity.touch()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(busy)
            start = trio.current_time()
            await activity.wait_quiet(0.5)
            assert trio.current_time() - start == pytest.approx(2.0)


async def test_line_reader_treats_a_closed_descriptor_as_end_of_input() -> None:
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    reader = LineReader(read_fd)
    reader._pollable = False
    os.close(read_fd)
    with trio.fail_after(2):
        assert await reader.readline() is None
