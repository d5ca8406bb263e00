"""The "trio-websocket" transport (trio_pterows/transports/_trio_websocket.py).

It hooks into trio-websocket internals: the first half checks they are still there.
If this file fails after a trio-websocket upgrade, read the transport module against
the new trio_websocket/_impl.py before moving the pin in pyproject.toml. The second
half drives the transport through the seam with a wsproto server written by hand.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket
from trio_websocket import ConnectionClosed, WebSocketConnection
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from trio_pterows.transports._base import (
    CloseInfo,
    HandshakeParams,
    TransportClosed,
    TransportConnection,
)
from trio_pterows.transports._trio_websocket import TrioWebSocketConnection

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
EXPECTED_PIN = ">=0.12.2,<0.13"

#: Methods the transport calls or overrides; all are coroutine functions.
ASYNC_METHODS = [
    "_reader_task",
    "_handle_message_event",
    "_handle_pong_event",
    "_handle_accept_connection_event",
    "_handle_close_connection_event",
    "_handle_reject_data_event",
    "_send",
    "_abort_web_socket",
]
HANDLERS = [
    "_handle_message_event",
    "_handle_pong_event",
    "_handle_accept_connection_event",
    "_handle_close_connection_event",
    "_handle_reject_data_event",
]


@pytest.mark.parametrize("name", ASYNC_METHODS)
def test_private_methods_exist_and_are_async(name: str) -> None:
    method = getattr(WebSocketConnection, name, None)
    assert method is not None, f"WebSocketConnection.{name} is gone"
    assert inspect.iscoroutinefunction(method)


@pytest.mark.parametrize("name", HANDLERS)
def test_event_handlers_take_one_event(name: str) -> None:
    params = list(inspect.signature(getattr(WebSocketConnection, name)).parameters)
    assert params == ["self", "event"]


def test_send_takes_one_event() -> None:
    assert list(inspect.signature(WebSocketConnection._send).parameters) == ["self", "event"]


def test_reader_task_takes_no_arguments() -> None:
    assert list(inspect.signature(WebSocketConnection._reader_task).parameters) == ["self"]


def test_reader_dispatches_through_overridable_handlers() -> None:
    # ManagedConnection's overrides only take effect if the reader looks the handlers up
    # on self (a handlers table built from bound methods), not on the base class.
    source = inspect.getsource(WebSocketConnection._reader_task)
    for name in HANDLERS:
        assert f"self.{name}" in source


def test_constructor_accepts_the_keywords_we_pass() -> None:
    params = inspect.signature(WebSocketConnection.__init__).parameters
    assert list(params)[1:3] == ["stream", "ws_connection"]
    for keyword in (
        "host",
        "path",
        "client_subprotocols",
        "client_extra_headers",
        "max_message_size",
        "receive_buffer_size",
    ):
        assert keyword in params
        assert params[keyword].kind is inspect.Parameter.KEYWORD_ONLY


def test_public_helpers_we_use() -> None:
    reason = trio_websocket.CloseReason(1009, "too big")
    assert reason.code == 1009
    assert reason.reason == "too big"
    error = ConnectionClosed(reason)
    assert error.reason is reason
    assert issubclass(trio_websocket.ConnectionRejected, Exception)


def _client_pair() -> tuple[WebSocketConnection, trio.abc.Stream]:
    client_stream, _server_stream = trio.testing.memory_stream_pair()
    conn = WebSocketConnection(
        client_stream,
        WSConnection(ConnectionType.CLIENT),
        host="example.com",
        path="/socket",
        client_subprotocols=["chat"],
        client_extra_headers=[(b"origin", b"https://example.com")],
        max_message_size=1234,
        receive_buffer_size=4096,
    )
    return conn, client_stream


def test_instance_attributes_have_the_expected_shapes() -> None:
    conn, stream = _client_pair()
    assert conn._stream is stream
    assert isinstance(conn._open_handshake, trio.Event)
    assert not conn._open_handshake.is_set()
    assert isinstance(conn._close_handshake, trio.Event)
    assert conn._message_parts == []
    assert conn._message_size == 0
    assert conn._max_message_size == 1234
    assert isinstance(conn._wsproto, WSConnection)
    assert conn._wsproto.client
    assert isinstance(conn._stream_lock, trio.StrictFIFOLock)
    assert conn._reader_running is True
    assert conn._close_reason is None
    assert conn.closed is None
    assert conn._reject_body == b""
    assert hasattr(conn, "_reject_status")
    assert hasattr(conn, "_reject_headers")


def test_wsproto_connection_has_the_hooks_we_use() -> None:
    ws = WSConnection(ConnectionType.CLIENT)
    assert ws.connection is None  # None until the upgrade completed
    assert list(inspect.signature(WSConnection.receive_data).parameters) == ["self", "data"]


# ------------------------------------------------------------ behaviour of hooks


class FakeServer:
    """The server half of a memory stream pair, driven by wsproto by hand."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.SERVER)
        self.pending: list[Event] = []

    async def next_event(self) -> Event:
        while not self.pending:
            data = await self.stream.receive_some(65536)
            assert data, "the client closed the stream"
            self.ws.receive_data(data)
            self.pending.extend(self.ws.events())
        return self.pending.pop(0)

    async def send(self, *events: Event) -> None:
        await self.stream.send_all(b"".join(self.ws.send(event) for event in events))


