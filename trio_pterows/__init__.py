"""trio_pterows: a WebSocket client for Trio that does not fall over.

Automatic reconnection with backoff and fallback URLs, heartbeats with latency
statistics, an outgoing queue that survives disconnects, interceptors, auto-JSON,
events, request/response and metrics — and, in :mod:`trio_pterows.pterodactyl`, a
client for the Pterodactyl / Pelican game-server console.
"""

from __future__ import annotations

from ._backoff import reconnect_delay as reconnect_delay
from ._events import DROP as DROP
from ._events import CloseEvent as CloseEvent
from ._events import ConnectionState as ConnectionState
from ._events import ErrorEvent as ErrorEvent
from ._events import Event as Event
from ._events import EventType as EventType
from ._events import MessageEvent as MessageEvent
from ._events import OpenEvent as OpenEvent
from ._events import PingEvent as PingEvent
from ._events import PongEvent as PongEvent
from ._events import ReconnectAttemptEvent as ReconnectAttemptEvent
from ._events import ReconnectEvent as ReconnectEvent
from ._events import ReconnectSuccessEvent as ReconnectSuccessEvent
from ._events import Subscription as Subscription
from ._exceptions import ConnectionFailed as ConnectionFailed
from ._exceptions import ConnectionLost as ConnectionLost
from ._exceptions import Destroyed as Destroyed
from ._exceptions import HandshakeError as HandshakeError
from ._exceptions import NotConnected as NotConnected
from ._exceptions import PterowsError as PterowsError
from ._exceptions import QueueFull as QueueFull
from ._exceptions import ResponseTimeout as ResponseTimeout
from ._handle import Connection as Connection
from ._handle import ManagerStatistics as ManagerStatistics
from ._kwargs import OptionKwargs as OptionKwargs
from ._kwargs import WSConnectionOptionsKwargs as WSConnectionOptionsKwargs
from ._manager import CLOSE_TIMEOUT as CLOSE_TIMEOUT
from ._manager import AdvancedWebSocket as AdvancedWebSocket
from ._metrics import LatencyStats as LatencyStats
from ._metrics import WSMetrics as WSMetrics
from ._open import open_websocket as open_websocket
from ._options import WSConnectionOptions as WSConnectionOptions
from ._options import redact_url as redact_url
from ._receive import DRAIN_GRACE as DRAIN_GRACE
from ._version import __version__ as __version__

__all__ = [
    "CLOSE_TIMEOUT",
    "DRAIN_GRACE",
    "DROP",
    "AdvancedWebSocket",
    "CloseEvent",
    "Connection",
    "ConnectionFailed",
    "ConnectionLost",
    "ConnectionState",
    "Destroyed",
    "ErrorEvent",
    "Event",
    "EventType",
    "HandshakeError",
    "LatencyStats",
    "ManagerStatistics",
    "MessageEvent",
    "NotConnected",
    "OpenEvent",
    "OptionKwargs",
    "PingEvent",
    "PongEvent",
    "PterowsError",
    "QueueFull",
    "ReconnectAttemptEvent",
    "ReconnectEvent",
    "ReconnectSuccessEvent",
    "ResponseTimeout",
    "Subscription",
    "WSConnectionOptions",
    "WSConnectionOptionsKwargs",
    "WSMetrics",
    "__version__",
    "open_websocket",
    "reconnect_delay",
    "redact_url",
]
