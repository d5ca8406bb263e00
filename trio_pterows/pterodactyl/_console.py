"""The Pterodactyl / Pelican console client: :func:`open_console` and :class:`Console`.

It is an :class:`~trio_pterows.AdvancedWebSocket` wired for Wings:

- ``url_provider`` fetches a fresh token and socket URL from the panel for every
  connect cycle (the server may have moved nodes); the API key goes only to the panel;
- ``on_connect`` sends ``auth`` and waits for ``auth success`` before anything queued
  goes out (a fatal ``jwt error`` ends the session with :class:`ConsoleClosed`);
- the Wings parser runs as the first incoming interceptor, so ``async for event in
  console`` *is* the manager's message stream: typed events, no extra task hop;
- the rate limiter is an async ``on_before_send``: it paces every frame when it is
  actually written, queued or not, so a burst is delayed, never dropped by the node;
- a refresher task fetches a new token on ``token expiring``, ``token expired`` and
  expiry/denylist ``jwt error`` and re-authenticates on the same socket; while the
  token is known to be expired, sends wait for the new ``auth success``.
"""

from __future__ import annotations

import logging
import math
from types import TracebackType
from typing import Any

import httpx
import trio

from .._events import DROP, CloseEvent
from .._exceptions import ConnectionLost, NotConnected, PterowsError, ResponseTimeout
from .._manager import AdvancedWebSocket
from .._options import WSConnectionOptions, _to_headers
from ..transports._stream import StreamOpener
from ._exceptions import ConsoleClosed, PanelAPIError
from ._panel import Credentials, fetch_credentials, origin_for, websocket_endpoint
from ._protocol import (
    AUTH,
    POWER_ACTIONS,
    SEND_COMMAND,
    SEND_LOGS,
    SEND_STATS,
    SET_STATE,
    AuthSuccess,
    ConsoleEvent,
    Deleted,
    JwtError,
    RateLimiter,
    Stats,
    StatusChange,
    Throttled,
    TokenExpired,
    TokenExpiring,
    encode_frame,
    is_final_close,
    jwt_error_kind,
    parse_client_frame,
    parse_frame,
    token_lifetime,
)

__all__ = ["Console", "open_console"]

_log = logging.getLogger("trio_pterows.pterodactyl")

#: Wings reads at most 4096 bytes per frame (compressed) and drops larger ones.
MAX_FRAME_BYTES = 4096
#: Console defaults that differ from WSConnectionOptions' (Wings drops text pings).
CONSOLE_DEFAULTS: dict[str, Any] = {
    "auto_reconnect": True,
    "heartbeat_mode": "protocol",
    "queue_messages": True,
    "message_queue_limit": 1000,
    "max_reconnect_attempts": None,
    "reconnect_strategy": "exponential-jitter",
    "reconnect_interval": 1.0,
    "max_reconnect_interval": 30.0,
}
#: Options the console sets itself.
_RESERVED = frozenset({"url", "url_provider", "on_connect", "auto_json"})
#: Refresh this long before the token's own expiry (capped at a quarter of its life).
REFRESH_AHEAD = 60.0
#: How long to hold every frame after the node said ``throttled``.
_THROTTLE_BACKOFF = {"global": 1.0, AUTH: 5.0, SEND_LOGS: 5.0}


class _TokenRejected(PterowsError):
    """The node refused the token on connect with an expiry/denylist jwt error: retry."""


