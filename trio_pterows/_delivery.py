"""AckTracker: the manager's side of acknowledged delivery (one per manager with ``ack``).

The pure bookkeeping is :class:`~trio_pterows._ack.UnackedWindow`; this component adds
what needs trio: waiting for room in the window, waiting until it is empty, and the
timer that drops messages whose ack did not come within ``timeout``.

How the manager uses it (every call is O(1) per message; none is made when ``ack``
is None, so the default path costs nothing)::

    outgoing, for a message whose frame is about to be written:
        id = tracker.id_of(data)                 # None: not tracked, write as usual
        await tracker.reserve(id)                # waits while the window is full
        try: write(frame)
        except: tracker.release(id); raise       # not written: nothing to track
        tracker.written(id, frame)

    new connection, after on_connect, before the queue:
        for id, frame in tracker.to_resend():
            if tracker.is_waiting(id): write(frame)   # an ack may come meanwhile

    incoming, after the incoming interceptors and the pong check:
        if tracker.on_incoming(message): return  # an ack: consumed, not delivered

    wait_acked() = tracker.wait_acked();  aclose() = tracker.close()

Acks are consumed: a message ``ack_of`` recognises (for a known id or not) reaches
neither the message stream nor ``message`` listeners.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any, final

import trio

from ._ack import AckPolicy, UnackedWindow
from ._dedupe import DedupeWindow
from ._exceptions import Destroyed, ResponseTimeout

__all__ = ["AckTracker", "incoming_filter"]

Frame = str | bytes


def _short(id: Hashable) -> str:
    text = repr(id)
    return text if len(text) <= 60 else text[:57] + "..."


@final
class AckTracker:
    """The unacked window with its waits and its expiry timer; see the module doc.

    ``on_expired(error)`` is called (synchronously, from the timer task) for every
    message dropped because its ack did not come within ``policy.timeout``, with a
    :class:`ResponseTimeout` naming its id; the manager emits it as an ``error`` event
    with context ``"ack-timeout"``.
    """

    __slots__ = (
        "_closed",
        "_empty",
        "_nursery",
        "_on_expired",
        "_policy",
        "_reserved",
        "_room",
        "_timer",
        "_window",
        "acked",
        "resent",
    )

    def __init__(self, policy: AckPolicy, *, on_expired: Callable[[BaseException], None]) -> None:
        self._policy = policy
        self._window: UnackedWindow[Frame] = UnackedWindow(policy.limit, policy.timeout)
        self._reserved: set[Hashable] = set()
        self._room = trio.lowlevel.ParkingLot()
        self._empty = trio.lowlevel.ParkingLot()
        self._on_expired = on_expired
        self._nursery: trio.Nursery | None = None
        # The expiry timer's scope while it runs (None: not running).
        self._timer: trio.CancelScope | None = None
        self._closed = False
        #: Acks that matched a waiting message.
        self.acked = 0
        #: Frames written again after a reconnect (the manager counts them).
        self.resent = 0

    @property
    def policy(self) -> AckPolicy:
        return self._policy

    @property
    def unacked(self) -> int:
        """Messages written (or being written) whose ack has not come."""
        return len(self._window) + len(self._reserved)

    @property
    def expired(self) -> int:
        """Messages dropped because their ack did not come within ``timeout``."""
        return self._window.expired

    def bind(self, nursery: trio.Nursery) -> None:
        """The nursery the expiry timer runs in (the manager's)."""
        self._nursery = nursery

    # ------------------------------------------------------------------ outgoing

    def id_of(self, data: Any) -> Hashable | None:
        """The id under which ``data``'s ack will come, or None (not tracked)."""
        return self._policy.id_of(data)

    def _check_new(self, id: Hashable) -> None:
        if self._closed:
            raise Destroyed("this AdvancedWebSocket was closed for good (aclose)")
        if id in self._window or id in self._reserved:
            raise ValueError(f"id_of: id {_short(id)} is already waiting for its ack")

    async def reserve(self, id: Hashable) -> None:
        """Wait for room in the window and keep it for ``id``, about to be written.

        Raises :class:`ValueError` (naming ``id_of``) if ``id`` already waits for its
        ack, :class:`Destroyed` after :meth:`close`. Cancellation: nothing is reserved.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        self._check_new(id)
        parked = False
        while len(self._window) + len(self._reserved) >= self._window.limit:
            parked = True
            await self._room.park()
            self._check_new(id)
        self._reserved.add(id)
        if not parked:
            await trio.lowlevel.cancel_shielded_checkpoint()

    def release(self, id: Hashable) -> None:
        """The reserved message was not written after all."""
        self._reserved.discard(id)
        self._changed()

    def written(self, id: Hashable, frame: Frame) -> None:
        """``frame`` (reserved under ``id``) was written: it now waits for its ack.

        Never raises: if a concurrent send wrote another message under the same id,
        the first one is kept.
        """
        self._reserved.discard(id)
        window = self._window
        if self._closed or id in window:
            self._changed()
            return
        window.add(id, frame, trio.current_time())
        if window.timeout is not None and self._timer is None and self._nursery is not None:
            self._timer = trio.CancelScope()
            self._nursery.start_soon(
                self._expire, self._timer, name="trio_pterows._delivery.expire"
            )

    def to_resend(self) -> list[tuple[Hashable, Frame]]:
        """Every unacked ``(id, frame)``, in the order they were first written (a copy)."""
        return list(self._window.items())

    def is_waiting(self, id: Hashable) -> bool:
        """True while the message ``id`` waits for its ack."""
        return id in self._window

    # ------------------------------------------------------------------ incoming

    def on_incoming(self, message: Any) -> bool:
        """True if ``message`` is an ack (then the manager drops it); it frees the
        message it names. Exceptions of ``ack_of`` reach the caller."""
        id = self._policy.ack_of(message)
        if id is None:
            return False
        if self._window.ack(id):
            self.acked += 1
            self._changed()
        return True

    # ------------------------------------------------------------------ waiting

    async def wait_acked(self) -> None:
        """Return once every message written so far was acked or expired (at once if
        none waits). Raises :class:`Destroyed` after :meth:`close`. Cancellation only
        stops the wait."""
        await trio.lowlevel.checkpoint_if_cancelled()
        parked = False
        while self.unacked:
            parked = True
            await self._empty.park()
            if self._closed:  # forgotten, not acked
                raise Destroyed("this AdvancedWebSocket was closed for good (aclose)")
        if not parked:
            await trio.lowlevel.cancel_shielded_checkpoint()

    def close(self) -> int:
        """Forget every unacked message (the manager is closed for good) and wake the
        waiters; return how many were forgotten."""
        self._closed = True
        n = self._window.clear() + len(self._reserved)
        self._reserved.clear()
        self._room.unpark_all()
        self._empty.unpark_all()
        if self._timer is not None:
            self._timer.cancel()
        return n

    def _changed(self) -> None:
        # Room appeared, and perhaps the window emptied.
        if self._room:
            self._room.unpark_all()
        if not self._window:
            if self._timer is not None:  # nothing to expire: the timer ends now
                self._timer.cancel()
            if self._empty and not self._reserved:
                self._empty.unpark_all()

    async def _expire(self, scope: trio.CancelScope) -> None:
        # Sleeps until the oldest message's deadline; an ack of that one meanwhile
        # makes it wake for nothing, at most once per message: no polling. Cancelled
        # (ended) as soon as the window is empty.
        window = self._window
        try:
            with scope:
                while (deadline := window.next_deadline()) is not None:
                    await trio.sleep_until(deadline)
                    expired = window.expire(trio.current_time())
                    for id, _frame in expired:
                        self._on_expired(
                            ResponseTimeout(
                                f"no ack for message {_short(id)} within {window.timeout} s"
                            )
                        )
                    if expired:
                        self._changed()
        finally:
            if self._timer is scope:
                self._timer = None

    def __repr__(self) -> str:
        limit = self._window.limit
        timeout = self._window.timeout
        shown = "none" if timeout is None or math.isinf(timeout) else f"{timeout}s"
        return f"<AckTracker unacked={self.unacked}/{limit} timeout={shown}>"


def incoming_filter(
    acks: AckTracker | None,
    dedupe_of: Callable[[Any], Hashable | None] | None,
    dedupe: DedupeWindow | None,
    report: Callable[[BaseException, str], None],
) -> Callable[[Any], bool] | None:
    """The receive path's filter: True drops the message (an ack; a duplicate). None
    when acks and dedupe are both off, so the receive path does no work for them.

    An ``ack_of`` or ``dedupe_of`` that raises is reported (contexts ``"ack_of"`` and
    ``"dedupe_of"``) and the message is delivered as an ordinary one.
    """
    if acks is None and (dedupe_of is None or dedupe is None):
        return None

    def drop(message: Any) -> bool:
        if acks is not None:
            try:
                if acks.on_incoming(message):
                    return True
            except Exception as exc:
                report(exc, "ack_of")
        if dedupe_of is not None and dedupe is not None:
            try:
                key = dedupe_of(message)
            except Exception as exc:
                report(exc, "dedupe_of")
                return False
            return key is not None and dedupe.seen(key)
        return False

    return drop
