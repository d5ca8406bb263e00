"""What every ``pterows`` command shares: exit statuses, redaction, logging,
diagnostics on stderr, failure reasons in one line, and Ctrl-C handling.

Nothing the CLI prints or logs shows the API key, a token or a URL's query string:
diagnostics and ``-v`` logs go through :data:`redact` (:class:`Redactor`).
"""

from __future__ import annotations

import logging
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

import trio

from .. import ConnectionFailed, redact_url

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

#: Exit statuses (also listed in ``pterows --help``).
EXIT_OK = 0
EXIT_FAILURE = 1  # cannot connect, the panel refused, the connection ended badly
EXIT_USAGE = 2  # argparse's status for usage errors; also a missing API key
EXIT_SESSION_ENDED = 3  # the node ended the console session (suspended, deleted, ...)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), for connect and console

API_KEY_VARIABLE = "PTERODACTYL_API_KEY"

log = logging.getLogger("trio_pterows.cli")


class Redactor:
    """Masks secrets in text the CLI prints or logs: known values, JWTs, URL queries."""

    _JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]+")
    # Any scheme: a query string is redacted whatever the URL is for.
    _URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,:;!?)\]]")

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = self._JWT.sub("<token>", text)
        return self._URL.sub(lambda match: redact_url(match.group(0)), text)


#: Every diagnostic and log record goes through this one.
redact = Redactor()


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class StderrHandler(logging.Handler):
    """Writes to ``sys.stderr`` as it is *now* (rich's live view swaps it for a proxy)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def setup_logging(verbose: bool) -> None:
    """Logs to stderr, redacted: the library's at DEBUG with ``verbose``, else errors only."""
    handler = StderrHandler()
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    # The CLI reports what matters itself; the library's warnings (a reconnect after a
    # fault, a heartbeat timeout) would repeat it. -v shows everything, redacted.
    root.setLevel(logging.WARNING)
    logging.getLogger("trio_pterows").setLevel(logging.DEBUG if verbose else logging.ERROR)
    if verbose:
        logging.getLogger("httpx").setLevel(logging.INFO)


def say(err: TextIO, text: str) -> None:
    """A diagnostic on stderr: ``pterows: text`` (redacted, one line)."""
    print(f"pterows: {redact(one_line(text))}", file=err, flush=True)


def one_line(text: str) -> str:
    return " ".join(text.split())


def reason(exc: BaseException) -> str:
    """Why a connect cycle failed, in one line: the last attempt's error."""
    if isinstance(exc, ConnectionFailed) and exc.attempts:
        exc = exc.attempts[-1][1]
    # trio's "all attempts to connect to host:port failed" hides the reason in a group.
    cause = exc.__cause__
    if isinstance(exc, OSError) and isinstance(cause, BaseExceptionGroup):
        leaves = _leaves(cause)
        if leaves:
            exc = leaves[-1]
    text = str(exc)
    name = type(exc).__name__
    return one_line(f"{name}: {text}" if text else name)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for inner in group.exceptions:
        found.extend(_leaves(inner) if isinstance(inner, BaseExceptionGroup) else [inner])
    return found


def only(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``exc`` is a ``kind``, or a group of nothing else."""
    if isinstance(exc, BaseExceptionGroup):
        return all(only(inner, kind) for inner in exc.exceptions)
    return isinstance(exc, kind)


async def run_interruptible(fn: Callable[[], Awaitable[int]], *, interrupted_status: int) -> int:
    """Run ``fn``; the first Ctrl-C cancels it (it cleans up and we return
    ``interrupted_status``), a second one raises KeyboardInterrupt."""
    body = trio.CancelScope()
    status = interrupted_status
    async with trio.open_nursery() as nursery:
        await nursery.start(_watch_sigint, body)
        with body:
            status = await fn()
        nursery.cancel_scope.cancel()
    return interrupted_status if body.cancelled_caught else status


async def _watch_sigint(
    body: trio.CancelScope, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    with trio.open_signal_receiver(signal.SIGINT) as signals:
        task_status.started()
        async for _ in signals:
            if body.cancel_called:
                raise KeyboardInterrupt
            body.cancel()
