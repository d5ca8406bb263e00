"""``pterows console``: what each console event prints."""

from __future__ import annotations

import sys

import pytest

from trio_pterows.pterodactyl import (
    AuthSuccess,
    BackupCompleted,
    BackupRestoreCompleted,
    ConsoleOutput,
    DaemonError,
    DaemonMessage,
    Deleted,
    InstallCompleted,
    InstallOutput,
    InstallStarted,
    JwtError,
    StatusChange,
    Throttled,
    TokenExpired,
    TokenExpiring,
    TransferLogs,
    TransferStatus,
    UnknownEvent,
)

from .cli_helpers import (
    FakeConsole,
    make_session,
    make_stats,
    token_due,
    token_expired,
    token_refreshed,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


def test_console_prints_each_kind_of_event(monkeypatch: pytest.MonkeyPatch) -> None:
    session, out, err = make_session()
    console = FakeConsole()
    session.watch(console)  # type: ignore[arg-type]
    for event in [
        ConsoleOutput("\x1b]0;title\x07hello"),
        InstallOutput("installing"),
        TransferLogs("moving"),
        make_stats(),  # not asked for: not shown
        StatusChange("starting"),
        StatusChange("starting"),
        DaemonMessage("\x1b[1mnote\x1b[0m"),
        DaemonError("oops"),
        token_expired,  # the token lifecycle tells the episode and the refresh
        TokenExpired(),
        JwtError("jwt: again"),  # same episode
        token_refreshed,
        AuthSuccess(),
        token_due,  # a refresh ahead of expiry: only the refresh is told
        TokenExpiring(),
        token_refreshed,
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
        if callable(event):
            event(console.tokens)
        else:
            session.handle(event)
    session.stats_wanted = 1
    session.handle(make_stats())
    session.handle(make_stats())  # one :stats, one line
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
    session, out, err = make_session(tty=True)
    session.handle(ConsoleOutput("\x1b[32mgreen\x1b[0m\x1b]0;t\x07"))
    session.handle(InstallOutput("dim"))
    session.say("careful", "red")
    assert out.getvalue() == "\x1b[32mgreen\x1b[0m\x1b[0m\n\x1b[2mdim\x1b[0m\n"
    assert err.getvalue() == "\x1b[31mpterows: careful\x1b[0m\n"
    session, out, err = make_session("--no-color", tty=True)
    session.handle(ConsoleOutput("\x1b[32mgreen\x1b[0m"))
    session.say("careful", "red")
    assert out.getvalue() == "green\n"
    assert err.getvalue() == "pterows: careful\n"


def test_console_marks_replayed_history(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    session, out, err = make_session(tty=True)
    for event in [
        ConsoleOutput("old 1", replayed=True),
        ConsoleOutput("old 2", replayed=True),
        ConsoleOutput("live"),
        ConsoleOutput("old 3", replayed=True),
    ]:
        session.handle(event)
    assert out.getvalue().splitlines() == [
        "\x1b[2mold 1\x1b[0m",  # history is dim on a terminal
        "\x1b[2mold 2\x1b[0m",
        "live",
        "\x1b[2mold 3\x1b[0m",
    ]
    assert err.getvalue().splitlines() == [
        "\x1b[2mpterows: console history (replayed by the node):\x1b[0m",
        "\x1b[2mpterows: end of history, live output follows\x1b[0m",
        "\x1b[2mpterows: console history (replayed by the node):\x1b[0m",
    ]
