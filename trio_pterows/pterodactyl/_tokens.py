"""The console's token lifecycle: one state enum, one checked transition, a refresh event.

::

    UNAUTHENTICATED ──auth success──▶ VALID ──due (deadline, token expiring)──▶ DUE
                                        │                                       │
                                        └──expired (token expired, jwt error)─▶ EXPIRED
    DUE ──refresh starts──▶ REFRESHING            EXPIRED ──▶ REFRESHING_EXPIRED
    REFRESHING* ──auth success──▶ VALID (a refresh: counted, listeners told)
    REFRESHING ──failed──▶ DUE     REFRESHING_EXPIRED ──failed──▶ EXPIRED
    any state ──socket ended──▶ UNAUTHENTICATED (the next connect fetches a new token)

Frames other than ``auth`` wait while the token is known to be expired (``EXPIRED``,
``REFRESHING_EXPIRED``). While a refresh is in flight, expiry notices are about the old
token and change nothing: the refresh answers them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Final

import trio

from ._frames import token_lifetime

__all__ = ["REFRESH_AHEAD", "TokenLifecycle", "TokenState"]

#: Refresh this long before the token's own expiry (capped at a quarter of its life).
REFRESH_AHEAD: Final = 60.0


class TokenState(enum.Enum):
    """Where the console's token stands (see the module docstring)."""

    UNAUTHENTICATED = "unauthenticated"
    VALID = "valid"
    DUE = "due"
    EXPIRED = "expired"
    REFRESHING = "refreshing"
    REFRESHING_EXPIRED = "refreshing-expired"


_S = TokenState
_ALLOWED: Final[dict[TokenState, frozenset[TokenState]]] = {
    _S.UNAUTHENTICATED: frozenset({_S.VALID}),
    _S.VALID: frozenset({_S.DUE, _S.EXPIRED}),
    _S.DUE: frozenset({_S.EXPIRED, _S.REFRESHING}),
    _S.EXPIRED: frozenset({_S.REFRESHING_EXPIRED}),
    _S.REFRESHING: frozenset({_S.VALID, _S.DUE}),
    _S.REFRESHING_EXPIRED: frozenset({_S.VALID, _S.EXPIRED}),
}
_WAITING: Final = frozenset({_S.EXPIRED, _S.REFRESHING_EXPIRED})
_WANTED: Final = frozenset({_S.DUE, _S.EXPIRED})

#: ``listener(old, new)``, called on every transition.
TokenListener = Callable[[TokenState, TokenState], None]


class TokenLifecycle:
    """The token of one console: its state, its deadlines and who waits on them.

    Not thread-safe; all methods but the ``wait_*`` ones are synchronous and never
    block. ``refreshes`` counts refreshes completed on a live socket.
    """

    def __init__(self) -> None:
        self.state: TokenState = _S.UNAUTHENTICATED
        self.token: str | None = None
        self.expires_at = math.inf
        self.refresh_at = math.inf
        self.refreshes = 0
        self._sendable = trio.Event()
        self._sendable.set()
        self._changed = trio.Event()
        self._listeners: list[TokenListener] = []

    def __repr__(self) -> str:  # never the token
        return f"<TokenLifecycle {self.state.value} refreshes={self.refreshes}>"

    # ------------------------------------------------------------------ transitions

    def _move(self, new: TokenState) -> None:
        """The one transition function: checks the move, then tells everyone."""
        old = self.state
        if new is old:
            return
        if new is not _S.UNAUTHENTICATED and new not in _ALLOWED[old]:
            raise RuntimeError(f"token state: {old.value} -> {new.value} is not a transition")
        self.state = new
        if new in _WAITING and self._sendable.is_set():
            self._sendable = trio.Event()
        elif new not in _WAITING:
            self._sendable.set()
        if new is _S.VALID and old in (_S.REFRESHING, _S.REFRESHING_EXPIRED):
            self.refreshes += 1
        self._changed.set()
        self._changed = trio.Event()
        for listener in tuple(self._listeners):
            listener(old, new)

    def add_listener(self, listener: TokenListener) -> None:
        """Call ``listener(old, new)`` on every transition (synchronously; must not raise).

        A refresh is ``new is TokenState.VALID`` with ``old`` a ``REFRESHING`` state.
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: TokenListener) -> None:
        self._listeners.remove(listener)

    def adopt(self, token: str, now: float) -> None:
        """A new token from the panel: its deadlines follow its ``iat``/``exp``."""
        self.token = token
        lifetime = token_lifetime(token)
        if lifetime is None:  # rely on the node's `token expiring`
            self.refresh_at = self.expires_at = math.inf
        else:
            self.expires_at = now + lifetime
            self.refresh_at = self.expires_at - min(REFRESH_AHEAD, lifetime / 4)
        self._changed.set()
        self._changed = trio.Event()

    def authenticated(self) -> None:
        """``auth success``: on connect, or the answer to a refresh."""
        if self.state in (_S.UNAUTHENTICATED, _S.REFRESHING, _S.REFRESHING_EXPIRED):
            self._move(_S.VALID)

    def notice(self, *, expired: bool) -> None:
        """The node (or our own clock) says the token expires soon / has expired."""
        if self.state is _S.VALID:
            self._move(_S.EXPIRED if expired else _S.DUE)
        elif self.state is _S.DUE and expired:
            self._move(_S.EXPIRED)

    def begin_refresh(self) -> bool:
        """The refresher starts; False when there is nothing to refresh now."""
        if self.state is _S.DUE:
            self._move(_S.REFRESHING)
        elif self.state is _S.EXPIRED:
            self._move(_S.REFRESHING_EXPIRED)
        else:
            return False
        return True

    def refresh_failed(self) -> None:
        """The refresh did not get an ``auth success``: wanted again."""
        if self.state is _S.REFRESHING:
            self._move(_S.DUE)
        elif self.state is _S.REFRESHING_EXPIRED:
            self._move(_S.EXPIRED)

    def socket_ended(self) -> None:
        """The socket is gone: nothing to refresh; the next connect authenticates afresh."""
        self._move(_S.UNAUTHENTICATED)

    # ------------------------------------------------------------------ waiting

    @property
    def sendable(self) -> bool:
        """False while the token is known to be expired (frames wait)."""
        return self.state not in _WAITING

    async def wait_sendable(self) -> None:
        """Return once frames may go (at once if they may). Cancellation: safe."""
        await self._sendable.wait()

    async def wait_refresh_wanted(self) -> None:
        """Return once a refresh is wanted: ``DUE`` or ``EXPIRED``, or the token's own
        refresh deadline passed while ``VALID`` (which moves it to ``DUE``).
        Cancellation: safe, nothing changes."""
        while self.state not in _WANTED:
            changed = self._changed
            deadline = self.refresh_at if self.state is _S.VALID else math.inf
            with trio.move_on_at(deadline):
                await changed.wait()
            if self.state is _S.VALID and trio.current_time() >= self.refresh_at:
                self._move(_S.DUE)
        await trio.lowlevel.checkpoint()

    async def wait_refreshed(self) -> None:
        """Return after the next refresh completed on the live socket. Cancellation: safe."""
        target = self.refreshes + 1
        while self.refreshes < target:
            await self._changed.wait()
