"""The ``pterows`` command line, in-process: the demo's snapshot texts: status pieces,
metrics line, summary."""

from __future__ import annotations

import sys

import pytest

from .cli_helpers import make_snapshot

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


def test_snapshot_texts() -> None:
    s = make_snapshot()
    assert s.latency_text() == "last 2.0 ms, p50 2.0 ms, p99 3.0 ms"
    assert s.resources_text() == "cpu 40%, memory 512.0 MiB / 1.0 GiB"
    assert s.metrics_line() == (
        "OPEN, server running | latency last 2.0 ms, p50 2.0 ms, p99 3.0 ms | "
        "2 connections, 1 reconnect | queue 0, dropped 0 | 1 token refresh | 4 faults"
    )
    assert "4 faults injected (3 drop, 1 cut)" in s.summary()
    assert "over 3 heartbeats" in s.summary()
    bare = make_snapshot(latency=None, last_latency=None, stats=None, fault_kinds="", faults=0)
    assert bare.latency_text() == "last -"
    assert bare.resources_text() == "-"
    assert "0 faults injected;" in bare.summary()
    assert bare.summary().endswith("no heartbeat answered")
