"""Regression tests for bugs found in review (each names the bug it pins)."""

from __future__ import annotations

import copy
import functools
import pickle
import ssl
from unittest import mock

import pytest
import trio

import trio_pterows as pw
from trio_pterows import _codec
from trio_pterows._events import is_async_callable
from trio_pterows._metrics import LatencyStats
from trio_pterows._options import split_url


async def test_uppercase_wss_still_uses_tls(echo_url: str) -> None:
    # Once, "WSS://" connected in plaintext because the scheme check was case-sensitive.
    url = echo_url.replace("ws://", "WSS://")
    assert split_url(url)[0] is True
    with trio.fail_after(10), pytest.raises(pw.ConnectionFailed) as info:
        async with pw.open_websocket(url, heartbeat_interval=None):
            raise AssertionError("a plaintext server must not accept a TLS client")
    assert isinstance(info.value.attempts[0][1], (ssl.SSLError, OSError))


@pytest.mark.parametrize(
    ("url", "fallback"),
    [
        ("WSS://example.test/", "ws://example.test/"),
        ("wss://example.test/", "WS://example.test/"),
    ],
)
def test_downgrade_check_ignores_case(url: str, fallback: str) -> None:
    with pytest.raises(ValueError, match=r"fallback_urls\[0\]"):
        pw.WSConnectionOptions(url=url, fallback_urls=[fallback])


@pytest.mark.parametrize("url", [" wss://example.test/", "ws://exa mple.test/", "ws://h/\x00"])
def test_whitespace_and_control_characters_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"^url: "):
        pw.WSConnectionOptions(url=url)


@pytest.mark.parametrize("url", ["ws://[::1/", "ws://h:99999/", "ws://h:0/"])
def test_invalid_urls_name_the_option(url: str) -> None:
    with pytest.raises(ValueError, match=r"^url: "):
        pw.WSConnectionOptions(url=url)
    with pytest.raises(ValueError, match=r"^fallback_urls\[0\]: "):
        pw.WSConnectionOptions(url="ws://ok.test/", fallback_urls=[url])


def test_huge_numbers_are_a_value_error_naming_the_option() -> None:
    with pytest.raises(ValueError, match=r"^reconnect_interval: "):
        pw.WSConnectionOptions(url="ws://h/", reconnect_interval=10**400)


@pytest.mark.parametrize("code", [1005, 1006, 1015])
def test_codes_that_never_appear_in_a_close_frame_are_refused(code: int) -> None:
    with pytest.raises(ValueError, match="fatal_close_codes"):
        pw.WSConnectionOptions(url="ws://h/", fatal_close_codes={code})


@pytest.mark.parametrize(
    "headers", [{"X(": "1"}, {"X": "a\x00b"}, {"X": "\u20ac"}, {"Bad Name": "1"}]
)
def test_headers_that_cannot_be_sent_fail_early(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"^headers: "):
        pw.WSConnectionOptions(url="ws://h/", headers=headers)


def test_mock_listeners_do_not_hang() -> None:
    # getattr(Mock(), "func") is always another Mock: unwrapping used to loop for ever.
    assert is_async_callable(mock.Mock()) is False
    assert is_async_callable(mock.AsyncMock()) is True

    async def coro(x: int) -> None:
        pass

    assert is_async_callable(functools.partial(functools.partial(coro), 1)) is True

    class AsyncCallable:
        async def __call__(self) -> None:
            pass

    assert is_async_callable(AsyncCallable()) is True
    assert is_async_callable(AsyncCallable) is False  # calling the class is sync


async def test_add_event_listener_rejects_non_callables() -> None:
    ws = pw.AdvancedWebSocket(url="ws://h/")
    with pytest.raises(TypeError, match="listener for 'message' must be callable, got int"):
        ws.add_event_listener("message", 42)  # type: ignore[arg-type]


def test_average_latency_stays_within_min_and_max() -> None:
    stats = LatencyStats.from_samples([0.1] * 3)
    assert stats is not None
    assert stats.min <= stats.avg <= stats.max


def test_connection_failed_pickles_and_copies() -> None:
    error = pw.ConnectionFailed("gave up", [("ws://h/", OSError("refused"))])
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert str(clone) == str(error)
        assert clone.attempts[0][0] == "ws://h/"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_codec_rejects_non_json_constants(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - either backend's message
        _codec.loads(text)
