"""ChaosProxy in front of a TestServer, driven by a raw trio-websocket client."""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_client_stream
from wsproto import WSConnection
from wsproto.connection import Connection, ConnectionType
from wsproto.events import AcceptConnection, BytesMessage, Request, TextMessage

from trio_pterows.testing import ChaosProxy, TestServer, serve_echo
from trio_pterows.testing._chaos import _FrameTracker


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    # A leaked socket warns when collected: make that happen in the test that leaked it.
    yield
    gc.collect()


@asynccontextmanager
async def client(
    nursery: trio.Nursery, port: int, path: str = "/"
) -> AsyncIterator[WebSocketConnection]:
    """A raw trio-websocket client whose socket is always closed on exit.

    (trio-websocket 0.12's own helpers leave it open when the server closes first.)
    The reader task runs in ``nursery``.
    """
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        connection = await wrap_client_stream(nursery, stream, "127.0.0.1", path)
        try:
            yield connection
        finally:
            with trio.move_on_after(1):
                await connection.aclose()
    finally:
        await trio.aclose_forcefully(stream)


async def assert_connection_refused(port: int) -> None:
    """A TCP connect to ``port`` fails with ECONNREFUSED: nothing listens there."""
    with pytest.raises(OSError, match="all attempts to connect") as info:
        await trio.open_tcp_stream("127.0.0.1", port)
    attempts = getattr(info.value.__cause__, "exceptions", ())  # trio groups the attempts
    assert attempts
    assert all(isinstance(exc, ConnectionRefusedError) for exc in attempts)


def close_code(info: pytest.ExceptionInfo[ConnectionClosed]) -> int:
    assert info.value.reason is not None
    return info.value.reason.code


@pytest.fixture
async def server(nursery: trio.Nursery) -> TestServer:
    started: TestServer = await nursery.start(serve_echo)
    return started


@pytest.fixture
async def proxy(nursery: trio.Nursery, server: TestServer) -> ChaosProxy:
    chaos = ChaosProxy("127.0.0.1", server.port)
    url = await nursery.start(chaos.serve)
    assert url == f"ws://127.0.0.1:{chaos.port}/"
    return chaos


async def echo(ws: WebSocketConnection, message: str) -> None:
    await ws.send_message(message)
    assert await ws.get_message() == message


async def test_forwards_both_ways(
    nursery: trio.Nursery, server: TestServer, proxy: ChaosProxy
) -> None:
    with trio.fail_after(10):
        assert proxy.port != server.port
        async with client(nursery, proxy.port) as ws:
            await echo(ws, "hello")
            await ws.send_message(b"\x00" * 200_000)  # several chunks each way
            assert await ws.get_message() == b"\x00" * 200_000
            assert proxy.connections_total == 1
            assert proxy.live_connections == 1
            assert server.accepted == 1
        assert proxy.bytes_forwarded > 400_000
        # A clean close goes through (FIN is passed on both ways), and the link ends.
        await proxy.wait_connections(0)
        await server.wait_connections(0)


async def test_forwards_the_path(nursery: trio.Nursery) -> None:
    async def tell_path(server: TestServer, connection: WebSocketConnection) -> None:
        await connection.send_message(connection.path or "")

    backend = TestServer(tell_path)
    with trio.fail_after(10):
        await nursery.start(backend.serve)
        chaos = ChaosProxy("127.0.0.1", backend.port)
        await nursery.start(chaos.serve)
        assert chaos.url_for("api/v1") == f"ws://127.0.0.1:{chaos.port}/api/v1"
        async with client(nursery, chaos.port, "/api/v1") as ws:
            assert await ws.get_message() == "/api/v1"


async def test_drop_resets_every_connection(
    nursery: trio.Nursery, server: TestServer, proxy: ChaosProxy
) -> None:
    with trio.fail_after(10):
        async with client(nursery, proxy.port) as first, client(nursery, proxy.port) as second:
            await echo(first, "a")
            await echo(second, "b")
            assert proxy.drop() == 2
            for ws in (first, second):
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                assert close_code(info) == 1006
            await server.wait_connections(0)  # the server side was reset too
        assert proxy.connections_dropped == 2
        assert proxy.faults_injected == 1
        async with client(nursery, proxy.port) as ws:  # still accepting
            await echo(ws, "again")


