"""Transports: the WebSocket engines behind the seam of :mod:`._base` (internal).

:func:`get_transport` is the registry, keyed by the ``transport`` option's value; each
engine's module is imported on first use and exposes ``TRANSPORT`` (a
:class:`~._base.Transport`).
"""

from __future__ import annotations

import importlib

from ._base import Transport

__all__ = ["ENGINES", "TransportUnavailable", "check_available", "get_transport"]

#: transport name -> the module that implements it.
ENGINES: dict[str, str] = {
    "trio-websocket": "trio_pterows.transports._trio_websocket",
    "websockets": "trio_pterows.transports._websockets",
}


class TransportUnavailable(ValueError):
    """The ``transport`` option names an engine this installation does not have."""

    fatal = True


def get_transport(name: str) -> Transport:
    """The engine called ``name`` (raises :class:`TransportUnavailable`)."""
    module_name = ENGINES.get(name)
    if module_name is None:
        raise TransportUnavailable(f"transport: unknown transport {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing != module_name and not module_name.startswith(missing + "."):
            hint = f"(needs the package {missing!r}: pip install trio_pterows[{name}])"
        else:
            hint = "(not in this build of trio_pterows)"
        raise TransportUnavailable(f"transport: {name!r} is not available {hint}") from None
    transport: Transport = module.TRANSPORT
    return transport


def check_available(name: str) -> None:
    """Raise :class:`TransportUnavailable` now rather than at connect time."""
    get_transport(name)
