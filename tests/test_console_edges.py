"""Console edge cases: hooks composed with the console's own, panel failures during a
token refresh, tokens the node refuses at auth, explicit limiters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import trio
import trio.testing

import trio_pterows as pw
from trio_pterows.pterodactyl import (
    ConsoleOutput,
    PanelAPIError,
    RateLimit,
    RateLimiter,
    open_console,
)
from trio_pterows.testing import FakeWings

from .conftest import TIMED_FAKE

ConsoleFor = Callable[..., open_console]


@pytest.fixture
def fake_options() -> dict[str, Any]:
    return dict(TIMED_FAKE)


async def test_user_hooks_run_with_the_consoles_own(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    seen: list[str] = []

    async def before_send(frame: Any) -> Any:
        seen.append(frame)
        return pw.DROP if "secret" in frame else frame

    async with console_for(on_before_send=before_send) as console:
        await console.send_command("secret plan")
        await console.send_command("public")
        await console.request_logs()
        await fake.wait_until(lambda: "public" in fake.commands)
    assert fake.commands == ["public"]
    assert any('"auth"' in frame for frame in seen)  # the user sees every frame


async def test_user_on_before_reconnect_can_stop_the_console(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for(on_before_reconnect=lambda a, e: False) as console:
        fake.drop_all()
        assert [e async for e in console if isinstance(e, ConsoleOutput)] == []
        assert console.ws.state is pw.ConnectionState.CLOSED
    assert fake.connections_accepted == 1


async def test_a_fatal_panel_error_during_refresh_ends_the_session(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for() as console:
        fake.fail_next(401, times=10)  # the API key was revoked
        with pytest.raises(PanelAPIError) as info:
            async for _ in console:
                pass
        assert info.value.status_code == 401
        with pytest.raises(PanelAPIError):
            await console.send_command("too late")


async def test_a_panel_outage_during_refresh_is_retried(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for() as console:
        fake.fail_next(503, times=2)
        await trio.sleep(200)  # past the first token's expiry
        assert console.token_refreshes >= 1
        assert console.ws.get_metrics().connections == 1
        await console.send_command("alive")
        await fake.wait_until(lambda: "alive" in fake.commands)


async def test_a_token_expired_on_arrival_is_retried(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    fake = FakeWings(stats_interval=None, token_lifetime=2.0, expiring_window=0.5)
    await nursery.start(fake.serve)
    fake.set_panel_latency(0.0)
    calls = 0

    async def slow_first(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        response = await fake.panel_transport().handle_async_request(request)  # type: ignore[attr-defined]
        if calls == 1:
            await response.aread()
            await trio.sleep(3)  # the token expires before it reaches the node
        return response  # type: ignore[no-any-return]

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(slow_first)) as panel,
        open_console(
            fake.panel_url,
            fake.api_key,
            fake.server_id,
            http_client=panel,
            stream_opener=fake.open_stream,
            heartbeat_interval=None,
            reconnect_interval=0.5,
        ) as console,
    ):
        assert console.ws.is_connected
    assert calls >= 2
    assert fake.auths_received >= 2


async def test_an_explicit_limiter_is_used(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    limiter = RateLimiter(event_limits={"send command": RateLimit(1, 2.0)})
    async with console_for(rate_limit=limiter) as console:
        assert console.rate_limiter is limiter
        start = trio.current_time()
        for i in range(3):
            await console.send_command(f"c{i}")
        await fake.wait_until(lambda: len(fake.commands) == 3)
        assert trio.current_time() - start == pytest.approx(4.0, abs=0.1)


async def test_iteration_ends_quietly_after_aclose(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for() as console:
        await console.aclose()
        assert [e async for e in console if isinstance(e, ConsoleOutput)] == []
        with pytest.raises(TypeError, match="event"):
            await console.send("")
        with pytest.raises(TypeError, match="command"):
            await console.send_command(42)  # type: ignore[arg-type]


async def test_each_connection_starts_with_full_rate_buckets(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    # Wings' buckets are per connection; `auth` has a burst of 2 per 5 s. Three
    # quick reconnects must not wait on buckets emptied by the previous sockets.
    async with console_for(reconnect_interval=0.1, jitter=0.0) as console:
        start = trio.current_time()
        for _ in range(3):
            fake.drop_all()
            await trio.sleep(0.01)
            await console.ws.connect()
        assert trio.current_time() - start < 1.0
    assert fake.auth_successes == 4
