"""Basic behaviour of AdvancedWebSocket: connect, send, receive, events, lifecycle."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import pytest
import trio

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer

from .conftest import EventLog, task_tree

MakeWS = Callable[..., pw.AdvancedWebSocket]


async def test_round_trip_over_loopback(echo_url: str) -> None:
    with trio.fail_after(10):
        async with pw.open_websocket(echo_url, heartbeat_interval=None) as ws:
            assert ws.is_connected
            assert ws.state is pw.ConnectionState.OPEN
            await ws.send("hello")
            await ws.send(b"\x00\x01")
            assert await ws.receive() == "hello"
            assert await ws.receive() == b"\x00\x01"
            metrics = ws.get_metrics()
            assert metrics.messages_sent == 2
            assert metrics.messages_received == 2
            assert metrics.current_url == echo_url
            assert metrics.connected_since is not None
        assert ws.state is pw.ConnectionState.CLOSED


async def test_connect_returns_a_connection_handle(echo_url: str, transport: str) -> None:
    with trio.fail_after(10):
        async with pw.AdvancedWebSocket(url=echo_url, heartbeat_interval=None) as ws:
            assert ws.state is pw.ConnectionState.CLOSED
            assert ws.connection is None
            before = trio.current_time()
            conn = await ws.connect()
            assert isinstance(conn, pw.Connection)
            assert await ws.connect() == conn  # idempotent while open
            assert ws.connection == conn
            assert conn.url == echo_url
            assert conn.transport == transport  # --transport: the suite runs on both
            assert conn.subprotocol is None
            assert conn.extensions == ()
            assert conn.remote_address is not None
            assert conn.remote_address[:2] == (
                "127.0.0.1",
                int(echo_url.split(":")[2].split("/")[0]),
            )
            assert conn.local_address is not None
            assert before <= conn.opened_at <= trio.current_time()
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                conn.url = "ws://elsewhere/"  # type: ignore[misc]
            await ws.close()
            assert ws.connection is None


async def test_the_connection_handle_redacts_the_url(echo_url: str) -> None:
    url = echo_url.replace("ws://", "ws://user:secret@") + "?token=abc"
    with trio.fail_after(10):
        async with pw.open_websocket(url, heartbeat_interval=None) as ws:
            conn = ws.connection
            assert conn is not None
            assert "secret" not in conn.url
            assert "abc" not in conn.url
            assert "secret" not in repr(conn)


async def test_auto_json_both_ways(echo_url: str) -> None:
    with trio.fail_after(10):
        async with pw.open_websocket(echo_url, auto_json=True, heartbeat_interval=None) as ws:
            await ws.send({"action": "x", "n": [1, 2]})
            assert await ws.receive() == {"action": "x", "n": [1, 2]}
            await ws.send("{not json")  # a str is sent as is
            assert await ws.receive() == "{not json"  # malformed JSON stays text
            await ws.send("[1, 2]")
            assert await ws.receive() == [1, 2]


async def test_without_auto_json_objects_are_a_type_error(make_ws: MakeWS) -> None:
    with trio.fail_after(5):
        async with make_ws() as ws:
            await ws.connect()
            with pytest.raises(TypeError, match="auto_json"):
                await ws.send({"a": 1})
            await ws.send("still alive")
            assert await ws.receive() == "still alive"


async def test_non_serialisable_object_is_a_type_error(make_ws: MakeWS) -> None:
    with trio.fail_after(5):
        async with make_ws(auto_json=True, queue_messages=True) as ws:
            await ws.connect()
            with pytest.raises(TypeError, match="object"):
                await ws.send({"a": object()})
            assert ws.get_metrics().queued == 0  # not queued either
            await ws.send({"ok": True})
            assert await ws.receive() == {"ok": True}


async def test_send_when_closed_without_queue(make_ws: MakeWS) -> None:
    async with make_ws() as ws:
        with pytest.raises(pw.NotConnected, match="queue_messages"):
            await ws.send("x")


async def test_use_without_async_with_is_a_clear_error() -> None:
    ws = pw.AdvancedWebSocket(url="ws://127.0.0.1:1/")
    with pytest.raises(RuntimeError, match="async with"):
        await ws.connect()


async def test_after_aclose_everything_raises_destroyed(make_ws: MakeWS) -> None:
    with trio.fail_after(5):
        async with make_ws(queue_messages=True) as ws:
            await ws.connect()
            await ws.aclose()
            await ws.aclose()  # idempotent
            assert ws.state is pw.ConnectionState.CLOSED
            with pytest.raises(pw.Destroyed):
                await ws.send("x")
            with pytest.raises(pw.Destroyed):
                await ws.connect()
            assert [m async for m in ws] == []


async def test_options_from_keywords_and_objects(make_ws: MakeWS) -> None:
    opts = pw.WSConnectionOptions(url="ws://a.test/")
    assert pw.AdvancedWebSocket(opts, auto_json=True).options.auto_json is True
    with pytest.raises(TypeError, match="options"):
        pw.AdvancedWebSocket("ws://a.test/")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="url"):
        pw.AdvancedWebSocket(url="http://a.test/")


async def test_open_websocket_raises_connection_failed_itself(
    memory_server: MemoryWebSocketServer,
) -> None:
    memory_server.refuse = 0
    with trio.fail_after(5), pytest.raises(pw.ConnectionFailed) as info:
        async with pw.open_websocket("ws://memory.test/", stream_opener=memory_server.open_stream):
            raise AssertionError("not reached")
    assert len(info.value.attempts) == 1
    url, error = info.value.attempts[0]
    assert url == "ws://memory.test/"
    assert isinstance(error, ConnectionRefusedError)
    assert info.value.__cause__ is error


async def test_body_exception_is_not_wrapped_in_a_group(make_ws: MakeWS) -> None:
    class Boom(Exception):
        pass

    async def body() -> None:
        async with make_ws() as ws:
            await ws.connect()
            raise Boom

    with trio.fail_after(5), pytest.raises(Boom):
        await body()


async def test_no_task_outlives_the_block(make_ws: MakeWS) -> None:
    before = task_tree()
    with trio.fail_after(5):
        async with make_ws(heartbeat_interval=1.0, queue_messages=True) as ws:
            await ws.connect()
            await ws.send("x")
            assert len(task_tree() - before) >= 4  # dispatcher, supervisor, reader, heartbeat...
    assert task_tree() == before


async def test_subprotocols_and_headers_reach_the_server(
    memory_server: MemoryWebSocketServer,
) -> None:
    async with pw.AdvancedWebSocket(
        url="ws://memory.test/path?q=1",
        headers={"Origin": "https://panel.test", "X-Extra": "1"},
        heartbeat_interval=None,
        stream_opener=memory_server.open_stream,
    ) as ws:
        await ws.connect()
    assert memory_server.paths[-1] == "/path?q=1"
    headers = memory_server.headers[-1]
    assert headers["origin"] == "https://panel.test"
    assert headers["x-extra"] == "1"


# ------------------------------------------------------------------------ events


async def test_event_order_and_payloads(
    make_ws: MakeWS, memory_server: MemoryWebSocketServer
) -> None:
    with trio.fail_after(5):
        async with make_ws() as ws:
            log = EventLog(ws, "open", "message", "close")
            await ws.connect()
            await ws.send("m1")
            assert await ws.receive() == "m1"
            await ws.close(4000, "bye")
    assert log.types() == ["open", "message", "close"]
    open_event, message_event, close_event = (e for _, _, e in log.items)
    assert isinstance(open_event, pw.OpenEvent)
    assert open_event.url == "ws://memory.test/ws"
    assert isinstance(message_event, pw.MessageEvent)
    assert message_event.data == "m1"
    assert isinstance(close_event, pw.CloseEvent)
    assert (close_event.code, close_event.reason, close_event.was_clean) == (4000, "bye", True)
    assert open_event.timestamp <= message_event.timestamp <= close_event.timestamp


async def test_peer_close_code_and_reason_are_reported(
    make_ws: MakeWS, memory_server: MemoryWebSocketServer
) -> None:
    with trio.fail_after(5):
        async with make_ws() as ws:
            log = EventLog(ws, "close")
            await ws.connect()
            await memory_server.close_all(4321, "go away")
            # No auto_reconnect and not 1000/1001: iteration raises the reason.
            with pytest.raises(pw.ConnectionLost) as info:
                _ = [m async for m in ws]
            assert (info.value.code, info.value.reason, info.value.fatal) == (
                4321,
                "go away",
                False,
            )
    (event,) = log.of("close")
    assert (event.code, event.reason, event.was_clean) == (4321, "go away", True)
    assert ws.state is pw.ConnectionState.CLOSED


async def test_option_callbacks_are_listeners(make_ws: MakeWS) -> None:
    seen: list[str] = []
    with trio.fail_after(5):
        async with make_ws(
            on_open=lambda e: seen.append("open"),
            on_message=lambda e: seen.append(f"message:{e.data}"),
            on_close=lambda e: seen.append("close"),
        ) as ws:
            await ws.connect()
            await ws.send("a")
            await ws.receive()
            await ws.close()
    assert seen == ["open", "message:a", "close"]


async def test_listener_errors_become_error_events(make_ws: MakeWS) -> None:
    errors: list[pw.ErrorEvent] = []

    def bad(event: Any) -> None:
        raise ValueError("listener bug")

    async def bad_async(event: Any) -> None:
        raise KeyError("async listener bug")

    with trio.fail_after(5):
        async with make_ws() as ws:
            ws.add_event_listener("error", errors.append)
            ws.add_event_listener("message", bad)
            ws.add_event_listener("message", bad_async)
            await ws.connect()
            await ws.send("x")
            assert await ws.receive() == "x"
            await ws.send("y")  # the connection survived
            assert await ws.receive() == "y"
            await trio.testing.wait_all_tasks_blocked()
    kinds = sorted(type(e.error).__name__ for e in errors)
    assert kinds == ["KeyError", "KeyError", "ValueError", "ValueError"]
    assert {e.context for e in errors} == {"listener"}


async def test_failing_error_listener_does_not_recurse(make_ws: MakeWS) -> None:
    calls = 0

    def bad_error_listener(event: Any) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("error listener bug")

    with trio.fail_after(5):
        async with make_ws() as ws:
            ws.add_event_listener("error", bad_error_listener)
            ws.add_event_listener("message", lambda e: 1 / 0)
            await ws.connect()
            await ws.send("x")
            await ws.receive()
    assert calls == 1


async def test_remove_event_listener(make_ws: MakeWS) -> None:
    seen: list[Any] = []
    async with make_ws() as ws:
        ws.add_event_listener("custom", seen.append)
        ws.dispatch_event("custom", 1)
        assert ws.remove_event_listener("custom", seen.append) is True
        assert ws.remove_event_listener("custom", seen.append) is False
        ws.dispatch_event("custom", 2)
    assert seen == [1]


async def test_dispatch_event_passes_any_object_unchanged(make_ws: MakeWS) -> None:
    marker = object()
    seen: list[Any] = []
    async with make_ws() as ws:
        ws.add_event_listener("custom", seen.append)
        ws.add_event_listener("custom:my-own-type", seen.append)
        ws.dispatch_event("custom", marker)
        ws.dispatch_event(pw.EventType.CUSTOM, "enum works too")
        ws.dispatch_event("custom:my-own-type", {"x": 1})
    assert seen[0] is marker
    assert seen[1:] == ["enum works too", {"x": 1}]


async def test_subscribe_is_bounded_and_counts_misses(make_ws: MakeWS) -> None:
    with trio.fail_after(5):
        async with make_ws() as ws, ws.subscribe("message", max_buffer_size=2) as events:
            await ws.connect()
            for i in range(5):
                await ws.send(str(i))
            for i in range(5):
                assert await ws.receive() == str(i)  # the stream is not affected
            assert [(await events.receive()).data for _ in range(2)] == ["0", "1"]
            assert events.missed == 3
    with pytest.raises(ValueError, match="max_buffer_size"):
        ws.subscribe(max_buffer_size=0)


async def test_subscription_ends_when_the_manager_closes(make_ws: MakeWS) -> None:
    received: list[str] = []
    with trio.fail_after(5):
        async with make_ws() as ws, trio.open_nursery() as nursery:
            events = ws.subscribe("open", "close")

            async def consume() -> None:
                async with events:
                    async for event in events:
                        received.append(event.type)

            nursery.start_soon(consume)
            await trio.testing.wait_all_tasks_blocked()
            await ws.connect()
            await ws.aclose()
    assert received == ["open", "close"]


async def test_async_for_spans_reconnects(
    make_ws: MakeWS, memory_server: MemoryWebSocketServer
) -> None:
    got: list[str] = []
    reopened = trio.Event()
    with trio.fail_after(5):
        async with make_ws(auto_reconnect=True, reconnect_interval=0.01) as ws:
            ws.add_event_listener("reconnectSuccess", lambda e: reopened.set())
            await ws.connect()
            await ws.send("before")
            async for message in ws:
                got.append(message)
                if message == "before":
                    await memory_server.vanish()
                    await reopened.wait()
                    await ws.send("after")
                else:
                    break
    assert got == ["before", "after"]
    assert ws.get_metrics().connections == 2


async def test_incoming_drop_oldest_counts_and_reports(make_ws: MakeWS) -> None:
    errors: list[pw.ErrorEvent] = []
    with trio.fail_after(5):
        async with make_ws(incoming_queue_limit=2) as ws:
            ws.add_event_listener("error", errors.append)
            arrived = EventLog(ws, "message")
            await ws.connect()
            for i in range(5):
                await ws.send(str(i))
            await arrived.wait_for("message", 5)
            assert ws.get_metrics().messages_received == 5
            assert [await ws.receive(), await ws.receive()] == ["3", "4"]
            assert ws.get_metrics().dropped == 3
    assert len(errors) == 1  # once per overflow episode, not per message
    assert errors[0].context == "incoming_overflow"


async def test_update_options_validates(make_ws: MakeWS) -> None:
    async with make_ws() as ws:
        with pytest.raises(ValueError, match="heartbeat_timeout"):
            ws.update_options(heartbeat_timeout=-1)
        with pytest.raises(TypeError, match="no_such_option"):
            ws.update_options(no_such_option=1)
        ws.update_options(auto_json=True)
        assert ws.options.auto_json is True


async def test_repr_redacts_the_url() -> None:
    ws = pw.AdvancedWebSocket(url="wss://user:pw@example.test/ws?token=SECRET")
    assert "SECRET" not in repr(ws)
    assert "pw@" not in repr(ws)


# ------------------------------------------------------------------ wait_state


async def test_wait_state_returns_at_once_when_already_there(make_ws: MakeWS) -> None:
    with trio.fail_after(5):
        async with make_ws() as ws:
            assert await ws.wait_state(pw.ConnectionState.CLOSED) is pw.ConnectionState.CLOSED
            assert await ws.wait_state("OPEN", "CLOSED") is pw.ConnectionState.CLOSED


async def test_wait_state_follows_the_connection(
    autojump_clock: trio.testing.MockClock,
    memory_server: MemoryWebSocketServer,
    make_ws: MakeWS,
) -> None:
    S = pw.ConnectionState
    seen: list[pw.ConnectionState] = []

    async def watch(ws: pw.AdvancedWebSocket) -> None:
        seen.append(await ws.wait_state(S.OPEN))
        seen.append(await ws.wait_state(S.RECONNECTING))
        seen.append(await ws.wait_state(S.OPEN))

    ws = make_ws(auto_reconnect=True, reconnect_interval=1.0)
    with trio.fail_after(30):
        async with ws, trio.open_nursery() as nursery:
            nursery.start_soon(watch, ws)
            await trio.testing.wait_all_tasks_blocked()
            assert seen == []  # no polling: it waits
            await ws.connect()
            await memory_server.vanish()
    assert seen == [S.OPEN, S.RECONNECTING, S.OPEN]


async def test_wait_state_needs_a_state(make_ws: MakeWS) -> None:
    async with make_ws() as ws:
        with pytest.raises(TypeError, match="wait_state"):
            await ws.wait_state()
        with pytest.raises(ValueError, match="OPENED"):
            await ws.wait_state("OPENED")


# ------------------------------------------------------------------ statistics


async def test_statistics_snapshot_the_components(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    with trio.fail_after(5):
        async with make_ws(queue_messages=True) as ws:
            idle = ws.statistics()
            assert (idle.supervisor, idle.connection, idle.heartbeat) == ("idle", None, "idle")
            assert (idle.incoming_flow, idle.incoming_buffered) == ("flowing", 0)
            await ws.send("queued")
            assert ws.statistics().queued_messages == ("queued",)
            await ws.connect()
            assert await ws.receive() == "queued"
            live = ws.statistics()
            assert (live.supervisor, live.connection) == ("running", "open")
            assert live.queued == 0
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                live.queued = 1  # type: ignore[misc]
            await ws.close()
            assert ws.statistics().supervisor == "idle"


# ---------------------------------------------------------------- connect gate


async def test_the_connect_gate_is_entered_around_every_handshake(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    entered: list[float] = []
    inside = 0

    @contextlib.asynccontextmanager
    async def gate() -> AsyncIterator[None]:
        nonlocal inside
        entered.append(trio.current_time())
        await trio.sleep(5)  # waiting for the budget: not part of connection_timeout
        inside += 1
        try:
            yield
        finally:
            inside -= 1

    with trio.fail_after(60):
        await _reconnect_through(gate, memory_server)
    assert len(entered) == 2  # the first connect and the reconnect
    assert memory_server.accepted == 2
    assert inside == 0  # left once each handshake is done


async def _reconnect_through(gate: Any, memory_server: MemoryWebSocketServer) -> None:
    async with pw.AdvancedWebSocket(
        url="ws://memory.test/",
        heartbeat_interval=None,
        auto_reconnect=True,
        reconnect_interval=1.0,
        connection_timeout=1.0,
        stream_opener=memory_server.open_stream,
        _connect_gate=gate,
    ) as ws:
        await ws.connect()
        await memory_server.vanish()
        await ws.wait_state(pw.ConnectionState.RECONNECTING)
        await ws.wait_state(pw.ConnectionState.OPEN)


@pytest.mark.skipif(
    importlib.util.find_spec("trio_pterows.transports._websockets") is not None,
    reason="the websockets transport is in this build",
)
def test_a_transport_this_build_lacks_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match=r"^transport: 'websockets' is not available"):
        pw.AdvancedWebSocket(url="ws://example.test/", transport="websockets")
    ws = pw.AdvancedWebSocket(url="ws://example.test/")
    with pytest.raises(ValueError, match=r"^transport"):
        ws.update_options(transport="websockets")
    assert ws.options.transport == "trio-websocket"  # unchanged
