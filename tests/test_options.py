"""WSConnectionOptions: defaults, validation, converters, URL helpers (Sans-I/O, no trio)."""

from __future__ import annotations

import logging
import math
import ssl
from fractions import Fraction
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trio_pterows as pw
from trio_pterows import WSConnectionOptions, redact_url
from trio_pterows._log import Log
from trio_pterows._options import split_url

URL = "ws://example.com/socket"


def make(**kwargs: Any) -> WSConnectionOptions:
    kwargs.setdefault("url", URL)
    return WSConnectionOptions(**kwargs)


def _sync_hook(*args: Any) -> None:
    return None


async def _async_hook(*args: Any) -> None:
    return None


# ------------------------------------------------------------------------ defaults

#: DESIGN.md section 2, converted to seconds.
DESIGN_DEFAULTS: dict[str, Any] = {
    "fallback_urls": (),
    "protocols": None,
    "auto_reconnect": False,
    "reconnect_strategy": "exponential",
    "reconnect_interval": 1.0,
    "max_reconnect_attempts": 10,
    "max_reconnect_interval": 30.0,
    "jitter": 0.3,
    "connection_timeout": 10.0,
    "heartbeat_interval": 30.0,
    "heartbeat_message": "ping",
    "expected_pong_message": "pong",
    "heartbeat_timeout": 5.0,
    "queue_messages": False,
    "message_queue_limit": None,
    "auto_json": False,
    "logger": None,
    "outgoing_message_interceptors": (),
    "incoming_message_interceptors": (),
    "on_before_reconnect": None,
    "on_before_send": None,
    "on_after_send": None,
    "on_open": None,
    "on_message": None,
    "on_close": None,
    "on_error": None,
    "heartbeat_mode": "protocol",
    "headers": (),
    "ssl_context": None,
    "max_message_size": 1024 * 1024,
    "url_provider": None,
    "on_connect": None,
    "reconnect_reset_after": 5.0,
    "message_queue_overflow": "reject",
    "fatal_close_codes": frozenset(),
    "incoming_queue_limit": 1024,
    "incoming_overflow": "drop-oldest",
    # revision 2
    "transport": "trio-websocket",
    "compression": None,
    "proxy": None,
    "close_timeout": 2.0,
}

#: Options the library added beyond DESIGN.md (with their defaults).
EXTRA_DEFAULTS: dict[str, Any] = {
    "allow_insecure_fallback": False,
    "receive_buffer_size": 64 * 1024,
}

FIELD_NAMES = {field.name for field in attrs.fields(WSConnectionOptions)}


def test_fields_are_exactly_design_plus_known_extras() -> None:
    assert {"url"} | set(DESIGN_DEFAULTS) | set(EXTRA_DEFAULTS) == FIELD_NAMES


@pytest.mark.parametrize(
    ("name", "expected"), sorted({**DESIGN_DEFAULTS, **EXTRA_DEFAULTS}.items())
)
def test_default(name: str, expected: Any) -> None:
    value = getattr(make(), name)
    assert value == expected
    assert type(value) is type(expected)


def test_url_is_required_and_options_are_keyword_only() -> None:
    with pytest.raises(TypeError, match="url"):
        WSConnectionOptions()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        WSConnectionOptions(URL)  # type: ignore[misc]


def test_options_are_frozen() -> None:
    options = make()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        options.jitter = 1.0  # type: ignore[misc]
    assert options.jitter == 0.3


def test_default_logger_is_the_trio_pterows_logger(caplog: pytest.LogCaptureFixture) -> None:
    log = Log(make().logger)
    with caplog.at_level(logging.WARNING, logger="trio_pterows"):
        log.warning("hello %s", "there")
    assert [(r.name, r.getMessage()) for r in caplog.records] == [("trio_pterows", "hello there")]


# --------------------------------------------------------------------- bad values

