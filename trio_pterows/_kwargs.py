"""The keyword form of :class:`~trio_pterows.WSConnectionOptions`, for type checkers.

``open_websocket(url, **options)``, ``AdvancedWebSocket(**options)`` and
``open_console(..., **options)`` take the options as keywords; annotated
``**options: Unpack[OptionKwargs]`` a type checker rejects a misspelt name
(``auto_reconect=True``) or a wrong value (``heartbeat_mode="pings"``) instead of
the constructor at run time.

One key per field of WSConnectionOptions, with the field's type, except for the
fields whose converter takes more than it stores (``fallback_urls`` takes any
sequence, ``headers`` a mapping too, ...): there the key has the type the converter
accepts. ``tests/test_kwargs.py`` checks both against ``attrs.fields``, so a new
option cannot be forgotten here.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypedDict

from ._backoff import ReconnectStrategy
from ._options import (
    Compression,
    HeartbeatMode,
    Hook,
    IncomingOverflow,
    Interceptor,
    LoggerCallback,
    TransportName,
)
from ._queue import OverflowPolicy

__all__ = ["OptionKwargs", "WSConnectionOptionsKwargs"]


class OptionKwargs(TypedDict, total=False):
    """Every WSConnectionOptions field but ``url``, as keyword arguments."""

    fallback_urls: Sequence[str] | None
    protocols: str | Iterable[str] | None
    auto_reconnect: bool
    reconnect_strategy: ReconnectStrategy
    reconnect_interval: float
    max_reconnect_attempts: int | None
    max_reconnect_interval: float
    jitter: float
    connection_timeout: float
    heartbeat_interval: float | None
    heartbeat_message: Any
    expected_pong_message: Any
    heartbeat_timeout: float
    heartbeat_mode: HeartbeatMode
    queue_messages: bool
    message_queue_limit: int | None
    message_queue_overflow: OverflowPolicy
    auto_json: bool
    logger: logging.Logger | LoggerCallback | None
    outgoing_message_interceptors: Iterable[Interceptor] | None
    incoming_message_interceptors: Iterable[Interceptor] | None
    on_before_reconnect: Hook | None
    on_before_send: Hook | None
    on_after_send: Hook | None
    on_open: Hook | None
    on_message: Hook | None
    on_close: Hook | None
    on_error: Hook | None
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None
    ssl_context: ssl.SSLContext | None
    max_message_size: int
    url_provider: Callable[[], Awaitable[str]] | None
    on_connect: Callable[[Any], Awaitable[None]] | None
    reconnect_reset_after: float
    fatal_close_codes: Iterable[int] | None
    incoming_queue_limit: int
    incoming_overflow: IncomingOverflow
    allow_insecure_fallback: bool
    receive_buffer_size: int
    transport: TransportName
    compression: Compression | None
    proxy: str | bool | None
    close_timeout: float


class WSConnectionOptionsKwargs(OptionKwargs, total=False):
    """Every WSConnectionOptions field, ``url`` included, as keyword arguments."""

    url: str
