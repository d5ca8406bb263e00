"""The fault suite over real loopback sockets: TestServer, ChaosProxy, trio's resolver.

Each test injects one fault into a live AdvancedWebSocket and checks what the user
sees: the close event, the reconnect, the queue, the error. Real sockets do not mix
with autojump_clock, so nothing here sleeps a fixed time and checks a duration: the
tests wait for events, and every wait is bounded with ``trio.fail_after``.

Deterministic versions of the timing-sensitive faults (slow handshake, half-open
link, oversized message, cancellation at every checkpoint) run over in-memory
streams in test_cycle.py, test_heartbeat.py, test_receive.py and
test_cancellation.py.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection

import trio_pterows as pw
from trio_pterows.testing import ChaosProxy, MemoryWebSocketServer, TestServer

from .conftest import EventLog


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    # A leaked socket warns when collected: make that happen in the test that leaked it.
    yield
    gc.collect()


@pytest.fixture
async def server(nursery: trio.Nursery) -> TestServer:
    """An echo TestServer (text "ping" answered with "pong") on 127.0.0.1."""
    echo = TestServer()
    await nursery.start(echo.serve)
    return echo


@pytest.fixture
async def proxy(nursery: trio.Nursery, server: TestServer) -> ChaosProxy:
    """A ChaosProxy in front of ``server``."""
    chaos = ChaosProxy("127.0.0.1", server.port)
    await nursery.start(chaos.serve)
    return chaos


def options(url: str, **changes: Any) -> pw.WSConnectionOptions:
    """Fault-test defaults: reconnect fast, no heartbeat unless asked, queue on."""
    base: dict[str, Any] = {
        "url": url,
        "auto_reconnect": True,
        "reconnect_strategy": "fixed",
        "reconnect_interval": 0.02,
        "max_reconnect_attempts": None,
        "connection_timeout": 2.0,
        "heartbeat_interval": None,
        "queue_messages": True,
    }
    base.update(changes)
    return pw.WSConnectionOptions(**base)


@asynccontextmanager
async def next_event(ws: pw.AdvancedWebSocket, type_: str) -> AsyncIterator[list[Any]]:
    """``async with next_event(ws, "close") as got:`` — on exit, ``got[0]`` is the first
    ``type_`` event emitted inside the block or after it (waits for it)."""
    got: list[Any] = []
    async with ws.subscribe(type_) as events:
        yield got
        got.append(await events.receive())


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, and the leaves of exception groups among them."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(getattr(current, "exceptions", ()))
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def closed_port() -> int:
    """A loopback port that was just bound and closed: nothing listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------- lost peers


async def test_peer_vanishes_then_queued_messages_are_delivered_after_reconnect(
    server: TestServer, proxy: ChaosProxy
) -> None:
    gate = trio.Event()

    async def hold_the_retry(attempt: int, close_event: pw.CloseEvent | None) -> bool:
        await gate.wait()  # keeps the manager disconnected while the test queues
        return True

    with trio.fail_after(10):
        async with pw.AdvancedWebSocket(
            options(proxy.url, on_before_reconnect=hold_the_retry)
        ) as ws:
            log = EventLog(ws, "close", "reconnectAttempt", "reconnectSuccess")
            await ws.connect()
            await ws.send("before")
            await server.wait_received(1)
            async with next_event(ws, "close") as closed:
                assert proxy.drop() == 1
            assert (closed[0].code, closed[0].was_clean) == (1006, False)
            assert ws.state is pw.ConnectionState.RECONNECTING
            assert not ws.is_connected
            for i in range(3):
                await ws.send(f"queued-{i}")
            assert ws.get_metrics().queued == 3
            async with next_event(ws, "reconnectSuccess") as success:
                gate.set()
            await ws.wait_flushed()
            await server.wait_received(4)
            assert ws.is_connected
    assert success[0].attempt == 1
    assert list(server.received) == ["before", "queued-0", "queued-1", "queued-2"]
    assert [e.attempt for e in log.of("reconnectAttempt")] == [1]
    assert server.accepted == 2


