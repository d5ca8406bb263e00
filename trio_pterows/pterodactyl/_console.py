"""The Pterodactyl / Pelican console client: :func:`open_console` and :class:`Console`.

It is an :class:`~trio_pterows.AdvancedWebSocket` wired for Wings:

- ``url_provider`` fetches a fresh token and socket URL from the panel for every
  connect attempt (the server may have moved nodes), never before a 429's
  ``Retry-After`` is over; the API key goes only to the panel;
- ``on_connect`` sends ``auth`` and waits for ``auth success`` before anything queued
  goes out; a ``daemon error`` or ``jwt error`` answer fails that attempt at once;
  then (``replay_logs``) it asks for ``send logs`` and ``send stats``;
- the Wings parser runs as the first incoming interceptor, so ``async for event in
  console`` is the manager's message stream, split into one event per line and with
  replayed history filtered (:mod:`._replay`);
- the rate limiter is an async ``on_before_send``: it paces every frame when it is
  actually written, and holds frames while the token is known to be expired;
- the token lifecycle (:mod:`._tokens`) drives a refresher task that re-authenticates
  on the same socket.
"""

from __future__ import annotations

import logging
from collections import deque
from types import TracebackType
from typing import Any

import httpx
import trio

from .._events import DROP, CloseEvent, ErrorEvent
from .._exceptions import ConnectionFailed, ConnectionLost, PterowsError
from .._manager import AdvancedWebSocket
from .._options import WSConnectionOptions, _to_headers
from ..transports._stream import StreamOpener
from ._commands import CommandsMixin
from ._connect import CapRetry, PanelGate, final_error_of, is_socket_cap
from ._events import AUTH, SEND_LOGS, ConsoleEvent, ConsoleOutput, Stats
from ._frames import parse_client_frame
from ._panel import origin_for, websocket_endpoint
from ._ratelimit import RateLimiter
from ._reactions import ReactionsMixin
from ._replay import LineStream
from ._tokens import TokenLifecycle, TokenState

__all__ = ["Console", "open_console"]

_log = logging.getLogger("trio_pterows.pterodactyl")

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


