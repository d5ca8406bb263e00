"""The outbound path and the queue flusher (internal).

:meth:`Sender.send`: ``on_before_send`` → outgoing interceptors → JSON → the transport →
``on_after_send``; when not connected (or older messages are still queued) the message
goes to the :class:`OutgoingQueue` instead. While a connection is open and something is
queued, one flusher task writes the queue in order and ends when it is empty.

Hooks for features built on top (internal, zero cost when unused): an unacked window
puts its messages back at the head of the queue from :attr:`Sender.on_attach` (called
once per new connection, before the flusher starts, so they are resent first and in
order) with :meth:`OutgoingQueue.put_front`; it learns what was written from
``on_after_send``.
"""

from __future__ import annotations

import contextvars
import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import trio

from ._codec import dumps
from ._context import Shared
from ._events import DROP
from ._exceptions import ConnectionLost, NotConnected
from ._queue import DEFAULT_QUEUE_LIMIT, OutgoingQueue, QueueItem
from ._state import StateCell, check_transition
from ._util import call
from .transports._base import Frame, TransportClosed, TransportConnection

__all__ = ["Sender"]

# Which sender's on_connect hook the current task runs in (sends go straight out).
_ON_CONNECT: contextvars.ContextVar[Sender | None] = contextvars.ContextVar(
    "trio_pterows_on_connect", default=None
)


class Writer(enum.Enum):
    """Where sends go."""

    NONE = "none"  #: not connected: queue or NotConnected
    SETUP = "setup"  #: on_connect runs: its own sends go straight out
    OPEN = "open"  #: connected


_WRITER = {
    Writer.NONE: {Writer.SETUP, Writer.OPEN},
    Writer.SETUP: {Writer.OPEN, Writer.NONE},
    Writer.OPEN: {Writer.NONE},
}


