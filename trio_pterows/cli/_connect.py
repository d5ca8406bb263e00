"""``pterows connect URL``: a reconnecting websocat-like client.

Stdin lines out, messages to stdout, events and diagnostics (which name the flags,
never the library's option names) to stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import trio

from .. import (
    AdvancedWebSocket,
    CloseEvent,
    ConnectionFailed,
    ConnectionLost,
    ErrorEvent,
    OpenEvent,
    PterowsError,
    ReconnectAttemptEvent,
    WSConnectionOptions,
    redact_url,
)
from .._codec import dumps, loads
from ._args import Subparsers, add_command, renamed
from ._connect_args import add_arguments
from ._shared import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    reason,
    redact,
    run_interruptible,
    say,
)
from ._stdin import Activity, LineReader
from ._text import close_text

EPILOG = """\
examples:
  pterows connect ws://127.0.0.1:8765/
  echo '{"action": "ping"}' | pterows connect --json wss://echo.example/ws
  pterows connect --reconnect --max-retries forever --queue --heartbeat 10 URL
  pterows connect -H 'Origin: https://panel.example' --protocol chat.v1 URL

Each stdin line is sent as one message; each message received is printed on its own
line on stdout. Events (connected, closed, reconnecting) and diagnostics go to stderr.
With --json, a line that is not JSON is not sent (stderr says so).
End of stdin flushes the queue, waits for replies until the peer is quiet for --linger
seconds (both bounded by --timeout), closes cleanly and exits 0.
Exit 1 with a one-line reason when the connection cannot be opened, or ends and is
not (or no longer) reopened; 0 when the peer closes cleanly; 130 on Ctrl-C.
"""

#: The library's option names in messages, as the flags that set them.
FLAGS = {
    "url": "URL",
    "auto_reconnect": "--reconnect",
    "max_reconnect_attempts": "--max-retries",
    "reconnect_interval": "--reconnect-interval",
    "max_reconnect_interval": "--max-reconnect-interval",
    "heartbeat_interval": "--heartbeat",
    "heartbeat_mode": "--heartbeat-mode",
    "heartbeat_timeout": "--heartbeat-timeout",
    "queue_messages": "--queue",
    "message_queue_limit": "--queue-limit",
    "auto_json": "--json",
    "connection_timeout": "--timeout",
    "headers": "--header",
    "protocols": "--protocol",
}

#: Header names whose values -v logs and diagnostics must never show.
_SECRET_HEADER_WORDS = ("auth", "cookie", "key", "token", "secret")


def connect_options(args: argparse.Namespace) -> WSConnectionOptions:
    """The connection options ``pterows connect`` builds from its flags."""
    extra: dict[str, Any] = {}
    if args.queue_limit is not None:
        extra["message_queue_limit"] = args.queue_limit
    return WSConnectionOptions(
        url=args.url,
        auto_reconnect=args.reconnect,
        max_reconnect_attempts=args.max_retries,
        reconnect_interval=args.reconnect_interval,
        max_reconnect_interval=args.max_reconnect_interval,
        heartbeat_interval=args.heartbeat,
        heartbeat_mode=args.heartbeat_mode,
        heartbeat_timeout=args.heartbeat_timeout,
        queue_messages=args.queue,
        auto_json=args.json,
        connection_timeout=args.timeout,
        headers=args.header,
        protocols=args.protocol or None,
        **extra,
    )


class Connect:
    """``pterows connect``: stdin lines out, messages to stdout, events to stderr."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.args = args
        self.out = out
        self.err = err
        self.url = redact_url(args.url)
        self.closing = False  # we are closing: the end of the session is ours
        self.status = EXIT_OK
        self.last_close: CloseEvent | None = None
        self.last_error: BaseException | None = None  # the last failed attempt's
        self.ending: PterowsError | None = None  # what iteration raised, if anything
        self.attempts = 0
        self.told_queueing = False  # "lines are queued" said during this disconnect
        self.activity = Activity()

    def say(self, text: str) -> None:
        say(self.err, renamed(text, FLAGS))

    def on_open(self, event: OpenEvent) -> None:
        self.told_queueing = False
        self.say(f"connected to {event.url}")

    def on_close(self, event: CloseEvent) -> None:
        self.last_close = event
        if self.closing:
            return
        if event.was_clean:
            self.say(f"closed by the peer: {close_text(event)}")
        else:
            self.say(f"connection lost: {close_text(event)}")

    def on_error(self, event: ErrorEvent) -> None:
        if event.context == "connect":
            self.last_error = event.error

    def on_reconnect_attempt(self, event: ReconnectAttemptEvent) -> None:
        self.attempts = event.attempt
        self.say(f"reconnecting in {event.delay:.2f} s (attempt {event.attempt})")

    async def run(self, stdin: LineReader) -> int:
        async with AdvancedWebSocket(connect_options(self.args)) as ws:
            ws.add_event_listener("open", self.on_open)
            ws.add_event_listener("close", self.on_close)
            ws.add_event_listener("error", self.on_error)
            ws.add_event_listener("reconnectAttempt", self.on_reconnect_attempt)
            try:
                await ws.connect()
            except ConnectionFailed as exc:
                self.say(f"cannot connect to {self.url}: {reason(exc)}")
                return EXIT_FAILURE
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self.pump, ws, stdin)
                    await self.print_messages(ws)
                    if not self.closing:  # the connection ended for good, not by us
                        self.status = self.ended()
                        nursery.cancel_scope.cancel()
            finally:
                self.closing = True  # Ctrl-C, a broken pipe: leaving closes it, not the peer
        return self.status

    async def print_messages(self, ws: AdvancedWebSocket) -> None:
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    text = message.decode("utf-8", "backslashreplace")
                elif isinstance(message, str):
                    text = message
                else:  # --json decoded it
                    text = dumps(message)
                print(text, file=self.out, flush=True)
                self.activity.touch()
        except (ConnectionFailed, ConnectionLost) as exc:  # how the library ended it
            self.ending = exc

    async def pump(self, ws: AdvancedWebSocket, stdin: LineReader) -> None:
        number = 0
        while (line := await stdin.readline()) is not None:
            number += 1
            await self.send_line(ws, line, number)
        # End of input: let queued messages go out, give the replies a moment
        # (until the peer is quiet for --linger seconds), then close cleanly.
        with trio.move_on_after(self.args.timeout):
            await ws.wait_flushed()
            if self.args.linger:
                await self.activity.wait_quiet(self.args.linger)
        left = ws.get_metrics().queued
        if left:
            self.say(f"{left} queued messages not sent within {self.args.timeout:g} s")
            self.status = EXIT_FAILURE
        self.closing = True
        await ws.close()

    async def send_line(self, ws: AdvancedWebSocket, line: str, number: int) -> None:
        """Send one line of input (decoded first with --json); say why when it is not."""
        payload: Any = line
        if self.args.json:
            try:
                payload = loads(line)
            except ValueError as exc:
                self.say(f"line {number} not sent: --json takes one JSON value per line ({exc})")
                await trio.lowlevel.checkpoint()
                return
        if self.args.queue and not ws.is_connected and not self.told_queueing:
            self.told_queueing = True
            self.say("not connected: input lines are queued until the connection is back")
        try:
            await ws.send(payload)
        except PterowsError as exc:
            self.say(f"not sent: {exc}")

    def ended(self) -> int:
        close = self.last_close
        clean_end = close is not None and close.was_clean and close.code in (1000, 1001)
        if self.ending is None and clean_end:
            return EXIT_OK
        if self.args.reconnect and (self.attempts or isinstance(self.ending, ConnectionFailed)):
            self.say(f"gave up on {self.url} after {self.attempts} reconnect attempts{self._why()}")
        elif close is None:
            self.say(f"connection to {self.url} lost")
        return EXIT_FAILURE

    def _why(self) -> str:
        failure = self.last_error
        if isinstance(self.ending, ConnectionFailed) and self.ending.attempts:
            failure = self.ending
        return f": {reason(failure)}" if failure is not None else ""


