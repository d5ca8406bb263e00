"""The throughput cases, one coroutine per (case, client).

Every client coroutine takes ``(url, n)``, opens its connection (not timed), runs the
timed part and returns ``(elapsed_seconds, error_or_None)``. The clients are:

``raw``
    trio-websocket 0.12 as its README shows it: ``open_websocket_url`` and a
    ``get_message()`` loop (JSON decoded by the caller, as a user would).
``pterows``
    trio_pterows with default options: ``open_websocket``, ``async for``,
    ``auto_json`` for the JSON cases; floods are consumed with
    ``incoming_overflow="block"``, the only setting under which all of them arrive
    (:func:`probe_defaults` measures what the defaults deliver).
``websockets``
    ``websockets.trio`` (websockets >= 16), the other Trio client users would pick;
    reported for reference, without a goal.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio
import trio_websocket

import trio_pterows as pw

from . import references as ref
from .references import in_asyncio

try:
    from websockets.trio.client import connect as websockets_connect
except ImportError:  # websockets < 16 has no Trio implementation
    websockets_connect = None

ClientFn = Callable[[str, int], Awaitable[tuple[float, str | None]]]

SMALL = "x" * 32
KIB_TEXT = "k" * 1024
MIB_BINARY = bytes(range(256)) * 4096
assert len(MIB_BINARY) == 1 << 20


def json_loads() -> Callable[[str | bytes], Any]:
    """orjson.loads when orjson can be imported, json.loads otherwise."""
    try:
        import orjson
    except ImportError:
        return json.loads
    loads: Callable[[str | bytes], Any] = orjson.loads
    return loads


@attrs.frozen
class Case:
    name: str
    title: str
    #: Server path; ``{n}`` is replaced by the message count.
    path: str
    #: Messages per timed trial (default run, --quick run).
    n: int
    n_quick: int
    #: Rate unit and how many units one message is worth.
    unit: str
    per_message: float
    #: Minimum pterows/raw ratio, or None for "reported only".
    goal: float | None
    clients: dict[str, ClientFn]
    #: Runs in a subprocess where orjson cannot be imported.
    no_orjson: bool = False
    #: Minimum pterows-ws/websockets.trio ratio (median of per-round ratios), or None.
    ws_goal: float | None = None


# -- send: 32-byte text messages, one way ----------------------------------------------


async def _finish_sink_raw(ws: trio_websocket.WebSocketConnection, n: int) -> str | None:
    await ws.send_message("END")
    count = int(await ws.get_message())
    return None if count == n else f"server counted {count} of {n}"


async def send_raw(url: str, n: int, message: str | bytes = SMALL) -> tuple[float, str | None]:
    async with trio_websocket.open_websocket_url(url) as ws:
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send_message(message)
        error = await _finish_sink_raw(ws, n)
        return time.perf_counter() - t0, error


async def send_pterows(
    url: str, n: int, message: str | bytes = SMALL, **options: Any
) -> tuple[float, str | None]:
    async with pw.open_websocket(url, **options) as ws:
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send(message)
        await ws.send("END")
        count = int(await ws.receive())
        elapsed = time.perf_counter() - t0
        return elapsed, None if count == n else f"server counted {count} of {n}"


async def send_websockets(
    url: str, n: int, message: str | bytes = SMALL
) -> tuple[float, str | None]:
    assert websockets_connect is not None
    async with websockets_connect(url, compression=None) as ws:
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send(message)
        await ws.send("END")
        count = int(await ws.recv())
        elapsed = time.perf_counter() - t0
        return elapsed, None if count == n else f"server counted {count} of {n}"


async def send_mib_raw(url: str, n: int) -> tuple[float, str | None]:
    return await send_raw(url, n, MIB_BINARY)


async def send_mib_pterows(url: str, n: int, **options: Any) -> tuple[float, str | None]:
    return await send_pterows(url, n, MIB_BINARY, **options)


async def send_mib_websockets(url: str, n: int) -> tuple[float, str | None]:
    return await send_websockets(url, n, MIB_BINARY)


# -- receive: the server floods, the client consumes -------------------------------------


def _short(got: int, n: int) -> str | None:
    return None if got == n else f"received {got} of {n} messages"


async def recv_raw(url: str, n: int) -> tuple[float, str | None]:
    got = 0
    async with trio_websocket.open_websocket_url(url) as ws:
        await ws.send_message("go")
        t0 = time.perf_counter()
        try:
            while got < n:
                await ws.get_message()
                got += 1
        except trio_websocket.ConnectionClosed:
            pass
        return time.perf_counter() - t0, _short(got, n)


async def recv_pterows(url: str, n: int, **options: Any) -> tuple[float, str | None]:
    got = 0
    async with pw.open_websocket(url, incoming_overflow="block", **options) as ws:
        await ws.send("go")
        t0 = time.perf_counter()
        async for _ in ws:
            got += 1
            if got == n:
                break
        elapsed = time.perf_counter() - t0
        dropped = ws.get_metrics().dropped
    error = _short(got, n)
    if error and dropped:
        error += f" ({dropped} dropped by the incoming buffer)"
    return elapsed, error


async def probe_defaults(url: str, n: int) -> dict[str, Any]:
    """One flood into trio_pterows with default options (incoming_overflow="drop-oldest"):
    how much of it reaches ``async for``? Ends at the n-th message or the server's close.
    """
    got = 0
    async with pw.open_websocket(url) as ws:
        await ws.send("go")
        t0 = time.perf_counter()
        async for _ in ws:
            got += 1
            if got == n:
                break
        elapsed = time.perf_counter() - t0
        dropped = ws.get_metrics().dropped
    return {"n": n, "delivered": got, "dropped": dropped, "elapsed": elapsed}


async def recv_websockets(url: str, n: int) -> tuple[float, str | None]:
    assert websockets_connect is not None
    got = 0
    async with websockets_connect(url, compression=None) as ws:
        await ws.send("go")
        t0 = time.perf_counter()
        async for _ in ws:
            got += 1
            if got == n:
                break
        return time.perf_counter() - t0, _short(got, n)


# -- receive JSON: decoded on every side -------------------------------------------------


async def recv_json_raw(url: str, n: int) -> tuple[float, str | None]:
    loads = json_loads()
    got = 0
    async with trio_websocket.open_websocket_url(url) as ws:
        await ws.send_message("go")
        t0 = time.perf_counter()
        try:
            while got < n:
                loads(await ws.get_message())
                got += 1
        except trio_websocket.ConnectionClosed:
            pass
        return time.perf_counter() - t0, _short(got, n)


async def recv_json_pterows(url: str, n: int, **options: Any) -> tuple[float, str | None]:
    got = 0
    last: Any = None
    async with pw.open_websocket(url, auto_json=True, incoming_overflow="block", **options) as ws:
        await ws.send("go")
        t0 = time.perf_counter()
        async for message in ws:
            last = message
            got += 1
            if got == n:
                break
        elapsed = time.perf_counter() - t0
        dropped = ws.get_metrics().dropped
    error = _short(got, n)
    if error is None and not isinstance(last, dict):
        error = f"auto_json gave {type(last).__name__}, not dict"
    if error and dropped:
        error += f" ({dropped} dropped by the incoming buffer)"
    return elapsed, error


async def recv_json_websockets(url: str, n: int) -> tuple[float, str | None]:
    assert websockets_connect is not None
    loads = json_loads()
    got = 0
    async with websockets_connect(url, compression=None) as ws:
        await ws.send("go")
        t0 = time.perf_counter()
        async for message in ws:
            loads(message)
            got += 1
            if got == n:
                break
        return time.perf_counter() - t0, _short(got, n)


# -- echo: round trips, one at a time ----------------------------------------------------


async def echo_raw(url: str, n: int, message: str | bytes = KIB_TEXT) -> tuple[float, str | None]:
    async with trio_websocket.open_websocket_url(url) as ws:
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send_message(message)
            reply = await ws.get_message()
        elapsed = time.perf_counter() - t0
    return elapsed, None if len(reply) == len(message) else "short reply"


async def echo_pterows(
    url: str, n: int, message: str | bytes = KIB_TEXT, **options: Any
) -> tuple[float, str | None]:
    async with pw.open_websocket(url, **options) as ws:
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send(message)
            reply = await ws.receive()
        elapsed = time.perf_counter() - t0
    return elapsed, None if len(reply) == len(message) else "short reply"


async def echo_websockets(
    url: str, n: int, message: str | bytes = KIB_TEXT
) -> tuple[float, str | None]:
    assert websockets_connect is not None
    async with websockets_connect(url, compression=None) as ws:
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send(message)
            reply = await ws.recv()
        elapsed = time.perf_counter() - t0
    return elapsed, None if len(reply) == len(message) else "short reply"


async def echo_mib_raw(url: str, n: int) -> tuple[float, str | None]:
    return await echo_raw(url, n, MIB_BINARY)


async def echo_mib_pterows(url: str, n: int, **options: Any) -> tuple[float, str | None]:
    return await echo_pterows(url, n, MIB_BINARY, **options)


async def echo_mib_websockets(url: str, n: int) -> tuple[float, str | None]:
    return await echo_websockets(url, n, MIB_BINARY)


# -- the table ---------------------------------------------------------------------------


def _clients(
    raw: ClientFn,
    pterows: Callable[..., Awaitable[tuple[float, str | None]]],
    websockets: ClientFn,
    asyncio_client: Callable[[str, int], Any] | None = None,
) -> dict[str, ClientFn]:
    """Every client of a case: raw, pterows (default transport), pterows-ws
    (``transport="websockets"``), websockets.trio and websockets' asyncio client."""
    clients: dict[str, ClientFn] = {
        "raw": raw,
        "pterows": pterows,
        "pterows-ws": functools.partial(pterows, transport="websockets"),
    }
    if websockets_connect is not None:
        clients["websockets"] = websockets
    if asyncio_client is not None:
        clients["asyncio"] = in_asyncio(asyncio_client)
    return clients


