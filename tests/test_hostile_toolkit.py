"""The hostile-peer toolkit itself (tests/hostile.py): frames, parsing, a plain session."""

from __future__ import annotations

import struct

import pytest
import trio
import trio.testing
from wsproto.frame_protocol import FrameProtocol, Opcode

import trio_pterows as pw

from .hostile import (
    BINARY,
    CLOSE,
    PING,
    TEXT,
    FrameParser,
    HostileServer,
    ParsedFrame,
    Peer,
    accept_key,
    bounded_stream_pair,
    close_frame,
    frame,
    leaked_tasks,
    task_tree,
)


def test_frame_lengths_and_bits() -> None:
    assert frame(TEXT, b"hi") == b"\x81\x02hi"
    assert frame(BINARY, b"", fin=False, rsv=4) == b"\x42\x00"
    assert frame(TEXT, b"x" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert frame(TEXT, b"x" * 65536)[:10] == b"\x81\x7f" + struct.pack("!Q", 65536)
    assert frame(BINARY, length=2**63) == b"\x82\x7f\x80" + b"\x00" * 7
    assert close_frame(1002, "no") == b"\x88\x04\x03\xeano"
    assert close_frame(None) == b"\x88\x00"
    assert close_frame(payload=b"\x03") == b"\x88\x01\x03"


def test_rfc6455_accept_key_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 70000])
def test_parser_reads_masked_frames_byte_by_byte(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    data = frame(BINARY, payload, mask=b"\x01\x02\x03\x04") + frame(PING, b"p")
    parser = FrameParser()
    got = [f for i in range(0, len(data), 997) for f in parser.feed(data[i : i + 997])]
    assert got == [ParsedFrame(BINARY, payload, masked=True), ParsedFrame(PING, b"p")]


def test_builder_and_parser_agree_with_wsproto() -> None:
    """wsproto (a real client's framing) reads our frames, and we read its masked ones."""
    client = FrameProtocol(client=True, extensions=[])
    client.receive_bytes(frame(TEXT, b"hi") + frame(BINARY, b"x" * 70000))
    assert [(f.opcode, f.payload) for f in client.received_frames()] == [
        (Opcode.TEXT, "hi"),
        (Opcode.BINARY, b"x" * 70000),
    ]
    wire = client.send_data(b"y" * 300, fin=True) + client.close(1002, "bad")
    parsed = FrameParser().feed(wire)
    assert [(f.opcode, f.masked) for f in parsed] == [(BINARY, True), (CLOSE, True)]
    assert parsed[0].payload == b"y" * 300
    assert (parsed[1].close_code, parsed[1].close_reason) == (1002, "bad")
    assert ParsedFrame(CLOSE, b"").close_code is None


async def test_a_plain_session_in_memory(autojump_clock: trio.testing.MockClock) -> None:
    async def script(peer: Peer) -> None:
        request = await peer.read_request()
        assert request.method == "GET"
        await peer.accept()
        await peer.send(frame(TEXT, b"hello"))
        await peer.hold_open()

    server = HostileServer(script)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            baseline = task_tree()
            async with pw.AdvancedWebSocket(
                url="ws://hostile.test/path?x=1",
                heartbeat_interval=None,
                stream_opener=server.open_stream,
            ) as ws:
                await ws.connect()
                assert leaked_tasks(baseline), "the library's tasks are alive: they must show"
                assert await ws.receive() == "hello"
                await ws.send("back")
                peer = await server.wait_peer()
                assert peer.request is not None
                assert peer.request.target == "/path?x=1"
                sent = await peer.wait_frame(TEXT)
                assert sent.payload == b"back"
                assert sent.masked
            assert (await peer.wait_frame(CLOSE)).close_code == 1000
            await peer.wait_eof()
            assert leaked_tasks(baseline) == []
            nursery.cancel_scope.cancel()


async def test_a_plain_session_over_tcp() -> None:
    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.accept()
        ping = await peer.wait_frame(TEXT)
        await peer.send(frame(TEXT, ping.payload))
        await peer.close_when_asked()

    server = HostileServer(script)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(server.serve_tcp)
            async with pw.open_websocket(f"ws://127.0.0.1:{port}/", heartbeat_interval=None) as ws:
                await ws.send("echo me")
                assert await ws.receive() == "echo me"
            nursery.cancel_scope.cancel()


async def test_a_bounded_peer_that_stops_reading_blocks_the_clients_writes(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.accept(read=False)
        await peer.hold_open()

    server = HostileServer(script, buffer=65536)
    await nursery.start(server.run)
    with trio.fail_after(60):
        async with pw.AdvancedWebSocket(
            url="ws://hostile.test/", heartbeat_interval=None, stream_opener=server.open_stream
        ) as ws:
            await ws.connect()
            peer = await server.wait_peer()
            done = trio.Event()

            async def send() -> None:
                await ws.send(b"x" * 100_000)
                done.set()

            async with trio.open_nursery() as senders:
                senders.start_soon(send)
                await trio.sleep(10)
                assert not done.is_set()  # nobody reads: the write cannot finish
                peer.resume_reading()
            assert (await peer.wait_message(BINARY)).payload == b"x" * 100_000


def test_bounded_streams_are_streams() -> None:
    """A cancelled write keeps what it buffered; closing gives EOF and broken writes."""

    async def main() -> None:
        left, right = bounded_stream_pair(4)
        with trio.move_on_after(1):
            await left.send_all(b"abcdefgh")  # 4 fit, then it blocks
        assert await right.receive_some() == b"abcd"
        await left.send_all(b"xy")
        assert await right.receive_some(1) == b"x"
        await left.aclose()
        assert await right.receive_some() == b"y"
        assert await right.receive_some() == b""
        with pytest.raises(trio.BrokenResourceError):
            await right.send_all(b"z")
        with pytest.raises(trio.ClosedResourceError):
            await left.send_all(b"z")

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
