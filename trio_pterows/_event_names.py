"""Event type names: the one place a name given by the application is checked.

Two spellings work everywhere a type name is taken: the seed's (``"reconnectAttempt"``)
and snake_case (``"reconnect_attempt"``). Both become the seed's spelling, which is
what :class:`~trio_pterows.EventType` holds and events carry in ``.type``. Any other
name is a :class:`ValueError` naming the nearest known one, except ``"custom"`` and
names that begin with ``"custom:"``, which belong to the application.

Pure: no trio import.
"""

from __future__ import annotations

import difflib
from typing import Final

__all__ = ["BUILTIN_NAMES", "CUSTOM_PREFIX", "event_name"]

#: The seed's spelling of every built-in type (EventType's values), in its order.
BUILTIN_NAMES: Final = (
    "open",
    "message",
    "close",
    "error",
    "reconnectAttempt",
    "reconnectSuccess",
    "reconnect",
    "ping",
    "pong",
    "custom",
)
#: Names of the application's own events: ``"custom:order-filled"``.
CUSTOM_PREFIX: Final = "custom:"

_SNAKE_CASE = {"reconnect_attempt": "reconnectAttempt", "reconnect_success": "reconnectSuccess"}
#: Every accepted spelling -> the seed's spelling.
_ACCEPTED: Final[dict[str, str]] = {name: name for name in BUILTIN_NAMES} | _SNAKE_CASE
#: The seed's spellings, for the emitters' fast check.
CANONICAL: Final = frozenset(BUILTIN_NAMES)


def event_name(name: object) -> str:
    """The seed's spelling of the event type ``name`` (a str or an EventType).

    Raises :class:`ValueError` for an unknown name (naming the nearest known one) and
    :class:`TypeError` for something that is not a string.
    """
    if not isinstance(name, str):
        raise TypeError(f"event type must be a str or an EventType, not {type(name).__name__}")
    known = _ACCEPTED.get(name)
    if known is not None:
        return known
    if name.startswith(CUSTOM_PREFIX):
        return str(name)  # an EventType never gets here: plain str
    raise ValueError(_unknown(name))


def _unknown(name: str) -> str:
    hint = _nearest(name)
    did_you_mean = f"did you mean {hint!r}? " if hint else ""
    known = ", ".join(repr(n) for n in BUILTIN_NAMES)
    return (
        f"unknown event type {name!r}: {did_you_mean}Known types: {known} (or their "
        f"snake_case spelling, e.g. 'reconnect_attempt'); the application's own events "
        f"are 'custom' or '{CUSTOM_PREFIX}<name>'"
    )


def _nearest(name: str) -> str | None:
    """The known spelling closest to ``name``: the same letters in another case or
    without underscores first, then the closest by difflib."""
    folded = _fold(name)
    for spelling, canonical in _ACCEPTED.items():
        if _fold(spelling) == folded:  # "Open", "RECONNECT_ATTEMPT", "reconnect-attempt"
            snake = next((s for s, c in _SNAKE_CASE.items() if c == canonical), canonical)
            return snake if "_" in name else canonical
    close = difflib.get_close_matches(name, list(_ACCEPTED), n=1, cutoff=0.6)
    if close:
        return close[0]
    folded_close = difflib.get_close_matches(folded, [_fold(s) for s in _ACCEPTED], n=1)
    if folded_close:
        return next(s for s in _ACCEPTED if _fold(s) == folded_close[0])
    return None


def _fold(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")
