"""Topics: backpressure. A fast server, a slow consumer, and the two overflow policies."""

from __future__ import annotations

import trio
import trio_websocket

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer


async def flood(conn: trio_websocket.WebSocketConnection) -> None:
    """Answer "flood N" with N numbered messages, as fast as the socket takes them."""
    while True:
        count = int((await conn.get_message()).split()[1])
        for i in range(count):
            await conn.send_message(str(i))


async def slow_consumer(server: MemoryWebSocketServer, policy: str) -> None:
    async with pw.open_websocket(
        "ws://memory/",
        stream_opener=server.open_stream,
        incoming_queue_limit=4,  # room for 4 messages between the socket and receive()
        incoming_overflow=policy,
        heartbeat_interval=None,
    ) as ws:
        all_arrived = trio.Event()

        def count(event: pw.MessageEvent) -> None:
            if ws.get_metrics().messages_received == 10:
                all_arrived.set()

        ws.add_event_listener("message", count)
        ws.add_event_listener("error", lambda event: print("  error event:", event.context))

        async with ws.subscribe("message", max_buffer_size=2) as subscriber:  # never read
            await ws.send("flood 10")
            if policy == "drop-oldest":
                await all_arrived.wait()  # all ten arrived; nobody has read any yet
                received = [await ws.receive() for _ in range(4)]
            else:
                received = [await ws.receive() for _ in range(10)]
        print(f"{policy}: read {received}, dropped {ws.get_metrics().dropped}")
        print(f"  the subscriber missed {subscriber.missed} events")


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = MemoryWebSocketServer(flood)
        await nursery.start(server.run)
        await slow_consumer(server, "drop-oldest")
        await slow_consumer(server, "block")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
