"""What the in-process CLI tests share: a fake terminal, fake consoles and proxies,
and ready-made arguments, stats and snapshots."""

from __future__ import annotations

import argparse
import io
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import trio

from trio_pterows import LatencyStats
from trio_pterows.cli._console import ConsoleSession
from trio_pterows.cli._demo_snapshot import Snapshot
from trio_pterows.cli._main import build_parser
from trio_pterows.pterodactyl import Stats, TokenLifecycle

KEY = "ptlc_UnitTestKeyThatMustNeverBePrinted000000000"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
MIB = 1024 * 1024


class TTY(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def make_stats(**changes: Any) -> Stats:
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


def console_args(*extra: str, server: str = "abc123") -> argparse.Namespace:
    return build_parser().parse_args(
        ["console", "--panel", "http://panel.test", "--server", server, *extra]
    )


def make_snapshot(**changes: Any) -> Snapshot:
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
        "stats": make_stats(cpu_absolute=40.0, memory_bytes=512 * MIB),
    }
    base.update(changes)
    return Snapshot(**base)


class Recorder:
    """A demo view that keeps what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.lines: list[str] = []
        self.history: list[str] = []  # the lines shown as replayed history
        self.changes = 0

    def event(self, at: float, kind: str, text: str) -> None:
        self.events.append((kind, text))

    def console_line(self, at: float, line: str, *, replayed: bool = False) -> None:
        (self.history if replayed else self.lines).append(line)

    def changed(self) -> None:
        self.changes += 1

    async def run(self, snapshot: Any) -> None:
        await trio.sleep_forever()

    def finish(self, snapshot: Snapshot) -> None:
        pass

    def texts(self, kind: str) -> list[str]:
        return [text for k, text in self.events if k == kind]


class Proxy:
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


class FakeWS:
    def __init__(self) -> None:
        self.queued = 0
        self.is_connected = True
        self.flushed = True
        self.closed = False
        self.listeners: dict[str, list[Any]] = {}

    def add_event_listener(self, name: str, listener: Any) -> None:
        self.listeners.setdefault(name, []).append(listener)

    def get_metrics(self) -> Any:
        return SimpleNamespace(queued=self.queued)

    async def wait_flushed(self) -> None:
        if not self.flushed:
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()

    async def close(self) -> None:
        self.closed = True
        await trio.lowlevel.checkpoint()


def token_due(tokens: TokenLifecycle) -> None:
    """A FakeConsole event: the token is due (``token expiring``, or its deadline)."""
    tokens.notice(expired=False)


def token_expired(tokens: TokenLifecycle) -> None:
    """A FakeConsole event: the node says the token expired."""
    tokens.notice(expired=True)


def token_refreshed(tokens: TokenLifecycle) -> None:
    """A FakeConsole event: the console refreshes the token on the live socket."""
    assert tokens.begin_refresh()
    tokens.authenticated()


class FakeConsole:
    """What the CLI uses of a Console, recording what it is asked to do."""

    def __init__(self, events: list[Any] = (), end: BaseException | None = None) -> None:  # type: ignore[assignment]
        self.ws = FakeWS()
        self.status: str | None = "running"
        self.tokens = TokenLifecycle()  # the real one: tests drive its transitions
        self.tokens.authenticated()  # connected, as after ``async with open_console()``
        self.sent: list[str] = []
        self.states: list[str] = []
        self.stats_requests = 0
        self.logs_requests = 0
        self.fail_with: BaseException | None = None
        self._events = list(events)
        self._end = end

    @property
    def token_refreshes(self) -> int:
        return self.tokens.refreshes

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
            if callable(event):  # a token transition, as the console would make it
                event(self.tokens)
                continue
            yield event
        if self._end is not None:
            raise self._end


def make_session(*extra: str, tty: bool = False) -> tuple[ConsoleSession, io.StringIO, io.StringIO]:
    out, err = (TTY(), TTY()) if tty else (io.StringIO(), io.StringIO())
    return ConsoleSession(console_args(*extra), out, err), out, err
