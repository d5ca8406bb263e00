"""AckLedger: the acknowledging mode of TestServer, and what it recorded.

An application that wants at-least-once delivery over WebSockets needs a peer that
acknowledges and a way to kill connections at the worst moments. With
``TestServer(ack=True)`` (or ``ack=AckLedger(...)`` for other field names) the
server, for every text message that is a JSON object carrying an id:

* records the id (:attr:`AckLedger.ids`, in arrival order), so a test can check
  what was lost (:meth:`AckLedger.missing`) or duplicated (:meth:`AckLedger.duplicates`);
* answers ``{"ack": <id>}`` instead of echoing it.

Other messages are echoed as before. :meth:`AckLedger.drop_after` makes the server
reset every connection (TCP RST, no close frame) right after the n-th message with an
id was recorded and before it was answered (``when="received"``: its ack never
leaves, the client must send it again), or right after the answer was written
(``when="answered"``). Messages the client wrote after that moment are lost with
the connection, unread.

The other direction: :meth:`TestServer.send_acked` sends a message carrying an id to
every client and keeps it until some client sends ``{"ack": <id>}`` back; every new
connection gets the unacknowledged ones again, in order, before anything else — so a
client's own dedupe can be tested against duplicates.

Field names are configurable: ``AckLedger(id_field="msg_id", ack_field="ok")``.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Literal, final

from trio_websocket import WebSocketConnection

__all__ = ["AckLedger", "DropPoint", "acking_handler"]

#: When :meth:`AckLedger.drop_after` resets the connections.
DropPoint = Literal["received", "answered"]
_DROP_POINTS = ("received", "answered")


def _parse(message: str | bytes) -> dict[str, Any] | None:
    if not isinstance(message, str) or not message.startswith("{"):
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@final
class AckLedger:
    """The acknowledging mode's settings and records (``server.acks``).

    ``id_field``: the key of a client message's id (default ``"id"``); ``ack_field``:
    the key of an acknowledgement, both the server's answers and the client's acks of
    :meth:`TestServer.send_acked` messages (default ``"ack"``). ``history`` bounds
    :attr:`ids`. Ids are JSON values: str, int, float, bool (null means no id).
    """

    __slots__ = (
        "_drops",
        "_outbox",
        "ack_field",
        "acks_received",
        "acks_sent",
        "history",
        "id_field",
        "ids",
        "total",
    )

    def __init__(
        self, *, id_field: str = "id", ack_field: str = "ack", history: int = 100_000
    ) -> None:
        for name, value in (("id_field", id_field), ("ack_field", ack_field)):
            if not isinstance(value, str) or not value:
                raise TypeError(f"{name}: expected a non-empty str, got {value!r}")
        if id_field == ack_field:
            raise ValueError(f"id_field and ack_field must differ, both are {id_field!r}")
        if not isinstance(history, int) or history < 1:
            raise ValueError(f"history: must be an int >= 1, got {history!r}")
        self.id_field = id_field
        self.ack_field = ack_field
        self.history = history
        #: Ids of the messages received, in arrival order (the last ``history``).
        self.ids: deque[Hashable] = deque(maxlen=history)
        #: Messages with an id received in total (duplicates included).
        self.total = 0
        #: Acknowledgements the server wrote.
        self.acks_sent = 0
        #: Client acks of :meth:`TestServer.send_acked` messages that matched one.
        self.acks_received = 0
        self._drops: dict[int, DropPoint] = {}
        self._outbox: OrderedDict[Hashable, str] = OrderedDict()

    # ------------------------------------------------------------------ records

    def counts(self) -> Counter[Hashable]:
        """How many times each recorded id arrived."""
        return Counter(self.ids)

    def duplicates(self) -> int:
        """Arrivals beyond the first of each recorded id."""
        return sum(n - 1 for n in self.counts().values())

    def missing(self, expected: Iterable[Hashable]) -> list[Hashable]:
        """The ids of ``expected`` never recorded, in the order of ``expected``."""
        seen = set(self.ids)
        return [i for i in expected if i not in seen]

    def in_order(self) -> bool:
        """True if the first arrival of each id came in increasing id order (for
        sequence-numbered ids)."""
        firsts = list(dict.fromkeys(self.ids))
        return all(a < b for a, b in itertools.pairwise(firsts))  # type: ignore[operator]

    @property
    def unacked_sent(self) -> int:
        """Messages of :meth:`TestServer.send_acked` no client acknowledged yet."""
        return len(self._outbox)

    # ------------------------------------------------------------------ drops

    def drop_after(self, count: int, *, when: DropPoint = "received") -> None:
        """Reset every connection once :attr:`total` reaches ``count``.

        ``"received"``: after the ``count``-th message with an id was recorded, before
        its ack is written. ``"answered"``: right after its ack was written. Each drop
        point fires once; several may be set.
        """
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"count: must be an int >= 1, got {count!r}")
        if when not in _DROP_POINTS:
            raise ValueError(f"when: must be one of {list(_DROP_POINTS)}, got {when!r}")
        self._drops[count] = when

    def take_drop(self, when: DropPoint) -> bool:
        """True (once) if a drop point set for the current :attr:`total` and ``when``
        is due. Used by :class:`TestServer`."""
        if self._drops.get(self.total) == when:
            del self._drops[self.total]
            return True
        return False

    # ---------------------------------------- used by TestServer (the server's side)

    def record(self, message: str | bytes) -> tuple[Hashable | None, bool]:
        """Classify and record a client message: ``(its id or None, is_an_ack)``.

        An ack (``{ack_field: id}`` without ``id_field``) of a :meth:`keep` message
        removes that message from the ones resent on new connections.
        """
        value = _parse(message)
        if value is None:
            return None, False
        acked = value.get(self.ack_field)
        if acked is not None and self.id_field not in value:
            if self._outbox.pop(acked, None) is not None:
                self.acks_received += 1
            return None, True
        id = value.get(self.id_field)
        if id is None or isinstance(id, (dict, list)):
            return None, False
        self.ids.append(id)
        self.total += 1
        return id, False

    def answer(self, id: Hashable) -> str:
        """The acknowledgement of ``id``, as the text to send (counted)."""
        self.acks_sent += 1
        return json.dumps({self.ack_field: id})

    def keep(self, message: dict[str, Any]) -> str:
        """Keep ``message`` until a client acks it; return its text."""
        id = message.get(self.id_field)
        if id is None or isinstance(id, (dict, list)):
            raise ValueError(f"send_acked: the message needs a {self.id_field!r} field")
        if id in self._outbox:
            raise ValueError(f"send_acked: id {id!r} is already waiting for its ack")
        text = json.dumps(message)
        self._outbox[id] = text
        return text

    def unacked_messages(self) -> list[str]:
        """The texts of kept messages no client acknowledged yet, oldest first."""
        return list(self._outbox.values())

    def __repr__(self) -> str:
        return (
            f"<AckLedger received={self.total} acks_sent={self.acks_sent} "
            f"unacked_sent={len(self._outbox)}>"
        )


def acking_handler(ledger: AckLedger) -> Callable[[WebSocketConnection], Awaitable[None]]:
    """A :class:`MemoryWebSocketServer` handler with the acknowledging mode of
    :class:`TestServer`: messages with an id are recorded in ``ledger`` and acked,
    others echoed. (Drop points do not apply: use ``server.vanish()``, which drops
    every connection without a close frame.)

    ::

        ledger = AckLedger()
        server = MemoryWebSocketServer(acking_handler(ledger))
    """

    async def handler(connection: WebSocketConnection) -> None:
        for text in ledger.unacked_messages():
            await connection.send_message(text)
        while True:
            message = await connection.get_message()
            id, is_ack = ledger.record(message)
            if is_ack:
                continue
            await connection.send_message(message if id is None else ledger.answer(id))

    return handler
