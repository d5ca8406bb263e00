"""What the demo and ``pterows console`` both watch on a Console: its token lifecycle.

The console's :class:`~trio_pterows.pterodactyl.TokenLifecycle` tells every change of
its :class:`~trio_pterows.pterodactyl.TokenState`; the CLI wants two of them: an
expiry episode starting (the token is due, or the node says it expired) and a refresh
completing on the live socket.
"""

from __future__ import annotations

from collections.abc import Callable

from ..pterodactyl import Console, TokenState

_REFRESHING = (TokenState.REFRESHING, TokenState.REFRESHING_EXPIRED)
_WANTED = (TokenState.DUE, TokenState.EXPIRED)


def is_refresh(old: TokenState, new: TokenState) -> bool:
    """A new token was accepted on the live socket."""
    return new is TokenState.VALID and old in _REFRESHING


def starts_expiry(old: TokenState, new: TokenState) -> bool:
    """An expiry episode starts: ``new`` is ``DUE`` (a refresh is due, by the token's
    own deadline or the node's ``token expiring``) or ``EXPIRED`` (frames wait)."""
    return old is TokenState.VALID and new in _WANTED


def watch_tokens(
    console: Console,
    *,
    expiring: Callable[[TokenState], None],
    refreshed: Callable[[], None],
) -> Callable[[TokenState, TokenState], None]:
    """Call ``expiring(new_state)`` when an expiry episode starts and ``refreshed()``
    when a refresh completed; both synchronously, from the console's own tasks, so
    they must not raise or block. Returns the listener (for ``remove_listener``)."""

    def listener(old: TokenState, new: TokenState) -> None:
        if is_refresh(old, new):
            refreshed()
        elif starts_expiry(old, new):
            expiring(new)

    console.tokens.add_listener(listener)
    return listener
