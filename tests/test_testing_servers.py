"""TestServer and serve_echo, driven by a raw trio-websocket client."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import trio
import trio.testing
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    wrap_client_stream,
)
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, Ping, Pong, TextMessage

from trio_pterows.testing import TestServer, serve_echo
from trio_pterows.testing._server_io import strip_pong_frames as _strip_pong_frames

from .conftest import client


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    # A leaked socket warns when collected: make that happen in the test that leaked it.
    yield
    gc.collect()


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


async def test_echo_text_and_bytes(nursery: trio.Nursery) -> None:
    server = TestServer()
    with trio.fail_after(10):
        url = await nursery.start(server.serve)
        assert url == f"ws://127.0.0.1:{server.port}/"
        assert server.url == url
        async with client(nursery, server.port) as ws:
            await ws.send_message("hello")
            assert await ws.get_message() == "hello"
            await ws.send_message(b"\x00\xff")
            assert await ws.get_message() == b"\x00\xff"
            assert server.connections == 1
        assert list(server.received) == ["hello", b"\x00\xff"]
        assert server.accepted == 1
        await server.wait_connections(0)


async def test_serve_echo_reports_the_server(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        server = await nursery.start(serve_echo)
        assert isinstance(server, TestServer)
        assert server.url_for("chat") == f"ws://127.0.0.1:{server.port}/chat"
        async with client(nursery, server.port, "/some/path") as ws:
            await ws.send_message("x")
            assert await ws.get_message() == "x"


async def test_history_is_bounded(nursery: trio.Nursery) -> None:
    server = TestServer(history=2)
    with trio.fail_after(10):
        await nursery.start(server.serve)
        async with client(nursery, server.port) as ws:
            for text in ("a", "b", "c"):
                await ws.send_message(text)
                assert await ws.get_message() == text
        assert list(server.received) == ["b", "c"]
        assert server.received_total == 3


async def test_text_heartbeat(nursery: trio.Nursery) -> None:
    server = TestServer()
    with trio.fail_after(10):
        await nursery.start(server.serve)
        async with client(nursery, server.port) as ws:
            await ws.send_message("ping")
            assert await ws.get_message() == "pong"
            # pong_text None: the heartbeat gets no answer at all.
            server.pong_text = None
            await ws.send_message("ping")
            await ws.send_message("after")
            assert await ws.get_message() == "after"
            # ping_text None: "ping" is an ordinary message.
            server.ping_text = None
            await ws.send_message("ping")
            assert await ws.get_message() == "ping"
            await server.wait_received(4)
        assert list(server.received) == ["ping", "ping", "after", "ping"]


async def test_custom_handler_then_echo(nursery: trio.Nursery) -> None:
    async def greet(server: TestServer, connection: WebSocketConnection) -> None:
        await connection.send_message(f"hello {connection.path}")
        await server.echo(connection)

    server = TestServer(greet)
    with trio.fail_after(10):
        await nursery.start(server.serve)
        async with client(nursery, server.port, "/room") as ws:
            assert await ws.get_message() == "hello /room"
            await ws.send_message("x")
            assert await ws.get_message() == "x"


async def test_handler_return_closes_with_1000(nursery: trio.Nursery) -> None:
    async def brief(server: TestServer, connection: WebSocketConnection) -> None:
        await connection.send_message("bye")

    server = TestServer(brief)
    with trio.fail_after(10):
        await nursery.start(server.serve)
        async with client(nursery, server.port) as ws:
            assert await ws.get_message() == "bye"
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert close_code(info) == 1000


async def test_handler_error_fails_serve() -> None:
    async def broken(server: TestServer, connection: WebSocketConnection) -> None:
        raise ValueError("handler bug")

    server = TestServer(broken)
    with trio.fail_after(10), pytest.RaisesGroup(ValueError, flatten_subgroups=True):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            async with client(nursery, server.port):
                await trio.sleep_forever()  # cancelled when serve() crashes


async def test_close_all_delivers_code_and_reason(nursery: trio.Nursery) -> None:
    server = TestServer()
    with trio.fail_after(10):
        await nursery.start(server.serve)
        async with client(nursery, server.port) as ws:
            await server.wait_connections(1)
            assert server.close_all(4001, "bye") == 1
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert close_code(info) == 4001
            assert info.value.reason is not None
            assert info.value.reason.reason == "bye"
        await server.wait_connections(0)


async def test_close_all_works_while_not_answering(nursery: trio.Nursery) -> None:
    server = TestServer()
    with trio.fail_after(10):
        await nursery.start(server.serve)
        async with client(nursery, server.port) as ws:
            await server.wait_connections(1)
            server.stop_answering()
            server.close_all(4002)
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert close_code(info) == 4002


async def test_stop_answering_holds_pings_and_messages(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = TestServer()
    with trio.fail_after(120):
        await nursery.start(server.serve)
        async with client(nursery, server.port) as ws:
            with trio.fail_after(5):
                await ws.ping(b"before")  # answered: the check below can fail
            server.stop_answering()
            assert not server.answering
            with trio.move_on_after(30) as ping_wait:
                await ws.ping(b"during")
            assert ping_wait.cancelled_caught
            await ws.send_message("held")
            with trio.move_on_after(30) as message_wait:
                await ws.get_message()
            assert message_wait.cancelled_caught
            assert server.connections == 1  # nothing was closed
            server.resume()
            with trio.fail_after(5):
                assert await ws.get_message() == "held"  # held, not lost
                await ws.ping(b"after")


async def test_stop_answering_stalls_new_handshakes(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = TestServer()
    with trio.fail_after(120):
        await nursery.start(server.serve)
        server.stop_answering()
        with trio.move_on_after(30) as handshake_wait:
            async with client(nursery, server.port):
                pass
        assert handshake_wait.cancelled_caught
        server.resume()
        async with client(nursery, server.port) as ws:
            await ws.send_message("x")
            assert await ws.get_message() == "x"


async def test_auto_pong_off_leaves_pings_unanswered(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = TestServer(auto_pong=False)
    with trio.fail_after(120):
        await nursery.start(server.serve)
        async with client(nursery, server.port) as ws:
            with trio.move_on_after(30) as ping_wait:
                await ws.ping(b"one")
            assert ping_wait.cancelled_caught
            await ws.send_message("still echoing")
            with trio.fail_after(5):
                assert await ws.get_message() == "still echoing"
            server.auto_pong = True
            with trio.fail_after(5):
                await ws.ping(b"two")


async def handshake_rejected_with(port: int) -> int:
    """Connect and return the HTTP status the server rejected the handshake with."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        with pytest.RaisesGroup(ConnectionRejected) as info:
            async with trio.open_nursery() as nursery:
                await wrap_client_stream(nursery, stream, "127.0.0.1", "/")
    finally:
        await trio.aclose_forcefully(stream)
    rejected = info.value.exceptions[0]
    assert isinstance(rejected, ConnectionRejected)
    return rejected.status_code


