"""The ``pterows`` command line, in-process: token refreshes seen on a console, Wings' rate
limits before a reconnect."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from trio_pterows.cli._tokens import RefreshWatch, fresh_rate_limits
from trio_pterows.pterodactyl import AuthSuccess

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


def test_refresh_watch_counts_each_refresh_once() -> None:
    watch = RefreshWatch()
    console = SimpleNamespace(token_refreshes=0)
    assert not watch.refreshed(None, AuthSuccess())
    assert watch.expiry_notice()
    assert not watch.expiry_notice()  # the node repeats it: one episode
    assert watch.refreshed(console, AuthSuccess())  # type: ignore[arg-type]
    assert not watch.refreshed(console, AuthSuccess())  # type: ignore[arg-type]
    console.token_refreshes = 3  # refreshed ahead of expiry, by the console itself
    assert watch.refreshed(console)  # type: ignore[arg-type]
    assert not watch.refreshed(console)  # type: ignore[arg-type]
    watch.expiry_notice()
    watch.new_socket()
    assert watch.expiry_notice()


def test_fresh_rate_limits_resets_the_console_limiter() -> None:
    resets: list[int] = []
    console = SimpleNamespace(rate_limiter=SimpleNamespace(reset=lambda: resets.append(1)))
    assert fresh_rate_limits(None)
    assert fresh_rate_limits(console)  # type: ignore[arg-type]
    assert resets == [1]
