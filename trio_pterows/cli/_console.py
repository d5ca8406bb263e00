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
from typing import TextIO, cast

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
from ..pterodactyl import (
    POWER_ACTIONS,
    Console,
    ConsoleClosed,
    PanelAPIError,
    PowerAction,
    open_console,
)
from ._args import Subparsers, add_command, renamed
from ._console_events import EventPrinter
from ._shared import (
    API_KEY_VARIABLE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SESSION_ENDED,
    EXIT_USAGE,
    log,
    reason,
    redact,
    run_interruptible,
    say,
)
from ._stdin import LineReader
from ._text import close_text

EPILOG = f"""\
examples:
  export {API_KEY_VARIABLE}=ptlc_...   # a client API key (panel: Account > API Credentials)
  pterows console --panel https://panel.example.com --server 1a2b3c4d
  echo 'say back in 5' | pterows console --panel https://panel.example.com --server 1a2b3c4d
  pterows console --panel https://panel.example.com --server 1a2b3c4d --no-color > console.log

Type a line to run it as a console command. Actions: :start :stop :restart :kill (power),
:stats (resource usage), :logs (replay recent output), :help, :quit; "::text" sends ":text".
Console output goes to stdout (colours kept on a terminal, stripped with --no-color, NO_COLOR
or when redirected); status changes, reconnects and token refreshes go to stderr. After each
(re)connect the node replays recent output the session missed: stderr announces that history
("console history (replayed by the node):") and a terminal shows it dim.

The API key comes from {API_KEY_VARIABLE}, or from a prompt that does not echo when stdin
is a terminal. There is deliberately no flag for it: it would land in your shell history.

exit codes:
  0    end of input (Ctrl-D) or :quit, after sending what is pending
  1    a panel or connection failure (wrong key or server, reconnecting gave up, ...)
  2    usage error, or no API key
  3    the node or the panel ended the session: the server is suspended (the panel
       answers 409, at start or on a reconnect), deleted, or access was revoked
  130  Ctrl-C
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
_PANEL_HINTS = {
    401: f" (check {API_KEY_VARIABLE}: it must be a client API key, ptlc_...)",
    403: " (this key may not open this server's console)",
    404: " (check --server: the short identifier in the server's panel URL)",
}
#: What is said when the panel refuses a suspended server's console.
_SUSPENDED = "console closed: server is suspended (the panel refuses it a console, HTTP 409)"


def is_suspended(exc: PanelAPIError) -> bool:
    """A final 409: the panel refuses the socket because the server is suspended (the
    library makes a 409 final only when the server resource says so)."""
    return exc.status_code == 409 and exc.fatal


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
        self.in_history = False  # this socket's replay is announced afresh
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
        if name in POWER_ACTIONS:
            await console.set_state(cast(PowerAction, name))
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
            return self.panel_failed(exc)
        except ConsoleClosed as exc:
            self.say(str(exc), "red")
            return EXIT_SESSION_ENDED
        except ConnectionFailed as exc:
            self.say(f"cannot connect to server {self.args.server}: {reason(exc)}", "red")
            return EXIT_FAILURE
        return status

    def panel_failed(self, exc: PanelAPIError) -> int:
        """A final panel error, at start or on a reconnect: the exit status."""
        if is_suspended(exc):
            log.debug("the panel refused: %s", exc)
            self.say(_SUSPENDED, "red")
            return EXIT_SESSION_ENDED
        hint = _PANEL_HINTS.get(exc.status_code or 0, "")
        self.say(f"{exc}{hint}", "red")
        return EXIT_FAILURE

    async def _connected(self, console: Console, stdin: LineReader) -> int:
        self.watch(console)
        console.ws.add_event_listener("reconnectAttempt", self.on_reconnect_attempt)
        console.ws.add_event_listener("error", self.on_error)
        try:
            return await self.session(console, stdin)
        finally:
            self.closing = True  # Ctrl-C, a broken pipe: leaving closes it

    async def session(self, console: Console, stdin: LineReader) -> int:
        if os.isatty(0):
            self.say("type a command and press Enter; :help lists the actions, Ctrl-D quits")
        ended: ConsoleClosed | None = None
        refused: PanelAPIError | None = None
        gave_up: ConnectionFailed | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.pump, console, stdin)
            try:
                async for event in console:
                    self.handle(event)
            except ConsoleClosed as exc:
                ended = exc
            except PanelAPIError as exc:  # the panel refused a reconnect for good
                refused = exc
            except ConnectionFailed as exc:  # reconnecting gave up
                gave_up = exc
            if not self.closing:
                nursery.cancel_scope.cancel()
        if ended is not None:
            self.say(str(ended), "red")
            return EXIT_SESSION_ENDED
        if refused is not None:
            return self.panel_failed(refused)
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
