"""``pterows console --panel URL --server ID``: a real server's console.

Console output to stdout, everything else to stderr (:mod:`._console_events`);
typed lines become commands or ``:actions``. The API key comes from the environment
or a prompt, never from a flag.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Literal, TextIO

import httpx
import trio

from .. import (
    CloseEvent,
    ConnectionFailed,
    ErrorEvent,
    OpenEvent,
    PterowsError,
    ReconnectAttemptEvent,
)
from ..pterodactyl import Console, ConsoleClosed, PanelAPIError, open_console
from ._args import Subparsers, add_command, renamed
from ._console_events import EventPrinter
from ._shared import (
    API_KEY_VARIABLE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SESSION_ENDED,
    EXIT_USAGE,
    reason,
    redact,
    run_interruptible,
    say,
)
from ._stdin import LineReader
from ._text import close_text
from ._tokens import fresh_rate_limits

EPILOG = f"""\
examples:
  export {API_KEY_VARIABLE}=ptlc_...   # a client API key (panel: Account > API Credentials)
  pterows console --panel https://panel.example.com --server 1a2b3c4d
  echo 'say back in 5' | pterows console --panel https://panel.example.com --server 1a2b3c4d
  pterows console --panel https://panel.example.com --server 1a2b3c4d --no-color > console.log

Type a line to run it as a console command. Actions: :start :stop :restart :kill (power),
:stats (resource usage), :logs (replay recent output), :help, :quit; "::text" sends ":text".
Console output goes to stdout (colours kept on a terminal, stripped with --no-color, NO_COLOR
or when redirected); status changes, reconnects and token refreshes go to stderr.

The API key comes from {API_KEY_VARIABLE}, or from a prompt that does not echo when stdin
is a terminal. There is deliberately no flag for it: it would land in your shell history.

