"""The console's token lifecycle: states, checked transitions, the refresh event."""

from __future__ import annotations

import ast
import base64
import json
import math
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_pterows.pterodactyl import TokenLifecycle, TokenState

S = TokenState
PTERODACTYL = Path(__file__).resolve().parent.parent / "trio_pterows" / "pterodactyl"


def jwt(lifetime: float) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"iat": 0, "exp": lifetime}).encode())
    return f"e30.{claims.decode().rstrip('=')}.sig"


def test_a_refresh_is_counted_and_told() -> None:
    tokens = TokenLifecycle()
    moves: list[tuple[TokenState, TokenState]] = []
    tokens.add_listener(lambda old, new: moves.append((old, new)))
    tokens.authenticated()
    tokens.notice(expired=False)
    assert tokens.begin_refresh()
    tokens.authenticated()
    assert tokens.refreshes == 1
    assert moves == [
        (S.UNAUTHENTICATED, S.VALID),
        (S.VALID, S.DUE),
        (S.DUE, S.REFRESHING),
        (S.REFRESHING, S.VALID),
    ]


def test_sends_wait_only_while_the_token_is_known_to_be_expired() -> None:
    tokens = TokenLifecycle()
    tokens.authenticated()
    assert tokens.sendable
    tokens.notice(expired=True)
    assert tokens.state is S.EXPIRED
    assert not tokens.sendable
    assert tokens.begin_refresh()
    assert tokens.state is S.REFRESHING_EXPIRED
    assert not tokens.sendable
    tokens.refresh_failed()
    assert tokens.state is S.EXPIRED
    tokens.socket_ended()  # the next connect authenticates afresh
    assert tokens.state is S.UNAUTHENTICATED
    assert tokens.sendable


def test_notices_during_a_refresh_change_nothing() -> None:
    tokens = TokenLifecycle()
    tokens.authenticated()
    tokens.notice(expired=False)
    tokens.begin_refresh()
    tokens.notice(expired=True)  # about the old token: the refresh answers it
    assert tokens.state is S.REFRESHING
    assert not tokens.begin_refresh()  # one refresh at a time


def test_transitions_are_checked() -> None:
    tokens = TokenLifecycle()
    with pytest.raises(RuntimeError, match="unauthenticated -> refreshing"):
        tokens._move(S.REFRESHING)


async def test_the_deadline_makes_a_refresh_due(autojump_clock: trio.testing.MockClock) -> None:
    tokens = TokenLifecycle()
    tokens.adopt(jwt(600), trio.current_time())
    assert tokens.refresh_at == pytest.approx(trio.current_time() + 540)
    tokens.authenticated()
    with trio.fail_after(1000):
        await tokens.wait_refresh_wanted()
    assert tokens.state is S.DUE
    assert trio.current_time() == pytest.approx(540)
    unreadable = TokenLifecycle()
    unreadable.adopt("not-a-jwt", 0.0)
    assert unreadable.refresh_at == math.inf


async def test_wait_refreshed(autojump_clock: trio.testing.MockClock) -> None:
    tokens = TokenLifecycle()
    tokens.authenticated()

    async def refresh_later() -> None:
        await trio.sleep(5)
        tokens.notice(expired=False)
        tokens.begin_refresh()
        tokens.authenticated()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(refresh_later)
            await tokens.wait_refreshed()
    assert trio.current_time() == 5
    assert "token" not in repr(tokens).lower().replace("tokenlifecycle", "")


@pytest.mark.parametrize("path", sorted(PTERODACTYL.glob("*.py")), ids=lambda p: p.name)
def test_the_console_names_no_private_attribute_of_the_manager(path: Path) -> None:
    # Public surface only (close codes come from the close/error events).
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "ws"
        ):
            pytest.fail(f"{path.name}:{node.lineno} reads ws.{node.attr}")
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "ws"
            and isinstance(node.value, ast.Name)
        ):
            pass
    assert "._live" not in path.read_text()
