"""``pterows connect`` in-process: options, messages, how it ends."""

from __future__ import annotations

import io
import sys

import pytest

from trio_pterows import (
    CloseEvent,
    ReconnectAttemptEvent,
)
from trio_pterows.cli._connect import Connect, connect_options
from trio_pterows.cli._main import build_parser

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


def test_connect_options_carry_the_queue_limit() -> None:
    args = build_parser().parse_args(
        ["connect", "ws://127.0.0.1:9/", "--queue", "--queue-limit", "5", "-H", "X-A: b"]
    )
    options = connect_options(args)
    assert options.message_queue_limit == 5
    assert options.queue_messages


def _connect(*extra: str) -> tuple[Connect, io.StringIO]:
    err = io.StringIO()
    args = build_parser().parse_args(["connect", "ws://127.0.0.1:9/x?token=hush", *extra])
    return Connect(args, io.StringIO(), err), err


def test_connect_reports_losses_and_how_it_ended() -> None:
    connect, err = _connect("--reconnect")
    lost = CloseEvent(type="close", timestamp=0, code=1006, reason="gone", was_clean=False)
    connect.on_close(lost)
    connect.on_reconnect_attempt(
        ReconnectAttemptEvent(type="reconnectAttempt", timestamp=0, attempt=4, url="u", delay=2)
    )
    assert connect.ended() == 1
    assert err.getvalue().splitlines() == [
        "pterows: connection lost: 1006 gone",
        "pterows: reconnecting in 2.00 s (attempt 4)",
        "pterows: gave up on ws://127.0.0.1:9/x?*** after 4 reconnect attempts",
    ]
    connect, err = _connect()
    assert connect.ended() == 1
    assert err.getvalue() == "pterows: connection to ws://127.0.0.1:9/x?*** lost\n"
    connect, err = _connect()
    bye = CloseEvent(type="close", timestamp=0, code=1001, reason="", was_clean=True)
    connect.on_close(bye)
    assert connect.ended() == 0
    assert err.getvalue() == "pterows: closed by the peer: 1001\n"
