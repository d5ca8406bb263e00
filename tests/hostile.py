"""Hostile WebSocket peers: a scripted server side that speaks hand-made bytes.

The server side of one connection is a :class:`Peer`; a test's *script* drives it::

    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.accept()                           # or accept(key="wrong"), refuse(403, ...)
        await peer.send(frame(TEXT, b"\\xff"))          # invalid UTF-8
        await peer.hold_open()                        # keep the stream open for ever

    server = HostileServer(script)
    await nursery.start(server.run)
    ws = AdvancedWebSocket(options, stream_opener=server.open_stream)   # in memory
    # or: port = await nursery.start(server.serve_tcp); url = f"ws://127.0.0.1:{port}/"

While the connection is open the peer reads and parses what the client sends into
:attr:`Peer.frames` (unless :meth:`Peer.stop_reading`); :attr:`Peer.eof_at` is when the
client closed its side. Everything timed runs in memory under ``autojump_clock``; the TCP
server is for untimed tests. Frames are built by :func:`frame` / :func:`close_frame` and
parsed by :class:`FrameParser`: any opcode, RSV bits, mask, and a declared length that may
lie about the payload (``length=2**63``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import struct
from collections.abc import Awaitable, Callable, Iterable

import attrs
import trio
import trio.testing
import trio_websocket

import trio_pterows

from .conftest import task_tree

__all__ = [
    "BINARY",
    "CLOSE",
    "CONTINUATION",
    "PING",
    "PONG",
    "TEXT",
    "BoundedStream",
    "ClientRequest",
    "FrameParser",
    "HostileServer",
    "ParsedFrame",
    "Peer",
    "accept_key",
    "bounded_stream_pair",
    "close_frame",
    "frame",
    "leaked_tasks",
    "task_tree",
]

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

Script = Callable[["Peer"], Awaitable[None]]


# ------------------------------------------------------------------------- frames


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    length: int | None = None,
) -> bytes:
    """The bytes of one frame. ``rsv`` is the three RSV bits (0-7, RSV1 = 4); ``mask`` a
    4-byte key (client frames) or None; ``length`` the declared payload length when it
    should lie (the payload is sent as given). 7-, 16- or 64-bit length as RFC 6455 says."""
    declared = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | (rsv & 7) << 4 | opcode & 0xF])
    mask_bit = 0x80 if mask is not None else 0
    if declared < 126:
        head.append(mask_bit | declared)
    elif declared < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", declared)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", declared)
    if mask is None:
        return bytes(head) + payload
    return bytes(head) + mask + _xor(payload, mask)


def close_frame(
    code: int | None = 1000, reason: str = "", *, payload: bytes | None = None
) -> bytes:
    """A close frame with any ``code`` (even an invalid one) and ``reason``; ``payload``
    replaces both (e.g. one byte, which no valid close frame has)."""
    if payload is None:
        payload = b"" if code is None else struct.pack("!H", code) + reason.encode()
    return frame(CLOSE, payload)


def _xor(data: bytes, mask: bytes) -> bytes:
    if not data:
        return b""
    key = int.from_bytes((mask * (len(data) // 4 + 1))[: len(data)], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(len(data), "big")


@attrs.frozen
class ParsedFrame:
    opcode: int
    payload: bytes  #: unmasked
    fin: bool = True
    rsv: int = 0
    masked: bool = False

    @property
    def close_code(self) -> int | None:
        """The code of a close frame (None for an empty one or another opcode)."""
        if self.opcode != CLOSE or len(self.payload) < 2:
            return None
        return int(struct.unpack("!H", self.payload[:2])[0])

    @property
    def close_reason(self) -> str:
        return self.payload[2:].decode(errors="replace") if self.opcode == CLOSE else ""


class FrameParser:
    """Incremental frame parser: ``feed(data)`` returns the frames completed so far."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray) -> list[ParsedFrame]:
        self._buffer += data
        frames: list[ParsedFrame] = []
        while (parsed := self._next()) is not None:
            frames.append(parsed)
        return frames

    def _next(self) -> ParsedFrame | None:
        buf = self._buffer
        if len(buf) < 2:
            return None
        masked, length, offset = bool(buf[1] & 0x80), buf[1] & 0x7F, 2
        if length >= 126:
            size = 2 if length == 126 else 8
            if len(buf) < 2 + size:
                return None
            length, offset = int.from_bytes(buf[2 : 2 + size], "big"), 2 + size
        key = bytes(buf[offset : offset + 4]) if masked else b""
        offset += len(key) if masked else 0
        if (masked and len(key) < 4) or len(buf) < offset + length:
            return None
        payload = bytes(buf[offset : offset + length])
        first = buf[0]
        del buf[: offset + length]
        return ParsedFrame(
            opcode=first & 0xF,
            payload=_xor(payload, key) if masked else payload,
            fin=bool(first & 0x80),
            rsv=first >> 4 & 7,
            masked=masked,
        )


