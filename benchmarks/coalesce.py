"""Where trio-websocket is the limit: what would a faster path gain? (issue 6)

``python -m benchmarks.coalesce [--n 40000] [--rounds 5]``

Prototypes outside the library, with wsproto and a trio stream only (no
trio-websocket), against the same `websockets` sink and flood as the benchmarks:

send (32-byte text messages to ``/sink``, rate until the server has counted them all)
  ``per-frame + lock``   one wsproto.send() and one send_all() per message, each under
                         a trio lock taken with a checkpoint (what trio-websocket does)
  ``per-frame``          the same without the lock's own checkpoint
  ``coalesced k=K``      K messages framed by wsproto, joined, one send_all()
  ``fast framer k=K``    K messages framed by a 12-line framer (struct + int XOR mask)

The last send-table line reads a ``/flood`` with a raw socket and the fast parser: how
fast the server can flood, i.e. how far it is from limiting the receive cases.

receive (parsing only, no I/O: 64 KiB of 32-byte server frames, as one read delivers)
  ``wsproto``            receive_data() + events(), per message
  ``fast parser``        a loop over the buffer for unmasked, final, short frames

Prints microseconds per message and messages per second for each.
"""

from __future__ import annotations

import argparse
import random
import statistics
import struct
import time
from collections.abc import Awaitable, Callable, Sequence

import trio
import wsproto
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from ._common import ServerProcess

MESSAGE = "x" * 32
PAYLOAD = MESSAGE.encode()
_getrandbits = random.SystemRandom().getrandbits


def fast_text_frame(payload: bytes) -> bytes:
    """A final, masked client text frame (RFC 6455 5.2), payload under 64 KiB."""
    n = len(payload)
    key = _getrandbits(32)
    header = struct.pack("!BB", 0x81, 0x80 | n) if n < 126 else struct.pack("!BBH", 0x81, 0xFE, n)
    mask = key.to_bytes(4, "big") * (n // 4 + 1)
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask[:n], "big")).to_bytes(n, "big")
    return header + key.to_bytes(4, "big") + masked


def fast_parse(buffer: bytes, out: list[str]) -> int:
    """Parse unmasked, final text frames under 126 bytes; return bytes consumed."""
    i, end = 0, len(buffer)
    view = memoryview(buffer)
    while i + 2 <= end:
        b0, b1 = buffer[i], buffer[i + 1]
        n = b1 & 0x7F
        if b0 != 0x81 or b1 & 0x80 or n >= 126:
            break  # anything else goes to the general parser
        if i + 2 + n > end:
            break
        out.append(str(view[i + 2 : i + 2 + n], "utf-8"))
        i += 2 + n
    return i


async def _receive(stream: trio.SocketStream) -> bytes:
    data = await stream.receive_some(65536)
    if not data:
        raise RuntimeError("the server closed the connection")
    return data


async def _handshake(url_path: str, port: int) -> tuple[trio.SocketStream, WSConnection]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    ws = WSConnection(ConnectionType.CLIENT)
    await stream.send_all(ws.send(Request(host=f"127.0.0.1:{port}", target=url_path)))
    while True:
        ws.receive_data(await _receive(stream))
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                return stream, ws
            raise RuntimeError(f"handshake failed: {event!r}")


async def _finish_sink(stream: trio.SocketStream, ws: WSConnection, n: int) -> None:
    await stream.send_all(ws.send(TextMessage(data="END")))
    while True:
        ws.receive_data(await _receive(stream))
        for event in ws.events():
            if isinstance(event, TextMessage):
                if int(event.data) != n:
                    raise RuntimeError(f"server counted {event.data} of {n}")
                return


SendVariant = Callable[[trio.SocketStream, WSConnection, int], Awaitable[None]]


async def per_frame_locked(stream: trio.SocketStream, ws: WSConnection, n: int) -> None:
    lock = trio.StrictFIFOLock()
    for _ in range(n):
        async with lock:
            await stream.send_all(ws.send(TextMessage(data=MESSAGE)))


async def per_frame(stream: trio.SocketStream, ws: WSConnection, n: int) -> None:
    for _ in range(n):
        await stream.send_all(ws.send(TextMessage(data=MESSAGE)))


def coalesced(k: int) -> SendVariant:
    async def run(stream: trio.SocketStream, ws: WSConnection, n: int) -> None:
        done = 0
        while done < n:
            batch = min(k, n - done)
            await stream.send_all(
                b"".join([ws.send(TextMessage(data=MESSAGE)) for _ in range(batch)])
            )
            done += batch

    return run


