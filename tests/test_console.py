"""The Pterodactyl console client against FakeWings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio

import trio_pterows as pw
from trio_pterows.pterodactyl import (
    AuthSuccess,
    ConsoleClosed,
    ConsoleOutput,
    PanelAPIError,
    Stats,
    StatusChange,
    open_console,
)
from trio_pterows.testing import FakeWings


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeWings:
    wings = FakeWings(stats_interval=None, power_delay=0.05)
    await nursery.start(wings.serve)
    return wings


@pytest.fixture
async def panel(fake: FakeWings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake.panel_transport()) as client:
        yield client


def console_for(fake: FakeWings, panel: httpx.AsyncClient, **options: Any) -> open_console:
    return open_console(fake.panel_url, fake.api_key, fake.server_id, http_client=panel, **options)


async def next_of(console: Any, kind: type) -> Any:
    async for event in console:
        if isinstance(event, kind):
            return event
    raise AssertionError(f"the stream ended before a {kind.__name__}")


async def test_connects_authenticates_and_streams(
    fake: FakeWings, panel: httpx.AsyncClient
) -> None:
    with trio.fail_after(10):
        async with console_for(fake, panel) as console:
            assert isinstance(await next_of(console, AuthSuccess), AuthSuccess)
            status = await next_of(console, StatusChange)
            assert status.status == "offline"
            assert console.status == "offline"
            await console.set_state("start")
            while console.status != "running":
                await next_of(console, StatusChange)
            await console.send_command("say hi")
            line = await next_of(console, ConsoleOutput)
            assert "say hi" in line.line
            await console.request_stats()
            stats = await next_of(console, Stats)
            assert stats.memory_bytes > 0
            assert console.last_stats == stats
    assert fake.commands == ["say hi"]
    assert fake.auths_received == 1


async def test_origin_is_the_panel_and_the_key_never_reaches_the_node(
    fake: FakeWings, panel: httpx.AsyncClient
) -> None:
    fake.set_status("running")  # Wings ignores commands while offline
    with trio.fail_after(10):
        async with console_for(fake, panel) as console:
            await console.send_command("list")
            await fake.wait_until(lambda: bool(fake.commands))
    assert fake.origins_seen == ["http://panel.test"]
    node = fake.connections[0]
    everything_the_node_saw = repr(node.headers) + repr(list(node.received)) + node.path
    assert fake.api_key not in everything_the_node_saw
    assert fake.panel_requests
    assert all(r.authorized for r in fake.panel_requests)


async def test_commands_issued_before_auth_wait_in_order(
    fake: FakeWings, panel: httpx.AsyncClient
) -> None:
    fake.set_status("running")
    with trio.fail_after(10):
        async with console_for(fake, panel) as console:
            await console.ws.close()  # disconnected: everything below is queued
            for i in range(5):
                await console.send_command(f"cmd {i}")
            assert console.ws.get_metrics().queued == 5
            await console.ws.connect()
            await fake.wait_until(lambda: len(fake.commands) == 5)
    assert fake.commands == [f"cmd {i}" for i in range(5)]
    # the node saw auth before any command on the new connection
    second = fake.connections[-1]
    events = list(second.received)
    assert '"auth"' in str(events[0])


async def test_wrong_origin_is_refused_without_retries(
    fake: FakeWings, panel: httpx.AsyncClient
) -> None:
    with trio.fail_after(10), pytest.raises(pw.ConnectionFailed) as info:
        async with console_for(fake, panel, origin="https://evil.example"):
            raise AssertionError("not reached")
    assert "403" in str(info.value)
    assert fake.connections_rejected == 1


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_panel_client_errors_are_raised_at_once(
    fake: FakeWings, panel: httpx.AsyncClient, status: int
) -> None:
    fake.fail_next(status, times=100)
    with trio.fail_after(10), pytest.raises(PanelAPIError) as info:
        async with console_for(fake, panel):
            raise AssertionError("not reached")
    assert info.value.status_code == status
    assert len(fake.panel_requests) == 1  # never retried


async def test_panel_server_errors_are_retried(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, panel: httpx.AsyncClient
) -> None:
    fake.fail_next(503, times=2)
    with trio.fail_after(30):
        # In memory: the retries are timed (autojump_clock), so no real socket may carry them.
        async with console_for(
            fake, panel, reconnect_interval=0.5, stream_opener=fake.open_stream
        ) as console:
            assert console.ws.is_connected
    assert len(fake.panel_requests) == 3


async def test_suspension_ends_the_session_for_good(
    fake: FakeWings, panel: httpx.AsyncClient
) -> None:
    with trio.fail_after(10):
        async with console_for(fake, panel) as console:
            await next_of(console, AuthSuccess)
            fake.suspend()
            with pytest.raises(ConsoleClosed) as info:
                async for _ in console:
                    pass
            assert info.value.code == 4409
            with pytest.raises(ConsoleClosed):
                await console.send_command("too late")
    assert fake.connections_accepted == 1  # no reconnect


async def test_deleted_event_ends_the_session(fake: FakeWings, panel: httpx.AsyncClient) -> None:
    with trio.fail_after(10):
        async with console_for(fake, panel) as console:
            await next_of(console, AuthSuccess)
            fake.delete()
            with pytest.raises(ConsoleClosed, match="deleted") as info:
                async for _ in console:
                    pass
            assert info.value.code is None


async def test_a_dropped_socket_reconnects_with_a_fresh_token(
    fake: FakeWings, panel: httpx.AsyncClient
) -> None:
    with trio.fail_after(10):
        async with console_for(fake, panel, reconnect_interval=0.05) as console:
            await next_of(console, AuthSuccess)
            fake.drop_all()
            await next_of(console, AuthSuccess)  # re-authenticated on the new socket
            await console.ws.connect()  # returns once that connection is open
            assert console.ws.get_metrics().connections == 2
    assert fake.tokens_issued == 2
    assert fake.auth_successes == 2


async def test_input_validation(fake: FakeWings, panel: httpx.AsyncClient) -> None:
    with trio.fail_after(10):
        async with console_for(fake, panel) as console:
            with pytest.raises(ValueError, match="state"):
                await console.set_state("explode")
            with pytest.raises(ValueError, match="command"):
                await console.send_command("two\nlines")
            with pytest.raises(ValueError, match="4096"):
                await console.send_command("x" * 5000)
            with pytest.raises(TypeError, match="args"):
                await console.send("send command", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="url"):
        open_console(fake.panel_url, fake.api_key, fake.server_id, url="ws://x/")
    with pytest.raises(ValueError, match="api_key"):
        open_console(fake.panel_url, "", fake.server_id)


async def test_no_secret_in_logs_or_reprs(
    fake: FakeWings, panel: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(10):
        async with console_for(fake, panel) as console:
            await next_of(console, AuthSuccess)
            token = fake.last_token if hasattr(fake, "last_token") else None
            text = repr(console) + repr(console.ws) + caplog.text
            assert fake.api_key not in text
            if token:
                assert token not in text
    assert "ey" not in "".join(r.getMessage() for r in caplog.records if "auth" in r.getMessage())
