"""ChaosProxy: a TCP proxy that breaks the network on command.

Put it between a client and any TCP server (usually a WebSocket server) and
inject faults from the test at any moment: reset every connection, turn the
link into a black hole, add latency, cut a frame in half, refuse connections.

Also home to the small socket helpers shared with :mod:`._servers`
(synchronous bind on a fixed port, synchronous close / reset).
"""

from __future__ import annotations

import copy
import math
import socket
import struct
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn, final

import trio

__all__ = ["ChaosProxy"]

_HTTP_END = b"\r\n\r\n"


def _bind_listener(host: str, port: int) -> trio.SocketListener:
    """Listen on ``host:port`` synchronously (numeric host; ``port=0``: any free port).

    Synchronous on purpose: ``refuse()`` / ``accept_again()`` take effect before
    they return, so a test never races the kernel's accept backlog.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if sys.platform == "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            # Re-listening on the same port must work while old connections linger
            # in TIME_WAIT (restart, accept_again).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return trio.SocketListener(trio.socket.from_stdlib_socket(sock))


def _listener_port(listener: trio.SocketListener) -> int:
    port = listener.socket.getsockname()[1]
    assert isinstance(port, int)
    return port


def _ws_url(host: str, port: int, path: str) -> str:
    netloc = f"[{host}]" if ":" in host else host
    if not path.startswith("/"):
        path = "/" + path
    return f"ws://{netloc}:{port}{path}"


def _close_now(stream: trio.SocketStream | None, *, reset: bool) -> None:
    """Close ``stream``'s socket at once, without a checkpoint.

    ``reset=True`` sends a TCP RST (SO_LINGER 0): the peer sees ECONNRESET.
    ``reset=False`` sends a FIN after any data already written. Tasks blocked on
    the socket wake up with :exc:`trio.ClosedResourceError`. Idempotent.
    """
    if stream is None:
        return
    sock = stream.socket
    if sock.fileno() == -1:
        return
    try:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # already disconnected: closing is all that is left to do
    sock.close()


class _FrameTracker:
    """Follows unit boundaries in a server→client WebSocket byte stream.

    Units are the HTTP handshake response, then each frame (header + payload).
    Sans-I/O; used by :meth:`ChaosProxy.cut_mid_frame` to cut strictly inside a
    unit. On a stream that is not WebSocket it stays in the "HTTP" unit forever,
    which makes the cut fall back to "half of the chunk".
    """

    def __init__(self) -> None:
        self._in_http = True
        self._http_matched = 0
        self._header = b""
        self._in_payload = False
        self._payload_left = 0

    def feed(self, data: bytes) -> None:
        """Advance past ``data`` (bytes that were forwarded)."""
        self._walk(data, first_unit_only=False)

    def cut_point(self, data: bytes) -> int:
        """Where to cut ``data`` so that the unit it starts in stays incomplete.

        Returns ``p`` with ``0 <= p < len(data)``: forwarding ``data[:p]`` withholds
        at least one byte of that unit.
        """
        end = copy.copy(self)._walk(data, first_unit_only=True)
        return end // 2

    def _walk(self, data: bytes, *, first_unit_only: bool) -> int:
        i, n = 0, len(data)
        while i < n:
            unit_done = False
            if self._in_http:
                while i < n:
                    byte = data[i]
                    i += 1
                    if byte == _HTTP_END[self._http_matched]:
                        self._http_matched += 1
                    else:
                        self._http_matched = 1 if byte == _HTTP_END[0] else 0
                    if self._http_matched == len(_HTTP_END):
                        self._in_http = False
                        unit_done = True
                        break
            elif self._in_payload:
                take = min(self._payload_left, n - i)
                i += take
                self._payload_left -= take
                if self._payload_left == 0:
                    self._in_payload = False
                    unit_done = True
            else:
                need = _header_size(self._header)
                take = min(need - len(self._header), n - i)
                self._header += data[i : i + take]
                i += take
                if len(self._header) == _header_size(self._header):
                    self._payload_left = _payload_size(self._header)
                    self._header = b""
                    if self._payload_left:
                        self._in_payload = True
                    else:
                        unit_done = True
            if unit_done and first_unit_only:
                return i
        return n


def _header_size(header: bytes) -> int:
    """Total header size of a frame, as far as the bytes seen so far tell."""
    if len(header) < 2:
        return 2
    short = header[1] & 0x7F
    size = 2 + (2 if short == 126 else 8 if short == 127 else 0)
    return size + (4 if header[1] & 0x80 else 0)


def _payload_size(header: bytes) -> int:
    short = header[1] & 0x7F
    if short == 126:
        return int.from_bytes(header[2:4], "big")
    if short == 127:
        return int.from_bytes(header[2:10], "big")
    return short


@final
class _Link:
    """One proxied connection: the client side, the upstream side, one cancel scope."""

    def __init__(self, client: trio.SocketStream) -> None:
        self.client = client
        self.upstream: trio.SocketStream | None = None
        self.cancel_scope = trio.CancelScope()
        self.cut_armed = False
        self.dead = False

    def kill(self, *, reset: bool) -> None:
        """Close both sides now (RST or FIN) and cancel the link's tasks."""
        self.dead = True
        _close_now(self.client, reset=reset)
        _close_now(self.upstream, reset=reset)
        self.cancel_scope.cancel()