class Console:
    """A live console session (returned by ``async with open_console(...)``).

    Iterate it for typed events (:class:`ConsoleOutput`, :class:`StatusChange`,
    :class:`Stats`, ...), across reconnects and token refreshes. Iteration raises
    :class:`ConsoleClosed` once the node ended the session for good (suspended,
    deleted, a fatal ``jwt error``), after every earlier event was delivered.
    """

    def __init__(
        self,
        panel_url: str,
        api_key: str,
        server_id: str,
        *,
        http_client: httpx.AsyncClient | None,
        origin: str | None,
        rate_limit: bool | RateLimiter,
        stream_opener: StreamOpener | None,
        options: dict[str, Any],
    ) -> None:
        websocket_endpoint(panel_url, server_id)  # validates both, naming the bad one
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValueError("api_key: expected a non-empty client API key")
        bad = sorted(_RESERVED & set(options))
        if bad:
            raise TypeError(f"open_console sets {', '.join(bad)} itself; do not pass them")
        self.panel_url = panel_url
        self.server_id = server_id
        self._api_key = api_key
        self._own_client = http_client is None
        self._http = http_client
        self._origin = origin if origin is not None else origin_for(panel_url)
        if isinstance(rate_limit, RateLimiter):
            self.rate_limiter = rate_limit
        else:
            self.rate_limiter = RateLimiter(enabled=bool(rate_limit))
        self._token: str | None = None
        self._refresh_at = math.inf  # trio time at which to refresh proactively
        self._expires_at = math.inf  # trio time at which the token expires
        self._refreshing = False
        #: The most recent ``status`` the node reported, or None.
        self.status: str | None = None
        #: The most recent :class:`Stats`, or None.
        self.last_stats: Stats | None = None
        #: Token refreshes completed on a live socket.
        self.token_refreshes = 0
        self._final: PterowsError | None = None
        self._token_valid = trio.Event()
        self._token_valid.set()
        self._refresh_requested = False
        self._wake_refresher = trio.Event()
        self._close_wanted = trio.Event()
        self._nursery_manager: Any = None
        self._nursery: trio.Nursery | None = None

        user = {**CONSOLE_DEFAULTS, **options}
        user_before_send = user.pop("on_before_send", None)
        user_before_reconnect = user.pop("on_before_reconnect", None)
        interceptors = tuple(user.pop("incoming_message_interceptors", ()))
        headers = dict(_to_headers(user.pop("headers", ())))
        if not any(name.lower() == "origin" for name in headers):
            headers["Origin"] = self._origin
        user["fatal_close_codes"] = frozenset(user.get("fatal_close_codes", ())) | {4409, 4400}
        self._user_before_send = user_before_send
        self._user_before_reconnect = user_before_reconnect
        ws_options = WSConnectionOptions(
            url="wss://pending.invalid/",  # replaced by url_provider on every cycle
            url_provider=self._next_url,
            on_connect=self._authenticate,
            on_before_send=self._before_send,
            on_before_reconnect=self._before_reconnect,
            incoming_message_interceptors=(self._on_frame, *interceptors),
            headers=headers,
            **user,
        )
        #: The underlying connection manager (metrics, events, state).
        self.ws = AdvancedWebSocket(ws_options, stream_opener=stream_opener)
        self.ws.add_event_listener("close", self._on_close)

    def __repr__(self) -> str:
        return (
            f"<Console panel={self.panel_url!r} server={self.server_id!r} "
            f"state={self.ws.state.value} status={self.status!r}>"
        )

    # ------------------------------------------------------------------ lifecycle

    async def _enter(self) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.ws.options.connection_timeout, follow_redirects=False
            )
        self._nursery_manager = trio.open_nursery()
        nursery = self._nursery = await self._nursery_manager.__aenter__()
        try:
            await self.ws.__aenter__()
            nursery.start_soon(self._refresher)
            nursery.start_soon(self._closer)
            try:
                await self.ws.connect()
            except Exception as exc:
                raise self._first_error(exc) from exc
        except BaseException as exc:
            await self._exit(type(exc), exc, exc.__traceback__)
            raise

    def _first_error(self, exc: Exception) -> Exception:
        # A panel or console error on the first attempt is raised as itself.
        attempts = getattr(exc, "attempts", None)
        if attempts:
            last = attempts[-1][1]
            if isinstance(last, (PanelAPIError, ConsoleClosed)):
                return last
        if self._final is not None:
            return self._final
        return exc

    async def _exit(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.ws.__aexit__(exc_type, exc, tb)
        finally:
            try:
                if self._nursery_manager is not None:
                    nursery_manager, self._nursery_manager = self._nursery_manager, None
                    assert self._nursery is not None
                    self._nursery.cancel_scope.cancel()
                    await nursery_manager.__aexit__(None, None, None)
            finally:
                if self._own_client and self._http is not None:
                    with trio.CancelScope(shield=True):
                        await self._http.aclose()

    async def aclose(self) -> None:
        """End the session: close the socket (bounded close handshake) and stop.

        Idempotent; if cancelled, the socket is still closed.
        """
        await self.ws.aclose()

    # --------------------------------------------------------------- connecting

    async def _next_url(self) -> str:
        assert self._http is not None
        credentials = await fetch_credentials(
            self._http, self.panel_url, self._api_key, self.server_id
        )
        self._adopt(credentials)
        # Wings' buckets are per connection: a new socket starts with full ones.
        self.rate_limiter.reset()
        return credentials.socket_url

    def _adopt(self, credentials: Credentials) -> None:
        self._token = credentials.token
        lifetime = token_lifetime(credentials.token)
        if lifetime is None:  # rely on the node's `token expiring`
            self._refresh_at = self._expires_at = math.inf
        else:
            self._expires_at = trio.current_time() + lifetime
            self._refresh_at = self._expires_at - min(REFRESH_AHEAD, lifetime / 4)
        self._wake_refresher.set()  # the deadline moved

    async def _authenticate(self, ws: AdvancedWebSocket) -> None:
        token = self._token
        if token is None:  # pragma: no cover - url_provider always runs first
            raise RuntimeError("no token to authenticate with")
        try:
            reply = await ws.send_and_wait_response(
                encode_frame(AUTH, token),
                lambda event: isinstance(event, (AuthSuccess, JwtError)),
                timeout=ws.options.connection_timeout,
            )
        except ConnectionLost as lost:
            if lost.code is not None and is_final_close(lost.code, lost.reason):
                self._final = ConsoleClosed(lost.code, lost.reason)
                raise self._final from None
            raise
        if isinstance(reply, JwtError):
            if jwt_error_kind(reply.text) == "fatal":
                self._final = ConsoleClosed(None, reply.text)
                raise self._final
            raise _TokenRejected(f"the node refused the token: {reply.text}")
        self._token_valid.set()

    async def _before_reconnect(self, attempt: int, close_event: CloseEvent | None) -> bool:
        if self._final is not None:
            return False
        if self._user_before_reconnect is not None:
            result = self._user_before_reconnect(attempt, close_event)
            if hasattr(result, "__await__"):
                result = await result
            if result is False:
                return False
        return True

    def _on_close(self, event: CloseEvent) -> None:
        if self._final is None and is_final_close(event.code, event.reason):
            self._final = ConsoleClosed(event.code, event.reason)

    # ------------------------------------------------------------------ receive

    def _on_frame(self, data: Any) -> Any:
        """First incoming interceptor: frame → typed event, and the console's reactions."""
        event = parse_frame(data)
        if isinstance(event, StatusChange):
            self.status = event.status
        elif isinstance(event, Stats):
            self.last_stats = event
            if event.state:
                self.status = event.state
        elif isinstance(event, AuthSuccess):
            self._token_valid.set()
        elif isinstance(event, TokenExpiring):
            self._want_refresh(expired=False)
        elif isinstance(event, TokenExpired):
            self._want_refresh(expired=True)
        elif isinstance(event, JwtError):
            kind = jwt_error_kind(event.text)
            if kind == "fatal":
                if self.ws.is_connected:  # during auth, _authenticate decides
                    self._end(ConsoleClosed(None, event.text))
            else:
                self._want_refresh(expired=True)
        elif isinstance(event, Deleted):
            self._end(ConsoleClosed(None, "server deleted"))
        elif isinstance(event, Throttled):
            seconds = _THROTTLE_BACKOFF.get(event.event, 1.0)
            self.rate_limiter.backoff(trio.current_time(), seconds)
            _log.warning("the node throttled %r: holding frames for %.1fs", event.event, seconds)
        return event

    def _want_refresh(self, *, expired: bool) -> None:
        # Replies are ordered per socket: while our new `auth` is in flight, expiry
        # notices are about the old token, and the refresh under way answers them.
        if self._refreshing:
            return
        if expired:
            self._token_valid = _cleared(self._token_valid)
        self._refresh_requested = True
        self._wake_refresher.set()

    def _end(self, error: PterowsError) -> None:
        if self._final is None:
            self._final = error
            _log.info("console session ended: %s", error)
        self._close_wanted.set()

    async def _closer(self) -> None:
        await self._close_wanted.wait()
        if self._final is not None:
            await self.ws.close(1000, "console session ended")

    async def _refresher(self) -> None:
        """Refresh the token when asked (node notices) or when it is due (its lifetime)."""
        while True:
            wake = self._wake_refresher
            with trio.move_on_at(self._refresh_at):
                await wake.wait()
            if wake.is_set():
                self._wake_refresher = trio.Event()
            if not (self._refresh_requested or trio.current_time() >= self._refresh_at):
                continue  # a new token moved the deadline
            self._refresh_requested = False
            if not self.ws.is_connected:
                self._refresh_at = math.inf  # the next connect fetches a fresh token
                continue
            self._refreshing = True
            try:
                await self._refresh_once()
            except PanelAPIError as exc:
                if exc.fatal:
                    self._end(exc)
                    return
                _log.warning("token refresh failed, retrying in 5s: %s", exc)
                await trio.sleep(5)
                self._refresh_requested = True
            except (NotConnected, ResponseTimeout):
                continue  # a reconnect authenticates afresh, or the next notice retries
            finally:
                self._refreshing = False

    async def _refresh_once(self) -> None:
        assert self._http is not None
        credentials: Credentials = await fetch_credentials(
            self._http, self.panel_url, self._api_key, self.server_id
        )
        self._adopt(credentials)
        # Only `auth success` answers: a jwt error arriving meanwhile may be about a
        # frame sent with the old token. A refused token times out and is retried.
        await self.ws.send_and_wait_response(
            encode_frame(AUTH, credentials.token),
            lambda event: isinstance(event, AuthSuccess),
            timeout=self.ws.options.connection_timeout,
            urgent=True,  # frames queued behind may be waiting for this very token
        )
        self.token_refreshes += 1
        _log.info("token refreshed on the live socket")

    # --------------------------------------------------------------------- send

    async def _before_send(self, frame: Any) -> Any:
        parsed = parse_client_frame(frame) if isinstance(frame, (str, bytes)) else None
        event = parsed[0] if parsed else ""
        if self._user_before_send is not None:
            frame = self._user_before_send(frame)
            if hasattr(frame, "__await__"):
                frame = await frame
            if frame is DROP:
                return frame
        if event != AUTH:
            if trio.current_time() >= self._expires_at - 1.0:
                self._want_refresh(expired=True)  # we know it is (about to be) expired
            # While the token is known to be expired, frames wait for the new one.
            await self._token_valid.wait()
        limiter = self.rate_limiter
        # Sleeps exactly until the buckets refill; loops only if a backoff came meanwhile.
        while (delay := limiter.delay(event, trio.current_time())) > 0:  # noqa: ASYNC110
            await trio.sleep(delay)
        limiter.consume(event, trio.current_time())
        return frame

    def _check_open(self) -> None:
        if self._final is not None:
            raise self._final

    async def send(self, event: str, *args: str) -> None:
        """Send a raw Wings frame ``{"event": event, "args": [...]}``.

        Queued (bounded, in order) while unauthenticated, refreshing or reconnecting;
        rate limited when actually written. Raises :class:`ConsoleClosed` once the
        session ended, ValueError for a frame Wings would drop (over 4096 bytes),
        TypeError for non-str arguments. Cancellation: see
        :meth:`~trio_pterows.AdvancedWebSocket.send`.
        """
        self._check_open()
        if not isinstance(event, str) or not event:
            raise TypeError(f"event: expected a non-empty str, got {event!r}")
        for i, arg in enumerate(args):
            if not isinstance(arg, str):
                raise TypeError(f"args[{i}]: Wings arguments are strings, got {type(arg).__name__}")
        frame = encode_frame(event, *args)
        size = len(frame.encode())
        if size > MAX_FRAME_BYTES:
            raise ValueError(
                f"frame of {size} bytes: Wings drops frames over {MAX_FRAME_BYTES} bytes"
            )
        await self.ws.send(frame)

    async def send_command(self, command: str) -> None:
        """Type ``command`` into the server console (needs ``control.console``).

        Wings ignores commands while the server is offline.
        """
        if not isinstance(command, str):
            raise TypeError(f"command: expected a str, got {type(command).__name__}")
        if not command.strip() or "\n" in command or "\r" in command:
            raise ValueError("command: expected one non-empty line")
        await self.send(SEND_COMMAND, command)

    async def set_state(self, state: str) -> None:
        """Power action: ``"start"``, ``"stop"``, ``"restart"`` or ``"kill"``."""
        if state not in POWER_ACTIONS:
            raise ValueError(f"state: expected one of {sorted(POWER_ACTIONS)}, got {state!r}")
        await self.send(SET_STATE, state)

    async def request_logs(self) -> None:
        """Ask the node to replay recent console lines (as :class:`ConsoleOutput`)."""
        await self.send(SEND_LOGS)

    async def request_stats(self) -> None:
        """Ask the node for a :class:`Stats` event now."""
        await self.send(SEND_STATS)

    # ---------------------------------------------------------------- iteration

    def __aiter__(self) -> Console:
        return self

    async def __anext__(self) -> ConsoleEvent:
        try:
            event: ConsoleEvent = await self.ws.receive()
        except (trio.EndOfChannel, PterowsError) as end:
            # The manager ends iteration cleanly or with the reason (ConnectionLost /
            # ConnectionFailed); a node that ended the session for good says so.
            if self._final is not None:
                raise self._final from None
            if isinstance(end, trio.EndOfChannel):
                raise StopAsyncIteration from None
            raise
        return event


def _cleared(event: trio.Event) -> trio.Event:
    return trio.Event() if event.is_set() else event


class open_console:
    """``async with open_console(panel_url, api_key, server_id, **options) as console:``

    Fetches credentials, connects with the panel's Origin, authenticates, and returns
    a :class:`Console`. ``options`` are :class:`~trio_pterows.WSConnectionOptions`
    fields; here ``auto_reconnect`` defaults to True, ``heartbeat_mode`` to
    ``"protocol"`` (Wings drops text pings) and ``queue_messages`` to True.

    A :class:`PanelAPIError` (401/403/404 are never retried) or :class:`ConsoleClosed`
    on the first attempt is raised by ``async with`` itself; other failures raise
    :class:`~trio_pterows.ConnectionFailed`.

    ``http_client``: an :class:`httpx.AsyncClient` for the panel (yours is not closed);
    ``origin``: override the Origin header; ``rate_limit``: False to disable client-side
    pacing, or a configured :class:`RateLimiter`; ``stream_opener``: see
    :class:`~trio_pterows.AdvancedWebSocket`.
    """

    def __init__(
        self,
        panel_url: str,
        api_key: str,
        server_id: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        origin: str | None = None,
        rate_limit: bool | RateLimiter = True,
        stream_opener: StreamOpener | None = None,
        **options: Any,
    ) -> None:
        self._console = Console(
            panel_url,
            api_key,
            server_id,
            http_client=http_client,
            origin=origin,
            rate_limit=rate_limit,
            stream_opener=stream_opener,
            options=options,
        )

    async def __aenter__(self) -> Console:
        await self._console._enter()
        return self._console

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        await self._console._exit(exc_type, exc, tb)
        return False
