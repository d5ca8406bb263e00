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
- then the burst is **aligned** with the tail of what the console delivered: the
  latest position in the burst whose preceding lines equal that tail is where the
  already-seen history ends; only the lines after it are delivered (``replayed=True``).
  With nothing delivered yet (the first connect), the whole burst is history.

A live line printed during the window is indistinguishable from the replay: it is
delivered after the burst, marked ``replayed=True`` (not lost, not repeated).
Sans-I/O: the caller passes the time in; no trio import.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Final

from ._events import ConsoleOutput
from ._frames import split_lines

__all__ = ["MAX_BURST", "REPLAY_FIRST_WAIT", "REPLAY_QUIET", "LineStream"]

REPLAY_QUIET: Final = 0.25
REPLAY_FIRST_WAIT: Final = 1.0
#: Wings replays ``websocket_log_count`` lines (150 by default); hold at most this many.
MAX_BURST: Final = 1000
#: How much delivered history the alignment looks at.
_TAIL: Final = 300


def align(delivered: Sequence[str], burst: Sequence[str]) -> int:
    """How many leading lines of ``burst`` were already delivered.

    The largest ``j`` such that ``burst[:j]`` ends with the last line delivered and
    every line of ``burst[:j]`` (as far back as ``delivered`` reaches) matches.
    0 when nothing matches (all new).
    """
    if not delivered or not burst:
        return 0
    last = delivered[-1]
    for j in range(len(burst), 0, -1):
        if burst[j - 1] != last:
            continue
        span = min(j, len(delivered))
        if all(burst[j - 1 - i] == delivered[-1 - i] for i in range(span)):
            return j
    return 0


class LineStream:
    """Turns console output events into one :class:`ConsoleOutput` per line and filters
    the replay bursts (see the module docstring). Bounded."""

    def __init__(self) -> None:
        self._delivered: deque[str] = deque(maxlen=_TAIL)
        self._burst: list[str] = []
        self._window_opened: float | None = None
        self._dedupe = False
        self._last_arrival = -math.inf
        #: Lines dropped as already delivered, in total.
        self.skipped = 0

    @property
    def replaying(self) -> bool:
        """Whether a replay window is open (incoming lines are candidates)."""
        return self._window_opened is not None

    def open_window(self, now: float, *, dedupe: bool) -> None:
        """A ``send logs`` went out at ``now``. ``dedupe``: skip lines already delivered
        (the console's own replay after a connect; an explicit request replays all)."""
        if self._window_opened is None:
            self._window_opened = now
            self._dedupe = dedupe
            self._last_arrival = -math.inf
        else:
            self._dedupe = self._dedupe and dedupe

    def offline(self) -> None:
        """The server is offline: a window that saw no line yet gets none (closes)."""
        if (
            self._window_opened is not None
            and not self._burst
            and (self._last_arrival == -math.inf)
        ):
            self._window_opened = None

    def candidate(self, now: float) -> None:
        """A ``console output`` arrived at ``now`` while the window is open."""
        self._last_arrival = now

    def deadline(self) -> float:
        """When the open burst ends (``inf`` when no window is open)."""
        opened = self._window_opened
        if opened is None:
            return math.inf
        if self._last_arrival == -math.inf:
            return opened + REPLAY_FIRST_WAIT
        return max(self._last_arrival, opened) + REPLAY_QUIET

    def live(self, event: ConsoleOutput) -> list[ConsoleOutput]:
        """A live event: its lines, recorded as delivered."""
        lines = split_lines(event.line)
        self._delivered.extend(lines)
        return [ConsoleOutput(line) for line in lines]

    def hold(self, event: ConsoleOutput) -> list[ConsoleOutput]:
        """A replay candidate: held until the burst ends (or returned, if the burst is full)."""
        self._burst.extend(split_lines(event.line))
        if len(self._burst) >= MAX_BURST:
            return self.finish()
        return []

    def finish(self) -> list[ConsoleOutput]:
        """The burst ended: the lines not delivered before, as ``replayed=True``."""
        burst, self._burst = self._burst, []
        skip = align(self._delivered, burst) if self._dedupe else 0
        self._window_opened = None
        self.skipped += skip
        fresh = burst[skip:]
        self._delivered.extend(fresh)
        return [ConsoleOutput(line, replayed=True) for line in fresh]