SECONDS_BAD: list[tuple[Any, type[Exception]]] = [
    (-1, ValueError),
    (-0.001, ValueError),
    (float("nan"), ValueError),
    (float("inf"), ValueError),
    (float("-inf"), ValueError),
    (True, TypeError),
    (False, TypeError),
    ("1", TypeError),
    (None, TypeError),
    ([1.0], TypeError),
    (Fraction(1, 2), TypeError),
    (1j, TypeError),
]
POSITIVE_SECONDS_BAD = [*SECONDS_BAD, (0, ValueError), (0.0, ValueError)]
BOOL_BAD: list[tuple[Any, type[Exception]]] = [
    (1, TypeError),
    (0, TypeError),
    ("yes", TypeError),
    ("", TypeError),
    (None, TypeError),
]
HOOK_BAD: list[tuple[Any, type[Exception]]] = [
    ("callback", TypeError),
    (1, TypeError),
    (object(), TypeError),
    (True, TypeError),
]
INTERCEPTORS_BAD: list[tuple[Any, type[Exception]]] = [
    ([1], TypeError),
    ([_sync_hook, "f"], TypeError),
    ("abc", TypeError),
    (b"abc", TypeError),
    (_sync_hook, TypeError),  # one callable, not a sequence of them
    (5, TypeError),
]
POSITIVE_COUNT_BAD: list[tuple[Any, type[Exception]]] = [
    (0, ValueError),
    (-1, ValueError),
    (None, TypeError),
    (1.0, TypeError),
    (True, TypeError),
    ("10", TypeError),
]

