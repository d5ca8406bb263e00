"""The websockets transport's writer: every frame waiting at that moment in one write.

Senders frame their message into the protocol first (websockets' ``send_text`` and
friends append the bytes to its output), take a sequence number, and call
:meth:`GroupWriter.flush` with it:

- nobody writing (the usual case for one sender): this sender becomes the writer and
  writes at once -- ``send_all`` is the only schedule point, there is no lock to take;
- a write in flight: the sender waits; when the write ends, the writer takes
  everything framed meanwhile and sends it in one ``send_all`` (group commit), and
  each waiter wakes once, when the write that holds its frame is done.

A writer keeps writing batches for others at most :data:`MAX_HELP_ROUNDS` times after
its own before it hands the role to a waiting sender, so no caller is held writing for
others for long. Cancellation: a sender cancelled while it waits has handed its frame
over; it goes out, in order, with the next write. A cancel between two batches leaves
the next batch whole (the role passes on). A cancel inside ``send_all`` may leave a
partial frame: the owner is told (``write_interrupted``) and the writer is broken for good.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import trio

__all__ = ["MAX_HELP_ROUNDS", "GroupWriter", "WriterOwner"]

#: Batches a writer sends for other senders after its own before handing over.
MAX_HELP_ROUNDS = 4
#: Frames at least this large are written on their own rather than joined.
LARGE_FRAME = 16 * 1024


class WriterOwner(Protocol):
    """What the writer tells its connection (one reference, not three bound methods:
    an idle connection is smaller)."""

    def writer_broken(self) -> None:
        """The stream broke (or a write was cut): the connection is closing."""

    def write_interrupted(self) -> None:
        """A write was cancelled half-way (called before :meth:`writer_broken`)."""

    def closed_error(self) -> Exception:
        """The exception a flush raises once the writer is broken."""
        ...


_NO_OUT: list[bytes] = []  # shared while nothing was handed over (never appended to)


class GroupWriter:
    """Writes what a protocol produces to a stream, coalescing concurrent senders."""

    __slots__ = (
        "_data_to_send",
        "_inflight_event",
        "_open_event",
        "_out",
        "_owner",
        "_stream",
        "_taken",
        "_writing",
        "_written",
        "broken",
        "seq",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        data_to_send: Callable[[], list[bytes]],
        owner: WriterOwner,
    ) -> None:
        self._stream = stream
        self._data_to_send = data_to_send
        self._owner = owner
        self._out = _NO_OUT  # bytes taken from the protocol by someone else
        #: Frames handed to the protocol so far (the owner increments it per send).
        self.seq = 0
        self._taken = 0  # frames in the write in flight or written
        self._written = 0
        self._writing = False
        self._open_event: trio.Event | None = None  # waiters for the next batch
        self._inflight_event: trio.Event | None = None  # waiters in the write in flight
        #: True once a write failed or was cut: every later flush raises.
        self.broken = False

    def add(self, data: list[bytes]) -> int:
        """Queue bytes already taken from the protocol (the reader's pongs, a close
        frame); returns the sequence number to flush."""
        self._out = self._out + data if self._out else data
        self.seq += 1
        return self.seq

    async def flush(self, seq: int) -> None:
        """Return once frame ``seq`` is written, writing it (and others) if nobody is.

        Raises the owner's ``closed_error()`` when the stream broke.
        """
        while self._written < seq:
            if self.broken:
                raise self._owner.closed_error()
            if not self._writing:
                await self._write(seq)
                return
            if self._taken >= seq:  # in the write in flight
                event = self._inflight_event
                if event is None:
                    event = self._inflight_event = trio.Event()
            else:  # waiting for the next batch
                event = self._open_event
                if event is None:
                    event = self._open_event = trio.Event()
            await event.wait()

    def _take(self) -> list[bytes]:
        """Everything framed so far; its batch becomes the one in flight."""
        data = self._data_to_send()
        if self._out:
            data = self._out + data
            self._out = _NO_OUT
        self._taken = self.seq
        self._inflight_event = self._open_event
        self._open_event = None
        return data

    async def _send(self, data: list[bytes]) -> None:
        """One write for small frames together; a large frame is written as it is
        (joining it would copy it again)."""
        send_all = self._stream.send_all
        if len(data) == 1:
            await send_all(data[0])
            return
        small: list[bytes] = []
        for chunk in data:
            if len(chunk) < LARGE_FRAME:
                small.append(chunk)
                continue
            if small:
                await send_all(b"".join(small))
                small = []
            await send_all(chunk)
        if small:
            await send_all(b"".join(small))

    async def _write(self, seq: int) -> None:
        self._writing = True
        stream = self._stream
        rounds = 0
        try:
            while True:
                data = self._take()
                try:
                    await self._send(data)
                except trio.Cancelled:
                    self._owner.write_interrupted()
                    self.fail()
                    with trio.CancelScope(shield=True):  # unusable: let the reader end
                        await trio.aclose_forcefully(stream)
                    raise
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self.fail()
                    raise self._owner.closed_error() from None
                self._written = self._taken
                event = self._inflight_event
                if event is not None:
                    self._inflight_event = None
                    event.set()
                if self._written == self.seq:
                    return
                rounds += 1
                waiting = self._open_event
                if (
                    waiting is not None
                    and rounds > MAX_HELP_ROUNDS
                    and waiting.statistics().tasks_waiting
                ):
                    return  # `finally` frees the role; a waiter takes it over
                # Nothing of the next batch is written yet: a cancel here leaves it
                # whole, for a waiter or the next sender.
                await trio.lowlevel.checkpoint_if_cancelled()
        finally:
            self._writing = False
            waiting = self._open_event
            if waiting is not None and self._written < self.seq:
                waiting.set()
                self._open_event = None

    def fail(self) -> None:
        """The stream cannot be written any more: every waiting sender raises."""
        if not self.broken:
            self.broken = True
            self._owner.writer_broken()
        for event in (self._open_event, self._inflight_event):
            if event is not None:
                event.set()
        self._open_event = self._inflight_event = None