class Sender:
    """The outbound path and the outgoing queue of one manager."""

    __slots__ = (
        "_conn",
        "_flushing",
        "_nursery",
        "_queue_empty",
        "_shared",
        "_state",
        "_writer",
        "on_attach",
        "plain",
        "queue",
        "sent",
    )

    def __init__(self, shared: Shared, state: StateCell) -> None:
        self._shared = shared
        self._state = state
        options = shared.options
        self.queue = OutgoingQueue(options.message_queue_limit, options.message_queue_overflow)
        self._queue_empty: trio.Event | None = None  # created when someone waits
        self._writer = Writer.NONE
        self._conn: TransportConnection | None = None
        self._nursery: trio.Nursery | None = None
        self._flushing = False
        self.sent = 0
        #: Called once per new connection, before the flusher starts (see module doc).
        self.on_attach: Callable[[], None] | None = None
        self.apply_options()

    def apply_options(self) -> None:
        o = self._shared.options
        self.plain = not (o.on_before_send or o.outgoing_message_interceptors)
        limit = o.message_queue_limit
        self.queue.limit = DEFAULT_QUEUE_LIMIT if limit is None else limit
        self.queue.overflow = o.message_queue_overflow

    # -- which connection writes -------------------------------------------------

    def _set_writer(self, new: Writer) -> None:
        check_transition(_WRITER, self._writer, new)
        self._writer = new

    @contextmanager
    def setting_up(self, conn: TransportConnection) -> Iterator[None]:
        """While ``on_connect`` runs: its sends go straight to ``conn``."""
        self._set_writer(Writer.SETUP)
        self._conn = conn
        token = _ON_CONNECT.set(self)
        try:
            yield
        finally:
            _ON_CONNECT.reset(token)

    def attach(self, conn: TransportConnection, nursery: trio.Nursery) -> None:
        """The connection is open: sends go to it; the queue flushes in ``nursery``."""
        self._set_writer(Writer.OPEN)
        self._conn = conn
        self._nursery = nursery
        if self.on_attach is not None:
            self.on_attach()
        if self.queue:
            self._start_flusher()

    def detach(self) -> None:
        """The connection ended (its flusher, if any, has stopped)."""
        self._set_writer(Writer.NONE)
        self._conn = None
        self._nursery = None
        self._flushing = False

    @property
    def connected(self) -> bool:
        return self._writer is Writer.OPEN

    @property
    def flushing(self) -> bool:
        return self._flushing

    # -- send ------------------------------------------------------------------------

    async def send(self, data: Any, urgent: bool = False) -> None:
        """See :meth:`AdvancedWebSocket.send`."""
        conn = self._conn if self._writer is Writer.OPEN else None
        if conn is None:
            if self._writer is Writer.SETUP and _ON_CONNECT.get() is self:
                conn = self._conn  # on_connect: straight to the new connection
        elif self.queue and not urgent:
            conn = None  # older messages are still queued: keep the order
        if conn is None:
            if urgent:
                raise NotConnected(
                    f"not connected (state {self._state.value.value}): urgent send refused"
                )
            if not self._shared.options.queue_messages:
                raise NotConnected(
                    f"not connected (state {self._state.value.value}) and queue_messages is off"
                )
            await trio.lowlevel.checkpoint_if_cancelled()
            self.queue.put(data)
            self.wake_flusher()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        if self.plain and (data.__class__ is str or data.__class__ is bytes):
            frame: Frame = data
            final: Any = data
        else:
            prepared = await self.prepare(data)
            if prepared is None:
                await trio.lowlevel.checkpoint()
                return
            final, frame = prepared
        try:
            await conn.send(frame)
        except TransportClosed as exc:
            if self._shared.options.queue_messages and not urgent:
                item = QueueItem(data)
                item.prepared, item.frame, item.data = True, frame, final
                self.queue.put_front(item)
                self.wake_flusher()
                return
            raise ConnectionLost(
                "the connection closed while sending",
                code=exc.info.code if exc.info else None,
                reason=exc.info.reason if exc.info else "",
            ) from exc
        self.sent += 1
        hook = self._shared.options.on_after_send
        if hook is not None:
            await call(hook, final)

    def send_nowait(self, data: Any) -> None:
        """See :meth:`AdvancedWebSocket.send_nowait`: into the queue, never blocking."""
        if self._writer is Writer.NONE and not self._shared.options.queue_messages:
            raise NotConnected(
                f"not connected (state {self._state.value.value}) and queue_messages is off"
            )
        self.queue.put(data)
        self.wake_flusher()

    async def prepare(self, data: Any) -> tuple[Any, Frame] | None:
        """Run hooks, interceptors and the encoder: ``(final, frame)``; None means DROP."""
        options = self._shared.options
        message = data
        if options.on_before_send is not None:
            message = await call(options.on_before_send, message)
            if message is DROP:
                return None
        for interceptor in options.outgoing_message_interceptors:
            message = await call(interceptor, message)
            if message is DROP:
                return None
        if isinstance(message, (str, bytes)):
            return message, message
        if isinstance(message, (bytearray, memoryview)):
            return message, bytes(message)
        if options.auto_json:
            return message, dumps(message)
        raise TypeError(
            f"cannot send {type(message).__name__}: pass str or bytes, or enable auto_json"
        )

    # -- the queue ------------------------------------------------------------------

    def wake_flusher(self) -> None:
        """Something was queued: make sure a flusher runs while connected."""
        if self._writer is Writer.OPEN and not self._flushing:
            self._start_flusher()

    def _start_flusher(self) -> None:
        conn, nursery = self._conn, self._nursery
        if self._flushing or conn is None or nursery is None:
            return
        if not conn.ended.is_set():  # once the reader stopped, nothing can be written
            self._flushing = True
            nursery.start_soon(self._flusher, conn)

    async def _flusher(self, conn: TransportConnection) -> None:
        """Write the queue, oldest first, until it is empty, then end: an idle
        connection has no flusher task, and the next put starts one."""
        queue = self.queue
        while queue:
            item = queue.peek()
            if not item.prepared:
                try:
                    prepared = await self.prepare(item.data)
                except Exception as exc:
                    queue.drop(item)
                    self._shared.report(exc, "flush")
                    continue
                if prepared is None:
                    queue.remove(item)
                    continue
                item.prepared = True
                item.data, item.frame = prepared
            assert item.frame is not None
            queue.in_flight = item
            try:
                await conn.send(item.frame)
            except TransportClosed:
                # The item stays queued for the next connection; _flushing stays
                # set: no new flusher for this connection.
                return
            finally:
                queue.in_flight = None
            if queue.remove(item):
                self.sent += 1
                hook = self._shared.options.on_after_send
                if hook is not None:
                    try:
                        await call(hook, item.data)
                    except Exception as exc:
                        self._shared.report(exc, "on_after_send")
        # No checkpoint since the queue was seen empty: a put from now on starts a
        # new flusher.
        self._flushing = False
        self.note_queue_empty()

    def note_queue_empty(self) -> None:
        if not self.queue and self._queue_empty is not None:
            self._queue_empty.set()
            self._queue_empty = None

    async def wait_flushed(self) -> None:
        """Until the queue is empty. Safe to cancel."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while self.queue:
            if self._queue_empty is None:
                self._queue_empty = trio.Event()
            await self._queue_empty.wait()
        await trio.lowlevel.cancel_shielded_checkpoint()

    def clear(self) -> int:
        dropped = self.queue.clear()
        self.note_queue_empty()
        return dropped
