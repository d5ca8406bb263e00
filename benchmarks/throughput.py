"""Run throughput cases: every client in turn (raw, pterows[, websockets]) each round.

``python -m benchmarks.throughput --case NAME --base ws://127.0.0.1:PORT [--no-orjson]``
runs one case in this process and prints its result as JSON; the runner uses it for
the cases that must not see orjson. ``--no-orjson`` blocks the import of orjson
before trio_pterows is imported, so its stdlib JSON fallback is the one measured.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from .cases import Case

#: Upper bound of one timed trial.
TRIAL_TIMEOUT = 60.0


def summarize(
    case: Case, n: int, rounds: int, trials: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """Medians per client, the pterows/raw ratio (of medians and of paired rounds)."""
    from ._common import median

    clients: dict[str, Any] = {}
    for client, results in trials.items():
        rates = [r["rate"] for r in results if r["rate"] is not None and r["error"] is None]
        errors = sorted({r["error"] for r in results if r["error"] is not None})
        clients[client] = {
            "rates": [r["rate"] for r in results],
            "median": median(rates) if rates else None,
            "errors": errors,
        }
    raw, ours = clients.get("raw", {}).get("median"), clients.get("pterows", {}).get("median")
    ratio = ours / raw if raw and ours else None
    paired = [
        a["rate"] / b["rate"]
        for a, b in zip(trials.get("pterows", []), trials.get("raw", []), strict=False)
        if a["rate"] and b["rate"] and a["error"] is None and b["error"] is None
    ]
    failed = any(c["errors"] for name, c in clients.items() if name in ("raw", "pterows"))
    passed: bool | None = None
    if case.goal is not None:
        passed = ratio is not None and not failed and ratio >= case.goal
    elif failed:
        passed = False
    ws = _ws_summary(case, clients, trials)
    return {
        **ws,
        "name": case.name,
        "title": case.title,
        "unit": case.unit,
        "n": n,
        "rounds": rounds,
        "goal": None if case.goal is None else f">= {case.goal:.2f}x raw",
        "goal_ratio": case.goal,
        "clients": clients,
        "ratio": ratio,
        "paired_ratio_median": median(paired) if paired else None,
        "passed": passed,
    }


def _paired(trials: dict[str, list[dict[str, Any]]], a: str, b: str) -> list[float]:
    """Per-round ratios a/b, for the rounds where both succeeded."""
    return [
        x["rate"] / y["rate"]
        for x, y in zip(trials.get(a, []), trials.get(b, []), strict=False)
        if x["rate"] and y["rate"] and x["error"] is None and y["error"] is None
    ]


def _ws_summary(
    case: Case, clients: dict[str, Any], trials: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """The websockets transport against websockets.trio (the goal) and asyncio (stretch):
    medians of per-round ratios."""
    from ._common import median

    if "pterows-ws" not in trials:
        return {}
    vs_trio = _paired(trials, "pterows-ws", "websockets")
    vs_asyncio = _paired(trials, "pterows-ws", "asyncio")
    ratio = median(vs_trio) if vs_trio else None
    failed = bool(clients["pterows-ws"]["errors"])
    passed: bool | None = None
    if case.ws_goal is not None:
        passed = ratio is not None and not failed and ratio >= case.ws_goal
    elif failed:
        passed = False
    return {
        "ws_goal": None if case.ws_goal is None else f">= {case.ws_goal:.2f}x websockets.trio",
        "ws_ratio": ratio,
        "ws_ratio_asyncio": median(vs_asyncio) if vs_asyncio else None,
        "ws_passed": passed,
    }


async def run_case(
    case: Case,
    base_url: str,
    *,
    n: int,
    rounds: int,
    clients: Sequence[str],
    progress: bool = True,
) -> dict[str, Any]:
    """Warm up each client once, then ``rounds`` rounds of every client in turn."""
    from .cases import run_trial

    clients = [c for c in clients if c in case.clients]
    for client in clients:  # warm-up: imports, code paths, allocator
        await run_trial(case, client, base_url, max(1, n // 5), TRIAL_TIMEOUT)
    trials: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
    for r in range(rounds):
        for client in clients:
            gc.collect()
            result = await run_trial(case, client, base_url, n, TRIAL_TIMEOUT)
            trials[client].append(result)
            if progress:
                rate = result["rate"]
                shown = f"{rate:,.0f} {case.unit}" if rate else "-"
                note = f"  ! {result['error']}" if result["error"] else ""
                print(
                    f"    {case.name:<20} round {r + 1}/{rounds} {client:<11} {shown}{note}",
                    file=sys.stderr,
                    flush=True,
                )
    return summarize(case, n, rounds, trials)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput")
    parser.add_argument("--case", required=True)
    parser.add_argument("--base", required=True, help="ws://127.0.0.1:PORT")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", default="raw,pterows,pterows-ws,websockets,asyncio")
    parser.add_argument("--no-orjson", action="store_true")
    args = parser.parse_args(argv)
    if args.no_orjson:
        sys.modules["orjson"] = None  # type: ignore[assignment]  # import orjson -> ImportError
    from . import cases  # imports trio_pterows, after orjson was blocked

    case = cases.CASES[args.case]
    n = args.n or case.n
    result = trio.run(
        lambda: run_case(case, args.base, n=n, rounds=args.rounds, clients=args.clients.split(","))
    )
    from trio_pterows._codec import BACKEND

    result["json_backend"] = BACKEND
    print(json.dumps(result))


if __name__ == "__main__":
    main()
