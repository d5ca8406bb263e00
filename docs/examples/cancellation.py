"""Topics: cancellation and timeouts, with trio's cancel scopes."""

from __future__ import annotations

import trio

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer, echo_handler


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = MemoryWebSocketServer(echo_handler)
        await nursery.start(server.run)
        server.handshake_delay = 60  # a server that takes its time to answer

        async with pw.AdvancedWebSocket(
            url="ws://memory/", stream_opener=server.open_stream, heartbeat_interval=None
        ) as ws:
            # 1. Cancelling the connect() that started the cycle stops the cycle.
            with trio.move_on_after(1) as scope:
                await ws.connect()
            print("connect cancelled:", scope.cancelled_caught)

            # 2. connection_timeout bounds each attempt; connect() reports it.
            ws.update_options(connection_timeout=0.5)
            try:
                await ws.connect()
            except pw.ConnectionFailed as exc:
                print("ConnectionFailed:", type(exc.attempts[0][1]).__name__)

            server.handshake_delay = 0
            await ws.connect()
            print("state:", ws.state)

            # 3. receive() is safe to cancel: the message that comes later is kept.
            with trio.move_on_after(0.1):
                await ws.receive()
            await ws.send("late")
            print("received:", await ws.receive())

            # 4. send_and_wait_response() has its own timeout...
            try:
                await ws.send_and_wait_response("question", lambda m: m == "answer", timeout=0.2)
            except pw.ResponseTimeout:
                print("ResponseTimeout")
            # ...and, like every call, obeys the caller's cancel scopes.
            with trio.move_on_after(0.2) as scope:
                await ws.send_and_wait_response("question", lambda m: m == "answer", timeout=60)
            print("cancelled by the caller:", scope.cancelled_caught)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
