"""Topic: delivery guarantees. Acks close the gap of frames lost with their connection."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import trio
import trio_websocket

import trio_pterows as pw
from trio_pterows.testing import AckLedger, MemoryWebSocketServer, acking_handler


def id_of(message: Any) -> Hashable | None:
    """Outgoing messages with an "id" expect an ack."""
    return message.get("id") if isinstance(message, dict) else None


def ack_of(message: Any) -> Hashable | None:
    """{"ack": <id>} acknowledges the message <id>."""
    return message.get("ack") if isinstance(message, dict) else None


async def main() -> None:
    async with trio.open_nursery() as nursery:
        ledger = AckLedger()  # the server's record of what arrived
        acking = acking_handler(ledger)

        async def handler(connection: trio_websocket.WebSocketConnection) -> None:
            if server.accepted == 1:
                await trio.sleep_forever()  # the first connection is never read
            await acking(connection)

        server = MemoryWebSocketServer(handler)
        await nursery.start(server.run)

        options = pw.WSConnectionOptions(
            url="ws://memory/",
            auto_json=True,
            auto_reconnect=True,
            queue_messages=True,
            heartbeat_interval=None,
            ack=pw.AckPolicy(id_of, ack_of, timeout=30.0, limit=1024),
        )
        async with pw.AdvancedWebSocket(options, stream_opener=server.open_stream) as ws:
            await ws.connect()
            for n in range(3):
                await ws.send({"id": n, "text": f"order {n}"})  # written, never read
            print("written:", ws.get_metrics().messages_sent, "unacked:", ws.get_metrics().unacked)

            await server.vanish()  # the connection dies, no close frame: the frames too
            await ws.send({"id": 3, "text": "order 3"})  # queued while reconnecting
            await ws.wait_acked()  # the three unacked go first, then the queue
            print("unacked after the reconnect:", ws.get_metrics().unacked)
            print("the server received:", list(ledger.ids))
            await ws.close(drain=5)  # nothing left to wait for: closes at once
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
