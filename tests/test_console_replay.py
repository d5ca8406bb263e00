"""Log replay after every (re)connect, one ConsoleOutput per line, ANSI-free text, and
the newer events (feature match, disk_io). Timed: autojump_clock over memory streams."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

from trio_pterows.pterodactyl import (
    AuthSuccess,
    ConsoleOutput,
    FeatureMatch,
    Stats,
    StatusChange,
    open_console,
)
from trio_pterows.testing import FakeWings

from .conftest import TIMED_FAKE, next_of

ConsoleFor = Callable[..., open_console]


@pytest.fixture
def fake_options() -> dict[str, Any]:
    return dict(TIMED_FAKE)


async def lines_until(console: Any, last: str) -> list[ConsoleOutput]:
    """Every ConsoleOutput up to and including the one whose line is ``last``."""
    seen: list[ConsoleOutput] = []
    async for event in console:
        if isinstance(event, ConsoleOutput):
            seen.append(event)
            if event.line == last:
                return seen
    raise AssertionError("the stream ended")


def frames_sent_by_client(fake: FakeWings, index: int, event: str) -> int:
    return sum(1 for f in fake.connections[index].received if f'"event":"{event}"' in str(f))


async def test_the_history_is_replayed_on_connect(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    for i in range(3):
        fake.console(f"old {i}")
    with trio.fail_after(30):
        async with console_for() as console:
            replay = await lines_until(console, "old 2")
            assert [(e.line, e.replayed) for e in replay] == [
                ("old 0", True),
                ("old 1", True),
                ("old 2", True),
            ]
            await trio.sleep(1)  # past the burst (REPLAY_QUIET after its last line)
            fake.console("live")
            live = await next_of(console, ConsoleOutput)
            assert (live.line, live.replayed) == ("live", False)
    assert frames_sent_by_client(fake, 0, "send logs") == 1
    assert frames_sent_by_client(fake, 0, "send stats") == 1


async def test_a_reconnect_replays_only_what_was_missed(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.console("before")
    with trio.fail_after(60):
        async with console_for(reconnect_interval=0.5) as console:
            await lines_until(console, "before")
            fake.console("seen live")
            await lines_until(console, "seen live")
            fake.drop_all()
            await fake.wait_until(lambda: fake.active_connections == 0)
            fake.console("while away 1")
            fake.console("while away 2")
            await next_of(console, AuthSuccess)
            await trio.sleep(2)  # past the replay burst: what follows is live
            fake.console("after")
            got = await lines_until(console, "after")
    assert [(e.line, e.replayed) for e in got] == [
        ("while away 1", True),
        ("while away 2", True),
        ("after", False),
    ]
    assert console.lines.skipped == 2  # "before" and "seen live" were not repeated


async def test_repeated_lines_are_aligned_on_the_whole_tail(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    for line in ("tick", "tick", "save", "tick"):
        fake.console(line)
    with trio.fail_after(60):
        async with console_for(reconnect_interval=0.5) as console:
            await trio.sleep(2)  # the whole first replay was delivered
            fake.drop_all()
            await fake.wait_until(lambda: fake.active_connections == 0)
            fake.console("tick")  # missed: the same text as lines already seen
            await next_of(console, AuthSuccess)
            await trio.sleep(2)
            fake.console("end")
            got = await lines_until(console, "end")
    assert [(e.line, e.replayed) for e in got] == [
        ("tick", True),
        ("tick", True),
        ("save", True),
        ("tick", True),  # the first connect's history
        ("tick", True),  # the one missed: same text, but after the aligned tail
        ("end", False),
    ]


async def test_a_token_refresh_replays_nothing(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    with trio.fail_after(300):
        async with console_for() as console:
            await trio.sleep(250)  # two refreshes on the same socket
            assert console.token_refreshes >= 2
    assert fake.connections_accepted == 1
    assert frames_sent_by_client(fake, 0, "send logs") == 1


async def test_replay_can_be_turned_off(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.console("old")
    with trio.fail_after(30):
        async with console_for(replay_logs=False) as console:
            fake.console("live")
            line = await next_of(console, ConsoleOutput)
            assert (line.line, line.replayed) == ("live", False)
    assert frames_sent_by_client(fake, 0, "send logs") == 0
    with pytest.raises(TypeError, match="replay_logs"):
        console_for(replay_logs="yes")


async def test_an_explicit_request_replays_everything_marked(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.console("one")
    with trio.fail_after(30):
        async with console_for() as console:
            await lines_until(console, "one")
            await trio.sleep(1)
            await console.request_logs()
            again = await next_of(console, ConsoleOutput)
            assert (again.line, again.replayed) == ("one", True)


async def test_an_offline_server_replays_nothing_and_holds_nothing(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.set_status("offline")
    with trio.fail_after(30):
        async with console_for() as console:
            await next_of(console, StatusChange)
            fake.emit("console output", "printed by the daemon")
            start = trio.current_time()
            line = await next_of(console, ConsoleOutput)
            assert (line.line, line.replayed) == ("printed by the daemon", False)
            assert trio.current_time() == start  # not held for a replay window


async def test_one_event_per_line_with_ansi_free_text(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    with trio.fail_after(30):
        async with console_for(replay_logs=False) as console:
            fake.console("\x1b[32mfirst\x1b[0m\r\nsecond\r\n")
            fake.console("third\n")
            got = await lines_until(console, "third")
    assert [e.line for e in got] == ["\x1b[32mfirst\x1b[0m", "second", "third"]
    assert [e.text for e in got] == ["first", "second", "third"]


async def test_feature_match_and_disk_io_are_typed(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.set_resources(disk_io_read_bytes=100, disk_io_write_bytes=200)
    with trio.fail_after(30):
        async with console_for(replay_logs=False) as console:
            payload = {"key": "eula", "pattern": "agree to the EULA", "line": "You need to agree"}
            fake.emit("feature match", json.dumps(payload))
            match = await next_of(console, FeatureMatch)
            assert match == FeatureMatch("eula", "agree to the EULA", "You need to agree")
            await console.request_stats()
            stats = await next_of(console, Stats)
            assert (stats.disk_io_read_bytes, stats.disk_io_write_bytes) == (100, 200)


async def test_filler_args_are_tolerated(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    from trio_pterows.pterodactyl import BackupRestoreCompleted, InstallCompleted, InstallStarted

    with trio.fail_after(30):
        async with console_for(replay_logs=False) as console:
            fake.install_started()  # [""]
            fake.install_completed()
            fake.backup_restore_completed()
            assert await next_of(console, InstallStarted) == InstallStarted()
            assert await next_of(console, InstallCompleted) == InstallCompleted()
            assert await next_of(console, BackupRestoreCompleted) == BackupRestoreCompleted()
