"""The ``trio_pterows`` logger's NullHandler: an application that never configured
logging sees nothing on stderr, not even during a failed connect (DESIGN §2, Logging).

Each check runs in a fresh interpreter: logging's configuration is process-wide."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

PROGRAM = """
import logging, sys
import trio
import trio_pterows as pw

{configure}
assert any(
    isinstance(h, logging.NullHandler) for h in logging.getLogger("trio_pterows").handlers
)

async def main():
    options = pw.WSConnectionOptions(
        url="ws://127.0.0.1:{port}/", auto_reconnect=True, max_reconnect_attempts=1,
        reconnect_interval=0.01, heartbeat_interval=None,
    )
    async with pw.AdvancedWebSocket(options) as ws:
        try:
            await ws.connect()
        except pw.ConnectionFailed:
            print("failed as expected")
    logging.getLogger("trio_pterows.anything").warning("a library warning")

trio.run(main)
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _run(configure: str) -> subprocess.CompletedProcess[str]:
    program = PROGRAM.format(configure=configure, port=_closed_port())
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_nothing_is_printed_unless_the_application_configures_logging() -> None:
    result = _run(configure="")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "failed as expected\n"
    assert result.stderr == ""


def test_an_application_that_configures_logging_sees_the_warnings() -> None:
    result = _run(configure="logging.basicConfig(level=logging.WARNING)")
    assert result.returncode == 0, result.stderr
    assert "a library warning" in result.stderr
