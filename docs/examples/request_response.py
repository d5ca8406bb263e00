"""How-to: request/response. Concurrent calls matched to their replies by id."""

from __future__ import annotations

import itertools
import json
from typing import Any

import trio
import trio_websocket

import trio_pterows as pw
from trio_pterows.testing import MemoryWebSocketServer


async def rpc_server(conn: trio_websocket.WebSocketConnection) -> None:
    """Answer {"id", "method": "sleep", "params": {"seconds"}} after that long."""

    async def answer(request: dict[str, Any]) -> None:
        await trio.sleep(request["params"]["seconds"])
        reply = {"id": request["id"], "result": f"slept {request['params']['seconds']}s"}
        try:
            await conn.send_message(json.dumps(reply))
        except trio_websocket.ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        try:
            while True:
                nursery.start_soon(answer, json.loads(await conn.get_message()))
        except trio_websocket.ConnectionClosed:
            nursery.cancel_scope.cancel()


class RPCClient:
    """Calls with correlation ids over one AdvancedWebSocket."""

    def __init__(self, ws: pw.AdvancedWebSocket, *, reply_timeout: float = 5.0) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        #: Seconds to wait for each reply (the send included).
        self.reply_timeout = reply_timeout

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        request_id = next(self._ids)

        def is_reply(message: object) -> bool:
            return isinstance(message, dict) and message.get("id") == request_id

        request = {"id": request_id, "method": method, "params": params}
        reply = await self._ws.send_and_wait_response(request, is_reply, timeout=self.reply_timeout)
        return reply["result"]


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = MemoryWebSocketServer(rpc_server)
        await nursery.start(server.run)

        async with pw.open_websocket(
            "ws://memory/rpc", stream_opener=server.open_stream, auto_json=True
        ) as ws:
            rpc = RPCClient(ws)
            results: dict[float, str] = {}

            async def call(seconds: float) -> None:
                results[seconds] = await rpc.call("sleep", {"seconds": seconds})

            async with trio.open_nursery() as calls:  # three calls at once
                for seconds in (0.3, 0.2, 0.1):
                    calls.start_soon(call, seconds)
            for seconds, result in sorted(results.items()):
                print(f"call({seconds}) -> {result!r}")

            rpc.reply_timeout = 0.5
            try:
                await rpc.call("sleep", {"seconds": 2})
            except pw.ResponseTimeout as exc:
                print("ResponseTimeout:", exc)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
