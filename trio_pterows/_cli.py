"""The ``pterows`` command line: ``demo``, ``connect`` and ``console``.

- ``pterows demo``: a Pterodactyl console client against FakeWings (a fake panel and
  Wings node) behind a ChaosProxy that breaks the link every few seconds, shown live
  (rich, when installed and stdout is a terminal) or as timestamped lines;
- ``pterows connect URL``: a reconnecting websocat-like client;
- ``pterows console --panel URL --server ID``: a real server's console.

Nothing here prints the API key, a token or a URL's query string: URLs go through
:func:`redact_url`, diagnostics and ``-v`` logs through :class:`_Redactor`. Standard
input is read without threads and without changing its blocking mode
(:class:`_LineReader`); the whole CLI runs in one ``trio.run``.
"""

from __future__ import annotations

import argparse
import collections
import getpass
import logging
import math
import os
import random
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import attrs
import httpx
import trio

from . import __version__
from ._events import CloseEvent, OpenEvent, ReconnectAttemptEvent
from ._exceptions import ConnectionFailed, PterowsError
from ._manager import AdvancedWebSocket
from ._metrics import LatencyStats
from ._options import WSConnectionOptions, redact_url
from .pterodactyl import (
    AuthSuccess,
    BackupCompleted,
    BackupRestoreCompleted,
    Console,
    ConsoleClosed,
    ConsoleEvent,
    ConsoleOutput,
    DaemonError,
    DaemonMessage,
    Deleted,
    InstallCompleted,
    InstallOutput,
    InstallStarted,
    JwtError,
    PanelAPIError,
    Stats,
    StatusChange,
    Throttled,
    TokenExpired,
    TokenExpiring,
    TransferLogs,
    TransferStatus,
    UnknownEvent,
    open_console,
)
from .testing import ChaosProxy, FakeWings

if TYPE_CHECKING:
    from rich.console import RenderableType

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = ["main"]

#: Exit statuses (also listed in ``pterows --help``).
EXIT_OK = 0
EXIT_FAILURE = 1  # cannot connect, the panel refused, the connection ended badly
EXIT_USAGE = 2  # argparse's status for usage errors; also a missing API key
EXIT_SESSION_ENDED = 3  # the node ended the console session (suspended, deleted, ...)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), for connect and console

API_KEY_VARIABLE = "PTERODACTYL_API_KEY"

_log = logging.getLogger("trio_pterows.cli")

MAIN_EPILOG = """\
examples:
  pterows demo                                   watch reconnects, heartbeats and token
                                                 refreshes against a fake, flaky server
  pterows connect wss://echo.example/ws          a reconnecting websocat
  pterows console --panel https://panel.example.com --server 1a2b3c4d

exit status: 0 success, 1 connection or panel failure, 2 usage error (or no API key),
3 the node ended the console session, 130 interrupted (Ctrl-C; the demo exits 0).
Run "pterows COMMAND --help" for the options of each command.
"""

DEMO_EPILOG = """\
examples:
  pterows demo                       run until Ctrl-C
  pterows demo --duration 30         30 seconds, then a summary
  pterows demo --seed 7              the same faults in the same order on every run
  pterows demo --duration 10 | cat   timestamped lines instead of the live view

No panel needed: the demo starts FakeWings (a fake Pterodactyl panel and Wings node)
with a ChaosProxy in front of the node, and runs the console client against it. Every
few seconds the proxy drops, black-holes, delays or cuts the link, or the node expires
the token; the client reconnects, refreshes its token and keeps its command queue.
The live view needs the "cli" extra (rich) and a terminal; otherwise each event is
printed on its own line. Ctrl-C or the end of --duration prints a summary; exit 0.
"""

CONNECT_EPILOG = """\
examples:
  pterows connect ws://127.0.0.1:8765/
  echo '{"action": "ping"}' | pterows connect --json wss://echo.example/ws
  pterows connect --reconnect --max-retries forever --queue --heartbeat 10 URL
  pterows connect -H 'Origin: https://panel.example' --protocol chat.v1 URL

Each stdin line is sent as one message; each message received is printed on its own
line on stdout. Events (connected, closed, reconnecting) and diagnostics go to stderr.
End of stdin flushes the queue, waits for replies until the peer is quiet for --linger
seconds (both bounded by --timeout), closes cleanly and exits 0.
Exit 1 with a one-line reason when the connection cannot be opened, or ends and is
not (or no longer) reopened; 0 when the peer closes cleanly; 130 on Ctrl-C.
"""

