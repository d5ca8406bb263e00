"""Wings console events and the protocol's constants, Sans-I/O (no trio, no I/O).

One frozen attrs class per event the node sends; :mod:`._frames` turns frames into
these and back. :class:`ConsoleEnded` is the one event no node sends: a
:class:`~trio_pterows.pterodactyl.ConsoleGroup` yields it when a member ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar, Final, Literal

import attrs

__all__ = [
    "AUTH",
    "BACKUP_COMPLETED_PREFIX",
    "CLOSE_BAD_REQUEST",
    "CLOSE_GOING_AWAY",
    "CLOSE_SUSPENDED",
    "DELETED_CLOSE_REASON",
    "FEATURE_MATCH",
    "JWT_DENYLISTED_TEXT",
    "JWT_EXPIRED_TEXT",
    "JWT_NOT_PRESENT_TEXT",
    "POWER_ACTIONS",
    "SEND_COMMAND",
    "SEND_LOGS",
    "SEND_STATS",
    "SET_STATE",
    "AuthSuccess",
    "BackupCompleted",
    "BackupRestoreCompleted",
    "ConsoleEnded",
    "ConsoleEvent",
    "ConsoleOutput",
    "DaemonError",
    "DaemonMessage",
    "Deleted",
    "FeatureMatch",
    "InstallCompleted",
    "InstallOutput",
    "InstallStarted",
    "JwtError",
    "PowerAction",
    "Stats",
    "StatusChange",
    "Throttled",
    "TokenExpired",
    "TokenExpiring",
    "TransferLogs",
    "TransferStatus",
    "UnknownEvent",
    "strip_ansi",
]

# --------------------------------------------------------------------------- constants

#: Client → node event names.
AUTH: Final = "auth"
SET_STATE: Final = "set state"
SEND_COMMAND: Final = "send command"
SEND_LOGS: Final = "send logs"
SEND_STATS: Final = "send stats"

#: The arguments ``set state`` accepts.
PowerAction = Literal["start", "stop", "restart", "kill"]
POWER_ACTIONS: Final = frozenset({"start", "stop", "restart", "kill"})

#: Close code: the server is suspended. Final, never reconnect.
CLOSE_SUSPENDED: Final = 4409
#: Close code: the node refused the request. Final, never reconnect.
CLOSE_BAD_REQUEST: Final = 4400
#: Close code older Wings use, with :data:`DELETED_CLOSE_REASON`, when the server is deleted.
CLOSE_GOING_AWAY: Final = 1001
DELETED_CLOSE_REASON: Final = "server deleted"

#: ``jwt error`` texts (Wings ``router/websocket``). Wings may prefix them with
#: ``"Error Event [<uuid>]: "``, so match them as substrings (:func:`jwt_error_kind`).
JWT_EXPIRED_TEXT: Final = "jwt: exp claim is invalid"
JWT_DENYLISTED_TEXT: Final = "jwt: created too far in past (denylist)"
JWT_NOT_PRESENT_TEXT: Final = "jwt: no jwt present"

#: :class:`BackupCompleted`'s name: ``"backup completed"`` (uuid in args[0]) since Wings
#: 1.6.1, ``"backup completed:<backup uuid>"`` before; both are accepted.
BACKUP_COMPLETED_PREFIX: Final = "backup completed"


#: The Wings event name of Pelican's egg feature matches.
FEATURE_MATCH: Final = "feature match"

#: ANSI escape sequences: CSI (colours, cursor), OSC (titles), and two-byte escapes.
_ANSI_RE: Final = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences (colours, cursor moves, titles)."""
    if "\x1b" not in text:
        return text
    return _ANSI_RE.sub("", text)


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class ConsoleEvent:
    """Base class of every event the node sends on the console websocket."""

    #: The Wings event name (``""`` where it depends on the instance).
    wings_event: ClassVar[str] = ""


@attrs.frozen
class AuthSuccess(ConsoleEvent):
    """``auth success``: the token was accepted (first auth or refresh)."""

    wings_event: ClassVar[str] = "auth success"


@attrs.frozen
class StatusChange(ConsoleEvent):
    """``status``: the power state, ``offline | starting | running | stopping``."""

    wings_event: ClassVar[str] = "status"
    status: str


@attrs.frozen
class ConsoleOutput(ConsoleEvent):
    """``console output``: one line of the server console.

    ``line`` is the raw text (ANSI colours kept), :attr:`text` the same without ANSI
    escape sequences. ``replayed`` is true for a line the console asked the node to
    replay (``send logs`` after a connect) rather than one printed live.
    """

    wings_event: ClassVar[str] = "console output"
    line: str
    replayed: bool = False

    @property
    def text(self) -> str:
        """``line`` without ANSI escape sequences (match patterns against this)."""
        return strip_ansi(self.line)


