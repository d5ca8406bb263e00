"""``python -m benchmarks``: trio_pterows against raw trio-websocket, in the same run.

    python -m benchmarks [--rounds N] [--quick] [--only CASE ...] [--json PATH]

Starts the `websockets` peer (benchmarks/server.py) in its own process, then runs each
case with raw trio-websocket, trio_pterows, trio_pterows with transport="websockets",
websockets.trio and websockets' asyncio client in turn, N rounds, and prints two
tables: the default transport against raw trio-websocket, and the websockets transport
against websockets.trio (median of per-round ratios) and the asyncio client. The same
results, with the machine's details, go to benchmarks/results/latest.json (or --json
PATH) so runs can be compared.

Cases: send, send_concurrent (8 tasks on one connection), receive, receive_json,
receive_json_stdlib (in a subprocess where orjson cannot be imported), echo, send_1mib,
echo_1mib, receive_defaults (does a flood reach ``async for`` with default options?),
memory (RSS per idle connection, a fresh process per side and round), scale (10,000
managed connections with heartbeats in one process).
Progress goes to stderr; the table to stdout. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio

from ._common import HERE, ROOT, ServerProcess, machine_info, median, raise_fd_limit
from .report_ws import print_ws_table

THROUGHPUT = (
    "send",
    "send_concurrent",
    "receive",
    "receive_json",
    "receive_json_stdlib",
    "echo",
    "send_1mib",
    "echo_1mib",
)
ALL_CASES = (*THROUGHPUT, "receive_defaults", "memory", "scale")

#: Goal for memory: KiB per idle managed connection (default transport).
MEMORY_GOAL_KIB = 24.0
#: The same with transport="websockets" (issue 10).
MEMORY_GOAL_WS_KIB = 16.0
#: Bound of a worker subprocess.
WORKER_TIMEOUT = 600.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run_worker(args: list[str], timeout: float = WORKER_TIMEOUT) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module> ...`` and parse the JSON on its last line."""
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"worker {' '.join(args[:2])} failed (exit {proc.returncode}): "
            f"{proc.stderr.strip().splitlines()[-1:] or proc.stdout[-200:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# -- cases -----------------------------------------------------------------------------


def _run_isolated(case: Any, args: list[str]) -> dict[str, Any]:
    """A case in its own process; a failure becomes an error in the result."""
    try:
        return _run_worker(args)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return {
            "name": case.name,
            "title": case.title,
            "unit": case.unit,
            "goal": None,
            "clients": {"pterows": {"median": None, "rates": [], "errors": [str(exc)]}},
            "ratio": None,
            "passed": False,
        }


def run_throughput(
    names: Sequence[str], server: ServerProcess, rounds: int, quick: bool, clients: list[str]
) -> list[dict[str, Any]]:
    from .cases import CASES
    from .throughput import run_case

    base = f"ws://127.0.0.1:{server.port}"
    results = []
    for name in names:
        case = CASES[name]
        n = case.n_quick if quick else case.n
        log(f"  {name}: {case.title}, {n} messages x {rounds} rounds")
        t0 = time.perf_counter()
        if case.no_orjson:
            result = _run_isolated(
                case,
                [
                    "benchmarks.throughput",
                    "--case",
                    name,
                    "--base",
                    base,
                    "--n",
                    str(n),
                    "--rounds",
                    str(rounds),
                    "--clients",
                    ",".join(clients),
                    "--no-orjson",
                ],
            )
        else:
            result = trio.run(
                lambda case=case, n=n: run_case(case, base, n=n, rounds=rounds, clients=clients)
            )
        result["seconds"] = time.perf_counter() - t0
        results.append(result)
    return results


