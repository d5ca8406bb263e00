"""The retry policy: attempt counter, reset-after, limit, fatal vs retryable.

Pure (no trio import): the supervisor (:mod:`._cycle`) asks it what to do and tells it
what happened; times are plain floats the caller reads from its clock.
"""

from __future__ import annotations

import ssl
from collections.abc import Collection

__all__ = ["RetryPolicy", "close_is_fatal", "connect_error_is_fatal"]

#: HTTP refusals that another attempt may get past (timeouts, rate limits).
RETRYABLE_4XX = frozenset({408, 425, 429})


def connect_error_is_fatal(exc: BaseException, *, refusal_status: int | None = None) -> bool:
    """Whether another attempt cannot fix ``exc``: then the supervisor stops at once.

    Fatal: an error whose ``fatal`` attribute is true (a proxy refusal, a hook's
    own verdict), a certificate that does not verify, and an HTTP refusal with a 4xx
    status other than 408 / 425 / 429 (``refusal_status``, from the handshake).
    """
    if getattr(exc, "fatal", False) is True:
        return True
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True
    if refusal_status is not None:
        return 400 <= refusal_status < 500 and refusal_status not in RETRYABLE_4XX
    return False


def close_is_fatal(code: int | None, fatal_codes: Collection[int]) -> bool:
    """A peer close code after which no reconnect happens (``fatal_close_codes``)."""
    return code is not None and code in fatal_codes


class RetryPolicy:
    """The retry counter of one manager.

    ``attempt`` is the number of the last retry started (0: none since the counter
    was last reset). It is reset only when a connection stayed up for
    ``reset_after`` seconds, so a server that accepts and drops at once still
    exhausts ``limit``.
    """

    __slots__ = ("attempt",)

    def __init__(self) -> None:
        self.attempt = 0

    def next_attempt(self, limit: int | None) -> int | None:
        """The number the next retry would get, or None when ``limit`` is reached.
        Changes nothing (a retry that ``on_before_reconnect`` cancels counts nowhere)."""
        attempt = self.attempt + 1
        if limit is not None and attempt > limit:
            return None
        return attempt

    def begin(self, attempt: int) -> None:
        """A retry with this number starts now."""
        if attempt != self.attempt + 1:
            raise AssertionError(f"retry {attempt} after retry {self.attempt}")
        self.attempt = attempt

    def connection_ended(self, connected_for: float, reset_after: float) -> None:
        """A connection that opened has ended after ``connected_for`` seconds."""
        if connected_for >= reset_after:
            self.attempt = 0

    def counter(self, connected_for: float | None, reset_after: float) -> int:
        """What ``metrics.reconnect_attempts`` reports: 0 once the current connection
        (``connected_for`` seconds old, None when not connected) passed ``reset_after``."""
        if connected_for is not None and connected_for >= reset_after:
            return 0
        return self.attempt
