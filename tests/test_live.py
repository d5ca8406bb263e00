"""One connection (trio_pterows/_live.py): its phases, set-up and teardown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

import trio_pterows as pw
from trio_pterows._live import _PHASES, LivePhase
from trio_pterows._state import InternalError, check_transition
from trio_pterows.testing import MemoryWebSocketServer

MakeWS = Callable[..., pw.AdvancedWebSocket]


def test_every_phase_has_a_row_and_ended_is_final() -> None:
    assert set(_PHASES) == set(LivePhase)
    assert _PHASES[LivePhase.ENDED] == set()
    with pytest.raises(InternalError, match="ENDED -> OPEN"):
        check_transition(_PHASES, LivePhase.ENDED, LivePhase.OPEN)
    with pytest.raises(InternalError, match="HANDSHAKE -> OPEN"):
        check_transition(_PHASES, LivePhase.HANDSHAKE, LivePhase.OPEN)  # setup first


async def test_phases_during_on_connect_and_after(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    seen: dict[str, Any] = {}

    async def on_connect(ws: pw.AdvancedWebSocket) -> None:
        stats = ws.statistics()
        seen["setup"] = (stats.connection, ws.state, ws.connection)

    with trio.fail_after(5):
        async with make_ws(on_connect=on_connect) as ws:
            await ws.connect()
            assert ws.statistics().connection == "open"
            await ws.close()
            assert ws.statistics().connection is None
    assert seen["setup"] == ("setup", pw.ConnectionState.CONNECTING, None)


async def test_a_close_during_the_handshake_leaves_nothing_behind(
    autojump_clock: trio.testing.MockClock,
    memory_server: MemoryWebSocketServer,
    make_ws: MakeWS,
) -> None:
    memory_server.blackholed = True  # the upgrade never comes back
    failures: list[BaseException] = []

    async def connect(ws: pw.AdvancedWebSocket) -> None:
        try:
            await ws.connect()
        except pw.ConnectionFailed as exc:
            failures.append(exc)

    with trio.fail_after(30):
        async with make_ws(connection_timeout=20) as ws, trio.open_nursery() as nursery:
            nursery.start_soon(connect, ws)
            await trio.sleep(1)
            assert ws.statistics().connection == "handshake"
            await ws.close()
            assert ws.state is pw.ConnectionState.CLOSED
            assert ws.statistics().connection is None
    (failure,) = failures
    assert "closed" in str(failure)


async def test_the_handle_describes_the_connection_on_demand(
    memory_server: MemoryWebSocketServer, make_ws: MakeWS, transport: str
) -> None:
    with trio.fail_after(5):
        async with make_ws() as ws:
            conn = await ws.connect()
            again = ws.connection
            assert again == conn
            assert again is not conn  # made on demand: an idle connection keeps none
            assert (conn.local_address, conn.remote_address) == (None, None)  # memory
            assert conn.transport == transport  # --transport: the suite runs on both
