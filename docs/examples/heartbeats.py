"""How-to: heartbeats. A link goes half-open; the heartbeat notices and reconnects."""

from __future__ import annotations

import trio

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer, echo_handler


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = MemoryWebSocketServer(echo_handler)  # knows nothing of "ping"/"pong"
        await nursery.start(server.run)

        options = pw.WSConnectionOptions(
            url="ws://memory/",
            heartbeat_mode="protocol",  # RFC 6455 ping frames: any server answers them
            heartbeat_interval=0.5,  # a ping every 0.5 s ...
            heartbeat_timeout=0.5,  # ... and 0.5 s of silence after it is fatal
            auto_reconnect=True,
            reconnect_interval=0.1,
        )
        async with (
            pw.AdvancedWebSocket(options, stream_opener=server.open_stream) as ws,
            ws.subscribe("pong", "close", "open") as events,
        ):
            await ws.connect()
            async for event in events:
                if event.type == "pong" and ws.get_metrics().latency.count == 2:
                    print("two pongs: the link is alive")
                    server.blackholed = True  # bytes vanish; no close frame, no error
                elif event.type == "close":
                    print(f"close: {event.code} {event.reason!r} clean={event.was_clean}")
                    server.blackholed = False
                elif event.type == "open" and ws.get_metrics().connections == 2:
                    print("open: reconnected")
                    break
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
