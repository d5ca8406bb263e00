"""What the demo's views show at one moment, and the texts made of it (the metrics
line, the final summary)."""

from __future__ import annotations

import attrs

from .. import LatencyStats
from ..pterodactyl import Stats
from ._text import ms, n, size


@attrs.frozen(kw_only=True)
class Snapshot:
    """What the demo's views show, at one moment."""

    seed: int
    elapsed: float
    state: str
    status: str
    last_latency: float | None
    latency: LatencyStats | None
    #: Connections opened (the first one and every reconnect).
    connections: int
    #: Successful reconnects: connections after the first one.
    reconnects: int
    queued: int
    dropped: int
    token_refreshes: int
    tokens_fetched: int
    faults: int
    fault_kinds: str
    active_fault: str | None
    commands: int
    console_lines: int
    stats: Stats | None
    #: Reconnect attempts started (a reconnect may take several).
    retries: int = 0
    #: Of ``console_lines``: history the node replayed after a (re)connect.
    history_lines: int = 0

    def latency_text(self) -> str:
        lat = self.latency
        if lat is None:
            return f"last {ms(self.last_latency)}"
        return f"last {ms(self.last_latency)}, p50 {ms(lat.p50)}, p99 {ms(lat.p99)}"

    def resources_text(self) -> str:
        stats = self.stats
        if stats is None:
            return "-"
        return (
            f"cpu {stats.cpu_absolute:.0f}%, memory {size(stats.memory_bytes)}"
            f" / {size(stats.memory_limit_bytes)}"
        )

    def reconnects_text(self) -> str:
        """``1 (2 connections), 3 attempts``: reconnects that worked, and the tries."""
        return (
            f"{self.reconnects} ({n(self.connections, 'connection')}), {n(self.retries, 'attempt')}"
        )

    def metrics_line(self) -> str:
        return (
            f"{self.state}, server {self.status} | latency {self.latency_text()} | "
            f"{n(self.connections, 'connection')}, {n(self.reconnects, 'reconnect')} | "
            f"queue {self.queued}, dropped {self.dropped} | "
            f"{n(self.token_refreshes, 'token refresh', 'token refreshes')} | "
            f"{n(self.faults, 'fault')}"
        )

    def summary(self) -> str:
        """One paragraph; views wrap it between words to fit their width."""
        lat = self.latency
        latency = (
            f"latency p50 {ms(lat.p50)}, p99 {ms(lat.p99)} over {n(lat.count, 'heartbeat')}"
            if lat is not None
            else "no heartbeat answered"
        )
        kinds = f" ({self.fault_kinds})" if self.fault_kinds else ""
        return (
            f"summary: {self.elapsed:.1f} s, seed {self.seed}: "
            f"{n(self.faults, 'fault')} injected{kinds}; "
            f"{n(self.connections, 'connection')}, {n(self.reconnects, 'reconnect')}; "
            f"{n(self.token_refreshes, 'token refresh', 'token refreshes')} on a live socket, "
            f"{n(self.tokens_fetched, 'token')} from the panel; "
            f"{n(self.commands, 'command')} sent, {self.queued} still queued, "
            f"{self.dropped} dropped; {n(self.console_lines, 'console line')}"
            f" ({self.history_lines} replayed history); {latency}"
        )
