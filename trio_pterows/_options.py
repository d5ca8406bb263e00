"""WSConnectionOptions: every setting of the connection manager, validated once.

Sans-I/O: no trio import. Every bad value raises :class:`ValueError` or
:class:`TypeError` whose message starts with the option's name.
"""

from __future__ import annotations

import logging
import math
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import attrs

from ._backoff import STRATEGIES, ReconnectStrategy
from ._queue import OVERFLOW_POLICIES, OverflowPolicy
from ._urls import redact_url, repr_headers, repr_url, repr_urls, split_url

__all__ = ["WSConnectionOptions", "redact_url", "split_url"]

T = TypeVar("T")

HeartbeatMode = Literal["message", "protocol"]
TransportName = Literal["trio-websocket", "websockets"]
Compression = Literal["deflate"]
TRANSPORTS: tuple[str, ...] = ("trio-websocket", "websockets")
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4")
IncomingOverflow = Literal["drop-oldest", "block"]
#: ``(level, *args)`` — the seed's logger callback shape.
LoggerCallback = Callable[..., object]
Interceptor = Callable[[Any], Any]
Hook = Callable[..., Any]

MIB = 1024 * 1024


# ---------------------------------------------------------------------- validators


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _seconds(*, allow_zero: bool = True) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not _is_number(value):
            raise TypeError(
                f"{attribute.name}: expected a number of seconds, got {type(value).__name__}"
            )
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(f"{attribute.name}: must be finite, got {value!r}") from None
        if math.isnan(number) or number < 0 or (number == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "> 0"
            raise ValueError(f"{attribute.name}: must be {bound} seconds, got {value!r}")
        if math.isinf(number):
            raise ValueError(f"{attribute.name}: must be finite, got {value!r}")

    return check


def _count(
    *, minimum: int, optional: bool = False
) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, int) or isinstance(value, bool):
            expected = "an int or None" if optional else "an int"
            raise TypeError(f"{attribute.name}: expected {expected}, got {type(value).__name__}")
        if value < minimum:
            raise ValueError(f"{attribute.name}: must be >= {minimum}, got {value!r}")

    return check


