"""The console against a node and a panel that answer as Wings and the panel really do
(DESIGN §3 "How the panel and the node answer"). Timed: autojump_clock over memory."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import trio
import trio.testing

import trio_pterows as pw
from trio_pterows.pterodactyl import (
    AuthSuccess,
    ConsoleClosed,
    ConsoleOutput,
    Deleted,
    PanelAPIError,
    TransferStatus,
    open_console,
)
from trio_pterows.testing import FakeWings

from .conftest import TIMED_FAKE, next_of

ConsoleFor = Callable[..., open_console]


@pytest.fixture
def fake_options() -> dict[str, Any]:
    return dict(TIMED_FAKE)


def websocket_requests(fake: FakeWings) -> list[int | None]:
    return [r.status for r in fake.panel_requests if r.path.endswith("/websocket")]


# --------------------------------------------------------------------------- transfers


@pytest.mark.parametrize("ending", ["deleted", "close", "drop"])
async def test_a_completed_transfer_reconnects_with_new_credentials(
    autojump_clock: trio.testing.MockClock,
    fake: FakeWings,
    console_for: ConsoleFor,
    ending: Any,
) -> None:
    with trio.fail_after(60):
        async with console_for(reconnect_interval=0.5) as console:
            await next_of(console, AuthSuccess)
            fake.begin_transfer()
            fake.complete_transfer(ending=ending)
            seen: list[Any] = []
            async for event in console:
                seen.append(event)
                if isinstance(event, AuthSuccess):
                    break  # authenticated on the "new node"
            assert TransferStatus("completed") in seen
            assert (Deleted() in seen) == (ending == "deleted")
            fake.console("hello from the new node")
            line = await next_of(console, ConsoleOutput)
            assert line.line == "hello from the new node"
    assert fake.tokens_issued == 2  # fresh credentials: the old token is void there
    assert fake.connections_accepted == 2


async def test_a_transfer_in_progress_is_waited_out(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    # The socket drops mid-transfer: the panel answers 409, then the 403 admins get;
    # both are retried while the server resource says is_transferring.
    with trio.fail_after(120):
        async with console_for(reconnect_interval=0.5) as console:
            await next_of(console, AuthSuccess)
            fake.begin_transfer(panel_answer=403)
            fake.drop_all()
            resource = f"/api/client/servers/{fake.server_id}"
            await fake.wait_until(
                lambda: [r.path for r in fake.panel_requests].count(resource) >= 2
            )
            fake.complete_transfer(ending="drop")
            await next_of(console, AuthSuccess)
            await console.ws.connect()  # returns once that connection is open
    statuses = websocket_requests(fake)
    assert statuses[0] == 200
    assert statuses[-1] == 200
    assert 403 in statuses


async def test_deleted_without_a_transfer_is_still_the_end(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    with trio.fail_after(30):
        async with console_for() as console:
            await next_of(console, AuthSuccess)
            fake.transfer_status("failed")  # not a completed transfer
            fake.delete()
            with pytest.raises(ConsoleClosed, match="deleted"):
                async for _ in console:
                    pass
    assert fake.connections_accepted == 1


# --------------------------------------------------------------------------- the panel


async def test_transient_409s_are_retried_until_they_clear(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.set_state_conflict(installing=True)

    async def finish_install() -> None:
        await fake.wait_until(lambda: websocket_requests(fake).count(409) >= 3)
        fake.set_state_conflict()

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(finish_install)
            async with console_for(reconnect_interval=0.5) as console:
                assert console.ws.is_connected
    assert websocket_requests(fake)[-1] == 200
    assert websocket_requests(fake).count(409) >= 3


async def test_retry_after_is_honoured_with_no_token_request_before_it(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.fail_next(429, retry_after=30)
    started = trio.current_time()
    with trio.fail_after(120):
        async with console_for(reconnect_interval=0.1) as console:
            waited = trio.current_time() - started
    assert waited >= 30  # the backoff alone would have retried after 0.1 s
    assert websocket_requests(fake) == [429, 200]  # nothing asked in between
    assert console.token_refreshes == 0


@pytest.mark.parametrize("fake_options", [{**TIMED_FAKE, "panel_rate_limit": 2}])
async def test_pelicans_websocket_throttle_is_respected_across_reconnects(
    autojump_clock: trio.testing.MockClock, console_for: ConsoleFor, fake: FakeWings
) -> None:
    with trio.fail_after(600):
        async with console_for(reconnect_interval=0.1) as console:
            await next_of(console, AuthSuccess)
            for _ in range(4):
                fake.drop_all()
                await next_of(console, AuthSuccess)
    statuses = websocket_requests(fake)
    assert statuses.count(200) == 5
    # after a 429, the next request waits its Retry-After out: never two in a row
    assert all(not (a == b == 429) for a, b in itertools.pairwise(statuses))
    assert 429 in statuses


async def test_a_panel_with_a_bad_certificate_is_not_retried(
    autojump_clock: trio.testing.MockClock, fake: FakeWings
) -> None:
    import ssl

    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        try:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed")
        except ssl.SSLError as exc:
            raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]") from exc

    with trio.fail_after(30):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as panel:
            with pytest.raises(PanelAPIError) as info:
                async with open_console(
                    "https://panel.test", fake.api_key, fake.server_id, http_client=panel
                ):
                    raise AssertionError("not reached")
    assert info.value.fatal
    assert calls == 1


async def test_the_key_echoed_by_the_panel_never_reaches_logs(
    autojump_clock: trio.testing.MockClock,
    fake: FakeWings,
    console_for: ConsoleFor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.fail_next(502, times=2, detail=f"bad gateway for Bearer {fake.api_key}")
    with trio.fail_after(60):
        async with console_for(reconnect_interval=0.5) as console:
            assert console.ws.is_connected
    assert "[redacted]" in caplog.text
    assert fake.api_key not in caplog.text


# --------------------------------------------------------------------------- the node


def corrupting_panel(fake: FakeWings, times: int) -> tuple[httpx.MockTransport, list[int]]:
    """The fake panel, but its first ``times`` tokens are not ones the node signed
    (a node that moved, a broken proxy): Wings answers ``auth`` with a daemon error."""
    calls: list[int] = []
    inner = fake.panel_transport()

    async def handler(request: httpx.Request) -> httpx.Response:
        response = await inner.handle_async_request(request)
        if request.url.path.endswith("/websocket"):
            calls.append(1)
            if len(calls) <= times:
                body = (await response.aread()).replace(b'"token":"ey', b'"token":"xx')
                return httpx.Response(200, content=body, headers=response.headers)
        return response

    return httpx.MockTransport(handler), calls


def memory_console(fake: FakeWings, panel: httpx.AsyncClient, **options: Any) -> open_console:
    return open_console(
        fake.panel_url,
        fake.api_key,
        fake.server_id,
        http_client=panel,
        stream_opener=fake.open_stream,
        heartbeat_interval=None,
        **options,
    )


async def test_a_daemon_error_on_auth_fails_the_attempt_at_once(
    autojump_clock: trio.testing.MockClock,
    fake: FakeWings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport, calls = corrupting_panel(fake, times=1)
    caplog.set_level(logging.INFO)
    with trio.fail_after(60):
        async with (
            httpx.AsyncClient(transport=transport) as panel,
            memory_console(fake, panel, reconnect_interval=0.5, connection_timeout=20.0) as console,
        ):
            elapsed = trio.current_time()
            assert console.ws.is_connected
    assert len(calls) == 2  # the next attempt fetched a fresh token
    assert elapsed < 20.0  # not the connection timeout: the node's answer ended it
    assert "an unexpected error was encountered" in caplog.text  # the node's text, logged


async def test_the_daemon_error_text_is_in_connection_failed_attempts(
    autojump_clock: trio.testing.MockClock, fake: FakeWings
) -> None:
    transport, _ = corrupting_panel(fake, times=10)
    with trio.fail_after(60), pytest.raises(pw.ConnectionFailed) as info:
        async with (
            httpx.AsyncClient(transport=transport) as panel,
            memory_console(fake, panel, max_reconnect_attempts=1, reconnect_interval=0.5),
        ):
            raise AssertionError("not reached")
    texts = [str(exc) for _, exc in info.value.attempts]
    assert len(texts) == 2
    assert all("an unexpected error was encountered" in text for text in texts)


async def test_the_socket_cap_is_retried_with_backoff(
    autojump_clock: trio.testing.MockClock, fake_options: dict[str, Any]
) -> None:
    fake = FakeWings(**{**fake_options, "max_sockets": 1})
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        async with httpx.AsyncClient(transport=fake.panel_transport()) as panel:

            def console() -> open_console:
                return memory_console(fake, panel, reconnect_interval=1.0)

            with trio.fail_after(120):
                async with console() as first, trio.open_nursery() as inner:

                    async def second() -> None:
                        async with console() as other:
                            assert other.ws.is_connected

                    inner.start_soon(second)
                    await fake.wait_until(lambda: fake.connections_rejected >= 2)
                    await first.aclose()  # a viewer leaves: the cap frees up
                assert [c.rejected_status for c in fake.connections if c.rejected_status] == [
                    400
                ] * fake.connections_rejected
        nursery.cancel_scope.cancel()


async def test_the_socket_cap_on_a_reconnect_is_waited_out(
    autojump_clock: trio.testing.MockClock, fake_options: dict[str, Any]
) -> None:
    # After the first connect the core stops at the cap's 400 (a 4xx); the console
    # starts a new cycle with backoff, and iteration goes on across it.
    fake = FakeWings(**{**fake_options, "max_sockets": 1})
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        async with httpx.AsyncClient(transport=fake.panel_transport()) as panel:
            with trio.fail_after(300):
                async with memory_console(fake, panel, reconnect_interval=2.0) as console:
                    await next_of(console, AuthSuccess)
                    fake.drop_all()
                    async with memory_console(fake, panel) as intruder:  # takes the slot
                        assert intruder.ws.is_connected
                        await fake.wait_until(lambda: fake.connections_rejected >= 2)
                    await next_of(console, AuthSuccess)  # back, on the same iteration
                    fake.console("still here")
                    await trio.sleep(2)
                    fake.console("live again")
                    line = await next_of(console, ConsoleOutput)
                    while line.line != "live again":
                        line = await next_of(console, ConsoleOutput)
                    assert not line.replayed
        nursery.cancel_scope.cancel()
    assert fake.connections_rejected >= 2


async def test_a_suspended_server_is_refused_at_entry_without_retries(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.suspend()
    with trio.fail_after(30), pytest.raises(PanelAPIError) as info:
        async with console_for():
            raise AssertionError("not reached")
    assert (info.value.status_code, info.value.fatal) == (409, True)
    assert websocket_requests(fake) == [409]
    assert fake.connections_accepted == 0


async def test_refresh_listeners_see_every_refresh(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    from trio_pterows.pterodactyl import TokenState

    refreshed: list[float] = []

    def on_token(old: TokenState, new: TokenState) -> None:
        if new is TokenState.VALID and old in (
            TokenState.REFRESHING,
            TokenState.REFRESHING_EXPIRED,
        ):
            refreshed.append(trio.current_time())

    with trio.fail_after(400):
        async with console_for() as console:
            console.tokens.add_listener(on_token)
            await console.tokens.wait_refreshed()
            fake.expire_tokens()  # a refresh the node asks for
            await console.tokens.wait_refreshed()
            assert len(refreshed) == console.token_refreshes == 2
    assert fake.connections_accepted == 1
