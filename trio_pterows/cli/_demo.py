"""``pterows demo``: the console client against FakeWings behind a ChaosProxy.

The parts: :mod:`._demo_server` (FakeWings and its world), :mod:`._demo_chaos` (the
faults), :mod:`._demo_snapshot` (what is shown), :mod:`._demo_live` and
:mod:`._demo_plain` (the views). This module is the client side and the command.
"""

from __future__ import annotations

import argparse
import random
import sys
from typing import TextIO

import httpx
import trio

from .. import CloseEvent, OpenEvent, PterowsError, ReconnectAttemptEvent, __version__
from ..pterodactyl import (
    Console,
    ConsoleOutput,
    DaemonError,
    DaemonMessage,
    StatusChange,
    Throttled,
    TokenState,
    open_console,
)
from ..testing import ChaosProxy
from ._args import Subparsers, add_command, seconds
from ._demo_chaos import Chaos
from ._demo_live import LiveView, has_rich
from ._demo_plain import DemoView, PlainView
from ._demo_server import DEMO_KEY, DemoServer
from ._demo_snapshot import Snapshot
from ._shared import EXIT_OK, redact, run_interruptible
from ._text import clean, close_text, use_colour
from ._tokens import watch_tokens

EPILOG = """\
examples:
  pterows demo                       run until Ctrl-C
  pterows demo --duration 30         30 seconds, then a summary
  pterows demo --seed 7              the same faults in the same order on every run
  pterows demo --duration 10 | cat   timestamped lines instead of the live view

No panel needed: the demo starts FakeWings (a fake Pterodactyl panel and Wings node)
with a ChaosProxy in front of the node, and runs the console client against it. Every
few seconds the proxy drops, black-holes, delays or cuts the link, or the node expires
the token; the client reconnects, refreshes its token and keeps its command queue.
After each reconnect the node replays the console lines the client missed: they are
shown as "history" (dim in the live view) and counted in the summary.
The live view needs the "cli" extra (rich) and a terminal; otherwise each event is
printed on its own line. Ctrl-C or the end of --duration prints a summary; exit 0.
"""


