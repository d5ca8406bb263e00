"""Smaller behaviours of AdvancedWebSocket that users rely on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer

from .conftest import EventLog

MakeWS = Callable[..., pw.AdvancedWebSocket]


async def test_entering_twice_is_refused(make_ws: MakeWS) -> None:
    ws = make_ws()
    async with ws:
        with pytest.raises(RuntimeError, match="only once"):
            await ws.__aenter__()
    with pytest.raises(RuntimeError, match="only once"):
        await ws.__aenter__()


async def test_close_validates_its_code_and_is_a_no_op_when_closed(make_ws: MakeWS) -> None:
    async with make_ws() as ws:
        with pytest.raises(ValueError, match="1006"):
            await ws.close(1006)
        await ws.close()  # nothing to close
        assert ws.get_connection_state() is pw.ConnectionState.CLOSED


async def test_a_raising_on_before_reconnect_is_reported_and_reconnects(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    def hook(attempt: int, event: Any) -> bool:
        raise RuntimeError("hook bug")

    async with make_ws(auto_reconnect=True, reconnect_interval=1, on_before_reconnect=hook) as ws:
        log = EventLog(ws, "error")
        await ws.connect()
        await memory_server.vanish()
        await trio.sleep(2)
        assert ws.is_connected
    assert [e.context for e in log.of("error")] == ["on_before_reconnect"]


async def test_an_unencodable_heartbeat_is_reported(
    autojump_clock: trio.testing.MockClock, make_ws: MakeWS
) -> None:
    async with make_ws(
        heartbeat_interval=1.0, heartbeat_mode="message", heartbeat_message={"bad": object()}
    ) as ws:
        log = EventLog(ws, "error")
        await ws.connect()
        await trio.sleep(2.5)
        assert ws.is_connected
    assert {e.context for e in log.of("error")} == {"heartbeat"}


async def test_urgent_send_needs_a_connection(make_ws: MakeWS) -> None:
    async with make_ws(queue_messages=True) as ws:
        with pytest.raises(pw.NotConnected, match="urgent"):
            await ws.send("x", urgent=True)
        assert ws.get_metrics().queued == 0
        await ws.send("queued")
        await ws.connect()
        await ws.send("urgent", urgent=True)
        assert {await ws.receive(), await ws.receive()} == {"queued", "urgent"}


async def test_bytes_like_objects_are_sent_as_binary(make_ws: MakeWS) -> None:
    with trio.fail_after(5):
        async with make_ws(on_before_send=lambda m: m) as ws:
            await ws.connect()
            await ws.send(bytearray(b"ab"))
            await ws.send(memoryview(b"cd"))
            assert [await ws.receive(), await ws.receive()] == [b"ab", b"cd"]


async def test_queued_items_dropped_or_failing_after_send_at_flush(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    def after(message: Any) -> None:
        if message == "b":
            raise ValueError("after-send bug")

    with trio.fail_after(5):
        async with make_ws(
            queue_messages=True,
            outgoing_message_interceptors=[lambda m: pw.DROP if m == "drop" else m],
            on_after_send=after,
        ) as ws:
            log = EventLog(ws, "error")
            for message in ["a", "drop", "b", "c"]:
                await ws.send(message)
            await ws.connect()
            await ws.wait_flushed()
            assert [await ws.receive() for _ in range(3)] == ["a", "b", "c"]
    assert [e.context for e in log.of("error")] == ["on_after_send"]


async def test_wait_flushed_returns_when_cleared(make_ws: MakeWS) -> None:
    with trio.fail_after(5):
        async with make_ws(queue_messages=True) as ws, trio.open_nursery() as nursery:
            await ws.wait_flushed()  # nothing queued: at once
            await ws.send("x")
            done = trio.Event()

            async def wait() -> None:
                await ws.wait_flushed()
                done.set()

            nursery.start_soon(wait)
            await trio.testing.wait_all_tasks_blocked()
            assert not done.is_set()
            assert ws.clear_message_queue() == 1
            await done.wait()


async def test_a_message_whose_equality_raises_is_not_a_pong(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    class Weird:
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no comparisons")

        __hash__ = object.__hash__

    with trio.fail_after(5):
        async with make_ws(
            heartbeat_interval=60, incoming_message_interceptors=[lambda m: Weird()]
        ) as ws:
            await ws.connect()
            await ws.send("x")
            assert isinstance(await ws.receive(), Weird)


async def test_open_websocket_with_options_and_overrides(
    memory_server: MemoryWebSocketServer,
) -> None:
    options = pw.WSConnectionOptions(url="ws://memory.test/a", heartbeat_interval=None)
    with trio.fail_after(5):
        async with pw.open_websocket(
            "ws://memory.test/b", options=options, stream_opener=memory_server.open_stream
        ) as ws:
            assert ws.options.url == "ws://memory.test/b"
    with pytest.raises(TypeError, match="url"):
        pw.open_websocket()


async def test_update_options_can_swap_the_logger(
    make_ws: MakeWS, caplog: pytest.LogCaptureFixture
) -> None:
    lines: list[tuple[Any, ...]] = []
    with trio.fail_after(5):
        async with make_ws() as ws:
            ws.update_options(logger=lambda *args: lines.append(args))
            await ws.connect()
            ws.update_options(logger=logging.getLogger("custom"))
    assert lines
    assert lines[0][0] == "info"


async def test_destroy_is_aclose(make_ws: MakeWS) -> None:
    async with make_ws() as ws:
        await ws.connect()
        await ws.destroy()
        with pytest.raises(pw.Destroyed):
            await ws.send("x")
        with pytest.raises(pw.Destroyed):
            await ws.manual_reconnect()