BAD: dict[str, list[tuple[Any, type[Exception]]]] = {
    "url": [
        (None, TypeError),
        (b"ws://example.com/", TypeError),
        (123, TypeError),
        (["ws://example.com/"], TypeError),
        ("", ValueError),
        ("example.com", ValueError),
        ("http://example.com/", ValueError),
        ("https://example.com/", ValueError),
        ("ftp://example.com/", ValueError),
        ("wsx://example.com/", ValueError),
        ("ws://", ValueError),
        ("ws:///path", ValueError),
        ("wss://:443/", ValueError),
        ("ws://user@/x", ValueError),
        ("ws://example.com:99999/", ValueError),
        ("ws://example.com:-1/", ValueError),
        ("ws://example.com:port/", ValueError),
    ],
    "fallback_urls": [
        ("ws://example.com/", TypeError),  # a str is not a sequence of URLs here
        (b"ws://example.com/", TypeError),
        (5, TypeError),
        ([None], TypeError),
        (["http://example.com/"], ValueError),
        (["ws://ok.example/", "nope"], ValueError),
        (["ws://"], ValueError),
    ],
    "protocols": [
        (5, TypeError),
        ([5], TypeError),
        ([""], ValueError),
        ([None], TypeError),
        (b"chat", TypeError),
        (["chat", 1], TypeError),
    ],
    "auto_reconnect": BOOL_BAD,
    "queue_messages": BOOL_BAD,
    "auto_json": BOOL_BAD,
    "allow_insecure_fallback": BOOL_BAD,
    "reconnect_strategy": [
        ("linear", ValueError),
        ("", ValueError),
        ("Fixed", ValueError),
        ("exponential_jitter", ValueError),
        (None, ValueError),
        (1, ValueError),
        (["fixed"], ValueError),
    ],
    "reconnect_interval": SECONDS_BAD,
    "max_reconnect_interval": SECONDS_BAD,
    "jitter": SECONDS_BAD,
    "reconnect_reset_after": SECONDS_BAD,
    "connection_timeout": POSITIVE_SECONDS_BAD,
    "heartbeat_timeout": POSITIVE_SECONDS_BAD,
    "heartbeat_interval": [
        (-1, ValueError),
        (-0.5, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (True, TypeError),
        (False, TypeError),  # False == 0, but a bool is not a number of seconds
        ("30", TypeError),
        ([30], TypeError),
    ],
    "max_reconnect_attempts": [
        (-1, ValueError),
        (1.5, TypeError),
        (3.0, TypeError),
        (True, TypeError),
        ("3", TypeError),
    ],
    "message_queue_limit": [
        (-1, ValueError),
        (1.5, TypeError),
        (True, TypeError),
        ("100", TypeError),
    ],
    "max_message_size": POSITIVE_COUNT_BAD,
    "incoming_queue_limit": POSITIVE_COUNT_BAD,
    "receive_buffer_size": POSITIVE_COUNT_BAD,
    "heartbeat_message": [(None, TypeError)],
    "expected_pong_message": [(None, TypeError)],
    "heartbeat_mode": [
        ("ping", ValueError),
        ("", ValueError),
        ("MESSAGE", ValueError),
        (None, ValueError),
    ],
    "message_queue_overflow": [
        ("drop", ValueError),
        ("drop_oldest", ValueError),
        ("block", ValueError),
        (None, ValueError),
    ],
    "incoming_overflow": [
        ("reject", ValueError),
        ("drop-newest", ValueError),
        ("drop_oldest", ValueError),
        (None, ValueError),
    ],
    "logger": [
        ("trio_pterows", TypeError),
        (5, TypeError),
        (object(), TypeError),
    ],
    "outgoing_message_interceptors": INTERCEPTORS_BAD,
    "incoming_message_interceptors": INTERCEPTORS_BAD,
    "on_before_reconnect": HOOK_BAD,
    "on_before_send": HOOK_BAD,
    "on_after_send": HOOK_BAD,
    "on_open": HOOK_BAD,
    "on_message": HOOK_BAD,
    "on_close": HOOK_BAD,
    "on_error": HOOK_BAD,
    "on_connect": HOOK_BAD,
    "url_provider": HOOK_BAD,
    "headers": [
        ({"X-Token": "a\r\nInjected: yes"}, ValueError),
        ({"X-Token": "a\rb"}, ValueError),
        ({"X-Token": "a\nb"}, ValueError),
        ({"X\r\nToken": "a"}, ValueError),
        ({"X Token": "a"}, ValueError),
        ({"X:Token": "a"}, ValueError),
        ({"": "a"}, ValueError),
        ([("Origin", "http://a\r\n")], ValueError),
        ([(b"X-Bytes", b"a\nb")], ValueError),
        ([("a", "b", "c")], TypeError),
        (["ab"], TypeError),
        ([("a",)], TypeError),
        ("Origin: x", TypeError),
        (b"Origin: x", TypeError),
        (5, TypeError),
        ({1: "a"}, TypeError),
        ({"a": 1}, TypeError),
        ([("a", None)], TypeError),
    ],
    "fatal_close_codes": [
        ([999], ValueError),
        ([5000], ValueError),
        ([0], ValueError),
        ([-1000], ValueError),
        ([True], ValueError),
        ([1000.0], ValueError),
        (["1000"], ValueError),
        ([None], ValueError),
        (4409, TypeError),
    ],
    "ssl_context": [
        (True, TypeError),
        ("default", TypeError),
        (object(), TypeError),
    ],
    "transport": [("aiohttp", ValueError), (None, ValueError)],
    "compression": [("gzip", ValueError), (True, ValueError)],
    "proxy": [("ftp://p", ValueError), (3128, TypeError)],
    "close_timeout": [(-1, ValueError), ("2", TypeError)],
}

BAD_CASES = [
    pytest.param(name, value, exc, id=f"{name}-{i}-{type(value).__name__}")
    for name, cases in BAD.items()
    for i, (value, exc) in enumerate(cases)
]


def test_every_option_has_bad_values() -> None:
    assert set(BAD) == FIELD_NAMES


@pytest.mark.parametrize(("name", "value", "exc_type"), BAD_CASES)
def test_bad_value_raises_naming_the_option(
    name: str, value: Any, exc_type: type[Exception]
) -> None:
    kwargs: dict[str, Any] = {"url": URL, name: value}
    with pytest.raises(exc_type) as info:
        WSConnectionOptions(**kwargs)
    assert str(info.value).startswith(name), str(info.value)


@pytest.mark.parametrize(("name", "value", "exc_type"), BAD_CASES)
def test_evolve_validates_like_the_constructor(
    name: str, value: Any, exc_type: type[Exception]
) -> None:
    options = make()
    with pytest.raises(exc_type) as info:
        options.evolve(**{name: value})
    assert str(info.value).startswith(name), str(info.value)


@pytest.mark.parametrize(
    ("value", "index"),
    [
        (["ws://ok.example/", "http://bad.example/"], 1),
        (["nope", "ws://ok.example/"], 0),
        (["ws://a.example/", "ws://b.example/", "ws://"], 2),
    ],
)
def test_bad_fallback_url_error_names_its_index(value: list[str], index: int) -> None:
    with pytest.raises(ValueError, match=rf"^fallback_urls\[{index}\]:"):
        make(fallback_urls=value)


def test_bad_interceptor_error_names_its_index() -> None:
    with pytest.raises(TypeError, match=r"^incoming_message_interceptors\[1\]:"):
        make(incoming_message_interceptors=[_sync_hook, 42])


def test_error_message_does_not_leak_credentials_or_query() -> None:
    with pytest.raises(ValueError, match=r"^url:") as info:
        make(url="http://alice:hunter2@example.com/x?token=s3cr3t")
    assert "hunter2" not in str(info.value)
    assert "s3cr3t" not in str(info.value)


# ------------------------------------------------------------- accepted values


@pytest.mark.parametrize("value", [0, 0.0, -0.0, None])
def test_heartbeat_interval_zero_or_none_disables(value: Any) -> None:
    options = make(heartbeat_interval=value)
    assert options.heartbeat_interval is None
    assert options.heartbeat_enabled is False


@pytest.mark.parametrize("value", [0.25, 1, 30.0])
def test_heartbeat_interval_positive_enables(value: float) -> None:
    options = make(heartbeat_interval=value)
    assert options.heartbeat_interval == value
    assert options.heartbeat_enabled is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("chat", ("chat",)),
        (["chat", "superchat"], ("chat", "superchat")),
        (("a",), ("a",)),
        ((p for p in ["x", "y"]), ("x", "y")),
        ([], ()),
        (None, None),
    ],
)
def test_protocols_converter(value: Any, expected: Any) -> None:
    assert make(protocols=value).protocols == expected


