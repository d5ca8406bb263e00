"""The inbound path (trio_pterows/_receive.py): decoding, incoming interceptors, the
pong check, response waiters (send_and_wait_response), oversized messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer

from .conftest import EventLog

MakeWS = Callable[..., pw.AdvancedWebSocket]


async def test_incoming_interceptors_transform_drop_and_fail_safely(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    def upper(message: Any) -> Any:
        if message == "explode":
            raise RuntimeError("interceptor bug")
        if message == "ignore":
            return pw.DROP
        return message.upper() if isinstance(message, str) else message

    async def tag(message: Any) -> Any:
        return f"<{message}>"

    with trio.fail_after(5):
        async with make_ws(incoming_message_interceptors=[upper, tag]) as ws:
            log = EventLog(ws, "error")
            await ws.connect()
            for message in ["a", "explode", "ignore", "b"]:
                await ws.send(message)
            assert await ws.receive() == "<A>"
            assert await ws.receive() == "<B>"
            assert ws.is_connected
            assert ws.get_metrics().messages_received == 2
    (error,) = log.of("error")
    assert error.context == "incoming_interceptor"
    assert str(error.error) == "interceptor bug"


async def test_interceptors_see_decoded_objects(make_ws: MakeWS) -> None:
    seen: list[Any] = []

    def spy(message: Any) -> Any:
        seen.append(message)
        return message

    with trio.fail_after(5):
        async with make_ws(
            auto_json=True,
            outgoing_message_interceptors=[spy],
            incoming_message_interceptors=[spy],
        ) as ws:
            await ws.connect()
            await ws.send({"k": [1]})
            await ws.receive()
    assert seen == [{"k": [1]}, {"k": [1]}]


async def test_sync_listener_returning_a_coroutine_is_reported(make_ws: MakeWS) -> None:
    async def coro() -> None:
        raise AssertionError("never awaited, never run")

    with trio.fail_after(5):
        async with make_ws() as ws:
            log = EventLog(ws, "error")
            ws.add_event_listener("message", lambda e: coro())
            await ws.connect()
            await ws.send("x")
            await ws.receive()
    (error,) = log.of("error")
    assert "async def" in str(error.error)


# ------------------------------------------------------------- request/response


async def test_send_and_wait_response_matches(make_ws: MakeWS) -> None:
    with trio.fail_after(5):
        async with make_ws(auto_json=True) as ws:
            await ws.connect()
            reply = await ws.send_and_wait_response(
                {"action": "ping", "id": 7},
                lambda m: isinstance(m, dict) and m.get("id") == 7,
            )
            assert reply == {"action": "ping", "id": 7}
            assert await ws.receive() == reply  # also delivered to the stream


async def test_a_fast_reply_is_not_missed(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    with trio.fail_after(5):
        async with make_ws() as ws:
            await ws.connect()
            for i in range(20):
                reply = await ws.send_and_wait_response(str(i), lambda m, i=i: m == str(i))
                assert reply == str(i)


async def test_send_and_wait_response_times_out(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws() as ws:
        await ws.connect()
        start = trio.current_time()
        with pytest.raises(pw.ResponseTimeout):
            await ws.send_and_wait_response("x", lambda m: m == "never", timeout=2.5)
        assert trio.current_time() - start == pytest.approx(2.5)
        assert ws.statistics().response_waiters == 0


async def test_send_and_wait_response_fails_at_once_when_the_link_drops(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async def silent(conn: trio_websocket.WebSocketConnection) -> None:
        await conn.get_message()
        await trio.sleep(1)
        raise trio_websocket.ConnectionClosed(None)  # type: ignore[arg-type]

    memory_server.handler = silent
    async with make_ws(auto_reconnect=True) as ws:
        await ws.connect()
        start = trio.current_time()
        with pytest.raises(pw.ConnectionLost):
            await ws.send_and_wait_response("x", lambda m: False, timeout=60)
        assert trio.current_time() - start == pytest.approx(1.0, abs=0.01)


async def test_predicate_errors_reach_the_caller(make_ws: MakeWS) -> None:
    with trio.fail_after(5):
        async with make_ws() as ws:
            await ws.connect()
            with pytest.raises(ZeroDivisionError):
                await ws.send_and_wait_response("x", lambda m: 1 / 0)
            with pytest.raises(TypeError, match="predicate"):
                await ws.send_and_wait_response("x", "not callable")  # type: ignore[arg-type]
            assert ws.is_connected


async def test_send_and_wait_response_while_queued_waits_for_the_reconnect(
    autojump_clock: trio.testing.MockClock, make_ws: MakeWS
) -> None:
    async with make_ws(queue_messages=True) as ws, trio.open_nursery() as nursery:
        result: list[Any] = []

        async def ask() -> None:
            result.append(await ws.send_and_wait_response("q", lambda m: m == "q", timeout=10))

        nursery.start_soon(ask)
        await trio.sleep(3)
        await ws.connect()
        await trio.sleep(1)
    assert result == ["q"]


async def test_a_waiter_made_during_a_handshake_survives_its_refusal(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    """Armed only once a handshake completed: a response waiter created while a
    reconnect's handshake runs, which the server then refuses (HTTP 503), is not failed;
    it gets its reply on the next connection."""
    result: list[Any] = []
    opened = 0
    third = trio.Event()

    async def ask(ws: pw.AdvancedWebSocket) -> None:
        result.append(await ws.send_and_wait_response("q", lambda m: m == "q", timeout=30))

    async with trio.open_nursery() as nursery:

        async def opener(url: str) -> trio.abc.Stream:
            nonlocal opened
            opened += 1
            if opened == 2:  # the first reconnect: its handshake is about to run
                memory_server.refuse = 503
                nursery.start_soon(ask, ws)
                await trio.testing.wait_all_tasks_blocked()
            elif opened == 3:
                memory_server.refuse = None
                third.set()
            return await memory_server.open_stream(url)

        ws = pw.AdvancedWebSocket(
            url="ws://memory.test/",
            heartbeat_interval=None,
            queue_messages=True,
            auto_reconnect=True,
            reconnect_strategy="fixed",
            stream_opener=opener,
        )
        with trio.fail_after(60):
            async with ws:
                await ws.connect()
                await memory_server.vanish()
                await third.wait()
                await ws.wait_state(pw.ConnectionState.OPEN)
                await trio.testing.wait_all_tasks_blocked()
    assert result == ["q"]


async def test_oversized_message_closes_with_1009_then_reconnects(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(max_message_size=1000, auto_reconnect=True, reconnect_interval=1) as ws:
        log = EventLog(ws, "close", "open")
        await ws.connect()
        await ws.send("x" * 2000)  # echoed back: too big for us
        await trio.sleep(2)
        assert ws.is_connected
        await ws.send("small")
        assert await ws.receive() == "small"
    assert log.of("close")[0].code == 1009
    assert len(log.of("open")) == 2
