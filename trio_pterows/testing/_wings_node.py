"""FakeWings' node: the console websocket server, as new Wings behaves.

Handshake: 404 for another path or a deleted server, 403 for a wrong ``Origin``, 400
``{"error":"Too many open websocket connections."}`` past ``max_sockets`` open sockets;
a socket that opens on a suspended server is closed 4409 "server is suspended".
Frames: over ``read_limit`` bytes closes 1009; non-text or non-frame messages are
dropped; the rate limiter runs first, then the token check, then the handler.
Outbound: Wings' ``SendJson`` (the token is checked first: an expired or denylisted
one turns every event into ``jwt error``), with the permission filters (install output
``admin.websocket.install``, transfer logs ``admin.websocket.transfer``, backups
``backup.read``). Inbound frames are handled one at a time, in order.
"""

from __future__ import annotations

import socket
import struct
import uuid as uuid_module
from collections import deque
from collections.abc import Callable
from typing import Final

import trio
import trio_websocket
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest

from trio_pterows.pterodactyl._events import (
    AUTH,
    JWT_EXPIRED_TEXT,
    SEND_COMMAND,
    SEND_LOGS,
    SEND_STATS,
    SET_STATE,
)
from trio_pterows.pterodactyl._frames import encode_frame, parse_client_frame

from ._wings_config import FakeWingsConfig
from ._wings_records import Close, Drop, NodeConnection, NodeCounters, Outbound, Session
from ._wings_server import ServerModel
from ._wings_tokens import TokenIssuer

__all__ = ["NodeConnection", "WingsNode", "error_event"]

_HANDSHAKE_TIMEOUT: Final = 10.0
_CLOSE_TIMEOUT: Final = 5.0
_UNEXPECTED_ERROR: Final = "an unexpected error was encountered while handling this request"
SUSPENDED_REASON: Final = "server is suspended"
_TOO_MANY: Final = b'{"error":"Too many open websocket connections."}'


def error_event(text: str) -> str:
    """Wings' ``SendErrorJson`` format."""
    return f"Error Event [{uuid_module.uuid4()}]: {text}"