# ---------------------------------------------------------------------- handshake


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value that answers ``Sec-WebSocket-Key: key``."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


@attrs.frozen
class ClientRequest:
    """The client's upgrade request, as received (header names lower-cased)."""

    method: str
    target: str
    headers: dict[str, str]

    @property
    def key(self) -> str:
        return self.headers.get("sec-websocket-key", "")

    @property
    def protocols(self) -> list[str]:
        raw = self.headers.get("sec-websocket-protocol", "")
        return [p.strip() for p in raw.split(",") if p.strip()]


# ------------------------------------------------------------------------- a peer


class Peer:
    """The server side of one connection, driven by a script. Not thread-safe."""

    def __init__(self, stream: trio.abc.Stream, nursery: trio.Nursery) -> None:
        self.stream = stream
        self._nursery = nursery
        self._parser = FrameParser()
        self._pending = b""
        self.request: ClientRequest | None = None
        #: Every frame the client sent after the handshake, in order.
        self.frames: list[ParsedFrame] = []
        #: trio time at which the client's side of the stream ended (None: still open).
        self.eof_at: float | None = None
        self.eof = trio.Event()
        self.body_sent = 0  #: bytes of a refusal's body written so far
        #: Answer the client's pings with pongs (from the reading task).
        self.auto_pong = True
        self._reading = trio.Event()
        self._changed = trio.Event()
        self._send_lock = trio.Lock()

    # -- handshake
    async def read_request(self) -> ClientRequest:
        """Read the client's upgrade request (the bytes up to the blank line)."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise EOFError("the client hung up before its request was complete")
            data += chunk
        head, _, self._pending = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.request = ClientRequest(method, target, headers)
        return self.request

    async def accept(
        self,
        *,
        key: str | None = None,
        subprotocol: str | None = None,
        extensions: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        read: bool = True,
        trickle: float | None = None,
    ) -> None:
        """Answer 101. ``key`` replaces the correct ``Sec-WebSocket-Accept``; ``subprotocol``
        / ``extensions`` are sent whether or not the client asked. ``read``: start reading
        the client's frames into :attr:`frames` at once. ``trickle``: send the response one
        byte every ``trickle`` seconds (a slow handshake)."""
        assert self.request is not None, "read_request() first"
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {accept_key(self.request.key) if key is None else key}",
        ]
        if subprotocol is not None:
            lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
        if extensions is not None:
            lines.append(f"Sec-WebSocket-Extensions: {extensions}")
        lines += [f"{name}: {value}" for name, value in headers]
        response = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if trickle is None:
            await self.send(response)
        else:
            for byte in response:
                await self.send(bytes([byte]))
                await trio.sleep(trickle)
        self._nursery.start_soon(self._read_frames)
        if read:
            self._reading.set()

    async def refuse(
        self, status: int, *, body_size: int = 0, chunk: int = 65536, stop_after: int | None = None
    ) -> None:
        """Answer ``status`` with a ``Content-Length: body_size`` body generated lazily
        (one reused chunk, so a 2 GB body costs the peer nothing), until the body is
        written or the client hangs up. ``stop_after``: give up (and return) after that
        many body bytes, so a client that reads for ever cannot hang the test."""
        head = f"HTTP/1.1 {status} Refused\r\nContent-Length: {body_size}\r\n\r\n"
        block = b"x" * chunk
        try:
            await self.send(head.encode())
            while self.body_sent < body_size:
                if stop_after is not None and self.body_sent >= stop_after:
                    return
                piece = block[: body_size - self.body_sent]
                await self.send(piece)
                self.body_sent += len(piece)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._mark_eof()

    # -- after the handshake
    async def send(self, data: bytes) -> None:
        """Write raw bytes (a frame from :func:`frame`, half a frame, garbage...)."""
        async with self._send_lock:
            await self.stream.send_all(data)

    def stop_reading(self) -> None:
        """Stop reading the client's bytes (a read already waiting still completes): its
        writes block once the stream's buffer is full (with ``HostileServer(...,
        buffer=n)``; the default memory stream never is)."""
        self._reading = trio.Event()

    def resume_reading(self) -> None:
        self._reading.set()

    async def hold_open(self) -> None:
        """Never close the stream: sleep until the test ends (reading goes on)."""
        await trio.sleep_forever()

    async def close_when_asked(self) -> None:
        """Behave: wait for the client's close frame, answer it with the same code, and
        return (the script's end then hangs up)."""
        closing = await self.wait_frame(CLOSE)
        await self.send(close_frame(closing.close_code))

    async def wait_eof(self) -> float:
        """Wait until the client closed its side; returns when (trio time)."""
        await self.eof.wait()
        assert self.eof_at is not None
        return self.eof_at

    async def wait_frame(self, opcode: int | None = None) -> ParsedFrame:
        """The first frame the client sent with ``opcode`` (any when None), waiting for it.
        Raises EOFError when the client hangs up without sending one."""
        while True:
            for parsed in self.frames:
                if opcode is None or parsed.opcode == opcode:
                    return parsed
            if self.eof.is_set():
                raise EOFError(f"the client hung up without sending opcode {opcode}")
            await self._changed.wait()

    async def wait_message(self, opcode: int) -> ParsedFrame:
        """The first whole message the client sent with ``opcode`` (TEXT or BINARY):
        its frame, or its fragments joined (a client may fragment a large message,
        as the websockets transport does past 64 KiB), waiting for all of it."""
        while True:
            parts: list[bytes] | None = None
            for parsed in self.frames:
                if parts is None:
                    if parsed.opcode == opcode:
                        parts = [parsed.payload]
                        if parsed.fin:
                            return parsed
                elif parsed.opcode == CONTINUATION:
                    parts.append(parsed.payload)
                    if parsed.fin:
                        return ParsedFrame(opcode=opcode, payload=b"".join(parts), masked=True)
            if self.eof.is_set():
                raise EOFError(f"the client hung up without a whole opcode {opcode} message")
            await self._changed.wait()

    async def _read_frames(self) -> None:
        self._record(self._parser.feed(self._pending))
        while True:
            await self._reading.wait()
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self._mark_eof()
                return
            for parsed in self._record(self._parser.feed(data)):
                if parsed.opcode == PING and self.auto_pong:
                    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                        await self.send(frame(PONG, parsed.payload))

    def _record(self, frames: list[ParsedFrame]) -> list[ParsedFrame]:
        if frames:
            self.frames += frames
            self._changed.set()
            self._changed = trio.Event()
        return frames

    def _mark_eof(self) -> None:
        if self.eof_at is None:
            self.eof_at = trio.current_time()
            self.eof.set()
            self._changed.set()


class HostileServer:
    """Runs ``script`` as the server side of every connection, in memory or over TCP.

    ``buffer``: None for :func:`trio.testing.memory_stream_pair` (unbounded: writes never
    block), or the size of each direction's buffer in bytes (:func:`bounded_stream_pair`,
    like a socket's: a writer blocks while it is full). :attr:`peers` holds every
    connection's :class:`Peer`, oldest first; :meth:`wait_peer` waits for the n-th.
    """

    def __init__(self, script: Script, *, buffer: int | None = None) -> None:
        self.script = script
        self.buffer = buffer
        self.peers: list[Peer] = []
        self._nursery: trio.Nursery | None = None
        self._changed = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve memory connections (:meth:`open_stream`) until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def open_stream(self, url: str) -> trio.abc.Stream:
        """A ``stream_opener`` for :class:`~trio_pterows.AdvancedWebSocket`."""
        assert self._nursery is not None, "await nursery.start(server.run) first"
        await trio.lowlevel.checkpoint()
        if self.buffer is None:
            client, server = trio.testing.memory_stream_pair()
        else:
            client, server = bounded_stream_pair(self.buffer)
        self._nursery.start_soon(self._serve, server)
        return client

    async def serve_tcp(
        self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on 127.0.0.1, port 0; reports the port (``nursery.start``)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            port = listeners[0].socket.getsockname()[1]
            await nursery.start(trio.serve_listeners, self._serve, listeners)
            task_status.started(port)

    async def wait_peer(self, index: int = 0) -> Peer:
        """The ``index``-th connection's peer (0 = first), once it exists."""
        while len(self.peers) <= index:
            await self._changed.wait()
        return self.peers[index]

    async def _serve(self, stream: trio.abc.Stream) -> None:
        async with trio.open_nursery() as nursery:
            peer = Peer(stream, nursery)
            self.peers.append(peer)
            self._changed.set()
            self._changed = trio.Event()
            try:
                await self.script(peer)
            except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
                peer._mark_eof()
            finally:
                # The script ended (or the server stops): hang up. A script that must
                # not, ends with hold_open().
                nursery.cancel_scope.cancel()
                await trio.aclose_forcefully(stream)


# --------------------------------------------------------- bounded memory streams


class _Pipe:
    """One direction of a :func:`bounded_stream_pair`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.data = bytearray()
        self.eof = False  # the writer closed: the reader gets b"" once drained
        self.broken = False  # the reader closed: writes fail
        self.changed = trio.Event()

    def pulse(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


class BoundedStream(trio.abc.Stream):
    """One end of a :func:`bounded_stream_pair`."""

    def __init__(self, outgoing: _Pipe, incoming: _Pipe) -> None:
        self._out, self._in = outgoing, incoming
        self._closed = False
        self._sending = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        if self._sending:
            raise trio.BusyResourceError("another task is in send_all")
        self._sending = True
        try:
            view = memoryview(data)
            while view:
                if self._closed:
                    raise trio.ClosedResourceError
                if self._out.broken:
                    raise trio.BrokenResourceError("the other end is closed")
                room = self._out.capacity - len(self._out.data)
                if room:
                    # Cancelled while blocked, what was buffered stays: a partial write.
                    self._out.data += view[:room]
                    view = view[room:]
                    self._out.pulse()
                else:
                    await self._out.changed.wait()
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        while len(self._out.data) >= self._out.capacity and not self._out.broken:
            await self._out.changed.wait()
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        while not self._in.data and not self._in.eof and not self._closed:
            await self._in.changed.wait()
        if self._closed:
            raise trio.ClosedResourceError
        size = len(self._in.data) if max_bytes is None else max_bytes
        chunk = bytes(self._in.data[:size])
        del self._in.data[:size]
        self._in.pulse()
        return chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._out.eof = self._in.broken = True
            self._out.pulse()
            self._in.pulse()
        await trio.lowlevel.checkpoint()


def bounded_stream_pair(capacity: int = 65536) -> tuple[BoundedStream, BoundedStream]:
    """Two connected in-memory streams whose directions each buffer ``capacity`` bytes,
    like a socket pair: a writer blocks while its buffer is full, a cancelled write
    leaves what was buffered, closing one end gives the other EOF (and broken writes)."""
    a_to_b, b_to_a = _Pipe(capacity), _Pipe(capacity)
    return BoundedStream(a_to_b, b_to_a), BoundedStream(b_to_a, a_to_b)


# ------------------------------------------------------------------- task leaks

_LIBRARY_DIRS = tuple(
    os.path.dirname(module.__file__ or "") + os.sep for module in (trio_pterows, trio_websocket)
)


def _is_library(task: trio.lowlevel.Task) -> bool:
    code = getattr(task.coro, "cr_code", None)
    return code is not None and code.co_filename.startswith(_LIBRARY_DIRS)


def leaked_tasks(baseline: set[trio.lowlevel.Task]) -> list[trio.lowlevel.Task]:
    """Tasks the library started that are still alive: new since ``baseline``
    (:func:`task_tree`), running library code or below a task that does. The tests' own
    tasks (hostile peers, servers) do not count."""
    leaked = []
    for task in task_tree() - baseline:
        node: trio.lowlevel.Task | None = task
        while node is not None and node not in baseline:
            if _is_library(node):
                leaked.append(task)
                break
            parent = node.parent_nursery
            node = parent.parent_task if parent is not None else None
    return leaked
