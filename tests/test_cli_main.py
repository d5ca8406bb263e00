"""The ``pterows`` command line, in-process: the top-level command: usage errors, exit
statuses, unencodable output."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest
import trio

from trio_pterows.cli import _main
from trio_pterows.cli._main import main, reconfigure_streams

from .cli_helpers import KEY

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stdin needs Unix")


def test_console_with_a_bad_panel_url_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["console", "--panel", "ftp://panel.example/?key=hush", "--server", "a"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    # The subcommand's usage, and the flag's name (not the library's panel_url).
    assert err.startswith("usage: pterows console ")
    assert "pterows console: error: --panel must be an http:// or https:// URL" in err


def test_usage_errors_never_print_a_url_query(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["console", "--panel", "ftp://panel.example/?key=hush", "--server", "a"])
    assert "hush" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("raised", "status"),
    [
        (KeyboardInterrupt(), 130),
        (BaseExceptionGroup("g", [KeyboardInterrupt()]), 130),
        (BrokenPipeError(), 0),
    ],
)
def test_main_maps_ctrl_c_and_a_closed_stdout_to_exit_statuses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, raised: BaseException, status: int
) -> None:
    def fake_run(*args: object) -> int:
        raise raised

    monkeypatch.setattr(_main, "setup_logging", lambda verbose: None)
    monkeypatch.setattr(trio, "run", fake_run)
    with open(tmp_path / "stdout", "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        assert main(["connect", "ws://127.0.0.1:9/"]) == status


def test_main_lets_other_errors_through(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_run(*args: object) -> int:
        raise RuntimeError("bug")

    monkeypatch.setattr(_main, "setup_logging", lambda verbose: None)
    monkeypatch.setattr(trio, "run", fake_run)
    monkeypatch.setenv("PTERODACTYL_API_KEY", KEY)
    with pytest.raises(RuntimeError, match="bug"):
        main(["console", "--panel", "https://panel.example", "--server", "a"])


def test_reconfigure_streams_never_crashes_on_unencodable_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stdout = io.StringIO()  # no reconfigure(): left alone
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    reconfigure_streams()
    assert stderr.errors == "backslashreplace"
    stderr.write("caf\u00e9")
    stderr.flush()
    assert stderr.buffer.getvalue() == b"caf\\xe9"  # type: ignore[attr-defined]
    monkeypatch.undo()
    stderr.close()


def test_connect_usage_errors_print_its_usage_and_name_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["connect", "ws://127.0.0.1:9/", "--queue-limit", "-1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: pterows connect ")
    assert "pterows connect: error: --queue-limit: must be >= 0" in err
    assert "message_queue_limit" not in err
