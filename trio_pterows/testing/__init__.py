"""Test doubles for applications built on trio_pterows (public, documented, typed)."""

from __future__ import annotations

from ._memory import MemoryWebSocketServer as MemoryWebSocketServer
from ._memory import echo_handler as echo_handler

__all__ = ["MemoryWebSocketServer", "echo_handler"]
