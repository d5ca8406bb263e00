"""The ``pterows`` command line, driven as a user would: a subprocess, its stdin and output.

Every verb runs as ``python -m trio_pterows`` (the interpreter running the tests, so it
works in any virtualenv). ``pterows console`` needs a panel: it runs through
``tests/cli_fakewings_runner.py``, which starts FakeWings in-process and calls the CLI's
own console entry function with the fake panel's transport, so the shipping CLI has no
test-only switch. A few small pure helpers are tested in-process at the end.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio_websocket

from trio_pterows import __version__
from trio_pterows.cli._shared import Redactor as _Redactor
from trio_pterows.cli._stdin import LineReader as _LineReader
from trio_pterows.cli._text import clean as _clean

from .cli_fakewings_runner import API_KEY

RUNNER = Path(__file__).with_name("cli_fakewings_runner.py")
PTEROWS = [sys.executable, "-m", "trio_pterows"]
#: A plain demo line: "[   1.23s] kind      text".
PLAIN_LINE = re.compile(r"^\[\s*\d+\.\d\ds\] \w+ +\S")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


def _env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PTERODACTYL_API_KEY", "NO_COLOR")}
    env.update(changes)
    return env


async def _run(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None, within: float = 15
) -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(within):
        return await trio.run_process(
            [*PTEROWS, *args],
            stdin=stdin,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=env or _env(),
        )


class CLI:
    """A running process: what it printed so far, and ways to wait for more."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.output = {"out": "", "err": ""}
        self._changed = trio.Event()
        self._eof = {"out": trio.Event(), "err": trio.Event()}

    @classmethod
    async def start(cls, nursery: trio.Nursery, command: list[str], env: dict[str, str]) -> CLI:
        process = await trio.lowlevel.open_process(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        cli = cls(process)
        assert process.stdout is not None
        assert process.stderr is not None
        nursery.start_soon(cli._collect, process.stdout, "out")
        nursery.start_soon(cli._collect, process.stderr, "err")
        return cli

    async def _collect(self, stream: trio.abc.ReceiveStream, name: str) -> None:
        async for chunk in stream:
            self.output[name] += chunk.decode("utf-8", "replace")
            self._changed.set()
            self._changed = trio.Event()
        self._eof[name].set()

    @property
    def out(self) -> str:
        return self.output["out"]

    @property
    def err(self) -> str:
        return self.output["err"]

    async def wait_for(self, text: str, *, on: str = "out", within: float = 10) -> None:
        """Wait until ``text`` was printed (on stdout, or ``on="err"``)."""
        with trio.move_on_after(within):
            while text not in self.output[on]:
                await self._changed.wait()
            return
        raise AssertionError(
            f"{text!r} not printed within {within} s\n"
            f"--- stdout:\n{self.out}\n--- stderr:\n{self.err}"
        )

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(line.encode() + b"\n")

    async def end_input(self) -> int:
        """Close stdin (Ctrl-D) and wait for the exit status."""
        assert self.process.stdin is not None
        await self.process.stdin.aclose()
        return await self.exit_status()

    async def exit_status(self) -> int:
        """Wait for the process to exit and its output to be read."""
        status = await self.process.wait()
        for eof in self._eof.values():
            await eof.wait()
        return status


@pytest.fixture
async def processes(nursery: trio.Nursery) -> AsyncIterator[list[trio.Process]]:
    """Kills whatever the test left running."""
    started: list[trio.Process] = []
    yield started
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def start(
    nursery: trio.Nursery, processes: list[trio.Process], command: list[str], env: dict[str, str]
) -> CLI:
    cli = await CLI.start(nursery, command, env)
    processes.append(cli.process)
    return cli


# --------------------------------------------------------------------------- echo server


async def _echo(request: trio_websocket.WebSocketRequest) -> None:
    conn = await request.accept()
    try:
        while True:
            message = await conn.get_message()
            if message == "bye":
                await conn.aclose(1000, "see you")
                return
            await conn.send_message(message)
    except trio_websocket.ConnectionClosed:
        pass


@pytest.fixture
async def echo_url(nursery: trio.Nursery) -> str:
    server = await nursery.start(trio_websocket.serve_websocket, _echo, "127.0.0.1", 0, None)
    return f"ws://127.0.0.1:{server.port}/echo"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ------------------------------------------------------------------------- all verbs


async def test_version() -> None:
    result = await _run("--version")
    assert result.returncode == 0
    assert result.stdout.decode().strip() == f"pterows {__version__}"


@pytest.mark.parametrize("verb", [[], ["demo"], ["connect"], ["console"]])
async def test_help_has_examples(verb: list[str]) -> None:
    result = await _run(*verb, "--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    assert "examples:" in text
    assert "-v, --verbose" in text
    assert "usage: pterows" in text


async def test_no_verb_is_a_usage_error() -> None:
    result = await _run()
    assert result.returncode == 2
    assert "usage: pterows" in result.stderr.decode()


# ------------------------------------------------------------------------------ demo


async def test_demo_prints_plain_lines_and_a_summary_when_not_a_terminal() -> None:
    result = await _run("demo", "--duration", "3", "--seed", "1", within=20)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "\x1b" not in out  # no live view, no colours: stdout is a pipe
    lines = out.splitlines()
    assert lines[0].startswith("pterows demo")
    assert "Seed 1" in lines[0]
    # The elapsed time is wall-clock: on a busy machine it is longer than asked for.
    summary = re.match(r"summary: (\d+\.\d) s, seed 1: ", lines[-1])
    assert summary is not None, lines[-1]
    assert float(summary[1]) >= 2.9
    events = lines[1:-1]
    assert events
    assert all(PLAIN_LINE.match(line) for line in events), events
    kinds = {line.partition("] ")[2].split()[0] for line in events}
    assert {"open", "chaos"} <= kinds, kinds
    assert kinds & {"console", "history"}, kinds  # live lines, or the replayed history
    assert "ptlc_" not in out
    assert "eyJ" not in out
    assert result.stderr == b""


async def test_demo_ends_on_ctrl_c_with_a_summary(
    nursery: trio.Nursery, processes: list[trio.Process]
) -> None:
    cli = await start(nursery, processes, [*PTEROWS, "demo", "--seed", "2"], _env())
    with trio.fail_after(15):
        await cli.wait_for(" chaos ")
        cli.process.send_signal(signal.SIGINT)
        assert await cli.exit_status() == 0
    assert cli.out.splitlines()[-1].startswith("summary: ")
    assert "Traceback" not in cli.err


# --------------------------------------------------------------------------- connect


async def test_connect_sends_lines_and_prints_replies(echo_url: str) -> None:
    result = await _run("connect", echo_url, stdin=b"hello\nworld\n")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().splitlines() == ["hello", "world"]
    assert f"pterows: connected to {echo_url}" in result.stderr.decode()


async def test_connect_json_both_ways(echo_url: str) -> None:
    result = await _run("connect", "--json", echo_url, stdin=b'{"a":   [1, 2]}\nnot json\n')
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert json.loads(lines[0]) == {"a": [1, 2]}
    assert lines[0] == '{"a":[1,2]}'  # re-encoded, not echoed verbatim
    # A line that is not JSON is refused, and stderr says which and why.
    assert len(lines) == 1
    err = result.stderr.decode()
    assert "pterows: line 2 not sent: --json takes one JSON value per line" in err


async def test_connect_exits_0_when_the_peer_closes_cleanly(
    nursery: trio.Nursery, processes: list[trio.Process], echo_url: str
) -> None:
    cli = await start(nursery, processes, [*PTEROWS, "connect", echo_url], _env())
    with trio.fail_after(10):
        await cli.type("one")
        await cli.wait_for("one\n")
        await cli.type("bye")
        assert await cli.exit_status() == 0
    assert "closed by the peer: 1000 see you" in cli.err


async def test_connect_verbose_logs_hide_secrets(echo_url: str) -> None:
    url = f"{echo_url}?token=s3cret-query"
    header = "Authorization: Bearer s3cret-header"
    result = await _run("connect", "-v", "-H", header, url, stdin=b"hi\n")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b"hi\n"
    err = result.stderr.decode()
    assert "INFO trio_pterows: connected to" in err  # -v: the library's logs
    assert "?***" in err
    assert "s3cret" not in err


async def test_connect_refused_is_one_line_naming_the_redacted_url() -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/ws?token=s3cret-value"
    result = await _run("connect", url, stdin=b"never sent\n")
    assert result.returncode == 1
    assert result.stdout == b""
    err = result.stderr.decode()
    assert err.count("\n") == 1, err
    redacted = url.partition("?")[0] + "?***"
    assert err.startswith(f"pterows: cannot connect to {redacted}: ConnectionRefusedError")
    assert "s3cret" not in err


async def test_connect_rejects_a_bad_url_as_a_usage_error() -> None:
    result = await _run("connect", "http://example.com/?key=s3cret")
    assert result.returncode == 2
    assert "ws:// or wss://" in result.stderr.decode()
    assert "s3cret" not in result.stderr.decode()


async def test_connect_exits_promptly_on_ctrl_c(
    nursery: trio.Nursery, processes: list[trio.Process], echo_url: str
) -> None:
    command = [*PTEROWS, "connect", "--reconnect", "--heartbeat", "1", echo_url]
    cli = await start(nursery, processes, command, _env())
    with trio.fail_after(10):
        await cli.wait_for("connected to", on="err")
        cli.process.send_signal(signal.SIGINT)
        with trio.fail_after(3):
            assert await cli.exit_status() == 130
    assert "Traceback" not in cli.err


# --------------------------------------------------------------------------- console


async def test_console_session_against_fakewings(
    nursery: trio.Nursery, processes: list[trio.Process]
) -> None:
    env = _env(PTERODACTYL_API_KEY=API_KEY)
    cli = await start(nursery, processes, [sys.executable, str(RUNNER), "-v"], env)
    with trio.fail_after(25):
        await cli.wait_for("title-escape-removed\n")
        await cli.type("say hi")
        await cli.wait_for("> say hi\n")
        await cli.type(":stats")
        await cli.wait_for("stats: running, cpu 12.5%")
        # The node drops the connection: the client reconnects, commands go on.
        await cli.type("chaos drop")
        await cli.wait_for("pterows: reconnected", on="err")
        await cli.type("say after the drop")
        await cli.wait_for("> say after the drop\n")
        # The node expires the token: the client refreshes it on the same socket.
        await cli.type("chaos expire")
        await cli.wait_for("pterows: token refreshed", on="err")
        await cli.type("say after the refresh")
        await cli.type(":nonsense")
        assert await cli.end_input() == 0
    out, err = cli.out, cli.err
    # Console output on stdout, cleaned: no colours (not a terminal), no escapes.
    assert "hello from fakewings\n" in out
    assert "\x1b" not in out
    assert "pwned" not in out
    assert "> say after the refresh\n" in out  # printed before the session closed
    assert "pterows: server status: running" in err
    assert "unknown action ':nonsense'" in err
    assert "pterows:" not in out
    assert "DEBUG" in err  # -v: debug logs, on stderr
    commands = json.loads(err.rpartition("runner: commands=")[2])
    assert commands == [
        "say hi",
        "chaos drop",
        "say after the drop",
        "chaos expire",
        "say after the refresh",
    ]
    for secret in (API_KEY, "eyJ"):  # the API key, any token (JWTs start so)
        assert secret not in out
        assert secret not in err


async def test_console_exits_3_when_the_node_ends_the_session(
    nursery: trio.Nursery, processes: list[trio.Process]
) -> None:
    env = _env(PTERODACTYL_API_KEY=API_KEY)
    cli = await start(nursery, processes, [sys.executable, str(RUNNER)], env)
    with trio.fail_after(15):
        await cli.wait_for("hello from fakewings")
        await cli.type("chaos suspend")
        assert await cli.exit_status() == 3
    assert "pterows: console closed: server is suspended (the panel refuses it" in cli.err


async def test_console_wrong_key_exits_1_without_printing_it() -> None:
    wrong = "ptlc_WrongKeyThatMustNotBePrinted00000000000"
    with trio.fail_after(15):
        result = await trio.run_process(
            [sys.executable, str(RUNNER)],
            stdin=b"say hi\n",
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=_env(PTERODACTYL_API_KEY=wrong),
        )
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "pterows: panel GET http://panel.test/api/client/servers/abc123/websocket" in err
    assert "HTTP 401" in err
    assert "runner: commands=[]" in err
    assert wrong not in err
    assert wrong not in result.stdout.decode()


async def test_console_without_a_key_or_terminal_says_how_to_give_one() -> None:
    result = await _run("console", "--panel", "https://panel.example.com", "--server", "abc")
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.startswith("pterows: no API key: set PTERODACTYL_API_KEY")
    assert err.count("\n") == 1


async def test_console_has_no_api_key_flag() -> None:
    result = await _run("console", "--help")
    assert "PTERODACTYL_API_KEY" in result.stdout.decode()
    result = await _run(
        "console", "--panel", "https://p.example", "--server", "a", "--api-key", "x"
    )
    assert result.returncode == 2
    assert "unrecognized arguments: --api-key" in result.stderr.decode()


# --------------------------------------------------------------- helpers, in-process


def test_clean_keeps_colours_only_when_asked_and_never_other_escapes() -> None:
    line = "\x1b[33mwarn\x1b[0m \x1b]52;c;ZXZpbA==\x07\x1b[2Jdone\x07\r\n"
    assert _clean(line, keep_colour=False) == "warn done"
    assert _clean(line, keep_colour=True) == "\x1b[33mwarn\x1b[0m done\x1b[0m"
    assert _clean("tab\tkept", keep_colour=False) == "tab\tkept"


def test_redactor_masks_keys_tokens_and_url_queries() -> None:
    redact = _Redactor()
    redact.add("ptlc_secret")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    text = f"key ptlc_secret token {jwt} at wss://node.example:8080/ws?token=abc, then"
    assert redact(text) == "key *** token <token> at wss://node.example:8080/ws?***, then"


async def test_line_reader_reads_pipes_and_files(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, b"one\r\ntwo\nthree")
        os.close(write_fd)
        reader = _LineReader(read_fd)
        assert [await reader.readline() for _ in range(4)] == ["one", "two", "three", None]
    finally:
        os.close(read_fd)
    path = tmp_path / "input.txt"
    path.write_bytes(b"from a file\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        reader = _LineReader(fd)  # files cannot be polled: read directly
        assert await reader.readline() == "from a file"
        assert await reader.readline() is None
    finally:
        os.close(fd)
