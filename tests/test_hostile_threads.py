"""Calls from another trio run (a worker thread) must not touch the owner's connection.

DESIGN §2 (revision 2): the manager belongs to the trio run (and thread) that entered
it; any method called from another run or thread raises RuntimeError and leaves the
connection untouched. Over loopback TCP (untimed): the hostile peer records every frame
the client sends, so a stray write from the other run shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

import trio_pterows as pw

from .hostile import CLOSE, TEXT, HostileServer, Peer, leaked_tasks, task_tree

OPERATIONS: dict[str, Callable[[pw.AdvancedWebSocket], Awaitable[Any]]] = {
    "send": lambda ws: ws.send("from another run"),
    "connect": lambda ws: ws.connect(),
    "manual_reconnect": lambda ws: ws.manual_reconnect(),
    "close": lambda ws: ws.close(4000, "from another run"),
}


def call_in_another_run(ws: pw.AdvancedWebSocket, name: str) -> BaseException | None:
    """Runs in a worker thread: a fresh ``trio.run`` that calls ``ws.<name>``."""

    async def other() -> None:
        with trio.fail_after(5):
            await OPERATIONS[name](ws)

    try:
        trio.run(other)
    except BaseException as exc:  # the test inspects whatever it was
        return exc
    return None


@pytest.mark.parametrize("name", OPERATIONS)
async def test_a_call_from_another_run_raises_and_leaves_the_owner_alone(
    name: str, nursery: trio.Nursery
) -> None:
    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.accept()
        await peer.close_when_asked()

    server = HostileServer(script)
    port = await nursery.start(server.serve_tcp)
    baseline = task_tree()
    with trio.fail_after(20):
        async with pw.open_websocket(f"ws://127.0.0.1:{port}/", heartbeat_interval=None) as ws:
            error = await trio.to_thread.run_sync(call_in_another_run, ws, name)
            assert isinstance(error, RuntimeError), repr(error)
            assert ws.is_connected
            await ws.send("owner")
            peer = server.peers[0]
            assert (await peer.wait_frame(TEXT)).payload == b"owner"
            assert [f.opcode for f in peer.frames] == [TEXT]  # nothing else was written
        assert (await peer.wait_frame(CLOSE)).close_code == 1000
    assert len(server.peers) == 1
    assert leaked_tasks(baseline) == []


async def test_a_sync_method_from_another_thread_raises(nursery: trio.Nursery) -> None:
    """Not only coroutines: send_nowait / dispatch from a thread are refused too."""

    async def script(peer: Peer) -> None:
        await peer.read_request()
        await peer.accept()
        await peer.close_when_asked()

    server = HostileServer(script)
    port = await nursery.start(server.serve_tcp)
    with trio.fail_after(20):
        async with pw.open_websocket(
            f"ws://127.0.0.1:{port}/", heartbeat_interval=None, queue_messages=True
        ) as ws:

            def from_thread() -> BaseException | None:
                try:
                    ws.clear_message_queue()
                except BaseException as exc:
                    return exc
                return None

            error = await trio.to_thread.run_sync(from_thread)
            assert isinstance(error, RuntimeError), repr(error)
