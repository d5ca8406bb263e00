"""FakeWings: a fake Pterodactyl panel + Wings node for testing console clients.

The node is a real websocket server on loopback that speaks the Wings console
protocol (Origin check, ``auth`` first, token expiry checks, rate limits and
``throttled``, power states, commands, log replay, stats); the panel is an httpx
transport answering ``GET /api/client/servers/{id}/websocket`` with a signed JWT and
the node's socket URL, so no HTTP server is needed::

    fake = FakeWings(server_id="abc123")
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)          # node on 127.0.0.1, a free port
        async with httpx.AsyncClient(transport=fake.panel_transport()) as http:
            async with open_console(fake.panel_url, fake.api_key, fake.server_id,
                                    http_client=http) as console:
                fake.console("Hello")            # helpers are sync: call them anywhere
        nursery.cancel_scope.cancel()

Everything runs on trio's clock (``trio.current_time()``), so tests can use
``autojump_clock`` to skip token lifetimes and check intervals. Every record the
fake keeps is bounded. Nothing is logged; ``repr`` shows no key or token.

Behaviour follows Wings (pterodactyl/wings, pelican-dev/wings ``router/websocket``):

- The handshake needs ``Origin`` equal to the panel's origin (or one of
  ``allowed_origins``, ``"*"`` allowing any): HTTP 403 otherwise; a wrong path or a
  deleted server gets HTTP 404.
- Frames that are not JSON text objects, or over 32 768 bytes, are dropped silently.
- Rate limits per connection, checked before anything else (global burst 10 / 0.2 s;
  ``auth`` and ``send logs`` 2 / 5 s; ``send command`` 10 / 1 s; others share 4 / 1 s):
  a frame over the limit is dropped and ``throttled`` (event name or ``"global"``) is
  sent once per episode.
- Before a valid ``auth``, any other event is answered with
  ``jwt error "jwt: no jwt present"`` (as Wings does; the UI treats it as fatal).
- ``auth`` with a valid token: ``auth success``; on the socket's first auth also
  ``status`` (and ``stats`` when offline). A token that does not verify gets a
  ``daemon error``; an expired or denylisted one a ``jwt error`` whose text is
  prefixed ``Error Event [<uuid>]: `` (Pelican).
- Every ``check_interval`` after the first auth: ``token expiring`` when at most
  ``expiring_window`` remains, ``token expired`` once expired (each check). While the
  socket's token is expired or denylisted, every event the node sends is replaced by
  ``jwt error`` with ``"jwt: exp claim is invalid"`` or the denylist text, and every
  request but ``auth`` is answered with it.
- Server events (console output, status, stats...) go to sockets that authenticated.
- Inbound frames are handled one at a time, in order (real Wings handles them
  concurrently, so a client must not rely on order either).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import socket
import struct
import uuid as uuid_module
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Final, NoReturn

import attrs
import httpx
import trio
import trio.testing
import trio_websocket
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest

from trio_pterows.pterodactyl._panel import origin_for
from trio_pterows.pterodactyl._protocol import (
    AUTH,
    CLOSE_GOING_AWAY,
    CLOSE_SUSPENDED,
    DELETED_CLOSE_REASON,
    JWT_DENYLISTED_TEXT,
    JWT_EXPIRED_TEXT,
    JWT_NOT_PRESENT_TEXT,
    POWER_ACTIONS,
    SEND_COMMAND,
    SEND_LOGS,
    SEND_STATS,
    SET_STATE,
    BackupCompleted,
    ConsoleEvent,
    RateLimiter,
    Stats,
    encode_event,
    encode_frame,
    parse_client_frame,
)

__all__ = ["FakeWings", "NodeConnection", "PanelRequest"]

#: Offset added to trio's clock for the JWT time claims, so they look like Unix times.
_EPOCH: Final = 1_700_000_000.0
#: Wings drops inbound frames larger than this.
_MAX_FRAME_BYTES: Final = 32_768
_HANDSHAKE_TIMEOUT: Final = 10.0
_CLOSE_TIMEOUT: Final = 5.0
_STATUSES: Final = frozenset({"offline", "starting", "running", "stopping"})
_UNEXPECTED_ERROR: Final = "an unexpected error was encountered while handling this request"
_POWER_BUSY: Final = (
    "another power action is currently being processed for this server, please try again later"
)
_SUSPENDED_REASON: Final = "server suspended"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _error_event(text: str) -> str:
    """Wings' ``SendErrorJson`` format."""
    return f"Error Event [{uuid_module.uuid4()}]: {text}"


def _echo(command: str) -> Iterable[str]:
    return (f"> {command}",)


