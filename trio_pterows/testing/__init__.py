"""Test doubles for applications built on trio_pterows (public, documented, typed)."""

from __future__ import annotations

from ._chaos import ChaosProxy as ChaosProxy
from ._fakewings import FakeWings as FakeWings
from ._fakewings import NodeConnection as NodeConnection
from ._fakewings import PanelRequest as PanelRequest
from ._memory import MemoryWebSocketServer as MemoryWebSocketServer
from ._memory import echo_handler as echo_handler
from ._servers import TestServer as TestServer
from ._servers import serve_echo as serve_echo
from ._wings_config import ADMIN_PERMISSIONS as ADMIN_PERMISSIONS
from ._wings_config import FakeWingsConfig as FakeWingsConfig

__all__ = [
    "ADMIN_PERMISSIONS",
    "ChaosProxy",
    "FakeWings",
    "FakeWingsConfig",
    "MemoryWebSocketServer",
    "NodeConnection",
    "PanelRequest",
    "TestServer",
    "echo_handler",
    "serve_echo",
]
