"""How the console judges what the panel and the node answer on the connect path.

Pure decisions and small state, no socket: the panel's ``Retry-After`` gate, the
node's answers to ``auth``, which closes and connect failures end the session, and
the Wings socket cap (HTTP 400 "Too many open websocket connections") that the core
would treat as final but that frees up as other viewers leave.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import trio

from .._backoff import reconnect_delay
from .._exceptions import ConnectionFailed, HandshakeError, PterowsError
from .._options import WSConnectionOptions
from ._events import CLOSE_GOING_AWAY, DELETED_CLOSE_REASON
from ._exceptions import ConsoleClosed, PanelAPIError
from ._frames import is_final_close

if TYPE_CHECKING:
    from .._manager import AdvancedWebSocket

__all__ = [
    "CapRetry",
    "NodeRefused",
    "PanelGate",
    "cap_backoff",
    "final_error_of",
    "is_socket_cap",
    "is_transfer_close",
]

_log = logging.getLogger("trio_pterows.pterodactyl")

#: Wings' answer past 30 sockets per server (new Wings).
SOCKET_CAP_TEXT: Final = "too many open websocket connections"
#: ``transfer status`` values that mean the server now lives on another node.
TRANSFER_DONE: Final = frozenset({"completed", "success"})


class NodeRefused(PterowsError):
    """The node answered ``auth`` with a ``daemon error`` or a retryable ``jwt error``
    (a malformed, wrongly signed, expired or denylisted token): this attempt failed
    with the node's text; the next one fetches a fresh token."""


def is_socket_cap(exc: BaseException | None) -> bool:
    """Wings' per-server socket cap: HTTP 400 "Too many open websocket connections"."""
    if not isinstance(exc, HandshakeError) or exc.status_code != 400:
        return False
    body = exc.body or b""
    return SOCKET_CAP_TEXT in body.decode("utf-8", "replace").lower()


def is_transfer_close(code: int | None, reason: str | None) -> bool:
    """The 1001 "server deleted" close a source node sends after a transfer."""
    return code == CLOSE_GOING_AWAY and (reason or "").strip().lower() == DELETED_CLOSE_REASON


def final_error_of(exc: object, *, transferred: bool) -> PterowsError | None:
    """The session-ending error an attempt's failure (or a close event) means, or
    ``None`` (retryable).

    A fatal :class:`PanelAPIError` is itself; a close during set-up with a final code
    (``exc.code``/``exc.reason``, set by the core on a fatal close) becomes
    :class:`ConsoleClosed`, except the 1001 close after a completed transfer.
    """
    if isinstance(exc, (PanelAPIError, ConsoleClosed)) and exc.fatal:
        return exc
    code: Any = getattr(exc, "code", None)
    reason: Any = getattr(exc, "reason", None)
    if not isinstance(code, int):
        return None
    reason = reason if isinstance(reason, str) else ""
    if transferred and is_transfer_close(code, reason):
        return None
    if is_final_close(code, reason):
        return ConsoleClosed(code, reason)
    return None


class PanelGate:
    """No panel request before the ``Retry-After`` of the last 429 is over."""

    def __init__(self) -> None:
        self._not_before = -math.inf

    @property
    def not_before(self) -> float:
        """Trio time before which no panel request goes out (``-inf``: none pending)."""
        return self._not_before

    def note(self, exc: PanelAPIError) -> None:
        """A failed panel request: remember its ``Retry-After``."""
        if exc.retry_after is not None:
            self._not_before = max(self._not_before, trio.current_time() + exc.retry_after)

    async def wait(self) -> None:
        """Sleep until requests may go again (a checkpoint when they may now)."""
        await trio.sleep_until(self._not_before)


async def cap_backoff(options: WSConnectionOptions, retry: int) -> bool:
    """Sleep the reconnect backoff for the ``retry``-th try past the socket cap; False
    (at once) when ``max_reconnect_attempts`` is used up. Cancellation: safe."""
    limit = options.max_reconnect_attempts
    if limit is not None and retry > limit:
        return False
    delay = reconnect_delay(
        options.reconnect_strategy,
        retry,
        interval=options.reconnect_interval,
        max_interval=options.max_reconnect_interval,
        jitter=options.jitter,
    )
    _log.warning("the node has too many open sockets for this server: retrying in %.1fs", delay)
    await trio.sleep(delay)
    return True


class CapRetry:
    """Wings' per-server socket cap (HTTP 400 "Too many open websocket connections."):
    the core treats a 4xx at the upgrade as final, so the console starts new connect
    cycles itself, with the reconnect backoff, until the cap frees up."""

    def __init__(self, ws: AdvancedWebSocket) -> None:
        self._ws = ws
        self._retry = 0
        self._wanted = trio.Event()
        #: Set while a revival runs; iteration waits on it instead of ending.
        self.reviving: trio.Event | None = None

    async def connect(self, stop: Callable[[], bool]) -> ConnectionFailed | None:
        """``ws.connect()`` until it opens (None) or fails other than at the cap, or
        ``stop()`` says so, or the attempts are used up (that failure)."""
        while True:
            try:
                await self._ws.connect()  # joins an ending cycle, or starts one
            except ConnectionFailed as exc:
                last = exc.attempts[-1][1] if exc.attempts else None
                if stop() or not is_socket_cap(last):
                    return exc
                self._retry += 1
                if not await cap_backoff(self._ws.options, self._retry):
                    return exc
            else:
                self._retry = 0
                return None

    def noticed(self) -> None:
        """A reconnect hit the cap: the core's cycle is ending; revive it."""
        if self.reviving is None:
            self.reviving = trio.Event()
            self._wanted.set()

    async def run(self, stop: Callable[[], bool]) -> None:
        """The reviver task: one revival per :meth:`noticed`. Cancellation: safe."""
        while True:
            await self._wanted.wait()
            self._wanted = trio.Event()
            try:
                await self.connect(stop)
            finally:
                revived, self.reviving = self.reviving, None
                if revived is not None:
                    revived.set()