async def test_blackhole_holds_bytes_until_restore(
    nursery: trio.Nursery,
    server: TestServer,
    proxy: ChaosProxy,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(120):
        async with client(nursery, proxy.port) as ws:
            await echo(ws, "before")
            proxy.blackhole()
            assert proxy.blackholed
            await ws.send_message("held")
            with trio.move_on_after(30) as message_wait:
                await ws.get_message()
            assert message_wait.cancelled_caught
            with trio.move_on_after(30) as ping_wait:
                await ws.ping(b"unanswered")
            assert ping_wait.cancelled_caught
            # Half-open, not closed: both ends still think they are connected.
            assert proxy.live_connections == 1
            assert server.connections == 1
            assert server.received_total == 1
            proxy.restore()
            with trio.fail_after(5):
                assert await ws.get_message() == "held"  # held, not discarded
                await ws.ping(b"answered")


async def test_blackhole_stalls_new_handshakes(
    nursery: trio.Nursery,
    proxy: ChaosProxy,
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(120):
        proxy.blackhole()
        with trio.move_on_after(30) as handshake_wait:
            async with client(nursery, proxy.port):
                pass
        assert handshake_wait.cancelled_caught
        proxy.restore()
        async with client(nursery, proxy.port) as ws:
            await echo(ws, "x")


async def test_delay_adds_latency_each_way(
    nursery: trio.Nursery, proxy: ChaosProxy, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(120):
        async with client(nursery, proxy.port) as ws:
            start = trio.current_time()
            await echo(ws, "fast")
            assert trio.current_time() - start < 1
            proxy.delay(2)
            assert proxy.latency == 2
            start = trio.current_time()
            await echo(ws, "slow")
            assert 4 <= trio.current_time() - start < 5  # 2 s there, 2 s back
            # Per chunk, not cumulative: five messages sent 0.5 s apart are all back
            # 4 s after the last one left (6 s), not after 5 x 2 s one after another.
            start = trio.current_time()
            for n in range(5):
                await ws.send_message(f"m{n}")
                await trio.sleep(0.5)
            assert [await ws.get_message() for _ in range(5)] == [f"m{n}" for n in range(5)]
            assert 6 <= trio.current_time() - start < 8
            proxy.delay(0)
            start = trio.current_time()
            await echo(ws, "fast again")
            assert trio.current_time() - start < 1


def test_delay_rejects_bad_values() -> None:
    proxy = ChaosProxy("127.0.0.1", 1)
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="delay"):
            proxy.delay(bad)


async def test_cut_mid_frame_gives_an_abnormal_close(
    nursery: trio.Nursery, server: TestServer, proxy: ChaosProxy
) -> None:
    with trio.fail_after(10):
        async with client(nursery, proxy.port) as ws:
            await echo(ws, "whole")
            assert proxy.cut_mid_frame() == 1
            await ws.send_message("never seen whole")
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert close_code(info) == 1006
        assert proxy.connections_cut == 1
        await server.wait_connections(0)


async def test_cut_mid_frame_cuts_inside_the_first_frame_of_the_chunk(
    nursery: trio.Nursery,
) -> None:
    # Two equal frames in one chunk: cutting the chunk in half would deliver the
    # first frame whole. The cut must land inside the first one. A raw wsproto
    # backend writes both frames with one send_all, so they arrive as one chunk.
    go = trio.Event()

    async def two_frames_at_once(stream: trio.SocketStream) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        while True:
            ws.receive_data(await stream.receive_some())
            for event in ws.events():
                if isinstance(event, Request):
                    await stream.send_all(ws.send(AcceptConnection()))
                    await go.wait()
                    first = ws.send(TextMessage(data="a" * 40))
                    await stream.send_all(first + ws.send(TextMessage(data="b" * 40)))
                    await trio.sleep_forever()

    with trio.fail_after(10):
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, two_frames_at_once, 0, host="127.0.0.1")
        )
        chaos = ChaosProxy("127.0.0.1", listeners[0].socket.getsockname()[1])
        await nursery.start(chaos.serve)
        async with client(nursery, chaos.port) as ws:
            assert chaos.cut_mid_frame() == 1
            go.set()
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert close_code(info) == 1006
        assert chaos.connections_cut == 1