class Handler:
    """The manager's side of the seam, recording what the transport reports."""

    def __init__(self) -> None:
        self.messages: list[str | bytes] = []
        self.pongs: list[bytes] = []
        self.interrupted: list[object] = []
        self.ended: list[object] = []
        self.got_message = trio.Event()

    async def on_message(self, data: str | bytes) -> None:
        self.messages.append(data)
        self.got_message.set()
        self.got_message = trio.Event()

    def on_pong(self, payload: bytes) -> None:
        self.pongs.append(payload)

    def on_write_interrupted(self, conn: TransportConnection) -> None:
        self.interrupted.append(conn)

    def on_end(self, conn: TransportConnection) -> None:
        self.ended.append(conn)


def _params(max_message_size: int = 1024, close_timeout: float = 2.0) -> HandshakeParams:
    return HandshakeParams(
        host_header="example.com",
        resource="/socket?x=1",
        subprotocols=("chat",),
        headers=(("Origin", "https://example.com"),),
        max_message_size=max_message_size,
        receive_buffer_size=4096,
        close_timeout=close_timeout,
    )


def _managed(
    stream: trio.abc.Stream, nursery: Any = None, max_message_size: int = 1024
) -> tuple[TrioWebSocketConnection, Handler]:
    handler = Handler()
    conn = TrioWebSocketConnection(stream, _params(max_message_size), handler, nursery)
    return conn, handler


async def _open(server: FakeServer, conn: TrioWebSocketConnection) -> Request:
    request = await server.next_event()
    assert isinstance(request, Request)
    await server.send(AcceptConnection(subprotocol="chat"))
    await conn._pw.ready.wait()
    conn.check_opened()
    return request


