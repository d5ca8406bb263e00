"""Connection groups: tagged messages, MemberEnded, the shared connect budget, jitter.

Everything runs over in-memory servers with autojump_clock. The budget is checked by
the servers themselves (``MemoryWebSocketServer.max_handshaking``), not by the group.
"""

from __future__ import annotations

import urllib.parse
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer, TestServer, echo_handler

Opener = Callable[[str], Any]


def _route(servers: dict[str, MemoryWebSocketServer]) -> Opener:
    """A stream_opener that sends ws://<name>.test/ to servers[name]."""

    async def open_stream(url: str) -> trio.abc.Stream:
        host = urllib.parse.urlsplit(url).hostname or ""
        return await servers[host.removesuffix(".test")].open_stream(url)

    return open_stream


async def _servers(nursery: trio.Nursery, *names: str) -> dict[str, MemoryWebSocketServer]:
    servers = {name: MemoryWebSocketServer(echo_handler) for name in names}
    for server in servers.values():
        await nursery.start(server.run)
    return servers


def _watch_opens(group: Any) -> trio.Event:
    """An event set once every member has opened a connection from now on (without
    starting a connect ourselves, which would skip the group's jittered start)."""
    waiting = set(group)
    done = trio.Event()
    for name in group:

        def opened(_: Any, name: str = name) -> None:
            waiting.discard(name)
            if not waiting:
                done.set()

        group[name].add_event_listener("open", opened)
    return done


async def _all_opened(group: Any) -> None:
    await _watch_opens(group).wait()


