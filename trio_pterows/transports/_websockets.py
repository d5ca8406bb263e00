"""The ``"websockets"`` transport: websockets' Sans-I/O protocol, I/O owned here.

websockets' Sans-I/O protocol (:class:`~websockets.client.ClientProtocol` for the
handshake, then :class:`~websockets.protocol.Protocol` on the client side) parses and
frames (C masking, permessage-deflate); this module owns the stream:

- one **reader** task reads up to ``receive_buffer_size`` bytes at a time, feeds the
  whole read into the protocol and runs ``handler.on_message`` inline for each message,
  in order (no task hop; awaiting it is the backpressure);
- one **writer** path (:mod:`._ws_writer`): a sender that finds nobody writing writes
  at once; senders that arrive while a write is in flight wait, and the writer then
  sends every frame waiting at that moment in one ``send_all`` (group commit);
- closing is bounded by ``params.close_timeout`` from the moment a close frame is sent
  or received or a protocol error is found (websockets sends 1002 / 1007 / 1009); then
  the stream is closed whether or not the peer hangs up.

Cancellation: ``send`` raises a pending cancel before framing anything; what a cancel
does while a frame waits or is written is in :mod:`._ws_writer`.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, cast

import trio
from websockets.exceptions import ProtocolError
from websockets.frames import Frame as WSFrame
from websockets.frames import Opcode
from websockets.protocol import Protocol

from ._base import (
    CloseInfo,
    Frame,
    HandshakeParams,
    Transport,
    TransportClosed,
    TransportHandler,
)
from ._ws_handshake import run_handshake
from ._ws_writer import GroupWriter

if TYPE_CHECKING:
    from websockets.protocol import Event
    from websockets.typing import BytesLike

__all__ = ["TRANSPORT", "WebsocketsConnection", "WebsocketsTransport"]

_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CONT = Opcode.CONT
_PONG = Opcode.PONG

#: Messages larger than this go out in fragments of this size (see ``_frame``).
FRAGMENT_SIZE = 64 * 1024


class Phase(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # a close frame sent or received, a protocol error, a broken stream
    CLOSED = "closed"  # the reader has ended


_ALLOWED = {
    Phase.OPEN: (Phase.CLOSING, Phase.CLOSED),
    Phase.CLOSING: (Phase.CLOSED,),
    Phase.CLOSED: (),
}


class WebsocketsConnection:
    """One open connection (see the module docstring); made by :class:`WebsocketsTransport`."""

    transport_name = "websockets"

    __slots__ = (
        "_close_deadline",
        "_ended",
        "_final_info",
        "_handler",
        "_parts",
        "_parts_text",
        "_phase",
        "_protocol",
        "_read_size",
        "_stream",
        "_timeout",
        "_writer",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: Protocol,
        params: HandshakeParams,
        handler: TransportHandler,
    ) -> None:
        self._stream = stream
        self._protocol = protocol
        self._handler = handler
        self._read_size = params.receive_buffer_size
        self._timeout = params.close_timeout
        self._phase = Phase.OPEN
        self._ended = trio.Event()
        self._close_deadline: float | None = None
        self._final_info: CloseInfo | None = None
        self._parts: list[BytesLike] | None = None  # a fragmented message
        self._parts_text = False
        self._writer = GroupWriter(stream, protocol.data_to_send, self)

    # -- the seam's properties ----------------------------------------------------

    @property
    def subprotocol(self) -> str | None:
        return self._protocol.subprotocol

    @property
    def extensions(self) -> tuple[str, ...]:
        return tuple(ext.name for ext in self._protocol.extensions)

    @property
    def stream(self) -> trio.abc.Stream:
        return self._stream

    @property
    def ended(self) -> trio.Event:
        return self._ended

    @property
    def close_info(self) -> CloseInfo | None:
        if self._final_info is not None:
            return self._final_info
        if self._phase is Phase.OPEN:
            return None
        return self._current_info()

    def _current_info(self) -> CloseInfo:
        protocol = self._protocol
        rcvd, sent = protocol.close_rcvd, protocol.close_sent
        if rcvd is not None and sent is not None:
            # Both close frames: clean, even if the peer that started the handshake
            # hung up before our answer got out (that is the peer's loss, not ours).
            first = rcvd if protocol.close_rcvd_then_sent else sent
            return CloseInfo(first.code, first.reason, True)
        close = sent or rcvd
        if close is not None:
            return CloseInfo(close.code, close.reason, False)
        return CloseInfo(1006, "", False)

    def _set_phase(self, phase: Phase) -> None:
        if phase not in _ALLOWED[self._phase]:
            raise AssertionError(f"connection phase {self._phase.name} -> {phase.name}")
        self._phase = phase

    def _start_closing(self) -> float:
        """Enter CLOSING (if still open); the close deadline, set on first call."""
        if self._phase is Phase.OPEN:
            self._set_phase(Phase.CLOSING)
        if self._close_deadline is None:
            self._close_deadline = trio.current_time() + self._timeout
        return self._close_deadline

    # -- sending ------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        """Hand one message to the protocol; a large one in fragments."""
        protocol = self._protocol
        if isinstance(frame, str):
            data: BytesLike = frame.encode()
            first = protocol.send_text
        else:
            data = frame
            first = protocol.send_binary
        size = len(data)
        if size <= FRAGMENT_SIZE:
            first(data)
            return
        # Framing a large message whole costs ~6x more than in cache-sized fragments
        # (0.70 vs 0.11 ms per MiB, measured): copies of 1 MiB miss the caches. The
        # fragments are framed in one go, so no other sender can come in between.
        view = memoryview(data)
        first(view[:FRAGMENT_SIZE], fin=False)
        last = size - FRAGMENT_SIZE
        for start in range(FRAGMENT_SIZE, size, FRAGMENT_SIZE):
            protocol.send_continuation(view[start : start + FRAGMENT_SIZE], fin=start >= last)

    async def send(self, frame: Frame) -> None:
        if self._phase is not Phase.OPEN:
            raise TransportClosed(self.close_info)
        await trio.lowlevel.checkpoint_if_cancelled()
        self._frame(frame)
        writer = self._writer
        writer.seq += 1
        await writer.flush(writer.seq)

    async def send_many(self, frames: Sequence[Frame]) -> None:
        if self._phase is not Phase.OPEN:
            raise TransportClosed(self.close_info)
        await trio.lowlevel.checkpoint_if_cancelled()
        for frame in frames:
            self._frame(frame)
        writer = self._writer
        writer.seq += 1
        await writer.flush(writer.seq)

    async def ping(self, payload: bytes) -> None:
        if self._phase is not Phase.OPEN:
            raise TransportClosed(self.close_info)
        await trio.lowlevel.checkpoint_if_cancelled()
        self._protocol.send_ping(payload)
        writer = self._writer
        writer.seq += 1
        await writer.flush(writer.seq)

    # -- the writer's callbacks ---------------------------------------------------

    def write_interrupted(self) -> None:
        if self._phase is Phase.OPEN:  # closing anyway otherwise: nothing to report
            self._handler.on_write_interrupted(self)

    def writer_broken(self) -> None:
        if self._phase is Phase.OPEN:
            self._set_phase(Phase.CLOSING)

    def closed_error(self) -> TransportClosed:
        return TransportClosed(self.close_info)

    async def _write_out(self, out: list[bytes]) -> None:
        """Write what the protocol produced while reading (pongs, a close frame)."""
        await self._writer.flush(self._writer.add(out))

    # -- closing ------------------------------------------------------------------

    async def aclose(self, code: int, reason: str) -> None:
        try:
            if self._phase is Phase.OPEN:
                try:
                    self._protocol.send_close(code, reason)
                except ProtocolError as exc:
                    raise ValueError(f"cannot close with code {code}: {exc}") from None
                deadline = self._start_closing()
                writer = self._writer
                writer.seq += 1
                with trio.move_on_at(deadline):
                    await writer.flush(writer.seq)
                    await self._ended.wait()
            elif self._close_deadline is not None:
                with trio.move_on_at(self._close_deadline):
                    await self._ended.wait()
        except TransportClosed:
            pass  # the stream broke: nothing left to wait for
        finally:
            if not self._ended.is_set():
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(self._stream)

    # -- the reader ---------------------------------------------------------------

    async def run_reader(self, pending: list[Event]) -> None:
        """The reader task: dispatch ``pending`` (read with the handshake), then read."""
        stream = self._stream
        protocol = self._protocol
        try:
            closing = protocol.close_expected()  # a close frame came with the upgrade
            if closing:
                self._start_closing()
            if await self._dispatch(pending) and not closing:
                out = protocol.data_to_send()
                if out:  # pongs to pings that came with the upgrade
                    await self._write_out(out)
                receive_some: Callable[[int], Awaitable[bytes | bytearray]]
                receive_some = stream.receive_some
                if type(stream) is trio.SocketStream:
                    # Its socket directly: an idle reader waits with one coroutine and
                    # one context manager fewer (~0.6 KiB per connection, measured).
                    receive_some = stream.socket.recv
                # Methods are looked up per read, not kept in locals: this frame lives
                # as long as the connection, and each bound method costs 64 bytes.
                read_size = self._read_size
                while True:
                    data = await receive_some(read_size)
                    if not data:
                        break
                    protocol.receive_data(data)
                    if protocol.close_expected():  # a close frame or a protocol error
                        with trio.move_on_at(self._start_closing()):
                            await self._dispatch(protocol.events_received())
                        break
                    if not await self._dispatch(protocol.events_received()):
                        break
                    out = protocol.data_to_send()
                    if out:  # pongs to the peer's pings
                        await self._write_out(out)
            await self._finish_closing()
        except (trio.BrokenResourceError, trio.ClosedResourceError, TransportClosed, OSError):
            self._writer.fail()
        finally:
            protocol.receive_eof()  # idempotent: the protocol is CLOSED now
            self._final_info = self._current_info()
            if self._phase is Phase.OPEN:
                self._set_phase(Phase.CLOSING)
            self._set_phase(Phase.CLOSED)
            self._writer.fail()  # senders still waiting raise TransportClosed
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
            self._handler.on_end(self)
            self._ended.set()

    async def _dispatch(self, events: list[Event]) -> bool:
        """Hand over every message and pong; False after a protocol error."""
        on_message = self._handler.on_message
        for frame in cast("list[WSFrame]", events):  # only frames once open
            opcode = frame.opcode
            if opcode is _TEXT:
                if frame.fin:
                    try:
                        text = frame.data.decode()  # type: ignore[union-attr]
                    except UnicodeDecodeError as exc:
                        return self._fail(exc)
                    await on_message(text)
                else:
                    self._parts = [frame.data]
                    self._parts_text = True
            elif opcode is _BINARY:
                if frame.fin:
                    await on_message(bytes(frame.data))
                else:
                    self._parts = [frame.data]
                    self._parts_text = False
            elif opcode is _CONT:
                parts = self._parts
                assert parts is not None  # the protocol checks continuations
                parts.append(frame.data)
                if frame.fin:
                    self._parts = None
                    whole = b"".join(parts)
                    if self._parts_text:
                        try:
                            text = whole.decode()
                        except UnicodeDecodeError as exc:
                            return self._fail(exc)
                        await on_message(text)
                    else:
                        await on_message(whole)
            elif opcode is _PONG:
                self._handler.on_pong(bytes(frame.data))
        return True

    def _fail(self, exc: UnicodeDecodeError) -> bool:
        """Invalid UTF-8 in a text message: close with 1007, as websockets does."""
        self._protocol.fail(1007, f"{exc.reason} at position {exc.start}")
        self._start_closing()
        return False

    async def _finish_closing(self) -> None:
        """The closing handshake, bounded by the close deadline: write what the
        protocol owes (our close frame, the echo of the peer's), deliver what still
        arrives before the peer's close frame, read until the peer hangs up."""
        protocol = self._protocol
        if not protocol.close_expected():  # the peer hung up without a close frame
            return
        deadline = self._start_closing()
        with trio.move_on_at(deadline):
            dispatching = True
            while True:
                out = protocol.data_to_send()
                if out:
                    await self._write_out(out)
                data = await self._stream.receive_some(self._read_size)
                if not data:
                    break
                protocol.receive_data(data)
                events = protocol.events_received()
                if dispatching:
                    dispatching = await self._dispatch(events)


class WebsocketsTransport:
    """The ``"websockets"`` engine (extra ``[websockets]``)."""

    name = "websockets"

    async def open(
        self,
        nursery: trio.Nursery,
        stream: trio.abc.Stream,
        params: HandshakeParams,
        handler: TransportHandler,
    ) -> WebsocketsConnection:
        """Run the opening handshake over ``stream``; the reader runs in ``nursery``.

        On failure the stream is closed and the error raised (:class:`HandshakeError`
        naming the cause, or the stream's error). Cancelled: the stream is closed.
        """
        try:
            protocol, pending = await run_handshake(stream, params)
        except BaseException:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
            raise
        conn = WebsocketsConnection(stream, protocol, params, handler)
        nursery.start_soon(conn.run_reader, pending)
        return conn


#: The engine the registry (:func:`trio_pterows.transports.get_transport`) hands out.
TRANSPORT: Transport = WebsocketsTransport()