async def run_connect(args: argparse.Namespace, stdin: LineReader, out: TextIO, err: TextIO) -> int:
    """``pterows connect``: returns the exit status."""
    for name, value in args.header:
        if any(word in name.lower() for word in _SECRET_HEADER_WORDS):
            redact.add(value)
            redact.add(value.partition(" ")[2])  # "Bearer <token>"
    return await Connect(args, out, err).run(stdin)


def _check(args: argparse.Namespace) -> None:
    try:
        connect_options(args)
    except (TypeError, ValueError) as exc:
        raise type(exc)(renamed(str(exc), FLAGS)) from None


def _start(args: argparse.Namespace) -> int:
    if sys.platform == "win32":  # pragma: no cover
        say(sys.stderr, "'connect' reads stdin, which needs Unix for now")
        return EXIT_FAILURE
    return trio.run(
        lambda: run_interruptible(
            lambda: run_connect(args, LineReader(0), sys.stdout, sys.stderr),
            interrupted_status=EXIT_INTERRUPTED,
        )
    )


def add_parser(sub: Subparsers) -> None:
    """``pterows connect`` and its options."""
    parser = add_command(
        sub,
        "connect",
        "a reconnecting websocat-like client: stdin lines out, messages to stdout",
        EPILOG,
        start=_start,
        check=_check,
    )
    add_arguments(parser)