def test_headers_from_a_dict_keep_order() -> None:
    options = make(headers={"Origin": "https://panel.example", "X-Trace": "1"})
    assert options.headers == (("Origin", "https://panel.example"), ("X-Trace", "1"))


def test_headers_from_pairs() -> None:
    options = make(headers=[("Origin", "https://a"), ["X-Dup", "1"], ("X-Dup", "2")])
    assert options.headers == (("Origin", "https://a"), ("X-Dup", "1"), ("X-Dup", "2"))


def test_headers_bytes_are_decoded_and_none_is_empty() -> None:
    assert make(headers=[(b"X-Bytes", b"v\xe9")]).headers == (("X-Bytes", "v\xe9"),)
    assert make(headers=None).headers == ()


def test_sequences_become_tuples() -> None:
    options = make(
        fallback_urls=["ws://a.example/", "wss://b.example/"],
        outgoing_message_interceptors=[_sync_hook],
        incoming_message_interceptors=(f for f in [_sync_hook, _async_hook]),
    )
    assert options.fallback_urls == ("ws://a.example/", "wss://b.example/")
    assert options.outgoing_message_interceptors == (_sync_hook,)
    assert options.incoming_message_interceptors == (_sync_hook, _async_hook)
    assert options.urls() == (URL, "ws://a.example/", "wss://b.example/")
    assert make(fallback_urls=None).fallback_urls == ()


