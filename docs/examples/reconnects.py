"""How-to: reconnects. The server is down, comes back, then closes for good."""

from __future__ import annotations

import trio

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer, echo_handler


def print_retries(ws: pw.AdvancedWebSocket) -> None:
    ws.add_event_listener(
        "reconnectAttempt", lambda e: print(f"retry {e.attempt}: wait {e.delay}s")
    )
    ws.add_event_listener("reconnect", lambda e: print(f"retry {e.attempt}: connecting"))
    ws.add_event_listener("reconnectSuccess", lambda e: print(f"retry {e.attempt}: connected"))
    ws.add_event_listener("close", lambda e: print(f"closed: {e.code} {e.reason!r}"))


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = MemoryWebSocketServer(echo_handler)
        await nursery.start(server.run)
        server.refuse = 0  # the server is down: every connection attempt is refused

        def before_retry(attempt: int, close_event: pw.CloseEvent | None) -> bool:
            print(f"before retry {attempt}")
            if attempt == 3:
                server.refuse = None  # the server is back
            return True  # False would stop reconnecting

        options = pw.WSConnectionOptions(
            url="ws://memory/feed",
            auto_reconnect=True,
            reconnect_strategy="exponential",
            reconnect_interval=0.1,
            max_reconnect_interval=1.0,
            max_reconnect_attempts=5,
            on_before_reconnect=before_retry,
            fatal_close_codes={4000},
            heartbeat_interval=None,
        )
        async with pw.AdvancedWebSocket(options, stream_opener=server.open_stream) as ws:
            print_retries(ws)
            await ws.connect()  # retries of the first connect count too
            print("state:", ws.state)

            await server.close_all(4000, "account suspended")  # a fatal close code
            try:
                async for message in ws:  # no reconnect after a fatal close: raises it
                    print("message:", message)
            except pw.ConnectionLost as lost:
                print(f"lost for good: {lost.code} {lost.reason} (fatal={lost.fatal})")
            print("state:", ws.state)

        # Down for good: connect() gives up after max_reconnect_attempts retries.
        server.refuse = 0
        try:
            async with pw.open_websocket(
                "ws://memory/feed",
                stream_opener=server.open_stream,
                auto_reconnect=True,
                reconnect_interval=0.1,
                max_reconnect_attempts=2,
            ):
                pass
        except pw.ConnectionFailed as exc:
            print(f"gave up after {len(exc.attempts)} attempts:")
            for url, error in exc.attempts:
                print(f"  {url}: {type(error).__name__}")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
