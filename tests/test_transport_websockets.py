"""The "websockets" transport, driven directly through the seam (transports/_base.py).

Real peers: a `websockets` server in a subprocess (with and without permessage-deflate)
and trio-websocket's server (which never accepts an extension). Hostile peers: hand-made
bytes over ``trio.testing`` memory streams, where everything timed runs on the
autojump clock with an upper bound.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing
from trio.testing import MockClock

import trio_pterows as pw
from trio_pterows.transports._base import (
    MAX_REJECTION_BODY,
    CloseInfo,
    HandshakeError,
    TransportClosed,
)
from trio_pterows.transports._websockets import WebsocketsConnection, WebsocketsTransport

from .conftest import SeamRecorder, seam_params

pytest.importorskip("websockets")

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def open_tcp(
    nursery: trio.Nursery, port: int, handler: SeamRecorder, **changes: object
) -> WebsocketsConnection:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    changes.setdefault("host_header", f"127.0.0.1:{port}")
    return await WebsocketsTransport().open(nursery, stream, seam_params(**changes), handler)


# -- real peers -------------------------------------------------------------------


async def test_echo_ping_and_clean_close(nursery: trio.Nursery, websockets_server: int) -> None:
    handler = SeamRecorder()
    with trio.fail_after(20):
        conn = await open_tcp(nursery, websockets_server, handler)
        assert conn.transport_name == "websockets"
        assert conn.extensions == ()
        assert conn.close_info is None
        await conn.send("hello")
        await conn.send(b"\x00\xff" * 40_000)  # 80 kB: a 64-bit length, several reads
        await conn.send_many(["a", b"b", "c"])
        await conn.ping(b"p1")
        await handler.wait_for(lambda: len(handler.messages) == 5 and handler.pongs)
        assert handler.messages == ["hello", b"\x00\xff" * 40_000, "a", b"b", "c"]
        assert handler.pongs == [b"p1"]
        await conn.aclose(1000, "bye")
    assert conn.ended.is_set()
    assert conn.close_info == CloseInfo(1000, "bye", True)
    assert handler.ends == [CloseInfo(1000, "bye", True)]
    with pytest.raises(TransportClosed):
        await conn.send("late")


async def test_deflate_negotiated_with_websockets(
    nursery: trio.Nursery, websockets_server: int
) -> None:
    handler = SeamRecorder()
    big = "compressible " * 50_000  # 650 kB of text
    with trio.fail_after(20):
        conn = await open_tcp(nursery, websockets_server, handler, compression="deflate")
        assert conn.extensions == ("permessage-deflate",)
        await conn.send(big)
        await conn.send_many([b"x" * 1000, "y"])
        await handler.wait_for(lambda: len(handler.messages) == 3)
        await conn.aclose(1000, "")
    assert handler.messages == [big, b"x" * 1000, "y"]


async def test_deflate_refused_by_websockets(
    nursery: trio.Nursery, websockets_server_no_deflate: int
) -> None:
    handler = SeamRecorder()
    with trio.fail_after(20):
        conn = await open_tcp(nursery, websockets_server_no_deflate, handler, compression="deflate")
        assert conn.extensions == ()
        await conn.send("plain")
        await handler.wait_for(lambda: handler.messages == ["plain"])
        await conn.aclose(1000, "")


async def test_deflate_offered_to_trio_websocket(nursery: trio.Nursery, echo_url: str) -> None:
    port = int(echo_url.split(":")[2].split("/")[0])
    handler = SeamRecorder()
    with trio.fail_after(20):
        conn = await open_tcp(nursery, port, handler, compression="deflate")
        assert conn.extensions == ()
        await conn.send("ping")  # the conftest server answers "pong"
        await handler.wait_for(lambda: handler.messages == ["pong"])
        await conn.aclose(1000, "")
    assert conn.close_info is not None
    assert conn.close_info.code == 1000


async def test_server_close_code(nursery: trio.Nursery, websockets_server: int) -> None:
    handler = SeamRecorder()
    with trio.fail_after(20):
        conn = await open_tcp(nursery, websockets_server, handler, resource="/close/4409")
        await conn.ended.wait()
    assert handler.ends == [CloseInfo(4409, "scripted close", True)]


async def test_oversized_message_closes_1009(nursery: trio.Nursery, websockets_server: int) -> None:
    handler = SeamRecorder()
    with trio.fail_after(20):
        conn = await open_tcp(nursery, websockets_server, handler, max_message_size=1000)
        await conn.send("small")
        await conn.send("x" * 1001)  # echoed back: too big for us
        await conn.ended.wait()
    assert handler.messages == ["small"]
    assert conn.close_info is not None
    assert conn.close_info.code == 1009


async def test_concurrent_senders_keep_each_order(
    nursery: trio.Nursery, websockets_server: int
) -> None:
    handler = SeamRecorder()
    count = 200
    with trio.fail_after(30):
        conn = await open_tcp(nursery, websockets_server, handler)

        async def sender(name: str) -> None:
            for i in range(count):
                if i % 10 == 0:
                    await conn.send_many([f"{name}{i}", f"{name}{i + 1}"])
                elif i % 10 != 1:
                    await conn.send(f"{name}{i}")

        async with trio.open_nursery() as senders:
            for name in "abcdefgh":
                senders.start_soon(sender, name)
        await handler.wait_for(lambda: len(handler.messages) == 8 * count)
        await conn.aclose(1000, "")
    for name in "abcdefgh":
        mine = [m for m in handler.messages if isinstance(m, str) and m[0] == name]
        assert mine == [f"{name}{i}" for i in range(count)]


# -- hostile peers over memory streams ----------------------------------------------


class Peer:
    """The server side of a memory stream: hand-made HTTP and frames."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buffer = bytearray()
        self.key = b""

    async def _fill(self) -> bool:
        data = await self.stream.receive_some(65536)
        self.buffer += data
        return bool(data)

    async def read_request(self) -> bytes:
        while b"\r\n\r\n" not in self.buffer:
            assert await self._fill(), "the client closed before its request"
        end = self.buffer.index(b"\r\n\r\n") + 4
        request = bytes(self.buffer[:end])
        del self.buffer[:end]
        for line in request.split(b"\r\n"):
            if line.lower().startswith(b"sec-websocket-key:"):
                self.key = line.split(b":", 1)[1].strip()
        return request

    def accept_value(self) -> bytes:
        return base64.b64encode(hashlib.sha1(self.key + GUID).digest())

    async def upgrade(self, extra: bytes = b"", accept: bytes | None = None) -> bytes:
        request = await self.read_request()
        value = self.accept_value() if accept is None else accept
        await self.stream.send_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + value + b"\r\n" + extra + b"\r\n"
        )
        return request

    async def send(self, *frames: bytes) -> None:
        await self.stream.send_all(b"".join(frames))

    async def frame(self) -> tuple[int, bytes]:
        """The client's next frame (opcode, unmasked payload); (-1, b"") at EOF."""
        while True:
            parsed = _parse_masked(self.buffer)
            if parsed is not None:
                opcode, payload, used = parsed
                del self.buffer[:used]
                return opcode, payload
            if not await self._fill():
                return -1, b""

    async def closed(self) -> None:
        """Wait until the client closes the stream (reading and dropping)."""
        while await self._fill():
            self.buffer.clear()


