"""EventSource, the typed event API, at run time: it delegates to its hub and calls
the listener hook (the typing itself is checked by tests/test_typing.py)."""

from __future__ import annotations

import pytest
import trio

import trio_pterows as pw
from trio_pterows._event_api import EventSource
from trio_pterows._events import EventHub


class Source(EventSource):
    def __init__(self) -> None:
        self.reported: list[tuple[BaseException, str]] = []
        self._hub = EventHub(lambda exc, context: self.reported.append((exc, context)))
        self.added = 0

    def _on_listener_added(self) -> None:
        self.added += 1


def _pong(latency: float) -> pw.PongEvent:
    return pw.PongEvent(type="pong", timestamp=0.0, latency=latency)


async def test_listeners_subscriptions_and_dispatch_go_through_the_hub() -> None:
    source = Source()
    latencies: list[float] = []

    def on_pong(event: pw.PongEvent) -> None:
        latencies.append(event.latency)

    source.add_event_listener("pong", on_pong)
    source.add_event_listener(pw.EventType.PONG, on_pong)
    assert source.added == 2
    with trio.fail_after(5):
        async with source.subscribe("pong") as pongs:
            source.dispatch_event("pong", _pong(0.5))
            assert (await pongs.receive()).latency == 0.5
    assert source.remove_event_listener("pong", on_pong) is True
    source.dispatch_event("pong", _pong(0.25))
    assert latencies == [0.5, 0.5, 0.25]
    assert source.remove_event_listener("pong", on_pong) is True
    assert source.remove_event_listener("pong", on_pong) is False


async def test_subscribe_without_names_takes_every_builtin_type() -> None:
    source = Source()
    with trio.fail_after(5):
        async with source.subscribe() as events:
            assert events.types is None
            source.dispatch_event("reconnect_success", "any object")
            source.dispatch_event("custom:mine", "not built in: not delivered")
            source.dispatch_event("custom", "custom is built in")
            assert events.receive_nowait() == "any object"
            assert events.receive_nowait() == "custom is built in"
            with pytest.raises(trio.WouldBlock):
                events.receive_nowait()


def test_bad_names_and_buffer_sizes_are_refused() -> None:
    source = Source()
    with pytest.raises(ValueError, match="did you mean 'pong'"):
        source.add_event_listener("poong", print)
    assert source.added == 0
    with pytest.raises(ValueError, match="max_buffer_size: must be >= 1, got 0"):
        source.subscribe("open", max_buffer_size=0)
    with pytest.raises(ValueError, match="did you mean 'close'"):
        source.subscribe("clse")
