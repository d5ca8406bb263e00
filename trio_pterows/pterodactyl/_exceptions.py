"""Errors of the Pterodactyl layer (see :mod:`trio_pterows._exceptions` for the whole tree).

::

    PterowsError
    ├── PanelAPIError    a panel request failed; .status_code (None: no HTTP answer), .fatal
    └── ConsoleClosed    the node ended the console session for good; .code, .reason

Neither message ever contains the panel API key or a websocket token.
"""

from __future__ import annotations

from trio_pterows._exceptions import PterowsError

__all__ = ["ConsoleClosed", "PanelAPIError", "is_fatal_status"]

#: Client errors that may go away on their own: a retry is worth it.
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 409, 425, 429})


def is_fatal_status(status_code: int | None) -> bool:
    """Whether a failed panel request with this HTTP status must not be retried.

    ``None`` (no HTTP answer: network error, timeout) and 5xx are retryable; 401, 403,
    404 and the other 4xx are fatal, except 408, 409 (the server is installing or
    restoring; :func:`fetch_credentials` makes a suspended server's 409 fatal), 425 and
    429; 3xx is fatal (``panel_url`` points at a
    redirect, use the final URL).
    """
    if status_code is None or status_code >= 500:
        return False
    if status_code in _RETRYABLE_CLIENT_ERRORS:
        return False
    return status_code >= 300


class PanelAPIError(PterowsError):
    """A request to the panel API failed.

    ``status_code`` is the HTTP status, or ``None`` when no HTTP answer came (network
    error, timeout; the transport error is the ``__cause__``). ``fatal`` is true when a
    retry cannot help (401, 403, 404, ...): the connection supervisor then stops at once.
    By default ``fatal`` follows :func:`is_fatal_status`. ``retry_after``: seconds the
    panel asked to wait (``Retry-After`` of a 429), or ``None``; the console sends no
    panel request before it is over.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        fatal: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code: int | None = status_code
        self.fatal: bool = is_fatal_status(status_code) if fatal is None else fatal
        self.retry_after: float | None = retry_after

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_panel_error,
            (str(self), self.status_code, self.fatal, self.retry_after),
        )


def _rebuild_panel_error(
    message: str, status_code: int | None, fatal: bool, retry_after: float | None = None
) -> PanelAPIError:
    return PanelAPIError(message, status_code=status_code, fatal=fatal, retry_after=retry_after)


class ConsoleClosed(PterowsError):
    """The node ended the console session for good; no reconnect follows.

    ``code`` is the websocket close code (4409 suspended, 4400 bad request, 1001 with
    reason ``"server deleted"``), or ``None`` when the session ended by an event (the
    ``deleted`` event, a ``jwt error`` that is neither about expiry nor the denylist).
    ``reason`` is the close reason or the event's text.
    """

    #: Final by definition: nothing on the connect path retries after it.
    fatal = True

    def __init__(self, code: int | None, reason: str = "", message: str | None = None) -> None:
        if message is None:
            what = f"close code {code}" if code is not None else "the node"
            message = (
                f"console closed by {what}: {reason}" if reason else f"console closed by {what}"
            )
        super().__init__(message)
        self.code: int | None = code
        self.reason: str = reason

    def __reduce__(self) -> tuple[object, ...]:
        return (ConsoleClosed, (self.code, self.reason, str(self)))
