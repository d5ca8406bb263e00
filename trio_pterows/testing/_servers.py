"""TestServer: a scriptable WebSocket server for tests, and serve_echo.

Built on trio-websocket's server side (``wrap_server_stream``) over a listener
of our own, so that a test can refuse, restart on the same port, or make the
server go silent without closing anything.
"""

from __future__ import annotations

import math
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn, final

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_server_stream
from wsproto.utilities import LocalProtocolError

from .._util import single_exception
from ._acks import AckLedger
from ._chaos import _bind_listener, _close_now, _Listening, _ws_url
from ._server_io import GatedStream, Peer

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = ["TestServer", "serve_echo"]

#: The signature of a custom :class:`TestServer` handler.
Handler = Callable[["TestServer", WebSocketConnection], Awaitable[object]]


@final
class TestServer(_Listening):
    """A WebSocket server for tests, scriptable at any moment.

    It listens on 127.0.0.1, port 0 (a free port), and runs ``handler(server,
    connection)`` for every accepted WebSocket connection. The default handler
    is :meth:`echo`: every message is sent back, except the text heartbeat
    :attr:`ping_text` (``"ping"``), answered with :attr:`pong_text` (``"pong"``).
    RFC 6455 pings are answered automatically unless :attr:`auto_pong` is off.

    ::

        server = TestServer()
        async with trio.open_nursery() as nursery:
            url = await nursery.start(server.serve)     # "ws://127.0.0.1:<port>/"
            async with open_websocket_url(url) as ws:
                await ws.send_message("hi")
                assert await ws.get_message() == "hi"
                server.close_all(4000, "bye")           # client: ConnectionClosed, code 4000
            await server.restart()                      # same port, fresh listener
            nursery.cancel_scope.cancel()

    A custom handler is an async callable ``(server, connection)``; it may end
    with ``await server.echo(connection)``. When it returns, the connection is
    closed (code 1000, or the code given to :meth:`close_all`). A
    :exc:`trio_websocket.ConnectionClosed` escaping the handler is normal and
    ignored; any other exception crashes :meth:`serve` and so fails the test.

    Hooks (synchronous ones take effect before they return; the close frames of
    :meth:`close_all` leave in the background, right after):

    * :meth:`close_all` closes every connection with a close code.
    * :meth:`stop_answering` / :meth:`resume`: the server stops reading and
      writing on every connection, new ones included, without closing anything:
      pings get no pong, messages no echo, handshakes no answer. Nothing is lost;
      :meth:`resume` picks up where it stopped.
    * :meth:`refuse` rejects handshakes with an HTTP status, or with no status
      closes the listening socket (ECONNREFUSED); :meth:`accept_again` undoes it.
    * :meth:`restart` drops every connection and listens again on the same port.
    * :meth:`send_to_all` pushes a message to every client.
    * :attr:`auto_pong`, :attr:`ping_text`, :attr:`pong_text` and
      :attr:`handshake_delay` are plain attributes; change them whenever.
    * :meth:`abort_all` resets every connection (TCP RST, no close frame).
    * ``ack=True`` (or an :class:`AckLedger`): JSON messages with an ``"id"`` are
      recorded in :attr:`acks` and answered ``{"ack": <id>}``; see :class:`AckLedger`.

    Cancellation: cancelling :meth:`serve` closes the listener and every
    connection at once (the clients see an abnormal closure, 1006).
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ping_text: str | None = "ping",
        pong_text: str | None = "pong",
        auto_pong: bool = True,
        handshake_delay: float = 0.0,
        history: int = 1000,
        connect_timeout: float = 10.0,
        disconnect_timeout: float = 5.0,
        max_message_size: int = 2**20,
        ack: bool | AckLedger = False,
    ) -> None:
        if history < 0:
            raise ValueError(f"history must be >= 0, got {history!r}")
        if not (math.isfinite(handshake_delay) and handshake_delay >= 0):
            raise ValueError(f"handshake_delay must be >= 0, got {handshake_delay!r}")
        self._handler: Handler = handler if handler is not None else _echo_handler
        self._host = host
        self._port = port
        #: :meth:`echo` answers a text message equal to this with :attr:`pong_text`
        #: instead of echoing it (a message-mode heartbeat). ``None``: no special case.
        self.ping_text = ping_text
        #: The answer to :attr:`ping_text`; ``None``: heartbeat messages get no answer
        #: at all (they are still recorded in :attr:`received`).
        self.pong_text = pong_text
        #: Answer RFC 6455 ping frames (trio-websocket does so automatically). When
        #: ``False``, pong frames are dropped on their way out; messages still flow.
        self.auto_pong = auto_pong
        #: Seconds to wait before answering each WebSocket handshake.
        self.handshake_delay = handshake_delay
        #: The last ``history`` messages :meth:`echo` received, from any client.
        self.received: deque[str | bytes] = deque(maxlen=history)
        #: TCP connections in their handshake now, and the most there ever were at once.
        self.handshaking = 0
        self.max_handshaking = 0
        #: The acknowledging mode (``ack=True`` or an :class:`AckLedger`), or None.
        self.acks: AckLedger | None = AckLedger() if ack is True else ack or None
        self._connect_timeout = connect_timeout
        self._disconnect_timeout = disconnect_timeout
        self._max_message_size = max_message_size
        self._listener: trio.SocketListener | None = None
        self._serving = False
        self._peers: set[Peer] = set()
        self._answering = True
        self._reject_status: int | None = None
        self._changed = trio.Event()
        self._accepted = 0
        self._rejected = 0
        self._restarts = 0
        self._received_total = 0

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        """The port the server listens on (known once :meth:`serve` has started)."""
        if self._port == 0:
            raise RuntimeError("TestServer has no port yet: nursery.start(server.serve) first")
        return self._port

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>/``."""
        return self.url_for("/")

    def url_for(self, path: str = "/") -> str:
        """``ws://<host>:<port><path>``."""
        return _ws_url(self._host, self.port, path)

    # ------------------------------------------------------------------ counters

    @property
    def connections(self) -> int:
        """WebSocket connections currently open (handshake accepted, not yet closed)."""
        return sum(1 for peer in self._peers if peer.connection is not None)

    @property
    def accepted(self) -> int:
        """WebSocket handshakes accepted since the server was created."""
        return self._accepted

    @property
    def rejected(self) -> int:
        """Handshakes rejected with an HTTP status by :meth:`refuse`."""
        return self._rejected

    @property
    def restarts(self) -> int:
        """Completed calls to :meth:`restart`."""
        return self._restarts

    @property
    def received_total(self) -> int:
        """Messages :meth:`echo` received in total (:attr:`received` keeps the last few)."""
        return self._received_total

    @property
    def answering(self) -> bool:
        """``False`` between :meth:`stop_answering` and :meth:`resume`."""
        return self._answering

    # ------------------------------------------------------------------ hooks

    def close_all(self, code: int = 1000, reason: str = "") -> int:
        """Close every open WebSocket connection with ``code`` and ``reason``.

        Each handler is cancelled, then a close frame with ``code`` is sent, even
        during :meth:`stop_answering`. The closing handshake completes in the
        background (bounded by ``disconnect_timeout``). Returns the number of
        connections being closed.
        """
        closing = [peer for peer in self._peers if peer.connection is not None]
        for peer in closing:
            if peer.close_with is None:
                peer.close_with = (code, reason)
            peer.released = True
            peer.handler_scope.cancel()
        self._notify()
        return len(closing)

    def abort_all(self) -> int:
        """Reset every connection now: a TCP RST, no close frame, like a crashed server.

        Clients see an abnormal closure (1006); whatever they wrote that the server
        had not read yet is lost. The listener stays open. Returns the number of TCP
        connections reset.
        """
        peers = list(self._peers)
        for peer in peers:
            peer.released = True
            _close_now(peer.stream, reset=True)
            peer.cancel_scope.cancel()
        self._notify()
        return len(peers)

    def stop_answering(self) -> None:
        """Go silent: stop reading and writing on every connection, closing nothing.

        Seen from a client, the link is half-open: its pings get no pong, its
        messages no reply, a new handshake no answer. Bytes wait in the kernel.
        Undo with :meth:`resume`.
        """
        self._answering = False
        self._notify()

    def resume(self) -> None:
        """End :meth:`stop_answering`: whatever waited is read and answered now."""
        self._answering = True
        self._notify()

    def refuse(self, status: int | None = None) -> None:
        """Refuse new connections until :meth:`accept_again`.

        With an HTTP ``status`` (e.g. 503), handshakes are rejected with it: a
        trio-websocket client raises :exc:`trio_websocket.ConnectionRejected` with
        that ``status_code``. With ``None``, the listening socket is closed: the
        client's TCP connect fails (ECONNREFUSED). Open connections are untouched.
        """
        if status is not None:
            if not 300 <= status <= 599:
                raise ValueError(f"status must be an HTTP status in 300..599, got {status!r}")
            self._reject_status = status
        else:
            listener, self._listener = self._listener, None
            if listener is not None:
                listener.socket.close()
        self._notify()

    def accept_again(self) -> None:
        """Undo :meth:`refuse`: accept handshakes, listening again on the same port.

        Raises :exc:`OSError` if the port has been taken in the meantime.
        """
        self._reject_status = None
        if self._serving and self._listener is None:
            self._listener = _bind_listener(self._host, self._port)
        self._notify()

    async def restart(
        self, *, code: int | None = None, reason: str = "", downtime: float = 0.0
    ) -> None:
        """Restart the server: like a process that goes away and comes back.

        Closes the listener and every connection, waits ``downtime`` seconds
        (connects meanwhile get ECONNREFUSED), then listens again on the same port.
        With ``code=None`` connections are simply closed (clients see 1006);
        with a code they get a close frame first (e.g. 1012, "service restart").
        :meth:`refuse` and :meth:`stop_answering` are reset: the new "process"
        accepts and answers. Returns once the server accepts again.

        Cancellation: if cancelled, the server may be left not listening; call
        :meth:`accept_again` to listen again.
        """
        if not self._serving:
            raise RuntimeError("TestServer.restart() needs a running serve()")
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.socket.close()
        if code is not None:
            self.close_all(code, reason)
        for peer in list(self._peers):
            if code is None or peer.connection is None:
                peer.released = True
                _close_now(peer.stream, reset=False)
                peer.cancel_scope.cancel()
        self._answering = True
        self._reject_status = None
        self._notify()
        await self._wait_until(lambda: not self._peers)
        await trio.sleep(downtime)
        self.accept_again()
        self._restarts += 1

    async def send_to_all(self, message: str | bytes) -> int:
        """Send ``message`` to every open connection; return how many got it.

        Connections that close meanwhile are skipped. Blocks while the server is
        not answering (:meth:`stop_answering`). If cancelled, some clients may have
        received the message and others not.
        """
        sent = 0
        for peer in list(self._peers):
            connection = peer.connection
            if connection is None:
                continue
            try:
                await connection.send_message(message)
            except ConnectionClosed:
                continue
            sent += 1
        await trio.lowlevel.checkpoint()
        return sent

    async def send_acked(self, message: Mapping[str, Any]) -> int:
        """Send ``message`` (a JSON object with an id) to every client and to every new
        connection until a client acks it; return how many got it now."""
        if self.acks is None:
            raise RuntimeError("send_acked() needs the acknowledging mode: TestServer(ack=True)")
        return await self.send_to_all(self.acks.keep(dict(message)))

    async def wait_connections(self, count: int) -> None:
        """Wait until exactly ``count`` WebSocket connections are open. Safe to cancel."""
        await self._wait_until(lambda: self.connections == count)

    async def wait_accepted(self, total: int) -> None:
        """Wait until :attr:`accepted` reaches ``total``. Safe to cancel."""
        await self._wait_until(lambda: self._accepted >= total)

    async def wait_received(self, total: int) -> None:
        """Wait until :attr:`received_total` reaches ``total``. Safe to cancel."""
        await self._wait_until(lambda: self._received_total >= total)

    async def wait_ids(self, total: int) -> None:
        """Wait until :attr:`AckLedger.total` reaches ``total``. Safe to cancel."""
        acks = self.acks
        if acks is None:
            raise RuntimeError("wait_ids() needs the acknowledging mode: TestServer(ack=True)")
        await self._wait_until(lambda: acks.total >= total)

    # ------------------------------------------------------------------ handlers

    async def echo(self, connection: WebSocketConnection) -> None:
        """The default handler: echo every message, answer the text heartbeat.

        Records each message in :attr:`received`. In the acknowledging mode, a
        message with an id is answered with its ack instead of its echo, and a
        client's ack of a :meth:`send_acked` message is recorded, not echoed.
        Returns when the connection closes. Usable at the end of a custom handler.
        """
        while True:
            try:
                message = await connection.get_message()
            except ConnectionClosed:
                return
            self.received.append(message)
            self._received_total += 1
            self._notify()
            acks = self.acks
            if acks is not None:
                id, is_ack = acks.record(message)
                if is_ack:
                    continue
                if id is not None:
                    if acks.take_drop("received"):
                        self.abort_all()
                        return
                    await connection.send_message(acks.answer(id))
                    if acks.take_drop("answered"):
                        self.abort_all()
                        return
                    continue
            if isinstance(message, str) and message == self.ping_text:
                if self.pong_text is not None:
                    await connection.send_message(self.pong_text)
                continue
            await connection.send_message(message)

    # ------------------------------------------------------------------ serving

    async def serve(
        self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Listen and serve until cancelled; ``url = await nursery.start(server.serve)``.

        Reports :attr:`url` once it listens. Can be started again after it was
        cancelled: it then listens on the same port. Cancelling it closes the
        listener and every connection at once.
        """
        await self._accept_loop("TestServer", self._serve_peer, task_status)

    async def _wait_until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._changed.wait()
        await trio.lowlevel.checkpoint()

    async def _wait_answering(self, peer: Peer) -> None:
        await self._wait_until(lambda: self._answering or peer.released)

    async def _serve_peer(self, stream: trio.SocketStream) -> None:
        peer = Peer(stream)
        self._peers.add(peer)
        try:
            with peer.cancel_scope:
                async with trio.open_nursery() as nursery:
                    await self._run_peer(nursery, peer)
                    nursery.cancel_scope.cancel()  # trio-websocket's reader task
        except BaseExceptionGroup as group:
            # trio-websocket's server answers a ping that crossed its own close frame,
            # which wsproto refuses (LocalProtocolError in its reader): a legal race on
            # the client's side. That peer is done; the server goes on.
            if not isinstance(single_exception(group), LocalProtocolError):
                raise
        finally:
            self._peers.discard(peer)
            self._notify()
            await trio.aclose_forcefully(stream)

    async def _run_peer(self, nursery: trio.Nursery, peer: Peer) -> None:
        self.handshaking += 1
        self.max_handshaking = max(self.max_handshaking, self.handshaking)
        try:
            with trio.move_on_after(self._connect_timeout):
                await self._handshake(nursery, peer)
        finally:
            self.handshaking -= 1
        if peer.connection is None:
            return  # refused, or the handshake did not finish in time
        try:
            with peer.handler_scope:
                if self.acks is not None:
                    for text in self.acks.unacked_messages():  # send_acked(), not acked yet
                        await peer.connection.send_message(text)
                await self._handler(self, peer.connection)
        except ConnectionClosed:
            pass
        code, reason = peer.close_with or (1000, "")
        with trio.move_on_after(self._disconnect_timeout):
            await peer.connection.aclose(code, reason)

    async def _handshake(self, nursery: trio.Nursery, peer: Peer) -> None:
        request = await wrap_server_stream(
            nursery,
            GatedStream(
                peer.stream,
                wait=lambda: self._wait_answering(peer),
                strip_pongs=lambda: not self.auto_pong,
            ),
            max_message_size=self._max_message_size,
        )
        await trio.sleep(self.handshake_delay)
        status = self._reject_status
        if status is not None:
            self._rejected += 1
            await request.reject(status)
            return
        try:
            connection = await request.accept()
        except ConnectionClosed:
            return
        peer.connection = connection
        self._accepted += 1
        self._notify()


async def _echo_handler(server: TestServer, connection: WebSocketConnection) -> None:
    await server.echo(connection)


async def serve_echo(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    task_status: trio.TaskStatus[TestServer] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Run an echo :class:`TestServer` until cancelled; reports the server itself.

    ::

        server = await nursery.start(serve_echo)
        async with open_websocket_url(server.url) as ws:
            ...

    The server is a default :class:`TestServer` (all its hooks work). Cancelling
    closes the listener and every connection.
    """
    server = TestServer(host=host, port=port)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        task_status.started(server)
        await trio.sleep_forever()
    raise AssertionError("unreachable")  # pragma: no cover