def _optional_positive_seconds(obj: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _seconds(allow_zero=False)(obj, attribute, value)


def _bool(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{attribute.name}: expected True or False, got {value!r}")


def _one_of(choices: Iterable[str]) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    allowed = sorted(choices)

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in allowed:
            raise ValueError(f"{attribute.name}: must be one of {allowed}, got {value!r}")

    return check


def _optional_callable(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not callable(value):
        raise TypeError(
            f"{attribute.name}: expected a callable or None, got {type(value).__name__}"
        )


def _callables(_: Any, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    for i, item in enumerate(value):
        if not callable(item):
            raise TypeError(
                f"{attribute.name}[{i}]: expected a callable, got {type(item).__name__}"
            )


def _url(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    split_url(value, option=attribute.name)


def _urls(_: Any, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    for i, url in enumerate(value):
        split_url(url, option=f"{attribute.name}[{i}]")


def _logger(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, logging.Logger) and not callable(value):
        raise TypeError(
            f"{attribute.name}: expected a logging.Logger or a callable (level, *args), "
            f"got {type(value).__name__}"
        )


def _ssl_context(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, ssl.SSLContext):
        raise TypeError(
            f"{attribute.name}: expected an ssl.SSLContext or None, got {type(value).__name__}"
        )


def _heartbeat_payload(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        raise TypeError(f"{attribute.name}: must not be None")


# ---------------------------------------------------------------------- converters


def _to_tuple(name: str, value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name}: expected a sequence, got {type(value).__name__}")
    return tuple(value)


def _to_fallback_urls(value: Any) -> tuple[str, ...]:
    return _to_tuple("fallback_urls", value)


def _to_outgoing(value: Any) -> tuple[Interceptor, ...]:
    return _to_tuple("outgoing_message_interceptors", value)


def _to_incoming(value: Any) -> tuple[Interceptor, ...]:
    return _to_tuple("incoming_message_interceptors", value)


def _to_protocols(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise TypeError(
            f"protocols: expected a str or a sequence of str, got {type(value).__name__}"
        )
    result = tuple(items)
    for item in result:
        if not isinstance(item, str):
            raise TypeError(f"protocols: every subprotocol must be a str, got {item!r}")
        if not item or not all(c in _TOKEN_CHARS for c in item):
            # RFC 6455 §4.1: each subprotocol is an RFC 7230 token; "a,b" would offer two,
            # CR/LF would inject headers.
            raise ValueError(
                f"protocols: {item!r} is not a subprotocol name (an RFC 7230 token: "
                "ASCII letters, digits and !#$%&'*+-.^_`|~, no spaces or commas)"
            )
    return result


def _to_headers(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    pairs: Iterable[Any] = value.items() if isinstance(value, Mapping) else value
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise TypeError(
            f"headers: expected a mapping or (name, value) pairs, got {type(value).__name__}"
        )
    result: list[tuple[str, str]] = []
    for pair in pairs:
        if not isinstance(pair, Sequence) or isinstance(pair, (str, bytes)) or len(pair) != 2:
            raise TypeError(f"headers: expected (name, value) pairs, got {pair!r}")
        name, val = pair
        name = name.decode("latin-1") if isinstance(name, bytes) else name
        val = val.decode("latin-1") if isinstance(val, bytes) else val
        if not isinstance(name, str) or not isinstance(val, str):
            raise TypeError(f"headers: names and values must be str, got {pair!r}")
        if not name or not all(c in _TOKEN_CHARS for c in name):
            raise ValueError(f"headers: {name!r} is not a valid header name")
        if any(c in val for c in "\r\n\x00"):
            raise ValueError(f"headers: the value of {name!r} contains CR, LF or NUL")
        try:
            val.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                f"headers: the value of {name!r} is not latin-1; percent-encode it"
            ) from None
        result.append((name, val))
    return tuple(result)


_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


_NO_CODES: frozenset[int] = frozenset()


def _to_codes(value: Any) -> frozenset[int]:
    if value is None:
        return _NO_CODES
    if not isinstance(value, Iterable):
        raise TypeError(f"fatal_close_codes: expected a set of ints, got {type(value).__name__}")
    codes = frozenset(value)
    for code in codes:
        if not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 4999:
            raise ValueError(f"fatal_close_codes: {code!r} is not a close code (1000-4999)")
        if code in (1005, 1006, 1015):
            raise ValueError(
                f"fatal_close_codes: {code} never appears in a close frame; "
                "a lost connection is not a close code"
            )
    return codes or _NO_CODES  # one shared empty set instead of one per connection


def _proxy(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None or value is True:
        return
    if not isinstance(value, str):
        raise TypeError(
            f"proxy: expected None, True or a proxy URL string, got {type(value).__name__}"
        )
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ValueError(f"proxy: invalid URL {redact_url(value)!r}: {exc}") from None
    if parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        raise ValueError(
            f"proxy: expected {', '.join(s + '://host:port' for s in PROXY_SCHEMES)}, "
            f"got {redact_url(value)!r}"
        )


def _heartbeat_interval(value: Any) -> float | None:
    if value is None or (_is_number(value) and value == 0):
        return None
    return value  # type: ignore[no-any-return]


#: Fields whose values may carry credentials, and how a repr shows them.
_REPR_AS: dict[str, Callable[[Any], str]] = {
    "url": repr_url,
    "fallback_urls": repr_urls,
    "proxy": repr_url,  # a proxy URL may carry user:password (a bool stays as it is)
    "headers": repr_headers,
}


# ------------------------------------------------------------------------- options


@attrs.frozen(kw_only=True)
class WSConnectionOptions:
    """Every setting of :class:`AdvancedWebSocket`. Immutable; change with
    :meth:`AdvancedWebSocket.update_options` or :func:`attrs.evolve`.

    Times are in seconds. Hooks and callbacks may be sync or async functions.
    """

    #: The primary ``ws://`` or ``wss://`` URL.
    url: str = attrs.field(validator=_url)
    #: Tried in order after ``url`` fails, on every connect cycle.
    fallback_urls: tuple[str, ...] = attrs.field(
        default=(), converter=_to_fallback_urls, validator=_urls
    )
    #: Subprotocol(s) offered in the handshake.
    protocols: tuple[str, ...] | None = attrs.field(default=None, converter=_to_protocols)
    #: Reconnect after a lost connection and retry a failed ``connect()``.
    auto_reconnect: bool = attrs.field(default=False, validator=_bool)
    reconnect_strategy: ReconnectStrategy = attrs.field(
        default="exponential", validator=_one_of(STRATEGIES)
    )
    #: Base delay of the reconnect strategy.
    reconnect_interval: float = attrs.field(default=1.0, validator=_seconds())
    #: How many retries before giving up; None retries for ever.
    max_reconnect_attempts: int | None = attrs.field(
        default=10, validator=_count(minimum=0, optional=True)
    )
    #: Cap of every reconnect delay.
    max_reconnect_interval: float = attrs.field(default=30.0, validator=_seconds())
    #: Upper bound of the random part of "exponential-jitter".
    jitter: float = attrs.field(default=0.3, validator=_seconds())
    #: Bound of one connection attempt (TCP, TLS and the HTTP upgrade together).
    connection_timeout: float = attrs.field(default=10.0, validator=_seconds(allow_zero=False))
    #: Time between heartbeats; None or 0 disables the heartbeat.
    heartbeat_interval: float | None = attrs.field(
        default=30.0,
        converter=_heartbeat_interval,
        validator=_optional_positive_seconds,
    )
    #: What a "message"-mode ping sends: str/bytes as is, anything else as JSON.
    heartbeat_message: Any = attrs.field(default="ping", validator=_heartbeat_payload)
    #: The (decoded, intercepted) message that answers a ping in "message" mode.
    expected_pong_message: Any = attrs.field(default="pong", validator=_heartbeat_payload)
    #: How long silence after a ping may last before the connection is judged dead.
    heartbeat_timeout: float = attrs.field(default=5.0, validator=_seconds(allow_zero=False))
    #: "protocol" (the default): RFC 6455 ping frames, which any server answers.
    #: "message": send ``heartbeat_message`` and expect ``expected_pong_message``, the
    #: seed's behaviour (junk to JSON-only servers, echoed back by echo servers).
    heartbeat_mode: HeartbeatMode = attrs.field(
        default="protocol", validator=_one_of(("message", "protocol"))
    )
    #: Queue sends while not connected and flush them, in order, on the next connection.
    queue_messages: bool = attrs.field(default=False, validator=_bool)
    #: Bound of the outgoing queue; None means the library default (10,000).
    message_queue_limit: int | None = attrs.field(
        default=None, validator=_count(minimum=0, optional=True)
    )
    #: What a full outgoing queue does: "reject" (QueueFull), "drop-oldest", "drop-newest".
    message_queue_overflow: OverflowPolicy = attrs.field(
        default="reject", validator=_one_of(OVERFLOW_POLICIES)
    )
    #: Encode non-str/bytes sends as JSON; decode incoming text that is JSON.
    auto_json: bool = attrs.field(default=False, validator=_bool)
    #: A ``logging.Logger`` or a callable ``(level, *args)``; default ``trio_pterows``.
    logger: logging.Logger | LoggerCallback | None = attrs.field(default=None, validator=_logger)
    outgoing_message_interceptors: tuple[Interceptor, ...] = attrs.field(
        default=(), converter=_to_outgoing, validator=_callables
    )
    incoming_message_interceptors: tuple[Interceptor, ...] = attrs.field(
        default=(), converter=_to_incoming, validator=_callables
    )
    #: ``(attempt, close_event) -> bool | None``; returning False stops reconnecting.
    on_before_reconnect: Hook | None = attrs.field(default=None, validator=_optional_callable)
    #: ``(message) -> message``; may return ``DROP``. Runs first on every send.
    on_before_send: Hook | None = attrs.field(default=None, validator=_optional_callable)
    #: ``(message) -> None`` after the frame was written.
    on_after_send: Hook | None = attrs.field(default=None, validator=_optional_callable)
    on_open: Hook | None = attrs.field(default=None, validator=_optional_callable)
    on_message: Hook | None = attrs.field(default=None, validator=_optional_callable)
    on_close: Hook | None = attrs.field(default=None, validator=_optional_callable)
    on_error: Hook | None = attrs.field(default=None, validator=_optional_callable)
    #: Extra handshake headers (a mapping or ``(name, value)`` pairs), e.g. Origin.
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_to_headers)
    #: TLS settings for wss://; default ``ssl.create_default_context()`` (verifies certificates).
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, validator=_ssl_context)
    #: Larger inbound messages close the connection with 1009.
    max_message_size: int = attrs.field(default=MIB, validator=_count(minimum=1))
    #: ``async () -> str``: the URL for each connect cycle (then ``fallback_urls``).
    url_provider: Callable[[], Awaitable[str]] | None = attrs.field(
        default=None, validator=_optional_callable
    )
    #: ``async (ws) -> None`` on every new connection, before the queue flushes and
    #: before ``open`` is emitted (authenticate, re-subscribe). Raising fails the attempt.
    on_connect: Callable[[Any], Awaitable[None]] | None = attrs.field(
        default=None, validator=_optional_callable
    )
    #: The retry counter resets only after the connection stayed up this long.
    reconnect_reset_after: float = attrs.field(default=5.0, validator=_seconds())
    #: Peer close codes after which no reconnect happens.
    fatal_close_codes: frozenset[int] = attrs.field(default=_NO_CODES, converter=_to_codes)
    #: Bound of the buffer between the socket and ``async for``.
    incoming_queue_limit: int = attrs.field(default=1024, validator=_count(minimum=1))
    #: Full incoming buffer: "drop-oldest" (counted, error event) or "block" (backpressure).
    incoming_overflow: IncomingOverflow = attrs.field(
        default="drop-oldest", validator=_one_of(("drop-oldest", "block"))
    )
    #: Allow a ``ws://`` fallback for a ``wss://`` URL (refused by default).
    allow_insecure_fallback: bool = attrs.field(default=False, validator=_bool)
    #: Bytes read from the socket per receive call.
    receive_buffer_size: int = attrs.field(default=64 * 1024, validator=_count(minimum=1))
    #: The wire engine: "trio-websocket" (default) or "websockets".
    transport: TransportName = attrs.field(default="trio-websocket", validator=_one_of(TRANSPORTS))
    #: None or "deflate" (permessage-deflate, RFC 7692; needs transport="websockets").
    compression: Compression | None = attrs.field(
        default=None, validator=attrs.validators.optional(_one_of(("deflate",)))
    )
    #: None, True (read the environment as curl does) or an http/https/socks proxy URL.
    proxy: str | bool | None = attrs.field(default=None, validator=_proxy)
    #: Bound of every closing handshake, either side's (then the stream is closed).
    close_timeout: float = attrs.field(default=2.0, validator=_seconds())

    def __attrs_post_init__(self) -> None:
        if self.compression is not None and self.transport == "trio-websocket":
            raise ValueError(
                f"compression: {self.compression!r} needs transport='websockets' "
                "(transport='trio-websocket' cannot negotiate extensions)"
            )
        if self.allow_insecure_fallback:
            return
        if split_url(self.url)[0]:
            for i, fallback in enumerate(self.fallback_urls):
                if not split_url(fallback)[0]:
                    raise ValueError(
                        f"fallback_urls[{i}]: {redact_url(fallback)!r} downgrades the wss:// "
                        "url to plain ws://; pass allow_insecure_fallback=True to allow it"
                    )

    @property
    def heartbeat_enabled(self) -> bool:
        """True when a heartbeat runs on every connection."""
        return self.heartbeat_interval is not None

    def urls(self) -> tuple[str, ...]:
        """``url`` followed by ``fallback_urls``."""
        return (self.url, *self.fallback_urls)

    def evolve(self, **changes: Any) -> WSConnectionOptions:
        """A copy with ``changes`` applied and validated; unknown names raise TypeError."""
        unknown = sorted(set(changes) - {a.name for a in attrs.fields(type(self))})
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(unknown)}")
        return attrs.evolve(self, **changes)

    def __repr__(self) -> str:
        """Every option, credentials redacted: URL userinfo and query values (``url``,
        ``fallback_urls``, ``proxy``) and the values of ``Authorization``, ``Cookie``,
        ``Proxy-Authorization`` and any header whose name contains "token", "key" or
        "secret"."""
        fields = ", ".join(
            f"{field.name}={_REPR_AS.get(field.name, repr)(getattr(self, field.name))}"
            for field in attrs.fields(type(self))
        )
        return f"{type(self).__name__}({fields})"