@attrs.frozen
class InstallOutput(ConsoleEvent):
    """``install output``: one line of the install script's output (admins)."""

    wings_event: ClassVar[str] = "install output"
    line: str


@attrs.frozen
class InstallStarted(ConsoleEvent):
    """``install started``: the install process began."""

    wings_event: ClassVar[str] = "install started"


@attrs.frozen
class InstallCompleted(ConsoleEvent):
    """``install completed``: the install process finished."""

    wings_event: ClassVar[str] = "install completed"


@attrs.frozen
class DaemonMessage(ConsoleEvent):
    """``daemon message``: a message from Wings itself (pulling image, checking disk...)."""

    wings_event: ClassVar[str] = "daemon message"
    text: str


@attrs.frozen
class DaemonError(ConsoleEvent):
    """``daemon error``: Wings failed to handle a request."""

    wings_event: ClassVar[str] = "daemon error"
    text: str


@attrs.frozen
class JwtError(ConsoleEvent):
    """``jwt error``: the token is missing, expired, denylisted or invalid.

    Classify ``text`` with :func:`jwt_error_kind`.
    """

    wings_event: ClassVar[str] = "jwt error"
    text: str


@attrs.frozen
class TokenExpiring(ConsoleEvent):
    """``token expiring``: the token expires within a minute; fetch a new one."""

    wings_event: ClassVar[str] = "token expiring"


@attrs.frozen
class TokenExpired(ConsoleEvent):
    """``token expired``: the token has expired; fetch a new one and ``auth`` again."""

    wings_event: ClassVar[str] = "token expired"


@attrs.frozen
class Stats(ConsoleEvent):
    """``stats``: resource usage, about once a second while running.

    ``uptime`` is in **seconds** (Wings sends milliseconds); ``state`` is the power state;
    ``disk_io_*`` come from Pelican Wings only.
    """

    wings_event: ClassVar[str] = "stats"
    memory_bytes: int
    memory_limit_bytes: int
    cpu_absolute: float
    network_rx_bytes: int
    network_tx_bytes: int
    uptime: float
    state: str
    disk_bytes: int
    #: Pelican's cumulative ``disk_io`` figures; ``None`` when the node sends none.
    disk_io_read_bytes: int | None = None
    disk_io_write_bytes: int | None = None


@attrs.frozen
class BackupCompleted(ConsoleEvent):
    """``backup completed:<uuid>``: a backup finished (successfully or not)."""

    wings_event: ClassVar[str] = BACKUP_COMPLETED_PREFIX
    uuid: str
    is_successful: bool
    checksum: str
    checksum_type: str
    file_size: int


@attrs.frozen
class BackupRestoreCompleted(ConsoleEvent):
    """``backup restore completed``: a backup restore finished."""

    wings_event: ClassVar[str] = "backup restore completed"


@attrs.frozen
class TransferLogs(ConsoleEvent):
    """``transfer logs``: one line of a server transfer's log (admins)."""

    wings_event: ClassVar[str] = "transfer logs"
    line: str


@attrs.frozen
class TransferStatus(ConsoleEvent):
    """``transfer status``: a transfer's state (pending, processing, completed, failure...)."""

    wings_event: ClassVar[str] = "transfer status"
    status: str


@attrs.frozen
class Deleted(ConsoleEvent):
    """``deleted``: the server was deleted; the session is over."""

    wings_event: ClassVar[str] = "deleted"


@attrs.frozen
class Throttled(ConsoleEvent):
    """``throttled`` (Pelican, Wings >= 1.12): a frame was dropped by the rate limiter.

    ``event`` names the limited event, or ``"global"`` for the global bucket.
    """

    wings_event: ClassVar[str] = "throttled"
    event: str


@attrs.frozen
class FeatureMatch(ConsoleEvent):
    """``feature match`` (Pelican): an egg feature's ``pattern`` was seen in ``line``.

    ``key`` names the feature (``"eula"``, ``"java_version"``...).
    """

    wings_event: ClassVar[str] = FEATURE_MATCH
    key: str
    pattern: str
    line: str


@attrs.frozen
class ConsoleEnded:
    """A :class:`~trio_pterows.pterodactyl.ConsoleGroup` member ended for good.

    ``error`` is why (a :class:`ConsoleClosed`, :class:`PanelAPIError`,
    :class:`~trio_pterows.ConnectionFailed`...), or ``None`` when it was closed
    normally. Never sent by a node; each member yields it once.
    """

    error: BaseException | None = attrs.field(eq=False)


@attrs.frozen
class UnknownEvent(ConsoleEvent):
    """Any frame that is not one of the events above, or is malformed.

    ``event`` is the frame's event name (``""`` when the frame is not a JSON object
    with a string ``event``); ``args`` its string arguments (``()`` when malformed).
    """

    event: str
    args: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
