"""The ``pterows`` command line, in-process: the demo's live view (rich)."""

from __future__ import annotations

import io
import sys

import pytest
import trio
from rich.console import Console as RichConsole

from trio_pterows.cli._demo_live import LiveView, has_rich
from trio_pterows.cli._demo_snapshot import Snapshot

from .cli_helpers import (
    TTY,
    make_snapshot,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


@pytest.mark.parametrize("width", [100, 170])
def test_live_view_renders_status_console_and_events(width: int) -> None:
    view = LiveView(TTY())
    view._rich = RichConsole(file=io.StringIO(), force_terminal=True, width=width, height=40)
    for i in range(20):
        view.console_line(float(i), f"console line {i}")
    for i in range(8):
        view.event(float(i), "chaos" if i % 2 else "mystery", f"event {i}")
    out = RichConsole(file=io.StringIO(), width=width, height=40, color_system=None)
    out.print(view.render(make_snapshot()))
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "pterows demo - 0:01:05" in text
    assert "seed 7 - Ctrl-C to stop" in text
    assert "now: blackhole" in text
    assert "cpu 40%, memory 512.0 MiB / 1.0 GiB" in text
    assert "1 (2 connections)" in text
    assert "console line 19" in text
    assert "console line 4 " not in text  # only the last 15 lines are kept
    assert "event 7" in text
    assert "event 1 " not in text  # only the last 6 events
    row_count = 4 if width >= 110 else 8
    assert text.count("tokens") == 1
    assert "0 queued, 0 dropped, 5 sent" in text
    if row_count == 4:  # two pairs per row: connection and server side by side
        assert any("connection" in r and "server" in r for r in text.splitlines())


def test_live_view_shrinks_the_console_to_a_small_terminal() -> None:
    view = LiveView(TTY())
    view._rich = RichConsole(file=io.StringIO(), force_terminal=True, width=80, height=24)
    for i in range(20):
        view.console_line(0.0, f"line {i}")
    out = RichConsole(file=io.StringIO(), width=80, color_system=None)
    out.print(view.render(make_snapshot(active_fault=None, state="WEIRD", status="odd")))
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "line 19" in text
    assert "line 17" not in text  # 24 rows leave room for two console lines
    assert "now:" not in text
    assert "WEIRD" in text


async def test_live_view_redraws_on_changes_and_prints_a_summary(
    autojump_clock: trio.abc.Clock,
) -> None:
    out = TTY()
    view = LiveView(out)
    count = 0

    def snapshot() -> Snapshot:
        nonlocal count
        count += 1
        return make_snapshot(commands=count)

    with trio.fail_after(30):
        with trio.move_on_after(1.25):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(view.run, snapshot)
                await trio.sleep(0.05)
                view.event(0.05, "open", "connected somewhere")
                view.changed()
        view.finish(make_snapshot())
    text = out.getvalue()
    assert "connected somewhere" in text
    assert count >= 4  # the first draw, the event, the ticks, the final draw
    # The summary wraps between words at the terminal's width: compare the words.
    assert " ".join(text.split()).endswith(
        "on a live socket, 3 tokens from the panel; 5 commands sent, "
        "0 still queued, 0 dropped; 9 console lines (0 replayed history); latency p50 "
        "2.0 ms, p99 3.0 ms over 3 heartbeats"
    )


def test_has_rich_is_false_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    assert has_rich()
    monkeypatch.setitem(sys.modules, "rich.live", None)
    assert not has_rich()


# ------------------------------------------------------------------ 80 columns (issue 12)

LONG_KINDS = "12 drop, 8 blackhole, 7 cut, 6 delay, 5 expire, 3 outage, 2 panel"


def _at_80_columns() -> tuple[LiveView, io.StringIO]:
    out = io.StringIO()
    view = LiveView(TTY())
    view._rich = RichConsole(file=out, force_terminal=True, width=80, height=40)
    return view, out


def test_what_just_happened_wraps_long_lines_at_80_columns() -> None:
    view, _ = _at_80_columns()
    words = [f"word{i}" for i in range(40)]  # about 270 characters
    view.event(1.0, "daemon", " ".join(words))
    view.event(2.0, "chaos", "short")
    out = RichConsole(file=io.StringIO(), width=80, height=40, color_system=None)
    out.print(view.render(make_snapshot()))
    text = out.file.getvalue()  # type: ignore[attr-defined]
    events = text[text.index("what just happened") :]
    found = [w for line in events.splitlines() for w in line.split() if w.startswith("word")]
    assert found == words  # every word, whole and in order: wrapped, not cut
    assert "…" not in events
    assert "short" in events
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) <= 40  # the console panel made room for the wrapped event


def test_the_summary_never_breaks_a_word_at_80_columns() -> None:
    view, out = _at_80_columns()
    snapshot = make_snapshot(fault_kinds=LONG_KINDS, faults=43, console_lines=1234)
    view.finish(snapshot)
    lines = out.getvalue().splitlines()
    assert len(lines) > 1
    assert max(len(line) for line in lines) <= 80
    assert out.getvalue().split() == snapshot.summary().split()


def test_reconnects_row_counts_reconnects_connections_and_attempts() -> None:
    view, _ = _at_80_columns()
    out = RichConsole(file=io.StringIO(), width=80, height=40, color_system=None)
    out.print(view.render(make_snapshot(connections=3, reconnects=2, retries=5)))
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "reconnects 2 (3 connections), 5 attempts" in " ".join(text.split())
