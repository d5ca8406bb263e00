"""Transports: the WebSocket engines behind the seam of :mod:`._base` (internal)."""
