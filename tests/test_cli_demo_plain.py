"""The ``pterows`` command line, in-process: the demo's plain view."""

from __future__ import annotations

import io
import sys

import pytest

from trio_pterows.cli._demo_plain import PlainView

from .cli_helpers import TTY, make_snapshot

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


def test_plain_view_prints_timestamped_lines() -> None:
    out = io.StringIO()
    view = PlainView(out)
    view.event(1.5, "chaos", "drop")
    view.console_line(2.25, "hello")
    view.changed()
    view.finish(make_snapshot())
    lines = out.getvalue().splitlines()
    assert lines[0] == "[   1.50s] chaos     drop"
    assert lines[1] == "[   2.25s] console   hello"
    assert lines[2].startswith("summary: 65.0 s, seed 7")


def test_plain_view_wraps_the_summary_between_words_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = TTY()
    snapshot = make_snapshot(fault_kinds="12 drop, 8 blackhole, 7 cut, 6 delay", faults=33)
    PlainView(out).finish(snapshot)
    lines = out.getvalue().splitlines()
    assert len(lines) > 1
    assert max(len(line) for line in lines) <= 80
    assert out.getvalue().split() == snapshot.summary().split()
    piped = io.StringIO()
    PlainView(piped).finish(snapshot)
    assert piped.getvalue() == snapshot.summary() + "\n"  # one line for a pipe
