"""``pterows console``: connection events, typed lines and actions (against fakes)."""

from __future__ import annotations

import getpass
import io
import os
import sys

import pytest
import trio

from trio_pterows import (
    CloseEvent,
    ConnectionFailed,
    ErrorEvent,
    OpenEvent,
    ReconnectAttemptEvent,
)
from trio_pterows.cli._console import ConsoleSession, read_api_key
from trio_pterows.cli._stdin import LineReader
from trio_pterows.pterodactyl import ConsoleClosed

from .cli_helpers import (
    KEY,
    TTY,
    FakeConsole,
    make_session,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


def test_console_first_connection_retries_then_gives_up() -> None:
    session, _, err = make_session()
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


async def _pump(session: ConsoleSession, console: FakeConsole, text: bytes) -> None:
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, text)
        os.close(write_fd)
        await session.pump(console, LineReader(read_fd))  # type: ignore[arg-type]
    finally:
        os.close(read_fd)


async def test_console_lines_and_actions(autojump_clock: trio.abc.Clock) -> None:
    session, _, err = make_session()
    console = FakeConsole()
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
    session, _, err = make_session()
    console = FakeConsole()
    console.status = "offline"
    console.fail_with = ValueError("command too long")
    with trio.fail_after(30):
        await _pump(session, console, b"say hi\n")
    assert err.getvalue().splitlines() == [
        "pterows: the server is offline: Wings ignores commands (:start)",
        "pterows: not sent: command too long",
    ]
    session, _, err = make_session()
    console = FakeConsole()
    console.fail_with = ConsoleClosed(4409, "server suspended")
    with trio.fail_after(30):
        await _pump(session, console, b"say hi\nsay more\n")
    assert not console.ws.closed  # the session ended: nothing to finish
    assert err.getvalue() == ""


async def test_console_end_of_input_fails_when_commands_stay_queued(
    autojump_clock: trio.abc.Clock,
) -> None:
    session, _, err = make_session()
    console = FakeConsole()
    console.ws.flushed = False
    console.ws.queued = 2
    with trio.fail_after(30):
        start = trio.current_time()
        await _pump(session, console, b"")
        assert trio.current_time() - start == pytest.approx(10.0)
    assert session.status == 1
    assert err.getvalue() == "pterows: 2 commands not sent within 10 s\n"
    assert console.ws.closed


def test_read_api_key_from_the_environment_or_a_silent_prompt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()
    monkeypatch.setenv("PTERODACTYL_API_KEY", f"  {KEY}\n")
    assert read_api_key(err) == KEY
    monkeypatch.delenv("PTERODACTYL_API_KEY")
    monkeypatch.setattr(sys, "stdin", TTY())
    monkeypatch.setattr(getpass, "getpass", lambda prompt: f" {KEY} ")
    assert read_api_key(err) == KEY
    assert err.getvalue() == ""

    def eof(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", eof)
    assert read_api_key(err) is None
    assert err.getvalue() == (
        "pterows: no API key given (set PTERODACTYL_API_KEY to skip the prompt)\n"
    )


# ------------------------------------------------------------------ messages (issue 12)


async def test_commands_typed_while_disconnected_say_they_are_queued_once_per_disconnect(
    autojump_clock: trio.abc.Clock,
) -> None:
    session, _, err = make_session()
    console = FakeConsole()
    console.ws.is_connected = False
    with trio.fail_after(30):
        await _pump(session, console, b"say one\nsay two\n")
        session.on_open(OpenEvent(type="open", timestamp=0, url="ws://127.0.0.1:1/ws"))
        await _pump(session, console, b"say three\n")  # disconnected again
    assert console.sent == ["say one", "say two", "say three"]
    notice = "pterows: not connected: commands are queued until the console is back"
    assert err.getvalue().splitlines() == [
        notice,
        "pterows: connected to server abc123 (ws://127.0.0.1:1/ws)",
        notice,
    ]


async def _session_until_it_ends(session: ConsoleSession, console: FakeConsole) -> int:
    read_fd, write_fd = os.pipe()  # stdin stays open: the console's end ends the session
    try:
        with trio.fail_after(5):
            return await session.session(console, LineReader(read_fd))  # type: ignore[arg-type]
    finally:
        os.close(write_fd)
        os.close(read_fd)


async def test_console_giving_up_says_why_without_verbose() -> None:
    session, _, err = make_session()
    refused = ConnectionRefusedError(111, "Connection refused")
    session.on_error(ErrorEvent(type="error", timestamp=0, error=refused, context="connect"))
    assert await _session_until_it_ends(session, FakeConsole()) == 1
    assert err.getvalue() == (
        "pterows: the connection ended and reconnecting gave up: "
        "ConnectionRefusedError: [Errno 111] Connection refused\n"
    )
    session, _, err = make_session()
    failed = ConnectionFailed("gave up", [("wss://node", TimeoutError("handshake timed out"))])
    assert await _session_until_it_ends(session, FakeConsole(end=failed)) == 1
    assert err.getvalue().endswith("gave up: TimeoutError: handshake timed out\n")