class _Listening:
    """The accept loop TestServer and ChaosProxy share: a listener that refuse() may
    close and accept_again() reopen on the same port while serve() runs."""

    _host: str
    _port: int
    _listener: trio.SocketListener | None
    _serving: bool
    _changed: trio.Event

    @property
    def url(self) -> str:  # pragma: no cover - both subclasses define it
        raise NotImplementedError

    async def _accept_loop(
        self,
        what: str,
        handler: Callable[[trio.SocketStream], Awaitable[None]],
        task_status: trio.TaskStatus[str],
    ) -> NoReturn:
        if self._serving:
            raise RuntimeError(f"{what}.serve() is already running")
        self._serving = True
        try:
            first = _bind_listener(self._host, self._port)
            self._listener = first
            self._port = _listener_port(first)
            async with trio.open_nursery() as nursery:
                task_status.started(self.url)
                while True:
                    listener = self._current_listener()
                    if listener is None:
                        await self._changed.wait()
                        continue
                    try:
                        stream = await listener.accept()
                    except trio.ClosedResourceError:
                        continue  # refuse() or restart() closed it under us
                    nursery.start_soon(handler, stream)
        finally:
            self._serving = False
            last, self._listener = self._listener, None
            if last is not None:
                last.socket.close()

    def _current_listener(self) -> trio.SocketListener | None:
        # A method, not the attribute, so that type narrowing does not forget that
        # refuse() may set it to None while serve() waits.
        return self._listener

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()


