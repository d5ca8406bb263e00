"""``pterows console`` against FakeWings, in-process."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trio

from trio_pterows.cli._console import run_console
from trio_pterows.cli._stdin import LineReader
from trio_pterows.testing import FakeWings

from .cli_helpers import (
    KEY,
    TTY,
    console_args,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


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
    args = console_args(*extra, server=server or fake.server_id)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(fake.serve)
            async with httpx.AsyncClient(transport=fake.panel_transport()) as http:

                async def go() -> None:
                    stdin = LineReader(read_fd)
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


async def test_console_shows_what_it_missed_as_history_after_a_reconnect() -> None:
    fake = _fake(initial_status="running")
    with trio.fail_after(15):
        async with _live_console(fake) as run:
            await run.wait_for("server status: running", on="err")
            fake.drop_all()  # no close frame; the line below reaches no socket
            fake.console("printed while away")
            await run.wait_for("printed while away")
            run.end_input()
            assert await run.exit_status() == 0
    err = run.err.getvalue()
    assert "pterows: reconnected" in err
    assert "pterows: console history (replayed by the node):" in err
    assert err.index("reconnected") < err.index("console history")


async def test_console_exits_3_when_the_panel_refuses_a_suspended_server() -> None:
    fake = _fake(initial_status="running")
    with trio.fail_after(15):
        async with _live_console(fake) as run:
            await run.wait_for("server status: running", on="err")
            fake.suspend()  # the socket is dropped; the panel answers 409 on reconnect
            assert await run.exit_status() == 3
    assert "pterows: console closed: server is suspended" in run.err.getvalue()
