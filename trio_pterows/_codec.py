"""JSON codec: orjson when installed (the ``json`` extra), the standard library otherwise.

Both raise :class:`TypeError` for objects that cannot be serialised and
:class:`ValueError` for text that is not JSON (``NaN`` and ``Infinity`` included), so
callers need not care which is used. Known differences, inherited from orjson: it
encodes integers of at most 64 bits and only ``str`` keys (TypeError otherwise), and
encodes a float NaN as ``null`` where the standard library raises ValueError.
"""

from __future__ import annotations

import json as _json
from typing import Any

__all__ = ["BACKEND", "dumps", "loads"]

_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the tests_nojson session
    _orjson = None


if _orjson is not None:
    BACKEND = "orjson"
    _orjson_dumps = _orjson.dumps
    _orjson_loads = _orjson.loads

    def dumps(obj: Any) -> str:
        """Serialise ``obj`` to compact JSON text."""
        try:
            text: str = _orjson_dumps(obj).decode()
            return text
        except _orjson.JSONEncodeError as exc:
            # orjson's error is already a TypeError; make the message name the type.
            raise TypeError(f"cannot encode {type(obj).__name__} as JSON: {exc}") from exc

    def loads(text: str | bytes) -> Any:
        """Parse JSON text; :class:`ValueError` if it is not JSON."""
        return _orjson_loads(text)

else:  # pragma: no cover - exercised by the tests_nojson session
    BACKEND = "json"
    _encoder = _json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

    def _reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    _decode = _json.JSONDecoder(parse_constant=_reject_constant).decode

    def dumps(obj: Any) -> str:
        """Serialise ``obj`` to compact JSON text."""
        try:
            return _encoder.encode(obj)
        except TypeError as exc:
            raise TypeError(f"cannot encode {type(obj).__name__} as JSON: {exc}") from exc

    def loads(text: str | bytes) -> Any:
        """Parse JSON text; :class:`ValueError` if it is not JSON."""
        if isinstance(text, bytes):
            text = text.decode()
        return _decode(text)
