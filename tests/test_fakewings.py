"""FakeWings, driven by a raw trio-websocket client on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import pytest
import trio
import trio_websocket
from trio.testing import MockClock
from trio_websocket import ConnectionClosed, WebSocketConnection

from trio_pterows.pterodactyl import PanelAPIError
from trio_pterows.pterodactyl._panel import fetch_credentials
from trio_pterows.pterodactyl._protocol import (
    JWT_DENYLISTED_TEXT,
    JWT_EXPIRED_TEXT,
    JWT_NOT_PRESENT_TEXT,
    AuthSuccess,
    BackupCompleted,
    BackupRestoreCompleted,
    ConsoleEvent,
    ConsoleOutput,
    DaemonError,
    DaemonMessage,
    Deleted,
    InstallCompleted,
    InstallOutput,
    InstallStarted,
    JwtError,
    Stats,
    StatusChange,
    Throttled,
    TokenExpired,
    TokenExpiring,
    TransferLogs,
    TransferStatus,
    encode_frame,
    jwt_error_kind,
    parse_frame,
)
from trio_pterows.testing import ADMIN_PERMISSIONS, FakeWingsConfig
from trio_pterows.testing._fakewings import FakeWings

ORIGIN = b"http://panel.test"
KEY = "ptlc_NodeMustNeverSeeThisKey0123456789"


async def start(nursery: trio.Nursery, **kwargs: Any) -> FakeWings:
    kwargs.setdefault("stats_interval", None)
    fake = FakeWings(**kwargs)
    socket_url = await nursery.start(fake.serve)
    assert socket_url == fake.socket_url
    return fake


async def new_token(fake: FakeWings) -> str:
    async with httpx.AsyncClient(transport=fake.panel_transport()) as client:
        creds = await fetch_credentials(client, fake.panel_url, fake.api_key, fake.server_id)
    return creds.token


@asynccontextmanager
async def connect_with_stream(
    fake: FakeWings,
    origin: bytes | None = ORIGIN,
    extra: tuple[tuple[bytes, bytes], ...] = (),
    *,
    memory: bool = False,
) -> AsyncIterator[tuple[WebSocketConnection, trio.abc.Stream]]:
    """A client connection and its stream: loopback TCP, or in memory with ``memory``
    (``fake.open_stream``: what every ``autojump_clock`` test must use). trio-websocket's
    own client leaves its socket open when the server closes first, so this one owns the
    stream and always closes it."""
    assert fake.port is not None
    headers = [(b"Origin", origin)] if origin is not None else []
    headers += extra
    stream = await open_stream(fake, memory=memory)
    try:
        async with trio.open_nursery() as nursery:
            ws = await trio_websocket.wrap_client_stream(
                nursery,
                stream,
                f"127.0.0.1:{fake.port}",
                f"/api/servers/{fake.server_uuid}/ws",
                extra_headers=headers,
            )
            try:
                yield ws, stream
            finally:
                with trio.move_on_after(5):
                    await ws.aclose()
                nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(stream)


@asynccontextmanager
async def connect(
    fake: FakeWings,
    origin: bytes | None = ORIGIN,
    extra: tuple[tuple[bytes, bytes], ...] = (),
    *,
    memory: bool = False,
) -> AsyncIterator[WebSocketConnection]:
    async with connect_with_stream(fake, origin, extra, memory=memory) as (ws, _):
        yield ws


async def open_stream(fake: FakeWings, *, memory: bool) -> trio.abc.Stream:
    """A raw stream to the node: in memory, or loopback TCP."""
    if memory:
        return await fake.open_stream(fake.socket_url)
    assert fake.port is not None
    return await trio.open_tcp_stream("127.0.0.1", fake.port)


async def send(ws: WebSocketConnection, event: str, *args: str) -> None:
    await ws.send_message(encode_frame(event, *args))


async def recv(ws: WebSocketConnection) -> ConsoleEvent:
    return parse_frame(await ws.get_message())


async def authed(fake: FakeWings, ws: WebSocketConnection) -> None:
    """First auth: ``auth success``, ``status`` (and ``stats`` while offline)."""
    await send(ws, "auth", await new_token(fake))
    assert await recv(ws) == AuthSuccess()
    assert await recv(ws) == StatusChange(fake.status)
    if fake.status == "offline":
        stats = await recv(ws)
        assert isinstance(stats, Stats)
        assert stats.state == "offline"


async def probe(ws: WebSocketConnection) -> Stats:
    """Nothing else is queued: the answer to ``send stats`` comes next."""
    await send(ws, "send stats")
    ev = await recv(ws)
    assert isinstance(ev, Stats), ev
    return ev


async def assert_silent(ws: WebSocketConnection, seconds: float) -> None:
    with trio.move_on_after(seconds):
        message = await ws.get_message()
        pytest.fail(f"unexpected message {message!r}")


# --------------------------------------------------------------------------- handshake


async def handshake_status(fake: FakeWings, origin: bytes | None, path: str | None = None) -> int:
    """The HTTP status of a raw upgrade request (trio-websocket's client leaks its
    socket when a handshake is rejected, so this speaks HTTP itself)."""
    assert fake.port is not None
    lines = [
        f"GET {path or fake.socket_url.split(str(fake.port), 1)[1]} HTTP/1.1".encode(),
        f"Host: 127.0.0.1:{fake.port}".encode(),
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        b"Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(b"Origin: " + origin)
    async with await trio.open_tcp_stream("127.0.0.1", fake.port) as stream:
        await stream.send_all(b"\r\n".join(lines) + b"\r\n\r\n")
        response = b""
        while b"\r\n" not in response:
            chunk = await stream.receive_some(1024)
            assert chunk, "connection closed before the status line"
            response += chunk
    return int(response.split(b" ", 2)[1])


async def test_origin_must_match_the_panel(nursery: trio.Nursery) -> None:
    fake = await start(nursery, allowed_origins=["https://allowed.test"])
    with trio.fail_after(10):
        for origin in (b"http://evil.test", b"http://panel.test:8080", b"https://panel.test", None):
            assert await handshake_status(fake, origin) == 403
        assert await handshake_status(fake, b"https://allowed.test") == 101
        assert await handshake_status(fake, ORIGIN) == 101
        async with connect(fake) as ws:
            await authed(fake, ws)
    assert fake.connections_rejected == 4
    assert fake.connections_accepted == 3
    assert fake.origins_seen == [
        "http://evil.test",
        "http://panel.test:8080",
        "https://panel.test",
        None,
        "https://allowed.test",
        "http://panel.test",
        "http://panel.test",
    ]
    assert [c.rejected_status for c in fake.connections] == [403] * 4 + [None] * 3


async def test_any_origin_with_star(nursery: trio.Nursery) -> None:
    fake = await start(nursery, allowed_origins=["*"])
    with trio.fail_after(10):
        async with connect(fake, origin=b"http://whatever.test") as ws:
            await authed(fake, ws)


async def test_wrong_path_is_404(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        assert await handshake_status(fake, ORIGIN, "/api/servers/someone-else/ws") == 404
        assert await handshake_status(fake, ORIGIN) == 101


# --------------------------------------------------------------------------- auth


async def test_auth_flow_and_reauth(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            await send(ws, "auth", await new_token(fake))
            assert await recv(ws) == AuthSuccess()
            # a refresh answers `auth success` only: the next frame is the console line
            fake.console("after refresh")
            assert await recv(ws) == ConsoleOutput("after refresh")
    assert fake.auths_received == fake.auth_successes == 2
    assert fake.tokens_issued == 2
    assert fake.connections[0].auths == 2


async def test_nothing_but_auth_before_auth(nursery: trio.Nursery) -> None:
    fake = await start(nursery, initial_status="running")
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, "send command", "op me")
            assert await recv(ws) == JwtError(JWT_NOT_PRESENT_TEXT)
            await send(ws, "send stats")
            assert await recv(ws) == JwtError(JWT_NOT_PRESENT_TEXT)
            fake.console("not for unauthenticated sockets")
            await authed(fake, ws)
            assert fake.commands == []


async def test_bad_token(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    other = FakeWings()  # another node key: the signature does not verify
    await nursery.start(other.serve)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await send(ws, "auth", await new_token(other))
            ev = await recv(ws)
            assert isinstance(ev, DaemonError)
            assert ev.text.startswith("Error Event [")
            await authed(fake, ws)
    assert fake.auths_received == 2
    assert fake.auth_successes == 1


async def test_expired_token_is_refused_at_auth(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            stale = await new_token(fake)
            fake.expire_tokens()
            await send(ws, "auth", stale)
            ev = await recv(ws)
            assert isinstance(ev, JwtError)
            assert ev.text.startswith("Error Event [")
            assert JWT_EXPIRED_TEXT in ev.text
            assert jwt_error_kind(ev.text) == "expired"
            await authed(fake, ws)  # a fresh token works, on the same socket


async def test_token_expiry_cycle(nursery: trio.Nursery, autojump_clock: MockClock) -> None:
    fake = await start(nursery, token_lifetime=100.0, expiring_window=60.0, check_interval=30.0)
    with trio.fail_after(1000):
        async with connect(fake, memory=True) as ws:
            t0 = trio.current_time()
            await authed(fake, ws)

            async def at(expected: ConsoleEvent, offset: float) -> None:
                assert await recv(ws) == expected
                assert trio.current_time() - t0 == pytest.approx(offset)

            # checks at +30 (70 s left: quiet), +60 and +90 (expiring), +120 (expired:
            # Wings' SendJson refuses the `token expired` notice itself, so the client
            # sees the jwt error it turns into)
            await at(TokenExpiring(), 60.0)
            await at(TokenExpiring(), 90.0)
            await at(JwtError(JWT_EXPIRED_TEXT), 120.0)
            # every outbound event is now replaced by the jwt error...
            fake.console("hidden")
            await at(JwtError(JWT_EXPIRED_TEXT), 120.0)
            # ... and so is every answer but auth
            await send(ws, "send stats")
            await at(JwtError(JWT_EXPIRED_TEXT), 120.0)
            await at(JwtError(JWT_EXPIRED_TEXT), 150.0)  # repeated at each check
            await send(ws, "auth", await new_token(fake))
            await at(AuthSuccess(), 150.0)
            fake.console("visible")
            await at(ConsoleOutput("visible"), 150.0)
            # the new token lives until +250: next notice at +210 (40 s left)
            await at(TokenExpiring(), 210.0)
    assert fake.connections_accepted == 1


async def test_expire_tokens_notifies_at_once(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    fake = await start(nursery)
    with trio.fail_after(100):
        async with connect(fake, memory=True) as ws:
            await authed(fake, ws)
            t0 = trio.current_time()
            fake.expire_tokens()
            assert await recv(ws) == JwtError(JWT_EXPIRED_TEXT)  # what the next check says
            assert trio.current_time() == t0
            fake.console("hidden")
            assert await recv(ws) == JwtError(JWT_EXPIRED_TEXT)


async def test_denylisted_tokens(nursery: trio.Nursery, autojump_clock: MockClock) -> None:
    fake = await start(nursery)
    with trio.fail_after(100):
        async with connect(fake, memory=True) as ws:
            await authed(fake, ws)
            old = await new_token(fake)
            fake.deny_tokens()
            assert await recv(ws) == JwtError(JWT_DENYLISTED_TEXT)
            assert jwt_error_kind(JWT_DENYLISTED_TEXT) == "denylisted"
            fake.console("hidden")
            assert await recv(ws) == JwtError(JWT_DENYLISTED_TEXT)
            await send(ws, "auth", old)  # issued before the denylist: refused
            ev = await recv(ws)
            assert isinstance(ev, JwtError)
            assert jwt_error_kind(ev.text) == "denylisted"
            await trio.sleep(5)  # a third auth within 5 s would be throttled
            await send(ws, "auth", await new_token(fake))
            assert await recv(ws) == AuthSuccess()
            fake.console("visible")
            assert await recv(ws) == ConsoleOutput("visible")


# --------------------------------------------------------------------------- rate limits


async def test_throttled_once_per_episode(nursery: trio.Nursery, autojump_clock: MockClock) -> None:
    fake = await start(nursery)
    with trio.fail_after(100):
        async with connect(fake, memory=True) as ws:
            await authed(fake, ws)
            for _ in range(6):  # "send stats" shares the default bucket: burst 4
                await send(ws, "send stats")
            events = [await recv(ws) for _ in range(5)]
            assert all(isinstance(ev, Stats) for ev in events[:4])
            assert events[4] == Throttled("send stats")
            await assert_silent(ws, 0.5)  # the 6th frame was dropped without a word
            await trio.sleep(0.5)  # one token back
            await probe(ws)  # ends the episode
            await send(ws, "send stats")
            assert await recv(ws) == Throttled("send stats")  # a new episode
    assert fake.throttled_sent == 2


async def test_global_bucket(nursery: trio.Nursery, autojump_clock: MockClock) -> None:
    fake = await start(nursery, initial_status="running")
    with trio.fail_after(100):
        async with connect(fake, memory=True) as ws:
            await authed(fake, ws)  # the auth frame took one global token: 9 left
            for i in range(11):
                await send(ws, "send command", f"c{i}")
            events = [await recv(ws) for _ in range(10)]
            assert events[:9] == [ConsoleOutput(f"> c{i}") for i in range(9)]
            assert events[9] == Throttled("global")
            await trio.sleep(1.0)
            await probe(ws)
    assert fake.commands == [f"c{i}" for i in range(9)]
    assert fake.throttled_sent == 1


async def test_rate_limits_off(nursery: trio.Nursery) -> None:
    fake = await start(nursery, rate_limits=False)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            for _ in range(20):
                await send(ws, "send stats")
            for _ in range(20):
                assert isinstance(await recv(ws), Stats)
    assert fake.throttled_sent == 0


# --------------------------------------------------------------------------- power, commands


async def test_power_states(nursery: trio.Nursery, autojump_clock: MockClock) -> None:
    fake = await start(nursery, rate_limits=False, power_delay=0.5)
    with trio.fail_after(100):
        async with connect(fake, memory=True) as ws:
            await authed(fake, ws)

            async def until_status(final: str) -> list[str]:
                seen: list[str] = []
                while True:
                    ev = await recv(ws)
                    if isinstance(ev, StatusChange):
                        seen.append(ev.status)
                        if ev.status == final:
                            return seen

            t0 = trio.current_time()
            await send(ws, "set state", "start")
            assert await until_status("running") == ["starting", "running"]
            assert trio.current_time() - t0 == pytest.approx(0.5)
            assert fake.status == "running"
            assert fake.console_log[-1].startswith("Done")

            await send(ws, "send command", "say hi")
            assert await recv(ws) == ConsoleOutput("> say hi")
            assert fake.commands == ["say hi"]

            await send(ws, "set state", "stop")
            assert await until_status("offline") == ["stopping", "offline"]
            await send(ws, "send command", "ignored while offline")
            assert (await probe(ws)).state == "offline"
            assert fake.commands == ["say hi"]

            await send(ws, "set state", "restart")  # from offline: just starts
            assert await until_status("running") == ["starting", "running"]
            await send(ws, "set state", "restart")
            assert await until_status("running") == ["stopping", "offline", "starting", "running"]
            await send(ws, "set state", "start")  # already running: a daemon error
            await send(ws, "set state", "explode")  # not a power action: a daemon error
            for _ in range(2):
                refused = await recv(ws)
                assert isinstance(refused, DaemonError)
                assert "an unexpected error was encountered" in refused.text
            assert (await probe(ws)).state == "running"

            await send(ws, "set state", "kill")
            assert await recv(ws) == StatusChange("offline")

            await send(ws, "set state", "start")
            await send(ws, "set state", "stop")  # while the start is in progress
            seen: list[ConsoleEvent] = []
            while StatusChange("running") not in seen:
                seen.append(await recv(ws))
            errors = [ev for ev in seen if isinstance(ev, DaemonError)]
            assert len(errors) == 1  # the node's generic text: no admin.websocket.errors
            assert "an unexpected error" in errors[0].text

            fake.set_status("stopping")
            assert await recv(ws) == StatusChange("stopping")
            with pytest.raises(ValueError, match="status"):
                fake.set_status("exploded")


async def test_command_handler(nursery: trio.Nursery) -> None:
    def handler(command: str) -> list[str]:
        return [f"There are 0 of a max of 20 players online: {command}", "second line"]

    fake = await start(nursery, initial_status="running", command_handler=handler)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            await send(ws, "send command", "list")
            assert await recv(ws) == ConsoleOutput(
                "There are 0 of a max of 20 players online: list"
            )
            assert await recv(ws) == ConsoleOutput("second line")


async def test_send_logs_replays_a_bounded_buffer(nursery: trio.Nursery) -> None:
    fake = await start(nursery, initial_status="running", log_lines=3)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            for line in "abcd":
                fake.console(line)
            for line in "abcd":
                assert await recv(ws) == ConsoleOutput(line)
            await send(ws, "send logs")
            for line in "bcd":
                assert await recv(ws) == ConsoleOutput(line)
            await probe(ws)
            assert fake.console_log == ["b", "c", "d"]
            fake.set_status("offline")
            assert await recv(ws) == StatusChange("offline")
            await send(ws, "send logs")  # Wings replays nothing while offline
            await probe(ws)


async def test_stats_stream_while_running(nursery: trio.Nursery, autojump_clock: MockClock) -> None:
    fake = await start(nursery, stats_interval=1.0)
    fake.set_resources(memory_bytes=1234, cpu_absolute=55.5)
    with trio.fail_after(100):
        async with connect(fake, memory=True) as ws:
            await authed(fake, ws)
            await assert_silent(ws, 3.0)  # offline: no stream
            fake.set_status("running")
            assert await recv(ws) == StatusChange("running")
            t0 = trio.current_time()
            for n in range(1, 5):
                ev = await recv(ws)
                assert isinstance(ev, Stats)
                assert trio.current_time() - t0 == pytest.approx(n)
                assert ev.uptime == pytest.approx(n)
                assert (ev.memory_bytes, ev.cpu_absolute, ev.state) == (1234, 55.5, "running")
            fake.set_status("offline")
            assert await recv(ws) == StatusChange("offline")
            await assert_silent(ws, 3.0)
            offline = await probe(ws)
            assert (offline.memory_bytes, offline.uptime, offline.cpu_absolute) == (0, 0.0, 0.0)
            assert offline.disk_bytes == fake.current_stats().disk_bytes > 0


# --------------------------------------------------------------------------- server events


async def test_server_events_reach_authenticated_sockets_only(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws_a, connect(fake) as ws_b:
            await authed(fake, ws_a)
            fake.console("for A")
            assert await recv(ws_a) == ConsoleOutput("for A")
            fake.emit_raw("daemon message", "for everyone")
            assert await recv(ws_a) == DaemonMessage("for everyone")
            assert await recv(ws_b) == DaemonMessage("for everyone")  # B saw nothing before


async def test_event_helpers(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            fake.daemon_message("pulling image")
            fake.daemon_error("oops")
            fake.install_started()
            fake.install_output("apt-get install")  # admins only: not for this token
            fake.install_completed()
            fake.transfer_logs("copying")  # admins only
            fake.transfer_status("completed")
            fake.backup_completed("b-1", checksum="abc", file_size=42)
            fake.backup_restore_completed()
            fake.emit_event(ConsoleOutput("via emit_event"))
            fake.emit("feature match", "eula")
            expected = [
                DaemonMessage("pulling image"),
                DaemonError("oops"),
                InstallStarted(),
                InstallCompleted(),
                TransferStatus("completed"),
                BackupCompleted("b-1", True, "abc", "sha1", 42),
                BackupRestoreCompleted(),
                ConsoleOutput("via emit_event"),
            ]
            assert [await recv(ws) for _ in expected] == expected
            assert (await ws.get_message()) == '{"event":"feature match","args":["eula"]}'


# --------------------------------------------------------------------------- endings


async def test_admin_tokens_see_install_and_transfer_output(nursery: trio.Nursery) -> None:
    fake = await start(nursery, permissions=("*", *ADMIN_PERMISSIONS))
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            fake.install_output("apt-get install")
            fake.transfer_logs("copying")
            assert await recv(ws) == InstallOutput("apt-get install")
            assert await recv(ws) == TransferLogs("copying")
            await send(ws, "set state", "explode")
            refused = await recv(ws)
            assert isinstance(refused, DaemonError)
            assert "invalid power action" in refused.text  # the real text, for admins


async def test_backup_completed_is_sent_as_wings_1_6_does(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            fake.backup_completed("b-1")
            frame = json.loads(await ws.get_message())
            assert frame["event"] == "backup completed"
            assert json.loads(frame["args"][0])["uuid"] == "b-1"


async def test_suspend_drops_live_sockets_and_closes_new_ones_4409(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            fake.suspend()  # a live socket is cancelled: no close frame
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason is not None
            assert info.value.reason.code == 1006
        assert fake.connections[0].dropped
        # a socket that opens on a suspended server is closed 4409 at once
        async with connect(fake) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason is not None
            assert (info.value.reason.code, info.value.reason.reason) == (
                4409,
                "server is suspended",
            )
        async with httpx.AsyncClient(transport=fake.panel_transport()) as client:
            response = await client.get(
                f"{fake.panel_url}/api/client/servers/{fake.server_id}",
                headers={"Authorization": f"Bearer {fake.api_key}"},
            )
            assert response.json()["attributes"]["is_suspended"] is True
            response = await client.get(
                f"{fake.panel_url}/api/client/servers/{fake.server_id}/websocket",
                headers={"Authorization": f"Bearer {fake.api_key}"},
            )
            assert response.status_code == 409
            assert "suspended" in response.json()["errors"][0]["detail"]
        fake.unsuspend()
        async with connect(fake) as ws:
            await authed(fake, ws)


@pytest.mark.parametrize("legacy", [False, True])
async def test_delete(nursery: trio.Nursery, legacy: bool) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            fake.delete(legacy=legacy)
            if not legacy:  # new Wings: `deleted` ["null"], then the socket drops
                raw = json.loads(await ws.get_message())
                assert raw == {"event": "deleted", "args": ["null"]}
                assert parse_frame(json.dumps(raw)) == Deleted()
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason is not None
            expected = (1001, "server deleted") if legacy else (1006, None)
            assert (info.value.reason.code, info.value.reason.reason) == expected
        assert await handshake_status(fake, ORIGIN) == 404


async def test_close_all(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            fake.console("before the close")
            fake.close_all(4000, "bye")
            assert await recv(ws) == ConsoleOutput("before the close")  # order is kept
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason is not None
            assert (info.value.reason.code, info.value.reason.reason) == (4000, "bye")
        await fake.wait_until(lambda: fake.active_connections == 0)
    record = fake.connections[0]
    assert (record.close_code, record.close_reason, record.dropped) == (4000, "bye", False)


async def test_client_close_is_recorded(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            await ws.aclose(4321, "client leaves")
        await fake.wait_until(lambda: fake.active_connections == 0)
    assert (fake.connections[0].close_code, fake.connections[0].open) == (4321, False)


@pytest.mark.parametrize("reset", [False, True])
async def test_drop_all_aborts_without_close_frame(nursery: trio.Nursery, reset: bool) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            fake.drop_all(reset=reset)
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason is not None
            assert info.value.reason.code == 1006  # abnormal closure: no close frame
        await fake.wait_until(lambda: fake.active_connections == 0)
    assert fake.connections[0].dropped


async def test_slow_reader_is_dropped(nursery: trio.Nursery) -> None:
    fake = await start(nursery, outbound_buffer=4)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            for i in range(50):  # sync calls: the writer cannot drain in between
                fake.console(f"line {i}")
            assert fake.overflow_drops == 1
            received = 0
            try:
                while True:
                    await ws.get_message()
                    received += 1
            except ConnectionClosed:
                pass
            assert received <= 5
    assert fake.connections[0].dropped


# --------------------------------------------------------------------------- robustness


async def test_garbage_frames_are_dropped(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            await ws.send_message("ping")
            await ws.send_message(b'{"event":"send stats"}')  # binary: dropped
            await ws.send_message('{"event":5}')
            await ws.send_message('{"event":"send stats","args":[1]}')
            await probe(ws)
    assert len(fake.connections[0].received) == 6  # auth + 4 dropped + probe, all recorded


async def test_a_message_over_the_read_limit_closes_1009(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            await ws.send_message(encode_frame("send command", "x" * 4090))  # 4 KiB + JSON
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason is not None
            assert info.value.reason.code == 1009
    assert fake.connections[0].close_code == 1009


async def test_the_node_never_sees_the_api_key(nursery: trio.Nursery) -> None:
    fake = await start(nursery, api_key=KEY, initial_status="running")
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            await send(ws, "send command", "say hi")
            assert await recv(ws) == ConsoleOutput("> say hi")

        def leaks() -> list[str]:
            found = []
            for record in fake.connections:
                found += [f"header {k}" for k, v in record.headers if KEY in v]
                found += ["frame" for frame in record.received if KEY in str(frame)]
            return found

        assert leaks() == []
        assert all(r.authorized for r in fake.panel_requests)
        # the check itself works: a client that leaks the key is caught
        async with connect(fake, extra=((b"X-Key", KEY.encode()),)) as ws:
            await send(ws, "auth", KEY)
            assert isinstance(await recv(ws), DaemonError)
        assert leaks() == ["header x-key", "frame"]
    assert KEY not in repr(fake)


async def test_wait_until(nursery: trio.Nursery, autojump_clock: MockClock) -> None:
    fake = await start(nursery)

    async def client() -> None:
        await trio.sleep(5)
        async with connect(fake, memory=True) as ws:
            await authed(fake, ws)
            await trio.sleep_forever()

    nursery.start_soon(client)
    with trio.fail_after(100):
        await fake.wait_until(lambda: fake.auth_successes == 1)
    assert trio.current_time() >= 5
    with trio.move_on_after(1) as scope:
        await fake.wait_until(lambda: fake.auth_successes == 2)
    assert scope.cancelled_caught


async def test_serve_lifecycle() -> None:
    fake = FakeWings()
    assert fake.port is None
    with pytest.raises(RuntimeError, match="not serving"):
        _ = fake.socket_url
    fake.console("no sockets: fine")
    fake.close_all()
    fake.drop_all()
    with trio.fail_after(10):
        for _ in range(2):  # may be served again after a cancel
            async with trio.open_nursery() as nursery:
                await nursery.start(fake.serve)
                assert fake.socket_url.startswith("ws://127.0.0.1:")
                with pytest.raises(RuntimeError, match="already serving"):
                    await fake.serve()
                async with connect(fake) as ws:
                    await authed(fake, ws)
                nursery.cancel_scope.cancel()
            assert fake.port is None


async def test_cancelling_serve_drops_connections(nursery: trio.Nursery) -> None:
    fake = FakeWings(stats_interval=None)
    serve_scope = trio.CancelScope()

    async def serve(task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        with serve_scope:
            await fake.serve(task_status=task_status)

    await nursery.start(serve)
    with trio.fail_after(10):
        async with connect(fake) as ws:
            await authed(fake, ws)
            serve_scope.cancel()
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason is not None
            assert info.value.reason.code == 1006
        await fake.wait_until(lambda: fake.port is None)
    assert fake.active_connections == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"panel_url": "ftp://panel"}, "panel_url"),
        ({"token_lifetime": 0}, "token_lifetime"),
        ({"check_interval": -1}, "check_interval"),
        ({"expiring_window": -1}, "expiring_window"),
        ({"stats_interval": 0}, "stats_interval"),
        ({"power_delay": float("nan")}, "power_delay"),
        ({"initial_status": "stopping"}, "initial_status"),
        ({"log_lines": 0}, "log_lines"),
        ({"history": 0}, "history"),
        ({"outbound_buffer": 0}, "outbound_buffer"),
    ],
)
def test_constructor_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FakeWings(**kwargs)


async def test_advertised_socket_url(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        async with httpx.AsyncClient(transport=fake.panel_transport()) as client:
            fake.advertise_socket_url("ws://127.0.0.1:1/api/servers/x/ws")
            creds = await fetch_credentials(client, fake.panel_url, fake.api_key, fake.server_id)
            assert creds.socket_url == "ws://127.0.0.1:1/api/servers/x/ws"
            fake.advertise_socket_url(None)
            creds = await fetch_credentials(client, fake.panel_url, fake.api_key, fake.server_id)
            assert creds.socket_url == fake.socket_url
    with pytest.raises(ValueError, match="url"):
        fake.advertise_socket_url("http://x")


def test_fail_next_validation() -> None:
    fake = FakeWings()
    with pytest.raises(ValueError, match="status"):
        fake.fail_next(200)
    with pytest.raises(ValueError, match="times"):
        fake.fail_next(500, times=-1)
    with pytest.raises(ValueError, match="seconds"):
        fake.set_panel_latency(-1)


async def test_broken_clients_do_not_break_the_node(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    fake = await start(nursery)
    assert fake.port is not None
    with trio.fail_after(100):
        async with await open_stream(fake, memory=True):
            pass  # connect and leave
        async with await open_stream(fake, memory=True) as stream:
            await stream.send_all(b"NOT HTTP AT ALL\r\n\r\n")
            while await stream.receive_some(1024):
                pass  # the node answers (400) and hangs up
        async with await open_stream(fake, memory=True) as stream:
            await stream.send_all(b"GET / HTTP/1.1\r\n")  # never finishes the handshake
            await trio.sleep(30)
        async with connect_with_stream(fake, memory=True) as (ws, stream):
            await authed(fake, ws)
            await trio.aclose_forcefully(stream)  # abort the TCP connection under it
        await fake.wait_until(lambda: fake.active_connections == 0)
        async with connect_with_stream(fake, memory=True) as (ws, stream):
            await authed(fake, ws)
            # a frame that is not valid websocket framing (unmasked from a client)
            await stream.send_all(b"\x81\x05hello")
            with pytest.raises(ConnectionClosed):
                await ws.get_message()
        async with connect(fake, memory=True) as ws:
            await authed(fake, ws)
    assert fake.connections_accepted == 3


# --------------------------------------------------------------------------- revision 2


async def test_the_socket_cap_answers_400(nursery: trio.Nursery) -> None:
    fake = await start(nursery, max_sockets=2)
    with trio.fail_after(10):
        async with connect(fake), connect(fake):
            await fake.wait_until(lambda: fake.active_connections == 2)
            assert await handshake_status(fake, ORIGIN) == 400
        await fake.wait_until(lambda: fake.active_connections == 0)
        assert await handshake_status(fake, ORIGIN) == 101  # freed as viewers leave
    assert fake.connections[2].rejected_status == 400


async def test_token_expired_gets_out_only_in_the_second_of_exp(
    nursery: trio.Nursery, autojump_clock: MockClock
) -> None:
    # A check landing exactly on exp: the notice itself passes SendJson's check.
    fake = await start(nursery, token_lifetime=90.0, expiring_window=30.0, check_interval=30.0)
    with trio.fail_after(1000):
        async with connect(fake) as ws:
            await authed(fake, ws)
            assert await recv(ws) == TokenExpiring()  # +60
            assert await recv(ws) == TokenExpired()  # +90, the very second of exp
            assert await recv(ws) == JwtError(JWT_EXPIRED_TEXT)  # +120


async def test_a_transfer_moves_the_server_to_a_new_node(nursery: trio.Nursery) -> None:
    fake = await start(nursery)
    with trio.fail_after(10):
        old = await new_token(fake)
        fake.begin_transfer()
        async with httpx.AsyncClient(transport=fake.panel_transport()) as client:
            with pytest.raises(PanelAPIError) as info:
                await fetch_credentials(client, fake.panel_url, fake.api_key, fake.server_id)
            assert info.value.status_code == 409
            assert "transferred" in str(info.value)
        fake.complete_transfer(ending="drop")
        assert fake.transfers == 1
        async with connect(fake) as ws:
            await send(ws, "auth", old)  # signed by the old node: not a JWT it can read
            refused = await recv(ws)
            assert isinstance(refused, DaemonError)
            await authed(fake, ws)  # fresh credentials work


def test_the_config_is_a_validated_frozen_attrs_class() -> None:
    config = FakeWingsConfig(server_id="srv1", max_sockets=3)
    assert attrs.has(FakeWingsConfig)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.max_sockets = 4  # type: ignore[misc]
    fake = FakeWings(config=config, read_limit=1000)
    assert (fake.config.max_sockets, fake.config.read_limit, fake.server_id) == (3, 1000, "srv1")
    for bad, match in [
        ({"max_sockets": 0}, "max_sockets"),
        ({"read_limit": True}, "read_limit"),
        ({"panel_rate_limit": 0}, "panel_rate_limit"),
        ({"permissions": "*"}, "string"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            FakeWings(**bad)
