"""How-to: many connections. One task per connection, one channel for all messages."""

from __future__ import annotations

import trio

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer, echo_handler

#: Shared settings; each connection gets its own URL with ``evolve``.
TEMPLATE = pw.WSConnectionOptions(
    url="ws://memory/",
    auto_reconnect=True,
    reconnect_strategy="exponential-jitter",  # spreads reconnects after an outage
    heartbeat_mode="protocol",
    incoming_queue_limit=64,  # per connection: many connections, small buffers
)


async def run_feed(
    index: int,
    server: MemoryWebSocketServer,
    out: trio.MemorySendChannel[tuple[int, str]],
) -> None:
    options = TEMPLATE.evolve(url=f"ws://memory/feed/{index}")
    async with out, pw.open_websocket(options=options, stream_opener=server.open_stream) as ws:
        await ws.send(f"hello from feed {index}")
        async for message in ws:
            await out.send((index, message))
            break  # one message is enough here; a real feed keeps going


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = MemoryWebSocketServer(echo_handler)
        await nursery.start(server.run)

        send, receive = trio.open_memory_channel[tuple[int, str]](100)
        async with trio.open_nursery() as feeds, receive:
            async with send:
                for index in range(50):
                    feeds.start_soon(run_feed, index, server, send.clone())
            messages = [message async for message in receive]  # ends when every clone closed

        print("messages:", len(messages))
        print("first three:", sorted(messages)[:3])
        print("connections accepted:", server.accepted)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