def test_fatal_close_codes_become_a_frozenset() -> None:
    assert make(fatal_close_codes=[4409, 4400, 4409]).fatal_close_codes == frozenset({4400, 4409})
    assert make(fatal_close_codes={1000, 4999}).fatal_close_codes == frozenset({1000, 4999})
    assert make(fatal_close_codes=None).fatal_close_codes == frozenset()


def test_accepted_edge_values() -> None:
    options = make(
        reconnect_interval=0,
        max_reconnect_interval=0,
        jitter=0,
        reconnect_reset_after=0,
        max_reconnect_attempts=0,
        message_queue_limit=0,
        connection_timeout=1e-3,
        heartbeat_timeout=2,
        max_message_size=1,
        incoming_queue_limit=1,
        receive_buffer_size=1,
    )
    assert options.reconnect_interval == 0
    assert options.max_reconnect_attempts == 0
    assert options.message_queue_limit == 0
    assert make(max_reconnect_attempts=None).max_reconnect_attempts is None


def test_accepted_hooks_logger_and_ssl_context() -> None:
    ctx = ssl.create_default_context()
    logger = logging.getLogger("test.options")
    options = make(
        logger=logger,
        ssl_context=ctx,
        on_before_reconnect=_sync_hook,
        on_before_send=_async_hook,
        on_connect=_async_hook,
        url_provider=_async_hook,
        heartbeat_message={"op": "ping"},
        expected_pong_message={"op": "pong"},
    )
    assert options.logger is logger
    assert options.ssl_context is ctx
    assert options.on_before_send is _async_hook
    assert options.heartbeat_message == {"op": "ping"}
    assert make(logger=print).logger is print


@pytest.mark.parametrize(
    ("choice", "values"),
    [
        ("reconnect_strategy", ["fixed", "exponential", "exponential-jitter"]),
        ("heartbeat_mode", ["message", "protocol"]),
        ("message_queue_overflow", ["reject", "drop-oldest", "drop-newest"]),
        ("incoming_overflow", ["drop-oldest", "block"]),
    ],
)
def test_every_documented_choice_is_accepted(choice: str, values: list[str]) -> None:
    for value in values:
        assert getattr(make(**{choice: value}), choice) == value


# --------------------------------------------------------------- insecure fallback


@pytest.mark.parametrize(
    ("fallbacks", "index"),
    [
        (["ws://example.com/"], 0),
        (["wss://a.example/", "ws://b.example/"], 1),
    ],
)
def test_wss_url_refuses_ws_fallback(fallbacks: list[str], index: int) -> None:
    with pytest.raises(ValueError, match=rf"^fallback_urls\[{index}\]:.*allow_insecure_fallback"):
        make(url="wss://example.com/", fallback_urls=fallbacks)


def test_insecure_fallback_error_is_redacted() -> None:
    with pytest.raises(ValueError, match=r"^fallback_urls\[0\]") as info:
        make(url="wss://example.com/", fallback_urls=["ws://u:hunter2@example.com/?t=s3cr3t"])
    assert "hunter2" not in str(info.value)
    assert "s3cr3t" not in str(info.value)


def test_insecure_fallback_allowed_when_asked() -> None:
    options = make(
        url="wss://example.com/",
        fallback_urls=["ws://example.com/"],
        allow_insecure_fallback=True,
    )
    assert options.fallback_urls == ("ws://example.com/",)


@pytest.mark.parametrize(
    ("url", "fallbacks"),
    [
        ("wss://example.com/", ["wss://backup.example/"]),
        ("ws://example.com/", ["ws://backup.example/", "wss://backup.example/"]),
    ],
)
def test_no_downgrade_no_error(url: str, fallbacks: list[str]) -> None:
    assert make(url=url, fallback_urls=fallbacks).fallback_urls == tuple(fallbacks)


