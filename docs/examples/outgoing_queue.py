"""How-to: the outgoing queue. Send while disconnected; the queue flushes in order."""

from __future__ import annotations

import trio

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer, echo_handler


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = MemoryWebSocketServer(echo_handler)
        await nursery.start(server.run)

        flushed: list[str] = []
        options = pw.WSConnectionOptions(
            url="ws://memory/",
            queue_messages=True,
            message_queue_limit=3,
            message_queue_overflow="drop-oldest",
            on_after_send=flushed.append,  # runs once the frame is written
            heartbeat_interval=None,
        )
        async with pw.AdvancedWebSocket(options, stream_opener=server.open_stream) as ws:
            for i in range(5):
                await ws.send(f"message {i}")  # not connected: queued
            metrics = ws.get_metrics()
            print("queued:", metrics.queued, "dropped:", metrics.dropped)

            await ws.connect()
            await ws.wait_flushed()  # every queued message has been written
            print("written:", flushed)
            print("echoes:", [await ws.receive() for _ in range(3)])

            await ws.close()  # the queue survives close(), not aclose()
            await ws.send("later")
            print("queued after close():", ws.get_metrics().queued)
            print("cleared:", ws.clear_message_queue())

        # With the "reject" policy a full queue raises QueueFull.
        async with pw.AdvancedWebSocket(
            url="ws://memory/", queue_messages=True, message_queue_limit=1
        ) as ws:
            await ws.send("fits")
            try:
                await ws.send("does not fit")
            except pw.QueueFull as exc:
                print("QueueFull:", exc)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
