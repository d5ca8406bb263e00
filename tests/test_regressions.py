"""Regression tests for bugs found in review (each names the bug it pins)."""

from __future__ import annotations

import copy
import functools
import pickle
import ssl
from unittest import mock

import pytest
import trio
import trio.testing
import trio_websocket
from wsproto.events import TextMessage

import trio_pterows as pw
from trio_pterows import _codec
from trio_pterows._events import is_async_callable
from trio_pterows._metrics import LatencyStats
from trio_pterows._options import split_url
from trio_pterows.testing import MemoryWebSocketServer


async def test_uppercase_wss_still_uses_tls(echo_url: str) -> None:
    # Once, "WSS://" connected in plaintext because the scheme check was case-sensitive.
    url = echo_url.replace("ws://", "WSS://")
    assert split_url(url)[0] is True
    with trio.fail_after(10), pytest.raises(pw.ConnectionFailed) as info:
        async with pw.open_websocket(url, heartbeat_interval=None):
            raise AssertionError("a plaintext server must not accept a TLS client")
    assert isinstance(info.value.attempts[0][1], (ssl.SSLError, OSError))


@pytest.mark.parametrize(
    ("url", "fallback"),
    [
        ("WSS://example.test/", "ws://example.test/"),
        ("wss://example.test/", "WS://example.test/"),
    ],
)
def test_downgrade_check_ignores_case(url: str, fallback: str) -> None:
    with pytest.raises(ValueError, match=r"fallback_urls\[0\]"):
        pw.WSConnectionOptions(url=url, fallback_urls=[fallback])


@pytest.mark.parametrize("url", [" wss://example.test/", "ws://exa mple.test/", "ws://h/\x00"])
def test_whitespace_and_control_characters_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"^url: "):
        pw.WSConnectionOptions(url=url)


@pytest.mark.parametrize("url", ["ws://[::1/", "ws://h:99999/", "ws://h:0/"])
def test_invalid_urls_name_the_option(url: str) -> None:
    with pytest.raises(ValueError, match=r"^url: "):
        pw.WSConnectionOptions(url=url)
    with pytest.raises(ValueError, match=r"^fallback_urls\[0\]: "):
        pw.WSConnectionOptions(url="ws://ok.test/", fallback_urls=[url])


def test_huge_numbers_are_a_value_error_naming_the_option() -> None:
    with pytest.raises(ValueError, match=r"^reconnect_interval: "):
        pw.WSConnectionOptions(url="ws://h/", reconnect_interval=10**400)


@pytest.mark.parametrize("code", [1005, 1006, 1015])
def test_codes_that_never_appear_in_a_close_frame_are_refused(code: int) -> None:
    with pytest.raises(ValueError, match="fatal_close_codes"):
        pw.WSConnectionOptions(url="ws://h/", fatal_close_codes={code})


@pytest.mark.parametrize(
    "headers", [{"X(": "1"}, {"X": "a\x00b"}, {"X": "\u20ac"}, {"Bad Name": "1"}]
)
def test_headers_that_cannot_be_sent_fail_early(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"^headers: "):
        pw.WSConnectionOptions(url="ws://h/", headers=headers)


def test_mock_listeners_do_not_hang() -> None:
    # getattr(Mock(), "func") is always another Mock: unwrapping used to loop for ever.
    assert is_async_callable(mock.Mock()) is False
    assert is_async_callable(mock.AsyncMock()) is True

    async def coro(x: int) -> None:
        pass

    assert is_async_callable(functools.partial(functools.partial(coro), 1)) is True

    class AsyncCallable:
        async def __call__(self) -> None:
            pass

    assert is_async_callable(AsyncCallable()) is True
    assert is_async_callable(AsyncCallable) is False  # calling the class is sync


async def test_add_event_listener_rejects_non_callables() -> None:
    ws = pw.AdvancedWebSocket(url="ws://h/")
    with pytest.raises(TypeError, match="listener for 'message' must be callable, got int"):
        ws.add_event_listener("message", 42)  # type: ignore[arg-type]


def test_average_latency_stays_within_min_and_max() -> None:
    stats = LatencyStats.from_samples([0.1] * 3)
    assert stats is not None
    assert stats.min <= stats.avg <= stats.max