End of input (Ctrl-D) or :quit sends what is pending and exits 0; Ctrl-C exits 130;
a panel or connection failure exits 1; the node ending the session (server suspended,
deleted, permission revoked) exits 3.
"""
#: The library's option names in messages, as the flags that set them.
FLAGS = {"panel_url": "--panel", "server_id": "--server", "origin": "--origin"}
_HELP = """\
:start :stop :restart :kill   power actions
:stats                        the server's resource usage
:logs                         replay recent console output
:quit                         leave (so does Ctrl-D; Ctrl-C too)
::text                        send ":text" as a command
anything else                 sent as a console command"""
_POWER: dict[str, Literal["start", "stop", "restart", "kill"]] = {
    "start": "start",
    "stop": "stop",
    "restart": "restart",
    "kill": "kill",
}
_PANEL_HINTS = {
    401: f" (check {API_KEY_VARIABLE}: it must be a client API key, ptlc_...)",
    403: " (this key may not open this server's console)",
    404: " (check --server: the short identifier in the server's panel URL)",
}
#: How many times the first connection is retried before giving up.
_FIRST_CONNECT_RETRIES = 3
#: How long the end of input waits for pending commands.
_FLUSH_TIMEOUT = 10.0
#: Then it prints output until the console is quiet for _LINGER s (at most _LINGER_MAX s).
_LINGER = 0.5
_LINGER_MAX = 3.0


class ConsoleSession(EventPrinter):
    """``pterows console``: one session's connection events and typed lines."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        super().__init__(args, out, err)
        self.opened = 0
        self.closing = False
        self.status = EXIT_OK
        self.last_error: BaseException | None = None  # the last failed attempt's
        self.told_queueing = False  # "commands are queued" said during this disconnect

    # ------------------------------------------------------------ connection events

    def on_open(self, event: OpenEvent) -> None:
        self.refresh.new_socket()
        self.told_queueing = False
        self.opened += 1
        if self.opened == 1:
            self.say(f"connected to server {self.args.server} ({event.url})", "green")
        else:
            self.say("reconnected", "green")

    def on_close(self, event: CloseEvent) -> None:
        if not self.closing:
            self.say(f"connection lost: {close_text(event)}", "yellow")

    def on_error(self, event: ErrorEvent) -> None:
        if event.context == "connect":
            self.last_error = event.error

    def before_reconnect(self, attempt: int, close_event: CloseEvent | None) -> bool:
        fresh_rate_limits(self.console)
        if self.opened:
            return True  # once connected, survive anything (the library backs off)
        if attempt > _FIRST_CONNECT_RETRIES:
            return False
        self.say(f"connecting failed, retrying (attempt {attempt} of {_FIRST_CONNECT_RETRIES})")
        return True

    def on_reconnect_attempt(self, event: ReconnectAttemptEvent) -> None:
        if self.opened:
            self.say(f"reconnecting in {event.delay:.1f} s (attempt {event.attempt})", "yellow")

    # ------------------------------------------------------------ input

    async def pump(self, console: Console, stdin: LineReader) -> None:
        while (line := await stdin.readline()) is not None:
            text = line.strip()
            if not text:
                continue
            try:
                if text.startswith(":") and not text.startswith("::"):
                    if not await self.action(console, text[1:].strip().lower()):
                        break
                else:
                    await self.command(console, text[1:] if text.startswith("::") else line)
            except ConsoleClosed:
                return  # the event loop reports it
            except (PterowsError, ValueError, TypeError) as exc:
                self.say(renamed(f"not sent: {exc}", FLAGS), "red")
        await self.finish(console)

    async def command(self, console: Console, command: str) -> None:
        if console.status == "offline":
            self.say("the server is offline: Wings ignores commands (:start)")
        if not console.ws.is_connected and not self.told_queueing:
            self.told_queueing = True
            self.say("not connected: commands are queued until the console is back", "yellow")
        await console.send_command(command)

    async def action(self, console: Console, name: str) -> bool:
        """Run ``:name``; False for :quit."""
        if name in _POWER:
            await console.set_state(_POWER[name])
        elif name == "stats":
            self.stats_wanted += 1
            await console.request_stats()
        elif name == "logs":
            await console.request_logs()
        elif name in ("quit", "exit", "q"):
            return False
        elif name in ("help", "?"):
            for row in _HELP.splitlines():
                print(row, file=self.err, flush=True)
        else:
            self.say(f"unknown action ':{name}' (:help lists them)", "red")
        return True

    async def finish(self, console: Console) -> None:
        """End of input or :quit: send what is pending, show the replies, close."""
        with trio.move_on_after(_FLUSH_TIMEOUT):
            await console.ws.wait_flushed()
        left = console.ws.get_metrics().queued
        if left:
            self.say(f"{left} commands not sent within {_FLUSH_TIMEOUT:g} s", "red")
            self.status = EXIT_FAILURE
        else:  # what the last commands print, until the console is quiet
            with trio.move_on_after(_LINGER_MAX):
                await self.activity.wait_quiet(_LINGER)
        self.closing = True
        # close(), not aclose(): aclose() inside `async with open_console()` cancels
        # the block it is called from.
        await console.ws.close()

    # ------------------------------------------------------------ main

    async def run(
        self, api_key: str, stdin: LineReader, http_client: httpx.AsyncClient | None
    ) -> int:
        redact.add(api_key)
        status = EXIT_FAILURE
        try:
            async with open_console(
                self.args.panel,
                api_key,
                self.args.server,
                http_client=http_client,
                origin=self.args.origin,
                on_open=self.on_open,
                on_close=self.on_close,
                on_before_reconnect=self.before_reconnect,
            ) as console:
                status = await self._connected(console, stdin)
        except PanelAPIError as exc:
            hint = _PANEL_HINTS.get(exc.status_code or 0, "")
            self.say(f"{exc}{hint}", "red")
            return EXIT_FAILURE
        except ConsoleClosed as exc:
            self.say(str(exc), "red")
            return EXIT_SESSION_ENDED
        except ConnectionFailed as exc:
            self.say(f"cannot connect to server {self.args.server}: {reason(exc)}", "red")
            return EXIT_FAILURE
        return status

    async def _connected(self, console: Console, stdin: LineReader) -> int:
        self.console = console
        console.ws.add_event_listener("reconnectAttempt", self.on_reconnect_attempt)
        console.ws.add_event_listener("error", self.on_error)
        console.ws.add_event_listener("pong", lambda _: self.check_refresh())
        try:
            return await self.session(console, stdin)
        finally:
            self.closing = True  # Ctrl-C, a broken pipe: leaving closes it

    async def session(self, console: Console, stdin: LineReader) -> int:
        if os.isatty(0):
            self.say("type a command and press Enter; :help lists the actions, Ctrl-D quits")
        ended: ConsoleClosed | None = None
        gave_up: ConnectionFailed | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.pump, console, stdin)
            try:
                async for event in console:
                    self.handle(event)
            except ConsoleClosed as exc:
                ended = exc
            except ConnectionFailed as exc:  # reconnecting gave up
                gave_up = exc
            if not self.closing:
                nursery.cancel_scope.cancel()
        if ended is not None:
            self.say(str(ended), "red")
            return EXIT_SESSION_ENDED
        if not self.closing:  # iteration ended without us: reconnecting gave up
            failure = gave_up if gave_up is not None and gave_up.attempts else self.last_error
            why = f": {reason(failure)}" if failure is not None else ""
            self.say(f"the connection ended and reconnecting gave up{why}", "red")
            return EXIT_FAILURE
        return self.status