def _parse_masked(buffer: bytearray) -> tuple[int, bytes, int] | None:
    if len(buffer) < 2:
        return None
    length, offset = buffer[1] & 0x7F, 2
    if length == 126:
        length, offset = int.from_bytes(buffer[2:4], "big"), 4
    elif length == 127:
        length, offset = int.from_bytes(buffer[2:10], "big"), 10
    if len(buffer) < offset + 4 + length:
        return None
    mask = buffer[offset : offset + 4]
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(buffer[offset + 4 : offset + 4 + length]))
    return buffer[0] & 0x0F, data, offset + 4 + length


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """A server frame (unmasked)."""
    head = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        return bytes([head, n]) + payload
    if n < 65536:
        return bytes([head, 126]) + n.to_bytes(2, "big") + payload
    return bytes([head, 127]) + n.to_bytes(8, "big") + payload


def close_frame(code: int, reason: str = "") -> bytes:
    return frame(0x8, code.to_bytes(2, "big") + reason.encode())


async def open_memory(
    nursery: trio.Nursery,
    handler: SeamRecorder,
    serve: Callable[[Peer], Awaitable[object]] | None = None,
    *,
    lockstep: bool = False,
    **changes: object,
) -> tuple[WebsocketsConnection, Peer]:
    if lockstep:
        client, server = trio.testing.lockstep_stream_pair()
    else:
        client, server = trio.testing.memory_stream_pair()
    peer = Peer(server)
    nursery.start_soon(serve or Peer.upgrade, peer)
    conn = await WebsocketsTransport().open(nursery, client, seam_params(**changes), handler)
    return conn, peer


