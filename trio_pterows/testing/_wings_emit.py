"""FakeWings' server events: what a test makes the server say (console lines, daemon
messages, installs, transfers, backups...). A mixin of
:class:`~trio_pterows.testing.FakeWings` (its node and server are declared there).
"""

from __future__ import annotations

from trio_pterows.pterodactyl._events import BackupCompleted, ConsoleEvent
from trio_pterows.pterodactyl._frames import encode_event, encode_frame

from ._wings_node import WingsNode
from ._wings_server import ServerModel

__all__ = ["ServerEventsMixin"]


class ServerEventsMixin:
    _node: WingsNode
    _server: ServerModel

    # ------------------------------------------------------------------ server events

    def emit(self, event: str, *args: str) -> None:
        """Send a server event to every authenticated socket (as Wings' ``SendJson``:
        sockets whose token is expired or denylisted get the ``jwt error`` instead)."""
        self._node.publish(encode_frame(event, *args))

    def emit_event(self, ev: ConsoleEvent) -> None:
        """:meth:`emit` for an event object (``fake.emit_event(ConsoleOutput("hi"))``)."""
        self._node.publish(encode_event(ev))

    def emit_raw(self, event: str, *args: str) -> None:
        """Send a frame to every open socket, authenticated or not, with no token check."""
        frame = encode_frame(event, *args)
        self._node.for_each(lambda session: self._node.enqueue(session, frame))

    def console(self, line: str) -> None:
        """A line on the server console: kept for ``send logs`` and sent as ``console output``."""
        self._server.console(line)

    def daemon_message(self, text: str) -> None:
        """Send ``daemon message``."""
        self.emit("daemon message", text)

    def daemon_error(self, text: str) -> None:
        """Send ``daemon error``."""
        self.emit("daemon error", text)

    def install_started(self) -> None:
        """Send ``install started`` (``[""]``, as Wings fills it)."""
        self.emit("install started", "")

    def install_output(self, line: str) -> None:
        """Send ``install output`` (only to tokens with ``admin.websocket.install``)."""
        self._node.publish(encode_frame("install output", line), "admin.websocket.install")

    def install_completed(self) -> None:
        """Send ``install completed`` (``[""]``)."""
        self.emit("install completed", "")

    def transfer_logs(self, line: str) -> None:
        """Send ``transfer logs`` (only to tokens with ``admin.websocket.transfer``)."""
        self._node.publish(encode_frame("transfer logs", line), "admin.websocket.transfer")

    def transfer_status(self, status: str) -> None:
        """Send ``transfer status``."""
        self.emit("transfer status", status)

    def backup_completed(
        self,
        uuid: str,
        *,
        is_successful: bool = True,
        checksum: str = "",
        checksum_type: str = "sha1",
        file_size: int = 0,
    ) -> None:
        """Send ``backup completed`` (uuid in args[0]; only to tokens with ``backup.read``)."""
        ev = BackupCompleted(uuid, is_successful, checksum, checksum_type, file_size)
        self._node.publish(encode_event(ev), "backup.read")

    def backup_restore_completed(self) -> None:
        """Send ``backup restore completed`` (``[""]``)."""
        self.emit("backup restore completed", "")
