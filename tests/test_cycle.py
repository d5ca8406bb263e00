"""The supervisor (trio_pterows/_cycle.py): how a connect cycle ends, and what it logs.

DESIGN §2 "Ending": ``async for`` / ``receive()`` deliver everything buffered, then end
cleanly when the user ended it or (without auto_reconnect) the peer closed with
1000/1001; otherwise they raise ConnectionFailed / ConnectionLost. In memory, under
``autojump_clock``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer

MakeWS = Callable[..., pw.AdvancedWebSocket]


def sends_then_closes(code: int, reason: str = "") -> Any:
    """A server handler: two messages, then a close with ``code``."""

    async def handler(conn: trio_websocket.WebSocketConnection) -> None:
        await conn.send_message("one")
        await conn.send_message("two")
        await conn.aclose(code, reason)

    return handler


async def drain(ws: pw.AdvancedWebSocket, into: list[Any] | None = None) -> list[Any]:
    got = [] if into is None else into
    async for message in ws:
        got.append(message)
    return got


@pytest.mark.parametrize("code", [1000, 1001])
async def test_a_clean_peer_close_ends_iteration_cleanly(
    code: int,
    autojump_clock: trio.testing.MockClock,
    memory_server: MemoryWebSocketServer,
    make_ws: MakeWS,
) -> None:
    memory_server.handler = sends_then_closes(code, "bye")
    with trio.fail_after(10):
        async with make_ws() as ws:
            await ws.connect()
            assert await drain(ws) == ["one", "two"]
            with pytest.raises(trio.EndOfChannel):
                await ws.receive()


@pytest.mark.parametrize(("code", "reason"), [(1011, "oops"), (4000, "go away")])
async def test_any_other_close_raises_connection_lost_after_the_buffer(
    code: int,
    reason: str,
    autojump_clock: trio.testing.MockClock,
    memory_server: MemoryWebSocketServer,
    make_ws: MakeWS,
) -> None:
    memory_server.handler = sends_then_closes(code, reason)
    got: list[Any] = []
    with trio.fail_after(10):
        async with make_ws() as ws:
            await ws.connect()
            with pytest.raises(pw.ConnectionLost) as info:
                await drain(ws, got)
            with pytest.raises(pw.ConnectionLost):  # and again: the end is sticky
                await ws.receive()
    assert got == ["one", "two"]
    assert (info.value.code, info.value.reason, info.value.fatal) == (code, reason, False)


async def test_a_lost_connection_without_auto_reconnect_raises_1006(
    autojump_clock: trio.testing.MockClock,
    memory_server: MemoryWebSocketServer,
    make_ws: MakeWS,
) -> None:
    with trio.fail_after(10):
        async with make_ws() as ws:
            await ws.connect()
            await memory_server.vanish()
            with pytest.raises(pw.ConnectionLost) as info:
                await drain(ws)
    assert info.value.code == 1006


async def test_a_fatal_close_code_raises_with_fatal_true(
    autojump_clock: trio.testing.MockClock,
    memory_server: MemoryWebSocketServer,
    make_ws: MakeWS,
) -> None:
    memory_server.handler = sends_then_closes(4001, "bad credentials")
    with trio.fail_after(10):
        async with make_ws(auto_reconnect=True, fatal_close_codes={4001}) as ws:
            await ws.connect()
            with pytest.raises(pw.ConnectionLost) as info:
                assert await drain(ws) == ["one", "two"]
    assert (info.value.code, info.value.fatal) == (4001, True)
    assert memory_server.accepted == 1  # no reconnect


async def test_retries_exhausted_raise_connection_failed_after_the_buffer(
    autojump_clock: trio.testing.MockClock,
    memory_server: MemoryWebSocketServer,
    make_ws: MakeWS,
) -> None:
    memory_server.handler = sends_then_closes(1012, "restart")
    got: list[Any] = []
    with trio.fail_after(60):
        async with make_ws(auto_reconnect=True, max_reconnect_attempts=2) as ws:
            await ws.connect()
            memory_server.refuse = 0  # every retry is refused
            with pytest.raises(pw.ConnectionFailed, match="gave up after 2 retries") as info:
                await drain(ws, got)
    assert got == ["one", "two"]
    assert [type(e) for _, e in info.value.attempts] == [ConnectionRefusedError] * 2


@pytest.mark.parametrize("how", ["close", "aclose", "on_before_reconnect"])
async def test_the_user_ending_it_ends_iteration_cleanly(
    how: str,
    autojump_clock: trio.testing.MockClock,
    memory_server: MemoryWebSocketServer,
    make_ws: MakeWS,
) -> None:
    stop = trio.Event()

    async def handler(conn: trio_websocket.WebSocketConnection) -> None:
        await conn.send_message("one")
        await stop.wait()
        await conn.aclose(1012, "restart")

    memory_server.handler = handler
    got: list[Any] = []
    with trio.fail_after(10):
        async with make_ws(auto_reconnect=True, on_before_reconnect=lambda *_: False) as ws:
            await ws.connect()
            assert await ws.receive() == "one"
            async with trio.open_nursery() as nursery:

                async def consume() -> None:
                    async for message in ws:
                        got.append(message)

                nursery.start_soon(consume)
                await trio.testing.wait_all_tasks_blocked()
                if how == "close":
                    await ws.close()
                elif how == "aclose":
                    await ws.aclose()
                else:
                    stop.set()  # the peer restarts; the hook says no
    assert got == []


# ----------------------------------------------------------------------- logging


async def test_failed_attempts_log_once_at_info_and_giving_up_at_warning(
    autojump_clock: trio.testing.MockClock,
    memory_server: MemoryWebSocketServer,
    make_ws: MakeWS,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_pterows")
    memory_server.refuse = 0
    with trio.fail_after(60):
        async with make_ws(auto_reconnect=True, max_reconnect_attempts=1) as ws:
            with pytest.raises(pw.ConnectionFailed):
                await ws.connect()
    failed = [r for r in caplog.records if "connect attempt failed" in r.getMessage()]
    assert [r.levelno for r in failed] == [logging.INFO, logging.INFO]
    assert all(r.exc_info is None for r in failed)  # no traceback for a routine retry
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["giving up: gave up after 1 retries"]


async def test_a_url_provider_failure_does_not_name_the_hook_nor_log_a_fatal_twice(
    autojump_clock: trio.testing.MockClock,
    memory_server: MemoryWebSocketServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class PanelDown(pw.PterowsError):
        pass

    class Refused(pw.PterowsError):
        fatal = True

    errors: list[BaseException] = [PanelDown("503"), Refused("401 unauthorized")]

    async def provider() -> str:
        raise errors.pop(0)

    caplog.set_level(logging.DEBUG, logger="trio_pterows")
    with trio.fail_after(60):
        async with pw.AdvancedWebSocket(
            url="ws://memory.test/",
            url_provider=provider,
            auto_reconnect=True,
            heartbeat_interval=None,
            stream_opener=memory_server.open_stream,
        ) as ws:
            with pytest.raises(pw.ConnectionFailed) as info:
                await ws.connect()
    assert [type(e) for _, e in info.value.attempts] == [PanelDown, Refused]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "url_provider" not in text
    assert text.count("503") == 1  # the retried failure, once
    assert "401" not in text  # the fatal one is raised, not logged as well