class Demo:
    """FakeWings + ChaosProxy + a console client, and the traffic that makes it lively."""

    def __init__(self, seed: int, view: DemoView) -> None:
        self.seed = seed
        self.view = view
        self.start = 0.0
        self.server = DemoServer(seed, self.elapsed)
        self.fake = self.server.fake
        self.chaos = Chaos(seed, self.fake, self.note)
        redact.add(DEMO_KEY)
        self.console: Console | None = None
        self.commands = 0
        self.console_lines = 0
        self.history_lines = 0  # of console_lines: replayed after a (re)connect
        self.last_status: str | None = None
        self.ending = False
        self.stopped_at: float | None = None  # the clock stops when the demo ends

    # ------------------------------------------------------------ bookkeeping

    def elapsed(self) -> float:
        end = self.stopped_at if self.stopped_at is not None else trio.current_time()
        return end - self.start

    def note(self, kind: str, text: str) -> None:
        self.view.event(self.elapsed(), kind, text)

    def snapshot(self) -> Snapshot:
        console = self.console
        metrics = console.ws.get_metrics() if console is not None else None
        connections = metrics.connections if metrics else 0
        return Snapshot(
            seed=self.seed,
            elapsed=self.elapsed(),
            state=console.ws.state.value if console is not None else "CONNECTING",
            status=(console.status or "-") if console is not None else "-",
            last_latency=metrics.last_latency if metrics else None,
            latency=metrics.latency if metrics else None,
            connections=connections,
            reconnects=max(0, connections - 1),
            retries=metrics.total_reconnects if metrics else 0,
            queued=metrics.queued if metrics else 0,
            dropped=metrics.dropped if metrics else 0,
            token_refreshes=console.token_refreshes if console is not None else 0,
            tokens_fetched=self.fake.tokens_issued,
            faults=sum(self.chaos.faults.values()),
            fault_kinds=self.chaos.kinds_text(),
            active_fault=self.chaos.active,
            commands=self.commands,
            console_lines=self.console_lines,
            history_lines=self.history_lines,
            stats=console.last_stats if console is not None else None,
        )

    def token_refreshed(self) -> None:
        self.note("token", "new token from the panel, re-authenticated on the live socket")

    def token_expiring(self, state: TokenState) -> None:
        if state is TokenState.EXPIRED:
            self.note("token", "the token expired: commands wait for a new one from the panel")
        else:
            self.note("token", "the token expires soon: fetching a new one from the panel")

    # ------------------------------------------------------------ the client side

    def on_open(self, event: OpenEvent) -> None:
        self.last_status = None  # the node announces it on every new socket
        if self.console is None:
            self.note("open", f"connected to {event.url} (through the proxy) and authenticated")
        else:
            self.note("open", "reconnected and authenticated; queued commands go out now")

    def on_close(self, event: CloseEvent) -> None:
        if not self.ending:
            self.note("close", f"connection lost: {close_text(event)}")

    def on_reconnect_attempt(self, event: ReconnectAttemptEvent) -> None:
        self.note(
            "reconnect",
            f"attempt {event.attempt} in {event.delay:.2f} s (a fresh token from the panel first)",
        )

    async def show_events(self, console: Console, tasks: trio.CancelScope) -> None:
        try:
            await self._show_events(console)
        except PterowsError as exc:  # not part of the show: end it, with the summary
            self.note("close", f"the console session ended: {exc}")
        tasks.cancel()

    async def _show_events(self, console: Console) -> None:
        async for event in console:
            if isinstance(event, ConsoleOutput):
                self.console_lines += 1
                self.history_lines += event.replayed
                line = clean(event.line, keep_colour=False)
                self.view.console_line(self.elapsed(), line, replayed=event.replayed)
            elif isinstance(event, StatusChange):
                if event.status != self.last_status:
                    self.note("status", f"the server is {event.status}")
                self.last_status = event.status
            elif isinstance(event, (DaemonMessage, DaemonError)):
                self.note("daemon", event.text)
            elif isinstance(event, Throttled):
                self.note("throttled", f"the node throttled {event.event!r}: slowing down")
            self.view.changed()  # token notices come from the token lifecycle

    async def play(self, console: Console) -> None:
        """What a user of the console would do: commands, and now and then a restart."""
        turn = 0  # every third command is "list"
        said = 0  # "say hello #N" counts the says only: the numbers never skip
        next_restart = 7.0
        while True:
            await trio.sleep(2.5)
            if self.elapsed() >= next_restart:
                next_restart += 25.0
                self.note("power", "restart the server (a power action)")
                await console.set_state("restart")
                continue
            turn += 1
            if turn % 3 == 0:
                command = "list"
            else:
                said += 1
                command = f"say hello #{said}"
            await self._send(console, command)

    async def _send(self, console: Console, command: str) -> None:
        waiting = console.ws.get_metrics().queued
        if console.ws.is_connected and not waiting:
            text = f"send {command!r}"
        else:
            text = f"queue {command!r}: not connected ({waiting + 1} waiting)"
        if console.status == "offline":
            text += "; the server is offline, Wings will ignore it"
        self.note("command", text)
        await console.send_command(command)
        self.commands += 1

    # ------------------------------------------------------------ main

    def intro(self, duration: float | None, out: TextIO) -> None:
        how_long = f"for {duration:g} s" if duration is not None else "until Ctrl-C"
        print(
            f"pterows demo {__version__}: a console client against FakeWings (a fake "
            f"Pterodactyl panel + Wings node) behind ChaosProxy, which breaks the link "
            f"every few seconds. Seed {self.seed} (replay with --seed {self.seed}); "
            f"running {how_long}.",
            file=out,
            flush=True,
        )

    async def run(self, duration: float | None) -> None:
        self.start = trio.current_time()
        async with trio.open_nursery() as nursery:
            await nursery.start(self.fake.serve)
            assert self.fake.port is not None
            proxy = ChaosProxy("127.0.0.1", self.fake.port)
            await nursery.start(proxy.serve)
            self.fake.advertise_socket_url(
                proxy.url_for(f"/api/servers/{self.fake.server_uuid}/ws")
            )
            nursery.start_soon(self.server.world)
            async with (
                httpx.AsyncClient(transport=self.fake.panel_transport()) as http,
                open_console(
                    self.fake.panel_url,
                    DEMO_KEY,
                    self.fake.server_id,
                    http_client=http,
                    heartbeat_interval=1.0,
                    heartbeat_timeout=1.5,
                    reconnect_interval=0.25,
                    max_reconnect_interval=2.0,
                    connection_timeout=3.0,
                    on_open=self.on_open,
                    on_close=self.on_close,
                ) as console,
            ):
                await self._show(console, proxy, duration)
            nursery.cancel_scope.cancel()

    def watch(self, console: Console) -> None:
        """Follow ``console``: reconnect attempts, heartbeats, its token lifecycle."""
        self.console = console
        console.ws.add_event_listener("reconnectAttempt", self.on_reconnect_attempt)
        console.ws.add_event_listener("pong", lambda _: self.view.changed())
        watch_tokens(console, expiring=self.token_expiring, refreshed=self.token_refreshed)

    async def _show(self, console: Console, proxy: ChaosProxy, duration: float | None) -> None:
        self.watch(console)
        try:
            async with trio.open_nursery() as tasks:
                tasks.start_soon(self.view.run, self.snapshot)
                tasks.start_soon(self.show_events, console, tasks.cancel_scope)
                tasks.start_soon(self.play, console)
                tasks.start_soon(self.chaos.run, proxy)
                if duration is not None:
                    await trio.sleep(duration)
                    tasks.cancel_scope.cancel()
        finally:
            self.ending = True
            self.stopped_at = trio.current_time()


async def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    """``pterows demo``: returns the exit status (0; Ctrl-C ends it too)."""
    seed: int = args.seed if args.seed is not None else random.randrange(1_000_000)
    view: DemoView = PlainView(out)
    if not args.plain and use_colour(out, no_color=False) and has_rich():
        view = LiveView(out)
    demo = Demo(seed, view)
    if isinstance(view, PlainView):
        demo.intro(args.duration, out)
    try:
        await demo.run(args.duration)
    finally:
        view.finish(demo.snapshot())
    return EXIT_OK


def _start(args: argparse.Namespace) -> int:
    return trio.run(
        lambda: run_interruptible(lambda: run_demo(args, sys.stdout), interrupted_status=EXIT_OK)
    )


def add_parser(sub: Subparsers) -> None:
    """``pterows demo`` and its options."""
    demo = add_command(
        sub,
        "demo",
        "watch the console client survive a flaky fake server (no panel needed)",
        EPILOG,
        start=_start,
    )
    demo.add_argument(
        "--duration", type=seconds, metavar="SECONDS", help="stop after SECONDS (default: Ctrl-C)"
    )
    demo.add_argument("--seed", type=int, metavar="N", help="replay the same faults")
    demo.add_argument("--plain", action="store_true", help="timestamped lines, no live view")
