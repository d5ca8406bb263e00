"""The ``pterows`` command line, in-process: the demo's server side: command answers and
the world's lines."""

from __future__ import annotations

import random
import sys

import pytest
import trio

from trio_pterows.cli._demo import Demo

from .cli_helpers import (
    MIB,
    Recorder,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


def test_demo_server_lines_and_commands() -> None:
    demo = Demo(2, Recorder())
    demo.start = 0.0
    demo.stopped_at = 61.0
    assert demo.server.run_command("list") == (
        "[12:01:01 INFO]: There are 3 of a max of 20 players online: Alex, Steve, Kiki",
    )
    assert demo.server.run_command("say hi") == ("[12:01:01 INFO]: [Server] hi",)
    assert "Unknown command" in demo.server.run_command("op me")[0]
    rng = random.Random(5)
    lines = [demo.server.game_line(rng) for _ in range(300)]
    for needle in (
        "> ",
        "joined the game",
        "left the game",
        "advancement [",
        "Saving the game",
        "WARN]: Can't keep up!",
        "slain by Zombie",
    ):
        assert any(needle in line for line in lines), needle


async def test_demo_world_talks_only_while_running(autojump_clock: trio.abc.Clock) -> None:
    demo = Demo(3, Recorder())
    with trio.fail_after(30):
        demo.fake.set_status("offline")
        with trio.move_on_after(3):
            await demo.server.world()
        assert demo.fake.console_log == []
        demo.fake.set_status("running")
        with trio.move_on_after(3):
            await demo.server.world()
    assert len(demo.fake.console_log) >= 3
    assert demo.fake.current_stats().memory_bytes != 256 * MIB
