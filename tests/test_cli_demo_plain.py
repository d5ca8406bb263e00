"""The ``pterows`` command line, in-process: the demo's plain view."""

from __future__ import annotations

import io
import sys

import pytest

from trio_pterows.cli._demo_plain import PlainView

from .cli_helpers import (
    make_snapshot,
)

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
