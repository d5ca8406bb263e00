"""Text for terminals: colours, server text made safe, sizes, durations, counts."""

from __future__ import annotations

import os
import re
from typing import TextIO

from .. import CloseEvent
from ..pterodactyl import Stats

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


def paint(text: str, style: str, enabled: bool) -> str:
    if not enabled or style not in _STYLES:
        return text
    return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"


def clean(line: str, *, keep_colour: bool) -> str:
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


def use_colour(stream: TextIO, no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return is_terminal(stream)


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def stats_line(stats: Stats) -> str:
    limit = f" / {size(stats.memory_limit_bytes)}" if stats.memory_limit_bytes else ""
    return (
        f"stats: {stats.state or 'unknown'}, cpu {stats.cpu_absolute:.1f}%, "
        f"memory {size(stats.memory_bytes)}{limit}, disk {size(stats.disk_bytes)}, "
        f"network rx {size(stats.network_rx_bytes)} tx {size(stats.network_tx_bytes)}, "
        f"uptime {duration(stats.uptime)}"
    )


def close_text(event: CloseEvent) -> str:
    return f"{event.code} {event.reason}".strip()


def n(count: int, word: str, plural: str = "") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {plural or word + 's'}"