async def refused(serve: Callable[[Peer], Awaitable[object]], **changes: object) -> HandshakeError:
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve, Peer(server))
            with pytest.raises(HandshakeError) as info:
                await WebsocketsTransport().open(
                    nursery, client, seam_params(**changes), SeamRecorder()
                )
            nursery.cancel_scope.cancel()
    return info.value


async def test_refusal_body_is_bounded() -> None:
    async def serve(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 100000000\r\n\r\n")
        await peer.send(b"x" * (MAX_REJECTION_BODY + 5000))
        await trio.sleep_forever()  # the rest of the "body" never comes

    error = await refused(serve)
    assert error.status_code == 403
    assert "403" in str(error)
    assert error.body == b"x" * MAX_REJECTION_BODY


async def test_refusal_with_short_body() -> None:
    async def serve(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\n\r\nno such")

    error = await refused(serve)
    assert (error.status_code, error.body) == (404, b"no such")


async def test_wrong_accept_is_named() -> None:
    error = await refused(lambda peer: peer.upgrade(accept=b"d3Jvbmc="))
    assert "Sec-WebSocket-Accept" in str(error)
    assert error.status_code is None


async def test_unrequested_subprotocol_is_named() -> None:
    error = await refused(lambda peer: peer.upgrade(b"Sec-WebSocket-Protocol: chat\r\n"))
    assert "unrequested subprotocol" in str(error)


async def test_unrequested_extension_is_named() -> None:
    extra = b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
    error = await refused(lambda peer: peer.upgrade(extra))
    assert "unrequested extension" in str(error)


async def test_eof_during_handshake() -> None:
    async def serve(peer: Peer) -> None:
        await peer.read_request()
        await peer.stream.aclose()

    error = await refused(serve)
    assert "closed during the opening handshake" in str(error)


async def test_request_carries_host_subprotocols_and_headers(nursery: trio.Nursery) -> None:
    requests: list[bytes] = []

    async def serve(peer: Peer) -> None:
        requests.append(await peer.upgrade(b"Sec-WebSocket-Protocol: b\r\n"))

    with trio.fail_after(5):
        conn, _ = await open_memory(
            nursery,
            SeamRecorder(),
            serve,
            host_header="example.com:8443",
            resource="/path?q=1",
            subprotocols=("a", "b"),
            headers=(("Origin", "https://example.com"),),
        )
    assert conn.subprotocol == "b"
    head = requests[0].decode()
    assert head.startswith("GET /path?q=1 HTTP/1.1\r\n")
    assert "\r\nHost: example.com:8443\r\n" in head
    assert "\r\nOrigin: https://example.com\r\n" in head
    assert "\r\nSec-WebSocket-Protocol: a, b\r\n" in head
    assert "Sec-WebSocket-Extensions" not in head  # compression off: nothing offered


async def test_frames_in_the_upgrade_read_and_fragments(nursery: trio.Nursery) -> None:
    handler = SeamRecorder()

    async def serve(peer: Peer) -> None:
        await peer.read_request()
        await peer.send(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
            b"\r\nSec-WebSocket-Accept: " + peer.accept_value() + b"\r\n\r\n",
            frame(0x1, "first é".encode()),
            frame(0x1, b"te", fin=False),
            frame(0x9, b"are you there"),  # a ping between fragments
            frame(0x0, b"x", fin=False),
            frame(0x0, b"t"),
            frame(0x2, b"\x01", fin=False),
            frame(0x0, b"\x02"),
            frame(0xA, b"unsolicited pong"),
        )

    with trio.fail_after(5):
        _, peer = await open_memory(nursery, handler, serve)
        await handler.wait_for(lambda: len(handler.messages) == 3 and handler.pongs)
        assert await peer.frame() == (0xA, b"are you there")  # answered by the protocol
    assert handler.messages == ["first é", "text", b"\x01\x02"]
    assert handler.pongs == [b"unsolicited pong"]


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (frame(0x1, b"rsv", rsv1=True), 1002),  # reserved bit without an extension
        (frame(0x3, b""), 1002),  # reserved opcode
        (frame(0x1, b"\xff\xfe"), 1007),  # invalid UTF-8
        (frame(0x1, b"\xe2\x82", fin=False) + frame(0x0, b"("), 1007),  # across fragments
        (frame(0x2, b"z" * 2000), 1009),  # over max_message_size
        (frame(0x8, b"\x03\xe7"), 1002),  # close code 999
    ],
    ids=["rsv1", "opcode", "utf8", "utf8-fragments", "too-big", "close-code"],
)
async def test_protocol_error_closes_within_close_timeout(
    nursery: trio.Nursery, autojump_clock: MockClock, bad: bytes, code: int
) -> None:
    handler = SeamRecorder()
    with trio.fail_after(60):
        conn, peer = await open_memory(nursery, handler, max_message_size=1000, close_timeout=3.0)
        await peer.send(frame(0x1, b"fine"), bad)
        start = trio.current_time()
        opcode, payload = await peer.frame()
        assert (opcode, int.from_bytes(payload[:2], "big")) == (0x8, code)
        # The peer never answers nor hangs up: the stream is closed all the same.
        await peer.closed()
        assert trio.current_time() - start <= 3.0
        await conn.ended.wait()
    assert handler.messages == ["fine"]
    assert handler.ends == [CloseInfo(code, handler.ends[0].reason, False)]


