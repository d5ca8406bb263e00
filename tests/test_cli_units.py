"""The ``pterows`` command line's pieces, in-process: the redactor, text and colour
handling, argument types, the demo's views and chaos, and the console session's
event and line handling (against fakes and against FakeWings)."""

from __future__ import annotations

import argparse
import io
import logging
import os
import random
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import trio
from rich.console import Console as RichConsole

from trio_pterows import _cli
from trio_pterows._cli import (
    _Activity,
    _ConsoleSession,
    _Demo,
    _LineReader,
    _LiveView,
    _PlainView,
    _RedactingFormatter,
    _Redactor,
    _RefreshWatch,
    _Snapshot,
    _StderrHandler,
    build_parser,
    run_console,
    run_demo,
)
from trio_pterows._events import CloseEvent, OpenEvent, ReconnectAttemptEvent
from trio_pterows._exceptions import ConnectionFailed, PterowsError
from trio_pterows._metrics import LatencyStats
from trio_pterows.pterodactyl import (
    AuthSuccess,
    BackupCompleted,
    BackupRestoreCompleted,
    ConsoleClosed,
    ConsoleOutput,
    DaemonError,
    DaemonMessage,
    Deleted,
    InstallCompleted,
    InstallOutput,
    InstallStarted,
    JwtError,
    Stats,
    StatusChange,
    Throttled,
    TokenExpired,
    TokenExpiring,
    TransferLogs,
    TransferStatus,
    UnknownEvent,
)
from trio_pterows.testing import FakeWings

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")

KEY = "ptlc_UnitTestKeyThatMustNeverBePrinted000000000"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
MIB = 1024 * 1024


class TTY(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _stats(**changes: Any) -> Stats:
    base: dict[str, Any] = {
        "memory_bytes": 256 * MIB,
        "memory_limit_bytes": 1024 * MIB,
        "cpu_absolute": 12.5,
        "network_rx_bytes": 1024,
        "network_tx_bytes": 2048,
        "uptime": 3725.0,
        "state": "running",
        "disk_bytes": 64 * MIB,
    }
    base.update(changes)
    return Stats(**base)


def _console_args(*extra: str, server: str = "abc123") -> argparse.Namespace:
    return build_parser().parse_args(
        ["console", "--panel", "http://panel.test", "--server", server, *extra]
    )


# ------------------------------------------------------------------ redaction, logging


def test_redactor_masks_known_secrets_jwts_and_every_url_query() -> None:
    redact = _Redactor()
    redact.add(KEY)
    redact.add("abc")  # too short to be a secret: masking it would mangle text
    redact.add(None)
    text = f"key={KEY} jwt {JWT} url https://panel.example/x?token=s3cret&a=1. abc"
    assert redact(text) == "key=*** jwt <token> url https://panel.example/x?***. abc"
    assert redact("wss://node.example:8080/ws, fine") == "wss://node.example:8080/ws, fine"


def test_redacting_formatter_and_handler_write_to_the_current_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    _cli._redact.add(KEY)
    handler = _StderrHandler()
    handler.setFormatter(_RedactingFormatter("%(levelname)s %(message)s"))
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "auth %s %s", (KEY, JWT), None)
    handler.emit(record)
    assert err.getvalue() == "ERROR auth *** <token>\n"


def test_stderr_handler_survives_a_broken_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def write(self, text: str) -> int:
            raise OSError("stderr is gone")

        def flush(self) -> None:
            raise OSError("stderr is gone")

    monkeypatch.setattr(sys, "stderr", Broken())
    handler = _StderrHandler()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "hello", (), None)
    handler.emit(record)  # handleError, not an exception


# ------------------------------------------------------------------ small helpers


def test_reason_names_the_last_attempts_error_and_unwraps_trio_groups() -> None:
    inner = OSError("all attempts to connect to 127.0.0.1:1 failed")
    inner.__cause__ = ExceptionGroup(
        "x", [OSError("first"), ExceptionGroup("y", [ConnectionRefusedError("refused")])]
    )
    failed = ConnectionFailed("cannot connect", [("ws://a", ValueError("no")), ("ws://b", inner)])
    assert _cli._reason(failed) == "ConnectionRefusedError: refused"
    assert _cli._reason(ConnectionFailed("gave  up\nnow", [])) == "ConnectionFailed: gave up now"
    assert _cli._reason(TimeoutError()) == "TimeoutError"
    plain = OSError("plain")
    plain.__cause__ = ValueError("not a group")
    assert _cli._reason(plain) == "OSError: plain"


def test_only_looks_inside_groups() -> None:
    assert _cli._only(KeyboardInterrupt(), KeyboardInterrupt)
    group = BaseExceptionGroup(
        "g", [KeyboardInterrupt(), BaseExceptionGroup("h", [KeyboardInterrupt()])]
    )
    assert _cli._only(group, KeyboardInterrupt)
    assert not _cli._only(
        BaseExceptionGroup("g", [KeyboardInterrupt(), ValueError()]), KeyboardInterrupt
    )


