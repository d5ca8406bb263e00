"""How-to: authenticate on every connection with on_connect, ahead of the queue."""

from __future__ import annotations

import trio
import trio_websocket

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer

seen_by_server: list[str] = []


async def auth_server(conn: trio_websocket.WebSocketConnection) -> None:
    """Require "auth <token>" first; then record every message."""
    if await conn.get_message() != "auth s3cret":
        await conn.aclose(4001, "unauthorized")
        return
    seen_by_server.append("auth")
    await conn.send_message("auth ok")
    while True:
        seen_by_server.append(await conn.get_message())


async def authenticate(ws: pw.AdvancedWebSocket) -> None:
    """Runs on every new connection before queued messages and before "open"."""
    await ws.send_and_wait_response("auth s3cret", lambda m: m == "auth ok", timeout=5)


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = MemoryWebSocketServer(auth_server)
        await nursery.start(server.run)

        async with pw.AdvancedWebSocket(
            url="ws://memory/",
            stream_opener=server.open_stream,
            on_connect=authenticate,
            queue_messages=True,
            auto_reconnect=True,
            heartbeat_interval=None,
        ) as ws:
            await ws.send("queued 1")  # not connected yet: both wait in the queue
            await ws.send("queued 2")
            await ws.connect()
            await ws.wait_flushed()
            await server.vanish()  # the connection is lost; a new one authenticates again
            await ws.send("after the drop")
            await ws.wait_flushed()
            await ws.close()
        print(seen_by_server)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
