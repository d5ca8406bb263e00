"""Logging adapter: a ``logging.Logger`` or the seed's ``(level, *args)`` callback.

The ``trio_pterows`` logger carries a :class:`logging.NullHandler`, as a library's
should: nothing is printed unless the application configures logging (without it,
Python's last-resort handler would print every warning to stderr).
Nothing is formatted unless the level is enabled. Callers pass URLs through
:func:`~trio_pterows._options.redact_url` first: no token or query string is logged.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["LOGGER_NAME", "Log"]

#: The library's logger (children: ``trio_pterows.pterodactyl``, ``trio_pterows.cli``...).
LOGGER_NAME = "trio_pterows"
logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class Log:
    """What the library logs through (internal)."""

    __slots__ = ("_callback", "_logger")

    def __init__(self, target: Any) -> None:
        self._logger: logging.Logger | None = None
        self._callback: Any = None
        if target is None:
            self._logger = logging.getLogger(LOGGER_NAME)
        elif isinstance(target, logging.Logger):
            self._logger = target
        else:
            self._callback = target

    def enabled(self, level: str) -> bool:
        if self._logger is not None:
            return self._logger.isEnabledFor(_LEVELS[level])
        return True

    def log(self, level: str, msg: str, *args: object, exc: BaseException | None = None) -> None:
        if self._logger is not None:
            lvl = _LEVELS[level]
            if self._logger.isEnabledFor(lvl):
                exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
                self._logger.log(lvl, msg, *args, exc_info=exc_info)
            return
        try:
            text = msg % args if args else msg
            if exc is not None:
                self._callback(level, text, exc)
            else:
                self._callback(level, text)
        except Exception:  # a broken logger callback must not break the connection
            logging.getLogger(LOGGER_NAME).exception("the logger callback raised")

    def debug(self, msg: str, *args: object) -> None:
        self.log("debug", msg, *args)

    def info(self, msg: str, *args: object) -> None:
        self.log("info", msg, *args)

    def warning(self, msg: str, *args: object, exc: BaseException | None = None) -> None:
        self.log("warning", msg, *args, exc=exc)

    def error(self, msg: str, *args: object, exc: BaseException | None = None) -> None:
        self.log("error", msg, *args, exc=exc)
