"""The exception tree of trio_pterows.

Every error the library raises on purpose is a :class:`PterowsError`; configuration
mistakes are plain :class:`ValueError` / :class:`TypeError` naming the bad option.
No :class:`ExceptionGroup` escapes the public API for a single failure.

::

    PterowsError
    ├── ConnectionFailed        connect() gave up; .attempts = [(url, exception), ...]
    ├── HandshakeError          (in .attempts) the server refused the upgrade; .status_code
    ├── NotConnected            send() while closed and queue_messages is off
    │   └── ConnectionLost      the connection dropped; .code, .reason, .fatal
    ├── QueueFull               the outgoing queue is full (message_queue_overflow="reject")
    ├── ResponseTimeout         send_and_wait_response() saw no matching reply in time
    ├── Destroyed               the manager was closed for good (aclose / leaving `async with`)
    ├── PanelAPIError           (pterodactyl) a panel request failed; .status_code
    └── ConsoleClosed           (pterodactyl) the node ended the session for good; .code, .reason

``HandshakeError`` also subclasses :class:`ConnectionError` and ``ResponseTimeout``
:class:`TimeoutError`, so ``except TimeoutError``
keeps working for code written against other libraries.
"""

from __future__ import annotations

__all__ = [
    "ConnectionFailed",
    "ConnectionLost",
    "Destroyed",
    "HandshakeError",
    "NotConnected",
    "PterowsError",
    "QueueFull",
    "ResponseTimeout",
]


class PterowsError(Exception):
    """Base class of every error trio_pterows raises on purpose."""

    #: When a ``url_provider`` (or anything else on the connect path) raises an
    #: error whose ``fatal`` attribute is true, the supervisor stops retrying at once.
    fatal: bool = False


class ConnectionFailed(PterowsError):
    """:meth:`AdvancedWebSocket.connect` gave up.

    ``attempts`` lists every attempt of this connect cycle as ``(url, exception)``,
    oldest first; URLs are redacted (no credentials, no query string). The last
    attempt's exception is also the ``__cause__``.
    """

    def __init__(self, message: str, attempts: list[tuple[str, BaseException]]) -> None:
        super().__init__(message)
        self.attempts: list[tuple[str, BaseException]] = attempts

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.args[0] if self.args else "", self.attempts))

    def __str__(self) -> str:
        base = super().__str__()
        if not self.attempts:
            return base
        lines = [base]
        for url, exc in self.attempts[-5:]:
            lines.append(f"  {url}: {type(exc).__name__}: {exc}")
        if len(self.attempts) > 5:
            lines.insert(1, f"  ... {len(self.attempts) - 5} earlier attempts not shown")
        return "\n".join(lines)


class HandshakeError(PterowsError, ConnectionError):
    """The server did not open a WebSocket: the message names the cause.

    Found in :attr:`ConnectionFailed.attempts`. ``status_code`` is the HTTP status of a
    refusal (None when the response was not a refusal but a bad upgrade: a wrong
    ``Sec-WebSocket-Accept``, an unrequested subprotocol or extension, or the stream
    closing mid-handshake). ``body`` is the start of the refusal's body (at most 4 KiB:
    no more is read, whatever its Content-Length).
    """

    def __init__(self, message: str, *, status_code: int | None = None, body: bytes = b"") -> None:
        super().__init__(message)
        self.status_code: int | None = status_code
        self.body: bytes = body

    def __reduce__(self) -> tuple[object, ...]:
        message = self.args[0] if self.args else ""
        return (_rebuild_handshake, (message, self.status_code, self.body))


def _rebuild_handshake(message: str, status_code: int | None, body: bytes) -> HandshakeError:
    return HandshakeError(message, status_code=status_code, body=body)


class NotConnected(PterowsError):
    """The connection is not open and the message could not be queued."""


class ConnectionLost(NotConnected):
    """The connection dropped (under a waiting call, or for good when iterating).

    ``code`` and ``reason`` are those of the close (None / "" when the connection was
    lost without a close frame or before it opened); ``fatal`` is true when the code is
    one of ``fatal_close_codes`` (no reconnect follows).
    """

    def __init__(
        self, message: str, *, code: int | None = None, reason: str = "", fatal: bool = False
    ) -> None:
        super().__init__(message)
        self.code: int | None = code
        self.reason: str = reason
        self.fatal: bool = fatal

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_lost,
            (self.args[0] if self.args else "", self.code, self.reason, self.fatal),
        )


def _rebuild_lost(message: str, code: int | None, reason: str, fatal: bool) -> ConnectionLost:
    return ConnectionLost(message, code=code, reason=reason, fatal=fatal)


class QueueFull(PterowsError):
    """The outgoing queue is at ``message_queue_limit`` and the policy is ``"reject"``."""


class ResponseTimeout(PterowsError, TimeoutError):
    """:meth:`AdvancedWebSocket.send_and_wait_response` saw no matching message in time."""


class Destroyed(PterowsError):
    """The manager has been closed for good (:meth:`AdvancedWebSocket.aclose`)."""
