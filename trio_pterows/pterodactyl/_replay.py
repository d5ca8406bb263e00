"""Console lines: one event per line, and the log replay after a (re)connect.

Wings marks nothing in a replay: it is the burst of ``console output`` answering
``send logs``, and the node handles frames concurrently. So the console decides:

- the **window** opens when a ``send logs`` frame actually goes out; every ``console
  output`` that arrives while it is open is a replay candidate;
- the **burst ends** :data:`REPLAY_QUIET` seconds after the last candidate arrived (Wings
  writes its 150 lines back to back), or :data:`REPLAY_FIRST_WAIT` seconds after the
  request if nothing came, or once :data:`MAX_BURST` lines are held; a window that saw
  no line yet closes at once when the node reports the server ``offline`` (Wings
  replays only while the container runs, and sends ``status`` right after the first
  ``auth success``);
- the consumer holds each window's candidates and ends the burst once none of them is
  still queued and the window is over, or a line of a later window (the next
  connection's replay) comes first, so a consumer that reads late sees bursts whole;
- then the burst is **aligned** with the tail of what the console delivered (leaving
  out delivered lines the replay cannot hold, such as Wings' own daemon lines): the
  end of the longest run of the burst equal to that tail is where the already-seen
  history ends; only the lines after it are delivered (``replayed=True``).
  With nothing delivered yet (the first connect), the whole burst is history.

A live line printed during the window is indistinguishable from the replay: it is
delivered after the burst, marked ``replayed=True`` (not lost, not repeated), unless
it answers a pending ``command(expect=)`` (the console then knows it is live).
Sans-I/O: the caller passes the time in; no trio import.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Sequence
from typing import Final

from ._events import ConsoleOutput

__all__ = ["MAX_BURST", "REPLAY_FIRST_WAIT", "REPLAY_QUIET", "LineStream", "align", "split_lines"]

REPLAY_QUIET: Final = 0.25
REPLAY_FIRST_WAIT: Final = 1.0
#: Wings replays ``websocket_log_count`` lines (150 by default); hold at most this many.
MAX_BURST: Final = 1000
#: Candidates noted but not yet consumed (the manager's incoming buffer bounds them).
_QUEUED: Final = 4 * MAX_BURST
#: How much delivered history the alignment looks at.
_TAIL: Final = 300


#: One line ending at the very end (removed once), and the breaks inside an event.
_TRAILING_EOL: Final = re.compile(r"(?:\r\n|\r|\n)\Z")
_LINE_BREAK: Final = re.compile(r"\r\n|\n")


def split_lines(text: str) -> list[str]:
    r"""The lines one ``console output`` holds: one trailing line ending removed (as the
    panel's UI does), then split at ``"\r\n"`` and ``"\n"``. A lone ``"\r"`` (a
    progress bar redrawing its line) stays inside its line. Never empty."""
    return _LINE_BREAK.split(_TRAILING_EOL.sub("", text, count=1))


def align(delivered: Sequence[str], burst: Sequence[str]) -> int:
    """How many leading lines of ``burst`` were already delivered.

    Lines delivered that the replay cannot contain (Wings' own daemon lines are not in
    the container's log) are left out of the comparison; then the end of the longest
    run of the burst that equals the tail of what was delivered (the latest such end
    on a tie) is where the known history stops. 0 when nothing matches (all new).
    """
    present = set(burst)
    tail = [line for line in delivered if line in present]
    if not tail:
        return 0
    best_end, best_run = 0, 0
    for end in range(len(burst), 0, -1):
        run = 0
        while run < end and run < len(tail) and burst[end - 1 - run] == tail[-1 - run]:
            run += 1
        if run > best_run:
            best_end, best_run = end, run
    return best_end


class LineStream:
    """Turns console output events into one :class:`ConsoleOutput` per line and filters
    the replay bursts (see the module docstring). Bounded.

    Two sides: the **arrival** side (the frame interceptor, in the reader) decides which
    lines are candidates by their arrival time, and notes each candidate's window; the
    **consumer** side (iteration) holds a window's candidates and ends that burst once
    no candidate of it is still queued and the window is over (or a later window's
    line comes), so a consumer that reads late still sees every burst whole.
    """

    def __init__(self) -> None:
        self._delivered: deque[str] = deque(maxlen=_TAIL)
        # arrival side
        self._open = False
        self._window = 0
        self._opened_at = -math.inf
        self._dedupe = False
        self._last_arrival = -math.inf
        self._queued: deque[tuple[int, bool]] = deque(maxlen=_QUEUED)  # per queued candidate
        # consumer side
        self._burst: list[str] = []
        self._burst_window = 0
        self._burst_dedupe = False
        #: Lines dropped as already delivered, in total.
        self.skipped = 0

    # ------------------------------------------------------------------ arrival side

    @property
    def replaying(self) -> bool:
        """Whether a replay window is open (arriving lines are candidates)."""
        return self._open

    def _window_end(self) -> float:
        if self._last_arrival == -math.inf:
            return self._opened_at + REPLAY_FIRST_WAIT
        return self._last_arrival + REPLAY_QUIET

    def _expire(self, now: float) -> None:
        if self._open and now > self._window_end():
            self._open = False

    def open_window(self, now: float, *, dedupe: bool) -> None:
        """A ``send logs`` went out at ``now``. ``dedupe``: skip lines already delivered
        (the console's own replay after a connect; an explicit request replays all)."""
        self._expire(now)
        if self._open:
            self._dedupe = self._dedupe and dedupe
            return
        self._open = True
        self._window += 1
        self._opened_at = now
        self._last_arrival = -math.inf
        self._dedupe = dedupe

    def settled_at(self, now: float) -> float:
        """When the open window ends as things stand (``now`` or earlier: not open)."""
        self._expire(now)
        return self._window_end() if self._open else now

    def is_candidate(self, now: float) -> bool:
        """A ``console output`` arrives at ``now``: part of the replay burst?"""
        self._expire(now)
        if not self._open:
            return False
        self._last_arrival = now
        self._queued.append((self._window, self._dedupe))
        return True

    def offline(self) -> None:
        """The server is offline: a window that saw no line yet gets none (closes)."""
        if self._open and self._last_arrival == -math.inf:
            self._open = False

    def close_window(self) -> None:
        """The socket ended: nothing more belongs to this burst."""
        self._open = False

    # ------------------------------------------------------------------ consumer side

    def deadline(self) -> float:
        """When the consumer should end the held burst (``inf``: nothing to end yet)."""
        if not self._burst or self._queued:
            return math.inf
        if self._open and self._window == self._burst_window:
            return self._window_end()
        return -math.inf

    def live(self, event: ConsoleOutput) -> list[ConsoleOutput]:
        """A live event: the held burst first (it arrived earlier), then its lines."""
        flushed = self.finish() if self._burst else []
        lines = split_lines(event.line)
        self._delivered.extend(lines)
        return [*flushed, *(ConsoleOutput(line) for line in lines)]

    def hold(self, event: ConsoleOutput) -> list[ConsoleOutput]:
        """A replay candidate: held until its burst ends; returns what ended meanwhile."""
        window, dedupe = self._queued.popleft() if self._queued else (self._burst_window, False)
        out = self.finish() if self._burst and window != self._burst_window else []
        self._burst_window, self._burst_dedupe = window, dedupe
        self._burst.extend(split_lines(event.line))
        if len(self._burst) >= MAX_BURST:
            out += self.finish()
        return out

    def finish(self) -> list[ConsoleOutput]:
        """End the held burst: the lines not delivered before, as ``replayed=True``."""
        burst, self._burst = self._burst, []
        skip = align(self._delivered, burst) if self._burst_dedupe else 0
        self.skipped += skip
        fresh = burst[skip:]
        self._delivered.extend(fresh)
        return [ConsoleOutput(line, replayed=True) for line in fresh]
