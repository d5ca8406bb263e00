"""The console's reactions: credentials per attempt, ``auth``, what each incoming event
changes, and the token refresher. A mixin of :class:`~._console.Console` (its state is
declared there); kept apart so each concern reads on its own.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any, Final

import httpx
import trio

from .._exceptions import NotConnected, PterowsError, ResponseTimeout
from ._connect import TRANSFER_DONE, NodeRefused, PanelGate
from ._events import (
    AUTH,
    SEND_LOGS,
    SEND_STATS,
    AuthSuccess,
    ConsoleEvent,
    ConsoleOutput,
    DaemonError,
    Deleted,
    JwtError,
    Stats,
    StatusChange,
    Throttled,
    TokenExpired,
    TokenExpiring,
    TransferStatus,
)
from ._exceptions import ConsoleClosed, PanelAPIError
from ._frames import encode_frame, jwt_error_kind, parse_frame
from ._panel import fetch_credentials
from ._ratelimit import RateLimiter
from ._replay import LineStream
from ._tokens import TokenLifecycle

if TYPE_CHECKING:
    from .._manager import AdvancedWebSocket

__all__ = ["ReactionsMixin"]

_log = logging.getLogger("trio_pterows.pterodactyl")

#: How long to hold every frame after the node said ``throttled``.
_THROTTLE_BACKOFF: Final = {"global": 1.0, AUTH: 5.0, SEND_LOGS: 5.0}
#: Wait this long before retrying a refresh the panel refused (or its Retry-After).
_REFRESH_RETRY: Final = 5.0


class ReactionsMixin:
    # Declared by Console.
    ws: AdvancedWebSocket
    panel_url: str
    server_id: str
    replay_logs: bool
    rate_limiter: RateLimiter
    tokens: TokenLifecycle
    lines: LineStream
    status: str | None
    last_stats: Stats | None
    _api_key: str
    _http: httpx.AsyncClient | None
    _final: PterowsError | None
    _transferred: bool
    _panel_gate: PanelGate
    _own_replays: int
    _status_changed: trio.Event
    _pending: deque[ConsoleEvent]
    _connected_once: bool
    _close_wanted: trio.Event

    def _match_lines(self, event: ConsoleOutput) -> bool:  # CommandsMixin
        raise NotImplementedError

    def _wake_commands(self) -> None:  # CommandsMixin
        raise NotImplementedError

    # --------------------------------------------------------------- connecting

    async def _credentials(self) -> str:
        """Ask the panel (after any Retry-After) and adopt the token; the socket URL."""
        assert self._http is not None
        await self._panel_gate.wait()
        try:
            credentials = await fetch_credentials(
                self._http, self.panel_url, self._api_key, self.server_id
            )
        except PanelAPIError as exc:
            self._panel_gate.note(exc)
            if exc.fatal and self._final is None:
                self._final = exc
            raise
        self.tokens.adopt(credentials.token, trio.current_time())
        return credentials.socket_url

    async def _next_url(self) -> str:
        url = await self._credentials()
        # Wings' buckets are per connection: a new socket starts with full ones.
        self.rate_limiter.reset()
        return url

    async def _authenticate(self, ws: AdvancedWebSocket) -> None:
        token = self.tokens.token
        if token is None:  # pragma: no cover - url_provider always runs first
            raise RuntimeError("no token to authenticate with")
        reply = await ws.send_and_wait_response(
            encode_frame(AUTH, token),
            lambda event: isinstance(event, (AuthSuccess, JwtError, DaemonError)),
            timeout=ws.options.connection_timeout,
        )
        if isinstance(reply, DaemonError):
            raise NodeRefused(f"the node refused the token: {reply.text}")
        if isinstance(reply, JwtError):
            if jwt_error_kind(reply.text) == "fatal":
                self._final = ConsoleClosed(None, reply.text)
                raise self._final
            raise NodeRefused(f"the node refused the token: {reply.text}")
        self.tokens.authenticated()
        self._transferred = False  # this node holds the server now
        self._connected_once = True
        if self.replay_logs:
            self._own_replays += 1
            await ws.send(encode_frame(SEND_LOGS))
            await ws.send(encode_frame(SEND_STATS))

    # ------------------------------------------------------------------ receive

    def _on_frame(self, data: Any) -> Any:
        """First incoming interceptor: frame → typed event, and the console's reactions."""
        event = parse_frame(data)
        if isinstance(event, ConsoleOutput):
            # A command's answer is live, even when it comes during a replay window.
            if not self._match_lines(event) and self.lines.is_candidate(trio.current_time()):
                return ConsoleOutput(event.line, replayed=True)
        elif isinstance(event, StatusChange):
            self._set_status(event.status)
        elif isinstance(event, Stats):
            self.last_stats = event
            if event.state:
                self._set_status(event.state)
        elif isinstance(event, AuthSuccess):
            self.tokens.authenticated()
        elif isinstance(event, (TokenExpiring, TokenExpired)):
            self.tokens.notice(expired=isinstance(event, TokenExpired))
        elif isinstance(event, JwtError):
            self._on_jwt_error(event)
        elif isinstance(event, TransferStatus):
            if event.status in TRANSFER_DONE:
                self._transferred = True
                _log.info("the server moved to another node: new credentials on the next connect")
        elif isinstance(event, Deleted):
            if not self._transferred:
                self._end(ConsoleClosed(None, "server deleted"))
        elif isinstance(event, Throttled):
            seconds = _THROTTLE_BACKOFF.get(event.event, 1.0)
            self.rate_limiter.backoff(trio.current_time(), seconds)
            _log.warning("the node throttled %r: holding frames for %.1fs", event.event, seconds)
        return event

    def _set_status(self, status: str) -> None:
        if status == "offline":
            self.lines.offline()
        if status != self.status:
            self.status = status
            self._status_changed.set()
            self._status_changed = trio.Event()

    def _on_jwt_error(self, event: JwtError) -> None:
        if jwt_error_kind(event.text) == "fatal":
            if self.ws.is_connected:  # during auth, _authenticate decides
                self._end(ConsoleClosed(None, event.text))
        else:
            self.tokens.notice(expired=True)

    def _end(self, error: PterowsError) -> None:
        if self._final is None:
            self._final = error
            _log.info("console session ended: %s", error)
        self._wake_commands()
        self._close_wanted.set()

    async def _closer(self) -> None:
        await self._close_wanted.wait()
        if self._final is not None:
            await self.ws.close(1000, "console session ended")

    # ------------------------------------------------------------------ refresh

    async def _refresher(self) -> None:
        """Refresh the token when asked (node notices) or when it is due (its lifetime)."""
        while True:
            await self.tokens.wait_refresh_wanted()
            if not self.ws.is_connected:
                self.tokens.socket_ended()  # the next connect fetches a fresh token
                continue
            self.tokens.begin_refresh()
            try:
                await self._refresh_once()
            except PanelAPIError as exc:
                self.tokens.refresh_failed()
                if exc.fatal:
                    self._end(exc)
                    return
                delay = max(_REFRESH_RETRY, exc.retry_after or 0.0)
                _log.warning("token refresh failed, retrying in %.0fs: %s", delay, exc)
                await trio.sleep(delay)
            except (NotConnected, ResponseTimeout):
                self.tokens.refresh_failed()  # a reconnect authenticates afresh, or retry

    async def _refresh_once(self) -> None:
        await self._credentials()
        token = self.tokens.token
        assert token is not None
        # Only `auth success` answers: a jwt error arriving meanwhile may be about a
        # frame sent with the old token. A refused token times out and is retried.
        await self.ws.send_and_wait_response(
            encode_frame(AUTH, token),
            lambda event: isinstance(event, AuthSuccess),
            timeout=self.ws.options.connection_timeout,
            urgent=True,  # frames queued behind may be waiting for this very token
        )
        _log.info("token refreshed on the live socket")
