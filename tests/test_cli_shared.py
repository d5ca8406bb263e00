"""The ``pterows`` command line, in-process: redaction, redacted logging to the current
stderr, failure reasons, Ctrl-C."""

from __future__ import annotations

import io
import logging
import os
import signal
import sys

import pytest
import trio

from trio_pterows import ConnectionFailed
from trio_pterows.cli._shared import (
    RedactingFormatter,
    Redactor,
    StderrHandler,
    only,
    reason,
    redact,
    run_interruptible,
)

from .cli_helpers import (
    JWT,
    KEY,
)

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


def test_redactor_masks_known_secrets_jwts_and_every_url_query() -> None:
    redact = Redactor()
    redact.add(KEY)
    redact.add("abc")  # too short to be a secret: masking it would mangle text
    redact.add(None)
    text = f"key={KEY} jwt {JWT} url https://panel.example/x?token=s3cret&a=1. abc"
    assert redact(text) == "key=*** jwt <token> url https://panel.example/x?***. abc"
    assert redact("wss://node.example:8080/ws, fine") == "wss://node.example:8080/ws, fine"


def test_redacting_formatter_and_handler_write_to_the_current_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    redact.add(KEY)
    handler = StderrHandler()
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "auth %s %s", (KEY, JWT), None)
    handler.emit(record)
    assert err.getvalue() == "ERROR auth *** <token>\n"


def test_stderr_handler_survives_a_broken_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def write(self, text: str) -> int:
            raise OSError("stderr is gone")

        def flush(self) -> None:
            raise OSError("stderr is gone")

    monkeypatch.setattr(sys, "stderr", Broken())
    handler = StderrHandler()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "hello", (), None)
    handler.emit(record)  # handleError, not an exception


def test_reason_names_the_last_attempts_error_and_unwraps_trio_groups() -> None:
    inner = OSError("all attempts to connect to 127.0.0.1:1 failed")
    inner.__cause__ = ExceptionGroup(
        "x", [OSError("first"), ExceptionGroup("y", [ConnectionRefusedError("refused")])]
    )
    failed = ConnectionFailed("cannot connect", [("ws://a", ValueError("no")), ("ws://b", inner)])
    assert reason(failed) == "ConnectionRefusedError: refused"
    assert reason(ConnectionFailed("gave  up\nnow", [])) == "ConnectionFailed: gave up now"
    assert reason(TimeoutError()) == "TimeoutError"
    plain = OSError("plain")
    plain.__cause__ = ValueError("not a group")
    assert reason(plain) == "OSError: plain"


def test_only_looks_inside_groups() -> None:
    assert only(KeyboardInterrupt(), KeyboardInterrupt)
    group = BaseExceptionGroup(
        "g", [KeyboardInterrupt(), BaseExceptionGroup("h", [KeyboardInterrupt()])]
    )
    assert only(group, KeyboardInterrupt)
    assert not only(BaseExceptionGroup("g", [KeyboardInterrupt(), ValueError()]), KeyboardInterrupt)


async def test_first_ctrl_c_cancels_and_a_second_one_raises() -> None:
    async def slow() -> int:
        await trio.sleep_forever()
        return 0  # pragma: no cover

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:

            async def interrupt() -> None:
                await trio.sleep(0.1)
                os.kill(os.getpid(), signal.SIGINT)

            nursery.start_soon(interrupt)
            assert await run_interruptible(slow, interrupted_status=130) == 130

    async def stubborn() -> int:
        with trio.CancelScope(shield=True):
            await trio.sleep(1)  # cleanup that takes a while
        return 0

    async def interrupt_twice() -> None:
        await trio.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)
        await trio.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    async def interrupted_twice() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(interrupt_twice)
            await run_interruptible(stubborn, interrupted_status=130)

    with trio.fail_after(5), pytest.raises(BaseExceptionGroup) as info:
        await interrupted_twice()
    assert only(info.value, KeyboardInterrupt)
