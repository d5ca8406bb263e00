"""Many managed connections with heartbeats in one process, measured in a fresh process.

``python -m benchmarks.scale --count 10000 --url URL [--url URL ...]`` opens ``count``
managed connections (``open_websocket``, protocol-mode heartbeat), at most
``--concurrency`` handshakes at a time, spread over the given URLs; measures the time to
open them all, the CPU this process uses over ``--idle`` seconds while they sit idle
(heartbeats running; time in the cyclic garbage collector reported apart), the same
again after ``gc.freeze()`` (what an application holding thousands of connections
should do), then closes them all at once (each ``async with`` block exits) and
measures the teardown. Prints one JSON object.

If the open-file limit cannot be raised high enough, the count is lowered to fit and
the result says so (``scaled_down_from``).
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Sequence
from typing import Any

import trio

from ._common import cpu_seconds, raise_fd_limit, rss_bytes

#: File descriptors kept free for everything else (epoll, pipes, the interpreter).
FD_RESERVE = 128
#: Bounds of each phase.
OPEN_TIMEOUT = 180.0
TEARDOWN_TIMEOUT = 120.0


async def run(
    urls: Sequence[str],
    count: int,
    *,
    concurrency: int,
    heartbeat_interval: float,
    idle: float,
    gc_freeze: bool = True,
) -> dict[str, Any]:
    import trio_pterows as pw

    limiter = trio.CapacityLimiter(concurrency)
    sockets: list[pw.AdvancedWebSocket] = []
    errors: list[str] = []
    settled = 0
    all_settled = trio.Event()
    release = trio.Event()
    holding = count
    all_closed = trio.Event()

    def note_settled() -> None:
        nonlocal settled
        settled += 1
        if settled == count:
            all_settled.set()

    def note_closed() -> None:
        nonlocal holding
        holding -= 1
        if holding == 0:
            all_closed.set()

    async def hold(i: int) -> None:
        url = urls[i % len(urls)]
        try:
            try:
                async with limiter:
                    cm = pw.open_websocket(
                        url,
                        heartbeat_mode="protocol",
                        heartbeat_interval=heartbeat_interval,
                        connection_timeout=60.0,
                    )
                    ws = await cm.__aenter__()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                note_settled()
                return
            try:
                sockets.append(ws)
                note_settled()
                await release.wait()
            finally:
                await cm.__aexit__(None, None, None)
        finally:
            note_closed()

    result: dict[str, Any] = {"count": count, "concurrency": concurrency}

    async def idle_window(prefix: str) -> None:
        pongs_before = _pongs(sockets)
        cpu0, w0, gc0 = cpu_seconds(), time.perf_counter(), GC_CLOCK.snapshot()
        await trio.sleep(idle)
        cpu1, w1 = cpu_seconds(), time.perf_counter()
        result[f"{prefix}_gc"] = _gc_since(gc0)
        pongs = _pongs(sockets) - pongs_before
        result[f"{prefix}_seconds"] = w1 - w0
        result[f"{prefix}_cpu_seconds"] = cpu1 - cpu0
        result[f"{prefix}_cpu_percent"] = 100 * (cpu1 - cpu0) / (w1 - w0)
        result[f"{prefix}_heartbeats"] = pongs
        result[f"{prefix}_cpu_us_per_heartbeat"] = 1e6 * (cpu1 - cpu0) / pongs if pongs else None

    async def control(
        nursery: trio.Nursery, t0: float, rss0: int, cpu_start: float, gc_start: tuple[float, int]
    ) -> None:
        with trio.move_on_after(OPEN_TIMEOUT) as opening:
            await all_settled.wait()
        result["open_seconds"] = time.perf_counter() - t0
        result["open_cpu_seconds"] = cpu_seconds() - cpu_start
        result["open_gc"] = _gc_since(gc_start)
        result["open_timed_out"] = opening.cancelled_caught
        result["opened"] = len(sockets)
        result["open_errors"] = len(errors)
        result["error_samples"] = sorted(set(errors))[:5]
        result["rss_per_connection"] = (rss_bytes() - rss0) / max(1, len(sockets))

        await idle_window("idle")
        if gc_freeze:
            # The application-side remedy for full-collection pauses: move every
            # long-lived object out of the collector's reach, then measure again.
            gc.collect()
            gc.freeze()
            await idle_window("frozen_idle")
            gc.unfreeze()
        result["still_connected"] = sum(ws.is_connected for ws in sockets)
        latencies = [
            m.latency.max for m in (ws.get_metrics() for ws in sockets) if m.latency is not None
        ]
        result["heartbeat_latency_max"] = max(latencies) if latencies else None

        t1, cpu2, gc2 = time.perf_counter(), cpu_seconds(), GC_CLOCK.snapshot()
        release.set()  # every holder leaves its `async with` block at once
        with trio.move_on_after(TEARDOWN_TIMEOUT) as closing:
            await all_closed.wait()
        result["teardown_seconds"] = time.perf_counter() - t1
        result["teardown_cpu_seconds"] = cpu_seconds() - cpu2
        result["teardown_gc"] = _gc_since(gc2)
        result["teardown_timed_out"] = closing.cancelled_caught
        if closing.cancelled_caught:
            nursery.cancel_scope.cancel()

    if GC_CLOCK not in gc.callbacks:
        gc.callbacks.append(GC_CLOCK)
    rss0, cpu_start, gc_start = rss_bytes(), cpu_seconds(), GC_CLOCK.snapshot()
    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(control, nursery, t0, rss0, cpu_start, gc_start)
        for i in range(count):
            nursery.start_soon(hold, i)
    return result


class GCClock:
    """Time spent in the cyclic garbage collector, per generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.seconds[generation] += time.perf_counter() - self._started
            self.runs[generation] += 1

    def snapshot(self) -> tuple[float, int]:
        """(seconds in all collections, full collections) so far."""
        return sum(self.seconds), self.runs[2]


GC_CLOCK = GCClock()


def _gc_since(before: tuple[float, int]) -> dict[str, float]:
    seconds, full = GC_CLOCK.snapshot()
    return {"seconds": seconds - before[0], "full_collections": full - before[1]}


def _pongs(sockets: Sequence[Any]) -> int:
    total = 0
    for ws in sockets:
        latency = ws.get_metrics().latency
        if latency is not None:
            total += latency.count
    return total


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale")
    parser.add_argument("--url", action="append", required=True)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--heartbeat-interval", type=float, default=5.0)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="skip the second idle window, measured after gc.freeze()",
    )
    args = parser.parse_args(argv)
    wanted = args.count
    soft, hard = raise_fd_limit(wanted + FD_RESERVE)
    count = min(wanted, soft - FD_RESERVE)
    result = trio.run(
        lambda: run(
            args.url,
            count,
            concurrency=args.concurrency,
            heartbeat_interval=args.heartbeat_interval,
            idle=args.idle,
            gc_freeze=args.gc_freeze,
        )
    )
    result["gc_freeze"] = args.gc_freeze
    result["heartbeat_interval"] = args.heartbeat_interval
    result["fd_limit"] = [soft, hard]
    if count < wanted:
        result["scaled_down_from"] = wanted
    print(json.dumps(result))


if __name__ == "__main__":
    main()
