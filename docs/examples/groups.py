"""How-to: connection groups. Many connections, one nursery, one connect budget."""

from __future__ import annotations

import urllib.parse

import trio

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer, echo_handler


async def main() -> None:
    async with trio.open_nursery() as nursery:
        servers = {name: MemoryWebSocketServer(echo_handler) for name in ("eu", "us", "asia")}
        for server in servers.values():
            await nursery.start(server.run)
            server.handshake_delay = 0.5  # every handshake takes half a second
        servers["asia"].refuse = 503  # this one rejects every handshake

        async def open_stream(url: str) -> trio.abc.Stream:  # ws://<name>/ -> servers[name]
            return await servers[urllib.parse.urlsplit(url).hostname or ""].open_stream(url)

        members = {
            "eu": "ws://eu/feed",
            "us": pw.WSConnectionOptions(url="ws://us/feed", queue_messages=True),
            "asia": "ws://asia/feed",
        }
        seen: list[str] = []
        start = trio.current_time()
        async with pw.open_websocket_group(
            members,
            max_concurrent_connects=2,  # at most two handshakes at any moment
            stream_opener=open_stream,
            # Common options, applied to every member:
            auto_json=True,
            queue_messages=True,
            heartbeat_interval=None,
            jitter=0.0,  # no random start delay, so that this output is reproducible
        ) as group:
            for name in ("eu", "us"):
                await group[name].send({"hello": name})  # queued until connected
            async for name, message in group:
                match message:
                    case pw.MemberEnded(error=None):
                        seen.append(f"{name}: ended (closed)")
                    case pw.MemberEnded(error=error):
                        seen.append(f"{name}: ended ({type(error).__name__})")
                    case {"hello": who}:
                        seen.append(f"{name}: echoed hello to {who}")
                        await group[name].close()  # this member ends cleanly
        for line in sorted(seen):
            print(line)
        # Three half-second handshakes, two at a time: one second.
        print("done after", round(trio.current_time() - start, 1), "s")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
