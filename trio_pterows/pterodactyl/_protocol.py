"""The Wings console protocol, Sans-I/O: frames in, typed events out, and back.

Nothing here does I/O or reads a clock (no trio, no httpx): the console client and
:class:`~trio_pterows.testing.FakeWings` move bytes and pass the time in.

Every frame is a JSON text frame ``{"event": "<name>", "args": ["<string>", ...]}``.
:func:`parse_frame` turns a node → client frame into a :class:`ConsoleEvent` and never
raises: what it does not understand becomes an :class:`UnknownEvent`.
:func:`encode_frame` builds client → node frames; :func:`encode_event` turns any event
back into the frame the node would send (``parse_frame(encode_event(ev)) == ev``).

:class:`RateLimiter` mirrors the token buckets Wings applies to inbound frames, so a
client can pace itself instead of being ``throttled``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal

import attrs

__all__ = [
    "AUTH",
    "BACKUP_COMPLETED_PREFIX",
    "CLOSE_BAD_REQUEST",
    "CLOSE_GOING_AWAY",
    "CLOSE_SUSPENDED",
    "DELETED_CLOSE_REASON",
    "JWT_DENYLISTED_TEXT",
    "JWT_EXPIRED_TEXT",
    "JWT_NOT_PRESENT_TEXT",
    "KNOWN_EVENTS",
    "POWER_ACTIONS",
    "SEND_COMMAND",
    "SEND_LOGS",
    "SEND_STATS",
    "SET_STATE",
    "WINGS_DEFAULT_LIMIT",
    "WINGS_EVENT_LIMITS",
    "WINGS_GLOBAL_LIMIT",
    "AuthSuccess",
    "BackupCompleted",
    "BackupRestoreCompleted",
    "ConsoleEvent",
    "ConsoleOutput",
    "DaemonError",
    "DaemonMessage",
    "Deleted",
    "InstallCompleted",
    "InstallOutput",
    "InstallStarted",
    "JwtError",
    "JwtErrorKind",
    "RateLimit",
    "RateLimiter",
    "Stats",
    "StatusChange",
    "Throttled",
    "TokenExpired",
    "TokenExpiring",
    "TransferLogs",
    "TransferStatus",
    "UnknownEvent",
    "encode_event",
    "encode_frame",
    "is_final_close",
    "jwt_error_kind",
    "parse_client_frame",
    "parse_frame",
    "token_lifetime",
]

# --------------------------------------------------------------------------- constants

#: Client → node event names.
AUTH: Final = "auth"
SET_STATE: Final = "set state"
SEND_COMMAND: Final = "send command"
SEND_LOGS: Final = "send logs"
SEND_STATS: Final = "send stats"

#: The arguments ``set state`` accepts.
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

#: The event name of :class:`BackupCompleted` is ``"backup completed:<backup uuid>"``.
BACKUP_COMPLETED_PREFIX: Final = "backup completed"


# --------------------------------------------------------------------------- events


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
    """``console output``: one line of the server console."""

    wings_event: ClassVar[str] = "console output"
    line: str


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

    ``uptime`` is in **seconds** (Wings sends milliseconds); ``state`` is the power state.
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
class UnknownEvent(ConsoleEvent):
    """Any frame that is not one of the events above, or is malformed.

    ``event`` is the frame's event name (``""`` when the frame is not a JSON object
    with a string ``event``); ``args`` its string arguments (``()`` when malformed).
    Pelican's ``feature match`` arrives as an UnknownEvent.
    """

    event: str
    args: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)


_NO_ARG_EVENTS: Final[Mapping[str, ConsoleEvent]] = MappingProxyType(
    {
        cls.wings_event: cls()
        for cls in (
            AuthSuccess,
            InstallStarted,
            InstallCompleted,
            TokenExpiring,
            TokenExpired,
            BackupRestoreCompleted,
            Deleted,
        )
    }
)

_ONE_ARG_EVENTS: Final[Mapping[str, Callable[[str], ConsoleEvent]]] = MappingProxyType(
    {
        cls.wings_event: cls
        for cls in (
            StatusChange,
            ConsoleOutput,
            InstallOutput,
            DaemonMessage,
            DaemonError,
            JwtError,
            TransferLogs,
            TransferStatus,
        )
    }
)

#: Every event name :func:`parse_frame` turns into a typed event (besides
#: ``"backup completed:<uuid>"``).
KNOWN_EVENTS: Final = frozenset(
    {*_NO_ARG_EVENTS, *_ONE_ARG_EVENTS, Stats.wings_event, Throttled.wings_event}
)


# --------------------------------------------------------------------------- parsing


def _loads(data: str | bytes) -> Any:
    """JSON → Python, or a sentinel on any failure (never raises)."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        return json.loads(text)
    except (ValueError, RecursionError, TypeError):
        return _INVALID


