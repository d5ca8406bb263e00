"""A hostile peer that breaks the protocol, or closes, and then keeps the stream open.

DESIGN §2 (revision 2), ``close_timeout``: after a protocol error (bad UTF-8, reserved
bits, a bad close code or payload, an impossible length, an oversized message) or either
side's close frame, the client closes its stream within ``close_timeout`` whether or not
the peer ever hangs up, the ``close`` event carries the protocol's code (1002 / 1007 /
1009) or the peer's, and ``auto_reconnect`` applies — heartbeat on or off. All in memory
under ``autojump_clock``: the times below are exact.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import trio_pterows as pw

from .hostile import (
    BINARY,
    CLOSE,
    TEXT,
    HostileServer,
    Peer,
    close_frame,
    frame,
    leaked_tasks,
    task_tree,
)

URL = "ws://hostile.test/ws"
MAX = 1000  # max_message_size for these tests
CLOSE_TIMEOUT = 2.0  # the option's default
EPSILON = 1e-9  # float rounding of trio times, nothing more (the clock is virtual)

#: What the peer sends on the first connection, and the close codes that may answer it.
PROTOCOL_ERRORS: dict[str, tuple[bytes, set[int]]] = {
    "invalid-utf8": (frame(TEXT, b"caf\xc3("), {1007}),
    "reserved-bits": (frame(TEXT, b"hi", rsv=4), {1002}),
    "close-code-1005": (close_frame(1005), {1002}),
    "close-code-999": (close_frame(999), {1002}),
    "close-code-5000": (close_frame(5000), {1002}),
    "close-1-byte-payload": (close_frame(payload=b"\x03"), {1002}),
    # RFC 6455 forbids the length's top bit (1002); an engine may see "too big" first (1009).
    "length-2**63": (frame(BINARY, length=2**63), {1002, 1009}),
    "oversized-message": (frame(TEXT, b"x" * (MAX + 1)), {1009}),
    "oversized-fragments": (
        frame(TEXT, b"x" * 600, fin=False) + frame(0, b"x" * 600),
        {1009},
    ),
}


def misbehaving_once(bad: bytes, sent_at: list[float], *, hang_up: bool = False) -> Any:
    """A script: the first connection gets ``bad`` and is then held open for ever (or,
    with ``hang_up``, closed once the client's close frame arrived: a peer that behaves,
    the control case); later connections are accepted and held open."""
    count = 0

    async def script(peer: Peer) -> None:
        nonlocal count
        count += 1
        await peer.read_request()
        await peer.accept()
        if count == 1:
            sent_at.append(trio.current_time())
            await peer.send(bad)
            if hang_up:
                await peer.wait_frame(CLOSE)
                return
        await peer.hold_open()

    return script


def peer_kinds() -> pytest.MarkDecorator:
    """``held_open`` (the hostile peer) and ``hangs_up`` (control)."""
    return pytest.mark.parametrize(
        "hang_up",
        [
            pytest.param(False, id="held-open"),
            pytest.param(True, id="hangs-up"),
        ],
    )


async def next_of(events: pw.Subscription, type_: str) -> Any:
    async for event in events:
        if event.type == type_:
            return event
    raise AssertionError(f"the subscription ended before a {type_} event")


async def collect(ws: pw.AdvancedWebSocket, into: list[Any]) -> None:
    async for message in ws:
        into.append(message)


def options(**changes: Any) -> pw.WSConnectionOptions:
    changes.setdefault("url", URL)
    changes.setdefault("auto_reconnect", True)
    changes.setdefault("reconnect_interval", 1.0)
    changes.setdefault("max_message_size", MAX)
    return pw.WSConnectionOptions(**changes)


async def check_closed_then_reconnected(
    server: HostileServer,
    opts: pw.WSConnectionOptions,
    sent_at: list[float],
    codes: set[int],
    close_timeout: float = CLOSE_TIMEOUT,
    hung_up: bool = False,
) -> None:
    """The client answers the first connection's trouble with a close frame carrying one
    of ``codes``, closes its stream within ``close_timeout`` (unless the peer ``hung_up``
    first), reports a close event with that code in time, reconnects, and leaves no task
    behind."""
    baseline = task_tree()
    with trio.fail_after(60):
        async with (
            pw.AdvancedWebSocket(opts, stream_opener=server.open_stream) as ws,
            ws.subscribe("close", "open") as events,
        ):
            await ws.connect()
            first = await server.wait_peer(0)
            assert sent_at, "the peer sent nothing"
            assert (await first.wait_frame(CLOSE)).close_code in codes
            if not hung_up:
                with trio.move_on_after(close_timeout + 10):
                    await first.wait_eof()
                assert first.eof_at is not None, "the client never closed its stream"
                assert first.eof_at - sent_at[0] <= close_timeout + EPSILON
            closed = await next_of(events, "close")
            assert closed.code in codes
            assert closed.timestamp - sent_at[0] <= close_timeout + EPSILON
            reopened = await next_of(events, "open")
            assert reopened.timestamp >= closed.timestamp
            assert ws.is_connected
            assert len(server.peers) == 2
    assert leaked_tasks(baseline) == []


@pytest.mark.parametrize("heartbeat", [None, 30.0], ids=["heartbeat-off", "heartbeat-on"])
@pytest.mark.parametrize("case", PROTOCOL_ERRORS)
async def test_a_protocol_error_closes_within_close_timeout_and_reconnects(
    case: str,
    heartbeat: float | None,
    autojump_clock: trio.testing.MockClock,
    nursery: trio.Nursery,
) -> None:
    bad, codes = PROTOCOL_ERRORS[case]
    sent_at: list[float] = []
    server = HostileServer(misbehaving_once(bad, sent_at))
    await nursery.start(server.run)
    await check_closed_then_reconnected(
        server, options(heartbeat_interval=heartbeat), sent_at, codes
    )


@peer_kinds()
@pytest.mark.parametrize("heartbeat", [None, 30.0], ids=["heartbeat-off", "heartbeat-on"])
@pytest.mark.parametrize("code", [1000, 1001, 4000])
async def test_a_valid_close_from_the_peer_is_bounded_and_reconnects(
    code: int,
    heartbeat: float | None,
    hang_up: bool,
    autojump_clock: trio.testing.MockClock,
    nursery: trio.Nursery,
) -> None:
    sent_at: list[float] = []
    server = HostileServer(misbehaving_once(close_frame(code, "bye"), sent_at, hang_up=hang_up))
    await nursery.start(server.run)
    await check_closed_then_reconnected(
        server, options(heartbeat_interval=heartbeat), sent_at, {code}, hung_up=hang_up
    )


async def test_close_timeout_is_an_option(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    sent_at: list[float] = []
    server = HostileServer(misbehaving_once(frame(TEXT, b"x", rsv=2), sent_at))
    await nursery.start(server.run)
    await check_closed_then_reconnected(
        server,
        options(heartbeat_interval=None, close_timeout=0.25),
        sent_at,
        {1002},
        close_timeout=0.25,
    )


def test_close_timeout_defaults_to_2s_and_is_validated() -> None:
    assert pw.WSConnectionOptions(url=URL).close_timeout == CLOSE_TIMEOUT
    with pytest.raises(ValueError, match="close_timeout"):
        pw.WSConnectionOptions(url=URL, close_timeout=-1)


async def test_our_close_is_bounded_when_the_peer_never_answers(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    """This side's close frame: the peer reads it, never answers, never hangs up."""

    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.accept()
        await peer.hold_open()

    server = HostileServer(script)
    await nursery.start(server.run)
    with trio.fail_after(60):
        async with (
            pw.AdvancedWebSocket(options(), stream_opener=server.open_stream) as ws,
            ws.subscribe("close") as events,
        ):
            await ws.connect()
            peer = await server.wait_peer()
            started = trio.current_time()
            await ws.close(4001, "done")
            assert trio.current_time() - started <= CLOSE_TIMEOUT + EPSILON
            assert peer.eof_at is not None
            assert peer.eof_at - started <= CLOSE_TIMEOUT + EPSILON
            assert (await peer.wait_frame(CLOSE)).close_code == 4001
            closed = await next_of(events, "close")
            assert (closed.code, closed.reason) == (4001, "done")
            assert ws.state is pw.ConnectionState.CLOSED
            assert len(server.peers) == 1  # close() stops auto_reconnect