def run_receive_defaults(server: ServerProcess, quick: bool) -> dict[str, Any]:
    """One flood with trio_pterows' default options: is every message delivered?"""
    from .cases import CASES, probe_defaults

    case = CASES["receive"]
    n = case.n_quick if quick else case.n
    log(f"  receive_defaults: one {n}-message flood, default options (drop-oldest)")
    url = f"ws://127.0.0.1:{server.port}" + case.path.format(n=n)

    async def probe() -> dict[str, Any]:
        with trio.fail_after(60):
            return await probe_defaults(url, n)

    result: dict[str, Any] = {
        "name": "receive_defaults",
        "title": "receive flood, default options [2]",
        "unit": "messages",
        "n": n,
        "goal": "every message delivered",
        "passed": None,
    }
    try:
        result.update(trio.run(probe))
    except Exception as exc:  # TooSlowError included: reported, the run goes on
        result.update(delivered=0, error=f"{type(exc).__name__}: {exc}")
    result["delivered_all"] = result["delivered"] == n
    return result


def run_memory(
    server: ServerProcess, rounds: int, count: int, clients: list[str]
) -> dict[str, Any]:
    log(f"  memory: {count} idle connections per process, {rounds} rounds")
    t0 = time.perf_counter()
    samples: dict[str, list[float]] = {c: [] for c in clients}
    errors: dict[str, list[str]] = {c: [] for c in clients}
    for r in range(rounds):
        for client in clients:
            try:
                out = _run_worker(
                    [
                        "benchmarks.memory",
                        "--client",
                        client,
                        "--count",
                        str(count),
                        "--url",
                        server.url("/idle"),
                    ]
                )
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                errors[client].append(str(exc))
                continue
            kib = out["per_connection"] / 1024
            samples[client].append(kib)
            log(f"    memory round {r + 1}/{rounds} {client:<10} {kib:.1f} KiB/connection")
    medians = {c: (median(v) if v else None) for c, v in samples.items()}
    raw, ours = medians.get("raw"), medians.get("pterows")
    passed = ours is not None and ours <= MEMORY_GOAL_KIB and not errors.get("pterows")
    ws, trio_ws = medians.get("pterows-ws"), medians.get("websockets")
    ws_passed = None
    if "pterows-ws" in clients:
        ws_passed = ws is not None and ws <= MEMORY_GOAL_WS_KIB and not errors["pterows-ws"]
    return {
        "ws_goal": f"<= {MEMORY_GOAL_WS_KIB:.0f} KiB",
        "ws_ratio": ws / trio_ws if ws and trio_ws else None,
        "ws_passed": ws_passed,
        "name": "memory",
        "title": f"RSS per idle connection ({count})",
        "unit": "KiB",
        "n": count,
        "rounds": rounds,
        "goal": f"<= {MEMORY_GOAL_KIB:.0f} KiB",
        "clients": {
            c: {"samples": samples[c], "median": medians[c], "errors": sorted(set(errors[c]))}
            for c in clients
        },
        "ratio": ours / raw if raw and ours else None,
        "passed": passed,
        "seconds": time.perf_counter() - t0,
    }


def run_scale(count: int, idle: float, heartbeat_interval: float) -> dict[str, Any]:
    soft, hard = raise_fd_limit(count + 1024)
    log(
        f"  scale: {count} managed connections, heartbeat every {heartbeat_interval}s, "
        f"{idle}s idle (fd limit {soft}/{hard})"
    )
    t0 = time.perf_counter()
    args = [
        "benchmarks.scale",
        "--count",
        str(count),
        "--idle",
        str(idle),
        "--heartbeat-interval",
        str(heartbeat_interval),
    ]
    with ServerProcess(backlog=4096) as server:
        cpu_before = server.cpu_seconds()
        try:
            out = _run_worker([*args, "--url", server.url("/idle")])
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            out = {"count": count, "error": str(exc)}
        out["server_cpu_seconds"] = server.cpu_seconds() - cpu_before
    out["name"] = "scale"
    out["title"] = f"{out['count']} managed connections with heartbeats"
    out["goal"] = f"{count} open, no errors"
    out["seconds"] = time.perf_counter() - t0
    if "error" in out:
        out["passed"] = False
        log(f"    scale failed: {out['error']}")
        return out
    errors = out["open_errors"] or out["open_timed_out"] or out["teardown_timed_out"]
    out["passed"] = (
        not errors
        and out["opened"] == count
        and out["still_connected"] == out["opened"]
        and "scaled_down_from" not in out
    )
    for key in ("open_seconds", "idle_cpu_percent", "frozen_idle_cpu_percent", "teardown_seconds"):
        if key in out:
            log(f"    {key}: {out[key]:.2f}")
    return out