class WingsNode:
    """The node side of one FakeWings."""

    def __init__(
        self,
        config: FakeWingsConfig,
        server: ServerModel,
        tokens: TokenIssuer,
        notify: Callable[[], None],
    ) -> None:
        self._config = config
        self._server = server
        self._tokens = tokens
        self._notify = notify
        self.sessions: set[Session] = set()
        self.counters = NodeCounters()
        self.connections: deque[NodeConnection] = deque(maxlen=config.history)
        self.origins_seen: deque[str | None] = deque(maxlen=config.history)

    # ------------------------------------------------------------------ handshake

    async def handle_stream(self, stream: trio.abc.Stream) -> None:
        async with trio.open_nursery() as nursery:
            request: WebSocketRequest | None = None
            with trio.move_on_after(_HANDSHAKE_TIMEOUT):
                try:
                    request = await trio_websocket.wrap_server_stream(nursery, stream)
                except ConnectionClosed:
                    request = None
            try:
                if request is not None:
                    await self._handle_request(request, stream)
            finally:
                nursery.cancel_scope.cancel()
                await trio.aclose_forcefully(stream)

    def _refusal(self, path: str, origin: str | None) -> int | None:
        config = self._config
        if path.partition("?")[0] != f"/api/servers/{config.server_uuid}/ws" or (
            self._server.deleted
        ):
            return 404
        allowed = config.allowed_origins
        if origin is None or not (
            origin == config.panel_origin or origin in allowed or "*" in allowed
        ):
            return 403
        if len(self.sessions) >= config.max_sockets:
            return 400
        return None

    async def _handle_request(self, request: WebSocketRequest, stream: trio.abc.Stream) -> None:
        headers = tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers
        )
        origin = next((v for k, v in headers if k.lower() == "origin"), None)
        self.counters.connection_ids += 1
        size = self._config.frames_per_connection
        record = NodeConnection(
            id=self.counters.connection_ids,
            path=request.path,
            origin=origin,
            headers=headers,
            received=deque(maxlen=size),
            sent=deque(maxlen=size),
        )
        self.connections.append(record)
        self.origins_seen.append(origin)
        status = self._refusal(request.path, origin)
        if status is not None:
            record.rejected_status = status
            self.counters.rejected += 1
            self._notify()
            body = _TOO_MANY if status == 400 else None
            try:
                await request.reject(status, body=body)
            except ConnectionClosed:
                pass
            return
        try:
            ws = await request.accept()
        except ConnectionClosed:
            return
        await self._run_session(record, ws, stream)

    async def _run_session(
        self, record: NodeConnection, ws: WebSocketConnection, stream: trio.abc.Stream
    ) -> None:
        record.accepted = True
        record.open = True
        self.counters.accepted += 1
        send, receive = trio.open_memory_channel[Outbound](self._config.outbound_buffer)
        session = Session(record, ws, stream, send, receive, self._config.limiter())
        self.sessions.add(session)
        self._notify()
        try:
            if self._server.suspended:
                self.enqueue(session, Close(4409, SUSPENDED_REASON))
            with session.cancel_scope:
                async with trio.open_nursery() as nursery:
                    session.nursery = nursery
                    nursery.start_soon(self._writer, session)
                    await self._reader(session)
                    # Closed by the peer or by us: let the writer finish (a close
                    # handshake), then stop.
                    send.close()
                    with trio.move_on_after(_CLOSE_TIMEOUT):
                        await session.writer_done.wait()
                    nursery.cancel_scope.cancel()
            if not record.dropped:
                await ws.aclose()
        finally:
            self.sessions.discard(session)
            record.open = False
            if ws.closed is not None and record.close_code is None and not record.dropped:
                record.close_code = ws.closed.code
                record.close_reason = ws.closed.reason
            self._notify()

    async def _reader(self, session: Session) -> None:
        while True:
            try:
                message = await session.ws.get_message()
            except ConnectionClosed:
                return
            session.record.received.append(message)
            size = len(message) if isinstance(message, bytes) else len(message.encode())
            if size > self._config.read_limit:
                self.enqueue(session, Close(1009, ""))  # gorilla's read limit
                return
            if isinstance(message, str):
                self._on_frame(session, message)
            self._notify()

    async def _writer(self, session: Session) -> None:
        try:
            async for item in session.receive:
                if isinstance(item, Drop):
                    self.drop(session, reset=False)
                    return
                if isinstance(item, Close):
                    session.record.close_code = item.code
                    session.record.close_reason = item.reason
                    with trio.move_on_after(_CLOSE_TIMEOUT):
                        await session.ws.aclose(item.code, item.reason)
                    return
                try:
                    await session.ws.send_message(item)
                except ConnectionClosed:
                    return
                session.record.sent.append(item)
        finally:
            session.writer_done.set()

    # ------------------------------------------------------------------ outbound

    def enqueue(self, session: Session, item: Outbound) -> None:
        if session.record.dropped:
            return
        try:
            session.send.send_nowait(item)
        except trio.WouldBlock:
            self.counters.overflow_drops += 1
            self.drop(session, reset=False)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the connection is going away

    def send_checked(self, session: Session, frame: str) -> None:
        """Wings' ``SendJson``: replaced by ``jwt error`` while the token is not valid."""
        problem = self._tokens.problem(session.token, trio.current_time())
        self.enqueue(session, encode_frame("jwt error", problem) if problem else frame)

    def for_each(self, action: Callable[[Session], object]) -> None:
        """``action(session)`` for every open socket."""
        for session in list(self.sessions):
            action(session)

    def authed(self) -> list[Session]:
        return [s for s in self.sessions if s.token is not None]

    def publish(self, frame: str, permission: str | None = None) -> None:
        """To every authenticated socket whose token may see it (see the module doc)."""
        now = trio.current_time()
        for session in self.authed():
            assert session.token is not None
            if permission is not None and (
                not session.token.allows(permission) or self._tokens.problem(session.token, now)
            ):
                continue
            self.send_checked(session, frame)

    def close(self, session: Session, code: int, reason: str) -> None:
        self.enqueue(session, Close(code, reason))

    def drop_after_queue(self, session: Session) -> None:
        """Drop the socket (no close frame) after what is already queued went out."""
        self.enqueue(session, Drop())

    def drop(self, session: Session, *, reset: bool) -> None:
        if session.record.dropped:
            return
        session.record.dropped = True
        if reset and isinstance(session.stream, trio.SocketStream):
            try:
                session.stream.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            except OSError:
                pass
        session.cancel_scope.cancel()

    def notify_tokens(self) -> None:
        """Tell every authenticated socket whose token just went bad (at once)."""
        now = trio.current_time()
        for session in self.authed():
            problem = self._tokens.problem(session.token, now)
            if problem is not None:
                self.enqueue(session, encode_frame("jwt error", problem))

    # ------------------------------------------------------------------ inbound

    def _on_frame(self, session: Session, message: str) -> None:
        parsed = parse_client_frame(message)
        if parsed is None:
            return
        event, args = parsed
        now = trio.current_time()
        refused = session.limiter.check(event, now)
        if refused is not None:
            if refused != "global":
                session.throttled.discard("global")
            if refused not in session.throttled:
                session.throttled.add(refused)
                self.counters.throttled_sent += 1
                self.enqueue(session, encode_frame("throttled", refused))
            return
        session.throttled.discard("global")
        session.throttled.discard(event)
        argument = "".join(args)
        if event == AUTH:
            self._on_auth(session, argument, now)
            return
        problem = self._tokens.problem(session.token, now)
        if problem is not None:
            self.enqueue(session, encode_frame("jwt error", problem))
            return
        assert session.token is not None
        server = self._server
        if event == SET_STATE:
            needed = "control.stop" if argument == "kill" else f"control.{argument}"
            if argument in ("start", "stop", "restart", "kill") and not session.token.allows(
                needed
            ):
                return
            failure = server.power(argument)
            if failure is not None:
                self._daemon_error(session, failure)
        elif event == SEND_LOGS:
            if server.status != "offline":
                for line in server.log:
                    self.send_checked(session, encode_frame("console output", line))
        elif event == SEND_STATS:
            self.send_checked(session, encode_frame("stats", server.stats_arg()))
        elif event == SEND_COMMAND and session.token.allows("control.console"):
            server.command(argument)

    def _daemon_error(self, session: Session, text: str) -> None:
        # SendErrorJson: no token check; the real text only for admin.websocket.errors.
        token = session.token
        real = token is not None and token.allows("admin.websocket.errors")
        text = error_event(text if real else _UNEXPECTED_ERROR)
        self.enqueue(session, encode_frame("daemon error", text))

    def _on_auth(self, session: Session, raw: str, now: float) -> None:
        self.counters.auths_received += 1
        session.record.auths += 1
        token = self._tokens.decode(raw)
        if token is None:  # malformed or wrongly signed: not a JWT error in Wings
            self._daemon_error(session, "signature is invalid")
            return
        problem = self._tokens.problem(token, now)
        if problem is not None:  # a failed re-auth keeps the old token
            self.enqueue(session, encode_frame("jwt error", error_event(problem)))
            return
        first = session.token is None
        session.token = token
        self.counters.auth_successes += 1
        self.enqueue(session, encode_frame("auth success"))
        if not first:
            return
        assert session.nursery is not None
        session.nursery.start_soon(self._check_token, session)
        server = self._server
        self.send_checked(session, encode_frame("status", server.status))
        if server.status == "offline" and not (server.installing or server.transferring):
            self.send_checked(session, encode_frame("stats", server.stats_arg()))

    async def _check_token(self, session: Session) -> None:
        """Wings' 30 s ticker: ``token expiring`` ahead; once expired, ``token expired``
        only in the very second of ``exp`` (SendJson already refuses it), else the
        ``jwt error`` it turns into, at every tick."""
        interval = self._config.check_interval
        next_check = trio.current_time() + interval
        while True:
            await trio.sleep_until(next_check)
            next_check += interval
            token = session.token
            assert token is not None
            now = trio.current_time()
            problem = self._tokens.problem(token, now)
            if problem == JWT_EXPIRED_TEXT and 0 <= now - token.expires_at < 1.0:
                self.enqueue(session, encode_frame("token expired"))
            elif problem is not None:
                self.enqueue(session, encode_frame("jwt error", problem))
            elif token.expires_at - now <= self._config.expiring_window:
                self.send_checked(session, encode_frame("token expiring"))