@pytest.mark.parametrize("code", [None, 1012])
async def test_server_restart_on_the_same_port(server: TestServer, code: int | None) -> None:
    with trio.fail_after(10):
        async with pw.AdvancedWebSocket(options(server.url)) as ws:
            await ws.connect()
            await ws.send("a")
            assert await ws.receive() == "a"
            async with next_event(ws, "close") as closed, next_event(ws, "open") as opened:
                # Down long enough that some retries meet a closed port.
                await server.restart(code=code, downtime=0.1)
            await ws.send("b")
            assert await ws.receive() == "b"
    assert closed[0].code == (1006 if code is None else code)
    assert opened[0].url == server.url
    assert server.restarts == 1
    assert server.accepted == 2
    assert list(server.received) == ["a", "b"]


async def test_half_open_link_is_detected_by_the_heartbeat_and_reconnected(
    server: TestServer, proxy: ChaosProxy
) -> None:
    # Real intervals, kept small: a ping every 0.2 s, dead after 0.3 s of silence.
    with trio.fail_after(15):
        async with pw.AdvancedWebSocket(
            options(
                proxy.url, heartbeat_interval=0.2, heartbeat_timeout=0.3, connection_timeout=1.0
            )
        ) as ws:
            await ws.connect()
            async with next_event(ws, "close") as closed:
                proxy.blackhole()  # both sockets stay open; nothing flows either way
            assert closed[0].code == 1006
            assert "heartbeat timeout" in closed[0].reason
            assert not ws.is_connected
            await ws.send("while-down")  # queued: the link is known dead
            assert ws.get_metrics().queued == 1
            async with next_event(ws, "open"):
                proxy.restore()
            await ws.wait_flushed()
            while "while-down" not in server.received:  # the old link's pings come first
                await server.wait_received(server.received_total + 1)
            await ws.send("after")
            while (message := await ws.receive()) != "after":
                assert message == "while-down"
            assert ws.is_connected


async def test_refused_then_accepted_again_resumes(server: TestServer, proxy: ChaosProxy) -> None:
    with trio.fail_after(10):
        async with pw.AdvancedWebSocket(options(proxy.url)) as ws:
            await ws.connect()
            async with ws.subscribe("error") as errors:
                proxy.refuse()
                proxy.drop()  # the live connection goes; new ones are refused
                # Wait for a retry that met the closed port.
                async for event in errors:
                    if event.context == "connect" and any(
                        isinstance(e, ConnectionRefusedError) for e in causes(event.error)
                    ):
                        break
            await ws.send("queued")
            assert not ws.is_connected
            async with next_event(ws, "reconnectSuccess") as success:
                proxy.accept_again()
            await ws.wait_flushed()
            await server.wait_received(1)
    assert success[0].attempt >= 2
    assert list(server.received) == ["queued"]


async def test_partial_frame_then_close_delivers_no_half_message(
    server: TestServer, proxy: ChaosProxy
) -> None:
    big = "x" * 200_000  # the echo spans several proxy chunks: the cut lands inside it
    with trio.fail_after(10):
        async with pw.AdvancedWebSocket(options(proxy.url)) as ws:
            await ws.connect()
            await ws.send("a")
            assert await ws.receive() == "a"
            assert proxy.cut_mid_frame() == 1
            async with next_event(ws, "close") as closed, next_event(ws, "open"):
                await ws.send(big)  # the server gets it; its echo is cut
            await ws.send("after")
            assert await ws.receive() == "after"  # nothing in between, no half message
            assert ws.get_metrics().messages_received == 2
    assert (closed[0].code, closed[0].was_clean) == (1006, False)
    assert proxy.connections_cut == 1
    assert list(server.received) == ["a", big, "after"]


# ----------------------------------------------------------- failing to connect


async def test_refused_port_fails_with_connection_refused() -> None:
    port = closed_port()
    url = f"ws://127.0.0.1:{port}/refused"
    with trio.fail_after(10):
        async with pw.AdvancedWebSocket(options(url, auto_reconnect=False)) as ws:
            log = EventLog(ws, "reconnectAttempt")
            with pytest.raises(pw.ConnectionFailed) as info:
                await ws.connect()
            assert ws.state is pw.ConnectionState.CLOSED
    ((attempt_url, error),) = info.value.attempts
    assert attempt_url == url
    assert isinstance(error, OSError)
    # trio reports a failed connect as "all attempts to connect to HOST:PORT failed",
    # with the per-address errors (here one ECONNREFUSED) in an exception group as
    # its cause; the refusal is there, one level down.
    refusals = [e for e in causes(error) if isinstance(e, ConnectionRefusedError)]
    assert refusals
    assert url in str(info.value)
    assert log.of("reconnectAttempt") == []


