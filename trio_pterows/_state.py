"""The manager's :class:`ConnectionState`, changed in one checked place (internal).

Every change goes through :meth:`StateCell.set`, which refuses a transition the
table below does not allow (an :class:`InternalError`: a bug in the library, never a
user mistake). :meth:`StateCell.wait` is what ``ws.wait_state(...)`` waits on.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping
from typing import TypeVar

import trio

from ._events import ConnectionState
from ._util import Pulse

__all__ = ["InternalError", "StateCell", "check_transition"]

S = ConnectionState
E = TypeVar("E", bound=enum.Enum)


class InternalError(AssertionError):
    """A component was asked for a transition its state table does not allow (a bug)."""


#: Allowed ConnectionState transitions (setting the current state again is a no-op).
TRANSITIONS: Mapping[S, frozenset[S]] = {
    S.CLOSED: frozenset({S.CONNECTING}),
    S.CONNECTING: frozenset({S.OPEN, S.RECONNECTING, S.CLOSING, S.CLOSED}),
    S.OPEN: frozenset({S.RECONNECTING, S.CLOSING, S.CLOSED}),
    S.RECONNECTING: frozenset({S.OPEN, S.CLOSING, S.CLOSED}),
    S.CLOSING: frozenset({S.CLOSED}),
}


def check_transition(table: Mapping[E, Collection[E]], old: E, new: E) -> None:
    """Raise :class:`InternalError` unless ``old -> new`` is in ``table``."""
    if new is not old and new not in table[old]:
        raise InternalError(f"illegal transition {old.name} -> {new.name}")


class StateCell:
    """The current :class:`ConnectionState` and a way to wait for one."""

    __slots__ = ("_changed", "_on_change", "value")

    def __init__(self, on_change: Callable[[S, S], None] | None = None) -> None:
        self.value = S.CLOSED
        self._changed = Pulse()
        self._on_change = on_change

    def set(self, new: S) -> None:
        old = self.value
        if new is old:
            return
        check_transition(TRANSITIONS, old, new)
        self.value = new
        self._changed.fire()
        if self._on_change is not None:
            self._on_change(old, new)

    async def wait(self, states: Collection[S]) -> S:
        """Return the state as soon as it is one of ``states`` (at once if it is).

        Cancellation: nothing to undo; the wait simply stops.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        while self.value not in states:
            await self._changed.wait()
        await trio.lowlevel.cancel_shielded_checkpoint()
        return self.value
