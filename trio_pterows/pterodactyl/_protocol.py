"""The Wings console protocol, Sans-I/O: one import for the three modules it is made of.

- :mod:`._events`: the event classes and the protocol's constants;
- :mod:`._frames`: frames ↔ events, jwt error classification, token lifetime;
- :mod:`._ratelimit`: Wings' token buckets.

Nothing here does I/O or reads a clock (no trio, no httpx).
"""

from __future__ import annotations

from ._events import *  # noqa: F403
from ._events import __all__ as _events_all
from ._frames import *  # noqa: F403
from ._frames import __all__ as _frames_all
from ._ratelimit import *  # noqa: F403
from ._ratelimit import __all__ as _ratelimit_all

__all__ = [*_events_all, *_frames_all, *_ratelimit_all]