async def run_console(
    args: argparse.Namespace,
    api_key: str,
    *,
    stdin: LineReader | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> int:
    """``pterows console`` once the API key is known: returns the exit status.

    ``http_client`` reaches the panel (default: a new :class:`httpx.AsyncClient`).
    """
    session = ConsoleSession(args, out or sys.stdout, err or sys.stderr)
    return await session.run(api_key, stdin or LineReader(0), http_client)


def read_api_key(err: TextIO) -> str | None:
    """The API key from ``PTERODACTYL_API_KEY``, or a prompt that does not echo when
    stdin is a terminal; None (after saying why on ``err``) when there is none."""
    key = os.environ.get(API_KEY_VARIABLE, "").strip()
    if key:
        return key
    if not sys.stdin.isatty():
        say(
            err,
            f"no API key: set {API_KEY_VARIABLE} to a client API key (ptlc_...); "
            "there is no flag for it, so that it stays out of your shell history",
        )
        return None
    try:
        key = getpass.getpass("Pterodactyl client API key (not echoed): ").strip()
    except EOFError:
        key = ""
    if not key:
        say(err, f"no API key given (set {API_KEY_VARIABLE} to skip the prompt)")
        return None
    return key


def _check(args: argparse.Namespace) -> None:
    from ..pterodactyl._panel import websocket_endpoint

    try:
        websocket_endpoint(args.panel, args.server)
    except (TypeError, ValueError) as exc:
        raise type(exc)(renamed(str(exc), FLAGS)) from None


def _start(args: argparse.Namespace) -> int:
    if sys.platform == "win32":  # pragma: no cover
        say(sys.stderr, "'console' reads stdin, which needs Unix for now")
        return EXIT_FAILURE
    key = read_api_key(sys.stderr)
    if key is None:
        return EXIT_USAGE
    return trio.run(
        lambda: run_interruptible(
            lambda: run_console(args, key), interrupted_status=EXIT_INTERRUPTED
        )
    )


def add_parser(sub: Subparsers) -> None:
    """``pterows console`` and its options."""
    console = add_command(
        sub,
        "console",
        "stream a Pterodactyl / Pelican server console and type commands into it",
        EPILOG,
        start=_start,
        check=_check,
    )
    console.add_argument(
        "--panel", required=True, metavar="URL", help="the panel's URL (https://panel.example.com)"
    )
    console.add_argument(
        "--server", required=True, metavar="ID", help="the server's identifier (1a2b3c4d)"
    )
    console.add_argument(
        "--origin", metavar="ORIGIN", help="the Origin header (default: the panel's origin)"
    )
    console.add_argument("--no-color", action="store_true", help="no colours, ANSI codes stripped")
