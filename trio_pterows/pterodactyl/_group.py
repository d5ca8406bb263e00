"""Many servers from one client: :func:`open_consoles` and :class:`ConsoleGroup`.

One nursery, one shared panel client; member ``i`` connects ``i * stagger`` seconds
after the group opened (a bot with many servers must not hit the panel all at once:
Pelican throttles ``/websocket`` per server, and a proxy in front may throttle per
client). Every member's events come out of one stream, tagged with its server id.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final

import httpx
import trio

from ._console import Console
from ._events import ConsoleEnded, ConsoleEvent

__all__ = ["ConsoleGroup", "GroupEvent", "open_consoles"]

_log = logging.getLogger("trio_pterows.pterodactyl")

#: Seconds between two members' first connects.
DEFAULT_STAGGER: Final = 0.25
#: Events buffered between the members and the group's reader (then members wait).
_BUFFER: Final = 256

#: open_console's own arguments (the rest are WSConnectionOptions fields).
_CONSOLE_ARGS: Final = ("origin", "rate_limit", "replay_logs", "stream_opener")

GroupEvent = tuple[str, ConsoleEvent | ConsoleEnded]


class ConsoleGroup:
    """The consoles of several servers (returned by ``async with open_consoles(...)``).

    ``async for server_id, event in group`` yields every member's events; a member
    that ends for good yields ``(server_id, ConsoleEnded(error))`` once (``error`` is
    ``None`` after a normal close) and the others go on; the iteration ends once
    every member ended. ``group[server_id]`` is that member's :class:`Console`
    (its sends queue until it is connected). Leaving the block closes every member.
    """

    def __init__(
        self,
        panel_url: str,
        api_key: str,
        server_ids: Iterable[str],
        *,
        http_client: httpx.AsyncClient | None,
        stagger: float,
        options: dict[str, Any],
    ) -> None:
        ids = list(server_ids) if not isinstance(server_ids, str) else None
        if not ids:
            raise ValueError("server_ids: expected one or more server identifiers")
        if len(set(ids)) != len(ids):
            raise ValueError(f"server_ids: duplicates in {ids!r}")
        if not (isinstance(stagger, (int, float)) and math.isfinite(stagger) and stagger >= 0):
            raise ValueError(f"stagger: expected a finite number >= 0, got {stagger!r}")
        self._own_client = http_client is None
        self._http = http_client  # or one the group opens on entering
        self._stagger = float(stagger)
        console_args = {name: options.pop(name) for name in _CONSOLE_ARGS if name in options}
        # Built here so bad options fail before anything starts (naming the option).
        self._members: dict[str, Console] = {
            server_id: Console(
                panel_url,
                api_key,
                server_id,
                http_client=http_client,
                origin=console_args.get("origin"),
                rate_limit=console_args.get("rate_limit", True),
                replay_logs=console_args.get("replay_logs", True),
                stream_opener=console_args.get("stream_opener"),
                options=dict(options),
            )
            for server_id in ids
        }
        self._send, self._receive = trio.open_memory_channel[GroupEvent](_BUFFER)
        self._nursery_manager: Any = None
        self._nursery: trio.Nursery | None = None
        #: Members that have not ended yet.
        self.live: set[str] = set(ids)

    def __repr__(self) -> str:
        return f"<ConsoleGroup members={len(self._members)} live={len(self.live)}>"

    def __getitem__(self, server_id: str) -> Console:
        return self._members[server_id]

    def __contains__(self, server_id: object) -> bool:
        return server_id in self._members

    def __len__(self) -> int:
        return len(self._members)

    @property
    def server_ids(self) -> list[str]:
        """The members' server ids, in the order given."""
        return list(self._members)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> ConsoleGroup:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
            for console in self._members.values():
                console._share_panel_client(self._http)
        self._nursery_manager = trio.open_nursery()
        nursery = self._nursery = await self._nursery_manager.__aenter__()
        try:
            ready: list[trio.Event] = []
            for index, (server_id, console) in enumerate(self._members.items()):
                ready.append(trio.Event())
                delay = index * self._stagger
                nursery.start_soon(
                    self._member, server_id, console, delay, self._send.clone(), ready[-1]
                )
            for event in ready:
                await event.wait()
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        await self._send.aclose()  # the members hold clones: the stream ends with the last
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            if self._nursery_manager is not None:
                manager, self._nursery_manager = self._nursery_manager, None
                assert self._nursery is not None
                self._nursery.cancel_scope.cancel()
                await manager.__aexit__(None, None, None)
        finally:
            await self._receive.aclose()
            if self._own_client and self._http is not None:
                with trio.CancelScope(shield=True):
                    await self._http.aclose()
        return False

    async def _member(
        self,
        server_id: str,
        console: Console,
        delay: float,
        send: trio.MemorySendChannel[GroupEvent],
        ready: trio.Event,
    ) -> None:
        """One member's whole life, in one task (its nursery is opened and closed here)."""
        async with send:
            try:
                await console._start()
            finally:
                ready.set()
            error: BaseException | None = None
            try:
                await trio.sleep(delay)
                await console._first_connect()
                async for event in console:
                    await send.send((server_id, event))
            except Exception as exc:
                error = exc
                _log.info("console group: %s ended: %s", server_id, exc)
            finally:
                # Not under a shield: the nursery _start opened must be exited from
                # this very cancel-scope depth.
                await console._exit(None, None, None)
            self.live.discard(server_id)
            try:
                await send.send((server_id, ConsoleEnded(error)))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the group is closing: nobody is reading

    # ------------------------------------------------------------------ iteration

    def __aiter__(self) -> ConsoleGroup:
        return self

    async def __anext__(self) -> GroupEvent:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise StopAsyncIteration from None


def open_consoles(
    panel_url: str,
    api_key: str,
    server_ids: Iterable[str],
    *,
    http_client: httpx.AsyncClient | None = None,
    stagger: float = DEFAULT_STAGGER,
    **options: Any,
) -> ConsoleGroup:
    """``async with open_consoles(panel_url, api_key, ["a1b2", "c3d4"]) as group:``

    One :class:`Console` per server id, sharing one panel client (``http_client``, or
    one the group opens and closes) and one nursery; member ``i`` first connects
    ``i * stagger`` seconds after the block is entered. ``options`` are
    :func:`open_console` options, applied to every member. Entering returns once
    every member runs (not once each is connected: a member's first-connect failure
    comes as its ``ConsoleEnded``). Cancellation: leaving the block, or cancelling
    it, closes every member.
    """
    return ConsoleGroup(
        panel_url,
        api_key,
        server_ids,
        http_client=http_client,
        stagger=stagger,
        options=dict(options),
    )
