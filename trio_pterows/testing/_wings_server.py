"""FakeWings' game server: power state and actions, the console buffer, resources,
and the states that make the panel answer 409 (suspended, installing, transferring...).

It publishes through a callback (the node broadcasts to authenticated sockets); it
knows nothing about sockets.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import attrs
import trio

from trio_pterows.pterodactyl._events import POWER_ACTIONS, Stats
from trio_pterows.pterodactyl._frames import encode_event, encode_frame

from ._wings_config import FakeWingsConfig

__all__ = ["STATUSES", "ServerModel"]

STATUSES: Final = frozenset({"offline", "starting", "running", "stopping"})
#: Wings' real texts (only a token with admin.websocket.errors sees them).
POWER_BUSY: Final = (
    "another power action is currently being processed for this server, please try again later"
)
_NOT_OFFLINE: Final = "cannot start server: it is not offline"
_BUSY_STATE: Final = "cannot perform a power action while the server is {}"

#: The panel's 409 texts (``ServerStateConflictException``; Pelican's lang/en strings).
_CONFLICTS: Final = {
    "suspended": "This server is currently suspended and the functionality requested is "
    "unavailable.",
    "maintenance": "The node of this server is currently under maintenance and the "
    "functionality requested is unavailable.",
    "installing": "This server has not yet completed its installation process, please try "
    "again later.",
    "restoring": "This server is currently restoring from a backup, please try again later.",
    "transferring": "This server is currently being transferred to a new machine, please try "
    "again later.",
}

#: ``publish(frame, permission)``: send to every authenticated socket allowed to see it.
Publish = Callable[[str, "str | None"], None]


class ServerModel:
    """The server one FakeWings hosts."""

    def __init__(self, config: FakeWingsConfig, publish: Publish, notify: Callable[[], None]):
        self._config = config
        self._publish = publish
        self._notify = notify
        self.status: str = config.initial_status
        self._running_since: float | None = None
        self._status_changed = trio.Event()
        self._power_scope: trio.CancelScope | None = None
        self.nursery: trio.Nursery | None = None
        self.resources = Stats(
            memory_bytes=256 * 1024 * 1024,
            memory_limit_bytes=1024 * 1024 * 1024,
            cpu_absolute=12.5,
            network_rx_bytes=1024,
            network_tx_bytes=2048,
            uptime=0.0,
            state="running",
            disk_bytes=64 * 1024 * 1024,
        )
        self.log: deque[str] = deque(maxlen=config.log_lines)
        self.commands: deque[str] = deque(maxlen=config.history)
        self.suspended = False
        self.panel_bypass = False  # Pelican: the caller may update the server
        self.deleted = False
        self.installing = False
        self.transferring = False
        self.restoring = False
        self.maintenance = False

    # ------------------------------------------------------------------ running

    def started(self, nursery: trio.Nursery) -> None:
        """The node began serving: power actions and stats run in ``nursery``."""
        self.nursery = nursery
        if self.status == "running":
            self._running_since = trio.current_time()
        if self._config.stats_interval is not None:
            nursery.start_soon(self._stream_stats, self._config.stats_interval)

    def stopped(self) -> None:
        self.nursery = None
        self._power_scope = None

    def conflict(self) -> str | None:
        """Why the panel answers 409 now (its English text), or ``None``."""
        if self.panel_bypass:
            return None
        for active, text in (
            (self.suspended, _CONFLICTS["suspended"]),
            (self.maintenance, _CONFLICTS["maintenance"]),
            (self.installing, _CONFLICTS["installing"]),
            (self.restoring, _CONFLICTS["restoring"]),
            (self.transferring, _CONFLICTS["transferring"]),
        ):
            if active:
                return text
        return None

    def resource_attributes(self) -> dict[str, Any]:
        """The client API server resource's attributes that describe its state."""
        status = "suspended" if self.suspended else "installing" if self.installing else None
        if self.restoring:
            status = "restoring_backup"
        return {
            "identifier": self._config.server_id,
            "uuid": self._config.server_uuid,
            "name": f"FakeWings {self._config.server_id}",
            "status": status,
            "is_suspended": self.suspended,
            "is_installing": self.installing,
            "is_transferring": self.transferring,
            "is_node_under_maintenance": self.maintenance,
        }

    # ------------------------------------------------------------------ power

    def power(self, action: str) -> str | None:
        """Handle ``set state``; the error text Wings would answer, or ``None``."""
        if action not in POWER_ACTIONS:
            return f"invalid power action provided: {action!r}"
        if self.installing or self.transferring or self.restoring:
            what = (
                "installing"
                if self.installing
                else "transferring"
                if self.transferring
                else "restoring"
            )
            return _BUSY_STATE.format(what)
        if action == "kill":
            self._cancel_power()
            self._set_status("offline")
            return None
        if self._power_scope is not None:
            return POWER_BUSY
        if action == "start" and self.status != "offline":
            return _NOT_OFFLINE
        if action == "stop" and self.status == "offline":
            return None
        assert self.nursery is not None
        self._power_scope = trio.CancelScope()
        self.nursery.start_soon(self._run_power, action, self._power_scope)
        return None

    def _cancel_power(self) -> None:
        if self._power_scope is not None:
            self._power_scope.cancel()
            self._power_scope = None

    async def _run_power(self, action: str, scope: trio.CancelScope) -> None:
        delay = self._config.power_delay
        with scope:
            if action in ("stop", "restart") and self.status != "offline":
                self._set_status("stopping")
                await trio.sleep(delay)
                self._set_status("offline")
            if action in ("start", "restart"):
                self._set_status("starting")
                for text in (
                    "Checking server disk space usage, this could take a few seconds...",
                    "Updating process configuration files...",
                ):
                    self.daemon_line(text)
                await trio.sleep(delay)
                self.console('Done (0.5s)! For help, type "help"')
                self._set_status("running")
        if self._power_scope is scope:
            self._power_scope = None

    def set_status(self, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {sorted(STATUSES)}, got {status!r}")
        self._cancel_power()
        self._set_status(status)

    def _set_status(self, status: str) -> None:
        if status == self.status:
            return
        self.status = status
        if status == "running":
            self._running_since = trio.current_time()
        elif status == "offline":
            self._running_since = None
        self._publish(encode_frame("status", status), None)
        self._status_changed.set()
        self._status_changed = trio.Event()
        self._notify()

    # ------------------------------------------------------------------ console

    def console(self, line: str) -> None:
        """A line on the console: kept for ``send logs`` and published."""
        self.log.append(line)
        self._publish(encode_frame("console output", line), None)

    def daemon_line(self, text: str) -> None:
        """Wings' own console line (ANSI-coloured prefix, not kept in the docker log)."""
        line = f"\x1b[33m\x1b[1m[Pterodactyl Daemon]:\x1b[39m {text}\x1b[0m"
        self._publish(encode_frame("console output", line), None)

    def command(self, command: str) -> None:
        if self.status == "offline":
            return  # Wings ignores commands while offline
        self.commands.append(command)
        for line in self._config.command_handler(command):
            self.console(line)

    # ------------------------------------------------------------------ stats

    def current_stats(self) -> Stats:
        res = self.resources
        if self.status == "offline":
            return Stats(
                memory_bytes=0,
                memory_limit_bytes=res.memory_limit_bytes,
                cpu_absolute=0.0,
                network_rx_bytes=0,
                network_tx_bytes=0,
                uptime=0.0,
                state="offline",
                disk_bytes=res.disk_bytes,
            )
        since = self._running_since
        uptime = 0.0 if since is None else round(trio.current_time() - since, 3)
        return attrs.evolve(res, uptime=uptime, state=self.status)

    def stats_arg(self) -> str:
        frame = json.loads(encode_event(self.current_stats()))
        arg: str = frame["args"][0]
        return arg

    async def _stream_stats(self, interval: float) -> None:
        while True:
            while self.status != "running":
                await self._status_changed.wait()
            next_tick = trio.current_time() + interval
            while self.status == "running":
                await trio.sleep_until(next_tick)
                next_tick += interval
                if self.status == "running":
                    self._publish(encode_event(self.current_stats()), None)