CONSOLE_EPILOG = f"""\
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


# ============================================================================ shared


class _Redactor:
    """Masks secrets in text the CLI prints or logs: known values, JWTs, URL queries."""

    _JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]+")
    # Any scheme: a query string is redacted whatever the URL is for.
    _URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,:;!?)\]]")

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = self._JWT.sub("<token>", text)
        return self._URL.sub(lambda match: redact_url(match.group(0)), text)


#: Every diagnostic and log record goes through this one.
_redact = _Redactor()


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record))


class _StderrHandler(logging.Handler):
    """Writes to ``sys.stderr`` as it is *now* (rich's live view swaps it for a proxy)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def setup_logging(verbose: bool) -> None:
    """Logs to stderr, redacted: the library's at DEBUG with ``verbose``, else errors only."""
    handler = _StderrHandler()
    handler.setFormatter(_RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    # The CLI reports what matters itself; the library's warnings (a reconnect after a
    # fault, a heartbeat timeout) would repeat it. -v shows everything, redacted.
    root.setLevel(logging.WARNING)
    logging.getLogger("trio_pterows").setLevel(logging.DEBUG if verbose else logging.ERROR)
    if verbose:
        logging.getLogger("httpx").setLevel(logging.INFO)


def _say(err: TextIO, text: str) -> None:
    """A diagnostic on stderr: ``pterows: text`` (redacted, one line)."""
    print(f"pterows: {_redact(_one_line(text))}", file=err, flush=True)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _reason(exc: BaseException) -> str:
    """Why a connect cycle failed, in one line: the last attempt's error."""
    if isinstance(exc, ConnectionFailed) and exc.attempts:
        exc = exc.attempts[-1][1]
    # trio's "all attempts to connect to host:port failed" hides the reason in a group.
    cause = exc.__cause__
    if isinstance(exc, OSError) and isinstance(cause, BaseExceptionGroup):
        leaves = _leaves(cause)
        if leaves:
            exc = leaves[-1]
    text = str(exc)
    name = type(exc).__name__
    return _one_line(f"{name}: {text}" if text else name)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for inner in group.exceptions:
        found.extend(_leaves(inner) if isinstance(inner, BaseExceptionGroup) else [inner])
    return found


class _LineReader:
    """Lines of a file descriptor (stdin), without threads and without making it
    non-blocking (a terminal shares that flag with stdout).

    Waits with :func:`trio.lowlevel.wait_readable`, then reads what is there. Files and
    ``/dev/null`` cannot be polled: they are always ready, so they are read directly.
    Unix only (trio cannot wait for a Windows console handle).
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pollable = True
        self._buffer = b""
        self._eof = False

    async def readline(self) -> str | None:
        """The next line without its line ending, or None at end of input."""
        while b"\n" not in self._buffer and not self._eof:
            chunk = await self._read()
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True
        if not self._buffer:
            await trio.lowlevel.checkpoint()
            return None
        line, _, rest = self._buffer.partition(b"\n")
        self._buffer = rest
        return line.decode("utf-8", "replace").rstrip("\r")

    async def _read(self) -> bytes:
        if self._pollable:
            try:
                await trio.lowlevel.wait_readable(self._fd)
            except OSError:  # EPERM: a regular file or /dev/null
                self._pollable = False
                await trio.lowlevel.checkpoint()
        else:
            await trio.lowlevel.checkpoint()
        try:
            return os.read(self._fd, 65536)
        except OSError:  # a closed descriptor: no more input
            return b""


async def _run_interruptible(fn: Callable[[], Awaitable[int]], *, interrupted_status: int) -> int:
    """Run ``fn``; the first Ctrl-C cancels it (it cleans up and we return
    ``interrupted_status``), a second one raises KeyboardInterrupt."""
    body = trio.CancelScope()
    status = interrupted_status
    async with trio.open_nursery() as nursery:
        await nursery.start(_watch_sigint, body)
        with body:
            status = await fn()
        nursery.cancel_scope.cancel()
    return interrupted_status if body.cancelled_caught else status


async def _watch_sigint(
    body: trio.CancelScope, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    with trio.open_signal_receiver(signal.SIGINT) as signals:
        task_status.started()
        async for _ in signals:
            if body.cancel_called:
                raise KeyboardInterrupt
            body.cancel()


def _only(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``exc`` is a ``kind``, or a group of nothing else."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_only(inner, kind) for inner in exc.exceptions)
    return isinstance(exc, kind)


class _Activity:
    """Tells when a stream of messages goes quiet (for lingering at end of input)."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def touch(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait_quiet(self, idle: float) -> None:
        """Return once nothing was touched for ``idle`` seconds."""
        while True:
            event = self._event
            with trio.move_on_after(idle):
                await event.wait()
            if not event.is_set():
                return


# ------------------------------------------------------------------ text & colour

_STYLES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}
#: Escape sequences (CSI, OSC, two-byte) and every other control character but tab.
_TERMINAL_CODES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, ...
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, clipboard, links
    r"|\x1b[@-_]?"  # other escapes, or a lone ESC
    r"|[\x00-\x08\x0a-\x1f\x7f]"
)
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _paint(text: str, style: str, enabled: bool) -> str:
    if not enabled or style not in _STYLES:
        return text
    return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"


def _clean(line: str, *, keep_colour: bool) -> str:
    """A line from the server, safe for a terminal: colours (SGR) kept if asked,
    every other escape sequence (titles, clipboard, cursor moves) and control
    character removed."""
    kept = False

    def replace(match: re.Match[str]) -> str:
        nonlocal kept
        code = match.group(0)
        if keep_colour and _SGR.fullmatch(code):
            kept = True
            return code
        return ""

    line = _TERMINAL_CODES.sub(replace, line.rstrip("\r\n"))
    return line + "\x1b[0m" if kept else line


