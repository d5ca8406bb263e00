"""Building each subcommand's parser: the shared ``-v``, argument types, and
library option names translated into the flags that set them."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Mapping
from typing import Protocol

Checker = Callable[[argparse.Namespace], None]
Starter = Callable[[argparse.Namespace], int]


class Subparsers(Protocol):
    """What ``ArgumentParser.add_subparsers()`` returns (argparse keeps its type private)."""

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser: ...


def _verbose_parent() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug logs on stderr (secrets redacted)",
    )
    return common


def add_command(
    sub: Subparsers,
    name: str,
    help: str,
    epilog: str,
    *,
    start: Starter,
    check: Checker | None = None,
) -> argparse.ArgumentParser:
    """A subcommand's parser. ``start(args)`` runs it; ``check(args)`` raises
    ValueError / TypeError for values argparse cannot check, which then become a
    usage error of *this* subcommand (its usage line, not the top-level one)."""
    parser = sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=epilog,
        parents=[_verbose_parent()],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(start=start, check=check, command_parser=parser)
    return parser


def renamed(text: str, flags: Mapping[str, str]) -> str:
    """``text`` with every library option name in ``flags`` replaced by its flag."""
    if not flags:
        return text
    words = "|".join(re.escape(name) for name in sorted(flags, key=len, reverse=True))
    return re.sub(rf"\b(?:{words})\b", lambda match: flags[match.group(0)], text)


# ------------------------------------------------------------------ argument types


def header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def retries(text: str) -> int | None:
    if text in ("forever", "inf"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'forever', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def seconds(text: str) -> float:
    value = seconds_or_zero(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def seconds_or_zero(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value
