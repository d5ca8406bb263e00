"""What every component of one manager shares: options, log, events (internal).

One :class:`Shared` per :class:`AdvancedWebSocket`; components keep a reference and read
``shared.options`` when they need a setting (the manager replaces it on
``update_options``), and report through :meth:`Shared.emit` / :meth:`Shared.report`.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from ._events import ErrorEvent, EventHub
from ._log import Log
from ._options import WSConnectionOptions

__all__ = ["Shared"]


class Shared:
    """Options, the logger and the event hub of one manager."""

    __slots__ = ("hub", "log", "options")

    def __init__(self, options: WSConnectionOptions) -> None:
        self.options = options
        self.log = Log(options.logger)
        self.hub = EventHub(self.report, async_buffer=max(64, options.incoming_queue_limit))

    def emit(self, type: str, build: Callable[[], object]) -> None:
        """Emit the event ``build()`` makes, building it only if anyone listens."""
        if self.hub.wants(type):
            self.hub.emit(type, build())

    def report(self, exc: BaseException, context: str, *, log: bool = True) -> None:
        """Log an error that did not end the connection and emit it as ``error``
        (``log=False``: the event only, for an error that is raised anyway)."""
        if log and context == "connect":
            # A failed connect attempt is routine in a retry loop: one line at INFO, no
            # traceback (giving up is the WARNING).
            self.log.info("connect attempt failed: %s: %s", type(exc).__name__, exc)
        elif log:
            self.log.warning("%s error: %s: %s", context, type(exc).__name__, exc, exc=exc)
        # A failing error listener, or an error event the dispatcher had no room for,
        # is logged only: reporting it as another error event could recurse.
        if context not in ("error-listener", "dispatch") and self.hub.wants("error"):
            self.hub.emit(
                "error",
                ErrorEvent(type="error", timestamp=trio.current_time(), error=exc, context=context),
            )
