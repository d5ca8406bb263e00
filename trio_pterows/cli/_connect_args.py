"""The flags of ``pterows connect``."""

from __future__ import annotations

import argparse

from .. import WSConnectionOptions
from ._args import header, retries, seconds, seconds_or_zero

#: The library resets its retry counter only after a connection stayed up this long.
RESET_AFTER = WSConnectionOptions(url="ws://localhost/").reconnect_reset_after


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="ws:// or wss:// URL")
    parser.add_argument(
        "--json",
        action="store_true",
        help="decode and encode JSON both ways (an input line that is not JSON is refused)",
    )
    _reconnection(parser.add_argument_group("reconnection"))
    _heartbeat(parser.add_argument_group("heartbeat"))
    _queue(parser.add_argument_group("queue"))
    _connection(parser.add_argument_group("connection"))


def _reconnection(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--reconnect", action="store_true", help="reconnect when the link drops")
    group.add_argument(
        "--max-retries",
        type=retries,
        default=10,
        metavar="N",
        help="give up after N reconnect attempts, or 'forever' (default: 10); the count "
        f"starts again only after a connection stayed up for {RESET_AFTER:g} s",
    )
    group.add_argument(
        "--reconnect-interval", type=seconds, default=1.0, metavar="SECONDS",
        help="first retry delay, doubled each time (default: 1)",
    )  # fmt: skip
    group.add_argument(
        "--max-reconnect-interval", type=seconds, default=30.0, metavar="SECONDS",
        help="longest retry delay (default: 30)",
    )  # fmt: skip


def _heartbeat(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--heartbeat", type=seconds, metavar="SECONDS", help="ping every SECONDS (default: off)"
    )
    group.add_argument(
        "--heartbeat-mode",
        choices=("protocol", "message"),
        default="protocol",
        help="WebSocket ping frames, or a 'ping' text message answered by 'pong'",
    )
    group.add_argument(
        "--heartbeat-timeout", type=seconds, default=5.0, metavar="SECONDS",
        help="drop the link after SECONDS of silence following a ping (default: 5)",
    )  # fmt: skip


def _queue(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--queue",
        action="store_true",
        help="queue lines while disconnected (stderr says when it starts)",
    )
    group.add_argument(
        "--queue-limit", type=int, metavar="N", help="at most N queued lines (default: 10000)"
    )


def _connection(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--timeout", type=seconds, default=10.0, metavar="SECONDS",
        help="handshake timeout, and how long end of input waits for the queue (default: 10)",
    )  # fmt: skip
    group.add_argument(
        "--linger", type=seconds_or_zero, default=0.5, metavar="SECONDS",
        help="at end of input, wait for replies until the peer is quiet this long "
        "(default: 0.5; 0 closes at once)",
    )  # fmt: skip
    group.add_argument(
        "-H", "--header", type=header, action="append", default=[], metavar="'NAME: VALUE'",
        help="an extra handshake header (repeatable)",
    )  # fmt: skip
    group.add_argument(
        "--protocol", action="append", default=[], metavar="SUBPROTOCOL",
        help="a subprotocol to offer (repeatable)",
    )  # fmt: skip
