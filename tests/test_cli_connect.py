"""``pterows connect`` in-process: options, messages, how it ends."""

from __future__ import annotations

import argparse
import io
import sys

import pytest
import trio

from trio_pterows import (
    AdvancedWebSocket,
    CloseEvent,
    ConnectionFailed,
    ErrorEvent,
    OpenEvent,
    ReconnectAttemptEvent,
    WSConnectionOptions,
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


# ------------------------------------------------------------------ messages (issue 12)


def _ws(*extra: str) -> tuple[Connect, io.StringIO, AdvancedWebSocket]:
    connect, err = _connect(*extra)
    return connect, err, AdvancedWebSocket(connect_options(connect.args))


async def test_a_line_that_cannot_be_sent_names_the_flag_not_the_option() -> None:
    connect, err, ws = _ws()
    with trio.fail_after(5):
        async with ws:  # entered, never connected, no --queue
            await connect.send_line(ws, "hello", 1)
    text = err.getvalue()
    assert text.startswith("pterows: not sent: ")
    assert "--queue is off" in text
    assert "queue_messages" not in text


async def test_lines_typed_while_disconnected_say_they_are_queued_once_per_disconnect() -> None:
    connect, err, ws = _ws("--queue")
    with trio.fail_after(5):
        async with ws:
            await connect.send_line(ws, "one", 1)
            await connect.send_line(ws, "two", 2)
            connect.on_open(OpenEvent(type="open", timestamp=0, url="ws://x/"))  # a reconnect
            await connect.send_line(ws, "three", 3)  # not connected again: said again
            assert ws.get_metrics().queued == 3
    notice = "pterows: not connected: input lines are queued until the connection is back"
    assert err.getvalue().splitlines() == [notice, "pterows: connected to ws://x/", notice]


async def test_json_refuses_a_line_that_is_not_json() -> None:
    connect, err, ws = _ws("--json", "--queue")
    with trio.fail_after(5):
        async with ws:
            await connect.send_line(ws, "not json", 7)
            assert ws.get_metrics().queued == 0  # not sent, not queued
            await connect.send_line(ws, '{"ok": true}', 8)
            assert ws.get_metrics().queued == 1
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("pterows: line 7 not sent: --json takes one JSON value per line (")
    assert len(lines) == 2  # and the queue notice for line 8


def test_giving_up_says_why_without_verbose() -> None:
    connect, err = _connect("--reconnect")
    connect.on_reconnect_attempt(
        ReconnectAttemptEvent(type="reconnectAttempt", timestamp=0, attempt=3, url="u", delay=1)
    )
    refused = ConnectionRefusedError(111, "Connection refused")
    connect.on_error(ErrorEvent(type="error", timestamp=0, error=ValueError("x"), context="flush"))
    connect.on_error(ErrorEvent(type="error", timestamp=0, error=refused, context="connect"))
    assert connect.ended() == 1
    assert err.getvalue().splitlines()[-1] == (
        "pterows: gave up on ws://127.0.0.1:9/x?*** after 3 reconnect attempts: "
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )


def test_giving_up_prefers_the_reason_the_iteration_raised() -> None:
    connect, err = _connect("--reconnect")
    connect.attempts = 2
    connect.ending = ConnectionFailed("gave up", [("ws://a", TimeoutError("handshake timed out"))])
    assert connect.ended() == 1
    assert (
        err.getvalue()
        .rstrip()
        .endswith("after 2 reconnect attempts: TimeoutError: handshake timed out")
    )


def test_max_retries_help_describes_the_real_counter() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = " ".join(sub.choices["connect"].format_help().split())
    reset = WSConnectionOptions(url="ws://x/").reconnect_reset_after
    assert f"the count starts again only after a connection stayed up for {reset:g} s" in text
    assert "in a row" not in text
