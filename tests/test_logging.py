"""Logs never contain tokens, credentials or query strings."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer

SECRET = "tok_5up3r53cr3t"


async def test_logs_are_redacted_at_debug(
    caplog: pytest.LogCaptureFixture, memory_server: MemoryWebSocketServer
) -> None:
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(5):
        async with pw.AdvancedWebSocket(
            url=f"ws://user:{SECRET}@memory.test/ws?token={SECRET}",
            fallback_urls=[f"ws://memory.test/fallback?key={SECRET}"],
            auto_reconnect=True,
            reconnect_interval=0,
            max_reconnect_attempts=1,
            heartbeat_interval=None,
            stream_opener=memory_server.open_stream,
        ) as ws:
            await ws.connect()
            await memory_server.vanish()
            await ws.connect()
            memory_server.refuse = 0
            await memory_server.vanish()
            with pytest.raises(pw.ConnectionFailed) as info:
                await ws.connect()
    assert "connected to" in caplog.text  # something was logged
    assert SECRET not in caplog.text
    assert SECRET not in str(info.value)
    assert SECRET not in repr(ws)


async def test_callable_logger_gets_level_and_text(memory_server: MemoryWebSocketServer) -> None:
    lines: list[tuple[Any, ...]] = []
    with trio.fail_after(5):
        async with pw.AdvancedWebSocket(
            url=f"ws://memory.test/?token={SECRET}",
            heartbeat_interval=None,
            logger=lambda level, *args: lines.append((level, *args)),
            stream_opener=memory_server.open_stream,
        ) as ws:
            await ws.connect()
    assert ("info", "connected to ws://memory.test/?***") in lines
    assert all(SECRET not in str(line) for line in lines)


async def test_a_broken_logger_callback_does_not_break_the_connection(
    memory_server: MemoryWebSocketServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(level: str, *args: Any) -> None:
        raise RuntimeError("logger bug")

    with trio.fail_after(5):
        async with pw.AdvancedWebSocket(
            url="ws://memory.test/",
            heartbeat_interval=None,
            logger=broken,
            stream_opener=memory_server.open_stream,
        ) as ws:
            await ws.connect()
            await ws.send("x")
            assert await ws.receive() == "x"
    assert "the logger callback raised" in caplog.text