def test_evolve_checks_downgrade_across_fields() -> None:
    secure = make(url="wss://example.com/")
    with pytest.raises(ValueError, match=r"^fallback_urls\[0\]"):
        secure.evolve(fallback_urls=["ws://example.com/"])
    plain = make(url="ws://example.com/", fallback_urls=["ws://backup.example/"])
    with pytest.raises(ValueError, match=r"^fallback_urls\[0\]"):
        plain.evolve(url="wss://example.com/")


# ------------------------------------------------------------------------ evolve


def test_evolve_unknown_option_raises_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="unknown") as info:
        make().evolve(unknown=1)
    assert "unknown" in str(info.value)
    with pytest.raises(TypeError) as info:
        make().evolve(jitter=0.1, reconect_interval=1, heartbeat_intervall=2)
    assert "reconect_interval" in str(info.value)
    assert "heartbeat_intervall" in str(info.value)


def test_evolve_returns_a_validated_copy() -> None:
    options = make(jitter=0.1)
    changed = options.evolve(jitter=0.5, heartbeat_interval=0, protocols="chat")
    assert options.jitter == 0.1
    assert options.heartbeat_interval == 30.0
    assert changed.jitter == 0.5
    assert changed.heartbeat_interval is None
    assert changed.protocols == ("chat",)
    assert changed.url == options.url


# --------------------------------------------------------------------- split_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ws://example.com", (False, "example.com", 80, "/")),
        ("wss://example.com", (True, "example.com", 443, "/")),
        ("ws://example.com:8080/a/b", (False, "example.com", 8080, "/a/b")),
        ("wss://example.com:443/x?y=1&z=2", (True, "example.com", 443, "/x?y=1&z=2")),
        ("ws://example.com/x#fragment", (False, "example.com", 80, "/x")),
        ("ws://example.com?token=1", (False, "example.com", 80, "/?token=1")),
        ("ws://[::1]:9000/chat", (False, "::1", 9000, "/chat")),
        ("wss://[2001:db8::1]/", (True, "2001:db8::1", 443, "/")),
        ("ws://[::1]", (False, "::1", 80, "/")),
        ("ws://user:pw@127.0.0.1:81/p", (False, "127.0.0.1", 81, "/p")),
        ("WS://Example.COM/", (False, "example.com", 80, "/")),
    ],
)
def test_split_url(url: str, expected: tuple[bool, str, int, str]) -> None:
    assert split_url(url) == expected


def test_split_url_names_the_given_option() -> None:
    with pytest.raises(ValueError, match=r"^fallback_urls\[3\]:"):
        split_url("http://example.com/", option="fallback_urls[3]")
    with pytest.raises(TypeError, match=r"^url_provider:"):
        split_url(None, option="url_provider")  # type: ignore[arg-type]


# -------------------------------------------------------------------- redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("wss://example.com/socket", "wss://example.com/socket"),
        ("wss://user:pw@example.com/socket", "wss://***@example.com/socket"),
        ("wss://example.com:8443/s?token=abc", "wss://example.com:8443/s?***"),
        ("ws://u:p@example.com:1/p?q=1#frag", "ws://***@example.com:1/p?***"),
        ("ws://[::1]:9000/?t=x", "ws://[::1]:9000/?***"),
    ],
)
def test_redact_url_examples(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_url_of_unparseable_or_non_str() -> None:
    assert redact_url("ws://[::1/?token=abc") == "<unparseable URL>"
    assert "abc" not in redact_url("ws://[::1/?token=abc")
    assert redact_url(None) == "None"


_HOST = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){0,2}", fullmatch=True),
    st.just("127.0.0.1"),
    st.just("[::1]"),
)
_PATH = st.from_regex(r"(/[a-z0-9.-]{0,8}){0,3}", fullmatch=True)
# RFC 3986 query characters (without "#"); the secret and the other params use them all.
_QUERY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%"
_SECRET = st.text(alphabet=_QUERY_CHARS, min_size=6, max_size=30).map(lambda s: "S3CR3T_" + s)
_PARAM = st.text(alphabet=_QUERY_CHARS, max_size=12)
_USERINFO = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=1, max_size=10)


