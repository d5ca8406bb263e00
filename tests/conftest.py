"""Shared fixtures: real loopback servers and deterministic in-memory servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
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
