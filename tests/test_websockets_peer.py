"""Interoperability with an independent implementation: a `websockets` server
(``websockets_server`` in conftest: a subprocess on port 0). Runs on both transports."""

from __future__ import annotations

import pytest
import trio

import trio_pterows as pw

from .conftest import EventLog


async def test_echo_json_and_heartbeats_against_websockets(websockets_server: int) -> None:
    url = f"ws://127.0.0.1:{websockets_server}/echo"
    with trio.fail_after(20):
        async with pw.open_websocket(url, auto_json=True, heartbeat_interval=0.05) as ws:
            log = EventLog(ws, "pong")
            await ws.send({"hello": "websockets"})
            assert await ws.receive() == {"hello": "websockets"}
            big = b"\x01" * (512 * 1024)
            await ws.send(big)
            assert await ws.receive() == big
            await log.wait_for("pong")
            ws.update_options(heartbeat_mode="protocol")
            await log.wait_for("pong", len(log.of("pong")) + 2)
            assert ws.get_metrics().messages_received == 2


async def test_close_code_from_websockets(websockets_server: int) -> None:
    url = f"ws://127.0.0.1:{websockets_server}/close/4409"
    with trio.fail_after(20):
        async with pw.AdvancedWebSocket(
            url=url, auto_reconnect=True, fatal_close_codes={4409}
        ) as ws:
            log = EventLog(ws, "close")
            await ws.connect()
            with pytest.raises(pw.ConnectionLost) as info:
                _ = [m async for m in ws]
            assert info.value.fatal
    assert [(e.code, e.reason) for e in log.of("close")] == [(4409, "scripted close")]
