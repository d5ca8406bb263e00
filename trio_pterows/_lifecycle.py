"""The manager's life: its nursery, and connect / manual_reconnect / close / aclose over
the supervisor (internal).

:class:`ManagerPhase` is the façade's own state: NEW (constructed), RUNNING (inside
``async with``), CLOSED (``aclose()`` ran: for good).
"""

from __future__ import annotations

import enum

import trio

from ._context import Shared
from ._cycle import CyclePhase, Supervisor
from ._events import ConnectionState
from ._exceptions import Destroyed
from ._handle import Connection
from ._live import LiveEnd
from ._state import StateCell, check_transition
from ._util import OwnedNursery

__all__ = ["Lifecycle", "ManagerPhase"]


class ManagerPhase(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


_PHASES = {
    ManagerPhase.NEW: {ManagerPhase.RUNNING, ManagerPhase.CLOSED},
    ManagerPhase.RUNNING: {ManagerPhase.CLOSED},
    ManagerPhase.CLOSED: set(),
}


class Lifecycle:
    """Entering, connecting, closing and destroying one manager."""

    __slots__ = ("_cycle", "_nursery", "_phase", "_shared", "_state", "_token")

    def __init__(self, shared: Shared, state: StateCell, cycle: Supervisor) -> None:
        self._shared = shared
        self._state = state
        self._cycle = cycle
        self._nursery = OwnedNursery()
        self._phase = ManagerPhase.NEW
        #: The trio run that entered the manager: the only one that may use it.
        self._token: trio.lowlevel.TrioToken | None = None

    @property
    def phase(self) -> ManagerPhase:
        return self._phase

    def _set_phase(self, new: ManagerPhase) -> None:
        check_transition(_PHASES, self._phase, new)
        self._phase = new

    @property
    def nursery(self) -> trio.Nursery | None:
        return self._nursery.nursery if self._phase is ManagerPhase.RUNNING else None

    @property
    def destroyed(self) -> bool:
        return self._phase is ManagerPhase.CLOSED

    def check_send(self) -> None:
        """Before a send: not destroyed, and the owner's run (one call on the hot path)."""
        if self._phase is ManagerPhase.CLOSED:
            raise Destroyed("this AdvancedWebSocket was closed for good (aclose)")
        try:
            if trio.lowlevel.current_trio_token() is self._token:
                return
        except RuntimeError:
            pass
        self.check_owner()  # raises, unless not entered yet

    async def enter(self) -> None:
        if self._phase is not ManagerPhase.NEW:
            raise RuntimeError("an AdvancedWebSocket can be entered only once")
        self._token = trio.lowlevel.current_trio_token()
        await self._nursery.open()
        self._set_phase(ManagerPhase.RUNNING)

    async def exit(self) -> None:
        try:
            await self.aclose()
        finally:
            # The body's exception is not handed to the nursery: it would come back
            # wrapped in an ExceptionGroup. Our tasks never raise by design.
            await self._nursery.close()

    def check_owner(self) -> None:
        """RuntimeError unless called from the trio run (and thread) that entered the
        manager; nothing else is touched."""
        token = self._token
        if token is None:
            return  # not entered yet: configuration only
        try:
            current: trio.lowlevel.TrioToken | None = trio.lowlevel.current_trio_token()
        except RuntimeError:
            current = None
        if current is not token:
            raise RuntimeError(
                "this AdvancedWebSocket belongs to the trio run that entered it; it was "
                "called from another run or thread (use trio.from_thread.run to call into "
                "the owner's run)"
            )

    def require_running(self) -> trio.Nursery:
        if self._phase is ManagerPhase.CLOSED:
            raise Destroyed("this AdvancedWebSocket was closed for good (aclose)")
        nursery = self._nursery.nursery
        if nursery is None:
            raise RuntimeError(
                "use `async with AdvancedWebSocket(...) as ws:` (or open_websocket) before "
                "connecting: the manager's tasks need its nursery"
            )
        return nursery

    async def aclose(self) -> None:
        """See :meth:`AdvancedWebSocket.aclose`."""
        self.check_owner()
        if self._phase is ManagerPhase.CLOSED:
            await trio.lowlevel.checkpoint()
            return
        self._set_phase(ManagerPhase.CLOSED)
        cycle = self._cycle
        try:
            if cycle.phase is not CyclePhase.IDLE:
                await self._close_current(1000, "")
        finally:
            # Not the nursery's own scope: it also wraps the caller's `async with`
            # body, which may be what called aclose(). Each task stops by itself:
            # the supervisor through its scope, the dispatcher when hub.close()
            # closes its channel; exit() cancels whatever is left.
            if cycle.phase is not CyclePhase.IDLE:
                cycle.stop()
                # Let its teardown (close event, CLOSED) finish; bounded, and
                # shielded so that a cancelled aclose() still leaves things tidy.
                with trio.move_on_after(self._shared.options.close_timeout) as bound:
                    bound.shield = True
                    await cycle.wait_done()
            runner = cycle.runner
            runner.sender.clear()
            cycle.fail_outcome(Destroyed("the manager was closed (aclose)"))
            runner.receiver.end()
            self._shared.hub.close()

    async def connect(self) -> Connection:
        """See :meth:`AdvancedWebSocket.connect`."""
        self.check_owner()
        nursery = self.require_running()
        await self._cycle.wait_if_stopping()
        live = self._cycle.runner.open_live
        if live is not None and live.usable and self._state.value is ConnectionState.OPEN:
            await trio.lowlevel.checkpoint()
            return live.describe()
        return await self._cycle.connect(nursery)

    async def manual_reconnect(self) -> Connection:
        """See :meth:`AdvancedWebSocket.manual_reconnect`."""
        self.check_owner()
        self.require_running()
        cycle = self._cycle
        await cycle.wait_if_stopping()
        if cycle.phase is CyclePhase.IDLE:
            return await self.connect()
        outcome = cycle.outcome()  # before closing: the next open resolves it
        live = cycle.runner.open_live
        if live is not None:
            await cycle.runner.close(live, 1000, "manual reconnect", LiveEnd.MANUAL)
        else:
            cycle.skip_backoff()
        return cycle.unwrap(await cycle.wait_outcome(outcome))

    async def close(self, code: int, reason: str) -> None:
        """See :meth:`AdvancedWebSocket.close`."""
        self.check_owner()
        if not 1000 <= code <= 4999 or code in (1004, 1005, 1006, 1015):
            raise ValueError(f"code: {code!r} cannot be sent in a close frame")
        cycle = self._cycle
        if self._phase is ManagerPhase.CLOSED or cycle.phase is CyclePhase.IDLE:
            await trio.lowlevel.checkpoint()
            return
        await self._close_current(code, reason)
        cycle.stop()
        await cycle.wait_done()

    async def _close_current(self, code: int, reason: str) -> None:
        """Stop the cycle from reconnecting and run the close handshake, if connected."""
        cycle, runner = self._cycle, self._cycle.runner
        cycle.request_stop()
        live = runner.current
        if live is not None:
            if runner.set_up and self._state.value is not ConnectionState.CLOSED:
                self._state.set(ConnectionState.CLOSING)
            await runner.close(live, code, reason, LiveEnd.LOCAL)
