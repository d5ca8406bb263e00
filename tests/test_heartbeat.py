"""Heartbeats: both modes, latency statistics, timeouts, life signs, backpressure."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio
import trio.testing
import trio_websocket

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer

from .conftest import EventLog

MakeWS = Callable[..., pw.AdvancedWebSocket]


def slow_pong(delay: float) -> Callable[[trio_websocket.WebSocketConnection], object]:
    async def handler(conn: trio_websocket.WebSocketConnection) -> None:
        while True:
            message = await conn.get_message()
            if message == "ping":
                await trio.sleep(delay)
                await conn.send_message("pong")
            else:
                await conn.send_message(message)

    return handler


async def never_answers(conn: trio_websocket.WebSocketConnection) -> None:
    while True:
        await conn.get_message()


async def test_message_heartbeat_measures_latency(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    memory_server.handler = slow_pong(0.25)  # type: ignore[assignment]
    async with make_ws(
        heartbeat_interval=10.0, heartbeat_timeout=3.0, heartbeat_mode="message"
    ) as ws:
        log = EventLog(ws, "ping", "pong")
        await ws.connect()
        start = trio.current_time()
        await trio.sleep(35)
        metrics = ws.get_metrics()
    assert [t - start for t in log.times("ping")] == pytest.approx([10, 20, 30])
    assert [e.latency for e in log.of("pong")] == pytest.approx([0.25] * 3)
    assert metrics.last_latency == pytest.approx(0.25)
    assert metrics.latency is not None
    assert metrics.latency.count == 3
    assert metrics.latency.p50 == pytest.approx(0.25)
    # heartbeats are not user messages
    assert metrics.messages_sent == 0
    assert metrics.messages_received == 0


async def test_pong_never_reaches_the_message_stream(
    autojump_clock: trio.testing.MockClock, make_ws: MakeWS
) -> None:
    async with make_ws(heartbeat_interval=1.0) as ws:
        seen: list[object] = []
        ws.add_event_listener("message", lambda e: seen.append(e.data))
        await ws.connect()
        await trio.sleep(3.5)
        await ws.send("user")
        assert await ws.receive() == "user"
        assert ws.get_metrics().latency is not None
    assert seen == ["user"]


async def test_silent_peer_is_abandoned_at_once(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    memory_server.handler = never_answers
    async with make_ws(
        heartbeat_interval=10.0, heartbeat_timeout=3.0, heartbeat_mode="message"
    ) as ws:
        log = EventLog(ws, "ping", "close")
        await ws.connect()
        start = trio.current_time()
        with pytest.raises(pw.ConnectionLost) as info:  # lost, no auto_reconnect: raised
            _ = [m async for m in ws]
        assert info.value.code == 1006
        ended = trio.current_time() - start
    assert ended == pytest.approx(13.0, abs=0.01)  # ping at 10 + 3 s of silence, no close wait
    (close,) = log.of("close")
    assert close.code == 1006
    assert "heartbeat timeout" in close.reason
    assert close.was_clean is False


async def test_half_open_link_is_detected_and_reconnected(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(
        heartbeat_interval=5.0, heartbeat_timeout=2.0, auto_reconnect=True, reconnect_interval=1.0
    ) as ws:
        await ws.connect()
        memory_server.blackholed = True
        await trio.sleep(7.5)  # ping at 5, dead at 7
        assert ws.state is pw.ConnectionState.RECONNECTING
        memory_server.blackholed = False
        await trio.sleep(2)
        assert ws.is_connected
        await ws.send("alive")
        assert await ws.receive() == "alive"


async def test_protocol_heartbeat_uses_ping_frames(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    memory_server.handler = never_answers  # never sends a message; its reader still pongs
    async with make_ws(
        heartbeat_mode="protocol", heartbeat_interval=2.0, heartbeat_timeout=1.0
    ) as ws:
        log = EventLog(ws, "pong", "close")
        await ws.connect()
        await trio.sleep(9)
        assert ws.is_connected
    assert len(log.of("pong")) == 4
    assert ws.get_metrics().latency is not None


async def test_protocol_heartbeat_detects_a_silent_peer(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(
        heartbeat_mode="protocol", heartbeat_interval=2.0, heartbeat_timeout=1.0
    ) as ws:
        log = EventLog(ws, "close")
        await ws.connect()
        memory_server.blackholed = True
        start = trio.current_time()
        with pytest.raises(pw.ConnectionLost, match="heartbeat timeout"):
            _ = [m async for m in ws]
        assert trio.current_time() - start == pytest.approx(3.0, abs=0.01)
    assert log.of("close")[0].code == 1006


async def test_any_inbound_message_counts_as_life(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async def chatty_but_no_pong(conn: trio_websocket.WebSocketConnection) -> None:
        while True:
            await conn.send_message("tick")
            await trio.sleep(2)

    memory_server.handler = chatty_but_no_pong
    async with make_ws(heartbeat_interval=5.0, heartbeat_timeout=3.0) as ws:
        log = EventLog(ws, "close")
        await ws.connect()
        await trio.sleep(60)
        assert ws.is_connected
    assert [e.code for e in log.of("close")] == [1000]  # only our own close at the end


async def test_consumer_backpressure_never_counts_as_silence(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async def burst(conn: trio_websocket.WebSocketConnection) -> None:
        for i in range(10):
            await conn.send_message(str(i))
        await never_answers(conn)  # and then silence: no pongs either

    memory_server.handler = burst
    async with make_ws(
        heartbeat_interval=1.0,
        heartbeat_timeout=1.0,
        heartbeat_mode="message",  # the silent peer's reader would answer ping frames
        incoming_queue_limit=2,
        incoming_overflow="block",
    ) as ws:
        log = EventLog(ws, "close")
        await ws.connect()
        await trio.sleep(30)  # the consumer is busy; the reader is blocked on it
        assert ws.is_connected
        assert log.of("close") == []
        received = [await ws.receive() for _ in range(10)]
        assert received == [str(i) for i in range(10)]
        assert ws.get_metrics().dropped == 0
        await trio.sleep(5)  # now the peer's silence is real
        assert not ws.is_connected


async def test_heartbeat_settings_apply_at_once(
    autojump_clock: trio.testing.MockClock, make_ws: MakeWS
) -> None:
    async with make_ws(heartbeat_interval=100.0) as ws:
        log = EventLog(ws, "ping")
        await ws.connect()
        start = trio.current_time()
        await trio.sleep(1)
        ws.update_options(heartbeat_interval=2.0)
        await trio.sleep(4.5)
        ws.update_options(heartbeat_interval=None)
        await trio.sleep(50)
    assert [t - start for t in log.times("ping")] == pytest.approx([2, 4])


async def test_json_heartbeat_objects(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async def json_pong(conn: trio_websocket.WebSocketConnection) -> None:
        while True:
            message = await conn.get_message()
            if message == '{"type":"ping"}':
                await conn.send_message('{"type": "pong"}')

    memory_server.handler = json_pong
    async with make_ws(
        auto_json=True,
        heartbeat_interval=1.0,
        heartbeat_message={"type": "ping"},
        expected_pong_message={"type": "pong"},
    ) as ws:
        log = EventLog(ws, "pong", "message")
        await ws.connect()
        await trio.sleep(3.5)
    assert len(log.of("pong")) == 3
    assert log.of("message") == []