def _use_colour(stream: TextIO, no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _stats_line(stats: Stats) -> str:
    limit = f" / {_size(stats.memory_limit_bytes)}" if stats.memory_limit_bytes else ""
    return (
        f"stats: {stats.state or 'unknown'}, cpu {stats.cpu_absolute:.1f}%, "
        f"memory {_size(stats.memory_bytes)}{limit}, disk {_size(stats.disk_bytes)}, "
        f"network rx {_size(stats.network_rx_bytes)} tx {_size(stats.network_tx_bytes)}, "
        f"uptime {_duration(stats.uptime)}"
    )


def _close_text(event: CloseEvent) -> str:
    return f"{event.code} {event.reason}".strip()


def _n(count: int, word: str, plural: str = "") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {plural or word + 's'}"


def _fresh_rate_limits(console: Console | None) -> bool:
    """Before a reconnect: Wings' rate limits are per connection, so the next socket
    starts with full buckets. Without this, the ``auth`` of a quick reconnect waits
    for buckets the old socket emptied (up to 5 s), which can exceed the connection
    timeout. (Console does not reset its limiter itself yet.)"""
    if console is not None:
        console.rate_limiter.reset()
    return True


class _RefreshWatch:
    """Tells when the console got a new token on a live socket.

    Console counts refreshes but has no event for them: the ``auth success`` that
    follows an expiry notice is one, and the counter (checked on every event) catches
    the refreshes the console makes ahead of expiry by itself.
    """

    def __init__(self) -> None:
        self.seen = 0
        self.expecting = False

    def expiry_notice(self) -> bool:
        """An expiry notice arrived; True for the first one of the episode (the node
        repeats them, and turns other events into jwt errors, until the new token)."""
        first = not self.expecting
        self.expecting = True
        return first

    def new_socket(self) -> None:
        self.expecting = False  # a (re)connect fetched a fresh token anyway

    def refreshed(self, console: Console | None, event: object = None) -> bool:
        if console is None:
            return False
        if isinstance(event, AuthSuccess) and self.expecting:
            self.expecting = False
            self.seen = max(self.seen + 1, console.token_refreshes)
            return True
        if console.token_refreshes > self.seen:
            self.seen = console.token_refreshes
            self.expecting = False
            return True
        return False


# ============================================================================== demo

_DEMO_KEY = "ptlc_PterowsDemoKeyNotASecret000000000000000"
_MIB = 1024 * 1024
#: The live view keeps this many console lines and events.
_CONSOLE_LINES = 15
_EVENT_LINES = 6
#: Plain mode prints a metrics line this often.
_METRICS_EVERY = 2.0

_PLAYERS = ("Alex", "Steve", "Kiki", "jeb_", "Dinnerbone", "Notch")
_CHAT = (
    "anyone got iron?",
    "brb, dinner",
    "who took the diamonds from the chest",
    "gg",
    "lag?",
    "come see the castle",
)
_ADVANCEMENTS = ("Stone Age", "Getting an Upgrade", "Acquire Hardware", "Hot Stuff", "Diamonds!")
#: (fault, weight): see _Demo._inject.
_FAULTS = (
    ("drop", 3),
    ("blackhole", 2),
    ("cut", 2),
    ("delay", 2),
    ("outage", 1),
    ("expire", 2),
    ("panel", 1),
)
_KIND_STYLES = {
    "chaos": "bold red",
    "open": "green",
    "close": "yellow",
    "reconnect": "yellow",
    "status": "cyan",
    "token": "magenta",
    "command": "blue",
    "power": "blue",
    "daemon": "yellow",
    "throttled": "red",
}
_STATE_STYLES = {"OPEN": "bold green", "RECONNECTING": "bold yellow", "CONNECTING": "yellow"}
_STATUS_STYLES = {"running": "green", "starting": "yellow", "stopping": "yellow", "offline": "red"}


@attrs.frozen(kw_only=True)
class _Snapshot:
    """What the demo's views show, at one moment."""

    seed: int
    elapsed: float
    state: str
    status: str
    last_latency: float | None
    latency: LatencyStats | None
    connections: int
    reconnects: int
    queued: int
    dropped: int
    token_refreshes: int
    tokens_fetched: int
    faults: int
    fault_kinds: str
    active_fault: str | None
    commands: int
    console_lines: int
    stats: Stats | None

    def latency_text(self) -> str:
        lat = self.latency
        if lat is None:
            return f"last {_ms(self.last_latency)}"
        return f"last {_ms(self.last_latency)}, p50 {_ms(lat.p50)}, p99 {_ms(lat.p99)}"

    def resources_text(self) -> str:
        stats = self.stats
        if stats is None:
            return "-"
        return (
            f"cpu {stats.cpu_absolute:.0f}%, memory {_size(stats.memory_bytes)}"
            f" / {_size(stats.memory_limit_bytes)}"
        )

    def metrics_line(self) -> str:
        return (
            f"{self.state}, server {self.status} | latency {self.latency_text()} | "
            f"{_n(self.connections, 'connection')}, {_n(self.reconnects, 'reconnect')} | "
            f"queue {self.queued}, dropped {self.dropped} | "
            f"{_n(self.token_refreshes, 'token refresh', 'token refreshes')} | "
            f"{_n(self.faults, 'fault')}"
        )

    def summary(self) -> str:
        lat = self.latency
        latency = (
            f"latency p50 {_ms(lat.p50)}, p99 {_ms(lat.p99)} over {_n(lat.count, 'heartbeat')}"
            if lat is not None
            else "no heartbeat answered"
        )
        kinds = f" ({self.fault_kinds})" if self.fault_kinds else ""
        return (
            f"summary: {self.elapsed:.1f} s, seed {self.seed}: "
            f"{_n(self.faults, 'fault')} injected{kinds}; "
            f"{_n(self.connections, 'connection')}, {_n(self.reconnects, 'reconnect')}; "
            f"{_n(self.token_refreshes, 'token refresh', 'token refreshes')} on a live socket, "
            f"{_n(self.tokens_fetched, 'token')} from the panel; "
            f"{_n(self.commands, 'command')} sent, {self.queued} still queued, "
            f"{self.dropped} dropped; {_n(self.console_lines, 'console line')}; {latency}"
        )


class _DemoView(Protocol):
    def event(self, at: float, kind: str, text: str) -> None: ...
    def console_line(self, at: float, line: str) -> None: ...
    def changed(self) -> None: ...
    async def run(self, snapshot: Callable[[], _Snapshot]) -> None: ...
    def finish(self, snapshot: _Snapshot) -> None: ...


class _PlainView:
    """One timestamped line per event, and a metrics line every few seconds."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def _line(self, at: float, kind: str, text: str) -> None:
        print(f"[{at:7.2f}s] {kind:<9} {text}", file=self._out, flush=True)

    def event(self, at: float, kind: str, text: str) -> None:
        self._line(at, kind, text)

    def console_line(self, at: float, line: str) -> None:
        self._line(at, "console", line)

    def changed(self) -> None:
        pass

    async def run(self, snapshot: Callable[[], _Snapshot]) -> None:
        while True:
            await trio.sleep(_METRICS_EVERY)
            now = snapshot()
            self._line(now.elapsed, "metrics", now.metrics_line())

    def finish(self, snapshot: _Snapshot) -> None:
        print(snapshot.summary(), file=self._out, flush=True)


class _LiveView:
    """A rich live view, redrawn when something changes (at most 10 times a second)."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console as RichConsole

        self._rich = RichConsole(file=out)
        self._out = out
        self._lines: collections.deque[str] = collections.deque(maxlen=_CONSOLE_LINES)
        self._events: collections.deque[tuple[float, str, str]] = collections.deque(
            maxlen=_EVENT_LINES
        )
        self._dirty = trio.Event()

    def event(self, at: float, kind: str, text: str) -> None:
        self._events.append((at, kind, text))
        self._dirty.set()

    def console_line(self, at: float, line: str) -> None:
        self._lines.append(line)
        self._dirty.set()

    def changed(self) -> None:
        self._dirty.set()

    async def run(self, snapshot: Callable[[], _Snapshot]) -> None:
        from rich.live import Live

        # auto_refresh=False: rich would refresh from a thread; we redraw from trio.
        with Live(self._render(snapshot()), console=self._rich, auto_refresh=False) as live:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._tick)
                    while True:
                        await self._dirty.wait()
                        self._dirty = trio.Event()
                        live.update(self._render(snapshot()), refresh=True)
                        await trio.sleep(0.1)
            finally:
                live.update(self._render(snapshot()), refresh=True)

    async def _tick(self) -> None:
        while True:  # the clock in the title moves even when nothing happens
            await trio.sleep(0.5)
            self._dirty.set()

    def finish(self, snapshot: _Snapshot) -> None:
        self._rich.print(snapshot.summary(), markup=False, highlight=False, soft_wrap=True)

    def _render(self, s: _Snapshot) -> RenderableType:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        chaos = Text(_n(s.faults, "fault"))
        if s.active_fault:
            chaos.append(f", now: {s.active_fault}", style="bold red")
        pairs: list[tuple[str, str | Text]] = [
            ("connection", Text(s.state, style=_STATE_STYLES.get(s.state, "bold red"))),
            ("server", Text(s.status, style=_STATUS_STYLES.get(s.status, ""))),
            ("latency", s.latency_text()),
            ("resources", s.resources_text()),
            ("reconnects", f"{s.reconnects} ({_n(s.connections, 'connection')})"),
            ("queue", f"{s.queued} queued, {s.dropped} dropped, {s.commands} sent"),
            ("tokens", f"{s.token_refreshes} refreshed live, {s.tokens_fetched} fetched"),
            ("chaos", chaos),
        ]
        width, height = self._rich.size
        per_row = 2 if width >= 110 else 1
        grid = Table.grid(padding=(0, 1))
        for _ in range(per_row):
            grid.add_column(style="bold", no_wrap=True)
            grid.add_column(ratio=1)
        for i in range(0, len(pairs), per_row):
            grid.add_row(*(cell for pair in pairs[i : i + per_row] for cell in pair))
        intro = Text(
            "A fake panel + Wings node behind a proxy that breaks the link every few "
            "seconds: watch the client reconnect, refresh its token, keep its queue.",
            style="dim",
        )
        header = Panel(
            Group(intro, grid),
            title=f"[bold]pterows demo[/] - {_duration(s.elapsed)}",
            subtitle=f"seed {s.seed} - Ctrl-C to stop",
            border_style="blue",
        )
        # Fit the terminal: header, console, events (and the cursor's line).
        header_height = len(pairs) // per_row + (1 if width >= 160 else 2) + 2
        rows = height - header_height - (_EVENT_LINES + 2) - 2 - 1
        rows = max(1, min(_CONSOLE_LINES, rows))
        lines = list(self._lines)[-rows:]
        console = Text("\n".join(lines + [""] * (rows - len(lines))), no_wrap=True)
        console.overflow = "ellipsis"

        events = Table.grid(padding=(0, 1))
        events.add_column(justify="right", style="dim", min_width=7, no_wrap=True)
        events.add_column(min_width=9, no_wrap=True)
        events.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        recent = list(self._events)
        for at, kind, text in recent:
            events.add_row(f"{at:6.1f}s", Text(kind, style=_KIND_STYLES.get(kind, "")), text)
        for _ in range(_EVENT_LINES - len(recent)):
            events.add_row("", "", "")
        return Group(
            header,
            Panel(console, title="server console", border_style="dim"),
            Panel(events, title="what just happened", border_style="dim"),
        )