def test_paint_only_known_styles_when_enabled() -> None:
    assert _cli._paint("x", "red", True) == "\x1b[31mx\x1b[0m"
    assert _cli._paint("x", "red", False) == "x"
    assert _cli._paint("x", "", True) == "x"
    assert _cli._paint("x", "sparkly", True) == "x"


def test_clean_strips_titles_cursor_moves_and_controls() -> None:
    line = "\x1b]0;pwned\x1b\\a\x1b[2Kb\x1bMc\x00\x7fd\x1b"
    assert _cli._clean(line, keep_colour=True) == "abcd"
    assert _cli._clean("\x1b[1;32mok\r\n", keep_colour=True) == "\x1b[1;32mok\x1b[0m"


def test_use_colour_needs_a_terminal_and_no_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert _cli._use_colour(TTY(), no_color=False)
    assert not _cli._use_colour(TTY(), no_color=True)
    assert not _cli._use_colour(io.StringIO(), no_color=False)
    assert not _cli._use_colour(object(), no_color=False)  # type: ignore[arg-type]
    closed_plain = io.StringIO()
    closed_plain.close()
    assert not _cli._use_colour(closed_plain, no_color=False)  # isatty: ValueError
    monkeypatch.setenv("NO_COLOR", "1")
    assert not _cli._use_colour(TTY(), no_color=False)


def test_sizes_durations_and_stats_lines() -> None:
    assert _cli._size(512) == "512 B"
    assert _cli._size(2048) == "2.0 KiB"
    assert _cli._size(3 * MIB) == "3.0 MiB"
    assert _cli._size(5000 * 1024 * MIB) == "5000.0 GiB"
    assert _cli._duration(3725.9) == "1:02:05"
    assert _cli._ms(None) == "-"
    assert _cli._ms(0.0015) == "1.5 ms"
    assert _cli._stats_line(_stats()) == (
        "stats: running, cpu 12.5%, memory 256.0 MiB / 1.0 GiB, disk 64.0 MiB, "
        "network rx 1.0 KiB tx 2.0 KiB, uptime 1:02:05"
    )
    line = _cli._stats_line(_stats(memory_limit_bytes=0, state=""))
    assert line.startswith("stats: unknown, cpu 12.5%, memory 256.0 MiB, disk")
    assert _cli._n(1, "fault") == "1 fault"
    assert _cli._n(2, "token refresh", "token refreshes") == "2 token refreshes"


def test_refresh_watch_counts_each_refresh_once() -> None:
    watch = _RefreshWatch()
    console = SimpleNamespace(token_refreshes=0)
    assert not watch.refreshed(None, AuthSuccess())
    assert watch.expiry_notice()
    assert not watch.expiry_notice()  # the node repeats it: one episode
    assert watch.refreshed(console, AuthSuccess())  # type: ignore[arg-type]
    assert not watch.refreshed(console, AuthSuccess())  # type: ignore[arg-type]
    console.token_refreshes = 3  # refreshed ahead of expiry, by the console itself
    assert watch.refreshed(console)  # type: ignore[arg-type]
    assert not watch.refreshed(console)  # type: ignore[arg-type]
    watch.expiry_notice()
    watch.new_socket()
    assert watch.expiry_notice()


def test_fresh_rate_limits_resets_the_console_limiter() -> None:
    resets: list[int] = []
    console = SimpleNamespace(rate_limiter=SimpleNamespace(reset=lambda: resets.append(1)))
    assert _cli._fresh_rate_limits(None)
    assert _cli._fresh_rate_limits(console)  # type: ignore[arg-type]
    assert resets == [1]


async def test_activity_waits_until_nothing_happens_for_a_while(
    autojump_clock: trio.abc.Clock,
) -> None:
    activity = _Activity()

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
    reader = _LineReader(read_fd)
    reader._pollable = False
    os.close(read_fd)
    with trio.fail_after(2):
        assert await reader.readline() is None


# ------------------------------------------------------------------ argument parsing


