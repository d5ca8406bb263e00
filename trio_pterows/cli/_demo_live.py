"""The demo's live view (rich): a status header, the server console, and what just
happened, redrawn when something changes and fitted to the terminal."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

import trio

from ._demo_snapshot import Snapshot
from ._text import duration, n

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text

#: The live view keeps this many console lines and events.
CONSOLE_LINES = 15
EVENT_LINES = 6
#: A longer event text is cut (with "...") before it is wrapped.
_EVENT_TEXT_MAX = 400

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
#: Console lines the node replayed after a (re)connect.
_HISTORY_STYLE = "dim italic"
_STATE_STYLES = {"OPEN": "bold green", "RECONNECTING": "bold yellow", "CONNECTING": "yellow"}
_STATUS_STYLES = {"running": "green", "starting": "yellow", "stopping": "yellow", "offline": "red"}
_INTRO = (
    "A fake panel + Wings node behind a proxy that breaks the link every few "
    "seconds: watch the client reconnect, refresh its token, keep its queue."
)


def has_rich() -> bool:
    try:
        import rich.live  # noqa: F401
    except ImportError:
        return False
    return True


class LiveView:
    """A rich live view, redrawn when something changes (at most 10 times a second)."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console as RichConsole

        self._rich = RichConsole(file=out)
        #: (line, replayed): replayed history is drawn dim.
        self._lines: collections.deque[tuple[str, bool]] = collections.deque(maxlen=CONSOLE_LINES)
        self._events: collections.deque[tuple[float, str, str]] = collections.deque(
            maxlen=EVENT_LINES
        )
        self._dirty = trio.Event()

    def event(self, at: float, kind: str, text: str) -> None:
        if len(text) > _EVENT_TEXT_MAX:
            text = text[: _EVENT_TEXT_MAX - 3] + "..."
        self._events.append((at, kind, text))
        self._dirty.set()

    def console_line(self, at: float, line: str, *, replayed: bool = False) -> None:
        self._lines.append((line, replayed))
        self._dirty.set()

    def changed(self) -> None:
        self._dirty.set()

    async def run(self, snapshot: Callable[[], Snapshot]) -> None:
        from rich.live import Live

        # auto_refresh=False: rich would refresh from a thread; we redraw from trio.
        with Live(self.render(snapshot()), console=self._rich, auto_refresh=False) as live:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._tick)
                    while True:
                        await self._dirty.wait()
                        self._dirty = trio.Event()
                        live.update(self.render(snapshot()), refresh=True)
                        await trio.sleep(0.1)
            finally:
                live.update(self.render(snapshot()), refresh=True)

    async def _tick(self) -> None:
        while True:  # the clock in the title moves even when nothing happens
            await trio.sleep(0.5)
            self._dirty.set()

    def finish(self, snapshot: Snapshot) -> None:
        """The summary, wrapped between words at the terminal's width."""
        from rich.text import Text

        self._rich.print(Text(snapshot.summary()), soft_wrap=False, highlight=False)

    def render(self, s: Snapshot) -> RenderableType:
        """The whole view for ``s``, fitted to the terminal's height."""
        from rich.console import Group
        from rich.panel import Panel

        width, height = self._rich.size
        header, header_height = self._header(s, width)
        events = self._events_table()
        # The events wrap: measure them at the width their panel leaves them.
        event_rows = len(
            self._rich.render_lines(events, self._rich.options.update(width=width - 4))
        )
        # Fit the terminal: header, console, events (and the cursor's line).
        rows = height - header_height - (event_rows + 2) - 2 - 1
        rows = max(1, min(CONSOLE_LINES, rows))
        return Group(
            header,
            Panel(self._console_text(rows), title=self._console_title(), border_style="dim"),
            Panel(events, title="what just happened", border_style="dim"),
        )

    def _header(self, s: Snapshot, width: int) -> tuple[RenderableType, int]:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        chaos = Text(n(s.faults, "fault"))
        if s.active_fault:
            chaos.append(f", now: {s.active_fault}", style="bold red")
        pairs: list[tuple[str, str | Text]] = [
            ("connection", Text(s.state, style=_STATE_STYLES.get(s.state, "bold red"))),
            ("server", Text(s.status, style=_STATUS_STYLES.get(s.status, ""))),
            ("latency", s.latency_text()),
            ("resources", s.resources_text()),
            ("reconnects", s.reconnects_text()),
            ("queue", f"{s.queued} queued, {s.dropped} dropped, {s.commands} sent"),
            ("tokens", f"{s.token_refreshes} refreshed live, {s.tokens_fetched} fetched"),
            ("chaos", chaos),
        ]
        per_row = 2 if width >= 110 else 1
        grid = Table.grid(padding=(0, 1))
        for _ in range(per_row):
            grid.add_column(style="bold", no_wrap=True)
            grid.add_column(ratio=1)
        for i in range(0, len(pairs), per_row):
            grid.add_row(*(cell for pair in pairs[i : i + per_row] for cell in pair))
        header = Panel(
            Group(Text(_INTRO, style="dim"), grid),
            title=f"[bold]pterows demo[/] - {duration(s.elapsed)}",
            subtitle=f"seed {s.seed} - Ctrl-C to stop",
            border_style="blue",
        )
        return header, len(pairs) // per_row + (1 if width >= 160 else 2) + 2

    def _console_title(self) -> str:
        if any(replayed for _, replayed in self._lines):
            return f"server console - [{_HISTORY_STYLE}]history replayed after a (re)connect[/]"
        return "server console"

    def _console_text(self, rows: int) -> Text:
        from rich.text import Text

        lines = list(self._lines)[-rows:]
        console = Text(no_wrap=True, overflow="ellipsis")
        for i, (line, replayed) in enumerate(lines):
            if i:
                console.append("\n")
            console.append(line, style=_HISTORY_STYLE if replayed else "")
        console.append("\n" * (rows - max(1, len(lines))))
        return console

    def _events_table(self) -> Table:
        from rich.table import Table
        from rich.text import Text

        events = Table.grid(padding=(0, 1))
        events.add_column(justify="right", style="dim", min_width=7, no_wrap=True)
        events.add_column(min_width=9, no_wrap=True)
        events.add_column(overflow="fold", ratio=1)  # long texts wrap, never cut
        recent = list(self._events)
        for at, kind, text in recent:
            events.add_row(f"{at:6.1f}s", Text(kind, style=_KIND_STYLES.get(kind, "")), Text(text))
        for _ in range(EVENT_LINES - len(recent)):
            events.add_row("", "", "")
        return events
