"""FakeWings' configuration: one frozen attrs class, every field validated.

``FakeWings(**fields)`` builds a :class:`FakeWingsConfig` from its keyword arguments
(or takes one as ``config=``); a bad value raises :class:`ValueError` or
:class:`TypeError` naming the field.
"""

from __future__ import annotations

import math
import uuid as uuid_module
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs

from trio_pterows.pterodactyl._panel import origin_for
from trio_pterows.pterodactyl._ratelimit import RateLimiter

__all__ = ["ADMIN_PERMISSIONS", "FakeWingsConfig"]

#: What a root admin's token carries besides ``"*"`` (``"*"`` does not grant these).
ADMIN_PERMISSIONS: Final = (
    "admin.websocket.errors",
    "admin.websocket.install",
    "admin.websocket.transfer",
)


def _echo(command: str) -> Iterable[str]:
    return (f"> {command}",)


def _number(
    *, minimum: float = 0.0, inclusive: bool = False, optional: bool = False
) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{attribute.name} must be a number, not {type(value).__name__}")
        ok = value >= minimum if inclusive else value > minimum
        if not (math.isfinite(value) and ok):
            sign = ">=" if inclusive else ">"
            raise ValueError(
                f"{attribute.name} must be a finite number {sign} {minimum:g}, got {value!r}"
            )

    return check


def _count(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be an int >= 1, got {value!r}")


def _optional_count(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _count(instance, attribute, value)


def _panel_url(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    origin_for(value)  # raises naming panel_url


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError("expected an iterable of strings, not a single str")
    return tuple(value)


def _default_uuid(config: Any) -> str:
    return str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"fakewings:{config.server_id}"))


@attrs.frozen(kw_only=True)
class FakeWingsConfig:
    """Everything a :class:`~trio_pterows.testing.FakeWings` is built from.

    - ``server_id``, ``server_uuid``: the panel identifier and the node's UUID (derived
      from ``server_id`` when omitted); ``api_key``: the client API key the panel accepts.
    - ``panel_url``: the fake panel's URL; its origin is the ``Origin`` the node requires.
      ``allowed_origins``: more accepted origins (``"*"``: any).
    - ``token_lifetime`` (600 s), ``expiring_window`` (60 s), ``check_interval`` (30 s).
    - ``permissions``: what the panel puts in every token (``("*",)``, an owner); add
      :data:`~trio_pterows.testing.ADMIN_PERMISSIONS` for a root admin (install and
      transfer output, real error texts).
    - ``rate_limits``: ``True`` for Wings' limits, ``False`` for none, or a callable
      returning a :class:`~trio_pterows.pterodactyl.RateLimiter` per connection.
    - ``panel_rate_limit``: ``/websocket`` requests per minute before the panel answers
      429 with ``Retry-After`` (Pelican: 5), or ``None``.
    - ``max_sockets``: open sockets per server before the node answers HTTP 400 (30).
    - ``read_limit``: the node's read limit in bytes (4096); a bigger message closes the
      socket with 1009.
    - ``stats_interval``: seconds between ``stats`` while running (``None``: never).
    - ``power_delay``: seconds each power transition step takes. ``initial_status``:
      ``"offline"`` or ``"running"``.
    - ``log_lines``: lines ``send logs`` replays; ``command_handler``: ``(command) ->
      lines`` printed on the console for a command (default ``"> command"``).
    - ``history``: commands, panel requests, connection records and origins kept;
      ``frames_per_connection``: frames kept per connection and direction;
      ``outbound_buffer``: frames queued per connection (a client that lets it fill up
      is dropped, as a real node drops a dead socket).
    - ``host``/``port``: where the node listens (loopback, a free port).
    """

    server_id: str = "abc123"
    server_uuid: str = attrs.field(default=attrs.Factory(_default_uuid, takes_self=True))
    api_key: str = attrs.field(default="ptlc_FakeWingsTestKey000000000000000000000000", repr=False)
    panel_url: str = attrs.field(default="http://panel.test", validator=_panel_url)
    allowed_origins: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    token_lifetime: float = attrs.field(default=600.0, validator=_number())
    expiring_window: float = attrs.field(default=60.0, validator=_number(inclusive=True))
    check_interval: float = attrs.field(default=30.0, validator=_number())
    permissions: tuple[str, ...] = attrs.field(default=("*",), converter=_strings)
    rate_limits: bool | Callable[[], RateLimiter] = True
    panel_rate_limit: int | None = attrs.field(default=None, validator=_optional_count)
    max_sockets: int = attrs.field(default=30, validator=_count)
    read_limit: int = attrs.field(default=4096, validator=_count)
    stats_interval: float | None = attrs.field(default=1.0, validator=_number(optional=True))
    power_delay: float = attrs.field(default=0.5, validator=_number())
    initial_status: str = attrs.field(
        default="offline", validator=attrs.validators.in_(("offline", "running"))
    )
    log_lines: int = attrs.field(default=150, validator=_count)
    command_handler: Callable[[str], Iterable[str]] = _echo
    history: int = attrs.field(default=1000, validator=_count)
    frames_per_connection: int = attrs.field(default=1000, validator=_count)
    outbound_buffer: int = attrs.field(default=4096, validator=_count)
    host: str = "127.0.0.1"
    port: int = 0

    @property
    def panel_origin(self) -> str:
        """The ``Origin`` the node requires: the panel URL's ``scheme://host[:port]``."""
        return origin_for(self.panel_url)

    def limiter(self) -> RateLimiter:
        """A fresh node-side rate limiter for one connection."""
        if self.rate_limits is True:
            return RateLimiter()
        if self.rate_limits is False:
            return RateLimiter(enabled=False)
        return self.rate_limits()