def test_connection_failed_pickles_and_copies() -> None:
    error = pw.ConnectionFailed("gave up", [("ws://h/", OSError("refused"))])
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert str(clone) == str(error)
        assert clone.attempts[0][0] == "ws://h/"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_codec_rejects_non_json_constants(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - either backend's message
        _codec.loads(text)


async def test_error_reports_for_dropped_async_events_do_not_recurse(
    memory_server: MemoryWebSocketServer,
) -> None:
    # An async "error" listener plus a full dispatcher channel used to recurse until
    # a RecursionError killed the reader task.
    async def slow_error_listener(event: object) -> None:
        await trio.sleep_forever()

    async def slow_message_listener(event: object) -> None:
        await trio.sleep_forever()

    with trio.fail_after(5):
        async with pw.AdvancedWebSocket(
            url="ws://memory.test/",
            heartbeat_interval=None,
            incoming_queue_limit=1,
            stream_opener=memory_server.open_stream,
        ) as ws:
            ws.add_event_listener("error", slow_error_listener)
            ws.add_event_listener("message", slow_message_listener)
            await ws.connect()
            for i in range(200):
                await ws.send(str(i))
            # Echoed in order: once the last one is back, all 200 were received.
            await ws.send_and_wait_response("last", lambda message: message == "last")
            assert ws.get_metrics().messages_received == 201
            assert ws.is_connected
            assert ws.get_metrics().dropped > 0


async def test_a_cancelled_send_queues_nothing(memory_server: MemoryWebSocketServer) -> None:
    async with pw.AdvancedWebSocket(
        url="ws://memory.test/", queue_messages=True, stream_opener=memory_server.open_stream
    ) as ws:
        with trio.CancelScope() as scope:
            scope.cancel()
            await ws.send("x")
        assert ws.get_metrics().queued == 0


async def test_waiters_fail_at_once_when_the_link_drops_during_on_connect(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    async def hang_up(conn: trio_websocket.WebSocketConnection) -> None:
        await conn.get_message()
        await trio.sleep(1)
        raise trio_websocket.ConnectionClosed(None)  # type: ignore[arg-type]

    memory_server.handler = hang_up
    outcome: list[BaseException] = []

    async def on_connect(ws: pw.AdvancedWebSocket) -> None:
        try:
            await ws.send_and_wait_response("auth", lambda m: False, timeout=60)
        except pw.PterowsError as exc:
            outcome.append(exc)
            raise

    async with pw.AdvancedWebSocket(
        url="ws://memory.test/", on_connect=on_connect, stream_opener=memory_server.open_stream
    ) as ws:
        start = trio.current_time()
        with pytest.raises(pw.ConnectionFailed):
            await ws.connect()
        assert trio.current_time() - start < 2
    assert isinstance(outcome[0], pw.ConnectionLost)


async def test_fatal_close_codes_apply_during_on_connect(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    async def suspend(conn: trio_websocket.WebSocketConnection) -> None:
        await conn.get_message()
        await conn.aclose(4409, "suspended")

    memory_server.handler = suspend

    async def on_connect(ws: pw.AdvancedWebSocket) -> None:
        await ws.send_and_wait_response("auth", lambda m: False, timeout=60)

    async with pw.AdvancedWebSocket(
        url="ws://memory.test/",
        on_connect=on_connect,
        auto_reconnect=True,
        fatal_close_codes={4409},
        stream_opener=memory_server.open_stream,
    ) as ws:
        with pytest.raises(pw.ConnectionFailed):
            await ws.connect()
    assert memory_server.accepted == 1  # not retried


async def test_state_is_closed_right_after_a_cancelled_connect(
    memory_server: MemoryWebSocketServer,
) -> None:
    memory_server.handshake_delay = 10
    async with pw.AdvancedWebSocket(
        url="ws://memory.test/", stream_opener=memory_server.open_stream
    ) as ws:
        with trio.move_on_after(0.01):
            await ws.connect()
        assert ws.state is pw.ConnectionState.CLOSED


async def test_metrics_url_is_redacted(memory_server: MemoryWebSocketServer) -> None:
    async with pw.AdvancedWebSocket(
        url="ws://memory.test/?token=SECRET", stream_opener=memory_server.open_stream
    ) as ws:
        await ws.connect()
        assert ws.get_metrics().current_url == "ws://memory.test/?***"


async def test_a_burst_reaches_an_iterating_consumer_with_default_options(
    memory_server: MemoryWebSocketServer,
) -> None:
    # The reader parses a whole socket read before the consumer runs; with the
    # default drop-oldest buffer a fast burst used to lose almost everything.
    count = 5000

    async def flood(conn: trio_websocket.WebSocketConnection) -> None:
        await conn.get_message()
        # One write holding every frame, as a fast peer's data arrives in big reads.
        blob = b"".join(conn._wsproto.send(TextMessage(data=str(i))) for i in range(count))
        await conn._stream.send_all(blob)
        await trio.sleep_forever()

    memory_server.handler = flood
    with trio.fail_after(20):
        async with pw.AdvancedWebSocket(
            url="ws://memory.test/",
            heartbeat_interval=None,
            stream_opener=memory_server.open_stream,
        ) as ws:
            await ws.connect()
            await ws.send("go")
            got = [await ws.receive() for _ in range(count)]
            assert got == [str(i) for i in range(count)]
            assert ws.get_metrics().dropped == 0


async def test_aclose_inside_the_block_does_not_cancel_the_caller(
    memory_server: MemoryWebSocketServer,
) -> None:
    # aclose() used to cancel the manager's nursery scope, which wraps the body.
    with trio.fail_after(5):
        async with pw.AdvancedWebSocket(
            url="ws://memory.test/", stream_opener=memory_server.open_stream
        ) as ws:
            await ws.connect()
            await ws.aclose()
            await trio.lowlevel.checkpoint()  # still running: not cancelled
            reached = True
    assert reached


async def test_a_burst_before_the_first_iteration_is_not_dropped(
    memory_server: MemoryWebSocketServer,
) -> None:
    # Under load the burst could arrive while the caller was still in send(),
    # before its `async for` started: the first overflow waits for it.
    count = 5000

    async def flood(conn: trio_websocket.WebSocketConnection) -> None:
        await conn.get_message()
        blob = b"".join(conn._wsproto.send(TextMessage(data=str(i))) for i in range(count))
        await conn._stream.send_all(blob)
        await trio.sleep_forever()

    memory_server.handler = flood
    with trio.fail_after(20):
        async with pw.AdvancedWebSocket(
            url="ws://memory.test/",
            heartbeat_interval=None,
            stream_opener=memory_server.open_stream,
        ) as ws:
            await ws.connect()
            await ws.send("go")
            await trio.testing.wait_all_tasks_blocked()  # the burst is in, nobody iterates
            got = [await ws.receive() for _ in range(count)]
            assert got == [str(i) for i in range(count)]
            assert ws.get_metrics().dropped == 0


@pytest.mark.parametrize("how", ["cancel connect", "aclose"])
async def test_interrupted_on_connect_closes_its_socket_and_leaves_no_connection(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, how: str
) -> None:
    """on_connect still running when connect() is cancelled or the manager closes:
    the half-set-up connection is torn down (stream closed, no live connection kept),
    and the manager can connect again."""
    ended: list[float] = []

    async def wait_for_the_end(conn: trio_websocket.WebSocketConnection) -> None:
        try:
            while True:
                await conn.get_message()
        except trio_websocket.ConnectionClosed:
            ended.append(trio.current_time())

    memory_server.handler = wait_for_the_end
    entered = trio.Event()
    hang = [True]

    async def on_connect(ws: pw.AdvancedWebSocket) -> None:
        entered.set()
        if hang[0]:
            await trio.sleep_forever()

    failures: list[pw.ConnectionFailed] = []

    async def connect(ws: pw.AdvancedWebSocket) -> None:
        try:
            await ws.connect()
        except pw.ConnectionFailed as exc:
            failures.append(exc)

    with trio.fail_after(10):
        async with pw.AdvancedWebSocket(
            url="ws://memory.test/", on_connect=on_connect, stream_opener=memory_server.open_stream
        ) as ws:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(connect, ws)
                await entered.wait()
                if how == "aclose":
                    await ws.aclose()
                else:
                    nursery.cancel_scope.cancel()
            await trio.testing.wait_all_tasks_blocked()
            assert len(ended) == 1, "the server still sees the half-set-up connection"
            assert ws.state is pw.ConnectionState.CLOSED
            assert ws.statistics().connection is None
            if how == "aclose":
                # connect() says why it gave up, and that was not a network failure.
                (failure,) = failures
                assert "closed" in str(failure)
                assert "interrupted" not in repr((failure, failure.attempts))
            else:
                assert failures == []  # cancelled, not failed
                hang[0] = False
                await ws.connect()
                assert ws.is_connected
