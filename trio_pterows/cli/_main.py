"""The ``pterows`` command: the top-level parser and ``main``.

Each command (``demo``, ``connect``, ``console``) builds its own parser and runs
itself; this module only dispatches, and turns Ctrl-C and a closed stdout into exit
statuses.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .. import __version__
from . import _connect, _console, _demo
from ._shared import EXIT_INTERRUPTED, EXIT_OK, only, redact, setup_logging

EPILOG = """\
examples:
  pterows demo                                   watch reconnects, heartbeats and token
                                                 refreshes against a fake, flaky server
  pterows connect wss://echo.example/ws          a reconnecting websocat
  pterows console --panel https://panel.example.com --server 1a2b3c4d

exit status: 0 success, 1 connection or panel failure, 2 usage error (or no API key),
3 the node ended the console session, 130 interrupted (Ctrl-C; the demo exits 0).
Run "pterows COMMAND --help" for the options of each command.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``pterows`` argument parser: each command adds its own."""
    parser = argparse.ArgumentParser(
        prog="pterows",
        description="A WebSocket client for Trio that does not fall over, and a "
        "Pterodactyl / Pelican console client on top of it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pterows {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logs on stderr (secrets redacted)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (_demo, _connect, _console):
        command.add_parser(sub)
    return parser


def _check(args: argparse.Namespace) -> None:
    """Values argparse cannot check: a usage error of the subcommand that took them."""
    if args.check is None:
        return
    try:
        args.check(args)
    except (TypeError, ValueError) as exc:
        args.command_parser.error(redact(str(exc)))


def reconfigure_streams() -> None:
    # Messages and console lines are remote text: never crash on an unencodable one.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pterows`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    _check(args)
    setup_logging(args.verbose)
    reconfigure_streams()
    try:
        status: int = args.start(args)
        return status
    except BaseException as exc:
        if only(exc, KeyboardInterrupt):
            return EXIT_INTERRUPTED
        if only(exc, BrokenPipeError):  # stdout closed (| head): nothing left to do
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_OK
        raise