@pytest.mark.parametrize(
    ("convert", "text", "message"),
    [
        (_cli._header, "no colon", "expected 'Name: value'"),
        (_cli._header, " : value", "expected 'Name: value'"),
        (_cli._retries, "many", "expected a number or 'forever'"),
        (_cli._retries, "-1", "expected a number >= 0"),
        (_cli._seconds, "0", "seconds > 0"),
        (_cli._seconds, "soon", "expected seconds"),
        (_cli._seconds_or_zero, "nan", "seconds >= 0"),
        (_cli._seconds_or_zero, "-2", "seconds >= 0"),
    ],
)
def test_argument_types_reject_bad_values(convert: Any, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        convert(text)


def test_argument_types_accept_good_values() -> None:
    assert _cli._header("Origin:  https://x ") == ("Origin", "https://x")
    assert _cli._retries("forever") is None
    assert _cli._retries("inf") is None
    assert _cli._retries("0") == 0
    assert _cli._seconds_or_zero("0") == 0.0
    assert _cli._seconds("1.5") == 1.5


def test_connect_options_carry_the_queue_limit() -> None:
    args = build_parser().parse_args(
        ["connect", "ws://127.0.0.1:9/", "--queue", "--queue-limit", "5", "-H", "X-A: b"]
    )
    options = _cli.connect_options(args)
    assert options.message_queue_limit == 5
    assert options.queue_messages


def test_console_with_a_bad_panel_url_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        _cli.main(["console", "--panel", "ftp://panel.example/?key=hush", "--server", "a"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "pterows: error: panel_url must be an http:// or https:// URL" in err


def test_usage_errors_never_print_a_url_query(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _cli.main(["console", "--panel", "ftp://panel.example/?key=hush", "--server", "a"])
    assert "hush" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("raised", "status"),
    [
        (KeyboardInterrupt(), 130),
        (BaseExceptionGroup("g", [KeyboardInterrupt()]), 130),
        (BrokenPipeError(), 0),
    ],
)
def test_main_maps_ctrl_c_and_a_closed_stdout_to_exit_statuses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, raised: BaseException, status: int
) -> None:
    def fake_run(*args: object) -> int:
        raise raised

    monkeypatch.setattr(_cli, "setup_logging", lambda verbose: None)
    monkeypatch.setattr(_cli.trio, "run", fake_run)
    with open(tmp_path / "stdout", "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        assert _cli.main(["connect", "ws://127.0.0.1:9/"]) == status


def test_main_lets_other_errors_through(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_run(*args: object) -> int:
        raise RuntimeError("bug")

    monkeypatch.setattr(_cli, "setup_logging", lambda verbose: None)
    monkeypatch.setattr(_cli.trio, "run", fake_run)
    monkeypatch.setenv("PTERODACTYL_API_KEY", KEY)
    with pytest.raises(RuntimeError, match="bug"):
        _cli.main(["console", "--panel", "https://panel.example", "--server", "a"])


# ------------------------------------------------------------------ the demo


def _snapshot(**changes: Any) -> _Snapshot:
    base: dict[str, Any] = {
        "seed": 7,
        "elapsed": 65.0,
        "state": "OPEN",
        "status": "running",
        "last_latency": 0.002,
        "latency": LatencyStats(count=3, min=0.001, avg=0.002, max=0.003, p50=0.002, p99=0.003),
        "connections": 2,
        "reconnects": 1,
        "queued": 0,
        "dropped": 0,
        "token_refreshes": 1,
        "tokens_fetched": 3,
        "faults": 4,
        "fault_kinds": "3 drop, 1 cut",
        "active_fault": "blackhole",
        "commands": 5,
        "console_lines": 9,
        "stats": _stats(cpu_absolute=40.0, memory_bytes=512 * MIB),
    }
    base.update(changes)
    return _Snapshot(**base)


def test_snapshot_texts() -> None:
    s = _snapshot()
    assert s.latency_text() == "last 2.0 ms, p50 2.0 ms, p99 3.0 ms"
    assert s.resources_text() == "cpu 40%, memory 512.0 MiB / 1.0 GiB"
    assert s.metrics_line() == (
        "OPEN, server running | latency last 2.0 ms, p50 2.0 ms, p99 3.0 ms | "
        "2 connections, 1 reconnect | queue 0, dropped 0 | 1 token refresh | 4 faults"
    )
    assert "4 faults injected (3 drop, 1 cut)" in s.summary()
    assert "over 3 heartbeats" in s.summary()
    bare = _snapshot(latency=None, last_latency=None, stats=None, fault_kinds="", faults=0)
    assert bare.latency_text() == "last -"
    assert bare.resources_text() == "-"
    assert "0 faults injected;" in bare.summary()
    assert bare.summary().endswith("no heartbeat answered")


@pytest.mark.parametrize("width", [100, 170])
def test_live_view_renders_status_console_and_events(width: int) -> None:
    view = _LiveView(TTY())
    view._rich = RichConsole(file=io.StringIO(), force_terminal=True, width=width, height=40)
    for i in range(20):
        view.console_line(float(i), f"console line {i}")
    for i in range(8):
        view.event(float(i), "chaos" if i % 2 else "mystery", f"event {i}")
    out = RichConsole(file=io.StringIO(), width=width, height=40, color_system=None)
    out.print(view._render(_snapshot()))
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "pterows demo - 0:01:05" in text
    assert "seed 7 - Ctrl-C to stop" in text
    assert "now: blackhole" in text
    assert "cpu 40%, memory 512.0 MiB / 1.0 GiB" in text
    assert "1 (2 connections)" in text
    assert "console line 19" in text
    assert "console line 4 " not in text  # only the last 15 lines are kept
    assert "event 7" in text
    assert "event 1 " not in text  # only the last 6 events
    row_count = 4 if width >= 110 else 8
    assert text.count("tokens") == 1
    assert "0 queued, 0 dropped, 5 sent" in text
    if row_count == 4:  # two pairs per row: connection and server side by side
        assert any("connection" in r and "server" in r for r in text.splitlines())


def test_live_view_shrinks_the_console_to_a_small_terminal() -> None:
    view = _LiveView(TTY())
    view._rich = RichConsole(file=io.StringIO(), force_terminal=True, width=80, height=24)
    for i in range(20):
        view.console_line(0.0, f"line {i}")
    out = RichConsole(file=io.StringIO(), width=80, color_system=None)
    out.print(view._render(_snapshot(active_fault=None, state="WEIRD", status="odd")))
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "line 19" in text
    assert "line 17" not in text  # 24 rows leave room for two console lines
    assert "now:" not in text
    assert "WEIRD" in text


async def test_live_view_redraws_on_changes_and_prints_a_summary(
    autojump_clock: trio.abc.Clock,
) -> None:
    out = TTY()
    view = _LiveView(out)
    count = 0

    def snapshot() -> _Snapshot:
        nonlocal count
        count += 1
        return _snapshot(commands=count)

    with trio.fail_after(30):
        with trio.move_on_after(1.25):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(view.run, snapshot)
                await trio.sleep(0.05)
                view.event(0.05, "open", "connected somewhere")
                view.changed()
        view.finish(_snapshot())
    text = out.getvalue()
    assert "connected somewhere" in text
    assert count >= 4  # the first draw, the event, the ticks, the final draw
    assert text.rstrip().endswith(
        "on a live socket, 3 tokens from the panel; 5 commands sent, "
        "0 still queued, 0 dropped; 9 console lines; latency p50 "
        "2.0 ms, p99 3.0 ms over 3 heartbeats"
    )


def test_plain_view_prints_timestamped_lines() -> None:
    out = io.StringIO()
    view = _PlainView(out)
    view.event(1.5, "chaos", "drop")
    view.console_line(2.25, "hello")
    view.changed()
    view.finish(_snapshot())
    lines = out.getvalue().splitlines()
    assert lines[0] == "[   1.50s] chaos     drop"
    assert lines[1] == "[   2.25s] console   hello"
    assert lines[2].startswith("summary: 65.0 s, seed 7")


class _Recorder:
    """A demo view that keeps what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.lines: list[str] = []
        self.changes = 0

    def event(self, at: float, kind: str, text: str) -> None:
        self.events.append((kind, text))

    def console_line(self, at: float, line: str) -> None:
        self.lines.append(line)

    def changed(self) -> None:
        self.changes += 1

    async def run(self, snapshot: Any) -> None:
        await trio.sleep_forever()

    def finish(self, snapshot: _Snapshot) -> None:
        pass

    def texts(self, kind: str) -> list[str]:
        return [text for k, text in self.events if k == kind]


class _Proxy:
    def __init__(self, refuse_fails: bool = False) -> None:
        self.calls: list[Any] = []
        self.refuse_fails = refuse_fails

    def drop(self) -> None:
        self.calls.append("drop")

    def cut_mid_frame(self) -> None:
        self.calls.append("cut")

    def blackhole(self) -> None:
        self.calls.append("blackhole")

    def restore(self) -> None:
        self.calls.append("restore")

    def delay(self, seconds: float) -> None:
        self.calls.append(("delay", seconds))

    def refuse(self) -> None:
        self.calls.append("refuse")

    def accept_again(self) -> None:
        self.calls.append("accept")
        if self.refuse_fails:
            raise OSError("port taken")


async def test_demo_injects_every_kind_of_fault(autojump_clock: trio.abc.Clock) -> None:
    view = _Recorder()
    demo = _Demo(1, view)
    rng = random.Random(0)
    proxy = _Proxy()
    with trio.fail_after(60):
        for kind in ("drop", "cut", "expire", "panel", "blackhole", "delay", "outage"):
            await demo._inject(kind, proxy, rng)
        await demo._inject("outage", _Proxy(refuse_fails=True), rng)
    assert proxy.calls[:5] == ["drop", "cut", "drop", "blackhole", "restore"]
    assert proxy.calls[5][0] == "delay"
    assert proxy.calls[6] == ("delay", 0)
    assert proxy.calls[7:] == ["refuse", "drop", "accept"]
    chaos = view.texts("chaos")
    assert any(t.startswith("blackhole for") for t in chaos)
    assert "blackhole over: bytes flow again" in chaos
    assert "latency back to normal" in chaos
    assert "outage over: the proxy accepts connections again" in chaos
    assert "cannot listen again: port taken" in chaos
    assert demo.active_fault is None
    assert demo.fake._failures  # the panel hiccup: the next token request fails


def test_demo_server_lines_and_commands() -> None:
    demo = _Demo(2, _Recorder())
    demo.start = 0.0
    demo.stopped_at = 61.0
    assert demo._run_command("list") == (
        "[12:01:01 INFO]: There are 3 of a max of 20 players online: Alex, Steve, Kiki",
    )
    assert demo._run_command("say hi") == ("[12:01:01 INFO]: [Server] hi",)
    assert "Unknown command" in demo._run_command("op me")[0]
    rng = random.Random(5)
    lines = [demo._game_line(rng) for _ in range(300)]
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
    demo = _Demo(3, _Recorder())
    with trio.fail_after(30):
        demo.fake.set_status("offline")
        with trio.move_on_after(3):
            await demo.world()
        assert demo.fake.console_log == []
        demo.fake.set_status("running")
        with trio.move_on_after(3):
            await demo.world()
    assert len(demo.fake.console_log) >= 3
    assert demo.fake.current_stats().memory_bytes != 256 * MIB


class _FakeWS:
    def __init__(self) -> None:
        self.queued = 0
        self.is_connected = True
        self.flushed = True
        self.closed = False

    def get_metrics(self) -> Any:
        return SimpleNamespace(queued=self.queued)

    async def wait_flushed(self) -> None:
        if not self.flushed:
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()

    async def close(self) -> None:
        self.closed = True
        await trio.lowlevel.checkpoint()


class _FakeConsole:
    """What the CLI uses of a Console, recording what it is asked to do."""

    def __init__(self, events: list[Any] = (), end: BaseException | None = None) -> None:  # type: ignore[assignment]
        self.ws = _FakeWS()
        self.status: str | None = "running"
        self.token_refreshes = 0
        self.sent: list[str] = []
        self.states: list[str] = []
        self.stats_requests = 0
        self.logs_requests = 0
        self.fail_with: BaseException | None = None
        self._events = list(events)
        self._end = end

    async def send_command(self, command: str) -> None:
        await trio.lowlevel.checkpoint()
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(command)

    async def set_state(self, state: str) -> None:
        await trio.lowlevel.checkpoint()
        self.states.append(state)

    async def request_stats(self) -> None:
        await trio.lowlevel.checkpoint()
        self.stats_requests += 1

    async def request_logs(self) -> None:
        await trio.lowlevel.checkpoint()
        self.logs_requests += 1

    async def __aiter__(self) -> AsyncIterator[Any]:
        for event in self._events:
            await trio.lowlevel.checkpoint()
            if isinstance(event, int):
                self.token_refreshes = event
                continue
            yield event
        if self._end is not None:
            raise self._end


async def test_demo_shows_console_events_and_ends_on_a_library_error() -> None:
    view = _Recorder()
    demo = _Demo(4, view)
    events = [
        ConsoleOutput("\x1b[31mred\x1b[0m line"),
        StatusChange("running"),
        StatusChange("running"),  # repeated on a new socket: once
        TokenExpiring(),
        TokenExpired(),  # same episode: noted once
        JwtError("jwt: exp claim is invalid"),
        AuthSuccess(),
        DaemonMessage("checking size"),
        DaemonError("disk full"),
        Throttled("send command"),
        2,  # the console refreshed its token by itself
        UnknownEvent("mystery"),
    ]
    console = _FakeConsole(events, end=PterowsError("node gone"))
    demo.console = console  # type: ignore[assignment]
    with trio.fail_after(5):
        with trio.CancelScope() as tasks:
            await demo.show_events(console, tasks)  # type: ignore[arg-type]
    assert tasks.cancel_called
    assert view.lines == ["red line"]
    assert demo.console_lines == 1
    assert view.texts("status") == ["the server is running"]
    assert view.texts("token") == [
        "the node says the token expires soon: fetching a new one",
        "new token from the panel, re-authenticated on the live socket",
        "new token from the panel, re-authenticated on the live socket",
    ]
    assert view.texts("daemon") == ["checking size", "disk full"]
    assert view.texts("throttled") == ["the node throttled 'send command': slowing down"]
    assert view.texts("close") == ["the console session ended: node gone"]


def test_demo_connection_events() -> None:
    view = _Recorder()
    demo = _Demo(5, view)
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
    demo.console = _FakeConsole()  # type: ignore[assignment]
    demo.console.rate_limiter = SimpleNamespace(reset=lambda: None)  # type: ignore[attr-defined]
    assert demo.before_reconnect(1, None)
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
    view = _Recorder()
    demo = _Demo(6, view)
    console = _FakeConsole()
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


# ------------------------------------------------------------------ console session, fakes


def _session(*extra: str, tty: bool = False) -> tuple[_ConsoleSession, io.StringIO, io.StringIO]:
    out, err = (TTY(), TTY()) if tty else (io.StringIO(), io.StringIO())
    return _ConsoleSession(_console_args(*extra), out, err), out, err


def test_console_prints_each_kind_of_event(monkeypatch: pytest.MonkeyPatch) -> None:
    session, out, err = _session()
    session.console = SimpleNamespace(token_refreshes=0)  # type: ignore[assignment]
    for event in [
        ConsoleOutput("\x1b]0;title\x07hello"),
        InstallOutput("installing"),
        TransferLogs("moving"),
        _stats(),  # not asked for: not shown
        StatusChange("starting"),
        StatusChange("starting"),
        DaemonMessage("\x1b[1mnote\x1b[0m"),
        DaemonError("oops"),
        TokenExpired(),
        JwtError("jwt: again"),  # same episode
        AuthSuccess(),
        Throttled("send logs"),
        InstallStarted(),
        InstallCompleted(),
        TransferStatus("archived"),
        BackupCompleted("b1", True, "", "sha1", 0),
        BackupCompleted("b2", False, "", "sha1", 0),
        BackupRestoreCompleted(),
        Deleted(),
        TokenExpiring(),
        UnknownEvent("mystery"),
    ]:
        session.handle(event)
    session.stats_wanted = 1
    session.handle(_stats())
    session.handle(_stats())  # one :stats, one line
    assert out.getvalue().splitlines() == [
        "hello",
        "installing",
        "moving",
        "stats: running, cpu 12.5%, memory 256.0 MiB / 1.0 GiB, disk 64.0 MiB, "
        "network rx 1.0 KiB tx 2.0 KiB, uptime 1:02:05",
    ]
    assert err.getvalue().splitlines() == [
        "pterows: server status: starting",
        "pterows: daemon: note",
        "pterows: daemon error: oops",
        "pterows: token expired: fetching a new token (commands wait)",
        "pterows: token refreshed",
        "pterows: the node throttled 'send logs': slowing down",
        "pterows: installation started",
        "pterows: installation completed",
        "pterows: transfer: archived",
        "pterows: backup b1 completed",
        "pterows: backup b2 FAILED",
        "pterows: backup restore completed",
        "pterows: the server was deleted",
    ]


def test_console_colours_on_a_terminal_unless_told_not_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    session, out, err = _session(tty=True)
    session.handle(ConsoleOutput("\x1b[32mgreen\x1b[0m\x1b]0;t\x07"))
    session.handle(InstallOutput("dim"))
    session.say("careful", "red")
    assert out.getvalue() == "\x1b[32mgreen\x1b[0m\x1b[0m\n\x1b[2mdim\x1b[0m\n"
    assert err.getvalue() == "\x1b[31mpterows: careful\x1b[0m\n"
    session, out, err = _session("--no-color", tty=True)
    session.handle(ConsoleOutput("\x1b[32mgreen\x1b[0m"))
    session.say("careful", "red")
    assert out.getvalue() == "green\n"
    assert err.getvalue() == "pterows: careful\n"


def test_console_first_connection_retries_then_gives_up() -> None:
    session, _, err = _session()
    assert session.before_reconnect(1, None)
    assert session.before_reconnect(3, None)
    assert not session.before_reconnect(4, None)
    attempt = ReconnectAttemptEvent(
        type="reconnectAttempt", timestamp=0, attempt=1, url="u", delay=1
    )
    session.on_reconnect_attempt(attempt)  # not connected yet: before_reconnect said it
    session.on_open(OpenEvent(type="open", timestamp=0, url="ws://127.0.0.1:1/ws"))
    assert session.before_reconnect(99, None)  # once connected, always
    session.on_reconnect_attempt(attempt)
    session.on_open(OpenEvent(type="open", timestamp=0, url="ws://127.0.0.1:1/ws"))
    session.closing = True
    session.on_close(CloseEvent(type="close", timestamp=0, code=1000, reason="", was_clean=True))
    assert err.getvalue().splitlines() == [
        "pterows: connecting failed, retrying (attempt 1 of 3)",
        "pterows: connecting failed, retrying (attempt 3 of 3)",
        "pterows: connected to server abc123 (ws://127.0.0.1:1/ws)",
        "pterows: reconnecting in 1.0 s (attempt 1)",
        "pterows: reconnected",
    ]


async def _pump(session: _ConsoleSession, console: _FakeConsole, text: bytes) -> None:
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, text)
        os.close(write_fd)
        await session.pump(console, _LineReader(read_fd))  # type: ignore[arg-type]
    finally:
        os.close(read_fd)


async def test_console_lines_and_actions(autojump_clock: trio.abc.Clock) -> None:
    session, _, err = _session()
    console = _FakeConsole()
    lines = b"say hi\n\n  \n::op me\n:stats\n:LOGS\n:start\n:kill\n:help\n:bogus\n: q\nnot sent\n"
    with trio.fail_after(30):
        await _pump(session, console, lines)
    assert console.sent == ["say hi", ":op me"]
    assert console.states == ["start", "kill"]
    assert console.stats_requests == 1
    assert session.stats_wanted == 1
    assert console.logs_requests == 1
    assert console.ws.closed
    assert session.closing
    assert session.status == 0
    text = err.getvalue()
    assert ":stats                        the server's resource usage\n" in text
    assert "pterows: unknown action ':bogus' (:help lists them)" in text


async def test_console_warns_offline_and_reports_unsent_lines(
    autojump_clock: trio.abc.Clock,
) -> None:
    session, _, err = _session()
    console = _FakeConsole()
    console.status = "offline"
    console.fail_with = ValueError("command too long")
    with trio.fail_after(30):
        await _pump(session, console, b"say hi\n")
    assert err.getvalue().splitlines() == [
        "pterows: the server is offline: Wings ignores commands (:start)",
        "pterows: not sent: command too long",
    ]
    session, _, err = _session()
    console = _FakeConsole()
    console.fail_with = ConsoleClosed(4409, "server suspended")
    with trio.fail_after(30):
        await _pump(session, console, b"say hi\nsay more\n")
    assert not console.ws.closed  # the session ended: nothing to finish
    assert err.getvalue() == ""


async def test_console_end_of_input_fails_when_commands_stay_queued(
    autojump_clock: trio.abc.Clock,
) -> None:
    session, _, err = _session()
    console = _FakeConsole()
    console.ws.flushed = False
    console.ws.queued = 2
    with trio.fail_after(30):
        start = trio.current_time()
        await _pump(session, console, b"")
        assert trio.current_time() - start == pytest.approx(10.0)
    assert session.status == 1
    assert err.getvalue() == "pterows: 2 commands not sent within 10 s\n"
    assert console.ws.closed


# ------------------------------------------------------------------ console session, FakeWings


class _Watched(io.StringIO):
    """A StringIO whose writes wake :meth:`wait_for_text` (no polling)."""

    def __init__(self) -> None:
        super().__init__()
        self._written = trio.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        self._written.set()
        self._written = trio.Event()
        return written

    async def wait_for_text(self, text: str, count: int = 1) -> None:
        while self.getvalue().count(text) < count:
            await self._written.wait()


class _WatchedTTY(_Watched, TTY):
    pass


class _Run:
    def __init__(self, out: _Watched, err: _Watched, write_fd: int) -> None:
        self.out = out
        self.err = err
        self.write_fd: int | None = write_fd
        self.status: int | None = None
        self.done = trio.Event()

    def type(self, line: str) -> None:
        assert self.write_fd is not None
        os.write(self.write_fd, (line + "\n").encode())

    def end_input(self) -> None:
        if self.write_fd is not None:
            os.close(self.write_fd)
            self.write_fd = None

    async def wait_for(self, text: str, on: str = "out", count: int = 1) -> None:
        await (self.out if on == "out" else self.err).wait_for_text(text, count)

    async def exit_status(self) -> int | None:
        await self.done.wait()
        return self.status


@asynccontextmanager
async def _live_console(
    fake: FakeWings, *extra: str, key: str = KEY, server: str | None = None, tty: bool = False
) -> AsyncIterator[_Run]:
    read_fd, write_fd = os.pipe()
    out, err = (_WatchedTTY(), _WatchedTTY()) if tty else (_Watched(), _Watched())
    run = _Run(out, err, write_fd)
    args = _console_args(*extra, server=server or fake.server_id)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(fake.serve)
            async with httpx.AsyncClient(transport=fake.panel_transport()) as http:

                async def go() -> None:
                    stdin = _LineReader(read_fd)
                    run.status = await run_console(
                        args, key, stdin=stdin, out=out, err=err, http_client=http
                    )
                    run.done.set()

                nursery.start_soon(go)
                yield run
                await run.done.wait()
            nursery.cancel_scope.cancel()
    finally:
        run.end_input()
        os.close(read_fd)


def _fake(**changes: Any) -> FakeWings:
    options: dict[str, Any] = {
        "server_id": "abc123",
        "api_key": KEY,
        "initial_status": "offline",
        "stats_interval": None,
        "power_delay": 0.05,
    }
    options.update(changes)
    return FakeWings(**options)


async def test_console_session_against_fakewings_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    fake = _fake()
    with trio.fail_after(15):
        async with _live_console(fake, tty=True) as run:
            await run.wait_for("server status: offline", on="err")
            run.type(":start")
            await run.wait_for("server status: running", on="err")
            fake.console("\x1b[32mhello\x1b[0m\x1b]0;pwned\x07")
            await run.wait_for("hello")
            run.type(":stats")
            await run.wait_for("stats: running, cpu 12.5%")
            run.type(":logs")
            await run.wait_for("hello", count=2)
            run.type("::text")
            run.type(":quit")
            run.type("never sent")
            assert await run.exit_status() == 0
    out, err = run.out.getvalue(), run.err.getvalue()
    assert "\x1b[32mhello\x1b[0m\x1b[0m\n" in out  # colours kept on a terminal
    assert "pwned" not in out
    assert "\x1b[36mstats: running, cpu 12.5%" in out
    assert "\x1b[32mpterows: connected to server abc123" in err
    assert ":text" in fake.commands
    assert "never sent" not in fake.commands
    assert KEY not in out + err
    assert "eyJ" not in out + err


@pytest.mark.parametrize(
    ("key", "server", "hint"),
    [
        ("ptlc_WrongKeyWrongKeyWrongKey000000000000000", None, "(check PTERODACTYL_API_KEY"),
        (KEY, "nosuch", "(check --server: the short identifier"),
    ],
)
async def test_console_panel_refusals_say_what_to_check(
    key: str, server: str | None, hint: str
) -> None:
    fake = _fake()
    with trio.fail_after(10):
        async with _live_console(fake, key=key, server=server) as run:
            assert await run.exit_status() == 1
    err = run.err.getvalue()
    assert hint in err
    assert key not in err
    assert run.out.getvalue() == ""


async def test_console_exits_3_when_the_server_is_deleted() -> None:
    fake = _fake(initial_status="running")
    with trio.fail_after(10):
        async with _live_console(fake) as run:
            await run.wait_for("server status: running", on="err")
            fake.delete()
            assert await run.exit_status() == 3
    err = run.err.getvalue()
    assert "pterows: the server was deleted" in err


async def test_console_cannot_connect_to_the_node_exits_1() -> None:
    fake = _fake()
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        fake.advertise_socket_url(f"ws://127.0.0.1:{port}/ws?token=hush")  # nobody listens
        with trio.fail_after(15):
            async with _live_console(fake) as run:
                assert await run.exit_status() == 1
    err = run.err.getvalue()
    assert "pterows: connecting failed, retrying (attempt 3 of 3)" in err
    assert "pterows: cannot connect to server abc123: " in err
    assert "hush" not in err


# ------------------------------------------------------------------ connect, keys, main


def _connect(*extra: str) -> tuple[_cli._Connect, io.StringIO]:
    err = io.StringIO()
    args = build_parser().parse_args(["connect", "ws://127.0.0.1:9/x?token=hush", *extra])
    return _cli._Connect(args, io.StringIO(), err), err


def test_connect_reports_losses_and_how_it_ended() -> None:
    connect, err = _connect("--reconnect")
    lost = CloseEvent(type="close", timestamp=0, code=1006, reason="gone", was_clean=False)
    connect.on_close(lost)
    connect.on_reconnect_attempt(
        ReconnectAttemptEvent(type="reconnectAttempt", timestamp=0, attempt=4, url="u", delay=2)
    )
    assert connect.ended() == 1
    assert err.getvalue().splitlines() == [
        "pterows: connection lost: 1006 gone",
        "pterows: reconnecting in 2.00 s (attempt 4)",
        "pterows: gave up on ws://127.0.0.1:9/x?*** after 4 reconnect attempts",
    ]
    connect, err = _connect()
    assert connect.ended() == 1
    assert err.getvalue() == "pterows: connection to ws://127.0.0.1:9/x?*** lost\n"
    connect, err = _connect()
    bye = CloseEvent(type="close", timestamp=0, code=1001, reason="", was_clean=True)
    connect.on_close(bye)
    assert connect.ended() == 0
    assert err.getvalue() == "pterows: closed by the peer: 1001\n"


def test_read_api_key_from_the_environment_or_a_silent_prompt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()
    monkeypatch.setenv("PTERODACTYL_API_KEY", f"  {KEY}\n")
    assert _cli.read_api_key(err) == KEY
    monkeypatch.delenv("PTERODACTYL_API_KEY")
    monkeypatch.setattr(sys, "stdin", TTY())
    monkeypatch.setattr(_cli.getpass, "getpass", lambda prompt: f" {KEY} ")
    assert _cli.read_api_key(err) == KEY
    assert err.getvalue() == ""

    def eof(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr(_cli.getpass, "getpass", eof)
    assert _cli.read_api_key(err) is None
    assert err.getvalue() == (
        "pterows: no API key given (set PTERODACTYL_API_KEY to skip the prompt)\n"
    )


def test_has_rich_is_false_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _cli._has_rich()
    monkeypatch.setitem(sys.modules, "rich.live", None)
    assert not _cli._has_rich()


def test_reconfigure_streams_never_crashes_on_unencodable_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stdout = io.StringIO()  # no reconfigure(): left alone
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    _cli._reconfigure_streams()
    assert stderr.errors == "backslashreplace"
    stderr.write("caf\u00e9")
    stderr.flush()
    assert stderr.buffer.getvalue() == b"caf\\xe9"  # type: ignore[attr-defined]
    monkeypatch.undo()
    stderr.close()


async def test_first_ctrl_c_cancels_and_a_second_one_raises() -> None:
    async def slow() -> int:
        await trio.sleep_forever()
        return 0  # pragma: no cover

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:

            async def interrupt() -> None:
                await trio.sleep(0.1)
                os.kill(os.getpid(), signal.SIGINT)

            nursery.start_soon(interrupt)
            assert await _cli._run_interruptible(slow, interrupted_status=130) == 130

    async def stubborn() -> int:
        with trio.CancelScope(shield=True):
            await trio.sleep(1)  # cleanup that takes a while
        return 0

    async def interrupt_twice() -> None:
        await trio.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)
        await trio.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    async def interrupted_twice() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(interrupt_twice)
            await _cli._run_interruptible(stubborn, interrupted_status=130)

    with trio.fail_after(5), pytest.raises(BaseExceptionGroup) as info:
        await interrupted_twice()
    assert _cli._only(info.value, KeyboardInterrupt)
