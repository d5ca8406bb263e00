"""receive() / ``async for`` take buffered messages in bounded batches (RECEIVE_BATCH):
every call is a cancel point, and a schedule point at least every 64 messages.

docs/topics/cancellation.rst ("Cancel points and schedule points") promises both. In
memory, on the autojump clock; runs on both transports (``--transport``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import trio
import trio_websocket
from trio.testing import MockClock

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer

from .conftest import MEMORY_URL

COUNT = 200


async def _flood(conn: trio_websocket.WebSocketConnection) -> None:
    for i in range(COUNT):
        await conn.send_message(str(i))
    await trio.sleep_forever()


@contextlib.asynccontextmanager
async def buffered_manager(nursery: trio.Nursery) -> AsyncIterator[pw.AdvancedWebSocket]:
    """A manager whose incoming buffer holds all COUNT messages (nobody read them)."""
    server = MemoryWebSocketServer(_flood)
    await nursery.start(server.run)
    options = pw.WSConnectionOptions(url=MEMORY_URL, heartbeat_interval=None)
    async with pw.AdvancedWebSocket(options, stream_opener=server.open_stream) as ws:
        arrived = trio.Event()

        def count(_: object) -> None:
            if ws.get_metrics().messages_received == COUNT:
                arrived.set()

        ws.add_event_listener("message", count)
        await ws.connect()
        await arrived.wait()
        assert ws.statistics().incoming_buffered == COUNT
        yield ws


async def test_receive_is_a_cancel_point_even_with_messages_buffered(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    with trio.fail_after(10):
        async with buffered_manager(nursery) as ws:
            received = []
            with trio.CancelScope() as scope:
                scope.cancel()
                received.append(await ws.receive())
            assert scope.cancelled_caught
            assert received == []
            assert await ws.receive() == "0"  # nothing was lost


async def test_a_draining_consumer_lets_others_run_every_64_messages(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    with trio.fail_after(10):
        async with buffered_manager(nursery) as ws:
            turns = 0

            async def other() -> None:
                nonlocal turns
                while True:
                    turns += 1
                    await trio.lowlevel.checkpoint()

            nursery.start_soon(other)
            await trio.lowlevel.checkpoint()  # let it start
            before = turns
            got = [await ws.receive() for _ in range(COUNT)]
            assert got == [str(i) for i in range(COUNT)]
            others = turns - before
            # 200 messages: schedule points at the 65th, 130th and 195th call. The other
            # task runs once at each (trio may run it after our last read of `turns`
            # in the batch of the last one: hence - 1); and not at every message, as
            # it would without the batching (~200).
            assert COUNT // 65 - 1 <= others <= COUNT // 16
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("iterate", [True, False], ids=["async-for", "receive"])
async def test_batching_keeps_order_and_ends_cleanly(
    nursery: trio.Nursery, autojump_clock: MockClock, iterate: bool
) -> None:
    got: list[object] = []
    with trio.fail_after(10):
        async with buffered_manager(nursery) as ws:
            if iterate:
                async for message in ws:
                    got.append(message)
                    if len(got) == COUNT:
                        await ws.close()
            else:
                got = [await ws.receive() for _ in range(COUNT)]
                await ws.close()
                with pytest.raises(trio.EndOfChannel):
                    await ws.receive()
    assert got == [str(i) for i in range(COUNT)]