@final
class ChaosProxy(_Listening):
    """A TCP proxy for tests that injects network faults on command.

    It listens on ``host`` (127.0.0.1) port 0 and forwards every accepted
    connection to ``target_host:target_port``, byte for byte, both ways. Every
    fault method is synchronous and may be called at any moment from the test
    (or from a callback); it takes effect before it returns.

    ::

        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_echo)         # or any TCP server
            proxy = ChaosProxy("127.0.0.1", server.port)
            url = await nursery.start(proxy.serve)           # "ws://127.0.0.1:<port>/"
            async with open_websocket_url(proxy.url_for("/chat")) as ws:
                proxy.blackhole()        # nothing flows, sockets stay open
                ...
                proxy.restore()          # held bytes flow again, in order
                proxy.drop()             # RST on every connection
            nursery.cancel_scope.cancel()

    Faults:

    * :meth:`drop` resets every live connection (both sides see ECONNRESET).
    * :meth:`blackhole` / :meth:`restore`: while black-holed the proxy stops
      *reading* both ways; nothing is discarded. Bytes wait in the kernel's socket
      buffers (TCP flow control bounds them), as during a network partition that
      heals: after :meth:`restore` they are delivered in order. To lose the link
      for good, call :meth:`drop` as well. New connections are still accepted
      during a black hole, but their handshake bytes do not flow.
    * :meth:`delay` adds latency to each chunk read afterwards, each way. Chunks
      keep their order; at most ``max_in_flight`` chunks wait per direction
      (then reading pauses: backpressure, not unbounded buffering).
    * :meth:`cut_mid_frame` forwards only part of the next server→client chunk on
      each live connection, cut strictly inside a WebSocket frame (or inside the
      handshake response, if that is what is in flight), then closes both sides
      with a FIN: the client sees an abnormal closure (1006), never the message.
    * :meth:`refuse` / :meth:`accept_again`: the listening socket is closed, so new
      connections get ECONNREFUSED; live connections are untouched. The same port
      is used again by :meth:`accept_again`.

    A connection whose upstream connect fails (or takes over ``connect_timeout``)
    is reset. A peer's RST is passed on as an RST to the other side; a FIN is
    passed on as a FIN (half-close), so clean WebSocket closes work through it.

    Cancellation: cancelling :meth:`serve` closes the listener and every proxied
    connection (FIN, or RST when unread data remains).
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        chunk_size: int = 65536,
        max_in_flight: int = 16,
        connect_timeout: float = 10.0,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight!r}")
        #: Where connections are forwarded to.
        self.target_host = target_host
        #: Where connections are forwarded to.
        self.target_port = target_port
        self._host = host
        self._port = port
        self._chunk_size = chunk_size
        self._max_in_flight = max_in_flight
        self._connect_timeout = connect_timeout
        self._listener: trio.SocketListener | None = None
        self._serving = False
        self._links: set[_Link] = set()
        self._flowing = trio.Event()
        self._flowing.set()
        self._latency = 0.0
        self._changed = trio.Event()
        self._connections_total = 0
        self._faults_injected = 0
        self._bytes_forwarded = 0
        self._connections_dropped = 0
        self._connections_cut = 0

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        """The port the proxy listens on (known once :meth:`serve` has started)."""
        if self._port == 0:
            raise RuntimeError(
                "ChaosProxy has no port yet: start it with nursery.start(proxy.serve)"
            )
        return self._port

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>/``."""
        return self.url_for("/")

    def url_for(self, path: str = "/") -> str:
        """``ws://<host>:<port><path>``: a WebSocket URL that goes through the proxy."""
        return _ws_url(self._host, self.port, path)

    # ------------------------------------------------------------------ counters

    @property
    def connections_total(self) -> int:
        """TCP connections accepted since the proxy was created."""
        return self._connections_total

    @property
    def live_connections(self) -> int:
        """Connections currently being proxied (including ones still connecting upstream)."""
        return len(self._links)

    @property
    def faults_injected(self) -> int:
        """Calls to :meth:`drop`, :meth:`blackhole`, :meth:`delay` (> 0),
        :meth:`cut_mid_frame` and :meth:`refuse`."""
        return self._faults_injected

    @property
    def bytes_forwarded(self) -> int:
        """Bytes written to either side so far."""
        return self._bytes_forwarded

    @property
    def connections_dropped(self) -> int:
        """Connections reset by :meth:`drop`."""
        return self._connections_dropped

    @property
    def connections_cut(self) -> int:
        """Connections actually cut by :meth:`cut_mid_frame` (a chunk arrived and was cut)."""
        return self._connections_cut

    @property
    def blackholed(self) -> bool:
        """Whether :meth:`blackhole` is in effect."""
        return not self._flowing.is_set()

    @property
    def latency(self) -> float:
        """The latency :meth:`delay` set, in seconds (0: none)."""
        return self._latency

    @property
    def refusing(self) -> bool:
        """Whether :meth:`refuse` is in effect."""
        return self._serving and self._listener is None

    # ------------------------------------------------------------------ faults

    def drop(self) -> int:
        """Reset every live connection, both sides, now (TCP RST).

        The client sees a broken connection (a WebSocket client: abnormal
        closure, 1006). New connections are still accepted. Returns the number of
        connections dropped.
        """
        self._faults_injected += 1
        links = list(self._links)
        for link in links:
            link.kill(reset=True)
        self._connections_dropped += len(links)
        return len(links)

    def blackhole(self) -> None:
        """Stop forwarding bytes both ways, keeping every socket open.

        A half-open link as both ends see it: sends succeed (until socket buffers
        fill), nothing arrives. Bytes are held, not discarded: see the class
        docstring. Undo with :meth:`restore`.
        """
        self._faults_injected += 1
        if self._flowing.is_set():
            self._flowing = trio.Event()

    def restore(self) -> None:
        """End a :meth:`blackhole`: held bytes are delivered, in order."""
        self._flowing.set()

    def delay(self, seconds: float) -> None:
        """Add ``seconds`` of latency to every chunk read from now on, each way.

        ``0`` turns it off (chunks already waiting keep their deadline). Ordering
        is preserved.
        """
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"delay must be a finite number of seconds >= 0, got {seconds!r}")
        if seconds > 0:
            self._faults_injected += 1
        self._latency = float(seconds)

    def cut_mid_frame(self) -> int:
        """Arm every live connection to be cut inside the next server→client frame.

        When the next chunk from the server arrives on an armed connection, only
        part of it is forwarded (at least one byte of the frame it starts in is
        withheld; possibly nothing at all), then both sides are closed. Returns
        the number of connections armed; connections opened later are not armed.
        """
        self._faults_injected += 1
        for link in self._links:
            link.cut_armed = True
        return len(self._links)

    def refuse(self) -> None:
        """Stop accepting: close the listening socket now (clients get ECONNREFUSED).

        Live connections keep working; pair with :meth:`drop` for a full outage.
        """
        self._faults_injected += 1
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.socket.close()
        self._notify()

    def accept_again(self) -> None:
        """Listen again, on the same port, after :meth:`refuse`. No-op otherwise.

        Raises :exc:`OSError` if the port has been taken in the meantime.
        """
        if self._serving and self._listener is None:
            self._listener = _bind_listener(self._host, self._port)
            self._notify()

    async def wait_connections(self, count: int) -> None:
        """Wait until exactly ``count`` connections are live.

        Safe to cancel.
        """
        while len(self._links) != count:
            await self._changed.wait()
        await trio.lowlevel.checkpoint()

    # ------------------------------------------------------------------ serving

    async def serve(
        self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Listen and proxy until cancelled; ``url = await nursery.start(proxy.serve)``.

        Reports :attr:`url` once it listens. Can be started again after it was
        cancelled; it then listens on the same port. Cancelling it closes the
        listener and every proxied connection.
        """
        await self._accept_loop("ChaosProxy", self._proxy, task_status)

    async def _proxy(self, client: trio.SocketStream) -> None:
        link = _Link(client)
        self._links.add(link)
        self._connections_total += 1
        self._notify()
        try:
            with link.cancel_scope:
                with trio.move_on_after(self._connect_timeout):
                    try:
                        upstream = await trio.open_tcp_stream(self.target_host, self.target_port)
                    except OSError:
                        pass
                    else:
                        link.upstream = upstream
                if link.upstream is None or link.dead:
                    link.kill(reset=True)
                    return
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pipe, link, client, link.upstream, False)
                    nursery.start_soon(self._pipe, link, link.upstream, client, True)
        finally:
            self._links.discard(link)
            self._notify()
            # Synchronous: under cancellation, a checkpoint between the two closes
            # would leak the second socket.
            client.socket.close()
            if link.upstream is not None:
                link.upstream.socket.close()

    async def _pipe(
        self,
        link: _Link,
        source: trio.SocketStream,
        sink: trio.SocketStream,
        downstream: bool,
    ) -> None:
        """One direction: a reader and a writer joined by a bounded channel.

        The channel holds (deadline, chunk) so latency is per chunk, not cumulative.
        """
        send_channel, receive_channel = trio.open_memory_channel[tuple[float, bytes]](
            self._max_in_flight
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read_side, link, source, send_channel)
            await self._write_side(link, receive_channel, sink, downstream)

    async def _read_side(
        self,
        link: _Link,
        source: trio.SocketStream,
        channel: trio.MemorySendChannel[tuple[float, bytes]],
    ) -> None:
        async with channel:
            while True:
                await self._flowing.wait()
                try:
                    data = await source.receive_some(self._chunk_size)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    link.kill(reset=True)  # pass the reset on
                    return
                if not data:
                    return  # EOF: closing the channel makes the writer send a FIN
                await channel.send((trio.current_time() + self._latency, bytes(data)))

    async def _write_side(
        self,
        link: _Link,
        channel: trio.MemoryReceiveChannel[tuple[float, bytes]],
        sink: trio.SocketStream,
        downstream: bool,
    ) -> None:
        tracker = _FrameTracker() if downstream else None
        async with channel:
            async for deadline, data in channel:
                await trio.sleep_until(deadline)
                await self._flowing.wait()
                cutting = tracker is not None and link.cut_armed
                if tracker is not None:
                    if cutting:
                        data = data[: tracker.cut_point(data)]
                    else:
                        tracker.feed(data)
                try:
                    if data:
                        await sink.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    link.kill(reset=True)
                    return
                self._bytes_forwarded += len(data)
                if cutting:
                    self._connections_cut += 1
                    link.kill(reset=False)
                    return
            try:
                await sink.send_eof()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                link.kill(reset=True)
