"""What bots ask for: command → response, waiting for a state, many servers at once.
Timed: autojump_clock over memory streams."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from trio_pterows import ResponseTimeout
from trio_pterows.pterodactyl import (
    AuthSuccess,
    Console,
    ConsoleClosed,
    ConsoleEnded,
    ConsoleGroup,
    ConsoleOutput,
    open_console,
    open_consoles,
)
from trio_pterows.testing import FakeWings

from .conftest import TIMED_FAKE

ConsoleFor = Callable[..., open_console]


def minecraft(command: str) -> Iterable[str]:
    if command == "save-off":
        return ("\x1b[0m[12:00:00 INFO]: \x1b[33mAutomatic saving is now disabled\x1b[0m",)
    if command == "list":
        return ("There are 0 of a max of 20 players online:\r\n(nobody)",)
    return ()


@pytest.fixture
def fake_options() -> dict[str, Any]:
    return {**TIMED_FAKE, "command_handler": minecraft}


# --------------------------------------------------------------------------- command()


async def test_command_returns_the_matching_line(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    with trio.fail_after(30):
        async with console_for() as console:
            fake.console("Automatic saving is now disabled")  # before the command: not it
            reply = await console.command("save-off", expect="Automatic saving is now disabled")
            assert reply.text == "[12:00:00 INFO]: Automatic saving is now disabled"
            assert not reply.replayed
            # a compiled pattern; the second line of a multi-line event
            assert (await console.command("list", expect=re.compile(r"^\(nobody\)$"))).line == (
                "(nobody)"
            )
            # a predicate on the ConsoleOutput
            out = await console.command("list", expect=lambda o: o.text.startswith("There are"))
            assert "20 players" in out.text
    assert fake.commands == ["save-off", "list", "list"]


async def test_command_times_out(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    with trio.fail_after(30):
        async with console_for() as console:
            start = trio.current_time()
            with pytest.raises(ResponseTimeout, match="never"):
                await console.command("unknown", expect="never", timeout=3.0)
            assert trio.current_time() - start == pytest.approx(3.0)
            with pytest.raises(ValueError, match="expect"):
                await console.command("list", expect="(unclosed")
            with pytest.raises(ValueError, match="timeout"):
                await console.command("list", expect="x", timeout=0)


async def test_command_fails_when_the_session_ends_first(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    with trio.fail_after(30):
        async with console_for() as console:

            async def delete_soon() -> None:
                await trio.sleep(1)
                fake.delete()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(delete_soon)
                with pytest.raises(ConsoleClosed, match="deleted"):
                    await console.command("unknown", expect="never", timeout=60.0)


async def test_command_waits_across_a_reconnect(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    with trio.fail_after(60):
        async with console_for(reconnect_interval=0.5) as console:
            await console.ws.close()  # disconnected: the command is queued
            async with trio.open_nursery() as nursery:
                nursery.start_soon(console.ws.connect)
                reply = await console.command("save-off", expect="saving is now disabled")
    assert "disabled" in reply.text
    assert fake.connections_accepted == 2


# --------------------------------------------------------------------------- wait_for_status


async def test_wait_for_status(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    with trio.fail_after(30):
        async with console_for() as console:
            assert await console.wait_for_status("running", "starting") == "running"  # at once
            await console.set_state("stop")
            assert await console.wait_for_status("offline") == "offline"
            with pytest.raises(ResponseTimeout):
                await console.wait_for_status("running", timeout=2.0)
            await console.set_state("start")
            assert await console.wait_for_status("running", timeout=10.0) == "running"
            with pytest.raises(ValueError, match="statuses"):
                await console.wait_for_status()


async def test_wait_for_status_fails_when_the_session_ends(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    with trio.fail_after(30):
        async with console_for() as console:
            fake.delete()
            with pytest.raises(ConsoleClosed):
                await console.wait_for_status("offline")


async def test_set_state_names_a_bad_value(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    async with console_for() as console:
        with pytest.raises(ValueError, match="'explode'"):
            await console.set_state("explode")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- groups


class Panel:
    """Several FakeWings behind one panel URL and one memory 'network'."""

    def __init__(self, fakes: list[FakeWings]) -> None:
        self.fakes = {fake.server_id: fake for fake in fakes}
        self._transports = {sid: fake.panel_transport() for sid, fake in self.fakes.items()}

    async def handle(self, request: httpx.Request) -> httpx.Response:
        server_id = request.url.path.split("/")[4]
        transport = self._transports.get(server_id, next(iter(self._transports.values())))
        return await transport.handle_async_request(request)

    async def open_stream(self, url: str) -> trio.abc.Stream:
        for fake in self.fakes.values():
            if fake.server_uuid in url:
                return await fake.open_stream(url)
        raise OSError(f"no node for {url}")


@pytest.fixture
async def panel_of_two(nursery: trio.Nursery) -> Panel:
    fakes = [
        FakeWings(server_id=sid, **{**TIMED_FAKE, "command_handler": minecraft})
        for sid in ("alpha1", "beta22")
    ]
    for fake in fakes:
        await nursery.start(fake.serve)
    return Panel(fakes)


def group_of(panel: Panel, http: httpx.AsyncClient, **options: Any) -> ConsoleGroup:
    return open_consoles(
        "http://panel.test",
        next(iter(panel.fakes.values())).api_key,
        list(panel.fakes),
        http_client=http,
        stream_opener=panel.open_stream,
        heartbeat_interval=None,
        **options,
    )


async def test_a_group_tags_events_and_goes_on_without_a_member_that_ended(
    autojump_clock: trio.testing.MockClock, panel_of_two: Panel
) -> None:
    alpha, beta = panel_of_two.fakes["alpha1"], panel_of_two.fakes["beta22"]
    async with httpx.AsyncClient(transport=httpx.MockTransport(panel_of_two.handle)) as http:
        with trio.fail_after(60):
            async with group_of(panel_of_two, http, stagger=2.0) as group:
                assert isinstance(group["alpha1"], Console)
                assert len(group) == 2
                authed: dict[str, float] = {}
                async for server_id, event in group:
                    if isinstance(event, AuthSuccess):
                        authed[server_id] = trio.current_time()
                        if len(authed) == 2:
                            break
                assert authed["beta22"] - authed["alpha1"] >= 2.0  # staggered
                await trio.sleep(2)  # past beta's replay window: what follows is live
                beta.console("from beta")
                async for server_id, event in group:
                    if isinstance(event, ConsoleOutput) and not event.replayed:
                        assert (server_id, event.line) == ("beta22", "from beta")
                        break
                alpha.delete()
                ended: list[tuple[str, ConsoleEnded]] = []
                async for server_id, event in group:
                    if isinstance(event, ConsoleEnded):
                        ended.append((server_id, event))
                        break
                [(who, end)] = ended
                assert who == "alpha1"
                assert isinstance(end.error, ConsoleClosed)
                assert group.live == {"beta22"}
                reply = await group["beta22"].command("save-off", expect="disabled")
                assert "disabled" in reply.text
                await group["beta22"].aclose()
                rest = [(sid, type(ev)) async for sid, ev in group]
                assert rest[-1] == ("beta22", ConsoleEnded)  # then the iteration ends
                assert [sid for sid, kind in rest if kind is ConsoleEnded] == ["beta22"]
    assert alpha.tokens_issued == beta.tokens_issued == 1


async def test_a_group_reports_first_connect_failures_and_leaves_the_client_open(
    autojump_clock: trio.testing.MockClock, panel_of_two: Panel
) -> None:
    panel_of_two.fakes["beta22"].fail_next(404)
    async with httpx.AsyncClient(transport=httpx.MockTransport(panel_of_two.handle)) as http:
        with trio.fail_after(60):
            async with group_of(panel_of_two, http, stagger=0.0) as group:
                async for server_id, event in group:
                    if isinstance(event, ConsoleEnded):
                        assert server_id == "beta22"
                        assert getattr(event.error, "status_code", None) == 404
                        break
                assert group.live == {"alpha1"}
    assert group["alpha1"]._http is http


def test_group_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="server_ids"):
        open_consoles("http://panel.test", "key", [])
    with pytest.raises(ValueError, match="duplicates"):
        open_consoles("http://panel.test", "key", ["a1", "a1"])
    with pytest.raises(ValueError, match="stagger"):
        open_consoles("http://panel.test", "key", ["a1"], stagger=-1)
    with pytest.raises(ValueError, match="server_id"):
        open_consoles("http://panel.test", "key", ["bad id"])


async def test_an_old_line_in_the_replay_never_answers_a_command(
    autojump_clock: trio.testing.MockClock, fake: FakeWings, console_for: ConsoleFor
) -> None:
    fake.console("[11:00:00 INFO]: Automatic saving is now disabled")  # an hour ago
    with trio.fail_after(30):
        async with console_for() as console:
            # sent at once: the replay of the old line is still on its way
            reply = await console.command("save-off", expect="saving is now disabled")
    assert reply.text.startswith("[12:00:00 INFO]")