@attrs.frozen
class PanelRequest:
    """One request the fake panel answered. The ``Authorization`` value is not kept."""

    method: str
    path: str
    status: int | None
    """HTTP status answered, or ``None`` when a network error was simulated."""
    authorized: bool
    """Whether ``Authorization: Bearer <api_key>`` was presented."""
    accept: str | None


@attrs.define(eq=False)
class NodeConnection:
    """One websocket handshake the fake node received (accepted or not).

    ``received`` and ``sent`` hold the latest frames (bounded), ``headers`` the
    handshake headers as sent by the client. ``close_code``/``close_reason``: the close
    the node sent, or else the one the client sent (set once known); ``dropped``: the
    node aborted the connection without a close frame.
    """

    id: int
    path: str
    origin: str | None
    headers: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    received: deque[str | bytes] = attrs.field(repr=False)
    sent: deque[str] = attrs.field(repr=False)
    accepted: bool = False
    rejected_status: int | None = None
    auths: int = 0
    close_code: int | None = None
    close_reason: str | None = None
    dropped: bool = False
    open: bool = False


@attrs.frozen
class _Close:
    code: int
    reason: str


@attrs.frozen
class _Token:
    serial: int
    issued_at: float
    expires_at: float
    server_uuid: str


_Outbound = str | _Close


@attrs.define(eq=False)
class _Session:
    record: NodeConnection
    ws: WebSocketConnection
    stream: trio.abc.Stream
    send: trio.MemorySendChannel[_Outbound]
    receive: trio.MemoryReceiveChannel[_Outbound]
    limiter: RateLimiter
    cancel_scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    nursery: trio.Nursery | None = None
    writer_done: trio.Event = attrs.field(factory=trio.Event)
    token: _Token | None = None
    throttled: set[str] = attrs.field(factory=set)


