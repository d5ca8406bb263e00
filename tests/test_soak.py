"""The soak (tests/soak.py) in a short version: part of the default test session.

``nox -s soak`` runs the full one (1000 faults); see tests/soak.py for what is
injected, how messages are classified and what every count means.
"""

from __future__ import annotations

import pytest
import trio

from .soak import run_soak, send_race_bug


@pytest.mark.skipif(
    send_race_bug() is not None,
    reason="library bug, ManagedConnection._send race (tests/soak.py send_race_bug): a "
    f"connection loss during a write raises {send_race_bug()}; the soak meets it now and "
    "then (send() raises it, or the supervisor crashes and stops reconnecting), which "
    "would make this test flaky",
)
def test_short_soak() -> None:
    result = trio.run(lambda: run_soak(faults=150, seconds=15.0, seed=20240601))
    print(result.summary())
    assert result.failures() == []
    assert result.faults >= 40, result.summary()
    assert result.queued > 0
    assert (result.lost, result.duplicated, result.reordered) == (0, 0, 0)
    assert result.leaked_tasks == 0
    assert len(result.fault_kinds) == 6, result.fault_kinds  # every kind of fault ran


@pytest.mark.skipif(send_race_bug() is not None, reason="see test_short_soak")
def test_short_soak_with_acks() -> None:
    result = trio.run(lambda: run_soak(faults=150, seconds=15.0, seed=20240601, acks=True))
    print(result.summary())
    assert result.failures() == []
    assert result.faults >= 40, result.summary()
    # Acked: nothing lost, in flight included; duplicates are the price.
    assert (result.lost, result.inflight_lost, result.reordered) == (0, 0, 0)
    assert (result.unacked, result.ack_timeouts) == (0, 0)
    assert result.summary().startswith("soak: acks=on ")