async def test_peer_close_echoed_then_stream_closed_in_time(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    handler = SeamRecorder()
    with trio.fail_after(60):
        conn, peer = await open_memory(nursery, handler, close_timeout=2.0)
        await peer.send(frame(0x1, b"last"), close_frame(4001, "going"))
        start = trio.current_time()
        assert await peer.frame() == (0x8, (4001).to_bytes(2, "big") + b"going")
        with pytest.raises(TransportClosed):
            await conn.send("too late")
        await peer.closed()  # the peer never hangs up
        assert trio.current_time() - start <= 2.0
        await conn.ended.wait()
    assert handler.messages == ["last"]
    assert handler.ends == [CloseInfo(4001, "going", True)]


async def test_aclose_bounded_when_peer_never_answers(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    handler = SeamRecorder()
    with trio.fail_after(60):
        conn, peer = await open_memory(nursery, handler, close_timeout=1.5)
        start = trio.current_time()
        await conn.aclose(1000, "done")
        assert trio.current_time() - start <= 1.5
        assert await peer.frame() == (0x8, (1000).to_bytes(2, "big") + b"done")
        await peer.closed()
        await conn.ended.wait()
    assert handler.ends == [CloseInfo(1000, "done", False)]


async def test_aclose_bounded_when_peer_stops_reading(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    async def upgrade_then_stop(peer: Peer) -> None:
        await peer.upgrade()
        await trio.sleep_forever()  # never reads again: every write blocks

    handler = SeamRecorder()
    with trio.fail_after(60):
        conn, _ = await open_memory(
            nursery, handler, upgrade_then_stop, lockstep=True, close_timeout=1.0
        )
        start = trio.current_time()
        await conn.aclose(1000, "")
        assert trio.current_time() - start <= 1.0
        await conn.ended.wait()
    assert handler.ends[0].code == 1000
    assert handler.interrupted == 0  # closing anyway: not reported as interrupted


async def test_cancelled_write_is_reported(nursery: trio.Nursery) -> None:
    async def upgrade_then_stop(peer: Peer) -> None:
        await peer.upgrade()
        await trio.sleep_forever()

    handler = SeamRecorder()
    with trio.fail_after(5):
        conn, _ = await open_memory(nursery, handler, upgrade_then_stop, lockstep=True)
        with trio.move_on_after(0.05):
            await conn.send("never read")  # blocks in send_all: nobody reads
        assert handler.interrupted == 1
        with pytest.raises(TransportClosed):
            await conn.send("after")
        await conn.ended.wait()
    assert conn.close_info is not None
    assert conn.close_info.code == 1006


async def test_pending_cancel_sends_nothing(nursery: trio.Nursery) -> None:
    handler = SeamRecorder()
    with trio.fail_after(5):
        conn, peer = await open_memory(nursery, handler)
        with trio.CancelScope() as scope:
            scope.cancel()
            await conn.send("not framed")
        await conn.send("framed")
        assert await peer.frame() == (0x1, b"framed")
    assert handler.interrupted == 0


async def test_waiting_senders_fail_when_stream_breaks(nursery: trio.Nursery) -> None:
    async def upgrade_then_stop(peer: Peer) -> None:
        await peer.upgrade()
        await trio.sleep_forever()

    handler = SeamRecorder()
    errors: list[BaseException] = []
    with trio.fail_after(5):
        conn, _ = await open_memory(nursery, handler, upgrade_then_stop, lockstep=True)

        async def send(text: str) -> None:
            try:
                await conn.send(text)
            except TransportClosed as exc:
                errors.append(exc)

        async with trio.open_nursery() as senders:
            for i in range(3):
                senders.start_soon(send, str(i))
            await trio.testing.wait_all_tasks_blocked()
            await trio.aclose_forcefully(conn.stream)
    assert len(errors) == 3


async def test_open_cancelled_closes_the_stream() -> None:
    client, server = trio.testing.memory_stream_pair()
    peer = Peer(server)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            with trio.move_on_after(0.05):
                await WebsocketsTransport().open(nursery, client, seam_params(), SeamRecorder())
            await peer.read_request()
            await peer.closed()  # the client closed its side


async def test_send_from_a_message_before_the_close_frame(nursery: trio.Nursery) -> None:
    """A message read together with the peer's close frame is delivered; a send from
    its handler gets TransportClosed (the closing handshake has begun), nothing else."""
    outcomes: list[BaseException | None] = []

    class Replying(SeamRecorder):
        conn: WebsocketsConnection

        async def on_message(self, data: str | bytes) -> None:
            await super().on_message(data)
            try:
                await self.conn.send("reply")
                outcomes.append(None)
            except TransportClosed as exc:
                outcomes.append(exc)

    handler = Replying()
    with trio.fail_after(5):
        conn, peer = await open_memory(nursery, handler)
        handler.conn = conn
        await peer.send(frame(0x1, b"a"), close_frame(1000))
        assert await peer.frame() == (0x8, (1000).to_bytes(2, "big"))
        await peer.stream.aclose()
        await conn.ended.wait()
    assert handler.messages == ["a"]
    assert len(outcomes) == 1
    assert isinstance(outcomes[0], TransportClosed)
    assert handler.ends == [CloseInfo(1000, "", True)]


async def test_frames_split_at_every_byte(nursery: trio.Nursery) -> None:
    handler = SeamRecorder()
    wire = (
        frame(0x1, "ünïcode".encode())
        + frame(0x2, b"\x00" * 300)  # a 16-bit length
        + frame(0x1, b"fr", fin=False)
        + frame(0x0, b"ag")
        + frame(0xA, b"pong")
    )
    with trio.fail_after(10):
        _, peer = await open_memory(nursery, handler)
        for i in range(len(wire)):
            await peer.send(wire[i : i + 1])
            await trio.testing.wait_all_tasks_blocked()  # one read per byte
        await handler.wait_for(lambda: len(handler.messages) == 3 and handler.pongs)
    assert handler.messages == ["ünïcode", b"\x00" * 300, "frag"]
    assert handler.pongs == [b"pong"]


class CountingStream(trio.abc.Stream):
    """A stream that counts its writes (to see frames coalesced)."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.writes = 0

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_concurrent_sends_are_coalesced(nursery: trio.Nursery) -> None:
    client, server = trio.testing.memory_stream_pair()
    counting = CountingStream(client)
    peer = Peer(server)
    nursery.start_soon(peer.upgrade)
    with trio.fail_after(10):
        conn = await WebsocketsTransport().open(nursery, counting, seam_params(), SeamRecorder())
        before = counting.writes

        async def sender(name: str) -> None:
            for i in range(50):
                await conn.send(f"{name}{i}")

        async with trio.open_nursery() as senders:
            for name in "abcdefgh":
                senders.start_soon(sender, name)
        writes = counting.writes - before
        received = [(await peer.frame())[1].decode() for _ in range(400)]
    assert writes <= 400 // 2  # one write per message would be 400
    for name in "abcdefgh":
        assert [m for m in received if m[0] == name] == [f"{name}{i}" for i in range(50)]


# -- through the manager ------------------------------------------------------------------


async def test_manager_negotiates_deflate(websockets_server: int) -> None:
    url = f"ws://127.0.0.1:{websockets_server}/echo"
    big = {"rows": [{"name": "same keys again", "value": i} for i in range(2000)]}
    with trio.fail_after(20):
        async with pw.open_websocket(
            url, transport="websockets", compression="deflate", auto_json=True
        ) as ws:
            assert ws.connection is not None
            assert ws.connection.transport == "websockets"
            assert ws.connection.extensions == ("permessage-deflate",)
            await ws.send(big)
            assert await ws.receive() == big


async def test_manager_deflate_declined(websockets_server_no_deflate: int) -> None:
    url = f"ws://127.0.0.1:{websockets_server_no_deflate}/echo"
    with trio.fail_after(20):
        async with pw.open_websocket(url, transport="websockets", compression="deflate") as ws:
            assert ws.connection is not None
            assert ws.connection.extensions == ()
            await ws.send("uncompressed")
            assert await ws.receive() == "uncompressed"


def test_deflate_needs_the_websockets_transport() -> None:
    with pytest.raises(ValueError, match="compression") as info:
        pw.WSConnectionOptions(url="ws://x/", compression="deflate")
    assert "trio-websocket" in str(info.value)