async def test_cut_mid_frame_does_not_arm_later_connections(
    nursery: trio.Nursery, proxy: ChaosProxy
) -> None:
    with trio.fail_after(10):
        assert proxy.cut_mid_frame() == 0
        async with client(nursery, proxy.port) as ws:
            await echo(ws, "fine")
        assert proxy.connections_cut == 0


async def test_refuse_and_accept_again(nursery: trio.Nursery, proxy: ChaosProxy) -> None:
    with trio.fail_after(10):
        port = proxy.port
        async with client(nursery, port) as ws:
            proxy.refuse()
            assert proxy.refusing
            await assert_connection_refused(port)
            await echo(ws, "live connections keep working")
            proxy.accept_again()
            async with client(nursery, port) as second:
                await echo(second, "same port again")
        assert proxy.connections_total == 2
        assert proxy.faults_injected == 1


async def test_unreachable_target_resets_the_client(
    nursery: trio.Nursery, server: TestServer, proxy: ChaosProxy
) -> None:
    with trio.fail_after(10):
        server.refuse()  # the backend is down, the proxy is up
        stream = await trio.open_tcp_stream("127.0.0.1", proxy.port)
        try:
            with pytest.raises(trio.BrokenResourceError):  # b"" would mean a FIN: we want a reset
                await stream.receive_some()
        finally:
            await trio.aclose_forcefully(stream)
        await proxy.wait_connections(0)


async def test_serve_twice_is_an_error(proxy: ChaosProxy) -> None:
    with trio.fail_after(10), pytest.raises(RuntimeError, match="already running"):
        await proxy.serve()


def test_port_before_serving_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no port yet"):
        _ = ChaosProxy("127.0.0.1", 1).url


def _server_stream(*messages: str | bytes) -> tuple[bytes, list[bytes]]:
    """A server's handshake response and its frames, as a ChaosProxy sees them."""
    connection = Connection(ConnectionType.SERVER)
    handshake = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    frames = [
        connection.send(TextMessage(data=m) if isinstance(m, str) else BytesMessage(data=m))
        for m in messages
    ]
    return handshake, frames


def test_frame_tracker_cuts_inside_the_first_unit() -> None:
    handshake, (small, medium, large) = _server_stream("hi", "x" * 300, b"y" * 70_000)
    tracker = _FrameTracker()
    # The handshake itself is the first unit.
    assert tracker.cut_point(handshake + small) < len(handshake)
    tracker.feed(handshake)
    for chunk in (small + medium, medium + small, large + small):
        first = len(chunk) - len(small) if chunk.endswith(small) else len(small)
        assert tracker.cut_point(chunk) < first
        tracker.feed(chunk)
    # A chunk that starts mid-frame: the cut stays inside that frame's tail.
    tracker.feed(large[:10])
    tail = large[10:] + small
    assert tracker.cut_point(tail) < len(large) - 10
    # A header split across chunks.
    tracker.feed(large[10:])
    tracker.feed(medium[:1])
    assert tracker.cut_point(medium[1:] + small) < len(medium) - 1


def test_frame_tracker_handles_the_terminator_split_across_chunks() -> None:
    handshake, (small,) = _server_stream("hi")
    tracker = _FrameTracker()
    tracker.feed(handshake[:-3])
    tracker.feed(handshake[-3:-1])
    assert tracker.cut_point(handshake[-1:] + small) == 0  # one byte left: send nothing
    tracker.feed(handshake[-1:])
    assert tracker.cut_point(small + small) < len(small)


def test_frame_tracker_falls_back_to_half_a_chunk_on_other_protocols() -> None:
    tracker = _FrameTracker()
    assert tracker.cut_point(b"not http at all" * 4) == 30
