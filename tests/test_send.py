"""The outbound path (trio_pterows/_send.py): the outgoing pipeline (hooks, interceptors,
DROP, errors), and the queue against a live manager: order, hooks at flush time,
overflow, on_connect priority, and a connection dying mid-flush."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer

from .conftest import MEMORY_URL, EventLog, Received, task_tree

MakeWS = Callable[..., pw.AdvancedWebSocket]


def recording_handler(
    received: list[str | bytes],
) -> Callable[[trio_websocket.WebSocketConnection], Any]:
    async def handler(conn: trio_websocket.WebSocketConnection) -> None:
        while True:
            received.append(await conn.get_message())

    return handler


async def test_queued_messages_flush_in_order_with_hooks_at_flush_time(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    received = Received()
    memory_server.handler = recording_handler(received)
    hook_calls: list[Any] = []

    def before(message: Any) -> Any:
        hook_calls.append(message)
        return message

    with trio.fail_after(5):
        async with make_ws(queue_messages=True, auto_json=True, on_before_send=before) as ws:
            for i in range(5):
                await ws.send({"seq": i})
            assert ws.get_metrics().queued == 5
            assert hook_calls == []  # hooks run when the message is flushed
            await ws.connect()
            await received.wait_for(5)
            await ws.send({"seq": 5})
            await received.wait_for(6)
            metrics = ws.get_metrics()
    assert received == [f'{{"seq":{i}}}' for i in range(6)]
    assert hook_calls == [{"seq": i} for i in range(6)]
    assert metrics.queued == 0
    assert metrics.messages_sent == 6


async def test_a_failing_hook_at_flush_drops_that_item_only(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    received = Received()
    memory_server.handler = recording_handler(received)

    def before(message: Any) -> Any:
        if message == "bad":
            raise ValueError("cannot send bad")
        return message

    with trio.fail_after(5):
        async with make_ws(queue_messages=True, on_before_send=before) as ws:
            errors = EventLog(ws, "error")
            for message in ["a", "bad", "b"]:
                await ws.send(message)
            await ws.connect()
            await received.wait_for(2)
            assert ws.get_metrics().dropped == 1
    assert received == ["a", "b"]
    (error,) = errors.of("error")
    assert error.context == "flush"
    assert isinstance(error.error, ValueError)


async def test_overflow_policies(make_ws: MakeWS) -> None:
    async with make_ws(queue_messages=True, message_queue_limit=2) as ws:
        await ws.send("1")
        await ws.send("2")
        with pytest.raises(pw.QueueFull, match="reject"):
            await ws.send("3")
        assert ws.get_metrics().queued == 2
        ws.update_options(message_queue_overflow="drop-oldest")
        await ws.send("3")
        ws.update_options(message_queue_overflow="drop-newest")
        await ws.send("4")
        assert ws.get_metrics().dropped == 2
        assert list(ws.statistics().queued_messages) == ["2", "3"]
        assert ws.clear_message_queue() == 2
        assert ws.clear_message_queue() == 0
        assert ws.get_metrics().queued == 0


async def test_sends_while_the_queue_drains_keep_their_place(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    received = Received()
    memory_server.handler = recording_handler(received)

    async def slow_before(message: Any) -> Any:
        await trio.sleep(0.01)
        return message

    with trio.fail_after(5):
        async with make_ws(queue_messages=True, on_before_send=slow_before) as ws:
            for i in range(3):
                await ws.send(f"q{i}")
            await ws.connect()
            await ws.send("direct")  # the queue is still draining: goes behind it
            await received.wait_for(4)
    assert received == ["q0", "q1", "q2", "direct"]


async def test_on_connect_sends_go_ahead_of_the_queue(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    received = Received()
    memory_server.handler = recording_handler(received)
    order: list[str] = []

    async def on_connect(ws: pw.AdvancedWebSocket) -> None:
        await ws.send("auth")
        order.append(f"on_connect state={ws.state.value}")

    with trio.fail_after(5):
        async with make_ws(queue_messages=True, on_connect=on_connect) as ws:
            ws.add_event_listener("open", lambda e: order.append("open"))
            await ws.send("queued-1")
            await ws.send("queued-2")
            await ws.connect()
            await received.wait_for(3)
    assert received == ["auth", "queued-1", "queued-2"]
    assert order == ["on_connect state=CONNECTING", "open"]


class FlakyStream(trio.abc.Stream):
    """Fails every write after the first ``budget`` ones (a connection dying mid-flush)."""

    def __init__(self, inner: trio.abc.Stream, budget: int) -> None:
        self.inner = inner
        self.budget = budget

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.budget <= 0:
            await self.inner.aclose()
            raise trio.BrokenResourceError("connection reset")
        self.budget -= 1
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_connection_dying_mid_flush_keeps_the_rest_queued(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    received: list[str | bytes] = []
    memory_server.handler = recording_handler(received)
    budgets = [1 + 3, 100]  # handshake + 3 messages, then the link dies

    async def opener(url: str) -> trio.abc.Stream:
        return FlakyStream(await memory_server.open_stream(url), budgets.pop(0))

    hook_calls: list[Any] = []
    async with pw.AdvancedWebSocket(
        url=MEMORY_URL,
        queue_messages=True,
        auto_reconnect=True,
        reconnect_interval=1.0,
        heartbeat_interval=None,
        on_before_send=lambda m: hook_calls.append(m) or m,
        stream_opener=opener,
    ) as ws:
        for i in range(10):
            await ws.send(str(i))
        await ws.connect()
        await trio.sleep(5)
        assert ws.is_connected
        assert ws.get_metrics().queued == 0
    assert received == [str(i) for i in range(10)]  # nothing lost, nothing doubled
    # hooks ran once per message, even for the one whose write failed
    assert hook_calls == [str(i) for i in range(10)]


async def test_direct_send_losing_its_connection_is_requeued(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    received: list[str | bytes] = []
    memory_server.handler = recording_handler(received)
    budgets = [1 + 1, 100]

    async def opener(url: str) -> trio.abc.Stream:
        return FlakyStream(await memory_server.open_stream(url), budgets.pop(0))

    async with pw.AdvancedWebSocket(
        url=MEMORY_URL,
        queue_messages=True,
        auto_reconnect=True,
        reconnect_interval=1.0,
        heartbeat_interval=None,
        stream_opener=opener,
    ) as ws:
        await ws.connect()
        await ws.send("first")
        await ws.send("second")  # this write fails: queued again, sent after reconnect
        await trio.sleep(3)
    assert received == ["first", "second"]


async def test_without_queue_a_lost_send_raises_connection_lost(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    async def opener(url: str) -> trio.abc.Stream:
        return FlakyStream(await memory_server.open_stream(url), 1)

    async with pw.AdvancedWebSocket(
        url=MEMORY_URL, heartbeat_interval=None, stream_opener=opener
    ) as ws:
        await ws.connect()
        with pytest.raises(pw.ConnectionLost):
            await ws.send("x")
        with pytest.raises(pw.NotConnected):  # ConnectionLost is a NotConnected
            await ws.send("y")


def _flushers() -> list[trio.lowlevel.Task]:
    return [t for t in task_tree() if t.coro.__qualname__.endswith("._flusher")]


async def test_a_flusher_runs_only_while_something_is_queued(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    """An idle connection has no flusher task (memory at scale); a non-empty queue
    gets one, which writes in order and ends when the queue is empty."""
    received: list[str | bytes] = []
    memory_server.handler = recording_handler(received)
    release = trio.Event()

    async def hold_a(message: Any) -> Any:
        if message == "a":
            await release.wait()
        return message

    with trio.fail_after(10):
        async with make_ws(queue_messages=True, on_before_send=hold_a) as ws:
            await ws.connect()
            await trio.testing.wait_all_tasks_blocked()
            assert _flushers() == []

            await ws.close()
            for message in ("q0", "q1", "q2"):
                await ws.send(message)
            assert _flushers() == []  # not connected: nothing to flush into
            await ws.connect()
            await ws.wait_flushed()
            await trio.testing.wait_all_tasks_blocked()
            assert received == ["q0", "q1", "q2"]
            assert _flushers() == []  # drained: it ended

            # The flusher holds "a" (its hook waits); "b", sent while connected, goes
            # in behind it, to the same flusher, and nothing overtakes "a".
            await ws.close()
            await ws.send("a")
            await ws.connect()
            await trio.testing.wait_all_tasks_blocked()
            assert len(_flushers()) == 1
            await ws.send("b")
            assert ws.get_metrics().queued == 2
            assert len(_flushers()) == 1
            release.set()
            await ws.wait_flushed()
            await trio.testing.wait_all_tasks_blocked()
            assert received == ["q0", "q1", "q2", "a", "b"]
            assert _flushers() == []


# ------------------------------------------------------------ the outgoing pipeline


async def test_outgoing_pipeline_order(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    trace: list[str] = []

    def before(message: Any) -> Any:
        trace.append(f"before:{message}")
        return {**message, "before": True}

    def first(message: Any) -> Any:
        trace.append("first")
        return {**message, "first": True}

    async def second(message: Any) -> Any:  # async interceptors work too
        trace.append("second")
        return {**message, "second": True}

    def after(message: Any) -> None:
        trace.append(f"after:{sorted(message)}")

    with trio.fail_after(5):
        async with make_ws(
            auto_json=True,
            on_before_send=before,
            outgoing_message_interceptors=[first, second],
            on_after_send=after,
        ) as ws:
            await ws.connect()
            await ws.send({"id": 1})
            echoed = await ws.receive()
    assert trace == [
        "before:{'id': 1}",
        "first",
        "second",
        "after:['before', 'first', 'id', 'second']",
    ]
    assert echoed == {"id": 1, "before": True, "first": True, "second": True}


@pytest.mark.parametrize("where", ["on_before_send", "interceptor"])
async def test_drop_sends_nothing(make_ws: MakeWS, where: str) -> None:
    def dropper(message: Any) -> Any:
        return pw.DROP if message == "secret" else message

    options: dict[str, Any] = (
        {"on_before_send": dropper}
        if where == "on_before_send"
        else {"outgoing_message_interceptors": [dropper]}
    )
    with trio.fail_after(5):
        async with make_ws(**options) as ws:
            await ws.connect()
            await ws.send("secret")
            await ws.send("public")
            assert await ws.receive() == "public"
            assert ws.get_metrics().messages_sent == 1


async def test_hook_exceptions_reach_the_caller(make_ws: MakeWS) -> None:
    class HookError(Exception):
        pass

    def before(message: Any) -> Any:
        if message == "boom":
            raise HookError("rejected")
        return message

    def after(message: Any) -> None:
        if message == "after-boom":
            raise HookError("after failed")

    with trio.fail_after(5):
        async with make_ws(on_before_send=before, on_after_send=after) as ws:
            await ws.connect()
            with pytest.raises(HookError, match="rejected"):
                await ws.send("boom")
            with pytest.raises(HookError, match="after failed"):
                await ws.send("after-boom")  # written, then the hook failed
            await ws.send("fine")
            assert await ws.receive() == "after-boom"
            assert await ws.receive() == "fine"


# ------------------------------------------------------------------ send_nowait


async def test_send_nowait_writes_in_order_behind_the_queue(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    received: list[str | bytes] = []
    memory_server.handler = recording_handler(received)
    with trio.fail_after(10):
        async with make_ws(queue_messages=True, auto_json=True) as ws:
            ws.send_nowait("queued while closed")  # queue_messages: buffered
            await ws.connect()
            for i in range(5):
                ws.send_nowait({"n": i})  # never blocks; encoded at flush time
            await ws.send("direct")  # behind what is buffered
            await ws.wait_flushed()
            await ws.close()
    assert received[0] == "queued while closed"
    assert [json.loads(m) for m in received[1:6]] == [{"n": i} for i in range(5)]
    assert received[6] == "direct"


async def test_send_nowait_without_a_queue_needs_a_connection(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    received: list[str | bytes] = []
    memory_server.handler = recording_handler(received)
    with trio.fail_after(10):
        async with make_ws() as ws:
            with pytest.raises(pw.NotConnected, match="queue_messages is off"):
                ws.send_nowait("x")
            await ws.connect()
            ws.send_nowait("connected: buffered and flushed")
            await ws.wait_flushed()
            await ws.close()
    assert received == ["connected: buffered and flushed"]


async def test_send_nowait_full_buffer_and_flush_time_errors(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    with trio.fail_after(10):
        async with make_ws(queue_messages=True, message_queue_limit=2) as ws:
            errors = EventLog(ws, "error")
            ws.send_nowait("a")
            ws.send_nowait(object())  # not encodable: an error event at flush time
            with pytest.raises(pw.QueueFull):
                ws.send_nowait("c")
            assert ws.get_metrics().queued == 2
            await ws.connect()
            await ws.wait_flushed()
            assert await ws.receive() == "a"
    (error,) = errors.of("error")
    assert isinstance(error.error, TypeError)
    assert error.context == "flush"


async def test_send_nowait_after_aclose_is_destroyed(make_ws: MakeWS) -> None:
    async with make_ws(queue_messages=True) as ws:
        await ws.aclose()
        with pytest.raises(pw.Destroyed):
            ws.send_nowait("late")


async def test_an_open_listener_can_send_at_once(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    received: list[str | bytes] = []
    memory_server.handler = recording_handler(received)
    with trio.fail_after(10):
        async with make_ws() as ws:  # queue_messages off: only an open connection takes it
            ws.add_event_listener("open", lambda event: ws.send_nowait("hello from open"))
            await ws.connect()
            await ws.wait_flushed()
            await ws.close()
    assert received == ["hello from open"]
