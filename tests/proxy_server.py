"""A real proxy server (pproxy) for the proxy tests, in its own process.

``python proxy_server.py URI``: URI is pproxy's listen URI with port 0, e.g.
``http://127.0.0.1:0``, ``socks5://127.0.0.1:0#user:pass`` (credentials after ``#``),
``http+ssl://127.0.0.1:0`` with ``--cert PEM`` (key and certificate chain in one file).
Prints the port it listens on as its first line, then serves until stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

import pproxy


async def main() -> None:
    server = pproxy.Server(sys.argv[1])
    if "--cert" in sys.argv:
        pem = sys.argv[sys.argv.index("--cert") + 1]
        for context in pproxy.server.sslcontexts:
            context.load_cert_chain(pem)
    listening = await server.start_server({"rserver": [], "verbose": lambda *args: None})
    print(listening.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    listening.close()


if __name__ == "__main__":
    asyncio.run(main())
