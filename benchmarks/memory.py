"""Memory per idle connection, measured in a fresh process.

``python -m benchmarks.memory --client raw|pterows|pterows-ws|websockets --count N --url URL``
opens one connection and closes it (imports, first-use allocations), collects garbage,
reads RSS, opens ``count`` connections one after the other and keeps them open, waits
a moment, collects garbage, reads RSS again and prints, as JSON, the difference divided
by ``count``. The process then exits without closing anything (the server copes).

The connections are held by one ``AsyncExitStack`` in one task, so only what each
library allocates per connection is counted (no holder task per connection).
``pterows`` and ``pterows-ws`` (``transport="websockets"``) run a protocol-mode
heartbeat with a long interval: its heartbeat task exists and waits, as it would on an
idle production connection.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import trio

from ._common import raise_fd_limit, rss_bytes

#: Heartbeat interval of the managed connections: long enough never to fire here.
HEARTBEAT_INTERVAL = 60.0
#: Bound of the whole measurement.
TIMEOUT = 240.0


def _opener(client: str, url: str) -> Any:
    if client == "raw":
        import trio_websocket

        return lambda: trio_websocket.open_websocket_url(url)
    if client == "pterows":
        import trio_pterows as pw

        return lambda: pw.open_websocket(
            url, heartbeat_mode="protocol", heartbeat_interval=HEARTBEAT_INTERVAL
        )
    if client == "pterows-ws":
        import trio_pterows as pw

        return lambda: pw.open_websocket(
            url,
            heartbeat_mode="protocol",
            heartbeat_interval=HEARTBEAT_INTERVAL,
            transport="websockets",
        )
    if client == "websockets":
        from websockets.trio.client import connect

        # websockets' own keepalive (ping every 20 s) stays on, as users get it.
        return lambda: connect(url, compression=None)
    raise ValueError(f"client: unknown {client!r}")


async def measure(client: str, url: str, count: int) -> dict[str, Any]:
    open_ws = _opener(client, url)
    async with open_ws():  # warm-up connection
        pass
    async with contextlib.AsyncExitStack() as stack:
        gc.collect()
        await trio.sleep(0.2)
        before = rss_bytes()
        t0 = time.perf_counter()
        for _ in range(count):
            await stack.enter_async_context(open_ws())
        opened_in = time.perf_counter() - t0
        await trio.sleep(0.5)  # let every reader and heartbeat task settle into its wait
        gc.collect()
        after = rss_bytes()
        result = {
            "client": client,
            "count": count,
            "rss_before": before,
            "rss_after": after,
            "per_connection": (after - before) / count,
            "open_seconds": opened_in,
        }
        print(json.dumps(result), flush=True)
        # Leave without closing 1,000 connections one by one: the measurement is done.
        sys.stdout.flush()
        os._exit(0)
    return result  # pragma: no cover - unreachable


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument(
        "--client", required=True, choices=("raw", "pterows", "pterows-ws", "websockets")
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--url", required=True)
    args = parser.parse_args(argv)
    raise_fd_limit(args.count + 256)

    async def run() -> None:
        with trio.fail_after(TIMEOUT):
            await measure(args.client, args.url, args.count)

    trio.run(run)


if __name__ == "__main__":
    main()
