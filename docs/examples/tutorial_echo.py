"""Tutorial, part 1: send a message to an echo server and read the answer."""

from __future__ import annotations

import trio
import trio_websocket

import trio_pterows as pw


async def echo(request: trio_websocket.WebSocketRequest) -> None:
    """The server: accept the connection and send every message back."""
    conn = await request.accept()
    try:
        while True:
            await conn.send_message(await conn.get_message())
    except trio_websocket.ConnectionClosed:
        pass


async def client(url: str) -> None:
    async with pw.open_websocket(url) as ws:
        print("state:", ws.state)
        await ws.send("hello")
        print("received:", await ws.receive())
    print("state after the block:", ws.state)


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_websocket.serve_websocket, echo, "127.0.0.1", 0, None)
        await client(f"ws://127.0.0.1:{server.port}/")
        nursery.cancel_scope.cancel()  # stop the server


if __name__ == "__main__":
    trio.run(main)
