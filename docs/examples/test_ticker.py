"""How-to: test an application with trio_pterows.testing, pytest and pytest-trio.

Every test runs on ``autojump_clock``: the in-memory server moves no real bytes, so
virtual time may jump straight to the next deadline and minutes of backoff take no time.
"""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing
import trio_websocket
from ticker import next_price, ticker

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer


class FakeExchange:
    """The server side: counts subscriptions and answers each with a price."""

    def __init__(self) -> None:
        self.subscriptions = 0

    async def handler(self, conn: trio_websocket.WebSocketConnection) -> None:
        while True:
            message = json.loads(await conn.get_message())
            if message == {"subscribe": "prices"}:
                self.subscriptions += 1
                await conn.send_message(json.dumps({"price": 100 + self.subscriptions}))


@pytest.fixture
async def exchange(nursery: trio.Nursery) -> tuple[FakeExchange, MemoryWebSocketServer]:
    fake = FakeExchange()
    server = MemoryWebSocketServer(fake.handler)
    await nursery.start(server.run)
    return fake, server


async def test_resubscribes_after_the_peer_vanishes(
    autojump_clock: trio.testing.MockClock,
    exchange: tuple[FakeExchange, MemoryWebSocketServer],
) -> None:
    fake, server = exchange
    with trio.fail_after(60):
        async with ticker("ws://memory/prices", stream_opener=server.open_stream) as ws:
            await ws.connect()
            assert await next_price(ws) == 101
            await server.vanish()  # no close frame: the peer is simply gone
            assert await next_price(ws) == 102  # reconnected, subscribed again
    assert server.accepted == 2
    assert fake.subscriptions == 2


async def test_gives_up_after_max_reconnect_attempts(
    autojump_clock: trio.testing.MockClock,
    exchange: tuple[FakeExchange, MemoryWebSocketServer],
) -> None:
    _, server = exchange
    server.refuse = 0  # every connection attempt is refused
    start = trio.current_time()
    with trio.fail_after(60):
        async with ticker(
            "ws://memory/prices",
            stream_opener=server.open_stream,
            reconnect_interval=1.0,
            max_reconnect_attempts=3,
        ) as ws:
            with pytest.raises(pw.ConnectionFailed) as info:
                await ws.connect()
    assert len(info.value.attempts) == 4  # the first attempt and 3 retries
    assert trio.current_time() - start == pytest.approx(1 + 2 + 4)  # virtual seconds


async def test_a_half_open_link_is_dropped_after_the_heartbeat_timeout(
    autojump_clock: trio.testing.MockClock,
    exchange: tuple[FakeExchange, MemoryWebSocketServer],
) -> None:
    _, server = exchange
    with trio.fail_after(60):
        async with (
            ticker(
                "ws://memory/prices",
                stream_opener=server.open_stream,
                heartbeat_interval=10,
                heartbeat_timeout=5,
            ) as ws,
            ws.subscribe("close") as closes,
        ):
            await ws.connect()
            opened = trio.current_time()
            server.blackholed = True  # bytes vanish both ways
            close = await closes.receive()
    assert close.code == 1006
    assert not close.was_clean
    assert close.timestamp - opened == pytest.approx(10 + 5)  # the ping, then the timeout