_MB = 1e6
CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case(
            "send",
            "send 32 B text, one way",
            "/sink",
            n=20_000,
            n_quick=8_000,
            unit="msg/s",
            per_message=1,
            goal=0.90,
            clients=_clients(send_raw, send_pterows, send_websockets, ref.send_asyncio),
            ws_goal=1.3,
        ),
        Case(
            "send_concurrent",
            f"send 32 B text from {ref.SENDERS} tasks at once",
            "/sink",
            n=20_000,
            n_quick=8_000,
            unit="msg/s",
            per_message=1,
            goal=None,
            clients=_clients(
                ref.concurrent_raw,
                ref.concurrent_pterows,
                ref.concurrent_websockets,
                ref.concurrent_asyncio,
            ),
            ws_goal=2.5,
        ),
        Case(
            "receive",
            "receive 32 B text (flood) [1]",
            "/flood?n={n}&size=32&then=close",
            n=40_000,
            n_quick=15_000,
            unit="msg/s",
            per_message=1,
            goal=0.95,
            clients=_clients(recv_raw, recv_pterows, recv_websockets, ref.recv_asyncio),
            ws_goal=1.5,
        ),
        Case(
            "receive_json",
            "receive 200 B JSON, orjson [1]",
            "/json-flood?n={n}&size=200&then=close",
            n=30_000,
            n_quick=10_000,
            unit="msg/s",
            per_message=1,
            goal=0.90,
            clients=_clients(
                recv_json_raw, recv_json_pterows, recv_json_websockets, ref.recv_json_asyncio
            ),
            ws_goal=1.5,
        ),
        Case(
            "receive_json_stdlib",
            "receive 200 B JSON, stdlib json [1]",
            "/json-flood?n={n}&size=200&then=close",
            n=20_000,
            n_quick=8_000,
            unit="msg/s",
            per_message=1,
            goal=None,
            clients=_clients(
                recv_json_raw, recv_json_pterows, recv_json_websockets, ref.recv_json_asyncio
            ),
            no_orjson=True,
        ),
        Case(
            "echo",
            "echo 1 KiB text round trips",
            "/echo",
            n=4_000,
            n_quick=1_500,
            unit="rt/s",
            per_message=1,
            goal=0.95,
            clients=_clients(echo_raw, echo_pterows, echo_websockets, ref.echo_asyncio),
            ws_goal=1.1,
        ),
        Case(
            "send_1mib",
            "send 1 MiB binary, one way",
            "/sink",
            n=100,
            n_quick=40,
            unit="MB/s",
            per_message=(1 << 20) / _MB,
            goal=None,
            clients=_clients(
                send_mib_raw, send_mib_pterows, send_mib_websockets, ref.send_mib_asyncio
            ),
            ws_goal=1.0,
        ),
        Case(
            "echo_1mib",
            "echo 1 MiB binary (both ways)",
            "/echo",
            n=50,
            n_quick=20,
            unit="MB/s",
            per_message=2 * (1 << 20) / _MB,
            goal=None,
            clients=_clients(
                echo_mib_raw, echo_mib_pterows, echo_mib_websockets, ref.echo_mib_asyncio
            ),
            ws_goal=1.0,
        ),
    )
}


async def run_trial(
    case: Case, client: str, base_url: str, n: int, time_limit: float
) -> dict[str, Any]:
    """One timed trial: ``{"rate": ..., "elapsed": ..., "error": ...}``."""
    url = base_url + case.path.format(n=n)
    fn = case.clients[client]
    try:
        with trio.fail_after(time_limit):
            elapsed, error = await fn(url, n)
    except trio.TooSlowError:
        return {"rate": None, "elapsed": None, "error": f"timed out after {time_limit}s"}
    except Exception as exc:
        return {"rate": None, "elapsed": None, "error": f"{type(exc).__name__}: {exc}"}
    rate = n * case.per_message / elapsed if elapsed > 0 else None
    return {"rate": rate, "elapsed": elapsed, "error": error}