class Console(CommandsMixin, ReactionsMixin):
    """A live console session (returned by ``async with open_console(...)``).

    Iterate it for typed events (:class:`ConsoleOutput` one per line,
    :class:`StatusChange`, :class:`Stats`, ...), across reconnects and token
    refreshes. Iteration raises :class:`ConsoleClosed` (or the final
    :class:`PanelAPIError`) once the session ended for good, after every earlier
    event was delivered. ``tokens`` is the token lifecycle (state, refresh count and
    listeners); ``lines`` the per-line stream and replay filter.
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
        replay_logs: bool = True,
        options: dict[str, Any],
    ) -> None:
        websocket_endpoint(panel_url, server_id)  # validates both, naming the bad one
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValueError("api_key: expected a non-empty client API key")
        if not isinstance(replay_logs, bool):
            raise TypeError(f"replay_logs: expected a bool, got {type(replay_logs).__name__}")
        bad = sorted(_RESERVED & set(options))
        if bad:
            raise TypeError(f"open_console sets {', '.join(bad)} itself; do not pass them")
        self.panel_url = panel_url
        self.server_id = server_id
        self.replay_logs = replay_logs
        self._api_key = api_key
        self._own_client = http_client is None
        self._http = http_client
        self._origin = origin if origin is not None else origin_for(panel_url)
        if isinstance(rate_limit, RateLimiter):
            self.rate_limiter = rate_limit
        else:
            self.rate_limiter = RateLimiter(enabled=bool(rate_limit))
        #: The token lifecycle: ``tokens.state``, ``tokens.refreshes``, listeners.
        self.tokens = TokenLifecycle()
        #: One event per line, and the replay filter.
        self.lines = LineStream()
        #: The most recent ``status`` the node reported, or None.
        self.status: str | None = None
        #: The most recent :class:`Stats`, or None.
        self.last_stats: Stats | None = None
        self._status_changed = trio.Event()
        self._final: PterowsError | None = None
        self._ended = trio.Event()
        self._close_wanted = trio.Event()
        self._connected_once = False
        self._transferred = False
        self._panel_gate = PanelGate()
        self._own_replays = 0
        self._pending: deque[ConsoleEvent] = deque()
        self._init_commands()
        self._nursery_manager: Any = None
        self._nursery: trio.Nursery | None = None

        #: The underlying connection manager (metrics, events, state).
        self.ws = AdvancedWebSocket(self._ws_options(options), stream_opener=stream_opener)
        self._cap = CapRetry(self.ws)
        self.ws.add_event_listener("close", self._on_close)
        self.ws.add_event_listener("error", self._on_error)

    def _ws_options(self, options: dict[str, Any]) -> WSConnectionOptions:
        """The manager's options: the user's, wrapped around the console's own hooks."""
        user = {**CONSOLE_DEFAULTS, **options}
        self._user_before_send = user.pop("on_before_send", None)
        self._user_before_reconnect = user.pop("on_before_reconnect", None)
        interceptors = tuple(user.pop("incoming_message_interceptors", ()))
        headers = dict(_to_headers(user.pop("headers", ())))
        if not any(name.lower() == "origin" for name in headers):
            headers["Origin"] = self._origin
        user["fatal_close_codes"] = frozenset(user.get("fatal_close_codes", ())) | {4409, 4400}
        return WSConnectionOptions(
            url="wss://pending.invalid/",  # replaced by url_provider on every attempt
            url_provider=self._next_url,
            on_connect=self._authenticate,
            on_before_send=self._before_send,
            on_before_reconnect=self._before_reconnect,
            incoming_message_interceptors=(self._on_frame, *interceptors),
            headers=headers,
            **user,
        )

    def __repr__(self) -> str:
        return (
            f"<Console panel={self.panel_url!r} server={self.server_id!r} "
            f"state={self.ws.state.value} status={self.status!r} "
            f"token={self.tokens.state.value}>"
        )

    def _share_panel_client(self, client: httpx.AsyncClient) -> None:
        """Use ``client`` (a group's) for the panel; the group closes it."""
        self._http, self._own_client = client, False

    @property
    def token_refreshes(self) -> int:
        """Token refreshes completed on a live socket (``tokens.refreshes``)."""
        return self.tokens.refreshes

    @property
    def token_state(self) -> TokenState:
        """Where the token stands (``tokens.state``)."""
        return self.tokens.state

    # ------------------------------------------------------------------ lifecycle

    async def _enter(self) -> None:
        await self._start()
        try:
            await self._first_connect()
        except BaseException as exc:
            await self._exit(type(exc), exc, exc.__traceback__)
            raise

    async def _start(self) -> None:
        """Open the panel client, the console's nursery and the manager (no connect).
        The same task must call :meth:`_exit` later."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.ws.options.connection_timeout, follow_redirects=False
            )
        self._nursery_manager = trio.open_nursery()
        nursery = self._nursery = await self._nursery_manager.__aenter__()
        try:
            await self.ws.__aenter__()
        except BaseException as exc:
            await self._exit(type(exc), exc, exc.__traceback__)
            raise
        nursery.start_soon(self._refresher)
        nursery.start_soon(self._closer)
        nursery.start_soon(self._cap.run, self._has_ended)

    async def _first_connect(self) -> None:
        """Connect and authenticate; the first attempt's panel or console error is
        raised as itself (a socket cap is waited out with backoff)."""
        failure = await self._cap.connect(self._has_ended)
        if failure is not None:
            raise self._first_error(failure) from failure

    def _has_ended(self) -> bool:
        return self._final is not None

    def _first_error(self, exc: ConnectionFailed) -> Exception:
        # A panel or console error on the first attempt is raised as itself.
        if self._final is not None:
            return self._final
        if exc.attempts:
            final = final_error_of(exc.attempts[-1][1], transferred=False)
            if final is not None:
                return final
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
            self._ended.set()
            self._wake_commands()
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

    # --------------------------------------------------------------- manager events

    def _on_error(self, event: ErrorEvent) -> None:
        if event.context != "connect":
            return
        error = event.error
        if is_socket_cap(error):
            if self.ws.is_connected or self._nursery is None:
                return
            if self._final is None and self._connected_once:
                self._cap.noticed()  # iteration waits for the revival
            return
        final = final_error_of(error, transferred=self._transferred)
        if final is not None and self._final is None:
            self._final = final
            _log.info("console session ended: %s", final)

    def _on_close(self, event: CloseEvent) -> None:
        self.tokens.socket_ended()
        self.lines.close_window()  # a burst cut short is delivered as it is
        if self._final is None and not self._transferred:
            final = final_error_of(event, transferred=False)
            if final is not None:
                self._final = final

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
            if trio.current_time() >= self.tokens.expires_at - 1.0:
                self.tokens.notice(expired=True)  # we know it is (about to be) expired
            await self.tokens.wait_sendable()
        limiter = self.rate_limiter
        # Sleeps exactly until the buckets refill; loops only if a backoff came meanwhile.
        while (delay := limiter.delay(event, trio.current_time())) > 0:  # noqa: ASYNC110
            await trio.sleep(delay)
        limiter.consume(event, trio.current_time())
        if event == SEND_LOGS:
            own = self._own_replays > 0
            self._own_replays = max(0, self._own_replays - 1)
            self.lines.open_window(trio.current_time(), dedupe=own)
        self._arm_commands(frame)
        return frame

    # ---------------------------------------------------------------- iteration

    def __aiter__(self) -> Console:
        return self

    async def __anext__(self) -> ConsoleEvent:
        while True:
            if self._pending:
                return self._pending.popleft()
            with trio.move_on_at(self.lines.deadline()):
                try:
                    event: ConsoleEvent = await self.ws.receive()
                except (trio.EndOfChannel, ConnectionFailed, ConnectionLost) as exc:
                    # The manager's stream ended, cleanly or raising why (ConnectionFailed:
                    # gave up; ConnectionLost: a fatal close code such as 4409).
                    self._pending.extend(self.lines.finish())
                    if self._pending:
                        continue
                    revived = self._cap.reviving
                    if revived is not None and self._final is None:
                        await revived.wait()
                        if self.ws.state.value != "closed":
                            continue
                    if self._final is not None:
                        raise self._final from None
                    if isinstance(exc, (ConnectionFailed, ConnectionLost)):
                        raise
                    raise StopAsyncIteration from None
                if not isinstance(event, ConsoleOutput):
                    return event
                if event.replayed:
                    self._pending.extend(self.lines.hold(event))
                else:
                    self._pending.extend(self.lines.live(event))
                continue
            self._pending.extend(self.lines.finish())  # the replay burst is over


class open_console:
    """``async with open_console(panel_url, api_key, server_id, **options) as console:``

    Fetches credentials, connects with the panel's Origin, authenticates, and returns
    a :class:`Console`. ``options`` are :class:`~trio_pterows.WSConnectionOptions`
    fields; here ``auto_reconnect`` defaults to True, ``heartbeat_mode`` to
    ``"protocol"`` (Wings drops text pings) and ``queue_messages`` to True.

    A :class:`PanelAPIError` (401/404, 403 and a suspended server's 409 are never
    retried) or :class:`ConsoleClosed` on the first attempt is raised by ``async
    with`` itself; other failures raise :class:`~trio_pterows.ConnectionFailed`.

    ``http_client``: an :class:`httpx.AsyncClient` for the panel (yours is not closed);
    ``origin``: override the Origin header; ``rate_limit``: False to disable client-side
    pacing, or a configured :class:`RateLimiter`; ``replay_logs`` (default True): after
    the first ``auth success`` of every connection, ask for ``send logs`` and ``send
    stats`` and deliver the history as ``ConsoleOutput(replayed=True)`` without lines
    already delivered; ``stream_opener``: see :class:`~trio_pterows.AdvancedWebSocket`.
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
        replay_logs: bool = True,
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
            replay_logs=replay_logs,
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
