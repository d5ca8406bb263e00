"""An independent peer: a `websockets` (asyncio) echo server in its own process.

Prints its port on the first line of stdout, then serves until stdin closes.
Text "ping" is answered with "pong"; the path /close/<code> closes at once with it.
``--no-compression`` refuses permessage-deflate (websockets offers to accept it by
default); ``--max-size N`` limits incoming messages.
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
    compression = None if "--no-compression" in sys.argv else "deflate"
    max_size = None
    if "--max-size" in sys.argv:
        max_size = int(sys.argv[sys.argv.index("--max-size") + 1])
    async with serve(handler, "127.0.0.1", 0, max_size=max_size, compression=compression) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
