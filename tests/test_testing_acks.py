"""TestServer's acknowledging mode (AckLedger), driven by a raw trio-websocket client."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator

import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from trio_pterows.testing import AckLedger, TestServer

from .conftest import client


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    yield
    gc.collect()


async def _serve(nursery: trio.Nursery, **kwargs: object) -> TestServer:
    server = TestServer(**kwargs)  # type: ignore[arg-type]
    await nursery.start(server.serve)
    return server


async def _read_until_closed(ws: WebSocketConnection, into: list[object]) -> int | None:
    """Read (JSON) messages into ``into`` until the connection ends; its close code."""
    while True:
        try:
            into.append(json.loads(await ws.get_message()))
        except ConnectionClosed as exc:
            return exc.reason.code if exc.reason is not None else None


async def test_messages_with_an_id_are_acked_others_echoed(nursery: trio.Nursery) -> None:
    server = await _serve(nursery, ack=True)
    assert server.acks is not None
    with trio.fail_after(10):
        async with client(nursery, server.port) as ws:
            await ws.send_message(json.dumps({"id": 7, "body": "x"}))
            assert json.loads(await ws.get_message()) == {"ack": 7}
            await ws.send_message(json.dumps({"body": "no id"}))
            assert json.loads(await ws.get_message()) == {"body": "no id"}
            await ws.send_message(json.dumps({"id": None}))  # null is no id
            assert json.loads(await ws.get_message()) == {"id": None}
            await ws.send_message("plain text")
            assert await ws.get_message() == "plain text"
            await ws.send_message(b"\x00bytes")
            assert await ws.get_message() == b"\x00bytes"
            await ws.send_message(json.dumps({"id": "s"}))
            assert json.loads(await ws.get_message()) == {"ack": "s"}
    assert list(server.acks.ids) == [7, "s"]
    assert server.acks.total == 2
    assert server.acks.acks_sent == 2


async def test_field_names_are_configurable(nursery: trio.Nursery) -> None:
    server = await _serve(nursery, ack=AckLedger(id_field="msg_id", ack_field="ok"))
    with trio.fail_after(10):
        async with client(nursery, server.port) as ws:
            await ws.send_message(json.dumps({"msg_id": 1}))
            assert json.loads(await ws.get_message()) == {"ok": 1}
            await ws.send_message(json.dumps({"id": 2}))  # not the id field here
            assert json.loads(await ws.get_message()) == {"id": 2}


async def test_without_the_mode_every_message_is_echoed(nursery: trio.Nursery) -> None:
    server = await _serve(nursery)
    assert server.acks is None
    with trio.fail_after(10):
        async with client(nursery, server.port) as ws:
            await ws.send_message(json.dumps({"id": 1}))
            assert json.loads(await ws.get_message()) == {"id": 1}
    with pytest.raises(RuntimeError, match="acknowledging mode"):
        await server.send_acked({"id": 1})
    with pytest.raises(RuntimeError, match="acknowledging mode"):
        await server.wait_ids(1)


@pytest.mark.parametrize("when", ["received", "answered"])
async def test_drop_after_resets_the_connection_at_the_chosen_point(
    nursery: trio.Nursery, when: str
) -> None:
    server = await _serve(nursery, ack=True)
    assert server.acks is not None
    server.acks.drop_after(2, when=when)  # type: ignore[arg-type]
    got: list[object] = []
    with trio.fail_after(10):
        async with client(nursery, server.port) as ws:
            await ws.send_message(json.dumps({"id": 1}))
            assert json.loads(await ws.get_message()) == {"ack": 1}
            await ws.send_message(json.dumps({"id": 2}))
            code = await _read_until_closed(ws, got)
        assert code == 1006  # no close frame: an abrupt end
        await server.wait_connections(0)
        # The drop point fired once: the next connection is served normally.
        async with client(nursery, server.port) as ws:
            await ws.send_message(json.dumps({"id": 2}))
            assert json.loads(await ws.get_message()) == {"ack": 2}
    if when == "received":
        assert got == []  # the second was recorded, its ack never left
    else:
        # The ack was written before the reset; whether it is read before the
        # reset arrives is up to the kernels.
        assert got in ([], [{"ack": 2}])
    assert list(server.acks.ids) == [1, 2, 2]
    assert server.acks.duplicates() == 1
    assert server.acks.counts()[2] == 2


async def test_abort_all_resets_without_a_close_frame(nursery: trio.Nursery) -> None:
    server = await _serve(nursery, ack=True)
    with trio.fail_after(10):
        async with client(nursery, server.port) as ws:
            await server.wait_connections(1)
            assert server.abort_all() == 1
            assert await _read_until_closed(ws, []) == 1006
        await server.wait_connections(0)
        async with client(nursery, server.port) as ws:  # the listener stayed open
            await ws.send_message(json.dumps({"id": 1}))
            assert json.loads(await ws.get_message()) == {"ack": 1}


async def test_send_acked_is_resent_on_new_connections_until_acked(
    nursery: trio.Nursery,
) -> None:
    server = await _serve(nursery, ack=True)
    assert server.acks is not None
    with trio.fail_after(10):
        async with client(nursery, server.port) as ws:
            await server.wait_connections(1)
            assert await server.send_acked({"id": "a", "n": 1}) == 1
            assert await server.send_acked({"id": "b", "n": 2}) == 1
            assert json.loads(await ws.get_message())["id"] == "a"
            assert json.loads(await ws.get_message())["id"] == "b"
        # Nobody acked: a new connection gets both again, in order, first.
        async with client(nursery, server.port) as ws:
            assert json.loads(await ws.get_message())["id"] == "a"
            assert json.loads(await ws.get_message())["id"] == "b"
            await ws.send_message(json.dumps({"ack": "a"}))
            await ws.send_message(json.dumps({"id": 9}))  # wait for the ack to be read
            assert json.loads(await ws.get_message()) == {"ack": 9}
        assert server.acks.acks_received == 1
        assert server.acks.unacked_sent == 1
        async with client(nursery, server.port) as ws:
            assert json.loads(await ws.get_message())["id"] == "b"
        with pytest.raises(ValueError, match="needs a 'id' field"):
            await server.send_acked({"n": 3})
        with pytest.raises(ValueError, match="already waiting"):
            await server.send_acked({"id": "b"})


async def test_wait_ids_counts_arrivals(nursery: trio.Nursery) -> None:
    server = await _serve(nursery, ack=True)
    with trio.fail_after(10):
        async with client(nursery, server.port) as ws:
            for n in range(3):
                await ws.send_message(json.dumps({"id": n}))
            await server.wait_ids(3)
    assert server.acks is not None
    assert server.acks.missing(range(5)) == [3, 4]
    assert server.acks.in_order()


def test_ledger_records_and_validation() -> None:
    ledger = AckLedger(history=3)
    for text in ('{"id": 1}', '{"id": 3}', '{"id": 2}', '{"id": 3}'):
        ledger.record(text)
    assert list(ledger.ids) == [3, 2, 3]  # bounded by history
    assert ledger.total == 4
    assert ledger.duplicates() == 1
    assert not ledger.in_order()
    assert ledger.record("[1, 2]") == (None, False)
    assert ledger.record('{"id": [1]}') == (None, False)
    assert ledger.record('{"ack": 5}') == (None, True)
    assert ledger.acks_received == 0  # an ack of nothing the server kept
    assert "received=4" in repr(ledger)
    with pytest.raises(ValueError, match=r"^id_field and ack_field must differ"):
        AckLedger(id_field="x", ack_field="x")
    with pytest.raises(TypeError, match=r"^ack_field: "):
        AckLedger(ack_field="")
    with pytest.raises(ValueError, match=r"^history: "):
        AckLedger(history=0)
    with pytest.raises(ValueError, match=r"^count: "):
        ledger.drop_after(0)
    with pytest.raises(ValueError, match=r"^when: "):
        ledger.drop_after(1, when="later")  # type: ignore[arg-type]
