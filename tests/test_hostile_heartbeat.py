"""A peer that stops reading while a large send() is blocked on it.

DESIGN §2 (revision 2), heartbeat: the timeout runs from the moment the ping was due,
whether or not it could be written, so a peer that stopped reading (our write blocked on
a full socket) is detected like one that stopped answering. A 64 KiB stream buffer (a
socket's) makes the client's write block once the peer stops reading; ``autojump_clock`` makes
the times exact.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import trio_pterows as pw

from .hostile import BINARY, HostileServer, Peer, leaked_tasks, task_tree

MIB = 1024 * 1024
INTERVAL, TIMEOUT = 10.0, 5.0


async def next_of(events: pw.Subscription, type_: str) -> Any:
    async for event in events:
        if event.type == type_:
            return event
    raise AssertionError(f"the subscription ended before a {type_} event")


@pytest.mark.parametrize(
    "reading",
    [
        pytest.param(False, id="stops-reading"),
        pytest.param(True, id="reads-but-never-answers"),  # the control: detected today
    ],
)
@pytest.mark.parametrize("mode", ["protocol", "message"])
async def test_a_peer_that_stops_reading_is_detected_by_the_heartbeat(
    mode: str, reading: bool, autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    async def script(peer: Peer) -> None:
        await peer.read_request()
        first = len(server.peers) == 1
        # The first connection never answers a heartbeat and (unless ``reading``) never
        # reads a byte after the handshake; later ones read.
        peer.auto_pong = not first
        await peer.accept(read=reading or not first)
        await peer.hold_open()

    server = HostileServer(script, buffer=65536)
    await nursery.start(server.run)
    baseline = task_tree()
    with trio.fail_after(120):
        async with (
            pw.AdvancedWebSocket(
                url="ws://hostile.test/",
                heartbeat_mode=mode,
                heartbeat_interval=INTERVAL,
                heartbeat_timeout=TIMEOUT,
                auto_reconnect=True,
                reconnect_interval=1.0,
                queue_messages=True,
                stream_opener=server.open_stream,
            ) as ws,
            ws.subscribe("open", "close") as events,
        ):
            await ws.connect()
            opened = await next_of(events, "open")
            async with trio.open_nursery() as senders:
                senders.start_soon(ws.send, b"x" * MIB)  # blocks: nobody reads it
                closed = await next_of(events, "close")
                # The ping was due at INTERVAL; TIMEOUT later the peer is given up.
                assert closed.timestamp - opened.timestamp <= INTERVAL + TIMEOUT + 0.1
                assert closed.code == 1006
                await next_of(events, "open")
                # Nothing is lost: the blocked message goes out on the new connection.
                receiver = server.peers[0] if reading else await server.wait_peer(1)
                delivered = await receiver.wait_message(BINARY)
                assert len(delivered.payload) == MIB
    assert leaked_tasks(baseline) == []
