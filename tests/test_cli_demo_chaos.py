"""The ``pterows`` command line, in-process: the demo's faults."""

from __future__ import annotations

import random
import sys

import pytest
import trio

from trio_pterows.cli._demo import Demo

from .cli_helpers import (
    Proxy,
    Recorder,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


async def test_demo_injects_every_kind_of_fault(autojump_clock: trio.abc.Clock) -> None:
    view = Recorder()
    demo = Demo(1, view)
    rng = random.Random(0)
    proxy = Proxy()
    with trio.fail_after(60):
        for kind in ("drop", "cut", "expire", "panel", "blackhole", "delay", "outage"):
            await demo.chaos.inject(kind, proxy, rng)
        await demo.chaos.inject("outage", Proxy(refuse_fails=True), rng)
    assert proxy.calls[:5] == ["drop", "cut", "drop", "blackhole", "restore"]
    assert proxy.calls[5][0] == "delay"
    assert proxy.calls[6] == ("delay", 0)
    assert proxy.calls[7:] == ["refuse", "drop", "accept"]
    chaos = view.texts("chaos")
    assert any(t.startswith("blackhole for") for t in chaos)
    assert "blackhole over: bytes flow again" in chaos
    assert "latency back to normal" in chaos
    assert "outage over: the proxy accepts connections again" in chaos
    assert "cannot listen again: port taken" in chaos
    assert demo.chaos.active is None
    assert demo.fake._failures  # the panel hiccup: the next token request fails
