"""An independent peer: a `websockets` (asyncio) echo server in its own process.

Prints its port on the first line of stdout, then serves until stdin closes.
Text "ping" is answered with "pong"; the path /close/<code> closes at once with it.
"""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import ServerConnection, serve


async def handler(conn: ServerConnection) -> None:
    path = conn.request.path if conn.request else "/"
    if path.startswith("/close/"):
        await conn.close(int(path.rsplit("/", 1)[1]), "scripted close")
        return
    async for message in conn:
        await conn.send("pong" if message == "ping" else message)


async def main() -> None:
    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
