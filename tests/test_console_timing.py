"""Console behaviour that depends on time: token refresh, expiry, rate limits.

FakeWings serves over memory streams (``stream_opener=fake.open_stream``), so
``autojump_clock`` makes token lifetimes of minutes run instantly and exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

from trio_pterows.pterodactyl import (
    ConsoleClosed,
    Throttled,
    TokenExpiring,
    open_console,
)
from trio_pterows.testing import FakeWings

from .conftest import TIMED_FAKE

ConsoleFor = Callable[..., open_console]


@pytest.fixture
def fake_options() -> dict[str, Any]:
    return dict(TIMED_FAKE)


async def test_token_is_refreshed_on_the_same_socket(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for() as console:
        seen: list[type] = []
        with trio.move_on_after(400):  # more than three token lifetimes
            async for event in console:
                seen.append(type(event))
        assert TokenExpiring in seen
        assert console.token_refreshes >= 3
        assert console.ws.get_metrics().connections == 1  # never reconnected
        await console.send_command("still authorised")
        await fake.wait_until(lambda: "still authorised" in fake.commands)
    assert fake.tokens_issued == 1 + console.token_refreshes
    assert fake.connections_accepted == 1


async def test_expired_token_recovers_and_sends_wait_for_it(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for() as console:
        await trio.sleep(1)
        fake.expire_tokens()  # the node expires it early and says so
        await trio.testing.wait_all_tasks_blocked()
        await console.send_command("after expiry")
        await fake.wait_until(lambda: "after expiry" in fake.commands)
        assert console.token_refreshes == 1
        assert console.ws.get_metrics().connections == 1


@pytest.mark.parametrize(
    "fake_options",
    [
        {
            "stats_interval": None,
            "token_lifetime": 120.0,
            "expiring_window": 0.0,
            "check_interval": 10.0,
        }
    ],
)
async def test_refreshes_ahead_of_expiry_without_any_warning(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    # A node that never says `token expiring`: the client reads the token's own
    # lifetime (iat/exp) and refreshes a quarter-life ahead.
    async with console_for() as console:
        log: list[Any] = []
        console.ws.add_event_listener("message", lambda e: log.append(e.data))
        await trio.sleep(95)
        assert console.token_refreshes == 1
        await trio.sleep(300)
        assert console.token_refreshes == 4
        assert not any(type(e).__name__ in ("JwtError", "TokenExpired") for e in log)


async def test_denylisted_token_is_refreshed(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for() as console:
        await trio.sleep(1)
        fake.deny_tokens()
        await trio.sleep(5)
        assert console.token_refreshes == 1
        await console.send_command("ok")
        await fake.wait_until(lambda: "ok" in fake.commands)


async def test_reconnect_reauthenticates_with_a_fresh_token(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for(reconnect_interval=1.0) as console:
        first_tokens = fake.tokens_issued
        fake.drop_all()
        await trio.sleep(0.5)
        await console.send_command("queued while down")
        await trio.sleep(5)
        assert console.ws.is_connected
        await fake.wait_until(lambda: "queued while down" in fake.commands)
    assert fake.tokens_issued == first_tokens + 1
    assert fake.auth_successes == 2


async def test_a_burst_of_commands_is_paced_not_dropped(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for() as console:
        start = trio.current_time()
        for i in range(30):
            await console.send_command(f"c{i}")
        await fake.wait_until(lambda: len(fake.commands) == 30)
        elapsed = trio.current_time() - start
    assert fake.commands == [f"c{i}" for i in range(30)]
    assert fake.throttled_sent == 0  # the node never had to throttle us
    # "send command" bucket: burst 10, one per second after that
    assert 19 <= elapsed <= 22


async def test_without_the_limiter_the_node_throttles_and_we_see_it(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for(rate_limit=False) as console:
        for i in range(30):
            await console.send_command(f"c{i}")
        with trio.move_on_after(2):
            async for event in console:
                if isinstance(event, Throttled):
                    break
        assert fake.throttled_sent >= 1
        assert len(fake.commands) < 30


async def test_a_fatal_jwt_error_ends_the_session(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for() as console:
        await trio.sleep(1)
        fake.emit("jwt error", "jwt: missing permission for this action")
        with pytest.raises(ConsoleClosed, match="missing permission"):
            async for _ in console:
                pass
        await trio.sleep(60)
    assert fake.connections_accepted == 1
