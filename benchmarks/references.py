"""Reference clients for the websockets transport, and the concurrent-senders case.

``asyncio``
    websockets' asyncio client (``websockets.asyncio.client.connect``), the fastest
    Python client on these machines: the issue's stretch goal is a Trio client at or
    above it. Each trial runs ``asyncio.run`` in a worker thread while the Trio side
    waits (benchmark code: the library itself has no threads).
``concurrent_*``
    :data:`SENDERS` tasks share one connection and send 32 B messages at once: what a
    writer that coalesces every frame waiting at that moment into one ``send_all``
    gains over one write per message.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import trio
import trio_websocket

import trio_pterows as pw

SMALL = "x" * 32
KIB_TEXT = "k" * 1024
MIB_BINARY = bytes(range(256)) * 4096
#: Tasks sending at once in the concurrent case.
SENDERS = 8

Result = tuple[float, str | None]


def in_asyncio(
    fn: Callable[[str, int], Coroutine[Any, Any, Result]],
) -> Callable[[str, int], Awaitable[Result]]:
    """Run an asyncio client trial from the Trio benchmark loop."""

    async def run(url: str, n: int) -> Result:
        return await trio.to_thread.run_sync(lambda: asyncio.run(fn(url, n)))

    return run


def _loads() -> Callable[[str | bytes], Any]:
    try:
        import orjson
    except ImportError:
        return json.loads
    loads: Callable[[str | bytes], Any] = orjson.loads
    return loads


def _short(got: int, n: int) -> str | None:
    return None if got == n else f"received {got} of {n} messages"


def _counted(count: int, n: int) -> str | None:
    return None if count == n else f"server counted {count} of {n}"


# -- websockets' asyncio client -------------------------------------------------------------


async def send_asyncio(url: str, n: int, message: str | bytes = SMALL) -> Result:
    from websockets.asyncio.client import connect

    async with connect(url, compression=None, max_size=None) as ws:
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send(message)
        await ws.send("END")
        count = int(await ws.recv())
        return time.perf_counter() - t0, _counted(count, n)


async def send_mib_asyncio(url: str, n: int) -> Result:
    return await send_asyncio(url, n, MIB_BINARY)


async def recv_asyncio(url: str, n: int, decode: bool = False) -> Result:
    from websockets.asyncio.client import connect

    loads = _loads()
    got = 0
    async with connect(url, compression=None) as ws:
        await ws.send("go")
        t0 = time.perf_counter()
        async for message in ws:
            if decode:
                loads(message)
            got += 1
            if got == n:
                break
        return time.perf_counter() - t0, _short(got, n)


async def recv_json_asyncio(url: str, n: int) -> Result:
    return await recv_asyncio(url, n, decode=True)


async def echo_asyncio(url: str, n: int, message: str | bytes = KIB_TEXT) -> Result:
    from websockets.asyncio.client import connect

    async with connect(url, compression=None, max_size=None) as ws:
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send(message)
            reply = await ws.recv()
        elapsed = time.perf_counter() - t0
    return elapsed, None if len(reply) == len(message) else "short reply"


async def echo_mib_asyncio(url: str, n: int) -> Result:
    return await echo_asyncio(url, n, MIB_BINARY)


# -- concurrent senders ---------------------------------------------------------------------


async def _senders(send: Callable[[str], Awaitable[object]], n: int) -> None:
    async def one(count: int) -> None:
        for _ in range(count):
            await send(SMALL)

    async with trio.open_nursery() as nursery:
        for _ in range(SENDERS):
            nursery.start_soon(one, n // SENDERS)


async def concurrent_raw(url: str, n: int) -> Result:
    n -= n % SENDERS
    async with trio_websocket.open_websocket_url(url) as ws:
        t0 = time.perf_counter()
        await _senders(ws.send_message, n)
        await ws.send_message("END")
        count = int(await ws.get_message())
        return time.perf_counter() - t0, _counted(count, n)


async def concurrent_pterows(url: str, n: int, **options: Any) -> Result:
    n -= n % SENDERS
    async with pw.open_websocket(url, **options) as ws:
        t0 = time.perf_counter()
        await _senders(ws.send, n)
        await ws.send("END")
        count = int(await ws.receive())
        return time.perf_counter() - t0, _counted(count, n)


async def concurrent_websockets(url: str, n: int) -> Result:
    from websockets.trio.client import connect

    n -= n % SENDERS
    async with connect(url, compression=None) as ws:
        t0 = time.perf_counter()
        await _senders(ws.send, n)
        await ws.send("END")
        count = int(await ws.recv())
        return time.perf_counter() - t0, _counted(count, n)


async def concurrent_asyncio(url: str, n: int) -> Result:
    from websockets.asyncio.client import connect

    n -= n % SENDERS
    async with connect(url, compression=None) as ws:

        async def one(count: int) -> None:
            for _ in range(count):
                await ws.send(SMALL)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(n // SENDERS) for _ in range(SENDERS)))
        await ws.send("END")
        count = int(await ws.recv())
        return time.perf_counter() - t0, _counted(count, n)
