"""The supervisor (trio_pterows/_cycle.py): backoff timing, attempt numbering, fallbacks,
hooks, resets, fatal codes; how a cycle ends (DESIGN §2 "Ending") and what it logs.

Everything timed runs over in-memory streams with autojump_clock: exact and instant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing
import trio_websocket

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer

from .conftest import EventLog, ping_echo_handler

MakeWS = Callable[..., pw.AdvancedWebSocket]


async def test_fixed_backoff_timing_and_numbering(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    memory_server.refuse = 0
    with trio.fail_after(60):
        async with make_ws(
            auto_reconnect=True,
            reconnect_strategy="fixed",
            reconnect_interval=2.0,
            max_reconnect_attempts=3,
        ) as ws:
            log = EventLog(ws, "reconnectAttempt", "reconnect")
            start = trio.current_time()
            with pytest.raises(pw.ConnectionFailed) as info:
                await ws.connect()
            assert ws.state is pw.ConnectionState.CLOSED
    assert len(info.value.attempts) == 4  # the first try and 3 retries
    assert [e.attempt for e in log.of("reconnectAttempt")] == [1, 2, 3]
    assert [e.attempt for e in log.of("reconnect")] == [1, 2, 3]
    assert [t - start for t in log.times("reconnectAttempt")] == pytest.approx([0, 2, 4])
    assert [t - start for t in log.times("reconnect")] == pytest.approx([2, 4, 6])
    assert [e.delay for e in log.of("reconnectAttempt")] == [2.0, 2.0, 2.0]
    assert "gave up after 3 retries" in str(info.value)


async def test_exponential_backoff_is_capped(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    memory_server.refuse = 0
    with trio.fail_after(600):
        async with make_ws(
            auto_reconnect=True,
            reconnect_interval=1.0,
            max_reconnect_interval=5.0,
            max_reconnect_attempts=5,
        ) as ws:
            log = EventLog(ws, "reconnectAttempt")
            with pytest.raises(pw.ConnectionFailed):
                await ws.connect()
    assert [e.delay for e in log.of("reconnectAttempt")] == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_jitter_stays_within_the_cap(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    memory_server.refuse = 0
    async with make_ws(
        auto_reconnect=True,
        reconnect_strategy="exponential-jitter",
        reconnect_interval=1.0,
        jitter=0.5,
        max_reconnect_interval=3.0,
        max_reconnect_attempts=4,
    ) as ws:
        log = EventLog(ws, "reconnectAttempt")
        with pytest.raises(pw.ConnectionFailed):
            await ws.connect()
    delays = [e.delay for e in log.of("reconnectAttempt")]
    assert 1.0 <= delays[0] <= 1.5
    assert 2.0 <= delays[1] <= 2.5
    assert delays[2] == delays[3] == 3.0


async def test_retries_of_a_lost_connection(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    with trio.fail_after(60):
        async with make_ws(
            auto_reconnect=True, reconnect_strategy="fixed", reconnect_interval=1.0
        ) as ws:
            log = EventLog(ws, "close", "reconnectAttempt", "reconnect", "reconnectSuccess", "open")
            await ws.connect()
            await memory_server.vanish()
            await trio.sleep(5)
            assert ws.is_connected
    assert log.types() == [
        "open",
        "close",
        "reconnectAttempt",
        "reconnect",
        "open",
        "reconnectSuccess",
        "close",  # leaving the block
    ]
    close = log.of("close")[0]
    assert (close.code, close.was_clean) == (1006, False)
    success = log.of("reconnectSuccess")[0]
    assert success.attempt == 1  # reported with its number, never reset to 0 first
    assert memory_server.accepted == 2


async def test_fallback_urls_rotate_back_to_the_primary(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    primary_up = False
    tried: list[str] = []

    async def opener(url: str) -> trio.abc.Stream:
        tried.append(url)
        if "primary" in url and not primary_up:
            raise ConnectionRefusedError("primary down")
        return await memory_server.open_stream(url)

    with trio.fail_after(60):
        async with pw.AdvancedWebSocket(
            url="ws://primary.test/",
            fallback_urls=["ws://fallback1.test/", "ws://fallback2.test/"],
            auto_reconnect=True,
            reconnect_interval=1.0,
            heartbeat_interval=None,
            stream_opener=opener,
        ) as ws:
            await ws.connect()
            assert ws.get_metrics().current_url == "ws://fallback1.test/"
            primary_up = True
            await memory_server.vanish()
            await trio.sleep(3)
            assert ws.get_metrics().current_url == "ws://primary.test/"
    assert tried == ["ws://primary.test/", "ws://fallback1.test/", "ws://primary.test/"]


async def test_connection_failed_lists_every_attempt(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    memory_server.refuse = 503
    async with pw.AdvancedWebSocket(
        url="ws://a.test/?token=SECRET",
        fallback_urls=["ws://b.test/"],
        auto_reconnect=True,
        max_reconnect_attempts=1,
        heartbeat_interval=None,
        stream_opener=memory_server.open_stream,
    ) as ws:
        with pytest.raises(pw.ConnectionFailed) as info:
            await ws.connect()
    urls = [url for url, _ in info.value.attempts]
    assert urls == ["ws://a.test/?***", "ws://b.test/", "ws://a.test/?***", "ws://b.test/"]
    assert all(isinstance(exc, pw.HandshakeError) for _, exc in info.value.attempts)
    assert all("HTTP 503" in str(exc) for _, exc in info.value.attempts)
    assert "SECRET" not in str(info.value)


async def test_client_errors_at_the_upgrade_are_fatal(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    memory_server.refuse = 403  # e.g. a wrong Origin: retrying cannot help
    async with make_ws(auto_reconnect=True, max_reconnect_attempts=None) as ws:
        log = EventLog(ws, "reconnectAttempt")
        with pytest.raises(pw.ConnectionFailed):
            await ws.connect()
    assert log.of("reconnectAttempt") == []
    assert memory_server.attempts == 1


async def test_connection_timeout_bounds_a_slow_handshake(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    memory_server.handshake_delay = 100
    async with make_ws(connection_timeout=5.0) as ws:
        start = trio.current_time()
        with pytest.raises(pw.ConnectionFailed) as info:
            await ws.connect()
        assert trio.current_time() - start == pytest.approx(5.0)
    ((_, error),) = info.value.attempts
    assert isinstance(error, TimeoutError)
    assert "connection_timeout=5.0" in str(error)


async def test_connection_timeout_does_not_outlive_the_handshake(
    autojump_clock: trio.testing.MockClock, make_ws: MakeWS
) -> None:
    # The seed's timer kept running after success and killed healthy connections.
    async with make_ws(connection_timeout=1.0) as ws:
        await ws.connect()
        await trio.sleep(10)
        assert ws.is_connected
        await ws.send("x")
        assert await ws.receive() == "x"


async def test_on_before_reconnect_can_stop_and_changes_no_metric(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    calls: list[tuple[int, Any]] = []

    async def hook(attempt: int, close_event: Any) -> bool:
        calls.append((attempt, close_event))
        return attempt < 2

    with trio.fail_after(60):
        async with make_ws(auto_reconnect=True, on_before_reconnect=hook) as ws:
            log = EventLog(ws, "reconnectAttempt")
            await ws.connect()
            memory_server.refuse = 0
            await memory_server.vanish()
            assert [m async for m in ws] == []  # closed for good
            assert ws.state is pw.ConnectionState.CLOSED
            assert ws.get_metrics().reconnect_attempts == 1
    assert [a for a, _ in calls] == [1, 2]
    assert isinstance(calls[0][1], pw.CloseEvent)
    assert calls[0][1].code == 1006
    assert [e.attempt for e in log.of("reconnectAttempt")] == [1]


async def test_on_before_reconnect_only_false_cancels(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(
        auto_reconnect=True, reconnect_interval=0.5, on_before_reconnect=lambda a, e: None
    ) as ws:
        await ws.connect()
        await memory_server.vanish()
        await trio.sleep(2)
        assert ws.is_connected


async def test_attempt_counter_resets_only_after_reconnect_reset_after(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    with trio.fail_after(120):
        async with make_ws(
            auto_reconnect=True,
            reconnect_strategy="fixed",
            reconnect_interval=1.0,
            reconnect_reset_after=5.0,
        ) as ws:
            log = EventLog(ws, "reconnectAttempt")
            await ws.connect()
            for _ in range(2):  # short-lived connections: the counter keeps climbing
                await trio.sleep(1)
                await memory_server.vanish()
                await trio.sleep(1.5)
                assert ws.is_connected
            assert ws.get_metrics().reconnect_attempts == 2
            await trio.sleep(6)  # long enough: the counter resets
            assert ws.get_metrics().reconnect_attempts == 0
            await memory_server.vanish()
            await trio.sleep(1.5)
    assert [e.attempt for e in log.of("reconnectAttempt")] == [1, 2, 1]


async def test_fatal_close_codes_stop_reconnection(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(auto_reconnect=True, fatal_close_codes={4409}) as ws:
        log = EventLog(ws, "close", "reconnectAttempt")
        await ws.connect()
        await memory_server.close_all(4409, "suspended")
        with pytest.raises(pw.ConnectionLost) as info:
            _ = [m async for m in ws]
        assert (info.value.code, info.value.reason, info.value.fatal) == (4409, "suspended", True)
        assert ws.state is pw.ConnectionState.CLOSED
    assert [e.code for e in log.of("close")] == [4409]
    assert log.of("reconnectAttempt") == []
    assert memory_server.accepted == 1


async def test_peer_normal_close_is_reconnected(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(auto_reconnect=True, reconnect_interval=1.0) as ws:
        await ws.connect()
        await memory_server.close_all(1001, "going away")
        await trio.sleep(2)
        assert ws.is_connected
    assert memory_server.accepted == 2


async def test_manual_reconnect_keeps_one_socket(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    live = peak = 0

    async def counting(conn: trio_websocket.WebSocketConnection) -> None:
        # The server's own count of open connections, at every change (no polling).
        nonlocal live, peak
        live += 1
        peak = max(peak, live)
        try:
            await ping_echo_handler(conn)
        finally:
            live -= 1

    memory_server.handler = counting
    with trio.fail_after(10):
        async with make_ws(auto_reconnect=True) as ws:
            log = EventLog(ws, "close", "reconnectAttempt")
            first = await ws.connect()
            second = await ws.manual_reconnect()
            assert ws.connection == second
            assert second.opened_at >= first.opened_at
            assert ws.is_connected
            assert ws.get_metrics().reconnect_attempts == 0  # not a retry
            await ws.send("x")
            assert await ws.receive() == "x"
    assert peak == 1
    assert memory_server.accepted == 2
    close = log.of("close")[0]
    assert (close.code, close.reason) == (1000, "manual reconnect")
    assert log.of("reconnectAttempt") == []


async def test_manual_reconnect_when_closed_connects(make_ws: MakeWS) -> None:
    with trio.fail_after(5):
        async with make_ws() as ws:
            conn = await ws.manual_reconnect()
            assert ws.connection == conn


async def test_manual_reconnect_skips_a_long_backoff(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(
        auto_reconnect=True, reconnect_strategy="fixed", reconnect_interval=30.0
    ) as ws:
        await ws.connect()
        await memory_server.vanish()
        await trio.sleep(1)
        assert ws.state is pw.ConnectionState.RECONNECTING
        start = trio.current_time()
        await ws.manual_reconnect()
        assert trio.current_time() - start < 1


async def test_leaving_the_block_during_backoff_is_prompt(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(
        auto_reconnect=True, reconnect_strategy="fixed", reconnect_interval=30.0
    ) as ws:
        await ws.connect()
        await memory_server.vanish()
        await trio.sleep(1)
        assert ws.state is pw.ConnectionState.RECONNECTING
        start = trio.current_time()
    assert trio.current_time() - start < 0.01


async def test_close_stops_reconnecting_and_connect_reopens(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(auto_reconnect=True, queue_messages=True) as ws:
        await ws.connect()
        await ws.close()
        assert ws.state is pw.ConnectionState.CLOSED
        await trio.sleep(100)
        assert memory_server.accepted == 1  # no reconnect after close()
        await ws.send("queued while closed")
        await ws.connect()
        assert await ws.receive() == "queued while closed"


async def test_close_during_backoff(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(auto_reconnect=True, reconnect_interval=30.0) as ws:
        await ws.connect()
        await memory_server.vanish()
        await trio.sleep(1)
        start = trio.current_time()
        await ws.close()
        assert trio.current_time() - start < 0.01
        assert ws.state is pw.ConnectionState.CLOSED


async def test_cancelling_the_first_connect_stops_the_cycle(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    memory_server.refuse = 0
    async with make_ws(auto_reconnect=True, max_reconnect_attempts=None) as ws:
        with trio.move_on_after(10):
            await ws.connect()
        await trio.testing.wait_all_tasks_blocked()
        assert ws.state is pw.ConnectionState.CLOSED
        attempts = memory_server.attempts
        await trio.sleep(100)
        assert memory_server.attempts == attempts  # nothing retries in the background


async def test_connect_joins_a_running_reconnect_cycle(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(auto_reconnect=True, reconnect_strategy="fixed", reconnect_interval=3) as ws:
        await ws.connect()
        await memory_server.vanish()
        await trio.sleep(0.5)
        start = trio.current_time()
        conn = await ws.connect()
        assert trio.current_time() - start == pytest.approx(2.5, abs=0.1)
        assert conn == ws.connection


async def test_update_options_url_applies_to_the_next_attempt(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    async with make_ws(url="ws://memory.test/old", auto_reconnect=True, reconnect_interval=1) as ws:
        await ws.connect()
        ws.update_options(url="ws://memory.test/new")
        assert memory_server.paths[-1] == "/old"  # the live connection is untouched
        await memory_server.vanish()
        await trio.sleep(2)
        assert memory_server.paths[-1] == "/new"
        assert ws.get_metrics().current_url == "ws://memory.test/new"


async def test_url_provider_is_called_for_every_cycle(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        await trio.sleep(0.1)
        return f"ws://memory.test/session/{calls}"

    async with pw.AdvancedWebSocket(
        url="ws://memory.test/unused",
        url_provider=provider,
        auto_reconnect=True,
        reconnect_interval=1,
        heartbeat_interval=None,
        stream_opener=memory_server.open_stream,
    ) as ws:
        await ws.connect()
        await memory_server.vanish()
        await trio.sleep(2)
        assert ws.is_connected
    assert list(memory_server.paths) == ["/session/1", "/session/2"]


async def test_url_provider_errors_are_retried_unless_fatal(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    class Fatal(pw.PterowsError):
        fatal = True

    outcomes: list[BaseException | str] = [OSError("panel down"), "ws://memory.test/ok"]
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async with pw.AdvancedWebSocket(
        url="ws://memory.test/unused",
        url_provider=provider,
        auto_reconnect=True,
        reconnect_interval=1,
        heartbeat_interval=None,
        stream_opener=memory_server.open_stream,
    ) as ws:
        await ws.connect()  # the first provider error was retried
        assert calls == 2
        assert memory_server.paths[-1] == "/ok"
        outcomes.append(Fatal("401"))
        await memory_server.vanish()
        with pytest.raises(pw.ConnectionFailed) as ended:  # iteration raises the reason
            _ = [m async for m in ws]
        ((_, fatal),) = ended.value.attempts
        assert isinstance(fatal, Fatal)
        assert calls == 3  # the fatal error was not retried
        outcomes.append(Fatal("401 again"))
        with pytest.raises(pw.ConnectionFailed) as info:
            await ws.connect()
    # a new connect() asked the provider again, and did not retry its fatal error either
    assert calls == 4
    assert outcomes == []
    ((_, error),) = info.value.attempts
    assert isinstance(error, Fatal)
    assert str(error) == "401 again"


async def test_on_connect_failure_counts_as_a_failed_attempt(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    failures = [RuntimeError("auth failed")]

    async def on_connect(ws: pw.AdvancedWebSocket) -> None:
        if failures:
            raise failures.pop()

    async with make_ws(auto_reconnect=True, reconnect_interval=1, on_connect=on_connect) as ws:
        log = EventLog(ws, "open", "reconnectAttempt")
        await ws.connect()
    assert log.types() == ["reconnectAttempt", "open"]
    assert memory_server.accepted == 2


# ------------------------------------------------------------------------ ending


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


async def test_a_fatal_url_provider_failure_is_still_an_error_event(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer
) -> None:
    class Refused(pw.PterowsError):
        fatal = True

    async def provider() -> str:
        raise Refused("401")

    with trio.fail_after(10):
        async with pw.AdvancedWebSocket(
            url="ws://memory.test/",
            url_provider=provider,
            heartbeat_interval=None,
            stream_opener=memory_server.open_stream,
        ) as ws:
            log = EventLog(ws, "error")
            with pytest.raises(pw.ConnectionFailed):
                await ws.connect()
    (event,) = log.of("error")
    assert (type(event.error), event.context) == (Refused, "connect")