@given(
    scheme=st.sampled_from(["ws", "wss"]),
    user=st.one_of(st.none(), _USERINFO),
    password=st.one_of(st.none(), _USERINFO.map(lambda s: "PW_" + s)),
    host=_HOST,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=_PATH,
    before=st.lists(_PARAM, max_size=3),
    key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8),
    secret=_SECRET,
    after=st.lists(_PARAM, max_size=3),
    fragment=st.one_of(st.none(), _PARAM),
)
def test_redact_url_never_reveals_query_or_password(
    scheme: str,
    user: str | None,
    password: str | None,
    host: str,
    port: int | None,
    path: str,
    before: list[str],
    key: str,
    secret: str,
    after: list[str],
    fragment: str | None,
) -> None:
    userinfo = ""
    if user is not None:
        userinfo = user + (f":{password}" if password is not None else "") + "@"
    netloc = userinfo + host + (f":{port}" if port is not None else "")
    query = "&".join([*before, f"{key}={secret}", *after])
    url = f"{scheme}://{netloc}{path}?{query}" + (f"#{fragment}" if fragment is not None else "")

    redacted = redact_url(url)

    assert secret not in redacted
    if password is not None:
        assert password not in redacted
    assert redacted.startswith(f"{scheme}://")
    assert host in redacted
    # The redacted form is still a valid URL for the same endpoint.
    assert split_url(redacted)[:3] == split_url(url)[:3]


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6))
def test_any_float_is_accepted_or_rejected_with_a_named_error(value: float) -> None:
    """Numbers: valid ones are kept as is, the others raise ValueError naming the option."""
    if math.isnan(value) or math.isinf(value) or value < 0:
        with pytest.raises(ValueError, match=r"^reconnect_interval: "):
            make(reconnect_interval=value)
    else:
        assert make(reconnect_interval=value).reconnect_interval == value


# ------------------------------------------------------------------ revision 2


def test_close_timeout_default_is_the_exported_constant() -> None:
    assert make().close_timeout == pw.CLOSE_TIMEOUT == 2.0


@pytest.mark.parametrize("value", [-1, "2", float("nan")])
def test_close_timeout_must_be_seconds(value: Any) -> None:
    with pytest.raises((ValueError, TypeError), match=r"^close_timeout"):
        make(close_timeout=value)


def test_transport_names() -> None:
    assert make(transport="trio-websocket").transport == "trio-websocket"
    with pytest.raises(ValueError, match=r"^transport"):
        make(transport="aiohttp")


def test_deflate_needs_the_websockets_transport() -> None:
    with pytest.raises(ValueError, match=r"compression.*transport") as info:
        make(compression="deflate")
    assert "trio-websocket" in str(info.value)
    with pytest.raises(ValueError, match=r"^compression"):
        make(compression="gzip", transport="websockets")


@pytest.mark.parametrize(
    "proxy",
    [
        None,
        True,
        "http://proxy:3128",
        "https://u:p@proxy",
        "socks5://p:1080",
        "socks5h://p",
        "socks4://p:1080",
    ],
)
def test_proxy_values(proxy: Any) -> None:
    assert make(proxy=proxy).proxy == proxy


@pytest.mark.parametrize("proxy", ["ftp://proxy", "proxy:3128", "http://", "http://p:99999"])
def test_bad_proxy_urls_are_refused(proxy: str) -> None:
    with pytest.raises(ValueError, match=r"^proxy"):
        make(proxy=proxy)


def test_proxy_credentials_stay_out_of_the_error() -> None:
    with pytest.raises(ValueError, match=r"^proxy") as info:
        make(proxy="ftp://user:hunter2@proxy")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("proxy", [False, 3128, b"http://p"])
