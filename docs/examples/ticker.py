"""An application to test: a price-ticker client built on AdvancedWebSocket."""

from __future__ import annotations

from typing import Any

import trio_pterows as pw


async def subscribe(ws: pw.AdvancedWebSocket) -> None:
    """on_connect hook: subscribe on every new connection, before anything queued."""
    await ws.send({"subscribe": "prices"})


def ticker(url: str, **kwargs: Any) -> pw.AdvancedWebSocket:
    """The client, configured once; tests pass ``stream_opener`` and timing options."""
    kwargs.setdefault("heartbeat_mode", "protocol")
    return pw.AdvancedWebSocket(
        url=url, auto_json=True, auto_reconnect=True, on_connect=subscribe, **kwargs
    )


async def next_price(ws: pw.AdvancedWebSocket) -> float:
    """The next price update; other messages are skipped."""
    async for message in ws:
        if isinstance(message, dict) and "price" in message:
            return float(message["price"])
    raise pw.ConnectionLost("the ticker closed")
