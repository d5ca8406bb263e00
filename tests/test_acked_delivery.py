"""Acknowledged delivery, receive dedupe and drain, through the public manager.

Abrupt server deaths run over real TCP (``TestServer(ack=True)`` resets connections
with an RST, no close frame, at chosen points); everything timed runs on
autojump_clock over in-memory servers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trio_pterows as pw
from trio_pterows.testing import AckLedger, MemoryWebSocketServer, TestServer, acking_handler

from .conftest import MEMORY_URL, EventLog

MakeWS = Callable[..., pw.AdvancedWebSocket]


def _id(message: Any) -> Hashable | None:
    return message.get("id") if isinstance(message, dict) else None


def _ack(message: Any) -> Hashable | None:
    return message.get("ack") if isinstance(message, dict) else None


def _options(**kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "auto_json": True,
        "heartbeat_interval": None,
        "ack": pw.AckPolicy(
            _id, _ack, timeout=kwargs.pop("timeout", 30.0), limit=kwargs.pop("limit", 1024)
        ),
    }
    options.update(kwargs)
    return options


async def _memory(nursery: trio.Nursery, handler: Callable[..., Any]) -> MemoryWebSocketServer:
    server = MemoryWebSocketServer(handler)
    await nursery.start(server.run)
    return server


def _ws(server: MemoryWebSocketServer, **options: Any) -> pw.AdvancedWebSocket:
    return pw.AdvancedWebSocket(
        url=MEMORY_URL, stream_opener=server.open_stream, **_options(**options)
    )


# ------------------------------------------------------------ abrupt deaths (TCP)


@pytest.mark.parametrize("burst", [False, True], ids=["send", "send_nowait"])
@pytest.mark.parametrize("when", ["received", "answered"])
async def test_abrupt_server_deaths_lose_nothing_and_keep_order(
    nursery: trio.Nursery, when: str, burst: bool
) -> None:
    server = TestServer(ack=True)
    assert server.acks is not None
    for point in (5, 12, 20, 31):
        server.acks.drop_after(point, when=when)  # type: ignore[arg-type]
    await nursery.start(server.serve)
    total = 40
    with trio.fail_after(30):
        async with pw.AdvancedWebSocket(
            url=server.url,
            **_options(
                auto_reconnect=True,
                max_reconnect_attempts=None,
                reconnect_strategy="fixed",
                reconnect_interval=0.01,
                queue_messages=True,
            ),
        ) as ws:
            await ws.connect()
            for n in range(total):
                if burst:  # many frames in flight when the RST comes
                    ws.send_nowait({"id": n})
                else:
                    await ws.send({"id": n})
            await ws.wait_acked()
            metrics = ws.get_metrics()
    assert server.acks.missing(range(total)) == []
    assert server.acks.in_order()  # first arrivals in send order
    assert metrics.unacked == 0
    assert metrics.connections == 5  # four deaths, four reconnects
    if when == "received":
        assert server.acks.duplicates() >= 4  # each death left a read-but-unacked message


async def test_abort_all_mid_stream_then_everything_arrives(nursery: trio.Nursery) -> None:
    server = TestServer(ack=True)
    await nursery.start(server.serve)
    assert server.acks is not None
    with trio.fail_after(30):
        async with pw.AdvancedWebSocket(
            url=server.url,
            **_options(
                auto_reconnect=True,
                reconnect_strategy="fixed",
                reconnect_interval=0.01,
                queue_messages=True,
            ),
        ) as ws:
            await ws.connect()
            for n in range(10):
                await ws.send({"id": n})
            server.abort_all()
            for n in range(10, 20):
                await ws.send({"id": n})
            await ws.wait_acked()
    assert server.acks.missing(range(20)) == []
    assert server.acks.in_order()


# ------------------------------------------------------------ resend order (memory)


async def test_unacked_messages_go_first_on_the_next_connection_then_the_queue(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    arrivals: list[list[Any]] = []
    acking = trio.Event()

    async def handler(conn: trio_websocket.WebSocketConnection) -> None:
        mine: list[Any] = []
        arrivals.append(mine)
        while True:
            message = json.loads(await conn.get_message())
            mine.append(message.get("id", "no id"))
            if acking.is_set() and "id" in message:
                await conn.send_message(json.dumps({"ack": message["id"]}))

    server = await _memory(nursery, handler)
    with trio.fail_after(30):
        async with _ws(
            server,
            auto_reconnect=True,
            reconnect_strategy="fixed",
            reconnect_interval=1.0,
            queue_messages=True,
        ) as ws:
            await ws.connect()
            for n in (1, 2, 3):
                await ws.send({"id": n})
            await trio.testing.wait_all_tasks_blocked()
            assert ws.get_metrics().unacked == 3
            await server.vanish()  # no close frame
            await trio.testing.wait_all_tasks_blocked()
            assert ws.state is pw.ConnectionState.RECONNECTING
            await ws.send({"id": 4})  # queued during the reconnect delay
            await ws.send({"no": "id"})
            acking.set()
            await ws.wait_acked()
            assert ws.get_metrics().unacked == 0
    assert arrivals[0] == [1, 2, 3]
    assert arrivals[1] == [1, 2, 3, 4, "no id"]


async def test_acks_are_consumed_and_other_messages_delivered(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    ledger = AckLedger()
    server = await _memory(nursery, acking_handler(ledger))
    with trio.fail_after(30):
        async with _ws(server) as ws:
            log = EventLog(ws, "message")
            await ws.connect()
            await ws.send({"id": "a"})
            await ws.send({"plain": True})  # echoed: an ordinary message
            assert await ws.receive() == {"plain": True}
            await ws.wait_acked()
    assert [e.data for e in log.of("message")] == [{"plain": True}]
    assert ledger.total == 1


async def test_ack_of_that_raises_is_reported_and_the_message_delivered(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    server = await _memory(nursery, acking_handler(AckLedger()))

    def bad_ack_of(message: Any) -> Hashable | None:
        raise RuntimeError("ack_of broke")

    with trio.fail_after(30):
        async with pw.AdvancedWebSocket(
            url=MEMORY_URL,
            stream_opener=server.open_stream,
            auto_json=True,
            heartbeat_interval=None,
            ack=pw.AckPolicy(lambda m: None, bad_ack_of),
        ) as ws:
            log = EventLog(ws, "error")
            await ws.connect()
            await ws.send({"x": 1})
            assert await ws.receive() == {"x": 1}
    assert [e.context for e in log.of("error")] == ["ack_of"]


# ------------------------------------------------------------ timeout and limit


async def test_an_unacked_message_expires_with_an_ack_timeout_error(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    async def silent(conn: trio_websocket.WebSocketConnection) -> None:
        while True:
            await conn.get_message()

    server = await _memory(nursery, silent)
    with trio.fail_after(60):
        async with _ws(server, timeout=5.0) as ws:
            log = EventLog(ws, "error")
            await ws.connect()
            start = trio.current_time()
            await ws.send({"id": 1})
            await ws.wait_acked()  # returns when it expired
            assert trio.current_time() - start == pytest.approx(5.0)
            metrics = ws.get_metrics()
    errors = log.of("error")
    assert [e.context for e in errors] == ["ack-timeout"]
    assert isinstance(errors[0].error, pw.ResponseTimeout)
    assert metrics.unacked == 0
    assert metrics.dropped == 1


async def test_a_full_window_makes_send_wait_in_order(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    received: list[Any] = []
    release: list[trio.Event] = []

    async def slow_acks(conn: trio_websocket.WebSocketConnection) -> None:
        while True:
            message = json.loads(await conn.get_message())
            received.append(message["id"])
            gate = trio.Event()
            release.append(gate)
            nursery.start_soon(_ack_when, conn, gate, message["id"])

    async def _ack_when(conn: Any, gate: trio.Event, id: Any) -> None:
        await gate.wait()
        await conn.send_message(json.dumps({"ack": id}))

    server = await _memory(nursery, slow_acks)
    with trio.fail_after(30):
        async with _ws(server, limit=2) as ws:
            await ws.connect()
            await ws.send({"id": 1})
            await ws.send({"id": 2})
            third_sent = trio.Event()

            async def third() -> None:
                await ws.send({"id": 3})
                third_sent.set()

            nursery.start_soon(third)
            await trio.testing.wait_all_tasks_blocked()
            assert not third_sent.is_set()
            assert ws.get_metrics().unacked == 2
            assert received == [1, 2]
            release[0].set()
            await third_sent.wait()
            await trio.testing.wait_all_tasks_blocked()
            assert received == [1, 2, 3]
            for gate in release[1:]:
                gate.set()
            await ws.wait_acked()


async def test_reusing_an_id_still_waiting_is_a_value_error(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    async def silent(conn: trio_websocket.WebSocketConnection) -> None:
        while True:
            await conn.get_message()

    server = await _memory(nursery, silent)
    with trio.fail_after(30):
        async with _ws(server) as ws:
            await ws.connect()
            await ws.send({"id": 1})
            with pytest.raises(ValueError, match=r"^id_of: id 1 is already waiting"):
                await ws.send({"id": 1})


# ------------------------------------------------------------ dedupe


async def test_dedupe_drops_keys_seen_in_the_window(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    with trio.fail_after(30):
        async with make_ws(
            auto_json=True,
            dedupe_of=lambda m: m.get("k") if isinstance(m, dict) else None,
            dedupe_window=2,
        ) as ws:
            await ws.connect()
            for k in (1, 2, 1, 3, 1, "x"):
                await ws.send({"k": k})
            await ws.send("no key")
            got = [await ws.receive() for _ in range(5)]
            metrics = ws.get_metrics()
    # 1, 2, then 1 again (seen among the last 2: dropped), 3 (evicts 1), 1 (passes).
    assert got == [{"k": 1}, {"k": 2}, {"k": 3}, {"k": 1}, {"k": "x"}]
    assert metrics.duplicates == 1


async def test_server_resends_and_dedupe_gives_exactly_once(nursery: trio.Nursery) -> None:
    # The server sends with ids and resends on every new connection until acked; the
    # resent copy is dropped by dedupe, so the application sees it once.
    server = TestServer(ack=True)
    await nursery.start(server.serve)
    assert server.acks is not None
    delivered: list[Any] = []
    with trio.fail_after(30):
        async with pw.AdvancedWebSocket(
            url=server.url,
            auto_json=True,
            heartbeat_interval=None,
            auto_reconnect=True,
            reconnect_strategy="fixed",
            reconnect_interval=0.01,
            dedupe_of=lambda m: m.get("id") if isinstance(m, dict) else None,
        ) as ws:
            await ws.connect()
            await server.wait_connections(1)
            await server.send_acked({"id": "m1"})
            delivered.append(await ws.receive())  # not acked: it comes again
            server.abort_all()
            await server.wait_accepted(2)
            await ws.send({"ack": "m1"})  # now ack it (after the resend went out)
            await ws.send({"id": "probe"})  # acked by the server, consumed by nobody
            delivered.append(await ws.receive())
            metrics = ws.get_metrics()
    assert delivered[0] == {"id": "m1"}
    assert delivered[1] == {"ack": "probe"}  # the resent m1 was dropped as a duplicate
    assert metrics.duplicates == 1


# ------------------------------------------------------------ drain


async def test_close_with_drain_waits_for_the_acks(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    ledger = AckLedger()
    inner = acking_handler(ledger)

    async def late(conn: trio_websocket.WebSocketConnection) -> None:
        await trio.sleep(3)  # nothing is read (or acked) for 3 s
        await inner(conn)

    server = await _memory(nursery, late)
    with trio.fail_after(30):
        async with _ws(server) as ws:
            await ws.connect()
            for n in range(5):
                await ws.send({"id": n})
            start = trio.current_time()
            await ws.close(drain=10)
            assert trio.current_time() - start == pytest.approx(3.0)
            assert ws.state is pw.ConnectionState.CLOSED
    assert ledger.missing(range(5)) == []
    assert ledger.acks_sent == 5


async def test_drain_is_bounded_and_a_cancelled_drain_closes_at_once(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    async def silent(conn: trio_websocket.WebSocketConnection) -> None:
        while True:
            await conn.get_message()

    server = await _memory(nursery, silent)
    with trio.fail_after(30):
        async with _ws(server) as ws:
            await ws.connect()
            await ws.send({"id": 1})
            start = trio.current_time()
            await ws.close(drain=2)
            assert trio.current_time() - start == pytest.approx(2.0, abs=0.01)
            assert ws.state is pw.ConnectionState.CLOSED
            assert ws.get_metrics().unacked == 1  # kept for a later connect()
            await ws.connect()
            start = trio.current_time()
            with trio.move_on_after(1):
                await ws.aclose(drain=100)
            assert trio.current_time() - start == pytest.approx(1.0, abs=0.01)
            assert ws.state is pw.ConnectionState.CLOSED
            with pytest.raises(pw.Destroyed):
                await ws.send({"id": 2})


async def test_drain_without_acks_waits_for_the_queue(
    autojump_clock: trio.testing.MockClock, memory_server: MemoryWebSocketServer, make_ws: MakeWS
) -> None:
    with trio.fail_after(30):
        async with make_ws(
            auto_reconnect=True,
            reconnect_strategy="fixed",
            reconnect_interval=2.0,
            queue_messages=True,
        ) as ws:
            await ws.connect()
            await memory_server.vanish()
            await trio.testing.wait_all_tasks_blocked()
            await ws.send("queued while reconnecting")
            assert ws.get_metrics().queued == 1
            await ws.aclose(drain=10)
            assert ws.get_metrics().queued == 0
    assert memory_server.accepted == 2


@pytest.mark.parametrize(
    ("drain", "error"), [(-1, ValueError), ("1", TypeError), (float("inf"), ValueError)]
)
async def test_bad_drain_values_are_refused(
    make_ws: MakeWS, drain: Any, error: type[Exception]
) -> None:
    async with make_ws() as ws:
        with pytest.raises(error, match=r"^drain: "):
            await ws.close(drain=drain)
        with pytest.raises(error, match=r"^drain: "):
            await ws.aclose(drain=drain)


async def test_ack_options_cannot_change_on_a_live_manager(make_ws: MakeWS) -> None:
    async with make_ws() as ws:
        with pytest.raises(ValueError, match=r"^ack: "):
            ws.update_options(ack=pw.AckPolicy(_id, _ack))
        with pytest.raises(ValueError, match=r"^dedupe_of: "):
            ws.update_options(dedupe_of=_id)


# ------------------------------------------------------------ a property over faults

fault_programs = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(min_value=1, max_value=6)),
        st.tuples(st.just("send"), st.integers(min_value=1, max_value=6)),
        st.just(("vanish",)),
        st.tuples(st.just("steps"), st.integers(min_value=0, max_value=10)),
        st.tuples(st.just("sleep"), st.sampled_from([0.0, 0.05, 0.5])),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=fault_programs, limit=st.integers(min_value=1, max_value=8))
def test_no_loss_and_first_arrivals_in_order_whatever_the_faults(
    program: list[tuple[Any, ...]], limit: int
) -> None:
    # Connections die at any checkpoint (mid-flush, mid-resend, between a write and
    # its ack): every message with an id still arrives, first arrivals in send order.
    async def main() -> None:
        ledger = AckLedger()
        server = MemoryWebSocketServer(acking_handler(ledger))
        sent = 0
        with trio.fail_after(600):  # virtual time
            async with trio.open_nursery() as nursery:
                await nursery.start(server.run)
                async with _ws(
                    server,
                    limit=limit,
                    timeout=None,
                    auto_reconnect=True,
                    max_reconnect_attempts=None,
                    reconnect_strategy="fixed",
                    reconnect_interval=0.1,
                    queue_messages=True,
                    message_queue_limit=10_000,
                ) as ws:
                    await ws.connect()

                    # One sender, so that the send order is the id order.
                    orders, pending = trio.open_memory_channel[int](100)

                    sender_done = trio.Event()

                    async def sender() -> None:
                        async for n in pending:
                            await ws.send({"id": n})
                        sender_done.set()

                    nursery.start_soon(sender)
                    for step in program:
                        if step[0] == "send":
                            for n in range(sent, sent + step[1]):
                                orders.send_nowait(n)
                            sent += step[1]
                        elif step[0] == "vanish":
                            await server.vanish()
                        elif step[0] == "steps":
                            for _ in range(step[1]):
                                await trio.lowlevel.checkpoint()
                        else:
                            await trio.sleep(step[1])
                    await orders.aclose()
                    await sender_done.wait()
                    await ws.wait_acked()
                    assert ws.get_metrics().unacked == 0
                nursery.cancel_scope.cancel()
        assert ledger.missing(range(sent)) == []
        assert ledger.in_order()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def test_an_id_of_that_raises_reaches_send_or_drops_the_queued_message(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    ledger = AckLedger()
    server = await _memory(nursery, acking_handler(ledger))

    def bad_id_of(message: Any) -> Hashable | None:
        if message.get("bad"):
            raise KeyError("no id here")
        return _id(message)

    with trio.fail_after(30):
        async with pw.AdvancedWebSocket(
            url=MEMORY_URL,
            stream_opener=server.open_stream,
            auto_json=True,
            heartbeat_interval=None,
            queue_messages=True,
            ack=pw.AckPolicy(bad_id_of, _ack),
        ) as ws:
            log = EventLog(ws, "error")
            await ws.connect()
            with pytest.raises(KeyError, match="no id here"):
                await ws.send({"bad": True})
            await ws.close()
            await ws.send({"bad": True})  # queued: fails at flush time
            await ws.send({"id": 1})
            await ws.connect()
            await ws.wait_acked()
            assert ws.get_metrics().dropped == 1
    assert [e.context for e in log.of("error")] == ["flush"]
    assert list(ledger.ids) == [1]