class _Demo:
    """FakeWings + ChaosProxy + a console client, and the traffic that makes it lively."""

    def __init__(self, seed: int, view: _DemoView) -> None:
        self.seed = seed
        self.view = view
        self.start = 0.0
        self.fake = FakeWings(
            server_id="demo",
            api_key=_DEMO_KEY,
            token_lifetime=20.0,  # short, so that refreshes happen while you watch
            expiring_window=6.0,
            check_interval=1.0,
            stats_interval=1.0,
            power_delay=0.75,
            initial_status="running",
            command_handler=self._run_command,
        )
        _redact.add(_DEMO_KEY)
        self.console: Console | None = None
        self.faults: collections.Counter[str] = collections.Counter()
        self.active_fault: str | None = None
        self.commands = 0
        self.console_lines = 0
        self.refresh = _RefreshWatch()
        self.last_status: str | None = None
        self.ending = False
        self.stopped_at: float | None = None  # the clock stops when the demo ends

    # ------------------------------------------------------------ bookkeeping

    def elapsed(self) -> float:
        end = self.stopped_at if self.stopped_at is not None else trio.current_time()
        return end - self.start

    def note(self, kind: str, text: str) -> None:
        self.view.event(self.elapsed(), kind, text)

    def snapshot(self) -> _Snapshot:
        console = self.console
        if console is None:
            metrics = None
            state, status, refreshes, stats = "CONNECTING", "-", 0, None
        else:
            metrics = console.ws.get_metrics()
            state = console.ws.state.value
            status = console.status or "-"
            refreshes = console.token_refreshes
            stats = console.last_stats
        return _Snapshot(
            seed=self.seed,
            elapsed=self.elapsed(),
            state=state,
            status=status,
            last_latency=metrics.last_latency if metrics else None,
            latency=metrics.latency if metrics else None,
            connections=metrics.connections if metrics else 0,
            reconnects=metrics.total_reconnects if metrics else 0,
            queued=metrics.queued if metrics else 0,
            dropped=metrics.dropped if metrics else 0,
            token_refreshes=refreshes,
            tokens_fetched=self.fake.tokens_issued,
            faults=sum(self.faults.values()),
            fault_kinds=", ".join(f"{n} {kind}" for kind, n in self.faults.most_common()),
            active_fault=self.active_fault,
            commands=self.commands,
            console_lines=self.console_lines,
            stats=stats,
        )

    def _check_refresh(self, event: object = None) -> None:
        if self.refresh.refreshed(self.console, event):
            self.note("token", "new token from the panel, re-authenticated on the live socket")
        self.view.changed()

    def _token_note(self, text: str) -> None:
        if self.refresh.expiry_notice():
            self.note("token", text)

    # ------------------------------------------------------------ the client side

    def on_open(self, event: OpenEvent) -> None:
        self.refresh.new_socket()
        self.last_status = None  # the node announces it on every new socket
        if self.console is None:
            self.note("open", f"connected to {event.url} (through the proxy) and authenticated")
        else:
            self.note("open", "reconnected and authenticated; queued commands go out now")

    def before_reconnect(self, attempt: int, close_event: CloseEvent | None) -> bool:
        return _fresh_rate_limits(self.console)

    def on_close(self, event: CloseEvent) -> None:
        if not self.ending:
            self.note("close", f"connection lost: {_close_text(event)}")

    def on_reconnect_attempt(self, event: ReconnectAttemptEvent) -> None:
        self.note(
            "reconnect",
            f"attempt {event.attempt} in {event.delay:.2f} s (a fresh token from the panel first)",
        )

    async def show_events(self, console: Console, tasks: trio.CancelScope) -> None:
        try:
            await self._show_events(console)
        except PterowsError as exc:  # not part of the show: end it, with the summary
            self.note("close", f"the console session ended: {exc}")
        tasks.cancel()

    async def _show_events(self, console: Console) -> None:
        async for event in console:
            if isinstance(event, ConsoleOutput):
                self.console_lines += 1
                self.view.console_line(self.elapsed(), _clean(event.line, keep_colour=False))
            elif isinstance(event, StatusChange):
                if event.status != self.last_status:
                    self.note("status", f"the server is {event.status}")
                self.last_status = event.status
            elif isinstance(event, TokenExpiring):
                self._token_note("the node says the token expires soon: fetching a new one")
            elif isinstance(event, TokenExpired):
                self._token_note("the node says the token expired: commands wait for a new one")
            elif isinstance(event, JwtError):
                self._token_note(f"the node answers with jwt errors ({event.text!r}) until then")
            elif isinstance(event, (DaemonMessage, DaemonError)):
                self.note("daemon", event.text)
            elif isinstance(event, Throttled):
                self.note("throttled", f"the node throttled {event.event!r}: slowing down")
            self._check_refresh(event)

    async def play(self, console: Console) -> None:
        """What a user of the console would do: commands, and now and then a restart."""
        n = 0
        next_restart = 7.0
        while True:
            await trio.sleep(2.5)
            if self.elapsed() >= next_restart:
                next_restart += 25.0
                self.note("power", "restart the server (a power action)")
                await console.set_state("restart")
                continue
            n += 1
            command = "list" if n % 3 == 0 else f"say hello #{n}"
            waiting = console.ws.get_metrics().queued
            if console.ws.is_connected and not waiting:
                text = f"send {command!r}"
            else:
                text = f"queue {command!r}: not connected ({waiting + 1} waiting)"
            if console.status == "offline":
                text += "; the server is offline, Wings will ignore it"
            self.note("command", text)
            await console.send_command(command)
            self.commands += 1

    # ------------------------------------------------------------ the server side

    def _clock(self) -> str:
        seconds = 12 * 3600 + int(self.elapsed())
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

    def _run_command(self, command: str) -> Iterable[str]:
        if command == "list":
            online = ", ".join(_PLAYERS[:3])
            return (f"[{self._clock()} INFO]: There are 3 of a max of 20 players online: {online}",)
        if command.startswith("say "):
            return (f"[{self._clock()} INFO]: [Server] {command[4:]}",)
        return (f'[{self._clock()} INFO]: Unknown command. Type "help" for help.',)

    def _game_line(self, rng: random.Random) -> str:
        player = rng.choice(_PLAYERS)
        roll = rng.random()
        if roll < 0.35:
            text = f"<{player}> {rng.choice(_CHAT)}"
        elif roll < 0.5:
            text = f"{player} joined the game"
        elif roll < 0.6:
            text = f"{player} left the game"
        elif roll < 0.72:
            text = f"{player} has made the advancement [{rng.choice(_ADVANCEMENTS)}]"
        elif roll < 0.82:
            text = "Saving the game (this may take a moment!)"
        elif roll < 0.9:
            behind = rng.randint(2000, 6000)
            return (
                f"[{self._clock()} WARN]: Can't keep up! Is the server overloaded? "
                f"Running {behind}ms or {behind // 50} ticks behind"
            )
        else:
            text = f"{player} was slain by Zombie"
        return f"[{self._clock()} INFO]: {text}"

    async def world(self) -> None:
        rng = random.Random(f"{self.seed}/world")
        while True:
            await trio.sleep(rng.uniform(0.3, 1.0))
            if self.fake.status == "running":
                self.fake.console(self._game_line(rng))
                self.fake.set_resources(
                    cpu_absolute=round(rng.uniform(8.0, 65.0), 1),
                    memory_bytes=rng.randint(600, 900) * _MIB,
                )

    # ------------------------------------------------------------ chaos

    async def chaos(self, proxy: ChaosProxy) -> None:
        rng = random.Random(f"{self.seed}/chaos")
        kinds = [kind for kind, _ in _FAULTS]
        weights = [weight for _, weight in _FAULTS]
        await trio.sleep(1.0)
        while True:
            kind = rng.choices(kinds, weights)[0]
            self.faults[kind] += 1
            await self._inject(kind, proxy, rng)
            await trio.sleep(rng.uniform(1.5, 3.0))

    async def _inject(self, kind: str, proxy: ChaosProxy, rng: random.Random) -> None:
        if kind == "drop":
            proxy.drop()
            self.note("chaos", "drop: every connection reset (TCP RST)")
        elif kind == "cut":
            proxy.cut_mid_frame()
            self.note("chaos", "cut: the next frame from the node is cut in half, link closed")
        elif kind == "expire":
            self.fake.expire_tokens()
            self.note("chaos", "the node expires every token: refresh without reconnecting")
        elif kind == "panel":
            self.fake.fail_next(503)
            proxy.drop()
            self.note("chaos", "panel hiccup: the next token request gets HTTP 503; link dropped")
        elif kind == "blackhole":
            seconds = round(rng.uniform(2.0, 3.5), 1)
            await self._for_a_while(
                f"blackhole for {seconds} s: nothing flows, sockets stay open (heartbeat 1.5 s)",
                "blackhole",
                seconds,
                proxy.blackhole,
                proxy.restore,
                "blackhole over: bytes flow again",
            )
        elif kind == "delay":
            ms = rng.choice((150, 300, 500))
            await self._for_a_while(
                f"latency +{ms} ms each way for 3 s",
                f"+{ms} ms latency",
                3.0,
                lambda: proxy.delay(ms / 1000),
                lambda: proxy.delay(0),
                "latency back to normal",
            )
        else:  # outage

            def begin() -> None:
                proxy.refuse()
                proxy.drop()

            def end() -> None:
                try:
                    proxy.accept_again()
                except OSError as exc:  # the port was taken meanwhile
                    self.note("chaos", f"cannot listen again: {exc}")

            await self._for_a_while(
                "outage for 2 s: connections dropped and refused; the client backs off",
                "outage",
                2.0,
                begin,
                end,
                "outage over: the proxy accepts connections again",
            )

    async def _for_a_while(
        self,
        announce: str,
        label: str,
        seconds: float,
        begin: Callable[[], object],
        end: Callable[[], object],
        over: str,
    ) -> None:
        begin()
        self.active_fault = label
        self.note("chaos", announce)
        try:
            await trio.sleep(seconds)
        finally:
            end()
            self.active_fault = None
        self.note("chaos", over)

    # ------------------------------------------------------------ main

    def intro(self, duration: float | None, out: TextIO) -> None:
        how_long = f"for {duration:g} s" if duration is not None else "until Ctrl-C"
        print(
            f"pterows demo {__version__}: a console client against FakeWings (a fake "
            f"Pterodactyl panel + Wings node) behind ChaosProxy, which breaks the link "
            f"every few seconds. Seed {self.seed} (replay with --seed {self.seed}); "
            f"running {how_long}.",
            file=out,
            flush=True,
        )

    async def run(self, duration: float | None) -> None:
        self.start = trio.current_time()
        async with trio.open_nursery() as nursery:
            await nursery.start(self.fake.serve)
            assert self.fake.port is not None
            proxy = ChaosProxy("127.0.0.1", self.fake.port)
            await nursery.start(proxy.serve)
            self.fake.advertise_socket_url(
                proxy.url_for(f"/api/servers/{self.fake.server_uuid}/ws")
            )
            nursery.start_soon(self.world)
            async with (
                httpx.AsyncClient(transport=self.fake.panel_transport()) as http,
                open_console(
                    self.fake.panel_url,
                    _DEMO_KEY,
                    self.fake.server_id,
                    http_client=http,
                    heartbeat_interval=1.0,
                    heartbeat_timeout=1.5,
                    reconnect_interval=0.25,
                    max_reconnect_interval=2.0,
                    connection_timeout=3.0,
                    on_open=self.on_open,
                    on_close=self.on_close,
                    on_before_reconnect=self.before_reconnect,
                ) as console,
            ):
                self.console = console
                console.ws.add_event_listener("reconnectAttempt", self.on_reconnect_attempt)
                console.ws.add_event_listener("pong", lambda _: self._check_refresh())
                try:
                    async with trio.open_nursery() as tasks:
                        tasks.start_soon(self.view.run, self.snapshot)
                        tasks.start_soon(self.show_events, console, tasks.cancel_scope)
                        tasks.start_soon(self.play, console)
                        tasks.start_soon(self.chaos, proxy)
                        if duration is not None:
                            await trio.sleep(duration)
                            tasks.cancel_scope.cancel()
                finally:
                    self.ending = True
                    self.stopped_at = trio.current_time()
            nursery.cancel_scope.cancel()