async def test_refused_port_is_retried_with_auto_reconnect() -> None:
    # A refused port may come back: not fatal, every allowed retry is made.
    url = f"ws://127.0.0.1:{closed_port()}/"
    with trio.fail_after(10):
        async with pw.AdvancedWebSocket(options(url, max_reconnect_attempts=2)) as ws:
            log = EventLog(ws, "reconnectAttempt")
            with pytest.raises(pw.ConnectionFailed, match="gave up after 2 retries") as info:
                await ws.connect()
    assert len(info.value.attempts) == 3
    assert [e.attempt for e in log.of("reconnectAttempt")] == [1, 2]


class _RFC6761Resolver(trio.abc.HostnameResolver):
    """Answers like a resolver that follows RFC 6761 §6.4: every name under
    ``.invalid`` is NXDOMAIN, locally. Any other lookup fails the test."""

    def __init__(self) -> None:
        self.lookups: list[str] = []

    async def getaddrinfo(
        self,
        host: bytes | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> Any:
        name = host.decode("ascii") if isinstance(host, bytes) else str(host)
        self.lookups.append(name)
        await trio.lowlevel.checkpoint()
        if name.rstrip(".").lower().endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        raise AssertionError(f"unexpected lookup of {name!r}: this test must stay offline")

    async def getnameinfo(self, sockaddr: tuple[Any, ...], flags: int) -> tuple[str, str]:
        raise NotImplementedError


async def test_unresolvable_host_fails_with_a_clear_error() -> None:
    resolver = _RFC6761Resolver()
    previous = trio.socket.set_custom_hostname_resolver(resolver)
    try:
        with trio.fail_after(10):
            async with pw.AdvancedWebSocket(
                options("ws://nonexistent.invalid/", auto_reconnect=False)
            ) as ws:
                with pytest.raises(pw.ConnectionFailed) as info:
                    await ws.connect()
    finally:
        trio.socket.set_custom_hostname_resolver(previous)
    assert resolver.lookups == ["nonexistent.invalid"]
    ((url, error),) = info.value.attempts
    assert url == "ws://nonexistent.invalid/"
    assert isinstance(error, socket.gaierror)
    assert isinstance(error, OSError)
    assert error.errno == socket.EAI_NONAME
    assert "ws://nonexistent.invalid/: gaierror: " in str(info.value)


def _why_system_resolution_needs_the_network() -> str | None:
    """None when this machine's resolver fails ``*.invalid`` without asking a DNS server."""
    if os.environ.get("PTEROWS_TEST_SYSTEM_RESOLVER") == "1":
        return None
    if not sys.platform.startswith("linux"):
        return f"cannot tell whether the resolver on {sys.platform} sends .invalid to DNS"
    try:
        with open("/etc/nsswitch.conf") as conf:
            lines = [line.split("#", 1)[0].split() for line in conf]
    except OSError:
        return "no /etc/nsswitch.conf: glibc would fall back to DNS"
    for words in lines:
        if words and words[0] == "hosts:":
            sources = [w for w in words[1:] if not w.startswith("[")]
            network = [s for s in sources if s == "dns" or s.startswith("mdns")]
            if network:
                return (
                    f"hosts: {' '.join(words[1:])} in /etc/nsswitch.conf: glibc's {network[0]!r} "
                    "source sends a query for nonexistent.invalid to the configured name "
                    "server (RFC 6761 names are not special-cased), and this suite stays "
                    "off the network; test_unresolvable_host_fails_with_a_clear_error covers "
                    "the same path offline (PTEROWS_TEST_SYSTEM_RESOLVER=1 runs this anyway)"
                )
            return None
    return "no hosts: line in /etc/nsswitch.conf: glibc would fall back to DNS"


_SYSTEM_RESOLVER_NEEDS_NETWORK = _why_system_resolution_needs_the_network()


@pytest.mark.skipif(
    _SYSTEM_RESOLVER_NEEDS_NETWORK is not None, reason=str(_SYSTEM_RESOLVER_NEEDS_NETWORK)
)
async def test_unresolvable_host_with_the_system_resolver() -> None:
    with trio.fail_after(10):
        async with pw.AdvancedWebSocket(
            options("ws://nonexistent.invalid/", auto_reconnect=False)
        ) as ws:
            with pytest.raises(pw.ConnectionFailed) as info:
                await ws.connect()
    ((_, error),) = info.value.attempts
    assert isinstance(error, socket.gaierror)


# ------------------------------------------------------------------------ races


async def test_connect_while_the_connection_dies(
    autojump_clock: trio.testing.MockClock,
    memory_server: MemoryWebSocketServer,
    make_ws: Callable[..., pw.AdvancedWebSocket],
) -> None:
    async with make_ws() as ws:  # auto_reconnect=False
        await ws.connect()
        await memory_server.vanish()  # the reader sees EOF; the cycle has not ended yet
        await ws.connect()  # a new connection, not the end of the old cycle
        assert ws.is_connected
    assert memory_server.accepted == 2


# ----------------------------------------------------------------- slow consumer


def flooding_handler(count: int, size: int, progress: list[int]) -> Any:
    """Send ``count`` numbered messages of ``size`` bytes as fast as the client takes
    them (``progress[0]`` counts those written), then echo."""

    async def flood(server: TestServer, connection: WebSocketConnection) -> None:
        for i in range(count):
            await connection.send_message(f"{i}:".ljust(size, "."))
            progress[0] += 1
        await server.echo(connection)

    return flood


async def test_slow_consumer_with_block_applies_backpressure(nursery: trio.Nursery) -> None:
    """The backpressure rule: with ``incoming_overflow="block"``, a full incoming buffer
    (``incoming_queue_limit`` messages) stops the reader, so the socket is no longer
    read and TCP flow control stops the sender. The client then holds at most
    ``incoming_queue_limit`` messages, plus one being parsed (bounded by
    ``max_message_size``), plus the kernel's socket buffers; nothing is dropped, and
    the time the consumer holds the reader up never counts as heartbeat silence.
    """
    count, size, limit = 1500, 16 * 1024, 4  # 24 MiB: far more than socket buffers hold
    progress = [0]
    server = TestServer(flooding_handler(count, size, progress))
    await nursery.start(server.serve)
    high_water = 0
    with trio.fail_after(30):
        async with pw.AdvancedWebSocket(
            options(
                server.url,
                incoming_queue_limit=limit,
                incoming_overflow="block",
                heartbeat_interval=0.1,
                heartbeat_timeout=0.2,
            )
        ) as ws:
            log = EventLog(ws, "close", "error")

            def sample(event: object) -> None:
                nonlocal high_water
                high_water = max(high_water, ws.statistics().incoming_buffered)

            ws.add_event_listener("message", sample)  # runs as each message arrives
            await ws.connect()
            # The consumer stalls for many heartbeat periods.
            await trio.sleep(1.0)
            stalled_at = progress[0]
            assert ws.statistics().incoming_buffered == limit
            assert stalled_at < count // 2, "the server was not held back"
            assert ws.is_connected
            for i in range(count):
                message = await ws.receive()
                assert message.startswith(f"{i}:")
                sample(None)
            metrics = ws.get_metrics()
            assert ws.is_connected
    assert high_water <= limit
    assert progress[0] == count
    assert metrics.dropped == 0
    assert metrics.messages_received == count
    assert log.of("error") == []
    assert [e.code for e in log.of("close")] == [1000]  # only our own close at the end


async def test_slow_consumer_with_drop_oldest_counts_drops(nursery: trio.Nursery) -> None:
    count, limit = 300, 8
    progress = [0]
    server = TestServer(flooding_handler(count, 100, progress))
    await nursery.start(server.serve)
    arrived = trio.Event()
    with trio.fail_after(20):
        async with pw.AdvancedWebSocket(
            options(server.url, incoming_queue_limit=limit)  # drop-oldest is the default
        ) as ws:
            errors = EventLog(ws, "error")
            seen = 0

            def on_message(event: pw.MessageEvent) -> None:
                nonlocal seen
                seen += 1
                assert ws.statistics().incoming_buffered <= limit
                if seen == count:
                    arrived.set()

            ws.add_event_listener("message", on_message)
            await ws.connect()
            await arrived.wait()  # the consumer has not read anything yet
            kept = [await ws.receive() for _ in range(limit)]
            metrics = ws.get_metrics()
    assert [m.split(":")[0] for m in kept] == [str(i) for i in range(count - limit, count)]
    assert metrics.dropped == count - limit
    assert metrics.messages_received == count
    (error,) = errors.of("error")  # reported once per overflow episode, never silently
    assert error.context == "incoming_overflow"
