"""Tutorial, part 1: the server goes away after every message; the client carries on."""

from __future__ import annotations

import trio
import trio_websocket

import trio_pterows as pw


async def echo_once(request: trio_websocket.WebSocketRequest) -> None:
    """Echo one message, then close as a restarting server does (code 1012)."""
    conn = await request.accept()
    try:
        await conn.send_message(await conn.get_message())
        await conn.aclose(1012, "restarting")
    except trio_websocket.ConnectionClosed:
        pass


def describe(event: pw.Event) -> str:
    if isinstance(event, pw.CloseEvent):
        return f"close: {event.code} {event.reason!r}"
    if isinstance(event, pw.ReconnectAttemptEvent):
        return f"retry {event.attempt} in {event.delay}s"
    if isinstance(event, pw.ReconnectSuccessEvent):
        return f"retry {event.attempt} connected"
    return event.type


async def client(url: str) -> None:
    options = pw.WSConnectionOptions(
        url=url,
        auto_reconnect=True,
        reconnect_interval=0.05,  # seconds; the delays grow: 0.05, 0.1, 0.2, ...
        queue_messages=True,
    )
    async with pw.AdvancedWebSocket(options) as ws:
        events = ws.subscribe("close", "reconnectAttempt", "reconnectSuccess")
        async with events:
            await ws.connect()
            for i in range(3):
                await ws.send(f"message {i}")
                print("echo:", await ws.receive())
                async for event in events:
                    print(f"  {describe(event)}")
                    if event.type == "reconnectSuccess":
                        break
        metrics = ws.get_metrics()
        print("connections:", metrics.connections, "retry counter:", metrics.reconnect_attempts)


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            trio_websocket.serve_websocket, echo_once, "127.0.0.1", 0, None
        )
        await client(f"ws://127.0.0.1:{server.port}/")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