async def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    """``pterows demo``: returns the exit status (0; Ctrl-C ends it too)."""
    seed: int = args.seed if args.seed is not None else random.randrange(1_000_000)
    view: _DemoView = _PlainView(out)
    if not args.plain and _use_colour(out, no_color=False) and _has_rich():
        view = _LiveView(out)
    demo = _Demo(seed, view)
    if isinstance(view, _PlainView):
        demo.intro(args.duration, out)
    try:
        await demo.run(args.duration)
    finally:
        view.finish(demo.snapshot())
    return EXIT_OK


def _has_rich() -> bool:
    try:
        import rich.live  # noqa: F401
    except ImportError:
        return False
    return True


# =========================================================================== connect


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def _retries(text: str) -> int | None:
    if text in ("forever", "inf"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'forever', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _seconds(text: str) -> float:
    value = _seconds_or_zero(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _seconds_or_zero(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


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


#: Header names whose values -v logs and diagnostics must never show.
_SECRET_HEADER_WORDS = ("auth", "cookie", "key", "token", "secret")


class _Connect:
    """``pterows connect``: stdin lines out, messages to stdout, events to stderr."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.args = args
        self.out = out
        self.err = err
        self.url = redact_url(args.url)
        self.closing = False  # we are closing: the end of the session is ours
        self.status = EXIT_OK
        self.last_close: CloseEvent | None = None
        self.attempts = 0
        self.activity = _Activity()

    def on_open(self, event: OpenEvent) -> None:
        _say(self.err, f"connected to {event.url}")

    def on_close(self, event: CloseEvent) -> None:
        self.last_close = event
        if self.closing:
            return
        if event.was_clean:
            _say(self.err, f"closed by the peer: {_close_text(event)}")
        else:
            _say(self.err, f"connection lost: {_close_text(event)}")

    def on_reconnect_attempt(self, event: ReconnectAttemptEvent) -> None:
        self.attempts = event.attempt
        _say(self.err, f"reconnecting in {event.delay:.2f} s (attempt {event.attempt})")

    async def run(self, stdin: _LineReader) -> int:
        async with AdvancedWebSocket(connect_options(self.args)) as ws:
            ws.add_event_listener("open", self.on_open)
            ws.add_event_listener("close", self.on_close)
            ws.add_event_listener("reconnectAttempt", self.on_reconnect_attempt)
            try:
                await ws.connect()
            except ConnectionFailed as exc:
                _say(self.err, f"cannot connect to {self.url}: {_reason(exc)}")
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
        from ._codec import dumps

        async for message in ws:
            if isinstance(message, bytes):
                text = message.decode("utf-8", "backslashreplace")
            elif isinstance(message, str):
                text = message
            else:  # --json decoded it
                text = dumps(message)
            print(text, file=self.out, flush=True)
            self.activity.touch()

    async def pump(self, ws: AdvancedWebSocket, stdin: _LineReader) -> None:
        from ._codec import loads

        while (line := await stdin.readline()) is not None:
            payload: Any = line
            if self.args.json:
                try:
                    payload = loads(line)
                except ValueError:
                    payload = line
            try:
                await ws.send(payload)
            except PterowsError as exc:
                _say(self.err, f"not sent: {exc}")
        # End of input: let queued messages go out, give the replies a moment
        # (until the peer is quiet for --linger seconds), then close cleanly.
        with trio.move_on_after(self.args.timeout):
            await ws.wait_flushed()
            if self.args.linger:
                await self.activity.wait_quiet(self.args.linger)
        left = ws.get_metrics().queued
        if left:
            _say(self.err, f"{left} queued messages not sent within {self.args.timeout:g} s")
            self.status = EXIT_FAILURE
        self.closing = True
        await ws.close()

    def ended(self) -> int:
        close = self.last_close
        if close is not None and close.was_clean and close.code in (1000, 1001):
            return EXIT_OK
        if self.args.reconnect:
            _say(self.err, f"gave up on {self.url} after {self.attempts} reconnect attempts")
        elif close is None:
            _say(self.err, f"connection to {self.url} lost")
        return EXIT_FAILURE


async def run_connect(
    args: argparse.Namespace, stdin: _LineReader, out: TextIO, err: TextIO
) -> int:
    """``pterows connect``: returns the exit status."""
    for name, value in args.header:
        if any(word in name.lower() for word in _SECRET_HEADER_WORDS):
            _redact.add(value)
            _redact.add(value.partition(" ")[2])  # "Bearer <token>"
    return await _Connect(args, out, err).run(stdin)


# =========================================================================== console

_CONSOLE_HELP = """\
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
#: How many times the first connection is retried before giving up.
_FIRST_CONNECT_RETRIES = 3
#: How long the end of input waits for pending commands.
_FLUSH_TIMEOUT = 10.0
#: Then it prints output until the console is quiet for _LINGER s (at most _LINGER_MAX s).
_LINGER = 0.5
_LINGER_MAX = 3.0


class _ConsoleSession:
    """``pterows console``: what one session prints, and how typed lines are handled."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.args = args
        self.out = out
        self.err = err
        self.colour_out = _use_colour(out, args.no_color)
        self.colour_err = _use_colour(err, args.no_color)
        self.console: Console | None = None
        self.opened = 0
        self.closing = False
        self.stats_wanted = 0
        self.refresh = _RefreshWatch()
        self.status = EXIT_OK
        self.activity = _Activity()
        self.last_status: str | None = None

    # ------------------------------------------------------------ output

    def say(self, text: str, style: str = "") -> None:
        line = f"pterows: {_redact(_one_line(text))}"
        print(_paint(line, style, self.colour_err), file=self.err, flush=True)

    def show(self, line: str, style: str = "") -> None:
        text = _clean(line, keep_colour=self.colour_out)
        print(_paint(text, style, self.colour_out), file=self.out, flush=True)

    # ------------------------------------------------------------ connection events

    def on_open(self, event: OpenEvent) -> None:
        self.refresh.new_socket()
        self.opened += 1
        if self.opened == 1:
            self.say(f"connected to server {self.args.server} ({event.url})", "green")
        else:
            self.say("reconnected", "green")

    def on_close(self, event: CloseEvent) -> None:
        if not self.closing:
            self.say(f"connection lost: {_close_text(event)}", "yellow")

    def before_reconnect(self, attempt: int, close_event: CloseEvent | None) -> bool:
        _fresh_rate_limits(self.console)
        if self.opened:
            return True  # once connected, survive anything (the library backs off)
        if attempt > _FIRST_CONNECT_RETRIES:
            return False
        self.say(f"connecting failed, retrying (attempt {attempt} of {_FIRST_CONNECT_RETRIES})")
        return True

    def on_reconnect_attempt(self, event: ReconnectAttemptEvent) -> None:
        if self.opened:
            self.say(f"reconnecting in {event.delay:.1f} s (attempt {event.attempt})", "yellow")

    # ------------------------------------------------------------ console events

    def handle(self, event: ConsoleEvent) -> None:
        if isinstance(event, (ConsoleOutput, InstallOutput, TransferLogs)):
            self.activity.touch()
        if isinstance(event, ConsoleOutput):
            self.show(event.line)
        elif isinstance(event, (InstallOutput, TransferLogs)):
            self.show(event.line, "dim")
        elif isinstance(event, Stats):
            if self.stats_wanted:
                self.stats_wanted -= 1
                self.show(_stats_line(event), "cyan")
        elif isinstance(event, StatusChange):
            if event.status != self.last_status:  # the node repeats it on every socket
                self.say(f"server status: {event.status}", "cyan")
            self.last_status = event.status
        elif isinstance(event, DaemonMessage):
            self.say(f"daemon: {_clean(event.text, keep_colour=False)}", "yellow")
        elif isinstance(event, DaemonError):
            self.say(f"daemon error: {_clean(event.text, keep_colour=False)}", "red")
        elif isinstance(event, (TokenExpired, JwtError)):
            if self.refresh.expiry_notice():
                what = "token expired" if isinstance(event, TokenExpired) else event.text
                self.say(f"{what}: fetching a new token (commands wait)", "magenta")
        elif isinstance(event, Throttled):
            self.say(f"the node throttled {event.event!r}: slowing down", "yellow")
        elif isinstance(event, InstallStarted):
            self.say("installation started", "cyan")
        elif isinstance(event, InstallCompleted):
            self.say("installation completed", "cyan")
        elif isinstance(event, TransferStatus):
            self.say(f"transfer: {event.status}", "cyan")
        elif isinstance(event, BackupCompleted):
            result = "completed" if event.is_successful else "FAILED"
            self.say(f"backup {event.uuid} {result}", "cyan")
        elif isinstance(event, BackupRestoreCompleted):
            self.say("backup restore completed", "cyan")
        elif isinstance(event, Deleted):
            self.say("the server was deleted", "red")
        elif isinstance(event, (TokenExpiring, UnknownEvent)):
            _log.debug("console event %r", event)
        self.check_refresh(event)

    def check_refresh(self, event: object = None) -> None:
        if self.refresh.refreshed(self.console, event):
            self.say("token refreshed", "magenta")

    # ------------------------------------------------------------ input

    async def pump(self, console: Console, stdin: _LineReader) -> None:
        while (line := await stdin.readline()) is not None:
            text = line.strip()
            if not text:
                continue
            try:
                if text.startswith(":") and not text.startswith("::"):
                    if not await self.action(console, text[1:].strip().lower()):
                        break
                else:
                    command = text[1:] if text.startswith("::") else line
                    if console.status == "offline":
                        self.say("the server is offline: Wings ignores commands (:start)")
                    await console.send_command(command)
            except ConsoleClosed:
                return  # the event loop reports it
            except (PterowsError, ValueError, TypeError) as exc:
                self.say(f"not sent: {exc}", "red")
        await self.finish(console)

    async def action(self, console: Console, name: str) -> bool:
        """Run ``:name``; False for :quit."""
        if name in ("start", "stop", "restart", "kill"):
            await console.set_state(name)
        elif name == "stats":
            self.stats_wanted += 1
            await console.request_stats()
        elif name == "logs":
            await console.request_logs()
        elif name in ("quit", "exit", "q"):
            return False
        elif name in ("help", "?"):
            for row in _CONSOLE_HELP.splitlines():
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
        self, api_key: str, stdin: _LineReader, http_client: httpx.AsyncClient | None
    ) -> int:
        _redact.add(api_key)
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
                self.console = console
                console.ws.add_event_listener("reconnectAttempt", self.on_reconnect_attempt)
                console.ws.add_event_listener("pong", lambda _: self.check_refresh())
                try:
                    status = await self.session(console, stdin)
                finally:
                    self.closing = True  # Ctrl-C, a broken pipe: leaving closes it
        except PanelAPIError as exc:
            hint = _PANEL_HINTS.get(exc.status_code or 0, "")
            self.say(f"{exc}{hint}", "red")
            return EXIT_FAILURE
        except ConsoleClosed as exc:
            self.say(str(exc), "red")
            return EXIT_SESSION_ENDED
        except ConnectionFailed as exc:
            self.say(f"cannot connect to server {self.args.server}: {_reason(exc)}", "red")
            return EXIT_FAILURE
        return status

    async def session(self, console: Console, stdin: _LineReader) -> int:
        if os.isatty(0):
            self.say("type a command and press Enter; :help lists the actions, Ctrl-D quits")
        ended: ConsoleClosed | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.pump, console, stdin)
            try:
                async for event in console:
                    self.handle(event)
            except ConsoleClosed as exc:
                ended = exc
            if not self.closing:
                nursery.cancel_scope.cancel()
        if ended is not None:
            self.say(str(ended), "red")
            return EXIT_SESSION_ENDED
        if not self.closing:  # iteration ended without us: reconnecting gave up
            self.say("the connection ended and reconnecting gave up (-v shows why)", "red")
            return EXIT_FAILURE
        return self.status


async def run_console(
    args: argparse.Namespace,
    api_key: str,
    *,
    stdin: _LineReader | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> int:
    """``pterows console`` once the API key is known: returns the exit status.

    ``http_client`` reaches the panel (default: a new :class:`httpx.AsyncClient`).
    """
    session = _ConsoleSession(args, out or sys.stdout, err or sys.stderr)
    return await session.run(api_key, stdin or _LineReader(0), http_client)


def read_api_key(err: TextIO) -> str | None:
    """The API key from ``PTERODACTYL_API_KEY``, or a prompt that does not echo when
    stdin is a terminal; None (after saying why on ``err``) when there is none."""
    key = os.environ.get(API_KEY_VARIABLE, "").strip()
    if key:
        return key
    if not sys.stdin.isatty():
        _say(
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
        _say(err, f"no API key given (set {API_KEY_VARIABLE} to skip the prompt)")
        return None
    return key


# ============================================================================== main


def build_parser() -> argparse.ArgumentParser:
    """The ``pterows`` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug logs on stderr (secrets redacted)",
    )
    parser = argparse.ArgumentParser(
        prog="pterows",
        description="A WebSocket client for Trio that does not fall over, and a "
        "Pterodactyl / Pelican console client on top of it.",
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pterows {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logs on stderr (secrets redacted)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, epilog: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=help[0].upper() + help[1:] + ".",
            epilog=epilog,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    demo = command(
        "demo",
        "watch the console client survive a flaky fake server (no panel needed)",
        DEMO_EPILOG,
    )
    demo.add_argument(
        "--duration", type=_seconds, metavar="SECONDS", help="stop after SECONDS (default: Ctrl-C)"
    )
    demo.add_argument("--seed", type=int, metavar="N", help="replay the same faults")
    demo.add_argument("--plain", action="store_true", help="timestamped lines, no live view")

    connect = command(
        "connect",
        "a reconnecting websocat-like client: stdin lines out, messages to stdout",
        CONNECT_EPILOG,
    )
    connect.add_argument("url", help="ws:// or wss:// URL")
    connect.add_argument("--json", action="store_true", help="decode and encode JSON both ways")
    group = connect.add_argument_group("reconnection")
    group.add_argument("--reconnect", action="store_true", help="reconnect when the link drops")
    group.add_argument(
        "--max-retries",
        type=_retries,
        default=10,
        metavar="N",
        help="give up after N retries in a row, or 'forever' (default: 10)",
    )
    group.add_argument(
        "--reconnect-interval", type=_seconds, default=1.0, metavar="SECONDS",
        help="first retry delay, doubled each time (default: 1)",
    )  # fmt: skip
    group.add_argument(
        "--max-reconnect-interval", type=_seconds, default=30.0, metavar="SECONDS",
        help="longest retry delay (default: 30)",
    )  # fmt: skip
    group = connect.add_argument_group("heartbeat")
    group.add_argument(
        "--heartbeat", type=_seconds, metavar="SECONDS", help="ping every SECONDS (default: off)"
    )
    group.add_argument(
        "--heartbeat-mode",
        choices=("protocol", "message"),
        default="protocol",
        help="WebSocket ping frames, or a 'ping' text message answered by 'pong'",
    )
    group.add_argument(
        "--heartbeat-timeout", type=_seconds, default=5.0, metavar="SECONDS",
        help="drop the link after SECONDS of silence following a ping (default: 5)",
    )  # fmt: skip
    group = connect.add_argument_group("queue")
    group.add_argument("--queue", action="store_true", help="queue lines while disconnected")
    group.add_argument(
        "--queue-limit", type=int, metavar="N", help="at most N queued lines (default: 10000)"
    )
    group = connect.add_argument_group("connection")
    group.add_argument(
        "--timeout", type=_seconds, default=10.0, metavar="SECONDS",
        help="handshake timeout, and how long end of input waits for the queue (default: 10)",
    )  # fmt: skip
    group.add_argument(
        "--linger", type=_seconds_or_zero, default=0.5, metavar="SECONDS",
        help="at end of input, wait for replies until the peer is quiet this long "
        "(default: 0.5; 0 closes at once)",
    )  # fmt: skip
    group.add_argument(
        "-H", "--header", type=_header, action="append", default=[], metavar="'NAME: VALUE'",
        help="an extra handshake header (repeatable)",
    )  # fmt: skip
    group.add_argument(
        "--protocol", action="append", default=[], metavar="SUBPROTOCOL",
        help="a subprotocol to offer (repeatable)",
    )  # fmt: skip

    console = command(
        "console",
        "stream a Pterodactyl / Pelican server console and type commands into it",
        CONSOLE_EPILOG,
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
    return parser


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command == "connect":
        try:
            connect_options(args)
        except (TypeError, ValueError) as exc:
            parser.error(_redact(str(exc)))
    elif args.command == "console":
        from .pterodactyl._panel import websocket_endpoint

        try:
            websocket_endpoint(args.panel, args.server)
        except (TypeError, ValueError) as exc:
            parser.error(_redact(str(exc)))


def _reconfigure_streams() -> None:
    # Messages and console lines are remote text: never crash on an unencodable one.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pterows`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(parser, args)
    setup_logging(args.verbose)
    _reconfigure_streams()
    try:
        if args.command == "demo":
            return trio.run(
                lambda: _run_interruptible(
                    lambda: run_demo(args, sys.stdout), interrupted_status=EXIT_OK
                )
            )
        if sys.platform == "win32":  # pragma: no cover
            _say(sys.stderr, f"'{args.command}' reads stdin, which needs Unix for now")
            return EXIT_FAILURE
        if args.command == "connect":
            return trio.run(
                lambda: _run_interruptible(
                    lambda: run_connect(args, _LineReader(0), sys.stdout, sys.stderr),
                    interrupted_status=EXIT_INTERRUPTED,
                )
            )
        if args.command == "console":
            key = read_api_key(sys.stderr)
            if key is None:
                return EXIT_USAGE
            return trio.run(
                lambda: _run_interruptible(
                    lambda: run_console(args, key), interrupted_status=EXIT_INTERRUPTED
                )
            )
    except BaseException as exc:
        if _only(exc, KeyboardInterrupt):
            return EXIT_INTERRUPTED
        if _only(exc, BrokenPipeError):  # stdout closed (| head): nothing left to do
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_OK
        raise
    raise AssertionError(f"unhandled command {args.command!r}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
