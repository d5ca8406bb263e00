"""The ``pterows`` command line.

``pterows demo`` runs the library against an embedded, misbehaving local server;
``pterows connect URL`` is a reconnecting websocat-like client.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import trio
import trio_websocket

from . import __version__
from ._connection import AdvancedWebSocket
from ._events import CloseEvent, Event, PongEvent, ReconnectAttemptEvent
from ._exceptions import ConnectionFailed, PterowsError
from ._metrics import WSMetrics
from ._options import WSConnectionOptions, redact_url

__all__ = ["main"]

DEMO_EPILOG = """\
examples:
  pterows demo                   run until Ctrl-C
  pterows demo --duration 20     run for 20 seconds, then print a summary
"""

CONNECT_EPILOG = """\
examples:
  pterows connect ws://127.0.0.1:8765/
  echo '{"action": "ping"}' | pterows connect --json wss://echo.example/ws
  pterows connect --reconnect --heartbeat 10 --queue -H 'Origin: https://panel.example' URL

Each stdin line is sent as one message; each message received is printed on its own
line on stdout. Events and diagnostics go to stderr. End of stdin flushes the queue,
closes cleanly and exits 0.
"""


# --------------------------------------------------------------------------- demo


class _DemoServer:
    """An echo server that answers pings slowly and drops connections on purpose."""

    def __init__(self, seed: int | None) -> None:
        self.random = random.Random(seed)
        self.drops = 0

    async def handle(self, request: trio_websocket.WebSocketRequest) -> None:
        conn = await request.accept()
        lifetime = self.random.uniform(3.0, 6.0)
        with trio.move_on_after(lifetime):
            try:
                while True:
                    message = await conn.get_message()
                    if message == "ping":
                        await trio.sleep(self.random.uniform(0.005, 0.05))
                        await conn.send_message("pong")
                    else:
                        await conn.send_message(message)
            except trio_websocket.ConnectionClosed:
                return
        self.drops += 1
        if self.random.random() < 0.5:
            await conn.aclose(1012, "demo: service restart")
        else:  # vanish without a close frame: the client must notice by itself
            await trio.aclose_forcefully(conn._stream)


def _print(out: TextIO, start: float, text: str) -> None:
    print(f"[{trio.current_time() - start:7.2f}s] {text}", file=out, flush=True)


def _describe(event: Event) -> str:
    if isinstance(event, CloseEvent):
        return f"close        code={event.code} {event.reason!r}"
    if isinstance(event, ReconnectAttemptEvent):
        return f"reconnect    attempt {event.attempt} in {event.delay:.2f}s"
    if isinstance(event, PongEvent):
        return f"pong         latency {event.latency * 1000:.1f} ms"
    data = getattr(event, "data", None)
    if data is not None:
        return f"message      {data!r}"
    url = getattr(event, "url", "")
    return f"{event.type:<12} {url}".rstrip()


def _summary(metrics: WSMetrics) -> str:
    latency = metrics.latency
    lat = (
        f"latency p50 {latency.p50 * 1000:.1f} ms, p99 {latency.p99 * 1000:.1f} ms "
        f"over {latency.count} pongs"
        if latency
        else "no latency samples"
    )
    return (
        f"summary: {metrics.connections} connections, {metrics.total_reconnects} reconnects, "
        f"{metrics.messages_sent} sent, {metrics.messages_received} received, "
        f"{metrics.queued} queued, {metrics.dropped} dropped; {lat}"
    )


async def run_demo(duration: float | None, seed: int | None, out: TextIO) -> int:
    """Run the demo; return the exit status."""
    server = _DemoServer(seed)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        listener = await nursery.start(
            trio_websocket.serve_websocket, server.handle, "127.0.0.1", 0, None
        )
        url = f"ws://127.0.0.1:{listener.port}/demo"
        _print(out, start, f"demo server on {url} (drops each connection after 3-6 s)")
        options = WSConnectionOptions(
            url=url,
            auto_reconnect=True,
            max_reconnect_attempts=None,
            reconnect_strategy="exponential-jitter",
            reconnect_interval=0.25,
            max_reconnect_interval=2.0,
            heartbeat_interval=1.0,
            heartbeat_timeout=1.0,
            queue_messages=True,
            auto_json=True,
        )
        ws = AdvancedWebSocket(options)
        try:
            async with ws:
                for type_ in ("open", "close", "reconnectAttempt", "pong", "message"):
                    ws.add_event_listener(type_, lambda e: _print(out, start, _describe(e)))
                await ws.connect()
                with trio.move_on_after(duration if duration is not None else float("inf")):
                    seq = 0
                    while True:
                        await ws.send({"seq": seq})
                        seq += 1
                        await trio.sleep(0.5)
        finally:
            _print(out, start, _summary(ws.get_metrics()))
            nursery.cancel_scope.cancel()
    return 0


# ------------------------------------------------------------------------ connect


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


async def run_connect(args: argparse.Namespace, stdin: Any, out: TextIO, err: TextIO) -> int:
    """Send stdin lines, print messages; return the exit status."""
    options = WSConnectionOptions(
        url=args.url,
        auto_reconnect=args.reconnect,
        max_reconnect_attempts=args.max_retries,
        heartbeat_interval=args.heartbeat,
        heartbeat_mode=args.heartbeat_mode,
        heartbeat_timeout=args.heartbeat_timeout,
        queue_messages=args.queue,
        auto_json=args.json,
        connection_timeout=args.timeout,
        headers=args.header,
        protocols=args.protocol or None,
    )

    def diag(event: Event) -> None:
        print(f"pterows: {_describe(event)}", file=err, flush=True)

    async with AdvancedWebSocket(options) as ws:
        for type_ in ("open", "close", "reconnectAttempt", "error"):
            ws.add_event_listener(type_, diag)
        try:
            await ws.connect()
        except ConnectionFailed as exc:
            last = exc.attempts[-1][1] if exc.attempts else exc
            print(
                f"pterows: cannot connect to {redact_url(args.url)}: {type(last).__name__}: {last}",
                file=err,
            )
            return 1

        async def print_messages() -> None:
            async for message in ws:
                if args.json and not isinstance(message, (str, bytes)):
                    from ._codec import dumps

                    message = dumps(message)
                elif isinstance(message, bytes):
                    message = message.decode("utf-8", "backslashreplace")
                print(message, file=out, flush=True)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(print_messages)
            async for line in _lines(stdin):
                payload: Any = line
                if args.json:
                    from ._codec import loads

                    try:
                        payload = loads(line)
                    except ValueError:
                        payload = line
                try:
                    await ws.send(payload)
                except PterowsError as exc:
                    print(f"pterows: not sent: {exc}", file=err, flush=True)
            # End of stdin: let queued messages go out, then close cleanly.
            with trio.move_on_after(args.timeout):
                await ws.wait_flushed()
            await ws.close()
            nursery.cancel_scope.cancel()
    return 0


async def _lines(stdin: Any) -> Any:
    buffer = b""
    while True:
        chunk = await stdin.receive_some(65536)
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace").rstrip("\r")
    if buffer:
        yield buffer.decode("utf-8", "replace")


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pterows",
        description="A WebSocket client for Trio that does not fall over.",
    )
    parser.add_argument("--version", action="version", version=f"pterows {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs (redacted)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="watch reconnects, heartbeats and the queue against a misbehaving local server",
        epilog=DEMO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--duration", type=float, default=None, metavar="SECONDS")
    demo.add_argument("--seed", type=int, default=None, help="make the chaos repeatable")

    connect = sub.add_parser(
        "connect",
        help="a reconnecting websocat-like client: stdin lines out, messages to stdout",
        epilog=CONNECT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    connect.add_argument("url", help="ws:// or wss:// URL")
    connect.add_argument("--json", action="store_true", help="auto-JSON both ways")
    connect.add_argument("--reconnect", action="store_true", help="reconnect when dropped")
    connect.add_argument("--max-retries", type=int, default=10, metavar="N")
    connect.add_argument("--heartbeat", type=float, default=None, metavar="SECONDS")
    connect.add_argument("--heartbeat-mode", choices=("message", "protocol"), default="protocol")
    connect.add_argument("--heartbeat-timeout", type=float, default=5.0, metavar="SECONDS")
    connect.add_argument("--queue", action="store_true", help="queue lines while disconnected")
    connect.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS")
    connect.add_argument(
        "-H", "--header", type=_header, action="append", default=[], metavar="'NAME: VALUE'"
    )
    connect.add_argument("--protocol", action="append", default=[], metavar="SUBPROTOCOL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pterows`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "demo":
            try:
                return trio.run(run_demo, args.duration, args.seed, sys.stdout)
            except KeyboardInterrupt:
                return 0  # Ctrl-C is how the demo ends; the summary was printed
        if args.command == "connect":
            try:
                WSConnectionOptions(url=args.url)
            except (TypeError, ValueError) as exc:
                parser.error(str(exc))
            stdin = trio.lowlevel.FdStream(sys.stdin.fileno())
            return trio.run(run_connect, args, stdin, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command!r}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