def fast_framer(k: int) -> SendVariant:
    async def run(stream: trio.SocketStream, ws: WSConnection, n: int) -> None:
        done = 0
        while done < n:
            batch = min(k, n - done)
            await stream.send_all(b"".join([fast_text_frame(PAYLOAD) for _ in range(batch)]))
            done += batch

    return run


#: Bound of one timed run.
RUN_TIMEOUT = 60.0


async def time_send(port: int, variant: SendVariant, n: int) -> float:
    with trio.fail_after(RUN_TIMEOUT):
        return await _time_send(port, variant, n)


async def _time_send(port: int, variant: SendVariant, n: int) -> float:
    stream, ws = await _handshake("/sink", port)
    async with stream:
        t0 = time.perf_counter()
        await variant(stream, ws, n)
        await _finish_sink(stream, ws, n)
        return time.perf_counter() - t0


def time_parse(n_rounds: int) -> dict[str, float]:
    frame = struct.pack("!BB", 0x81, len(PAYLOAD)) + PAYLOAD
    chunk = frame * (65536 // len(frame))
    per_chunk = 65536 // len(frame)
    results: dict[str, float] = {}

    # Drive wsproto into OPEN with a canned 101 response.
    ws = WSConnection(ConnectionType.CLIENT)
    request = ws.send(Request(host="x", target="/"))
    key = next(
        line.split(b": ", 1)[1]
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    from wsproto.utilities import generate_accept_token

    ws.receive_data(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + generate_accept_token(key) + b"\r\n\r\n"
    )
    assert isinstance(next(ws.events()), AcceptConnection)
    times = []
    for _ in range(n_rounds):
        t0 = time.perf_counter()
        ws.receive_data(chunk)
        got = sum(1 for _ in ws.events())
        times.append((time.perf_counter() - t0) / got)
    results["wsproto"] = statistics.median(times)
    times = []
    for _ in range(n_rounds):
        out: list[str] = []
        t0 = time.perf_counter()
        fast_parse(chunk, out)
        times.append((time.perf_counter() - t0) / len(out))
        assert len(out) == per_chunk
    results["fast parser"] = statistics.median(times)
    return results


async def time_flood(port: int, n: int) -> float:
    """Receive ``n`` 32-byte messages from /flood with the fast parser: the server's ceiling."""
    with trio.fail_after(RUN_TIMEOUT):
        return await _time_flood(port, n)


async def _time_flood(port: int, n: int) -> float:
    stream, ws = await _handshake(f"/flood?n={n}&size=32", port)
    async with stream:
        await stream.send_all(ws.send(TextMessage(data="go")))
        t0 = time.perf_counter()
        got, pending = 0, b""
        out: list[str] = []
        while got < n:
            data = pending + await _receive(stream)
            used = fast_parse(data, out)
            got += len(out)
            out.clear()
            pending = data[used:]
        return time.perf_counter() - t0


async def run_all(port: int, n: int, rounds: int) -> list[tuple[str, float]]:
    variants: list[tuple[str, SendVariant]] = [
        ("per-frame + lock (trio-websocket)", per_frame_locked),
        ("per-frame, no lock checkpoint", per_frame),
        ("coalesced k=8", coalesced(8)),
        ("coalesced k=64", coalesced(64)),
        ("fast framer k=1", fast_framer(1)),
        ("fast framer k=64", fast_framer(64)),
    ]
    samples: dict[str, list[float]] = {name: [] for name, _ in variants}
    for _name, variant in variants:  # warm-up
        await time_send(port, variant, n // 10)
    samples["flood, raw socket + fast parser (receive)"] = []
    for _ in range(rounds):
        for name, variant in variants:
            samples[name].append(await time_send(port, variant, n) / n)
        samples["flood, raw socket + fast parser (receive)"].append(await time_flood(port, n) / n)
    return [(name, statistics.median(v)) for name, v in samples.items()]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.coalesce")
    parser.add_argument("--n", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"wsproto {wsproto.__version__}; {args.n} messages of 32 B; median of {args.rounds}")
    with ServerProcess() as server:
        send = trio.run(run_all, server.port, args.n, args.rounds)
    base = send[0][1]
    print("\nsend 32 B text to /sink (and the server's flood ceiling)")
    for name, per in send:
        print(f"  {name:<44} {per * 1e6:7.2f} us/msg  {1 / per:>10,.0f} msg/s  {base / per:5.2f}x")
    parse = time_parse(max(20, args.rounds * 4))
    print("\nparse 64 KiB of 32 B server frames (no I/O)")
    for name, per in parse.items():
        print(f"  {name:<44} {per * 1e6:7.2f} us/msg  {1 / per:>10,.0f} msg/s")


if __name__ == "__main__":
    main()
