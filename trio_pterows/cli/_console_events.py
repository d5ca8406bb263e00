"""What ``pterows console`` prints for each console event: output lines on stdout
(replayed history dim, announced on stderr), status, daemon messages and token
refreshes on stderr."""

from __future__ import annotations

import argparse
from typing import TextIO

from ..pterodactyl import (
    BackupCompleted,
    BackupRestoreCompleted,
    Console,
    ConsoleEvent,
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
    TokenState,
    TransferLogs,
    TransferStatus,
    UnknownEvent,
)
from ._shared import log, one_line, redact
from ._stdin import Activity
from ._text import clean, paint, stats_line, use_colour
from ._tokens import watch_tokens

#: Events shown as one fixed line on stderr, and its colour.
_NOTICES: dict[type[object], tuple[str, str]] = {
    InstallStarted: ("installation started", "cyan"),
    InstallCompleted: ("installation completed", "cyan"),
    BackupRestoreCompleted: ("backup restore completed", "cyan"),
    Deleted: ("the server was deleted", "red"),
}


class EventPrinter:
    """Prints a console's events; ``console`` is the Console once connected."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.args = args
        self.out = out
        self.err = err
        self.colour_out = use_colour(out, args.no_color)
        self.colour_err = use_colour(err, args.no_color)
        self.console: Console | None = None
        self.stats_wanted = 0
        self.in_history = False  # printing a replayed history (announced once)
        self.activity = Activity()
        self.last_status: str | None = None

    def say(self, text: str, style: str = "") -> None:
        line = f"pterows: {redact(one_line(text))}"
        print(paint(line, style, self.colour_err), file=self.err, flush=True)

    def show(self, line: str, style: str = "") -> None:
        text = clean(line, keep_colour=self.colour_out)
        print(paint(text, style, self.colour_out), file=self.out, flush=True)

    def watch(self, console: Console) -> None:
        """Follow ``console``: its token lifecycle tells expiries and refreshes."""
        self.console = console
        watch_tokens(console, expiring=self.token_expiring, refreshed=self.token_refreshed)

    def token_expiring(self, state: TokenState) -> None:
        if state is TokenState.EXPIRED:
            self.say("token expired: fetching a new token (commands wait)", "magenta")
        else:  # due: refreshed ahead of expiry, nothing waits
            log.debug("token due for a refresh")

    def token_refreshed(self) -> None:
        self.say("token refreshed", "magenta")

    def handle(self, event: ConsoleEvent) -> None:
        if isinstance(event, ConsoleOutput):
            self.activity.touch()
            self.output(event)
        elif isinstance(event, (InstallOutput, TransferLogs)):
            self.activity.touch()
            self.show(event.line, "dim")
        elif isinstance(event, Stats):
            if self.stats_wanted:
                self.stats_wanted -= 1
                self.show(stats_line(event), "cyan")
        elif isinstance(event, StatusChange):
            if event.status != self.last_status:  # the node repeats it on every socket
                self.say(f"server status: {event.status}", "cyan")
            self.last_status = event.status
        elif type(event) in _NOTICES:
            self.say(*_NOTICES[type(event)])
        elif isinstance(event, (TokenExpiring, TokenExpired, JwtError, UnknownEvent)):
            log.debug("console event %r", event)  # the token lifecycle tells expiries
        else:
            self._say_other(event)

    def output(self, event: ConsoleOutput) -> None:
        """A console line; a replayed history is announced on stderr and drawn dim."""
        if event.replayed and not self.in_history:
            self.say("console history (replayed by the node):", "dim")
        elif not event.replayed and self.in_history:
            self.say("end of history, live output follows", "dim")
        self.in_history = event.replayed
        self.show(event.line, "dim" if event.replayed else "")

    def _say_other(self, event: ConsoleEvent) -> None:
        if isinstance(event, DaemonMessage):
            self.say(f"daemon: {clean(event.text, keep_colour=False)}", "yellow")
        elif isinstance(event, DaemonError):
            self.say(f"daemon error: {clean(event.text, keep_colour=False)}", "red")
        elif isinstance(event, Throttled):
            self.say(f"the node throttled {event.event!r}: slowing down", "yellow")
        elif isinstance(event, TransferStatus):
            self.say(f"transfer: {event.status}", "cyan")
        elif isinstance(event, BackupCompleted):
            result = "completed" if event.is_successful else "FAILED"
            self.say(f"backup {event.uuid} {result}", "cyan")
