"""The ``pterows`` command line, in-process: colours, server text made safe for a terminal,
sizes and durations."""

from __future__ import annotations

import io
import sys

import pytest

from trio_pterows.cli._text import clean, duration, ms, n, paint, size, stats_line, use_colour

from .cli_helpers import (
    MIB,
    TTY,
    make_stats,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


def test_paint_only_known_styles_when_enabled() -> None:
    assert paint("x", "red", True) == "\x1b[31mx\x1b[0m"
    assert paint("x", "red", False) == "x"
    assert paint("x", "", True) == "x"
    assert paint("x", "sparkly", True) == "x"


def test_clean_strips_titles_cursor_moves_and_controls() -> None:
    line = "\x1b]0;pwned\x1b\\a\x1b[2Kb\x1bMc\x00\x7fd\x1b"
    assert clean(line, keep_colour=True) == "abcd"
    assert clean("\x1b[1;32mok\r\n", keep_colour=True) == "\x1b[1;32mok\x1b[0m"


def test_use_colour_needs_a_terminal_and_no_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(TTY(), no_color=False)
    assert not use_colour(TTY(), no_color=True)
    assert not use_colour(io.StringIO(), no_color=False)
    assert not use_colour(object(), no_color=False)  # type: ignore[arg-type]
    closed_plain = io.StringIO()
    closed_plain.close()
    assert not use_colour(closed_plain, no_color=False)  # isatty: ValueError
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(TTY(), no_color=False)


def test_sizes_durations_and_stats_lines() -> None:
    assert size(512) == "512 B"
    assert size(2048) == "2.0 KiB"
    assert size(3 * MIB) == "3.0 MiB"
    assert size(5000 * 1024 * MIB) == "5000.0 GiB"
    assert duration(3725.9) == "1:02:05"
    assert ms(None) == "-"
    assert ms(0.0015) == "1.5 ms"
    assert stats_line(make_stats()) == (
        "stats: running, cpu 12.5%, memory 256.0 MiB / 1.0 GiB, disk 64.0 MiB, "
        "network rx 1.0 KiB tx 2.0 KiB, uptime 1:02:05"
    )
    line = stats_line(make_stats(memory_limit_bytes=0, state=""))
    assert line.startswith("stats: unknown, cpu 12.5%, memory 256.0 MiB, disk")
    assert n(1, "fault") == "1 fault"
    assert n(2, "token refresh", "token refreshes") == "2 token refreshes"
