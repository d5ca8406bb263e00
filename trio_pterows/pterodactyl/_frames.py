"""Wings frames, Sans-I/O: frames in, typed events out, and back (no trio, no I/O).

Every frame is a JSON text frame ``{"event": "<name>", "args": ["<string>", ...]}``.
:func:`parse_frame` turns a node → client frame into a :class:`ConsoleEvent` and never
raises: what it does not understand becomes an :class:`UnknownEvent`.
:func:`encode_frame` builds client → node frames; :func:`encode_event` turns any event
back into the frame the node would send (``parse_frame(encode_event(ev)) == ev``).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

from ._events import (
    BACKUP_COMPLETED_PREFIX,
    CLOSE_BAD_REQUEST,
    CLOSE_GOING_AWAY,
    CLOSE_SUSPENDED,
    DELETED_CLOSE_REASON,
    JWT_DENYLISTED_TEXT,
    JWT_EXPIRED_TEXT,
    AuthSuccess,
    BackupCompleted,
    BackupRestoreCompleted,
    ConsoleEvent,
    ConsoleOutput,
    DaemonError,
    DaemonMessage,
    Deleted,
    FeatureMatch,
    InstallCompleted,
    InstallOutput,
    InstallStarted,
    JwtError,
    Stats,
    StatusChange,
    Throttled,
    TokenExpired,
    TokenExpiring,
    TransferLogs,
    TransferStatus,
    UnknownEvent,
)

__all__ = [
    "KNOWN_EVENTS",
    "JwtErrorKind",
    "encode_event",
    "encode_frame",
    "is_final_close",
    "jwt_error_kind",
    "parse_client_frame",
    "parse_frame",
    "token_lifetime",
]

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

#: Every event name :func:`parse_frame` turns into a typed event (besides the
#: legacy ``"backup completed:<uuid>"``). The no-argument events ignore their
#: arguments: Wings fills them with ``[""]`` or ``["null"]``.
KNOWN_EVENTS: Final = frozenset(
    {
        *_NO_ARG_EVENTS,
        *_ONE_ARG_EVENTS,
        Stats.wings_event,
        Throttled.wings_event,
        FeatureMatch.wings_event,
        BACKUP_COMPLETED_PREFIX,
    }
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
    network = _sub_object(obj, "network") or {}
    disk_io = _sub_object(obj, "disk_io")
    return Stats(
        memory_bytes=_int_field(obj, "memory_bytes"),
        memory_limit_bytes=_int_field(obj, "memory_limit_bytes"),
        cpu_absolute=_float_field(obj, "cpu_absolute"),
        network_rx_bytes=_int_field(network, "rx_bytes"),
        network_tx_bytes=_int_field(network, "tx_bytes"),
        uptime=_float_field(obj, "uptime") / 1000.0,
        state=_str_field(obj, "state"),
        disk_bytes=_int_field(obj, "disk_bytes"),
        disk_io_read_bytes=None if disk_io is None else _int_field(disk_io, "read_bytes"),
        disk_io_write_bytes=None if disk_io is None else _int_field(disk_io, "write_bytes"),
    )


def _sub_object(obj: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Malformed(key)
    return value


def _parse_feature(args: tuple[str, ...]) -> FeatureMatch:
    obj = _loads(args[0]) if args else None
    if not isinstance(obj, dict):
        raise _Malformed("feature match")
    return FeatureMatch(
        key=_str_field(obj, "key"),
        pattern=_str_field(obj, "pattern"),
        line=_str_field(obj, "line"),
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
        if name == FeatureMatch.wings_event:
            return _parse_feature(args)
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

    ``Stats.uptime`` is sent as whole milliseconds (``disk_io`` only when set);
    ``BackupCompleted`` as ``backup completed`` with the uuid inside its JSON argument
    (Wings >= 1.6.1); ``ConsoleOutput.replayed`` is not on the wire.
    """
    if isinstance(ev, UnknownEvent):
        return encode_frame(ev.event, *ev.args)
    if isinstance(ev, Stats):
        payload: dict[str, Any] = {
            "memory_bytes": ev.memory_bytes,
            "memory_limit_bytes": ev.memory_limit_bytes,
            "cpu_absolute": ev.cpu_absolute,
            "network": {"rx_bytes": ev.network_rx_bytes, "tx_bytes": ev.network_tx_bytes},
            "uptime": round(ev.uptime * 1000),
            "state": ev.state,
            "disk_bytes": ev.disk_bytes,
        }
        if ev.disk_io_read_bytes is not None or ev.disk_io_write_bytes is not None:
            payload["disk_io"] = {
                "read_bytes": ev.disk_io_read_bytes or 0,
                "write_bytes": ev.disk_io_write_bytes or 0,
            }
        return encode_frame(Stats.wings_event, _dumps(payload))
    if isinstance(ev, FeatureMatch):
        payload = {"key": ev.key, "pattern": ev.pattern, "line": ev.line}
        return encode_frame(ev.wings_event, _dumps(payload))
    if isinstance(ev, BackupCompleted):
        payload = {
            "uuid": ev.uuid,
            "is_successful": ev.is_successful,
            "checksum": ev.checksum,
            "checksum_type": ev.checksum_type,
            "file_size": ev.file_size,
        }
        return encode_frame(BACKUP_COMPLETED_PREFIX, _dumps(payload))
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