def test_proxy_types(proxy: Any) -> None:
    with pytest.raises(TypeError, match=r"^proxy"):
        make(proxy=proxy)


# ------------------------------------------------------------- protocols are tokens


@pytest.mark.parametrize(
    "bad",
    ["a,b", "a b", "chat\r\nX-Injected: 1", "", "chät", "a;b", '"quoted"', "a\tb", "x/y"],
)
def test_protocols_must_be_rfc7230_tokens(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^protocols: ") as info:
        make(protocols=["chat", bad])
    assert repr(bad) in str(info.value)


def test_every_token_character_is_a_valid_protocol() -> None:
    weird = "!#$%&'*+-.^_`|~09azAZ"
    assert make(protocols=["wamp.2.json", "v1.chat", weird]).protocols == (
        "wamp.2.json",
        "v1.chat",
        weird,
    )


# --------------------------------------------------------------- repr redacts secrets


def test_repr_redacts_credentials_and_keeps_the_rest() -> None:
    options = make(
        url="wss://alice:hunter2@panel.example:8443/ws?token=tok123&server=s1",
        fallback_urls=["wss://backup.example/ws?access_token=tok456"],
        headers={
            "Authorization": "Bearer tok789",
            "cookie": "session=sess1",
            "Proxy-Authorization": "Basic cHc=",
            "X-Api-Key": "key1",
            "X-AUTH-TOKEN": "tok0",
            "Client-Secret": "sec1",
            "Origin": "https://panel.example",
        },
    )
    text = repr(options)
    for secret in ("alice", "hunter2", "tok123", "s1", "tok456", "tok789", "sess1", "cHc="):
        assert secret not in text
    for secret in ("key1", "tok0", "sec1"):
        assert secret not in text
    assert str(options) == text
    assert "wss://***@panel.example:8443/ws?token=***&server=***" in text
    assert "('Origin', 'https://panel.example')" in text  # not a credential
    assert "('Authorization', '***')" in text
    assert "heartbeat_interval=30.0" in text  # everything else as attrs shows it
    assert text.startswith("WSConnectionOptions(url=")


_SECRET = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=8)
_SECRET_HEADER = st.one_of(
    st.sampled_from(["Authorization", "Cookie", "Proxy-Authorization"]),
    st.builds(
        "{}{}{}".format,
        st.sampled_from(["", "X-", "My-Api-"]),
        st.sampled_from(["token", "key", "secret"]),
        st.sampled_from(["", "-2", "_id"]),
    ),
).flatmap(lambda name: st.sampled_from([name, name.lower(), name.upper(), name.title()]))


@given(
    user=_SECRET,
    password=_SECRET,
    query_value=_SECRET,
    fallback_value=_SECRET,
    header_name=_SECRET_HEADER,
    header_value=_SECRET,
)
def test_no_generated_secret_appears_in_the_repr(
    user: str,
    password: str,
    query_value: str,
    fallback_value: str,
    header_name: str,
    header_value: str,
) -> None:
    options = make(
        url=f"wss://{user}:{password}@host.example/ws?token={query_value}",
        fallback_urls=[f"wss://{user}@other.example/?{fallback_value}"],
        headers=[(header_name, f"Bearer {header_value}"), ("Origin", "https://o.example")],
    )
    plain = repr(make(url="wss://host.example/ws", fallback_urls=["wss://other.example/"]))
    text = repr(options)
    for secret in (user, password, query_value, fallback_value, header_value):
        if secret not in plain:  # a "secret" that is a word of every repr proves nothing
            assert secret not in text


def test_repr_redacts_proxy_credentials() -> None:
    text = repr(make(proxy="socks5h://bob:s3cretpw@proxy.example:1080"))
    assert "proxy='socks5h://***@proxy.example:1080'" in text
    assert "bob" not in text
    assert "s3cretpw" not in text
