"""Profile one side of one case: where does the time per message go?

``python -m benchmarks.profiling CASE [--client pterows] [--tool cprofile|pyinstrument]``

CASE is a throughput case (send, receive, receive_json, echo, ...) or ``heartbeat``
(``--connections`` idle managed connections pinging every second, profiled over
``--seconds``). A warm-up trial runs first, unprofiled. With cProfile the output is
the top functions by own time, each with its cost per message (profiler overhead
included: compare sides, not absolute numbers), then the time per message spent in
each package (own time), which is the quickest view of what the library adds.
``--no-orjson`` blocks orjson, as for the ``receive_json_stdlib`` case.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import trio

from ._common import ServerProcess


def _package(filename: str) -> str:
    for marker in (
        "trio_pterows",
        "trio_websocket",
        "wsproto",
        "h11",
        "websockets",
        "outcome",
        "orjson",
        "benchmarks",
        "trio",
    ):
        if f"/{marker}/" in filename or filename.startswith(marker):
            return marker
    if filename == "~":
        return "builtins"
    if "/lib/python3" in filename:
        return "stdlib"
    return "other"


def report_cprofile(profile: cProfile.Profile, messages: int, top: int) -> None:
    stats = pstats.Stats(profile)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in raw.values())
    print(f"\nprofiled: {total:.3f} s own time, {messages} messages")
    print(f"{1e6 * total / messages:.2f} us per message (profiler overhead included)\n")
    rows = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    print(f"{'own us/msg':>10} {'cum us/msg':>10} {'calls/msg':>9}  function")
    for (filename, line, name), (_cc, nc, tt, ct, _callers) in rows:
        where = f"{filename.rsplit('/', 2)[-2:] if '/' in filename else filename}"
        where = "/".join(where) if isinstance(where, list) else where
        print(
            f"{1e6 * tt / messages:10.2f} {1e6 * ct / messages:10.2f} {nc / messages:9.2f}"
            f"  {name} ({where}:{line})"
        )
    per_package: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tt, _ct, _callers) in raw.items():
        per_package[_package(filename)] += tt
    print("\nown time per message, by package:")
    for package, seconds in sorted(per_package.items(), key=lambda kv: kv[1], reverse=True):
        share = 100 * seconds / total if total else 0.0
        print(f"  {package:<14} {1e6 * seconds / messages:8.2f} us  {share:5.1f} %")


async def _profile_case(
    case_name: str, client: str, base: str, n: int, tool: str, top: int
) -> None:
    from .cases import CASES, run_trial

    case = CASES[case_name]
    await run_trial(case, client, base, max(1, n // 5), 60.0)  # warm-up
    if tool == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled", interval=0.0005)
        profiler.start()
        result = await run_trial(case, client, base, n, 120.0)
        profiler.stop()
        print(result)
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return
    profile = cProfile.Profile()
    profile.enable()
    result = await run_trial(case, client, base, n, 120.0)
    profile.disable()
    print(result)
    report_cprofile(profile, n, top)


async def _profile_heartbeat(
    url: str, connections: int, seconds: float, tool: str, top: int
) -> None:
    import trio_pterows as pw

    async with trio.open_nursery() as nursery:
        ready = 0
        all_ready = trio.Event()
        done = trio.Event()
        sockets: list[pw.AdvancedWebSocket] = []

        async def hold() -> None:
            nonlocal ready
            async with pw.open_websocket(
                url, heartbeat_mode="protocol", heartbeat_interval=1.0
            ) as ws:
                sockets.append(ws)
                ready += 1
                if ready == connections:
                    all_ready.set()
                await done.wait()

        for _ in range(connections):
            nursery.start_soon(hold)
        with trio.fail_after(120):
            await all_ready.wait()
        await trio.sleep(1.5)

        def pongs() -> int:
            return sum(m.latency.count for m in (ws.get_metrics() for ws in sockets) if m.latency)

        before = pongs()
        if tool == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="disabled", interval=0.0005)
            profiler.start()
            await trio.sleep(seconds)
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        else:
            profile = cProfile.Profile()
            profile.enable()
            await trio.sleep(seconds)
            profile.disable()
            report_cprofile(profile, max(1, pongs() - before), top)
        print(f"(per message = per heartbeat: {pongs() - before} pongs in {seconds}s)")
        done.set()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling")
    parser.add_argument("case")
    parser.add_argument(
        "--client",
        default="pterows",
        choices=("raw", "pterows", "pterows-ws", "websockets", "asyncio"),
    )
    parser.add_argument("--tool", default="cprofile", choices=("cprofile", "pyinstrument"))
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-orjson", action="store_true")
    args = parser.parse_args(argv)
    if args.no_orjson:
        sys.modules["orjson"] = None  # type: ignore[assignment]
    from .cases import CASES

    with ServerProcess() as server:
        base = f"ws://127.0.0.1:{server.port}"
        if args.case == "heartbeat":
            trio.run(
                _profile_heartbeat,
                server.url("/idle"),
                args.connections,
                args.seconds,
                args.tool,
                args.top,
            )
        else:
            n = args.n or CASES[args.case].n
            trio.run(_profile_case, args.case, args.client, base, n, args.tool, args.top)


if __name__ == "__main__":
    main()
