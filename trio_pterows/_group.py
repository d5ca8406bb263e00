"""Connection groups: many AdvancedWebSockets in one nursery, with one connect budget.

::

    async with pw.open_websocket_group(
        {"eu": "wss://eu.example/feed", "us": "wss://us.example/feed"},
        max_concurrent_connects=4,
        auto_reconnect=True,
    ) as group:
        await group["eu"].send("hello")
        async for name, message in group:
            match message:
                case pw.MemberEnded(error=error): ...
                case _: ...

Task layout::

    the caller's task
    ├── member nurseries      one AdvancedWebSocket per member (entered, not connected)
    └── group nursery
        └── one pump per member: jittered start, connect(), then ``async for`` over
            the member, each message tagged with its name into one bounded channel

Every handshake of every member — the first connect and every reconnect — is entered
through the same :class:`trio.CapacityLimiter`: at most ``max_concurrent_connects``
handshakes run at once, so a server restart does not bring every member back in the
same instant.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, final

import attrs
import trio

from ._manager import AdvancedWebSocket
from ._options import WSConnectionOptions

__all__ = ["GroupStatistics", "MemberEnded", "WebSocketGroup", "open_websocket_group"]

#: Tagged messages waiting for the group's consumer. A full channel blocks the pumps;
#: each member's own incoming buffer (``incoming_queue_limit`` and
#: ``incoming_overflow``) then decides, as it does without a group.
GROUP_BUFFER = 64

StreamOpener = Callable[[str], Awaitable[trio.abc.Stream]]


@attrs.frozen
class MemberEnded:
    """Yielded once, as ``(name, MemberEnded(error))``, when a member ended for good.

    ``error`` is what ended it: the :class:`ConnectionFailed` of a connect that gave
    up, the :class:`ConnectionLost` of a fatal close, any error its iteration raised;
    None when it ended cleanly (its ``close()``, or a clean close by the peer without
    ``auto_reconnect``). The other members go on.
    """

    error: BaseException | None


@attrs.frozen(kw_only=True)
class GroupStatistics:
    """A snapshot of a group (``group.statistics()``)."""

    #: Members in the group.
    members: int
    #: Members that ended for good (their :class:`MemberEnded` was queued).
    ended: int
    #: Handshakes running now, among every member (at most ``max_concurrent_connects``).
    connects_in_progress: int
    #: Handshakes waiting for the budget.
    connects_waiting: int
    #: The budget: ``max_concurrent_connects``.
    max_concurrent_connects: int


@final
class _Slot:
    """One handshake's place in the budget. A fresh token per handshake, so the
    budget never depends on which task runs the handshake."""

    __slots__ = ("_limiter", "_token")

    def __init__(self, limiter: trio.CapacityLimiter) -> None:
        self._limiter = limiter
        self._token = object()

    async def __aenter__(self) -> None:
        await self._limiter.acquire_on_behalf_of(self._token)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._limiter.release_on_behalf_of(self._token)


def _member_options(name: object, member: object, common: Mapping[str, Any]) -> WSConnectionOptions:
    if isinstance(member, str):
        try:
            return WSConnectionOptions(url=member, **common)
        except TypeError as exc:
            raise TypeError(f"members[{name!r}]: {exc}") from None
    if isinstance(member, WSConnectionOptions):
        return member.evolve(**common) if common else member
    raise TypeError(
        f"members[{name!r}]: expected a URL or WSConnectionOptions, got {type(member).__name__}"
    )


def open_websocket_group(
    members: Mapping[str, str | WSConnectionOptions],
    *,
    max_concurrent_connects: int = 4,
    stream_opener: StreamOpener | None = None,
    **common_options: Any,
) -> WebSocketGroup:
    """A group of connections: ``async with pw.open_websocket_group(members) as group:``.

    ``members`` maps a name to a ``ws://`` / ``wss://`` URL or to
    :class:`WSConnectionOptions`. ``common_options`` are WSConnectionOptions fields
    applied to every member (over a member's own WSConnectionOptions).
    ``stream_opener`` is passed to every member (see :class:`AdvancedWebSocket`).
    Every option is validated here, before anything connects; a bad one raises
    :class:`ValueError` / :class:`TypeError` naming the member and the option.

    Entering the group enters every member and starts connecting them in the
    background, each after a random delay of up to its ``jitter`` option, and never
    more than ``max_concurrent_connects`` handshakes at a time (reconnects included).
    Leaving it closes every member (as :meth:`AdvancedWebSocket.aclose`).
    """
    if not isinstance(max_concurrent_connects, int) or isinstance(max_concurrent_connects, bool):
        raise TypeError(
            "max_concurrent_connects: expected an int, "
            f"got {type(max_concurrent_connects).__name__}"
        )
    if max_concurrent_connects < 1:
        raise ValueError(f"max_concurrent_connects: must be >= 1, got {max_concurrent_connects!r}")
    if not isinstance(members, Mapping):
        raise TypeError(f"members: expected a mapping of name to URL, got {type(members).__name__}")
    if not members:
        raise ValueError("members: the group needs at least one member")
    options: dict[str, WSConnectionOptions] = {}
    for name, member in members.items():
        if not isinstance(name, str):
            raise TypeError(f"members: names must be str, got {name!r}")
        options[name] = _member_options(name, member, common_options)
    return WebSocketGroup(options, max_concurrent_connects, stream_opener)


@final
class WebSocketGroup:
    """Members that share a nursery and a connect budget; see
    :func:`~trio_pterows.open_websocket_group`.

    ``group[name]`` is the member's :class:`~trio_pterows.AdvancedWebSocket` (send through it, read
    its metrics, close it). ``async for name, message in group`` yields every
    member's incoming messages tagged with its name, and ``(name, MemberEnded(error))``
    once when a member ended for good; the iteration ends when every member has
    ended. Do not iterate a member directly as well: the group's pump is its consumer.
    """

    __slots__ = (
        "_budget",
        "_ended",
        "_entered",
        "_members",
        "_nursery",
        "_nursery_manager",
        "_receive",
        "_send",
    )

    def __init__(
        self,
        options: Mapping[str, WSConnectionOptions],
        max_concurrent_connects: int,
        stream_opener: StreamOpener | None,
    ) -> None:
        self._budget = trio.CapacityLimiter(max_concurrent_connects)
        self._members: dict[str, AdvancedWebSocket] = {
            name: AdvancedWebSocket(
                opts, stream_opener=stream_opener, _connect_gate=self._connect_gate
            )
            for name, opts in options.items()
        }
        self._send, self._receive = trio.open_memory_channel[tuple[str, Any]](GROUP_BUFFER)
        self._ended: set[str] = set()
        self._entered: list[AdvancedWebSocket] = []
        self._nursery_manager: AbstractAsyncContextManager[trio.Nursery] | None = None
        self._nursery: trio.Nursery | None = None

    def _connect_gate(self) -> AbstractAsyncContextManager[None]:
        return _Slot(self._budget)

    # ------------------------------------------------------------------ members

    def __getitem__(self, name: str) -> AdvancedWebSocket:
        try:
            return self._members[name]
        except KeyError:
            raise KeyError(f"no member named {name!r} in this group") from None

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def statistics(self) -> GroupStatistics:
        """Members, ended members, and the connect budget's use right now."""
        budget = self._budget.statistics()
        return GroupStatistics(
            members=len(self._members),
            ended=len(self._ended),
            connects_in_progress=budget.borrowed_tokens,
            connects_waiting=budget.tasks_waiting,
            max_concurrent_connects=int(budget.total_tokens),
        )

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> WebSocketGroup:
        if self._nursery_manager is not None:
            raise RuntimeError("a websocket group can be entered only once")
        self._nursery_manager = trio.open_nursery()
        try:
            for ws in self._members.values():
                await ws.__aenter__()
                self._entered.append(ws)
            self._nursery = await self._nursery_manager.__aenter__()
        except BaseException:
            await self._close_members()
            raise
        for name, ws in self._members.items():
            self._nursery.start_soon(self._pump, name, ws, self._send.clone())
        await self._send.aclose()  # the pumps hold the clones: the last one ends iteration
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        """Close every member. Cancellation: the members' sockets are still closed,
        without waiting for their close handshakes."""
        assert self._nursery is not None
        assert self._nursery_manager is not None
        self._nursery.cancel_scope.cancel()
        try:
            # The body's exception is not handed to the nursery (it would come back
            # in an ExceptionGroup): the pumps never raise by design.
            await self._nursery_manager.__aexit__(None, None, None)
        finally:
            await self._receive.aclose()
            await self._close_members()
        return False

    async def _close_members(self) -> None:
        # Last entered, first left: each member's nursery is nested in the previous.
        while self._entered:
            await self._entered.pop().__aexit__(None, None, None)

    async def _pump(
        self, name: str, ws: AdvancedWebSocket, send: trio.MemorySendChannel[tuple[str, Any]]
    ) -> None:
        async with send:
            error: BaseException | None = None
            try:
                jitter = ws.options.jitter
                if jitter > 0:
                    await trio.sleep(random.uniform(0, jitter))
                await ws.connect()
                async for message in ws:
                    await send.send((name, message))
            except Exception as exc:
                error = exc
            self._ended.add(name)
            await send.send((name, MemberEnded(error)))

    # ------------------------------------------------------------------ iteration

    def __aiter__(self) -> WebSocketGroup:
        return self

    async def __anext__(self) -> tuple[str, Any]:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def receive(self) -> tuple[str, Any]:
        """The next ``(name, message)`` or ``(name, MemberEnded(error))``.

        Raises :exc:`trio.EndOfChannel` once every member has ended. Cancellation
        loses nothing: a message not yet returned stays for the next call.
        """
        if self._nursery is None:
            raise RuntimeError("use `async with open_websocket_group(...) as group:` first")
        return await self._receive.receive()

    def __repr__(self) -> str:
        return f"<WebSocketGroup members={len(self._members)} ended={len(self._ended)}>"