# -- the table -------------------------------------------------------------------------


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "KiB":
        return f"{value:.1f} KiB"
    if value >= 1000:
        return f"{value:,.0f} {unit}"
    return f"{value:.1f} {unit}"


def table_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for r in results:
        status = {True: "PASS", False: "FAIL", None: "info"}[r.get("passed")]
        if r["name"] == "receive_defaults":
            status = "ok" if r["delivered_all"] else "WARN"
            if "error" in r:
                status = "FAIL (errors)"
            shown = f"{r['delivered']:,} of {r['n']:,} delivered"
            rows.append([r["title"], "-", shown, "", "", r["goal"], status])
            continue
        if r["name"] == "scale" and "error" in r:
            rows.append([r["title"], "-", "worker failed", "", "", r["goal"], status])
            continue
        if r["name"] == "scale":
            count = r["count"]
            scaled = (
                f" (scaled down from {r['scaled_down_from']})" if "scaled_down_from" in r else ""
            )
            opened = f"{r['opened']}/{count} open, {r['open_errors']} errors{scaled}"
            rows.append(
                [
                    f"scale: open {count}",
                    "-",
                    f"{r['open_seconds']:.1f} s",
                    "",
                    "",
                    r["goal"],
                    status,
                ]
            )
            rows.append([f"  ({opened})", "", "", "", "", "", ""])
            rate = r["idle_heartbeats"] / r["idle_seconds"]
            gc_share = 100 * r["idle_gc"]["seconds"] / r["idle_seconds"]
            idle = f"{r['idle_cpu_percent']:.1f} % (GC {gc_share:.0f} %)"
            rows.append([f"scale: idle CPU, {rate:,.0f} pings/s", "-", idle, "", "", "", "info"])
            if "frozen_idle_cpu_percent" in r:
                us = r["frozen_idle_cpu_us_per_heartbeat"]
                frozen = f"{r['frozen_idle_cpu_percent']:.1f} %"
                if us:
                    frozen += f" ({us:.0f} us/ping)"
                rows.append(["scale: idle CPU after gc.freeze()", "-", frozen, "", "", "", "info"])
            teardown = f"{r['teardown_seconds']:.1f} s"
            rows.append(["scale: teardown (all at once)", "-", teardown, "", "", "", "info"])
            continue
        clients = r["clients"]
        raw = clients.get("raw", {}).get("median")
        ours = clients.get("pterows", {}).get("median")
        other = clients.get("websockets", {}).get("median")
        ratio = f"{r['ratio']:.3f}x" if r.get("ratio") else "-"
        errors = [e for c in ("raw", "pterows") for e in clients.get(c, {}).get("errors", [])]
        if errors:
            status += " (errors)"
        rows.append(
            [
                r["title"],
                _fmt(raw, r["unit"]),
                _fmt(ours, r["unit"]),
                ratio,
                _fmt(other, r["unit"]),
                r.get("goal") or "-",
                status,
            ]
        )
    return rows


