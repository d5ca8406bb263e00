"""A client for the Pterodactyl / Pelican game-server console websocket (Wings).

``async with open_console(panel_url, api_key, server_id) as console:`` fetches a token
from the panel, connects to the node with the panel's Origin, authenticates, refreshes
the token before it expires, reconnects (re-authenticating with a fresh token), paces
itself under Wings' rate limits, and yields typed events, one per console line, with
the history replayed after every (re)connect. :func:`open_consoles` runs many.
"""

from __future__ import annotations

from ._commands import Expect as Expect
from ._console import Console as Console
from ._console import open_console as open_console
from ._events import ConsoleEnded as ConsoleEnded
from ._events import FeatureMatch as FeatureMatch
from ._events import PowerAction as PowerAction
from ._events import strip_ansi as strip_ansi
from ._exceptions import ConsoleClosed as ConsoleClosed
from ._exceptions import PanelAPIError as PanelAPIError
from ._group import ConsoleGroup as ConsoleGroup
from ._group import GroupEvent as GroupEvent
from ._group import open_consoles as open_consoles
from ._panel import Credentials as Credentials
from ._panel import ServerState as ServerState
from ._panel import fetch_credentials as fetch_credentials
from ._panel import fetch_server_state as fetch_server_state
from ._panel import origin_for as origin_for
from ._protocol import POWER_ACTIONS as POWER_ACTIONS
from ._protocol import AuthSuccess as AuthSuccess
from ._protocol import BackupCompleted as BackupCompleted
from ._protocol import BackupRestoreCompleted as BackupRestoreCompleted
from ._protocol import ConsoleEvent as ConsoleEvent
from ._protocol import ConsoleOutput as ConsoleOutput
from ._protocol import DaemonError as DaemonError
from ._protocol import DaemonMessage as DaemonMessage
from ._protocol import Deleted as Deleted
from ._protocol import InstallCompleted as InstallCompleted
from ._protocol import InstallOutput as InstallOutput
from ._protocol import InstallStarted as InstallStarted
from ._protocol import JwtError as JwtError
from ._protocol import RateLimit as RateLimit
from ._protocol import RateLimiter as RateLimiter
from ._protocol import Stats as Stats
from ._protocol import StatusChange as StatusChange
from ._protocol import Throttled as Throttled
from ._protocol import TokenExpired as TokenExpired
from ._protocol import TokenExpiring as TokenExpiring
from ._protocol import TransferLogs as TransferLogs
from ._protocol import TransferStatus as TransferStatus
from ._protocol import UnknownEvent as UnknownEvent
from ._protocol import encode_event as encode_event
from ._protocol import encode_frame as encode_frame
from ._protocol import parse_frame as parse_frame
from ._replay import split_lines as split_lines
from ._tokens import TokenLifecycle as TokenLifecycle
from ._tokens import TokenState as TokenState

__all__ = [
    "POWER_ACTIONS",
    "AuthSuccess",
    "BackupCompleted",
    "BackupRestoreCompleted",
    "Console",
    "ConsoleClosed",
    "ConsoleEnded",
    "ConsoleEvent",
    "ConsoleGroup",
    "ConsoleOutput",
    "Credentials",
    "DaemonError",
    "DaemonMessage",
    "Deleted",
    "Expect",
    "FeatureMatch",
    "GroupEvent",
    "InstallCompleted",
    "InstallOutput",
    "InstallStarted",
    "JwtError",
    "PanelAPIError",
    "PowerAction",
    "RateLimit",
    "RateLimiter",
    "ServerState",
    "Stats",
    "StatusChange",
    "Throttled",
    "TokenExpired",
    "TokenExpiring",
    "TokenLifecycle",
    "TokenState",
    "TransferLogs",
    "TransferStatus",
    "UnknownEvent",
    "encode_event",
    "encode_frame",
    "fetch_credentials",
    "fetch_server_state",
    "open_console",
    "open_consoles",
    "origin_for",
    "parse_frame",
    "split_lines",
    "strip_ansi",
]
