"""FakeWings' panel: an httpx transport answering the client API as the real panel does.

- ``GET /api/client/servers/{id}/websocket``: 200 ``{"data": {"token", "socket"}}``;
  401 without the key; 404 for another (or a deleted) server; 409
  ``ServerStateConflictException`` with the panel's texts while suspended, installing,
  restoring, transferring or under maintenance; 403 "You do not have permission to
  view server transfer logs." during a transfer for a caller past the 409
  (``transfer_answer=403``); 429 with ``Retry-After`` past ``panel_rate_limit`` a minute.
- ``GET /api/client/servers/{id}``: the server resource, readable in every state
  (``is_suspended``, ``is_transferring``, ``status``...).
"""

from __future__ import annotations

import hmac
import math
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import trio

from trio_pterows.pterodactyl._panel import origin_for

from ._wings_config import FakeWingsConfig
from ._wings_server import ServerModel

__all__ = ["PanelDouble", "PanelRequest"]

_WINDOW = 60.0
_TRANSFER_403 = "You do not have permission to view server transfer logs."


@attrs.frozen
class PanelRequest:
    """One request the fake panel answered. The ``Authorization`` value is not kept."""

    method: str
    path: str
    status: int | None
    """HTTP status answered, or ``None`` when a network error was simulated."""
    authorized: bool
    """Whether ``Authorization: Bearer <api_key>`` was presented."""
    accept: str | None


@attrs.frozen
class _Failure:
    status: int | None
    retry_after: float | None
    detail: str


class PanelDouble:
    """The panel's answers. ``issue`` hands out ``(token, socket_url)`` or ``None``."""

    def __init__(
        self,
        config: FakeWingsConfig,
        server: ServerModel,
        issue: Callable[[], tuple[str, str] | None],
        notify: Callable[[], None],
    ) -> None:
        self._config = config
        self._server = server
        self._issue = issue
        self._notify = notify
        self._path = httpx.URL(config.panel_url).path.rstrip("/")
        self._failures: deque[_Failure] = deque()
        self._recent: deque[float] = deque()
        self.requests: deque[PanelRequest] = deque(maxlen=config.history)
        self.latency = 0.0
        #: What a transfer answers: 409 (most callers) or 403 (admins past the 409).
        self.transfer_answer = 409

    def fail_next(
        self, status: int | None, times: int, retry_after: float | None, detail: str
    ) -> None:
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status or None, got {status!r}")
        if times < 0:
            raise ValueError(f"times must be >= 0, got {times!r}")
        if retry_after is not None and not (math.isfinite(retry_after) and retry_after >= 0):
            raise ValueError(f"retry_after must be a finite number >= 0, got {retry_after!r}")
        self._failures.extend([_Failure(status, retry_after, detail)] * times)

    def transport(self) -> httpx.AsyncBaseTransport:
        return _PanelTransport(self)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await trio.lowlevel.checkpoint()
        if self.latency:
            await trio.sleep(self.latency)
        authorized = hmac.compare_digest(
            request.headers.get("authorization", "").encode(),
            f"Bearer {self._config.api_key}".encode(),
        )

        def answer(
            status: int | None, body: dict[str, Any], headers: dict[str, str] | None = None
        ) -> httpx.Response:
            self.requests.append(
                PanelRequest(
                    method=request.method,
                    path=request.url.path,
                    status=status,
                    authorized=authorized,
                    accept=request.headers.get("accept"),
                )
            )
            self._notify()
            if status is None:
                raise httpx.ConnectError("FakeWings: simulated network error", request=request)
            return httpx.Response(status, json=body, headers=headers, request=request)

        def error(
            status: int, code: str, detail: str, headers: dict[str, str] | None = None
        ) -> httpx.Response:
            errors = [{"code": code, "status": str(status), "detail": detail}]
            return answer(status, {"errors": errors}, headers)

        target = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
        if origin_for(target) != self._config.panel_origin:
            return answer(None, {})
        server_path = f"{self._path}/api/client/servers/{self._config.server_id}"
        websocket = request.url.path == f"{server_path}/websocket"
        if websocket and self._failures:
            failure = self._failures.popleft()
            if failure.status is None:
                return answer(None, {})
            headers = None
            if failure.retry_after is not None:
                headers = {"Retry-After": f"{failure.retry_after:g}"}
            return error(failure.status, "HttpException", failure.detail, headers)
        if not authorized:
            return error(401, "AuthenticationException", "Unauthenticated.")
        if request.url.path not in (server_path, f"{server_path}/websocket") or (
            self._server.deleted
        ):
            return error(404, "NotFoundHttpException", "The requested resource could not be found.")
        if request.method != "GET":
            return error(405, "MethodNotAllowedHttpException", "Method not allowed.")
        if not websocket:
            attributes = self._server.resource_attributes()
            return answer(200, {"object": "server", "attributes": attributes})
        limited = self._rate_limited()
        if limited is not None:
            return error(
                429, "TooManyRequestsHttpException", "Too Many Attempts.", {"Retry-After": limited}
            )
        conflict = self._server.conflict()
        if conflict is not None:
            if (
                self._server.transferring
                and not self._server.suspended
                and (self.transfer_answer == 403)
            ):
                return error(403, "AccessDeniedHttpException", _TRANSFER_403)
            return error(409, "ServerStateConflictException", conflict)
        issued = self._issue()
        if issued is None:
            return error(502, "HttpException", "FakeWings: the node is not serving")
        token, socket_url = issued
        return answer(200, {"data": {"token": token, "socket": socket_url}})

    def _rate_limited(self) -> str | None:
        """Pelican's per-server throttle on ``/websocket``: the Retry-After, or None."""
        limit = self._config.panel_rate_limit
        if limit is None:
            return None
        now = trio.current_time()
        while self._recent and self._recent[0] <= now - _WINDOW:
            self._recent.popleft()
        if len(self._recent) >= limit:
            return str(max(1, math.ceil(self._recent[0] + _WINDOW - now)))
        self._recent.append(now)
        return None


class _PanelTransport(httpx.AsyncBaseTransport):
    """The fake panel as an httpx transport (see :meth:`FakeWings.panel_transport`)."""

    def __init__(self, panel: PanelDouble) -> None:
        self._panel = panel

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return await self._panel.handle(request)