def _check_positive(name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


class FakeWings:
    """A fake panel + Wings node for one server. See the module docstring.

    Parameters (all keyword-only):

    - ``server_id``, ``server_uuid``: the panel identifier and the node's UUID (derived
      from ``server_id`` when omitted); ``api_key``: the client API key the panel accepts.
    - ``panel_url``: the fake panel's URL (``http://panel.test``); its origin is the
      ``Origin`` the node requires. ``allowed_origins``: more accepted origins.
    - ``token_lifetime`` (600 s), ``expiring_window`` (60 s), ``check_interval`` (30 s).
    - ``rate_limits``: ``True`` for Wings' limits, ``False`` for none, or a callable
      returning a :class:`~trio_pterows.pterodactyl._protocol.RateLimiter` per connection.
    - ``stats_interval``: seconds between ``stats`` while running (``None``: never).
    - ``power_delay``: seconds each power transition step takes (starting→running,
      stopping→offline). ``initial_status``: ``"offline"`` or ``"running"``.
    - ``log_lines``: lines ``send logs`` replays (the console buffer holds that many).
    - ``command_handler``: ``(command) -> lines`` printed on the console for a command
      (default: ``"> command"``).
    - ``history``: how many commands, panel requests, connection records and origins are
      kept; ``frames_per_connection``: frames kept per connection and direction;
      ``outbound_buffer``: frames queued per connection (a client that lets it fill up
      is dropped, as a real node would drop a dead socket).
    - ``host``/``port``: where the node listens (loopback, a free port).
    """

    def __init__(
        self,
        *,
        server_id: str = "abc123",
        server_uuid: str | None = None,
        api_key: str = "ptlc_FakeWingsTestKey000000000000000000000000",
        panel_url: str = "http://panel.test",
        allowed_origins: Iterable[str] = (),
        token_lifetime: float = 600.0,
        expiring_window: float = 60.0,
        check_interval: float = 30.0,
        rate_limits: bool | Callable[[], RateLimiter] = True,
        stats_interval: float | None = 1.0,
        power_delay: float = 0.5,
        initial_status: str = "offline",
        log_lines: int = 150,
        command_handler: Callable[[str], Iterable[str]] = _echo,
        history: int = 1000,
        frames_per_connection: int = 1000,
        outbound_buffer: int = 4096,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.panel_origin: str = origin_for(panel_url)  # validates panel_url
        _check_positive("token_lifetime", token_lifetime)
        _check_positive("check_interval", check_interval)
        _check_positive("power_delay", power_delay)
        _check_positive("stats_interval", stats_interval, allow_none=True)
        if not (math.isfinite(expiring_window) and expiring_window >= 0):
            raise ValueError(
                f"expiring_window must be a finite number >= 0, got {expiring_window!r}"
            )
        if initial_status not in ("offline", "running"):
            raise ValueError(
                f"initial_status must be 'offline' or 'running', got {initial_status!r}"
            )
        for name, size in (
            ("log_lines", log_lines),
            ("history", history),
            ("frames_per_connection", frames_per_connection),
            ("outbound_buffer", outbound_buffer),
        ):
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"{name} must be an int >= 1, got {size!r}")

        self.server_id: str = server_id
        self.server_uuid: str = server_uuid or str(
            uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"fakewings:{server_id}")
        )
        self.api_key: str = api_key
        self.panel_url: str = panel_url.rstrip("/")
        self._panel_path = httpx.URL(self.panel_url).path.rstrip("/")
        self._allowed_origins = frozenset(allowed_origins)
        self._token_lifetime = float(token_lifetime)
        self._expiring_window = float(expiring_window)
        self._check_interval = float(check_interval)
        if rate_limits is True:
            self._limiter_factory: Callable[[], RateLimiter] = RateLimiter
        elif rate_limits is False:
            self._limiter_factory = lambda: RateLimiter(enabled=False)
        else:
            self._limiter_factory = rate_limits
        self._stats_interval = stats_interval
        self._power_delay = float(power_delay)
        self._command_handler = command_handler
        self._outbound_buffer = outbound_buffer
        self._frames_per_connection = frames_per_connection
        self._host = host
        self._port_requested = port

        self._secret = secrets.token_bytes(32)
        self._next_serial = 1
        self._expired_below = 0
        self._denied_below = 0

        self._status = initial_status
        self._running_since: float | None = None
        self._status_changed = trio.Event()
        self._power_scope: trio.CancelScope | None = None
        #: Resource figures reported by ``stats`` while not offline (see :meth:`set_resources`).
        self._resources = Stats(
            memory_bytes=256 * 1024 * 1024,
            memory_limit_bytes=1024 * 1024 * 1024,
            cpu_absolute=12.5,
            network_rx_bytes=1024,
            network_tx_bytes=2048,
            uptime=0.0,
            state="running",
            disk_bytes=64 * 1024 * 1024,
        )
        self._log: deque[str] = deque(maxlen=log_lines)
        self._suspended = False
        self._deleted = False
        self._failures: deque[int | None] = deque()
        self._advertised_url: str | None = None
        self._panel_latency = 0.0

        self._serving = False
        self._nursery: trio.Nursery | None = None
        self._port: int | None = None
        self._sessions: set[_Session] = set()
        self._changed = trio.Event()

        self._connections: deque[NodeConnection] = deque(maxlen=history)
        self._origins_seen: deque[str | None] = deque(maxlen=history)
        self._commands: deque[str] = deque(maxlen=history)
        self._panel_requests: deque[PanelRequest] = deque(maxlen=history)
        self._connection_ids = 0
        self._accepted = 0
        self._rejected = 0
        self._auths_received = 0
        self._auth_successes = 0
        self._tokens_issued = 0
        self._throttled_sent = 0
        self._overflow_drops = 0

    def __repr__(self) -> str:
        return (
            f"<FakeWings server={self.server_id} status={self._status} "
            f"socket={self.socket_url if self._port is not None else None} "
            f"connections={len(self._sessions)}>"
        )

    # ------------------------------------------------------------------ observation

    @property
    def port(self) -> int | None:
        """The node's port while :meth:`serve` runs, else ``None``."""
        return self._port

    @property
    def socket_url(self) -> str:
        """The node's console URL (what the panel hands out). Needs :meth:`serve`."""
        if self._port is None:
            raise RuntimeError("FakeWings is not serving: start fake.serve first")
        return f"ws://{self._host}:{self._port}/api/servers/{self.server_uuid}/ws"

    @property
    def status(self) -> str:
        """The power state: ``offline``, ``starting``, ``running`` or ``stopping``."""
        return self._status

    @property
    def connections_accepted(self) -> int:
        """Websocket handshakes accepted."""
        return self._accepted

    @property
    def connections_rejected(self) -> int:
        """Websocket handshakes refused (bad Origin, path, deleted server)."""
        return self._rejected

    @property
    def active_connections(self) -> int:
        """Websocket connections open right now."""
        return len(self._sessions)

    @property
    def auths_received(self) -> int:
        """``auth`` frames handled (valid or not; rate-limited ones excluded)."""
        return self._auths_received

    @property
    def auth_successes(self) -> int:
        """``auth success`` answers sent."""
        return self._auth_successes

    @property
    def tokens_issued(self) -> int:
        """Tokens the panel handed out."""
        return self._tokens_issued

    @property
    def throttled_sent(self) -> int:
        """``throttled`` events sent."""
        return self._throttled_sent

    @property
    def overflow_drops(self) -> int:
        """Connections dropped because their outbound buffer filled up."""
        return self._overflow_drops

    @property
    def origins_seen(self) -> list[str | None]:
        """The ``Origin`` header of each handshake (``None``: absent), oldest first."""
        return list(self._origins_seen)

    @property
    def commands(self) -> list[str]:
        """Commands the server ran (``send command`` while not offline), oldest first."""
        return list(self._commands)

    @property
    def connections(self) -> list[NodeConnection]:
        """Records of the latest handshakes, oldest first."""
        return list(self._connections)

    @property
    def panel_requests(self) -> list[PanelRequest]:
        """Requests the fake panel answered, oldest first."""
        return list(self._panel_requests)

    @property
    def console_log(self) -> list[str]:
        """The console buffer ``send logs`` replays, oldest first."""
        return list(self._log)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` is true; it is re-checked whenever the fake changes.

        Bound it with ``trio.fail_after``. Cancellation: safe, nothing to undo.
        """
        await trio.lowlevel.checkpoint()
        while not predicate():
            await self._changed.wait()

    # ------------------------------------------------------------------ tokens

    def _issue_token(self) -> str:
        now = trio.current_time()
        serial = self._next_serial
        self._next_serial += 1
        self._tokens_issued += 1
        claims: dict[str, Any] = {
            "iss": self.panel_url,
            "aud": [f"http://{self._host}:{self._port}"],
            "jti": hashlib.sha256(self._secret + str(serial).encode()).hexdigest()[:32],
            "iat": _EPOCH + now,
            "nbf": _EPOCH + now - 300,
            "exp": _EPOCH + now + self._token_lifetime,
            "server_uuid": self.server_uuid,
            "permissions": ["*"],
            "user_uuid": str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, "fakewings:user")),
            "unique_id": str(serial),
            "scope": "websocket",
        }
        header = _b64(b'{"alg":"HS256","typ":"JWT"}')
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{_b64(signature.digest())}"

    def _decode_token(self, raw: str) -> _Token | None:
        try:
            header, payload, signature = raw.split(".")
            expected = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256)
            if not hmac.compare_digest(_unb64(signature), expected.digest()):
                return None
            claims = json.loads(_unb64(payload))
            return _Token(
                serial=int(claims["unique_id"]),
                issued_at=float(claims["iat"]) - _EPOCH,
                expires_at=float(claims["exp"]) - _EPOCH,
                server_uuid=str(claims["server_uuid"]),
            )
        except (ValueError, TypeError, KeyError):
            return None

    def _is_expired(self, token: _Token, now: float) -> bool:
        return now >= token.expires_at or token.serial < self._expired_below

    def _token_problem(self, token: _Token | None, now: float) -> str | None:
        if token is None:
            return JWT_NOT_PRESENT_TEXT
        if self._is_expired(token, now):
            return JWT_EXPIRED_TEXT
        if token.serial < self._denied_below:
            return JWT_DENYLISTED_TEXT
        if token.server_uuid != self.server_uuid:
            return "jwt: server uuid mismatch"
        return None

    def expire_tokens(self, *, notify: bool = True) -> None:
        """Make every token issued so far expired, as if its lifetime were over.

        With ``notify``, authenticated sockets get ``token expired`` now instead of
        at their next check.
        """
        self._expired_below = self._next_serial
        if notify:
            now = trio.current_time()
            for session in self._authed_sessions():
                assert session.token is not None
                if self._is_expired(session.token, now):
                    self._enqueue(session, encode_frame("token expired"))

    def deny_tokens(self, *, notify: bool = True) -> None:
        """Put every token issued so far on the node's denylist (Wings' ``revoke``).

        From now on those tokens get ``jwt error "jwt: created too far in past
        (denylist)"``; a new token from the panel works. With ``notify``, authenticated
        sockets get that ``jwt error`` at once.
        """
        self._denied_below = self._next_serial
        if notify:
            now = trio.current_time()
            for session in self._authed_sessions():
                problem = self._token_problem(session.token, now)
                if problem is not None:
                    self._enqueue(session, encode_frame("jwt error", problem))

    # ------------------------------------------------------------------ panel

    def panel_transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that answers as the panel: use it in an ``httpx.AsyncClient``.

        ``GET {panel}/api/client/servers/{server_id}/websocket`` with the right key →
        200 ``{"data": {"token", "socket"}}``; a wrong or missing key → 401; another
        server (or a deleted one) → 404; a suspended server → 409; another host → a
        network error (:class:`httpx.ConnectError`). Needs :meth:`serve` running (502
        otherwise, there is no socket URL to hand out). Async clients only.
        """
        return _PanelTransport(self)

    def fail_next(self, status: int | None = 500, times: int = 1) -> None:
        """Make the next ``times`` panel requests fail with ``status``.

        ``status=None`` simulates a network error (:class:`httpx.ConnectError`).
        """
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status or None, got {status!r}")
        if times < 0:
            raise ValueError(f"times must be >= 0, got {times!r}")
        self._failures.extend([status] * times)

    def advertise_socket_url(self, url: str | None) -> None:
        """Make the panel hand out ``url`` instead of the node's own socket URL.

        For a proxy in front of the node (e.g. a ChaosProxy forwarding to
        :attr:`socket_url`'s port): the path must stay ``/api/servers/<uuid>/ws``.
        ``None`` goes back to the node's URL.
        """
        if url is not None and not url.startswith(("ws://", "wss://")):
            raise ValueError(f"url must be a ws:// or wss:// URL, got {url!r}")
        self._advertised_url = url

    def set_panel_latency(self, seconds: float) -> None:
        """Make every panel answer take ``seconds`` (trio time)."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self._panel_latency = seconds

    async def _panel_handle(self, request: httpx.Request) -> httpx.Response:
        await trio.lowlevel.checkpoint()
        if self._panel_latency:
            await trio.sleep(self._panel_latency)
        authorized = hmac.compare_digest(
            request.headers.get("authorization", "").encode(), f"Bearer {self.api_key}".encode()
        )

        def answer(status: int | None, body: dict[str, Any]) -> httpx.Response:
            self._panel_requests.append(
                PanelRequest(
                    method=request.method,
                    path=request.url.path,
                    status=status,
                    authorized=authorized,
                    accept=request.headers.get("accept"),
                )
            )
            self._notify()
            if status is None:
                raise httpx.ConnectError("FakeWings: simulated network error", request=request)
            return httpx.Response(status, json=body, request=request)

        def error(status: int, code: str, detail: str) -> httpx.Response:
            errors = [{"code": code, "status": str(status), "detail": detail}]
            return answer(status, {"errors": errors})

        target = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
        if origin_for(target) != self.panel_origin:
            return answer(None, {})
        if self._failures:
            failure = self._failures.popleft()
            if failure is None:
                return answer(None, {})
            return error(failure, "HttpException", "FakeWings: simulated failure")
        if not authorized:
            return error(401, "AuthenticationException", "Unauthenticated.")
        expected = f"{self._panel_path}/api/client/servers/{self.server_id}/websocket"
        if request.url.path != expected or self._deleted:
            return error(404, "NotFoundHttpException", "The requested resource could not be found.")
        if request.method != "GET":
            return error(405, "MethodNotAllowedHttpException", "Method not allowed.")
        if self._suspended:
            return error(
                409,
                "ServerStateConflictException",
                "This server is currently suspended and the functionality requested is "
                "unavailable.",
            )
        if self._port is None:
            return error(502, "HttpException", "FakeWings: the node is not serving")
        token = self._issue_token()
        socket_url = self._advertised_url or self.socket_url
        return answer(200, {"data": {"token": token, "socket": socket_url}})

    # ------------------------------------------------------------------ node

    async def serve(
        self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Run the node: ``socket_url = await nursery.start(fake.serve)``.

        Listens on ``host`` (loopback) and ``port`` (a free one by default) until
        cancelled. Cancellation closes every connection (without a close handshake)
        and stops the listener; the fake may be served again afterwards.
        """
        if self._serving:
            raise RuntimeError("FakeWings is already serving")
        self._serving = True
        try:
            listeners = await trio.open_tcp_listeners(self._port_requested, host=self._host)
        except BaseException:
            self._serving = False
            raise
        try:
            self._port = listeners[0].socket.getsockname()[1]
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self._status == "running":
                    self._running_since = trio.current_time()
                if self._stats_interval is not None:
                    nursery.start_soon(self._stream_stats, self._stats_interval)
                await nursery.start(trio.serve_listeners, self._handle_tcp, listeners)
                task_status.started(self.socket_url)
                await trio.sleep_forever()
        finally:
            self._serving = False
            self._nursery = None
            self._port = None
            self._power_scope = None
            for listener in listeners:
                await trio.aclose_forcefully(listener)
            self._notify()
        raise AssertionError("unreachable")  # pragma: no cover

    async def open_stream(self, url: str) -> trio.abc.Stream:
        """Connect to the node through memory instead of TCP (a ``stream_opener``).

        ``open_console(..., stream_opener=fake.open_stream)`` makes every byte move in
        memory, so tests under ``autojump_clock`` (token lifetimes, refresh, reconnect
        timing) are exact and instant. Needs :meth:`serve` running.
        """
        if self._nursery is None:
            raise RuntimeError("FakeWings is not serving: start fake.serve first")
        await trio.lowlevel.checkpoint()
        client, server = trio.testing.memory_stream_pair()
        self._nursery.start_soon(self._handle_tcp, server)
        return client

    async def _handle_tcp(self, stream: trio.abc.Stream) -> None:
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

    async def _handle_request(self, request: WebSocketRequest, stream: trio.abc.Stream) -> None:
        headers = tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers
        )
        origin = next((v for k, v in headers if k.lower() == "origin"), None)
        self._connection_ids += 1
        record = NodeConnection(
            id=self._connection_ids,
            path=request.path,
            origin=origin,
            headers=headers,
            received=deque(maxlen=self._frames_per_connection),
            sent=deque(maxlen=self._frames_per_connection),
        )
        self._connections.append(record)
        self._origins_seen.append(origin)

        status: int | None = None
        expected_path = f"/api/servers/{self.server_uuid}/ws"
        if request.path.partition("?")[0] != expected_path or self._deleted:
            status = 404
        elif origin is None or not (
            origin == self.panel_origin
            or origin in self._allowed_origins
            or "*" in self._allowed_origins
        ):
            status = 403
        if status is not None:
            record.rejected_status = status
            self._rejected += 1
            self._notify()
            try:
                await request.reject(status)
            except ConnectionClosed:
                pass
            return

        try:
            ws = await request.accept()
        except ConnectionClosed:
            return
        record.accepted = True
        record.open = True
        self._accepted += 1
        send, receive = trio.open_memory_channel[_Outbound](self._outbound_buffer)
        session = _Session(
            record=record,
            ws=ws,
            stream=stream,
            send=send,
            receive=receive,
            limiter=self._limiter_factory(),
        )
        self._sessions.add(session)
        self._notify()
        try:
            if self._suspended:
                self._enqueue(session, _Close(CLOSE_SUSPENDED, _SUSPENDED_REASON))
            with session.cancel_scope:
                async with trio.open_nursery() as nursery:
                    session.nursery = nursery
                    nursery.start_soon(self._writer, session)
                    await self._reader(session)
                    # The connection is closed (by the peer or by us): let the writer
                    # finish what it was doing (a close handshake), then stop.
                    send.close()
                    with trio.move_on_after(_CLOSE_TIMEOUT):
                        await session.writer_done.wait()
                    nursery.cancel_scope.cancel()
            if not record.dropped:
                await ws.aclose()
        finally:
            self._sessions.discard(session)
            record.open = False
            if ws.closed is not None and record.close_code is None and not record.dropped:
                record.close_code = ws.closed.code
                record.close_reason = ws.closed.reason
            self._notify()

    async def _reader(self, session: _Session) -> None:
        while True:
            try:
                message = await session.ws.get_message()
            except ConnectionClosed:
                return
            self._on_frame(session, message)
            self._notify()

    async def _writer(self, session: _Session) -> None:
        try:
            async for item in session.receive:
                if isinstance(item, _Close):
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

    def _enqueue(self, session: _Session, item: _Outbound) -> None:
        if session.record.dropped:
            return
        try:
            session.send.send_nowait(item)
        except trio.WouldBlock:
            self._overflow_drops += 1
            self._drop(session, reset=False)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the connection is going away

    def _send_checked(self, session: _Session, event: str, *args: str) -> None:
        """Wings' ``SendJson``: replaced by ``jwt error`` while the token is not valid."""
        problem = self._token_problem(session.token, trio.current_time())
        if problem is not None:
            self._enqueue(session, encode_frame("jwt error", problem))
        else:
            self._enqueue(session, encode_frame(event, *args))

    def _authed_sessions(self) -> list[_Session]:
        return [s for s in self._sessions if s.token is not None]

    def _broadcast(self, frame: str) -> None:
        if not self._sessions:
            return
        now = trio.current_time()
        for session in self._authed_sessions():
            problem = self._token_problem(session.token, now)
            if problem is not None:
                self._enqueue(session, encode_frame("jwt error", problem))
            else:
                self._enqueue(session, frame)

    def _drop(self, session: _Session, *, reset: bool) -> None:
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

    # ------------------------------------------------------------------ inbound

    def _on_frame(self, session: _Session, message: str | bytes) -> None:
        session.record.received.append(message)
        if not isinstance(message, str) or len(message.encode("utf-8", "replace")) > (
            _MAX_FRAME_BYTES
        ):
            return
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
                self._throttled_sent += 1
                self._enqueue(session, encode_frame("throttled", refused))
            return
        session.throttled.discard("global")
        session.throttled.discard(event)

        if event != AUTH:
            problem = self._token_problem(session.token, now)
            if problem is not None:
                self._enqueue(session, encode_frame("jwt error", problem))
                return
        argument = "".join(args)
        if event == AUTH:
            self._on_auth(session, argument, now)
        elif event == SET_STATE:
            self._on_power(session, argument)
        elif event == SEND_LOGS:
            if self._status != "offline":
                for line in self._log:
                    self._send_checked(session, "console output", line)
        elif event == SEND_STATS:
            self._send_checked(session, "stats", self._stats_arg())
        elif event == SEND_COMMAND and self._status != "offline":
            self._commands.append(argument)
            for line in self._command_handler(argument):
                self.console(line)

    def _on_auth(self, session: _Session, raw: str, now: float) -> None:
        self._auths_received += 1
        session.record.auths += 1
        token = self._decode_token(raw)
        if token is None:
            self._enqueue(session, encode_frame("daemon error", _error_event(_UNEXPECTED_ERROR)))
            return
        if self._is_expired(token, now):
            self._enqueue(session, encode_frame("jwt error", _error_event(JWT_EXPIRED_TEXT)))
            return
        if token.serial < self._denied_below:
            self._enqueue(session, encode_frame("jwt error", _error_event(JWT_DENYLISTED_TEXT)))
            return
        first = session.token is None
        session.token = token
        self._auth_successes += 1
        self._enqueue(session, encode_frame("auth success"))
        if not first:
            return
        assert session.nursery is not None
        session.nursery.start_soon(self._check_token, session)
        self._send_checked(session, "status", self._status)
        if self._status == "offline":
            self._send_checked(session, "stats", self._stats_arg())

    async def _check_token(self, session: _Session) -> None:
        next_check = trio.current_time() + self._check_interval
        while True:
            await trio.sleep_until(next_check)
            next_check += self._check_interval
            token = session.token
            assert token is not None
            now = trio.current_time()
            if self._is_expired(token, now):
                self._enqueue(session, encode_frame("token expired"))
            elif token.expires_at - now <= self._expiring_window:
                self._send_checked(session, "token expiring")

    # ------------------------------------------------------------------ power & stats

    def _on_power(self, session: _Session, action: str) -> None:
        if action not in POWER_ACTIONS:
            return
        if action == "kill":
            self._cancel_power()
            self._set_status("offline")
            return
        if self._power_scope is not None:
            self._send_checked(session, "daemon error", _error_event(_POWER_BUSY))
            return
        if (action == "start" and self._status != "offline") or (
            action == "stop" and self._status == "offline"
        ):
            return
        assert self._nursery is not None
        self._power_scope = trio.CancelScope()
        self._nursery.start_soon(self._run_power, action, self._power_scope)

    def _cancel_power(self) -> None:
        if self._power_scope is not None:
            self._power_scope.cancel()
            self._power_scope = None

    async def _run_power(self, action: str, scope: trio.CancelScope) -> None:
        with scope:
            if action in ("stop", "restart") and self._status != "offline":
                self._set_status("stopping")
                await trio.sleep(self._power_delay)
                self._set_status("offline")
            if action in ("start", "restart"):
                self._set_status("starting")
                for text in (
                    "Checking server disk space usage, this could take a few seconds...",
                    "Updating process configuration files...",
                ):
                    self._broadcast(encode_frame("console output", f"[Pterodactyl Daemon]: {text}"))
                await trio.sleep(self._power_delay)
                self.console('Done (0.5s)! For help, type "help"')
                self._set_status("running")
        if self._power_scope is scope:
            self._power_scope = None

    def set_status(self, status: str) -> None:
        """Set the power state at once (any power action in progress is abandoned)."""
        if status not in _STATUSES:
            raise ValueError(f"status must be one of {sorted(_STATUSES)}, got {status!r}")
        self._cancel_power()
        self._set_status(status)

    def _set_status(self, status: str) -> None:
        if status == self._status:
            return
        self._status = status
        if status == "running":
            self._running_since = trio.current_time()
        elif status == "offline":
            self._running_since = None
        self._broadcast(encode_frame("status", status))
        self._status_changed.set()
        self._status_changed = trio.Event()
        self._notify()

    def set_resources(self, **changes: Any) -> None:
        """Change the figures ``stats`` reports (``memory_bytes=...``, ``cpu_absolute=...``).

        ``uptime`` and ``state`` are computed; while offline, only ``disk_bytes`` and
        ``memory_limit_bytes`` are reported, the rest is zero (as Wings does).
        """
        self._resources = attrs.evolve(self._resources, **changes)

    def current_stats(self) -> Stats:
        """The ``stats`` the node would send now."""
        res = self._resources
        if self._status == "offline":
            return Stats(
                memory_bytes=0,
                memory_limit_bytes=res.memory_limit_bytes,
                cpu_absolute=0.0,
                network_rx_bytes=0,
                network_tx_bytes=0,
                uptime=0.0,
                state="offline",
                disk_bytes=res.disk_bytes,
            )
        since = self._running_since
        uptime = 0.0 if since is None else round(trio.current_time() - since, 3)
        return attrs.evolve(res, uptime=uptime, state=self._status)

    def _stats_arg(self) -> str:
        frame = json.loads(encode_event(self.current_stats()))
        arg: str = frame["args"][0]
        return arg

    async def _stream_stats(self, interval: float) -> None:
        while True:
            while self._status != "running":
                await self._status_changed.wait()
            next_tick = trio.current_time() + interval
            while self._status == "running":
                await trio.sleep_until(next_tick)
                next_tick += interval
                if self._status == "running":
                    self._broadcast(encode_event(self.current_stats()))

    # ------------------------------------------------------------------ server events

    def emit(self, event: str, *args: str) -> None:
        """Send a server event to every authenticated socket (as Wings' ``SendJson``).

        Sockets whose token is expired or denylisted get the ``jwt error`` instead.
        """
        self._broadcast(encode_frame(event, *args))

    def emit_event(self, ev: ConsoleEvent) -> None:
        """:meth:`emit` for an event object (``fake.emit_event(ConsoleOutput("hi"))``)."""
        self._broadcast(encode_event(ev))

    def emit_raw(self, event: str, *args: str) -> None:
        """Send a frame to every open socket, authenticated or not, with no token check."""
        frame = encode_frame(event, *args)
        for session in list(self._sessions):
            self._enqueue(session, frame)

    def console(self, line: str) -> None:
        """A line on the server console: kept for ``send logs`` and sent as ``console output``."""
        self._log.append(line)
        self._broadcast(encode_frame("console output", line))

    def daemon_message(self, text: str) -> None:
        """Send ``daemon message``."""
        self.emit("daemon message", text)

    def daemon_error(self, text: str) -> None:
        """Send ``daemon error``."""
        self.emit("daemon error", text)

    def install_started(self) -> None:
        """Send ``install started``."""
        self.emit("install started")

    def install_output(self, line: str) -> None:
        """Send ``install output``."""
        self.emit("install output", line)

    def install_completed(self) -> None:
        """Send ``install completed``."""
        self.emit("install completed")

    def transfer_logs(self, line: str) -> None:
        """Send ``transfer logs``."""
        self.emit("transfer logs", line)

    def transfer_status(self, status: str) -> None:
        """Send ``transfer status``."""
        self.emit("transfer status", status)

    def backup_completed(
        self,
        uuid: str,
        *,
        is_successful: bool = True,
        checksum: str = "",
        checksum_type: str = "sha1",
        file_size: int = 0,
    ) -> None:
        """Send ``backup completed:<uuid>``."""
        self.emit_event(BackupCompleted(uuid, is_successful, checksum, checksum_type, file_size))

    def backup_restore_completed(self) -> None:
        """Send ``backup restore completed``."""
        self.emit("backup restore completed")

    # ------------------------------------------------------------------ connection control

    def close_all(self, code: int = 1000, reason: str = "") -> None:
        """Close every open socket with ``code`` and ``reason`` (after what is queued)."""
        for session in list(self._sessions):
            self._enqueue(session, _Close(code, reason))

    def drop_all(self, *, reset: bool = False) -> None:
        """Abort every open socket at the TCP level, with no close frame.

        ``reset=True`` sends a TCP RST instead of a FIN.
        """
        for session in list(self._sessions):
            self._drop(session, reset=reset)

    def suspend(self) -> None:
        """Suspend the server: every socket is closed with 4409; new sockets too, and
        the panel answers 409, until :meth:`unsuspend`."""
        self._suspended = True
        self.close_all(CLOSE_SUSPENDED, _SUSPENDED_REASON)

    def unsuspend(self) -> None:
        """Undo :meth:`suspend`."""
        self._suspended = False

    def delete(self, *, legacy: bool = False) -> None:
        """Delete the server: ``deleted`` to every authenticated socket, then close
        1001 ``"server deleted"``; afterwards the panel and the node answer 404.

        ``legacy=True``: the close only, as older Wings do.
        """
        self._deleted = True
        if not legacy:
            self.emit("deleted")
        self.close_all(CLOSE_GOING_AWAY, DELETED_CLOSE_REASON)


class _PanelTransport(httpx.AsyncBaseTransport):
    """The fake panel as an httpx transport (see :meth:`FakeWings.panel_transport`)."""

    def __init__(self, fake: FakeWings) -> None:
        self._fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return await self._fake._panel_handle(request)