_INVALID: Final = object()


def _split_frame(data: str | bytes) -> tuple[str, tuple[str, ...] | None] | None:
    """``None``: not a frame at all; ``(event, None)``: an event with malformed args."""
    obj = _loads(data)
    if not isinstance(obj, dict):
        return None
    event = obj.get("event")
    if not isinstance(event, str):
        return None
    args = obj.get("args")
    if args is None:
        return event, ()
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return event, None
    return event, tuple(args)


def parse_client_frame(data: str | bytes) -> tuple[str, tuple[str, ...]] | None:
    """Parse a client → node frame the way Wings does: ``(event, args)`` or ``None``.

    ``None`` when Wings would drop the frame: not JSON, not an object, no string
    ``event``, or ``args`` present but not a list of strings. Missing or null ``args``
    is ``()``. Never raises.
    """
    split = _split_frame(data)
    if split is None or split[1] is None:
        return None
    return split[0], split[1]


class _Malformed(Exception):
    """A known event whose arguments are not what Wings sends (internal)."""


def _int_field(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Malformed(key)
    if isinstance(value, float):
        if not value.is_integer():
            raise _Malformed(key)
        value = int(value)
    return value


def _float_field(obj: Mapping[str, Any], key: str) -> float:
    value = obj.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Malformed(key)
    result = float(value)
    if not math.isfinite(result):
        raise _Malformed(key)
    return result


def _str_field(obj: Mapping[str, Any], key: str, default: str = "") -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise _Malformed(key)
    return value


def _parse_stats(arg: str) -> Stats:
    obj = _loads(arg)
    if not isinstance(obj, dict):
        raise _Malformed("stats")
    network = obj.get("network", {})
    if network is None:
        network = {}
    if not isinstance(network, dict):
        raise _Malformed("network")
    return Stats(
        memory_bytes=_int_field(obj, "memory_bytes"),
        memory_limit_bytes=_int_field(obj, "memory_limit_bytes"),
        cpu_absolute=_float_field(obj, "cpu_absolute"),
        network_rx_bytes=_int_field(network, "rx_bytes"),
        network_tx_bytes=_int_field(network, "tx_bytes"),
        uptime=_float_field(obj, "uptime") / 1000.0,
        state=_str_field(obj, "state"),
        disk_bytes=_int_field(obj, "disk_bytes"),
    )


def _parse_backup(name: str, args: tuple[str, ...]) -> BackupCompleted:
    _, _, name_uuid = name.partition(":")
    if not args:
        raise _Malformed("backup")
    obj = _loads(args[0])
    if not isinstance(obj, dict):
        raise _Malformed("backup")
    successful = obj.get("is_successful", False)
    if not isinstance(successful, bool):
        raise _Malformed("is_successful")
    return BackupCompleted(
        uuid=_str_field(obj, "uuid", name_uuid) or name_uuid,
        is_successful=successful,
        checksum=_str_field(obj, "checksum"),
        checksum_type=_str_field(obj, "checksum_type"),
        file_size=_int_field(obj, "file_size"),
    )


def parse_frame(data: str | bytes) -> ConsoleEvent:
    """Turn one node → client frame into a typed event. Never raises.

    Frames that are not JSON objects with a string ``event`` give
    ``UnknownEvent(event="")``; known events with missing or malformed arguments
    (a ``status`` without its argument, ``stats`` whose JSON is not the stats
    object...) give ``UnknownEvent(event=<name>, args=...)``. Extra arguments are
    ignored. ``stats`` uptime is converted from milliseconds to seconds.
    """
    split = _split_frame(data)
    if split is None:
        return UnknownEvent(event="")
    name, maybe_args = split
    if maybe_args is None:
        return UnknownEvent(event=name)
    args = maybe_args
    no_arg = _NO_ARG_EVENTS.get(name)
    if no_arg is not None:
        return no_arg
    one_arg = _ONE_ARG_EVENTS.get(name)
    if one_arg is not None:
        if not args:
            return UnknownEvent(event=name, args=args)
        return one_arg(args[0])
    try:
        if name == Stats.wings_event and args:
            return _parse_stats(args[0])
        if name == Throttled.wings_event:
            return Throttled(event=args[0] if args else "")
        if name == BACKUP_COMPLETED_PREFIX or name.startswith(BACKUP_COMPLETED_PREFIX + ":"):
            return _parse_backup(name, args)
    except (_Malformed, OverflowError):
        pass
    return UnknownEvent(event=name, args=args)


# --------------------------------------------------------------------------- encoding


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_frame(event: str, *args: str) -> str:
    """Build a frame: compact JSON ``{"event": event, "args": [...]}``.

    ``args`` is omitted when there are none (as Wings does); the parsers treat a
    missing, null or empty ``args`` alike. :class:`TypeError` if ``event`` or an
    argument is not a :class:`str`.
    """
    if not isinstance(event, str):
        raise TypeError(f"event must be a str, not {type(event).__name__}")
    for arg in args:
        if not isinstance(arg, str):
            raise TypeError(f"{event!r} arguments must be str, not {type(arg).__name__}")
    if args:
        return _dumps({"event": event, "args": list(args)})
    return _dumps({"event": event})


def encode_event(ev: ConsoleEvent) -> str:
    """Turn an event back into the frame Wings would send for it.

    ``Stats.uptime`` is sent as whole milliseconds; ``BackupCompleted`` is sent as
    ``backup completed:<uuid>`` with its JSON argument.
    """
    if isinstance(ev, UnknownEvent):
        return encode_frame(ev.event, *ev.args)
    if isinstance(ev, Stats):
        payload = {
            "memory_bytes": ev.memory_bytes,
            "memory_limit_bytes": ev.memory_limit_bytes,
            "cpu_absolute": ev.cpu_absolute,
            "network": {"rx_bytes": ev.network_rx_bytes, "tx_bytes": ev.network_tx_bytes},
            "uptime": round(ev.uptime * 1000),
            "state": ev.state,
            "disk_bytes": ev.disk_bytes,
        }
        return encode_frame(Stats.wings_event, _dumps(payload))
    if isinstance(ev, BackupCompleted):
        payload = {
            "uuid": ev.uuid,
            "is_successful": ev.is_successful,
            "checksum": ev.checksum,
            "checksum_type": ev.checksum_type,
            "file_size": ev.file_size,
        }
        return encode_frame(f"{BACKUP_COMPLETED_PREFIX}:{ev.uuid}", _dumps(payload))
    if isinstance(ev, (StatusChange, TransferStatus)):
        return encode_frame(ev.wings_event, ev.status)
    if isinstance(ev, (ConsoleOutput, InstallOutput, TransferLogs)):
        return encode_frame(ev.wings_event, ev.line)
    if isinstance(ev, (DaemonMessage, DaemonError, JwtError)):
        return encode_frame(ev.wings_event, ev.text)
    if isinstance(ev, Throttled):
        return encode_frame(ev.wings_event, ev.event)
    if ev.wings_event in _NO_ARG_EVENTS:
        return encode_frame(ev.wings_event)
    raise TypeError(f"cannot encode {type(ev).__name__}: not a Wings event")


# --------------------------------------------------------------------------- classification

JwtErrorKind = Literal["expired", "denylisted", "fatal"]


def jwt_error_kind(text: str) -> JwtErrorKind:
    """Classify a ``jwt error`` text as the official panel UI does.

    ``"expired"`` (``jwt: exp claim is invalid``) and ``"denylisted"``
    (``jwt: created too far in past (denylist)``): fetch a new token and ``auth``
    again on the same socket. Anything else (``jwt: no jwt present``, a missing
    permission, a server uuid mismatch, a bad signature...) is ``"fatal"``.
    Matching is case-insensitive and by substring, since Wings may prefix the text
    with ``"Error Event [<uuid>]: "``.
    """
    lowered = text.lower()
    if JWT_EXPIRED_TEXT in lowered:
        return "expired"
    if JWT_DENYLISTED_TEXT in lowered:
        return "denylisted"
    return "fatal"


def token_lifetime(token: str) -> float | None:
    """Seconds between the JWT's ``iat`` and ``exp`` claims, or None if unreadable.

    The signature is not checked (only the node can); the lifetime lets a client
    refresh ahead of expiry without reading a wall clock. Never raises.
    """
    try:
        payload = token.split(".")[1]
        padded = payload + "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
        lifetime = float(claims["exp"]) - float(claims["iat"])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
    return lifetime if math.isfinite(lifetime) and lifetime > 0 else None


def is_final_close(code: int | None, reason: str | None = None) -> bool:
    """Whether a close ends the console session for good (no reconnect).

    4409 (suspended), 4400 (bad request), and 1001 with reason ``"server deleted"``.
    """
    if code in (CLOSE_SUSPENDED, CLOSE_BAD_REQUEST):
        return True
    return code == CLOSE_GOING_AWAY and (reason or "").strip().lower() == DELETED_CLOSE_REASON


# --------------------------------------------------------------------------- rate limits


def _check_burst(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attribute.name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value!r}")


def _check_interval(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{attribute.name} must be a number, not {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a finite number > 0, got {value!r}")


@attrs.frozen
class RateLimit:
    """A token bucket: ``burst`` tokens, one token back every ``interval`` seconds."""

    burst: int = attrs.field(validator=_check_burst)
    interval: float = attrs.field(validator=_check_interval)


#: Wings' limits (``router/websocket/limiter.go``, Wings >= 1.12 and Pelican), per connection.
WINGS_GLOBAL_LIMIT: Final = RateLimit(10, 0.2)
WINGS_DEFAULT_LIMIT: Final = RateLimit(4, 1.0)
WINGS_EVENT_LIMITS: Final[Mapping[str, RateLimit]] = MappingProxyType(
    {
        AUTH: RateLimit(2, 5.0),
        SEND_LOGS: RateLimit(2, 5.0),
        SEND_COMMAND: RateLimit(10, 1.0),
    }
)

_GLOBAL_KEY: Final = "\x00global"
_DEFAULT_KEY: Final = "\x00default"
#: Slack for float rounding when a frame is sent exactly when :meth:`RateLimiter.delay` said.
_EPSILON: Final = 1e-9


class RateLimiter:
    """Wings' token buckets, Sans-I/O: the caller passes the time in (seconds, any clock).

    A frame passes the global bucket and its event's bucket (``auth``, ``send logs``
    and ``send command`` have their own; every other event shares one). Buckets start
    full. The client side asks :meth:`delay`, waits, then :meth:`consume`; the node
    side (:class:`~trio_pterows.testing.FakeWings`) asks :meth:`check`, which
    behaves like Wings: take a global token, then an event token, or refuse.

    ``headroom`` keeps that many tokens of every bucket unused (never below a burst
    of one), a margin against network jitter bunching paced frames at the node.
    With ``enabled=False`` (settable at any time) every frame may go at once.

    Implemented as GCRA: per bucket, the theoretical arrival time of the next token.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        global_limit: RateLimit | None = WINGS_GLOBAL_LIMIT,
        event_limits: Mapping[str, RateLimit] = WINGS_EVENT_LIMITS,
        default_limit: RateLimit | None = WINGS_DEFAULT_LIMIT,
        headroom: int = 0,
    ) -> None:
        if isinstance(headroom, bool) or not isinstance(headroom, int) or headroom < 0:
            raise ValueError(f"headroom must be an int >= 0, got {headroom!r}")
        for name, limit in event_limits.items():
            if not isinstance(name, str) or not isinstance(limit, RateLimit):
                raise TypeError("event_limits must map event names to RateLimit")
        self.enabled: bool = enabled
        self._headroom = headroom
        self._global = global_limit
        self._events: Mapping[str, RateLimit] = MappingProxyType(dict(event_limits))
        self._default = default_limit
        self._tat: dict[str, float] = {}
        self._blocked_until = -math.inf

    def __repr__(self) -> str:
        return (
            f"<RateLimiter enabled={self.enabled} global={self._global} "
            f"events={dict(self._events)} default={self._default} headroom={self._headroom}>"
        )

    def _buckets(self, event: str) -> tuple[tuple[str, RateLimit], ...]:
        limit = self._events.get(event)
        if limit is not None:
            own: tuple[tuple[str, RateLimit], ...] = ((event, limit),)
        elif self._default is not None:
            own = ((_DEFAULT_KEY, self._default),)
        else:
            own = ()
        if self._global is None:
            return own
        return ((_GLOBAL_KEY, self._global), *own)

    def _ready_at(self, key: str, limit: RateLimit) -> float:
        tat = self._tat.get(key)
        if tat is None:
            return -math.inf
        burst = max(1, limit.burst - self._headroom)
        return tat - (burst - 1) * limit.interval

    def _take(self, key: str, limit: RateLimit, now: float) -> None:
        tat = self._tat.get(key, now)
        self._tat[key] = max(tat, now) + limit.interval

    def delay(self, event: str, now: float) -> float:
        """Seconds to wait before a frame of ``event`` may go (0.0: now). Changes nothing."""
        if not self.enabled:
            return 0.0
        ready = self._blocked_until
        for key, limit in self._buckets(event):
            ready = max(ready, self._ready_at(key, limit))
        wait = ready - now
        return wait if wait > _EPSILON else 0.0

    def consume(self, event: str, now: float) -> None:
        """Record that a frame of ``event`` was sent at ``now`` (takes its tokens)."""
        if not self.enabled:
            return
        for key, limit in self._buckets(event):
            self._take(key, limit, now)

    def check(self, event: str, now: float) -> str | None:
        """The node's view: take the tokens and return ``None``, or name the refusal.

        Returns ``"global"`` when the global bucket is empty (nothing taken), or
        ``event`` when its own bucket is empty (the global token stays taken, as in
        Wings). Ignores :meth:`backoff`.
        """
        if not self.enabled:
            return None
        for key, limit in self._buckets(event):
            if now + _EPSILON < self._ready_at(key, limit):
                return "global" if key == _GLOBAL_KEY else event
            self._take(key, limit, now)
        return None

    def backoff(self, now: float, seconds: float) -> None:
        """Hold every frame until ``now + seconds`` (the node said ``throttled``)."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self._blocked_until = max(self._blocked_until, now + seconds)

    def reset(self) -> None:
        """Forget all history (full buckets, no backoff): use for a new connection."""
        self._tat.clear()
        self._blocked_until = -math.inf
