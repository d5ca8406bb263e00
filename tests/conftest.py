"""Shared fixtures: real loopback servers and deterministic in-memory servers."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio_websocket

from trio_pterows import AdvancedWebSocket, WSConnectionOptions
from trio_pterows.pterodactyl import open_console
from trio_pterows.testing import FakeWings, MemoryWebSocketServer

MEMORY_URL = "ws://memory.test/ws"


async def ping_echo_handler(conn: trio_websocket.WebSocketConnection) -> None:
    """Echo, but answer the text "ping" with "pong" (message-mode heartbeat)."""
    while True:
        message = await conn.get_message()
        await conn.send_message("pong" if message == "ping" else message)


async def _serve_request(request: trio_websocket.WebSocketRequest) -> None:
    conn = await request.accept()
    try:
        await ping_echo_handler(conn)
    except trio_websocket.ConnectionClosed:
        pass


@pytest.fixture
async def echo_url(nursery: trio.Nursery) -> str:
    """A real trio-websocket echo server on 127.0.0.1, port 0."""
    server = await nursery.start(
        trio_websocket.serve_websocket, _serve_request, "127.0.0.1", 0, None
    )
    return f"ws://127.0.0.1:{server.port}/echo"


@pytest.fixture
async def memory_server(nursery: trio.Nursery) -> MemoryWebSocketServer:
    """An in-memory echo server (ping → pong): deterministic under autojump_clock."""
    server = MemoryWebSocketServer(ping_echo_handler)
    await nursery.start(server.run)
    return server


@pytest.fixture
def make_ws(memory_server: MemoryWebSocketServer) -> Callable[..., AdvancedWebSocket]:
    """``make_ws(**options)``: an AdvancedWebSocket wired to ``memory_server``."""

    def make(**options: Any) -> AdvancedWebSocket:
        options.setdefault("url", MEMORY_URL)
        options.setdefault("heartbeat_interval", None)
        return AdvancedWebSocket(
            WSConnectionOptions(**options), stream_opener=memory_server.open_stream
        )

    return make


class Received(list[Any]):
    """What a test server received, in order: a list whose :meth:`wait_for` waits (no
    polling) until enough has arrived. Only ``append`` wakes waiters."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = trio.Event()

    def append(self, item: Any) -> None:
        super().append(item)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, count: int) -> None:
        """Wait until at least ``count`` items are in."""
        await self.wait_until(lambda items: len(items) >= count)

    async def wait_until(self, predicate: Callable[[list[Any]], bool]) -> None:
        while not predicate(self):
            await self._changed.wait()


def task_tree() -> set[trio.lowlevel.Task]:
    """Every task in this run (for leak checks)."""
    tasks: set[trio.lowlevel.Task] = set()

    def walk(task: trio.lowlevel.Task) -> None:
        tasks.add(task)
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child)

    walk(trio.lowlevel.current_root_task())  # type: ignore[arg-type]
    return tasks


class EventLog:
    """Records (type, time, event) of every event, for assertions."""

    def __init__(self, ws: AdvancedWebSocket, *types: str) -> None:
        self.items: list[tuple[str, float, Any]] = []
        self._changed = trio.Event()
        for type_ in types:
            ws.add_event_listener(type_, self._make(type_))

    def _make(self, type_: str) -> Callable[[Any], None]:
        def record(event: Any) -> None:
            self.items.append((type_, trio.current_time(), event))
            self._changed.set()
            self._changed = trio.Event()

        return record

    async def wait_for(self, type_: str, count: int = 1) -> list[Any]:
        """Wait (no polling) until ``count`` events of ``type_`` were recorded."""
        while len(self.of(type_)) < count:
            await self._changed.wait()
        return self.of(type_)

    def of(self, type_: str) -> list[Any]:
        return [e for t, _, e in self.items if t == type_]

    def times(self, type_: str) -> list[float]:
        return [at for t, at, _ in self.items if t == type_]

    def types(self) -> list[str]:
        return [t for t, _, _ in self.items]


