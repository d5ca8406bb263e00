"""Small helpers the components share, written once (internal).

- :class:`Pulse`: "wake everyone waiting, then start over" (the replace-on-set Event).
- :func:`call`: call a sync-or-async callable and return its result ("maybe await").
- :func:`single_exception`: unwrap an ExceptionGroup that holds one leaf.
- :class:`OwnedNursery`: a nursery this object opens and closes itself (``__aenter__`` /
  ``__aexit__`` of a component), unwrapping a single failure on the way out.
- :func:`close_text`: ``"1000 bye"`` / ``"lost"`` for logs and messages.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

import trio

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = ["SET_EVENT", "OwnedNursery", "Pulse", "call", "close_text", "single_exception"]

#: An Event that is already set: stands in for one that nobody will wait on again.
SET_EVENT = trio.Event()
SET_EVENT.set()


class Pulse:
    """Wake every current waiter at once; later waiters wait for the next :meth:`fire`.

    Cancellation: :meth:`wait` is a plain :meth:`trio.Event.wait`.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        # Created when someone waits: most pulses are never waited on (memory at scale).
        self._event: trio.Event | None = None

    def fire(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self) -> None:
        await self.event.wait()

    @property
    def event(self) -> trio.Event:
        """The Event the next :meth:`fire` sets (for ``move_on`` races)."""
        if self._event is None:
            self._event = trio.Event()
        return self._event


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, awaited if it returned an awaitable."""
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    result: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            result.extend(_leaves(exc))
        else:
            result.append(exc)
    return result


def single_exception(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The only leaf of ``group``, or None when it holds several."""
    leaves = _leaves(group)
    return leaves[0] if len(leaves) == 1 else None


class OwnedNursery:
    """A nursery owned by a component: opened by :meth:`open`, closed by :meth:`close`.

    The body of the owner's ``async with`` is not handed to the nursery (it would come
    back wrapped in an ExceptionGroup); a single failure of the tasks is re-raised as
    itself, several as their group.
    """

    __slots__ = ("_manager", "nursery")

    def __init__(self) -> None:
        self._manager: Any = None
        self.nursery: trio.Nursery | None = None

    async def open(self) -> trio.Nursery:
        self._manager = trio.open_nursery()
        self.nursery = await self._manager.__aenter__()
        return self.nursery

    async def close(self) -> None:
        """Cancel what is left and wait for every task."""
        if self.nursery is None:
            return
        self.nursery.cancel_scope.cancel()
        try:
            await self._manager.__aexit__(None, None, None)
        except BaseExceptionGroup as group:
            leaf = single_exception(group)
            if leaf is not None:
                raise leaf from None
            raise


def close_text(code: int | None, reason: str | None) -> str:
    """``"1000 bye"``, ``"1006"`` or ``"lost"`` (no code)."""
    if code is None:
        return "lost"
    return f"{code} {reason or ''}".strip()
