"""Hostile opening handshakes: bad upgrades, huge refusals, slow or broken answers.

DESIGN §2 (revision 2): handshake refusals name their cause (a wrong
``Sec-WebSocket-Accept``, an unrequested subprotocol or extension, the HTTP status) in
``ConnectionFailed.attempts`` and the log; a refusal's body is read only up to a few KiB,
whatever its Content-Length. Untimed cases run over loopback TCP; timed ones in memory
under ``autojump_clock``.
"""

from __future__ import annotations

import logging
import re
import tracemalloc
from typing import Any

import pytest
import trio
import trio.testing

import trio_pterows as pw

from .hostile import HostileServer, Peer, leaked_tasks, task_tree

MIB = 1024 * 1024


def accepting(**accept: Any) -> Any:
    """A script: read the request, answer 101 with ``accept``'s changes, hold on."""

    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.accept(**accept)
        await peer.hold_open()

    return script


async def refused_over_tcp(
    nursery: trio.Nursery, script: Any, caplog: pytest.LogCaptureFixture, **options: Any
) -> tuple[BaseException, str]:
    """Connect once to a TCP peer running ``script``; returns the attempt's exception and
    the text of everything logged."""
    server = HostileServer(script)
    port = await nursery.start(server.serve_tcp)
    caplog.set_level(logging.DEBUG, logger="trio_pterows")
    baseline = task_tree()
    with trio.fail_after(20):
        async with pw.AdvancedWebSocket(
            url=f"ws://127.0.0.1:{port}/", heartbeat_interval=None, **options
        ) as ws:
            with pytest.raises(pw.ConnectionFailed) as info:
                await ws.connect()
            assert ws.state is pw.ConnectionState.CLOSED
    assert leaked_tasks(baseline) == []
    attempts = info.value.attempts
    assert len(attempts) == 1
    logged = "\n".join(record.getMessage() for record in caplog.records)
    return attempts[0][1], logged


def assert_names(error: BaseException, logged: str, *patterns: str) -> None:
    text = f"{type(error).__name__}: {error}"
    assert "LocalProtocolError" not in text
    assert "state=SEND_BODY" not in text
    for pattern in patterns:
        assert re.search(pattern, text, re.IGNORECASE), f"{pattern!r} not in {text!r}"
        assert re.search(pattern, logged, re.IGNORECASE), f"{pattern!r} not logged: {logged!r}"


async def test_a_wrong_accept_key_is_refused_by_name(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    error, logged = await refused_over_tcp(
        nursery, accepting(key="c2VjcmV0IGtleSBndWVzcw=="), caplog
    )
    assert_names(error, logged, r"Sec-WebSocket-Accept")


@pytest.mark.parametrize("asked", [None, ["chat", "superchat"]], ids=["none-asked", "others"])
async def test_an_unrequested_subprotocol_is_refused_by_name(
    asked: list[str] | None, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    error, logged = await refused_over_tcp(
        nursery, accepting(subprotocol="evil"), caplog, protocols=asked
    )
    assert_names(error, logged, r"subprotocol", r"evil")


async def test_an_unrequested_extension_is_refused_by_name(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    error, logged = await refused_over_tcp(
        nursery, accepting(extensions="permessage-deflate; server_no_context_takeover"), caplog
    )
    assert_names(error, logged, r"extension", r"permessage-deflate")


async def test_a_requested_subprotocol_is_accepted(nursery: trio.Nursery) -> None:
    """The control: the same peer answering with one of the offered subprotocols."""
    seen: list[list[str]] = []

    async def script(peer: Peer) -> None:
        request = await peer.read_request()
        seen.append(request.protocols)
        await peer.accept(subprotocol="superchat")
        await peer.close_when_asked()

    server = HostileServer(script)
    port = await nursery.start(server.serve_tcp)
    with trio.fail_after(20):
        async with pw.open_websocket(
            f"ws://127.0.0.1:{port}/", protocols=["chat", "superchat"], heartbeat_interval=None
        ) as ws:
            assert ws.connection is not None
            assert ws.connection.subprotocol == "superchat"
    assert seen == [["chat", "superchat"]]


@pytest.mark.parametrize("status", [400, 403, 503])
async def test_a_refusal_names_its_status(
    status: int, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.refuse(status, body_size=11)

    error, logged = await refused_over_tcp(nursery, script, caplog)
    assert_names(error, logged, str(status))


async def test_a_non_upgrade_answer_is_refused_by_name(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """A plain HTTP 200 (a web server, a captive portal): named by its status."""

    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await peer.hold_open()

    error, logged = await refused_over_tcp(nursery, script, caplog)
    assert_names(error, logged, "200")


@pytest.mark.parametrize(
    "answer",
    [b"SSH-2.0-OpenSSH_9.6\r\n\r\n", b"HTTP/1.1 101 Switching", b""],
    ids=["not-http", "cut-short", "nothing"],
)
async def test_a_broken_answer_fails_the_attempt(
    answer: bytes, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage, or a response cut short by the peer hanging up: the attempt fails (it
    does not hang, and it is not taken for a connection)."""

    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(answer)  # then the script ends: the peer hangs up

    await refused_over_tcp(nursery, script, caplog)


async def test_a_refusal_with_a_2gb_body_fails_fast_with_bounded_memory(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    """403 with ``Content-Length: 2000000000``, generated lazily, over a 16 KiB stream
    buffer: ``body_sent`` is at most 16 KiB (and a chunk) more than the client read.
    The peer gives up after 4 MiB, so a client that reads on cannot hang the test."""

    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.refuse(403, body_size=2_000_000_000, chunk=16384, stop_after=4 * MIB)
        await peer.hold_open()

    server = HostileServer(script, buffer=16384)
    await nursery.start(server.run)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        with trio.fail_after(60):
            async with pw.AdvancedWebSocket(
                url="ws://hostile.test/",
                heartbeat_interval=None,
                connection_timeout=10.0,
                stream_opener=server.open_stream,
            ) as ws:
                started = trio.current_time()
                with pytest.raises(pw.ConnectionFailed) as info:
                    await ws.connect()
                elapsed = trio.current_time() - started
        growth = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    (_, error), *_ = info.value.attempts
    assert "403" in str(error)
    assert elapsed < 1.0  # not connection_timeout: the status alone fails the attempt
    assert server.peers[0].body_sent <= 64 * 1024
    assert growth < MIB


async def test_a_handshake_that_trickles_is_bounded_by_connection_timeout(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    """A slowloris answer, one byte a second: the whole handshake is bounded, not each read."""
    server = HostileServer(accepting(trickle=1.0))
    await nursery.start(server.run)
    with trio.fail_after(60):
        async with pw.AdvancedWebSocket(
            url="ws://hostile.test/",
            heartbeat_interval=None,
            connection_timeout=5.0,
            stream_opener=server.open_stream,
        ) as ws:
            started = trio.current_time()
            with pytest.raises(pw.ConnectionFailed):
                await ws.connect()
            assert trio.current_time() - started == pytest.approx(5.0)