async def test_refuse_with_status(nursery: trio.Nursery) -> None:
    server = TestServer()
    with trio.fail_after(10):
        await nursery.start(server.serve)
        server.refuse(503)
        assert await handshake_rejected_with(server.port) == 503
        assert server.rejected == 1
        assert server.accepted == 0
        server.accept_again()
        async with client(nursery, server.port) as ws:
            await ws.send_message("x")
            assert await ws.get_message() == "x"


def test_refuse_rejects_a_bad_status() -> None:
    with pytest.raises(ValueError, match="status"):
        TestServer().refuse(200)


async def test_refuse_without_status_closes_the_listener(nursery: trio.Nursery) -> None:
    server = TestServer()
    with trio.fail_after(10):
        await nursery.start(server.serve)
        async with client(nursery, server.port) as ws:
            server.refuse()
            await assert_connection_refused(server.port)
            # Open connections are untouched.
            await ws.send_message("still here")
            assert await ws.get_message() == "still here"
        server.accept_again()
        async with client(nursery, server.port) as ws:
            await ws.send_message("back")
            assert await ws.get_message() == "back"


async def test_restart_listens_on_the_same_port(nursery: trio.Nursery) -> None:
    server = TestServer()
    with trio.fail_after(10):
        await nursery.start(server.serve)
        port = server.port
        async with client(nursery, port) as ws:
            await server.wait_connections(1)
            await server.restart()
            assert server.connections == 0
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert close_code(info) == 1006
        assert server.port == port
        assert server.restarts == 1
        async with client(nursery, port) as ws:
            await ws.send_message("again")
            assert await ws.get_message() == "again"
        assert server.accepted == 2


