"""What a demo view does, and the plain one: timestamped lines (not a terminal,
``--plain``, or no rich)."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from typing import Protocol, TextIO

import trio

from ._demo_snapshot import Snapshot
from ._text import is_terminal

#: Plain mode prints a metrics line this often.
METRICS_EVERY = 2.0


class DemoView(Protocol):
    def event(self, at: float, kind: str, text: str) -> None: ...
    def console_line(self, at: float, line: str, *, replayed: bool = False) -> None: ...
    def changed(self) -> None: ...
    async def run(self, snapshot: Callable[[], Snapshot]) -> None: ...
    def finish(self, snapshot: Snapshot) -> None: ...


class PlainView:
    """One timestamped line per event, and a metrics line every few seconds."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def _line(self, at: float, kind: str, text: str) -> None:
        print(f"[{at:7.2f}s] {kind:<9} {text}", file=self._out, flush=True)

    def event(self, at: float, kind: str, text: str) -> None:
        self._line(at, kind, text)

    def console_line(self, at: float, line: str, *, replayed: bool = False) -> None:
        """A console line; ``replayed`` (history the node replayed after a reconnect)
        is printed as kind ``history``."""
        self._line(at, "history" if replayed else "console", line)

    def changed(self) -> None:
        pass

    async def run(self, snapshot: Callable[[], Snapshot]) -> None:
        while True:
            await trio.sleep(METRICS_EVERY)
            now = snapshot()
            self._line(now.elapsed, "metrics", now.metrics_line())

    def finish(self, snapshot: Snapshot) -> None:
        """The summary: one line for a pipe, wrapped between words on a terminal."""
        text = snapshot.summary()
        if is_terminal(self._out):
            width = shutil.get_terminal_size().columns
            text = textwrap.fill(
                text, width=max(20, width), break_long_words=False, break_on_hyphens=False
            )
        print(text, file=self._out, flush=True)