@pytest.mark.parametrize(
    ("case", "code"),
    [("invalid-utf8", 1007), ("reserved-bits", 1002), ("oversized-message", 1009)],
)
async def test_without_auto_reconnect_iteration_raises_the_protocol_error(
    case: str, code: int, autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    """DESIGN §2, Ending: without auto_reconnect a protocol error ends ``async for`` with
    ``ConnectionLost`` carrying the code, after what was buffered before it."""
    sent_at: list[float] = []
    bad = frame(TEXT, b"before") + PROTOCOL_ERRORS[case][0]
    server = HostileServer(misbehaving_once(bad, sent_at))
    await nursery.start(server.run)
    got: list[Any] = []
    with trio.fail_after(60):
        async with pw.AdvancedWebSocket(
            options(auto_reconnect=False, heartbeat_interval=None),
            stream_opener=server.open_stream,
        ) as ws:
            await ws.connect()
            with pytest.raises(pw.ConnectionLost) as info:
                await collect(ws, got)
            assert trio.current_time() - sent_at[0] <= CLOSE_TIMEOUT + EPSILON
            assert ws.state is pw.ConnectionState.CLOSED
    assert got == ["before"]
    assert info.value.code == code
    assert info.value.fatal is False
    assert server.peers[0].eof_at is not None
    assert len(server.peers) == 1