async def test_restart_with_code_and_downtime(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = TestServer()
    with trio.fail_after(60):
        await nursery.start(server.serve)
        async with client(nursery, server.port) as ws:
            await server.wait_connections(1)
            start = trio.current_time()
            async with trio.open_nursery() as inner:
                inner.start_soon(lambda: server.restart(code=1012, downtime=5))
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                assert close_code(info) == 1012
                await server.wait_connections(0)
                await assert_connection_refused(server.port)  # down for 5 s
            assert trio.current_time() - start >= 5
        async with client(nursery, server.port) as ws:
            await ws.send_message("up")
            assert await ws.get_message() == "up"


async def test_restart_resets_refuse_and_stop_answering(nursery: trio.Nursery) -> None:
    server = TestServer()
    with trio.fail_after(10):
        await nursery.start(server.serve)
        server.refuse(503)
        server.stop_answering()
        await server.restart()
        assert server.answering
        async with client(nursery, server.port) as ws:
            await ws.send_message("x")
            assert await ws.get_message() == "x"


async def test_send_to_all(nursery: trio.Nursery) -> None:
    server = TestServer()
    with trio.fail_after(10):
        await nursery.start(server.serve)
        async with client(nursery, server.port) as first, client(nursery, server.port) as second:
            await server.wait_accepted(2)
            assert await server.send_to_all("news") == 2
            assert await first.get_message() == "news"
            assert await second.get_message() == "news"


async def test_handshake_delay(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = TestServer(handshake_delay=3)
    with trio.fail_after(60):
        await nursery.start(server.serve)
        start = trio.current_time()
        async with client(nursery, server.port) as ws:
            assert trio.current_time() - start >= 3
            await ws.send_message("x")
            assert await ws.get_message() == "x"
        server.handshake_delay = 0
        start = trio.current_time()
        async with client(nursery, server.port):
            assert trio.current_time() - start < 3


async def test_serve_again_after_cancel_uses_the_same_port() -> None:
    server = TestServer()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            port = server.port
            with pytest.raises(RuntimeError, match="already running"):
                await server.serve()
            nursery.cancel_scope.cancel()
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            assert server.port == port
            async with client(nursery, port) as ws:
                await ws.send_message("x")
                assert await ws.get_message() == "x"
            nursery.cancel_scope.cancel()


def test_port_before_serving_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no port yet"):
        _ = TestServer().port


def test_testserver_is_not_collected() -> None:
    assert TestServer.__test__ is False


def _server_bytes(*events: Ping | Pong | TextMessage | BytesMessage) -> list[bytes]:
    connection = Connection(ConnectionType.SERVER)
    return [connection.send(event) for event in events]


def test_strip_pong_frames() -> None:
    text, pong, big, huge = _server_bytes(
        TextMessage(data="hi"),
        Pong(payload=b"p"),
        BytesMessage(data=b"x" * 300),
        BytesMessage(data=b"y" * 70000),
    )
    assert _strip_pong_frames(pong) == b""
    assert _strip_pong_frames(text + pong + big) == text + big
    assert _strip_pong_frames(huge + pong + text) == huge + text
    handshake = b"HTTP/1.1 101 Switching Protocols\r\n\r\n"
    assert _strip_pong_frames(handshake) == handshake
    assert _strip_pong_frames(pong[:-1]) == pong[:-1]  # not whole frames: untouched
