"""The ``pterows`` command line, in-process: argument types and option names translated
into flags."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pytest

from trio_pterows.cli._args import header, renamed, retries, seconds, seconds_or_zero

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


@pytest.mark.parametrize(
    ("convert", "text", "message"),
    [
        (header, "no colon", "expected 'Name: value'"),
        (header, " : value", "expected 'Name: value'"),
        (retries, "many", "expected a number or 'forever'"),
        (retries, "-1", "expected a number >= 0"),
        (seconds, "0", "seconds > 0"),
        (seconds, "soon", "expected seconds"),
        (seconds_or_zero, "nan", "seconds >= 0"),
        (seconds_or_zero, "-2", "seconds >= 0"),
    ],
)
def test_argument_types_reject_bad_values(convert: Any, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        convert(text)


def test_argument_types_accept_good_values() -> None:
    assert header("Origin:  https://x ") == ("Origin", "https://x")
    assert retries("forever") is None
    assert retries("inf") is None
    assert retries("0") == 0
    assert seconds_or_zero("0") == 0.0
    assert seconds("1.5") == 1.5


def test_renamed_replaces_whole_option_names_only() -> None:
    flags = {"url": "URL", "queue_messages": "--queue", "panel_url": "--panel"}
    assert renamed("queue_messages is off; panel_url and url", flags) == (
        "--queue is off; --panel and URL"
    )
    assert renamed("my_queue_messages_x, curl", flags) == "my_queue_messages_x, curl"
    assert renamed("unchanged", {}) == "unchanged"
