"""FakeWings: a fake Pterodactyl panel + Wings node for testing console clients.

The node is a real websocket server on loopback that speaks the Wings console
protocol as new Wings does (:mod:`._wings_node`); the panel is an httpx transport
answering the client API as the panel does (:mod:`._wings_panel`), so no HTTP server
is needed; the game server's state lives in :mod:`._wings_server`, tokens in
:mod:`._wings_tokens`, the configuration in :class:`FakeWingsConfig`::

    fake = FakeWings(server_id="abc123")
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)          # node on 127.0.0.1, a free port
        async with httpx.AsyncClient(transport=fake.panel_transport()) as http:
            async with open_console(fake.panel_url, fake.api_key, fake.server_id,
                                    http_client=http) as console:
                fake.console("Hello")            # helpers are sync: call them anywhere
        nursery.cancel_scope.cancel()

Everything runs on trio's clock (``trio.current_time()``), so tests can use
``autojump_clock`` to skip token lifetimes and check intervals (serve over memory
with ``stream_opener=fake.open_stream``). Every record the fake keeps is bounded.
Nothing is logged; ``repr`` shows no key or token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NoReturn

import attrs
import httpx
import trio
import trio.testing

from trio_pterows.pterodactyl._events import (
    CLOSE_GOING_AWAY,
    DELETED_CLOSE_REASON,
    Stats,
)

from ._wings_config import FakeWingsConfig
from ._wings_emit import ServerEventsMixin
from ._wings_node import NodeConnection, WingsNode
from ._wings_panel import PanelDouble, PanelRequest
from ._wings_server import ServerModel
from ._wings_tokens import TokenIssuer

__all__ = ["FakeWings", "FakeWingsConfig", "NodeConnection", "PanelRequest"]

TransferEnding = Literal["deleted", "close", "drop"]


class _Count:
    """A read-only count of a FakeWings (typed, unlike a ``property`` of a lambda)."""

    def __init__(self, read: Callable[[FakeWings], int]) -> None:
        self._read = read

    def __get__(self, fake: FakeWings, owner: type[FakeWings] | None = None) -> int:
        return self._read(fake)


class FakeWings(ServerEventsMixin):
    """A fake panel + Wings node for one server. See the module docstring.

    ``FakeWings(**fields)`` takes the fields of :class:`FakeWingsConfig` as keyword
    arguments (bad values raise naming the field), or ``FakeWings(config=...)``.
    """

    def __init__(self, *, config: FakeWingsConfig | None = None, **fields: Any) -> None:
        if config is None:
            config = FakeWingsConfig(**fields)
        elif fields:
            config = attrs.evolve(config, **fields)
        self.config: FakeWingsConfig = config
        self.server_id: str = config.server_id
        self.server_uuid: str = config.server_uuid
        self.api_key: str = config.api_key
        self.panel_url: str = config.panel_url.rstrip("/")
        self.panel_origin: str = config.panel_origin
        self._changed = trio.Event()
        self._tokens = TokenIssuer(
            panel_url=self.panel_url, server_uuid=config.server_uuid, lifetime=config.token_lifetime
        )
        self._server = ServerModel(config, self._publish, self._notify)
        self._node = WingsNode(config, self._server, self._tokens, self._notify)
        self._panel = PanelDouble(config, self._server, self._issue, self._notify)
        self._advertised_url: str | None = None
        self._serving = False
        self._nursery: trio.Nursery | None = None
        self._port: int | None = None
        #: Completed node transfers (each one is a "new node": earlier tokens fail).
        self.transfers = 0

    def __repr__(self) -> str:
        return (
            f"<FakeWings server={self.server_id} status={self.status} "
            f"socket={self.socket_url if self._port is not None else None} "
            f"connections={self.active_connections}>"
        )

    # ------------------------------------------------------------------ observation

    @property
    def port(self) -> int | None:
        """The node's port while :meth:`serve` runs, else ``None``."""
        return self._port

    @property
    def socket_url(self) -> str:
        """The node's console URL (what the panel hands out). Needs :meth:`serve`."""
        if self._port is None:
            raise RuntimeError("FakeWings is not serving: start fake.serve first")
        return f"ws://{self.config.host}:{self._port}/api/servers/{self.server_uuid}/ws"

    @property
    def status(self) -> str:
        """The power state: ``offline``, ``starting``, ``running`` or ``stopping``."""
        return self._server.status

    #: Handshakes accepted / refused (bad Origin, path, deleted server, the cap).
    connections_accepted = _Count(lambda fake: fake._node.counters.accepted)
    connections_rejected = _Count(lambda fake: fake._node.counters.rejected)
    #: ``auth`` frames handled (rate-limited ones excluded) / ``auth success`` sent.
    auths_received = _Count(lambda fake: fake._node.counters.auths_received)
    auth_successes = _Count(lambda fake: fake._node.counters.auth_successes)
    #: ``throttled`` sent; connections dropped because their outbound buffer filled up.
    throttled_sent = _Count(lambda fake: fake._node.counters.throttled_sent)
    overflow_drops = _Count(lambda fake: fake._node.counters.overflow_drops)
    #: Websocket connections open now; tokens the panel handed out.
    active_connections = _Count(lambda fake: len(fake._node.sessions))
    tokens_issued = _Count(lambda fake: fake._tokens.issued)

    @property
    def origins_seen(self) -> list[str | None]:
        """The ``Origin`` header of each handshake (``None``: absent), oldest first."""
        return list(self._node.origins_seen)

    @property
    def commands(self) -> list[str]:
        """Commands the server ran (``send command`` while not offline), oldest first."""
        return list(self._server.commands)

    @property
    def connections(self) -> list[NodeConnection]:
        """Records of the latest handshakes, oldest first."""
        return list(self._node.connections)

    @property
    def panel_requests(self) -> list[PanelRequest]:
        """Requests the fake panel answered, oldest first."""
        return list(self._panel.requests)

    @property
    def console_log(self) -> list[str]:
        """The console buffer ``send logs`` replays, oldest first."""
        return list(self._server.log)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` is true; it is re-checked whenever the fake changes.

        Bound it with ``trio.fail_after``. Cancellation: safe, nothing to undo.
        """
        await trio.lowlevel.checkpoint()
        while not predicate():
            await self._changed.wait()

    # ------------------------------------------------------------------ tokens

    def _issue(self) -> tuple[str, str] | None:
        if self._port is None:
            return None
        audience = f"http://{self.config.host}:{self._port}"
        token = self._tokens.issue(trio.current_time(), audience, self.config.permissions)
        return token, self._advertised_url or self.socket_url

    def expire_tokens(self, *, notify: bool = True) -> None:
        """Make every token issued so far expired, as if its lifetime were over.

        With ``notify``, authenticated sockets get what Wings' next check would send
        (``jwt error "jwt: exp claim is invalid"``) now.
        """
        self._tokens.expire_all()
        if notify:
            self._node.notify_tokens()

    def deny_tokens(self, *, notify: bool = True) -> None:
        """Put every token issued so far on the node's denylist (``jwt error "jwt:
        created too far in past (denylist)"``); a new token from the panel works. With
        ``notify``, authenticated sockets get that ``jwt error`` at once."""
        self._tokens.deny_all()
        if notify:
            self._node.notify_tokens()

    # ------------------------------------------------------------------ panel

    def panel_transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that answers as the panel (the real 409 texts, the server
        resource, 429 with Retry-After).

        Needs :meth:`serve` running for credentials (502 otherwise). Async clients only.
        """
        return self._panel.transport()

    def fail_next(
        self,
        status: int | None = 500,
        times: int = 1,
        *,
        retry_after: float | None = None,
        detail: str = "FakeWings: simulated failure",
    ) -> None:
        """Make the next ``times`` ``/websocket`` requests fail with ``status`` (and a
        ``Retry-After`` header, and ``detail`` as the error text). ``status=None``
        simulates a network error (:class:`httpx.ConnectError`)."""
        self._panel.fail_next(status, times, retry_after, detail)

    def advertise_socket_url(self, url: str | None) -> None:
        """Make the panel hand out ``url`` instead of the node's own socket URL (a proxy
        in front of the node; the path must stay ``/api/servers/<uuid>/ws``). ``None``
        goes back to the node's URL."""
        if url is not None and not url.startswith(("ws://", "wss://")):
            raise ValueError(f"url must be a ws:// or wss:// URL, got {url!r}")
        self._advertised_url = url

    def set_panel_latency(self, seconds: float) -> None:
        """Make every panel answer take ``seconds`` (trio time)."""
        if not (seconds == seconds and 0 <= seconds < float("inf")):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self._panel.latency = seconds

    # ------------------------------------------------------------------ node

    async def serve(
        self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Run the node: ``socket_url = await nursery.start(fake.serve)``.

        Listens on ``host`` (loopback) and ``port`` (a free one by default) until
        cancelled. Cancellation closes every connection (without a close handshake)
        and stops the listener; the fake may be served again afterwards.
        """
        if self._serving:
            raise RuntimeError("FakeWings is already serving")
        self._serving = True
        try:
            listeners = await trio.open_tcp_listeners(self.config.port, host=self.config.host)
        except BaseException:
            self._serving = False
            raise
        try:
            self._port = listeners[0].socket.getsockname()[1]
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._server.started(nursery)
                await nursery.start(trio.serve_listeners, self._node.handle_stream, listeners)
                task_status.started(self.socket_url)
                await trio.sleep_forever()
        finally:
            self._serving = False
            self._nursery = None
            self._port = None
            self._server.stopped()
            for listener in listeners:
                await trio.aclose_forcefully(listener)
            self._notify()
        raise AssertionError("unreachable")  # pragma: no cover

    async def open_stream(self, url: str) -> trio.abc.Stream:
        """Connect to the node through memory instead of TCP (a ``stream_opener``):
        ``open_console(..., stream_opener=fake.open_stream)`` makes tests under
        ``autojump_clock`` exact and instant. Needs :meth:`serve` running."""
        if self._nursery is None:
            raise RuntimeError("FakeWings is not serving: start fake.serve first")
        await trio.lowlevel.checkpoint()
        client, server = trio.testing.memory_stream_pair()
        self._nursery.start_soon(self._node.handle_stream, server)
        return client

    # ------------------------------------------------------------------ power & stats

    def set_status(self, status: str) -> None:
        """Set the power state at once (any power action in progress is abandoned)."""
        self._server.set_status(status)

    def set_resources(self, **changes: Any) -> None:
        """Change the figures ``stats`` reports (``memory_bytes=...``, ``cpu_absolute=...``,
        ``disk_io_read_bytes=...``). ``uptime`` and ``state`` are computed; while
        offline only ``disk_bytes`` and ``memory_limit_bytes`` are reported."""
        self._server.resources = attrs.evolve(self._server.resources, **changes)

    def current_stats(self) -> Stats:
        """The ``stats`` the node would send now."""
        return self._server.current_stats()

    def _publish(self, frame: str, permission: str | None) -> None:
        self._node.publish(frame, permission)

    # ------------------------------------------------------------------ connection control

    def close_all(self, code: int = 1000, reason: str = "") -> None:
        """Close every open socket with ``code`` and ``reason`` (after what is queued)."""
        self._node.for_each(lambda session: self._node.close(session, code, reason))

    def drop_all(self, *, reset: bool = False) -> None:
        """Abort every open socket with no close frame (``reset=True``: a TCP RST)."""
        self._node.for_each(lambda session: self._node.drop(session, reset=reset))

    def _drop_after_queue(self) -> None:
        self._node.for_each(self._node.drop_after_queue)

    @property
    def _failures(self) -> Any:  # read by tests/test_cli_units.py (the cli helper's)
        return self._panel._failures

    def suspend(self, *, panel_refuses: bool = True) -> None:
        """Suspend the server (as new Wings): live sockets are cancelled without a close
        frame; a socket that opens now is closed 4409 "server is suspended"; the panel's
        server resource says ``is_suspended`` and (``panel_refuses``) its ``/websocket``
        answers 409 — ``panel_refuses=False`` is Pelican's bypass for users who may
        update the server: credentials are handed out, the node closes 4409. Until
        :meth:`unsuspend`."""
        self._server.suspended = True
        self._server.panel_bypass = not panel_refuses
        self.drop_all()

    def unsuspend(self) -> None:
        """Undo :meth:`suspend`."""
        self._server.suspended = False

    def set_state_conflict(
        self, *, installing: bool = False, restoring: bool = False, maintenance: bool = False
    ) -> None:
        """The transient states the panel answers 409 for (all off: back to normal)."""
        self._server.installing = installing
        self._server.restoring = restoring
        self._server.maintenance = maintenance

    def delete(self, *, legacy: bool = False) -> None:
        """Delete the server: ``deleted`` ``["null"]`` to every authenticated socket, then
        a drop (new Wings); ``legacy=True``: close 1001 "server deleted" (older Wings).
        Afterwards the panel and the node answer 404."""
        self._server.deleted = True
        if legacy:
            self.close_all(CLOSE_GOING_AWAY, DELETED_CLOSE_REASON)
            return
        self.emit("deleted", "null")
        self._drop_after_queue()

    def begin_transfer(self, *, panel_answer: Literal[403, 409] = 409) -> None:
        """A node transfer starts: ``transfer status "processing"``; the panel refuses
        credentials with ``panel_answer`` (409, or the 403 admins past it get) and its
        server resource says ``is_transferring``, until :meth:`complete_transfer`."""
        self._server.transferring = True
        self._panel.transfer_answer = panel_answer
        self.transfer_status("processing")

    def complete_transfer(self, *, ending: TransferEnding = "deleted") -> None:
        """The transfer succeeded: ``transfer status "completed"``, then the source node
        ends the socket (``ending``: ``deleted`` + a drop, a 1001 "server deleted" close,
        or a plain drop). The server now lives on a "new node": tokens issued so far no
        longer verify, and the panel hands out fresh credentials again."""
        self.transfer_status("completed")
        self._server.transferring = False
        self.transfers += 1
        if ending == "deleted":
            self.emit("deleted", "null")
        if ending == "close":
            self.close_all(CLOSE_GOING_AWAY, DELETED_CLOSE_REASON)
        else:
            self._drop_after_queue()
        self._tokens.rotate_key()
        self._notify()
