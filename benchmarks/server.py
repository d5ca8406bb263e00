"""The benchmark peer: a `websockets` asyncio server, run in its own process.

``python benchmarks/server.py [--backlog N] [--port P] [--reuse-port]`` prints its port
on the first line of stdout, then serves until stdin closes (so it never outlives the
run that started it). Modes are chosen by the request path:

``/sink``
    Count and discard messages; the text ``END`` is answered with the count so far
    (then the count restarts).
``/flood?n=N&size=S&kind=text|binary|json&then=wait|close``
    Wait for one message (``go``), then send ``n`` messages of ``size`` bytes, then
    wait for the client to close (or close at once with ``then=close``).
``/json-flood?n=N&size=S``
    ``/flood`` with ``kind=json``: ``size``-byte JSON objects.
``/echo``
    Send every message back.
``/idle``
    Accept and wait for the close (pings are answered by websockets itself).

Floods write pre-built frames straight to the transport in ~64 KiB chunks (with
websockets' own write flow control): a server frame is unmasked and stateless, so
the bytes on the wire are exactly what ``conn.send`` would write, at a small fraction
of the CPU cost. ``via=ws`` in the query sends through ``conn.send`` instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import struct
import sys
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

#: Longest a flood connection waits for its client to close after the flood.
WAIT_AFTER_FLOOD = 120.0


def json_payload(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (size >= 64), the same every time."""
    obj: dict[str, object] = {
        "event": "stats",
        "id": 123456,
        "ok": True,
        "cpu": 12.5,
        "tags": ["a", "b", "c"],
        "pad": "",
    }
    base = len(json.dumps(obj, separators=(",", ":")).encode())
    if size < base:
        raise ValueError(f"size: a JSON payload needs at least {base} bytes")
    obj["pad"] = "p" * (size - base)
    data = json.dumps(obj, separators=(",", ":")).encode()
    assert len(data) == size
    return data


def payload(kind: str, size: int) -> bytes:
    if kind == "json":
        return json_payload(size)
    return (b"0123456789abcdef" * (size // 16 + 1))[:size]


def server_frame(opcode: int, data: bytes) -> bytes:
    """One unmasked, final frame (RFC 6455 section 5.2)."""
    n = len(data)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + data


async def flood(conn: ServerConnection, query: dict[str, list[str]], kind: str) -> None:
    n = int(query.get("n", ["1000"])[0])
    size = int(query.get("size", ["32"])[0])
    kind = query.get("kind", [kind])[0]
    then = query.get("then", ["wait"])[0]
    via = query.get("via", ["raw"])[0]
    data = payload(kind, size)
    await conn.recv()  # "go"
    if via == "ws":
        message: str | bytes = data if kind == "binary" else data.decode()
        for _ in range(n):
            await conn.send(message)
    else:
        frame = server_frame(0x2 if kind == "binary" else 0x1, data)
        per_chunk = max(1, 65536 // len(frame))
        chunk = frame * per_chunk
        remaining = n
        while remaining > 0:
            k = min(per_chunk, remaining)
            conn.transport.write(chunk if k == per_chunk else frame * k)
            remaining -= k
            await conn.drain()
    if then == "close":
        await conn.close()
        return
    try:
        await asyncio.wait_for(conn.wait_closed(), WAIT_AFTER_FLOOD)
    except asyncio.TimeoutError:
        await conn.close()


async def sink(conn: ServerConnection) -> None:
    count = 0
    async for message in conn:
        if message == "END":
            await conn.send(str(count))
            count = 0
        else:
            count += 1


async def echo(conn: ServerConnection) -> None:
    async for message in conn:
        await conn.send(message)


async def handler(conn: ServerConnection) -> None:
    target = urlsplit(conn.request.path if conn.request else "/")
    query = parse_qs(target.query)
    try:
        if target.path == "/sink":
            await sink(conn)
        elif target.path == "/flood":
            await flood(conn, query, "text")
        elif target.path == "/json-flood":
            await flood(conn, query, "json")
        elif target.path == "/echo":
            await echo(conn)
        elif target.path == "/idle":
            await conn.wait_closed()
        else:
            await conn.close(4404, f"unknown path {target.path}")
    except ConnectionClosed:
        pass


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--backlog", type=int, default=1024)
    parser.add_argument("--reuse-port", action="store_true")
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", args.port))
    async with serve(
        handler,
        sock=sock,
        backlog=args.backlog,
        compression=None,
        max_size=None,
        ping_interval=None,
        # Deep enough that a fast client is never paused by the server's reading.
        max_queue=(256, 64),
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
        # stdin closed: the run is over; leave at once, whatever is still connected.
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):  # pragma: no cover
        pass
    asyncio.run(main())