@contextlib.asynccontextmanager
async def _running(
    max_message_size: int = 1024,
) -> AsyncIterator[tuple[FakeServer, TrioWebSocketConnection, Handler, Request]]:
    """A connection whose reader runs and whose handshake the server accepted;
    the reader is cancelled at the end (bounded: 5 s in all)."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    server = FakeServer(server_stream)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            conn, handler = _managed(client_stream, nursery, max_message_size)
            nursery.start_soon(conn.run_reader)
            request = await _open(server, conn)
            yield server, conn, handler, request
            nursery.cancel_scope.cancel()


async def test_the_connection_receives_through_its_hooks() -> None:
    async with _running() as (server, conn, seen, request):
        assert conn.transport_name == "trio-websocket"
        assert conn.subprotocol == "chat"
        assert conn.extensions == ()
        assert conn.close_info is None
        assert request.target == "/socket?x=1"
        assert request.subprotocols == ["chat"]
        assert (b"origin", b"https://example.com") in [
            (k.lower(), v) for k, v in request.extra_headers
        ]

        # A fragmented text message arrives whole, through _handle_message_event.
        await server.send(TextMessage("hel", message_finished=False), TextMessage("lo"))
        await seen.got_message.wait()
        assert seen.messages == ["hello"]
        await server.send(BytesMessage(b"\x00", message_finished=False), BytesMessage(b"\xff"))
        await seen.got_message.wait()
        assert seen.messages == ["hello", b"\x00\xff"]
        assert conn._message_parts == []
        assert conn._message_size == 0

        # A pong goes through _handle_pong_event; our ping goes out through _send.
        await conn.ping(b"beat-1")
        ping = await server.next_event()
        assert isinstance(ping, Ping)
        assert ping.payload == b"beat-1"
        await server.send(Pong(payload=b"beat-1"))
        await server.send(TextMessage("after the pong"))
        await seen.got_message.wait()  # frames are handled in order
        assert seen.pongs == [b"beat-1"]

        # The peer closes: the client answers, the server drops TCP, the reader stops.
        await server.send(CloseConnection(code=1000, reason="bye"))
        answer = await server.next_event()
        assert isinstance(answer, CloseConnection)
        assert answer.code == 1000
        await server.stream.aclose()
        await conn.ended.wait()
        assert seen.ended == [conn]
        assert conn._pw.reader_error is None
        assert conn.close_info == CloseInfo(1000, "bye", True)
        assert seen.interrupted == []
        with pytest.raises(TransportClosed):
            await conn.ping(b"late")
        with pytest.raises(TransportClosed):
            await conn.send("late")


async def test_send_many_writes_every_frame_in_order() -> None:
    async with _running() as (server, conn, _seen, _):
        await conn.send_many(["a", b"b", "c"])
        got = [await server.next_event() for _ in range(3)]
        assert [e.data for e in got] == ["a", b"b", "c"]  # type: ignore[attr-defined]


async def test_the_connection_closes_1009_on_oversized_message() -> None:
    async with _running(max_message_size=10) as (server, conn, seen, _):
        await server.send(TextMessage("x" * 11))
        close = await server.next_event()
        assert isinstance(close, CloseConnection)
        assert close.code == 1009
        # The reader stops once the close handshake completes.
        await server.send(close.response())
        await conn.ended.wait()
        info = conn.close_info
        assert info is not None
        assert info.code == 1009
        assert seen.messages == []


async def test_the_handshake_is_let_go_once_the_connection_is_open() -> None:
    # The transport swaps wsproto's H11Handshake for a stub after the upgrade
    # (about 1.5 KiB per idle connection); messages must still flow both ways.
    async with _running() as (server, conn, seen, _):
        assert type(conn._wsproto.handshake).__name__ == "_OpenedHandshake"
        assert conn._wsproto.state.name == "OPEN"
        await server.send(TextMessage("after"))
        await seen.got_message.wait()
        await conn.send("reply")
        reply = await server.next_event()
        assert isinstance(reply, TextMessage)
        assert reply.data == "reply"


@pytest.mark.parametrize("who", ["peer", "protocol-error", "us"])
async def test_every_closing_handshake_is_bounded_by_close_timeout(
    who: str, autojump_clock: trio.testing.MockClock
) -> None:
    """The peer never hangs up: the stream is closed close_timeout (2 s) after the
    closing handshake began, whoever began it, and the reader ends."""
    async with _running() as (server, conn, seen, _):
        start = trio.current_time()
        if who == "peer":
            await server.send(CloseConnection(code=4000, reason="bye"))
        elif who == "protocol-error":
            # A text frame that is not UTF-8: wsproto reports it, we send 1007.
            await server.stream.send_all(b"\x81\x02\xff\xfe")
        else:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.aclose, 1000, "done")
                close = await server.next_event()
                assert isinstance(close, CloseConnection)
        await conn.ended.wait()
        assert trio.current_time() - start == pytest.approx(2.0)
        info = conn.close_info
        assert info is not None
        assert info.code == {"peer": 4000, "protocol-error": 1007, "us": 1000}[who]
        assert not info.clean or who == "peer"  # the peer answered ours only if it began
        if who == "protocol-error":
            answer = await server.next_event()
            assert isinstance(answer, CloseConnection)
            assert answer.code == 1007
        assert seen.ended == [conn]


def test_wsproto_uses_its_handshake_after_the_upgrade_only_for_events() -> None:
    # The stub only has events(): every other use of self.handshake in WSConnection
    # must sit behind `if self.connection is None`.
    source = inspect.getsource(WSConnection)
    uses = [line.strip() for line in source.splitlines() if "self.handshake" in line]
    assert uses == [
        "self.handshake = H11Handshake(connection_type)",
        "return self.handshake.state",
        "self.handshake.initiate_upgrade_connection(headers, path)",
        "data += self.handshake.send(event)",
        "self.connection = self.handshake.connection",
        "self.handshake.receive_data(data)",
        "self.connection = self.handshake.connection",
        "yield from self.handshake.events()",
    ]


def test_the_connection_keeps_instance_dict_keys_shared() -> None:
    # CPython shares an instance dict's keys (a compact dict) only up to 30 keys;
    # past that every connection pays for a private 1.5 KiB table. The transport
    # keeps its own state in one slotted attribute for that reason.
    client_stream, _ = trio.testing.memory_stream_pair()
    conn, _seen = _managed(client_stream)
    base, _ = _client_pair()
    assert len(vars(conn)) <= len(vars(base)) + 1
    assert len(vars(conn)) <= 30


async def test_get_message_is_refused() -> None:
    client_stream, _ = trio.testing.memory_stream_pair()
    conn, _seen = _managed(client_stream)
    with pytest.raises(RuntimeError, match="async for"):
        await conn.get_message()


# ----------------------------------------------------------------------- the pin


def _pin_from_pyproject() -> str:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        tomllib = pytest.importorskip("tomli")
    if not PYPROJECT.is_file():  # pragma: no cover - running from an installed sdist
        pytest.skip("pyproject.toml is not next to the tests")
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    for requirement in data["project"]["dependencies"]:
        match = re.fullmatch(r"trio-websocket\s*(?P<spec>[^;]*)", requirement.strip())
        if match:
            return match["spec"].replace(" ", "")
    raise AssertionError("trio-websocket is not a dependency in pyproject.toml")


def _version_tuple(version: str) -> tuple[int, ...]:
    match = re.match(r"^(\d+(?:\.\d+)*)", version)
    assert match is not None, version
    return tuple(int(part) for part in match.group(1).split("."))


def test_pin_in_pyproject_is_the_expected_one() -> None:
    assert _pin_from_pyproject() == EXPECTED_PIN


def test_installed_trio_websocket_satisfies_the_pin() -> None:
    installed = importlib.metadata.version("trio-websocket")
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:  # pragma: no cover
        version = _version_tuple(installed)
        assert (0, 12, 2) <= version < (0, 13)
    else:
        assert installed in SpecifierSet(_pin_from_pyproject())
        assert installed in SpecifierSet(EXPECTED_PIN)