@contextlib.asynccontextmanager
async def line_server(*argv: str) -> AsyncIterator[str]:
    """Run ``python *argv`` as a server; yield the first line it prints (its port).

    The server must print that line once it listens and stop when its stdin closes;
    readiness is that line, never a sleep.
    """
    process = await trio.lowlevel.open_process(
        [sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        with trio.fail_after(20):
            line = b""
            while not line.endswith(b"\n"):
                chunk = await process.stdout.receive_some(64)
                assert chunk, f"the server {argv} exited early"
                line += chunk
        yield line.decode().strip()
    finally:
        await process.stdin.aclose()
        with trio.move_on_after(5):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()


WEBSOCKETS_SERVER = str(Path(__file__).with_name("websockets_server.py"))
PROXY_SERVER = str(Path(__file__).with_name("proxy_server.py"))


@pytest.fixture
async def websockets_server() -> AsyncIterator[int]:
    """A `websockets` (asyncio) echo server in a subprocess, deflate accepted; its port."""
    async with line_server(WEBSOCKETS_SERVER) as port:
        yield int(port)


@pytest.fixture
async def websockets_server_no_deflate() -> AsyncIterator[int]:
    """The same server refusing permessage-deflate; its port."""
    async with line_server(WEBSOCKETS_SERVER, "--no-compression") as port:
        yield int(port)


class SeamRecorder:
    """A transport handler (the manager's side of the seam) that records everything."""

    def __init__(self) -> None:
        self.messages: list[str | bytes] = []
        self.pongs: list[bytes] = []
        self.ends: list[Any] = []
        self.interrupted = 0
        self._changed = trio.Event()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def on_message(self, data: str | bytes) -> None:
        self.messages.append(data)
        self._wake()

    def on_pong(self, payload: bytes) -> None:
        self.pongs.append(payload)
        self._wake()

    def on_write_interrupted(self, conn: Any) -> None:
        self.interrupted += 1
        self._wake()

    def on_end(self, conn: Any) -> None:
        self.ends.append(conn.close_info)
        self._wake()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait (on events, no polling) until ``predicate()`` holds."""
        while not predicate():
            await self._changed.wait()


def seam_params(**changes: Any) -> Any:
    """HandshakeParams for driving a transport directly."""
    from trio_pterows.transports._base import HandshakeParams

    values: dict[str, Any] = {
        "host_header": "127.0.0.1",
        "resource": "/echo",
        "subprotocols": None,
        "headers": (),
        "max_message_size": 1 << 20,
        "receive_buffer_size": 64 * 1024,
        "close_timeout": 2.0,
    }
    values.update(changes)
    return HandshakeParams(**values)


# -- one suite, two transports ----------------------------------------------------------

#: Modules that never open a managed connection, or test one engine's own internals:
#: they run once, on the default transport, whatever --transport says.
_ONE_TRANSPORT_MODULES = frozenset(
    {
        "test_backoff",
        "test_codec_events",
        "test_options",
        "test_queue_model",
        "test_wings_protocol",
        "test_public_api",
        "test_cli",  # its clients run in subprocesses, with their own options
        "test_cli_units",
        "test_transport_trio_websocket",  # trio-websocket's internals
        "test_retry",
        "test_state",
        "test_util",
        "test_event_names",
        "test_kwargs",
        "test_typing",
        "test_transport_websockets",  # the websockets engine, through the seam
        "test_proxy",
    }
)
TRANSPORTS = ("trio-websocket", "websockets")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--transport",
        choices=(*TRANSPORTS, "both"),
        default=os.environ.get("PTEROWS_TEST_TRANSPORT", "trio-websocket"),
        help="the transport the suites run on: one of them, or both (each test twice); "
        "default from PTEROWS_TEST_TRANSPORT, else trio-websocket",
    )


def _applies(module: Any) -> bool:
    return module.__name__.rsplit(".", 1)[-1] not in _ONE_TRANSPORT_MODULES


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.config.getoption("--transport") == "both" and _applies(metafunc.module):
        metafunc.parametrize("transport", TRANSPORTS, indirect=True)


@pytest.fixture(autouse=True)
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The transport this test runs on (``--transport``): it becomes the default of
    ``WSConnectionOptions(transport=...)`` for the test, so every connection the test
    opens without naming a transport uses it."""
    chosen = getattr(request, "param", None) or request.config.getoption("--transport")
    if chosen == "both" or not _applies(request.module):
        chosen = "trio-websocket"
    if chosen != "trio-websocket":
        defaults = WSConnectionOptions.__init__.__kwdefaults__
        if "transport" not in defaults:
            pytest.skip("this tree has no transport option yet")
        monkeypatch.setitem(defaults, "transport", chosen)
    return str(chosen)


# --------------------------------------------------------------------------- Pterodactyl

#: FakeWings settings for console tests with token lifetimes worth waiting for.
TIMED_FAKE = {
    "stats_interval": None,
    "token_lifetime": 120.0,
    "expiring_window": 30.0,
    "check_interval": 10.0,
    "initial_status": "running",
}


@pytest.fixture
def fake_options() -> dict[str, Any]:
    """FakeWings keyword arguments for ``fake``; a module overrides this fixture."""
    return {"stats_interval": None, "power_delay": 0.05}


@pytest.fixture
def console_over_tcp() -> bool:
    """Whether ``console_for`` connects over loopback TCP (else memory streams, for
    autojump_clock); a module overrides this fixture."""
    return False


@pytest.fixture
async def fake(nursery: trio.Nursery, fake_options: dict[str, Any]) -> FakeWings:
    """A served FakeWings (node on loopback, panel as an httpx transport)."""
    wings = FakeWings(**fake_options)
    await nursery.start(wings.serve)
    return wings


@pytest.fixture
async def panel(fake: FakeWings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client whose requests the fake panel answers."""
    async with httpx.AsyncClient(transport=fake.panel_transport()) as client:
        yield client


@pytest.fixture
def console_for(
    fake: FakeWings, panel: httpx.AsyncClient, console_over_tcp: bool
) -> Callable[..., open_console]:
    """``console_for(**options)``: an ``open_console`` against ``fake`` through ``panel``."""

    def make(**options: Any) -> open_console:
        if not console_over_tcp:
            options.setdefault("stream_opener", fake.open_stream)
            options.setdefault("heartbeat_interval", None)
        return open_console(
            fake.panel_url, fake.api_key, fake.server_id, http_client=panel, **options
        )

    return make


async def next_of(console: Any, kind: type) -> Any:
    """The next event of ``kind`` from a console (or group)."""
    async for event in console:
        if isinstance(event, kind):
            return event
    raise AssertionError(f"the stream ended before a {kind.__name__}")


@asynccontextmanager
async def client(
    nursery: trio.Nursery, port: int, path: str = "/"
) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """A raw trio-websocket client whose socket is always closed on exit.

    Shared by the tests of ``trio_pterows.testing``'s servers.
    (trio-websocket 0.12's own helpers leave it open when the server closes first.)
    The reader task runs in ``nursery``.
    """
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        connection = await trio_websocket.wrap_client_stream(nursery, stream, "127.0.0.1", path)
        try:
            yield connection
        finally:
            with trio.move_on_after(1):
                await connection.aclose()
    finally:
        await trio.aclose_forcefully(stream)
