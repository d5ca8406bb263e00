"""Tutorial, part 1: JSON messages, events, a request and its reply, metrics."""

from __future__ import annotations

import json

import trio
import trio_websocket

import trio_pterows as pw


async def json_server(request: trio_websocket.WebSocketRequest) -> None:
    """Greet the client, then answer {"action": "ping", "id": n} with a pong."""
    conn = await request.accept()
    try:
        await conn.send_message(json.dumps({"event": "welcome"}))
        while True:
            message = json.loads(await conn.get_message())
            if message.get("action") == "ping":
                await conn.send_message(json.dumps({"action": "pong", "id": message["id"]}))
    except trio_websocket.ConnectionClosed:
        pass


async def client(url: str) -> None:
    async with pw.AdvancedWebSocket(url=url, auto_json=True) as ws:
        ws.add_event_listener("open", lambda event: print("event:", event.type))
        ws.add_event_listener("close", lambda event: print("event:", event.type, event.code))

        await ws.connect()
        print("first message:", await ws.receive())

        reply = await ws.send_and_wait_response(
            {"action": "ping", "id": 1},
            lambda message: message.get("id") == 1,
            timeout=5,
        )
        print("reply:", reply)

        metrics = ws.get_metrics()
        print("sent:", metrics.messages_sent, "received:", metrics.messages_received)
    print("state after the block:", ws.state)


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            trio_websocket.serve_websocket, json_server, "127.0.0.1", 0, None
        )
        await client(f"ws://127.0.0.1:{server.port}/")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
