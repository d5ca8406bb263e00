"""The ``pterows`` command line, in-process: what it takes from a console's token
lifecycle (expiry episodes and refreshes), on the real :class:`TokenLifecycle`."""

from __future__ import annotations

import sys

import pytest

from trio_pterows.cli._tokens import is_refresh, starts_expiry, watch_tokens
from trio_pterows.pterodactyl import TokenState

from .cli_helpers import FakeConsole, token_due, token_expired, token_refreshed

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")

S = TokenState


@pytest.mark.parametrize(
    ("old", "new", "refresh", "expiry"),
    [
        (S.REFRESHING, S.VALID, True, False),
        (S.REFRESHING_EXPIRED, S.VALID, True, False),
        (S.UNAUTHENTICATED, S.VALID, False, False),  # a (re)connect, not a refresh
        (S.VALID, S.DUE, False, True),
        (S.VALID, S.EXPIRED, False, True),
        (S.DUE, S.EXPIRED, False, False),  # the same episode
        (S.REFRESHING, S.DUE, False, False),  # a failed refresh: still the same one
        (S.VALID, S.UNAUTHENTICATED, False, False),
    ],
)
def test_transitions_the_cli_tells(
    old: TokenState, new: TokenState, refresh: bool, expiry: bool
) -> None:
    assert is_refresh(old, new) is refresh
    assert starts_expiry(old, new) is expiry


def test_watch_tokens_tells_each_episode_and_refresh_once() -> None:
    console = FakeConsole()
    told: list[str] = []
    listener = watch_tokens(
        console,  # type: ignore[arg-type]
        expiring=lambda state: told.append(state.value),
        refreshed=lambda: told.append("refreshed"),
    )
    token_due(console.tokens)
    token_expired(console.tokens)  # due, then expired: one episode
    token_refreshed(console.tokens)
    token_refreshed_ahead = [token_due, token_refreshed]
    for step in token_refreshed_ahead:
        step(console.tokens)
    console.tokens.socket_ended()
    console.tokens.authenticated()  # the reconnect authenticates: not a refresh
    assert told == ["due", "refreshed", "due", "refreshed"]
    assert console.token_refreshes == 2
    console.tokens.remove_listener(listener)
    token_expired(console.tokens)
    assert len(told) == 4