async def test_messages_are_tagged_with_the_member_name(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    servers = await _servers(nursery, "a", "b")
    with trio.fail_after(30):
        async with pw.open_websocket_group(
            {"a": "ws://a.test/", "b": pw.WSConnectionOptions(url="ws://b.test/")},
            stream_opener=_route(servers),
            heartbeat_interval=None,
        ) as group:
            assert sorted(group) == ["a", "b"]
            assert len(group) == 2
            assert "a" in group
            assert "zz" not in group
            assert isinstance(group["a"], pw.AdvancedWebSocket)
            with pytest.raises(KeyError, match="no member named 'zz'"):
                group["zz"]
            for name in group:
                await group[name].connect()
            await group["a"].send("from a")
            await group["b"].send("from b")
            got = {await group.receive(), await group.receive()}
            assert got == {("a", "from a"), ("b", "from b")}
    assert servers["a"].accepted == 1
    assert servers["b"].accepted == 1


async def test_a_member_that_ends_yields_member_ended_once_and_the_others_go_on(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    servers = await _servers(nursery, "good", "bad")
    servers["bad"].refuse = 0  # connection refused: without auto_reconnect, final
    with trio.fail_after(30):
        async with pw.open_websocket_group(
            {"good": "ws://good.test/", "bad": "ws://bad.test/"},
            stream_opener=_route(servers),
            heartbeat_interval=None,
        ) as group:
            name, ended = await group.receive()
            assert name == "bad"
            assert isinstance(ended, pw.MemberEnded)
            assert isinstance(ended.error, pw.ConnectionFailed)
            assert group.statistics().ended == 1
            await group["good"].connect()
            await group["good"].send("still here")
            assert await group.receive() == ("good", "still here")
            await group["good"].close()
            assert await group.receive() == ("good", pw.MemberEnded(None))
            # Every member has ended: the iteration ends, no second MemberEnded.
            rest = [item async for item in group]
            assert rest == []
            assert group.statistics().ended == 2


async def test_the_group_ends_members_on_exit(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    servers = await _servers(nursery, "a")
    with trio.fail_after(30):
        async with pw.open_websocket_group(
            {"a": "ws://a.test/"}, stream_opener=_route(servers), heartbeat_interval=None
        ) as group:
            member = group["a"]
            await member.connect()
            assert servers["a"].live == 1
        with pytest.raises(pw.Destroyed):
            await member.send("after the group")
        assert member.state is pw.ConnectionState.CLOSED


async def test_an_exception_in_the_body_comes_out_unwrapped(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    servers = await _servers(nursery, "a")
    with trio.fail_after(30), pytest.raises(KeyError, match="body"):
        async with pw.open_websocket_group(
            {"a": "ws://a.test/"}, stream_opener=_route(servers), heartbeat_interval=None
        ):
            raise KeyError("body")


@pytest.mark.parametrize("budget", [1, 3])
async def test_never_more_handshakes_at_once_than_the_budget_even_after_a_restart(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, budget: int
) -> None:
    (server,) = (await _servers(nursery, "s")).values()
    server.handshake_delay = 1.0
    names = [f"m{i}" for i in range(10)]
    opens: Counter[str] = Counter()
    with trio.fail_after(120):
        async with pw.open_websocket_group(
            dict.fromkeys(names, "ws://s.test/"),
            max_concurrent_connects=budget,
            stream_opener=_route({"s": server}),
            heartbeat_interval=None,
            auto_reconnect=True,
            reconnect_strategy="fixed",
            reconnect_interval=0.1,
            max_reconnect_attempts=None,
        ) as group:
            all_open = trio.Event()
            reopened = trio.Event()

            def on_open(name: str) -> Callable[[Any], None]:
                def record(_: Any) -> None:
                    opens[name] += 1
                    if all(opens[n] >= 1 for n in names):
                        all_open.set()
                    if all(opens[n] >= 2 for n in names):
                        reopened.set()

                return record

            for name in names:
                group[name].add_event_listener("open", on_open(name))
            await all_open.wait()
            assert server.max_handshaking == budget
            assert group.statistics().max_concurrent_connects == budget
            await server.vanish()  # a server restart: every connection drops at once
            await reopened.wait()
            assert server.live == 10
            stats = group.statistics()
            assert stats.connects_in_progress == 0
            assert stats.connects_waiting == 0
    assert server.max_handshaking == budget


async def test_without_a_budget_the_server_sees_the_herd(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    # The counter the budget test relies on does see concurrent handshakes.
    (server,) = (await _servers(nursery, "s")).values()
    server.handshake_delay = 1.0
    with trio.fail_after(30):
        async with pw.open_websocket_group(
            {f"m{i}": "ws://s.test/" for i in range(10)},
            max_concurrent_connects=10,
            stream_opener=_route({"s": server}),
            heartbeat_interval=None,
            jitter=0.0,
        ) as group:
            for name in group:
                await group[name].connect()
    assert server.max_handshaking == 10


async def test_starts_are_spread_by_jitter(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    (server,) = (await _servers(nursery, "s")).values()
    starts: list[float] = []

    async def timed(url: str) -> trio.abc.Stream:
        starts.append(trio.current_time())
        return await server.open_stream(url)

    with trio.fail_after(30):
        t0 = trio.current_time()
        async with pw.open_websocket_group(
            {f"m{i}": "ws://s.test/" for i in range(8)},
            max_concurrent_connects=8,
            stream_opener=timed,
            heartbeat_interval=None,
            jitter=2.0,
        ) as group:
            await _all_opened(group)
    assert len(starts) == 8
    assert all(0 <= t - t0 <= 2.0 for t in starts)
    assert len(set(starts)) > 1  # not all in the same instant


def test_bad_arguments_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"^max_concurrent_connects: must be >= 1"):
        pw.open_websocket_group({"a": "ws://a.test/"}, max_concurrent_connects=0)
    with pytest.raises(TypeError, match=r"^max_concurrent_connects: expected an int"):
        pw.open_websocket_group({"a": "ws://a.test/"}, max_concurrent_connects=True)
    with pytest.raises(ValueError, match=r"^members: the group needs at least one"):
        pw.open_websocket_group({})
    with pytest.raises(TypeError, match=r"^members: expected a mapping"):
        pw.open_websocket_group(["ws://a.test/"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^members: names must be str"):
        pw.open_websocket_group({1: "ws://a.test/"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"^members\['a'\]: expected a URL"):
        pw.open_websocket_group({"a": 3})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"^url: URL scheme"):
        pw.open_websocket_group({"a": "http://a.test/"})
    with pytest.raises(TypeError, match=r"^members\['a'\]: .*bogus"):
        pw.open_websocket_group({"a": "ws://a.test/"}, bogus=1)


def test_common_options_apply_to_every_member() -> None:
    group = pw.open_websocket_group(
        {"a": "ws://a.test/", "b": pw.WSConnectionOptions(url="ws://b.test/", auto_json=False)},
        auto_json=True,
    )
    assert group["a"].options.auto_json is True
    assert group["b"].options.auto_json is True
    assert group["b"].options.url == "ws://b.test/"


async def test_the_budget_holds_over_tcp_across_a_real_server_restart(
    nursery: trio.Nursery,
) -> None:
    # A real TestServer that counts the TCP connections in their handshake: a
    # restart drops every member at once; they come back at most two at a time.
    server = TestServer(handshake_delay=0.05)
    await nursery.start(server.serve)
    names = [f"m{i}" for i in range(8)]
    with trio.fail_after(30):
        async with pw.open_websocket_group(
            dict.fromkeys(names, server.url),
            max_concurrent_connects=2,
            heartbeat_interval=None,
            auto_reconnect=True,
            reconnect_strategy="fixed",
            reconnect_interval=0.01,
            max_reconnect_attempts=None,
        ) as group:
            await _all_opened(group)
            assert server.max_handshaking == 2
            reopened = _watch_opens(group)
            await server.restart()
            await reopened.wait()
            assert server.accepted == 16
    assert server.max_handshaking == 2


async def test_waiting_for_the_budget_does_not_count_toward_connection_timeout(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    (server,) = (await _servers(nursery, "s")).values()
    server.handshake_delay = 0.8
    with trio.fail_after(30):
        async with pw.open_websocket_group(
            {f"m{i}": "ws://s.test/" for i in range(3)},
            max_concurrent_connects=1,
            stream_opener=_route({"s": server}),
            heartbeat_interval=None,
            connection_timeout=1.0,  # the third waits 1.6 s for its turn, then connects
            jitter=0.0,
        ) as group:
            await _all_opened(group)
            assert group.statistics().ended == 0
    assert server.accepted == 3
    assert server.max_handshaking == 1
