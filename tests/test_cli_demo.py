"""The ``pterows`` command line, in-process: the demo's client side: console events,
connection events, commands, a whole run."""

from __future__ import annotations

import re
import sys
from types import SimpleNamespace

import pytest
import trio

from trio_pterows import (
    CloseEvent,
    OpenEvent,
    PterowsError,
    ReconnectAttemptEvent,
)
from trio_pterows.cli._demo import Demo, run_demo
from trio_pterows.cli._main import build_parser
from trio_pterows.pterodactyl import (
    AuthSuccess,
    ConsoleOutput,
    DaemonError,
    DaemonMessage,
    JwtError,
    StatusChange,
    Throttled,
    TokenExpired,
    TokenExpiring,
    UnknownEvent,
)

from .cli_helpers import (
    KEY,
    TTY,
    FakeConsole,
    Recorder,
    token_due,
    token_expired,
    token_refreshed,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


async def test_demo_shows_console_events_and_ends_on_a_library_error() -> None:
    view = Recorder()
    demo = Demo(4, view)
    events = [
        ConsoleOutput("old line", replayed=True),
        ConsoleOutput("\x1b[31mred\x1b[0m line"),
        StatusChange("running"),
        StatusChange("running"),  # repeated on a new socket: once
        token_due,  # the token lifecycle tells expiry episodes and refreshes
        TokenExpiring(),
        token_expired,  # same episode: noted once
        TokenExpired(),
        JwtError("jwt: exp claim is invalid"),
        token_refreshed,
        AuthSuccess(),
        DaemonMessage("checking size"),
        DaemonError("disk full"),
        Throttled("send command"),
        token_expired,
        token_refreshed,
        UnknownEvent("mystery"),
    ]
    console = FakeConsole(events, end=PterowsError("node gone"))
    demo.watch(console)  # type: ignore[arg-type]
    with trio.fail_after(5):
        with trio.CancelScope() as tasks:
            await demo.show_events(console, tasks)  # type: ignore[arg-type]
    assert tasks.cancel_called
    assert view.lines == ["red line"]
    assert view.history == ["old line"]
    assert (demo.console_lines, demo.history_lines) == (2, 1)
    assert view.texts("status") == ["the server is running"]
    assert view.texts("token") == [
        "the token expires soon: fetching a new one from the panel",
        "new token from the panel, re-authenticated on the live socket",
        "the token expired: commands wait for a new one from the panel",
        "new token from the panel, re-authenticated on the live socket",
    ]
    assert view.texts("daemon") == ["checking size", "disk full"]
    assert view.texts("throttled") == ["the node throttled 'send command': slowing down"]
    assert view.texts("close") == ["the console session ended: node gone"]


def test_demo_connection_events() -> None:
    view = Recorder()
    demo = Demo(5, view)
    demo.start = 0.0
    demo.stopped_at = 1.0
    before = demo.snapshot()  # no console yet
    assert (before.state, before.status, before.queued, before.stats) == (
        "CONNECTING",
        "-",
        0,
        None,
    )
    demo.on_open(OpenEvent(type="open", timestamp=0, url="ws://127.0.0.1:1/ws"))
    demo.console = FakeConsole()  # type: ignore[assignment]
    demo.on_close(CloseEvent(type="close", timestamp=0, code=1006, reason="", was_clean=False))
    demo.on_reconnect_attempt(
        ReconnectAttemptEvent(type="reconnectAttempt", timestamp=0, attempt=2, url="u", delay=0.5)
    )
    demo.on_open(OpenEvent(type="open", timestamp=0, url="ws://127.0.0.1:1/ws"))
    demo.ending = True
    demo.on_close(CloseEvent(type="close", timestamp=0, code=1000, reason="bye", was_clean=True))
    assert view.events == [
        ("open", "connected to ws://127.0.0.1:1/ws (through the proxy) and authenticated"),
        ("close", "connection lost: 1006"),
        ("reconnect", "attempt 2 in 0.50 s (a fresh token from the panel first)"),
        ("open", "reconnected and authenticated; queued commands go out now"),
    ]


async def test_demo_plays_commands_and_a_restart(autojump_clock: trio.abc.Clock) -> None:
    view = Recorder()
    demo = Demo(6, view)
    console = FakeConsole()
    demo.start = trio.current_time()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(demo.play, console)
            await trio.sleep(5.1)  # two commands, sent at once
            console.ws.is_connected = False
            console.ws.queued = 2
            console.status = "offline"
            await trio.sleep(5.0)  # the restart at 7.5 s, one queued command at 10 s
            nursery.cancel_scope.cancel()
    assert console.sent == ["say hello #1", "say hello #2", "list"]
    assert console.states == ["restart"]
    assert view.texts("command") == [
        "send 'say hello #1'",
        "send 'say hello #2'",
        "queue 'list': not connected (3 waiting); the server is offline, Wings will ignore it",
    ]
    assert view.texts("power") == ["restart the server (a power action)"]
    assert demo.commands == 3


async def test_demo_runs_with_the_live_view_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = TTY()
    args = build_parser().parse_args(["demo", "--seed", "11", "--duration", "2.5"])
    with trio.fail_after(15):
        assert await run_demo(args, out) == 0
    text = out.getvalue()
    assert "pterows demo" in text
    assert "server console" in text
    assert "what just happened" in text
    assert "\x1b[" in text  # drawn for a terminal
    # The elapsed time is wall-clock: on a busy machine it is longer than asked for.
    summary = re.search(r"summary: (\d+\.\d) s, seed 11:", text)
    assert summary is not None
    assert float(summary[1]) >= 2.4
    assert KEY not in text
    assert "ptlc_" not in text


async def test_demo_command_numbers_never_skip(autojump_clock: trio.abc.Clock) -> None:
    view = Recorder()
    demo = Demo(6, view)
    console = FakeConsole()
    demo.start = trio.current_time()
    with trio.fail_after(60):
        with trio.move_on_after(20.1):  # 8 turns, one of them the restart at 7.5 s
            await demo.play(console)
    assert console.sent == [
        "say hello #1",
        "say hello #2",
        "list",
        "say hello #3",
        "say hello #4",
        "list",
        "say hello #5",
    ]
    assert console.states == ["restart"]


def test_demo_snapshot_counts_reconnects_as_connections_after_the_first() -> None:
    demo = Demo(8, Recorder())
    demo.start = 0.0
    demo.stopped_at = 1.0
    metrics = SimpleNamespace(
        connections=3,
        total_reconnects=5,  # attempts, some of which failed
        last_latency=None,
        latency=None,
        queued=0,
        dropped=0,
    )
    ws = SimpleNamespace(get_metrics=lambda: metrics, state=SimpleNamespace(value="OPEN"))
    demo.console = SimpleNamespace(  # type: ignore[assignment]
        ws=ws, status="running", token_refreshes=0, last_stats=None
    )
    demo.console_lines, demo.history_lines = 9, 4
    snapshot = demo.snapshot()
    assert (snapshot.connections, snapshot.reconnects, snapshot.retries) == (3, 2, 5)
    assert (snapshot.console_lines, snapshot.history_lines) == (9, 4)
    assert "9 console lines (4 replayed history);" in snapshot.summary()
    assert snapshot.reconnects_text() == "2 (3 connections), 5 attempts"
