"""What a bot sends and waits for: raw frames, commands, power actions, and
``command(..., expect=)`` / ``wait_for_status(...)``. A mixin of
:class:`~._console.Console` (its state is declared there).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from .._exceptions import PterowsError, ResponseTimeout
from ._events import (
    POWER_ACTIONS,
    SEND_COMMAND,
    SEND_LOGS,
    SEND_STATS,
    SET_STATE,
    ConsoleOutput,
    PowerAction,
)
from ._exceptions import ConsoleClosed
from ._frames import encode_frame
from ._replay import LineStream, split_lines

if TYPE_CHECKING:
    from .._manager import AdvancedWebSocket


__all__ = ["MAX_FRAME_BYTES", "CommandsMixin", "Expect"]

#: Wings reads at most 4096 bytes per message and closes the socket (1009) over it.
MAX_FRAME_BYTES: Final = 4096

#: What ``command(expect=)`` takes: a regex string or compiled pattern (searched in
#: ``.text``, ANSI-free), or a predicate on the :class:`ConsoleOutput`.
Expect = str | re.Pattern[str] | Callable[[ConsoleOutput], object]


def _matcher(expect: Expect) -> Callable[[ConsoleOutput], bool]:
    if isinstance(expect, str):
        try:
            expect = re.compile(expect)
        except re.error as exc:
            raise ValueError(f"expect: not a valid regular expression: {exc}") from None
    if isinstance(expect, re.Pattern):
        pattern = expect
        return lambda out: pattern.search(out.text) is not None
    if callable(expect):
        predicate = expect
        return lambda out: bool(predicate(out))
    raise TypeError(f"expect: expected a regex, a compiled pattern or a callable, got {expect!r}")


@attrs.define(eq=False)
class _LineWaiter:
    frame: str
    match: Callable[[ConsoleOutput], bool]
    armed: bool = False
    result: ConsoleOutput | None = None
    error: BaseException | None = None
    done: trio.Event = attrs.field(factory=trio.Event)


class CommandsMixin:
    # Declared by Console.
    ws: AdvancedWebSocket
    lines: LineStream
    status: str | None
    _final: PterowsError | None
    _ended: trio.Event
    _status_changed: trio.Event
    _line_waiters: list[_LineWaiter]

    def _init_commands(self) -> None:
        self._line_waiters = []

    def _check_open(self) -> None:
        if self._final is not None:
            raise self._final

    # --------------------------------------------------------------------- send

    async def send(self, event: str, *args: str) -> None:
        """Send a raw Wings frame ``{"event": event, "args": [...]}``.

        Queued (bounded, in order) while unauthenticated, refreshing or reconnecting;
        rate limited when actually written. Raises :class:`ConsoleClosed` once the
        session ended, ValueError for a frame over Wings' read limit (4096 bytes: the
        node would close the socket), TypeError for non-str arguments. Cancellation:
        see :meth:`~trio_pterows.AdvancedWebSocket.send`.
        """
        self._check_open()
        if not isinstance(event, str) or not event:
            raise TypeError(f"event: expected a non-empty str, got {event!r}")
        for i, arg in enumerate(args):
            if not isinstance(arg, str):
                raise TypeError(f"args[{i}]: Wings arguments are strings, got {type(arg).__name__}")
        frame = encode_frame(event, *args)
        size = len(frame.encode())
        if size > MAX_FRAME_BYTES:
            raise ValueError(
                f"frame of {size} bytes: Wings closes the socket over {MAX_FRAME_BYTES} bytes"
            )
        await self.ws.send(frame)

    async def send_command(self, command: str) -> None:
        """Type ``command`` into the server console (needs ``control.console``).

        Wings ignores commands while the server is offline.
        """
        if not isinstance(command, str):
            raise TypeError(f"command: expected a str, got {type(command).__name__}")
        if not command.strip() or "\n" in command or "\r" in command:
            raise ValueError("command: expected one non-empty line")
        await self.send(SEND_COMMAND, command)

    async def set_state(self, state: PowerAction) -> None:
        """Power action: ``"start"``, ``"stop"``, ``"restart"`` or ``"kill"`` (typed as
        :data:`PowerAction`, so ``set_state("reboot")`` fails type checking); at run
        time, ValueError naming the value for anything else.
        """
        if state not in POWER_ACTIONS:
            raise ValueError(f"state: expected one of {sorted(POWER_ACTIONS)}, got {state!r}")
        await self.send(SET_STATE, state)

    async def request_logs(self) -> None:
        """Ask the node to replay recent console lines (as ``ConsoleOutput(replayed=True)``)."""
        await self.send(SEND_LOGS)

    async def request_stats(self) -> None:
        """Ask the node for a :class:`Stats` event now."""
        await self.send(SEND_STATS)

    # ------------------------------------------------------------ waiting for things

    async def command(
        self,
        cmd: str,
        *,
        expect: Expect,
        timeout: float = 10.0,  # noqa: ASYNC109 - the documented signature
    ) -> ConsoleOutput:
        """Send ``cmd`` and return the first console line that arrives after the command
        went out and matches ``expect`` (a regex string or compiled pattern searched in
        ``.text``, or a predicate on the :class:`ConsoleOutput`). While a log replay
        burst is arriving (just after a connect) the command waits for its end, so old
        lines cannot answer it; a command queued across a reconnect goes out right
        after the new replay request and the lines arriving after it match (the
        returned line has ``replayed=False``). The wait goes on across a reconnect.

        Raises :class:`~trio_pterows.ResponseTimeout` after ``timeout`` seconds (the
        send included), :class:`ConsoleClosed` (or the final error) if the session ends
        first. Cancellation: stops waiting; the command may still have been sent.
        """
        match = _matcher(expect)
        if not (isinstance(timeout, (int, float)) and timeout > 0 and not math.isnan(timeout)):
            raise ValueError(f"timeout: expected a number > 0, got {timeout!r}")
        frame = encode_frame(SEND_COMMAND, cmd) if isinstance(cmd, str) else ""
        waiter = _LineWaiter(frame, match)
        self._line_waiters.append(waiter)
        try:
            with trio.move_on_after(timeout):
                while (settled := self.lines.settled_at(trio.current_time())) > (  # noqa: ASYNC110
                    trio.current_time()
                ):
                    await trio.sleep_until(settled)  # the replay burst is still coming
                await self.send_command(cmd)
                await waiter.done.wait()
        finally:
            self._line_waiters.remove(waiter)
        if waiter.result is not None:
            return waiter.result
        if waiter.error is not None:
            raise waiter.error
        raise ResponseTimeout(f"no console line matching {expect!r} within {timeout}s")

    def _arm_commands(self, frame: Any) -> None:
        """A frame goes out now: the first waiter for it starts matching lines."""
        for waiter in self._line_waiters:
            if not waiter.armed and waiter.frame == frame:
                waiter.armed = True
                return

    def _match_lines(self, event: ConsoleOutput) -> bool:
        """A console output arrived: hand its lines to the armed waiters; True when one
        of them took a line (the event answers a command: it is live, not replay)."""
        if not self._line_waiters:
            return False
        taken = False
        for line in split_lines(event.line):
            out = ConsoleOutput(line)
            for waiter in self._line_waiters:
                if waiter.armed and waiter.result is None and waiter.error is None:
                    try:
                        matched = waiter.match(out)
                    except Exception as exc:  # the predicate's own error goes to its caller
                        waiter.error = exc
                        waiter.done.set()
                        continue
                    if matched:
                        waiter.result = out
                        waiter.done.set()
                        taken = True
        return taken

    def _wake_commands(self) -> None:
        """The session ended: every waiter fails with the reason."""
        self._status_changed.set()
        error = self._final or ConsoleClosed(None, "the console was closed")
        for waiter in self._line_waiters:
            if waiter.result is None and waiter.error is None:
                waiter.error = error
                waiter.done.set()

    async def wait_for_status(
        self,
        *statuses: str,
        timeout: float | None = None,  # noqa: ASYNC109 - the documented signature
    ) -> str:
        """Return the status once :attr:`status` is one of ``statuses`` (at once if it
        already is), e.g. ``await console.wait_for_status("running")``.

        Raises :class:`~trio_pterows.ResponseTimeout` after ``timeout`` seconds (None:
        no limit), :class:`ConsoleClosed` (or the final error) if the session ends
        first. Cancellation: stops waiting, nothing else.
        """
        if not statuses or not all(isinstance(s, str) and s for s in statuses):
            raise ValueError(f"statuses: expected one or more status names, got {statuses!r}")
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"timeout: expected a number > 0 or None, got {timeout!r}")
        wanted = frozenset(statuses)
        with trio.move_on_after(math.inf if timeout is None else timeout):
            while True:
                if self.status in wanted:
                    await trio.lowlevel.checkpoint()
                    return self.status
                if self._final is not None or self._ended.is_set():
                    break
                await self._status_changed.wait()
        if self.status in wanted:
            return self.status
        if self._final is not None:
            raise self._final
        if self._ended.is_set():
            raise ConsoleClosed(None, "the console was closed")
        raise ResponseTimeout(f"status not in {sorted(wanted)} within {timeout}s")
