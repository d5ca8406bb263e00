"""What the demo and ``pterows console`` both watch on a Console: token refreshes,
and Wings' per-connection rate limits."""

from __future__ import annotations

from ..pterodactyl import AuthSuccess, Console


def fresh_rate_limits(console: Console | None) -> bool:
    """Before a reconnect: Wings' rate limits are per connection, so the next socket
    starts with full buckets. Without this, the ``auth`` of a quick reconnect waits
    for buckets the old socket emptied (up to 5 s), which can exceed the connection
    timeout. (Console does not reset its limiter itself yet.)"""
    if console is not None:
        console.rate_limiter.reset()
    return True


class RefreshWatch:
    """Tells when the console got a new token on a live socket.

    Console counts refreshes but has no event for them: the ``auth success`` that
    follows an expiry notice is one, and the counter (checked on every event) catches
    the refreshes the console makes ahead of expiry by itself.
    """

    def __init__(self) -> None:
        self.seen = 0
        self.expecting = False

    def expiry_notice(self) -> bool:
        """An expiry notice arrived; True for the first one of the episode (the node
        repeats them, and turns other events into jwt errors, until the new token)."""
        first = not self.expecting
        self.expecting = True
        return first

    def new_socket(self) -> None:
        self.expecting = False  # a (re)connect fetched a fresh token anyway

    def refreshed(self, console: Console | None, event: object = None) -> bool:
        if console is None:
            return False
        if isinstance(event, AuthSuccess) and self.expecting:
            self.expecting = False
            self.seen = max(self.seen + 1, console.token_refreshes)
            return True
        if console.token_refreshes > self.seen:
            self.seen = console.token_refreshes
            self.expecting = False
            return True
        return False
