"""The exception tree of trio_pterows.

Every error the library raises on purpose is a :class:`PterowsError`; configuration
mistakes are plain :class:`ValueError` / :class:`TypeError` naming the bad option.
No :class:`ExceptionGroup` escapes the public API for a single failure.

::

    PterowsError
    ├── ConnectionFailed        connect() gave up; .attempts = [(url, exception), ...]
    ├── NotConnected            send() while closed and queue_messages is off
    │   └── ConnectionLost      the connection dropped under a waiting call
    ├── QueueFull               the outgoing queue is full (message_queue_overflow="reject")
    ├── ResponseTimeout         send_and_wait_response() saw no matching reply in time
    ├── Destroyed               the manager was closed for good (aclose / leaving `async with`)
    ├── PanelAPIError           (pterodactyl) a panel request failed; .status_code
    └── ConsoleClosed           (pterodactyl) the node ended the session for good; .code, .reason

``ResponseTimeout`` also subclasses :class:`TimeoutError`, so ``except TimeoutError``
keeps working for code written against other libraries.
"""

from __future__ import annotations

__all__ = [
    "ConnectionFailed",
    "ConnectionLost",
    "Destroyed",
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


class NotConnected(PterowsError):
    """The connection is not open and the message could not be queued."""


class ConnectionLost(NotConnected):
    """The connection dropped while a call was waiting on it."""


class QueueFull(PterowsError):
    """The outgoing queue is at ``message_queue_limit`` and the policy is ``"reject"``."""


class ResponseTimeout(PterowsError, TimeoutError):
    """:meth:`AdvancedWebSocket.send_and_wait_response` saw no matching message in time."""


class Destroyed(PterowsError):
    """The manager has been closed for good (:meth:`AdvancedWebSocket.aclose`)."""