def print_table(results: list[dict[str, Any]], info: dict[str, Any]) -> None:
    header = ["case", "raw trio-websocket", "trio_pterows", "ratio", "websockets.trio", "goal", ""]
    rows = [header, *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {1, 2, 3, 4}
    versions = info["versions"]
    print(
        f"\n{info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        f"trio {versions['trio']}, trio-websocket {versions['trio-websocket']}, "
        f"websockets {versions['websockets']}, orjson {'on' if info['orjson'] else 'off'}"
    )
    for i, row in enumerate(rows):
        cells = [
            cell.rjust(widths[j]) if j in right else cell.ljust(widths[j])
            for j, cell in enumerate(row)
        ]
        print("  ".join(cells).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    errors = [
        (r["name"], c, e)
        for r in results
        for c, v in r.get("clients", {}).items()
        for e in v.get("errors", [])
    ]
    for name, client, error in errors:
        print(f"  ! {name} / {client}: {error}")
    print(
        "[1] trio_pterows with incoming_overflow='block' (every message delivered); raw and\n"
        "    websockets.trio decode JSON themselves (orjson.loads, or json.loads without it).\n"
        "[2] trio_pterows with default options (incoming_queue_limit=1024, drop-oldest).\n"
        "ratio = trio_pterows / raw trio-websocket (medians; for memory, lower is better).\n"
        "Each side with its library's defaults: trio_pterows reads 64 KiB per receive call,\n"
        "trio-websocket 4 KiB (this is what the 1 MiB echo ratio shows)."
    )


# -- main ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds per case (default 5, 3 with --quick)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a ~30-60 s smoke run: fewer rounds and messages, 300 and 2,000 connections",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=ALL_CASES,
        metavar="CASE",
        help=f"any of {', '.join(ALL_CASES)}",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=HERE / "results" / "latest.json",
        help="where the results go (default benchmarks/results/latest.json)",
    )
    parser.add_argument(
        "--no-websockets",
        action="store_true",
        help="skip the websockets.trio and websockets asyncio references",
    )
    parser.add_argument(
        "--no-ws-transport",
        action="store_true",
        help='skip trio_pterows with transport="websockets"',
    )
    parser.add_argument(
        "--memory-count",
        type=int,
        default=None,
        help="connections per memory process (default 1000)",
    )
    parser.add_argument(
        "--scale-count", type=int, default=None, help="default 10000 (2000 with --quick)"
    )
    parser.add_argument("--scale-idle", type=float, default=5.0, help="idle seconds measured")
    parser.add_argument("--heartbeat-interval", type=float, default=5.0, help="scale case")
    args = parser.parse_args(argv)

    rounds = args.rounds or (3 if args.quick else 5)
    selected = args.only or list(ALL_CASES)
    clients = ["raw", "pterows"]
    if not args.no_ws_transport:
        clients.append("pterows-ws")
    if not args.no_websockets:
        from .cases import websockets_connect

        if websockets_connect is not None:
            clients += ["websockets", "asyncio"]
    info = machine_info()
    if info["load_average_at_start"][0] > 0.5:
        log(
            f"warning: load average {info['load_average_at_start'][0]:.2f}: something else is "
            "running on this machine; the numbers will be noisier"
        )
    log(f"benchmarks: {', '.join(selected)}; {rounds} rounds; clients {', '.join(clients)}")
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    throughput = [name for name in THROUGHPUT if name in selected]
    if throughput or {"receive_defaults", "memory"} & set(selected):
        with ServerProcess() as server:
            if throughput:
                results += run_throughput(throughput, server, rounds, args.quick, clients)
            if "receive_defaults" in selected:
                results.append(run_receive_defaults(server, args.quick))
            if "memory" in selected:
                count = args.memory_count or (300 if args.quick else 1000)
                memory_clients = ["raw", "pterows"]
                memory_clients += [c for c in ("pterows-ws", "websockets") if c in clients]
                results.append(run_memory(server, rounds, count, memory_clients))
    if "scale" in selected:
        count = args.scale_count or (2000 if args.quick else 10_000)
        results.append(run_scale(count, args.scale_idle, args.heartbeat_interval))
    elapsed = time.perf_counter() - started
    info["load_average_at_end"] = list(os.getloadavg())

    print_table(results, info)
    if "pterows-ws" in clients:
        print_ws_table(results)
    print(f"\n{elapsed:.0f} s in all; JSON: {args.json}")
    document = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": list(argv if argv is not None else sys.argv[1:]),
        "rounds": rounds,
        "quick": args.quick,
        "seconds": elapsed,
        "machine": info,
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
