"""Cancellation injected at every checkpoint of the public async methods.

For n = 0, 1, 2, ... the operation runs while a sibling yields n times and then
cancels it, until n is large enough that the operation completes. After each run:
no task leaked, the state is consistent, nothing that send() accepted was lost or
doubled, and the manager still works.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer

from .conftest import MEMORY_URL, Received, task_tree


#: Classes whose methods run as the manager's tasks.
def _client_side(task: trio.lowlevel.Task) -> bool:
    """A task of the client library (not of its test servers in trio_pterows.testing)."""
    module = str(getattr(task.coro, "cr_frame", None) and task.coro.cr_frame.f_globals["__name__"])
    return module.startswith("trio_pterows.") and not module.startswith("trio_pterows.testing")


OPERATIONS: dict[str, Callable[[pw.AdvancedWebSocket], Awaitable[Any]]] = {
    "connect": lambda ws: ws.connect(),
    "send": lambda ws: ws.send("op"),
    "send_and_wait_response": lambda ws: ws.send_and_wait_response("op", lambda m: m == "op"),
    "manual_reconnect": lambda ws: ws.manual_reconnect(),
    "close": lambda ws: ws.close(),
    "aclose": lambda ws: ws.aclose(),
}


async def _authenticate(ws: pw.AdvancedWebSocket) -> None:
    """An on_connect hook that does I/O, like the Pterodactyl console's auth."""
    await ws.send_and_wait_response("auth", lambda m: m == "auth", timeout=5)


@pytest.mark.parametrize("hook", [None, _authenticate], ids=["plain", "on_connect"])
@pytest.mark.parametrize("name", OPERATIONS)
async def test_cancel_at_every_checkpoint(
    name: str, hook: Callable[[pw.AdvancedWebSocket], Awaitable[None]] | None, nursery: trio.Nursery
) -> None:
    received = Received()

    async def record_and_echo(conn: trio_websocket.WebSocketConnection) -> None:
        while True:
            message = await conn.get_message()
            received.append(message)
            await conn.send_message(message)

    server = MemoryWebSocketServer(record_and_echo)
    await nursery.start(server.run)
    operation = OPERATIONS[name]
    baseline = task_tree()
    completed_at: int | None = None
    with trio.fail_after(60):
        for n in range(500):
            received.clear()
            completed = False
            async with pw.AdvancedWebSocket(
                url=MEMORY_URL,
                queue_messages=True,
                auto_reconnect=True,
                reconnect_interval=0.0,
                heartbeat_interval=None,
                on_connect=hook,
                stream_opener=server.open_stream,
            ) as ws:
                if name != "connect":
                    await ws.connect()
                await ws.send("pre")
                async with trio.open_nursery() as inner:
                    scope = trio.CancelScope()

                    async def run(scope: trio.CancelScope = scope) -> None:
                        nonlocal completed
                        with scope:
                            await operation(ws)
                            completed = True

                    inner.start_soon(run)
                    for _ in range(n):
                        await trio.lowlevel.checkpoint()
                    scope.cancel()
                # consistent state
                assert ws.state in set(pw.ConnectionState)
                assert ws.is_connected == (ws.state is pw.ConnectionState.OPEN)
                # A cancelled connect cycle may still be winding down; once it has
                # ended, no half-set-up connection may be left behind.
                if ws.statistics().supervisor == "stopping":
                    await ws.wait_state(pw.ConnectionState.CLOSED)
                    await trio.testing.wait_all_tasks_blocked()
                stats = ws.statistics()
                if stats.supervisor == "idle":
                    assert stats.connection is None, f"a half-set-up connection kept at step {n}"
                    assert ws.state is pw.ConnectionState.CLOSED
                if name != "aclose":
                    # still usable, and nothing accepted was lost or doubled
                    await ws.connect()
                    await ws.send("post")
                    await received.wait_until(lambda items: "post" in items)
                    assert received.count("pre") == 1
                    assert received.count("post") == 1
                    assert received.count("op") <= 1
                    assert received.index("pre") < received.index("post")
                    if completed and name in ("send", "send_and_wait_response"):
                        assert received.count("op") == 1
                else:
                    with pytest.raises(pw.Destroyed):
                        await ws.send("post")
            # The library's tasks are gone the moment the block exits...
            library = [t for t in task_tree() - baseline if _client_side(t)]
            assert library == [], f"task leaked after cancelling {name} at step {n}"
            # ...and the test server's side of the connection ends once it sees EOF.
            await trio.testing.wait_all_tasks_blocked()
            assert task_tree() == baseline, f"server task left after {name} at step {n}"
            if completed:
                completed_at = n
                break
    assert completed_at is not None
