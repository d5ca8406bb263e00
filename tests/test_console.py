"""The Pterodactyl console client against FakeWings."""

from __future__ import annotations

import logging
from collections.abc import Callable

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

from .conftest import next_of

ConsoleFor = Callable[..., open_console]


@pytest.fixture
def console_over_tcp() -> bool:
    return True  # nothing here is timed: real loopback sockets


async def test_connects_authenticates_and_streams(fake: FakeWings, console_for: ConsoleFor) -> None:
    with trio.fail_after(10):
        async with console_for() as console:
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
    fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.set_status("running")  # Wings ignores commands while offline
    with trio.fail_after(10):
        async with console_for() as console:
            await console.send_command("list")
            await fake.wait_until(lambda: bool(fake.commands))
    assert fake.origins_seen == ["http://panel.test"]
    node = fake.connections[0]
    everything_the_node_saw = repr(node.headers) + repr(list(node.received)) + node.path
    assert fake.api_key not in everything_the_node_saw
    assert fake.panel_requests
    assert all(r.authorized for r in fake.panel_requests)


async def test_commands_issued_before_auth_wait_in_order(
    fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.set_status("running")
    with trio.fail_after(10):
        async with console_for() as console:
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
    fake: FakeWings, console_for: ConsoleFor
) -> None:
    with trio.fail_after(10), pytest.raises(pw.ConnectionFailed) as info:
        async with console_for(origin="https://evil.example"):
            raise AssertionError("not reached")
    assert "403" in str(info.value)
    assert fake.connections_rejected == 1


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_panel_client_errors_are_raised_at_once(
    fake: FakeWings, console_for: ConsoleFor, status: int
) -> None:
    fake.fail_next(status, times=100)
    with trio.fail_after(10), pytest.raises(PanelAPIError) as info:
        async with console_for():
            raise AssertionError("not reached")
    assert info.value.status_code == status
    assert info.value.fatal
    websocket = [r for r in fake.panel_requests if r.path.endswith("/websocket")]
    assert len(websocket) == 1  # never retried


async def test_panel_server_errors_are_retried(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.fail_next(503, times=2)
    with trio.fail_after(30):
        async with console_for(reconnect_interval=0.5) as console:
            assert console.ws.is_connected
    assert len(fake.panel_requests) == 3


async def test_suspension_ends_the_session_for_good(
    fake: FakeWings, console_for: ConsoleFor
) -> None:
    # New Wings cancels a live socket of a suspended server without a close frame; the
    # reconnect's panel request answers 409, and the server resource says suspended.
    with trio.fail_after(10):
        async with console_for() as console:
            await next_of(console, AuthSuccess)
            fake.suspend()
            with pytest.raises(PanelAPIError) as info:
                async for _ in console:
                    pass
            assert info.value.status_code == 409
            assert info.value.fatal
            with pytest.raises(PanelAPIError):
                await console.send_command("too late")
    websocket = [r for r in fake.panel_requests if r.path.endswith("/websocket")]
    assert [r.status for r in websocket] == [200, 409]  # the 409 is not retried
    assert fake.connections_accepted == 1


async def test_a_suspended_server_that_the_panel_lets_through_closes_4409(
    fake: FakeWings, console_for: ConsoleFor
) -> None:
    # Pelican hands credentials to users who may update the server; Wings then closes
    # the socket 4409 "server is suspended" as it opens.
    fake.suspend(panel_refuses=False)
    with trio.fail_after(10), pytest.raises(ConsoleClosed) as info:
        async with console_for():
            raise AssertionError("not reached")
    assert (info.value.code, info.value.reason) == (4409, "server is suspended")
    assert fake.connections_accepted == 1  # never retried


async def test_deleted_event_ends_the_session(fake: FakeWings, console_for: ConsoleFor) -> None:
    with trio.fail_after(10):
        async with console_for() as console:
            await next_of(console, AuthSuccess)
            fake.delete()
            with pytest.raises(ConsoleClosed, match="deleted") as info:
                async for _ in console:
                    pass
            assert info.value.code is None


async def test_a_dropped_socket_reconnects_with_a_fresh_token(
    fake: FakeWings, console_for: ConsoleFor
) -> None:
    with trio.fail_after(10):
        async with console_for(reconnect_interval=0.05) as console:
            await next_of(console, AuthSuccess)
            fake.drop_all()
            await next_of(console, AuthSuccess)  # re-authenticated on the new socket
            await console.ws.connect()  # returns once that connection is open
            assert console.ws.get_metrics().connections == 2
    assert fake.tokens_issued == 2
    assert fake.auth_successes == 2


async def test_input_validation(fake: FakeWings, console_for: ConsoleFor) -> None:
    with trio.fail_after(10):
        async with console_for() as console:
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
    fake: FakeWings, console_for: ConsoleFor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(10):
        async with console_for() as console:
            await next_of(console, AuthSuccess)
            token = fake.last_token if hasattr(fake, "last_token") else None
            text = repr(console) + repr(console.ws) + caplog.text
            assert fake.api_key not in text
            if token:
                assert token not in text
    assert "ey" not in "".join(r.getMessage() for r in caplog.records if "auth" in r.getMessage())
