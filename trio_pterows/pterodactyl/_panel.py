"""The one panel API call the console needs: websocket credentials (token + socket URL).

``GET {panel}/api/client/servers/{server}/websocket`` with the client API key returns
``{"data": {"token": "<JWT>", "socket": "wss://node:8080/api/servers/<uuid>/ws"}}``.
The API key goes to the panel only; the node only ever sees the token. Neither is
ever logged, put in an exception message or shown by ``repr``.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
import httpx

from trio_pterows.pterodactyl._exceptions import PanelAPIError, is_fatal_status

__all__ = ["Credentials", "fetch_credentials", "origin_for", "websocket_endpoint"]

_log = logging.getLogger("trio_pterows.pterodactyl")

#: Short identifiers (``1a2b3c4d``) and full UUIDs; nothing that could change the path.
_SERVER_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: At most this much of the panel's error detail goes into an exception message.
_DETAIL_LIMIT: Final = 200


@attrs.frozen
class Credentials:
    """What the panel hands out for one console session.

    ``token`` is a JWT valid for about ten minutes; it is left out of ``repr``.
    ``socket_url`` is the node's ``ws://`` or ``wss://`` console URL.
    """

    token: str = attrs.field(repr=False)
    socket_url: str


def _split_panel_url(panel_url: str) -> tuple[str, str, int | None, str]:
    if not isinstance(panel_url, str):
        raise TypeError(f"panel_url must be a str, not {type(panel_url).__name__}")
    try:
        parts = urlsplit(panel_url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"panel_url is not a valid URL: {panel_url!r}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"panel_url must be an http:// or https:// URL, got {panel_url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("panel_url must not contain credentials")
    if parts.query or parts.fragment:
        raise ValueError(f"panel_url must not have a query or fragment, got {panel_url!r}")
    return scheme, parts.hostname.lower(), port, parts.path.rstrip("/")


def origin_for(panel_url: str) -> str:
    """The ``Origin`` the node expects: ``scheme://host[:port]`` of the panel URL.

    The port appears only when it is not the scheme's default. :class:`ValueError`
    if ``panel_url`` is not an http(s) URL.
    """
    scheme, host, port, _ = _split_panel_url(panel_url)
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _check_server_id(server_id: str) -> None:
    if not isinstance(server_id, str):
        raise TypeError(f"server_id must be a str, not {type(server_id).__name__}")
    if not _SERVER_ID_RE.fullmatch(server_id):
        raise ValueError(
            f"server_id must be a server identifier or UUID "
            f"(letters, digits, '-' and '_'), got {server_id!r}"
        )


def websocket_endpoint(panel_url: str, server_id: str) -> str:
    """``{panel}/api/client/servers/{server_id}/websocket``, validated."""
    path = _split_panel_url(panel_url)[3]
    _check_server_id(server_id)
    return f"{origin_for(panel_url)}{path}/api/client/servers/{server_id}/websocket"


def _check_api_key(api_key: str) -> None:
    if not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, not {type(api_key).__name__}")
    if not api_key or any(c in api_key for c in "\r\n\x00") or api_key != api_key.strip():
        # Never echo the key, not even a bad one.
        raise ValueError("api_key must be a non-empty string without whitespace around it")


def _error_detail(response: httpx.Response) -> str:
    """The panel's first error ``detail`` (Pterodactyl's error format), shortened."""
    try:
        body: Any = json.loads(response.content)
        detail = body["errors"][0]["detail"]
    except (ValueError, TypeError, KeyError, IndexError, RecursionError):
        return ""
    if not isinstance(detail, str):
        return ""
    detail = " ".join(detail.split())
    if len(detail) > _DETAIL_LIMIT:
        detail = detail[: _DETAIL_LIMIT - 3] + "..."
    return detail


def _parse_body(response: httpx.Response, url: str) -> Credentials:
    def malformed(what: str) -> PanelAPIError:
        return PanelAPIError(
            f"panel GET {url} returned a malformed body: {what}",
            status_code=response.status_code,
            fatal=False,
        )

    try:
        body: Any = json.loads(response.content)
    except (ValueError, RecursionError):
        raise malformed("not JSON") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise malformed('no "data" object')
    token = data.get("token")
    socket = data.get("socket")
    if not isinstance(token, str) or not token:
        raise malformed('no "data.token" string')
    if not isinstance(socket, str):
        raise malformed('no "data.socket" string')
    try:
        parts = urlsplit(socket)
        scheme = parts.scheme.lower()
        has_host = bool(parts.hostname)
    except ValueError:
        raise malformed('"data.socket" is not a URL') from None
    if scheme in ("http", "https"):
        socket = "ws" + socket[len("http") :]
    elif scheme not in ("ws", "wss"):
        raise malformed('"data.socket" is not a ws:// or wss:// URL')
    if not has_host:
        raise malformed('"data.socket" has no host')
    return Credentials(token=token, socket_url=socket)


async def fetch_credentials(
    client: httpx.AsyncClient,
    panel_url: str,
    api_key: str,
    server_id: str,
) -> Credentials:
    """Fetch a websocket token and the node's socket URL from the panel.

    Sends ``GET {panel_url}/api/client/servers/{server_id}/websocket`` with
    ``Authorization: Bearer <api_key>`` through ``client`` (its timeouts apply).

    Raises :class:`ValueError` / :class:`TypeError` for a bad ``panel_url``,
    ``server_id`` or ``api_key``, and :class:`PanelAPIError` when the request fails:
    ``status_code`` 401/403/404 (and other 4xx, 3xx) are ``fatal``; 5xx, 408, 409,
    425, 429 and network errors (``status_code=None``, the httpx error chained as
    ``__cause__``) are retryable; a body that is not the expected JSON is retryable.

    Cancellation: safe to cancel at any point; nothing is left behind.
    """
    _check_api_key(api_key)
    url = websocket_endpoint(panel_url, server_id)
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    _log.debug("fetching websocket credentials: GET %s", url)
    try:
        response = await client.get(url, headers=headers)
    except httpx.RequestError as exc:
        _log.debug("panel request GET %s failed: %s", url, type(exc).__name__)
        raise PanelAPIError(
            f"panel GET {url} failed: {type(exc).__name__}: {exc}",
            status_code=None,
            fatal=False,
        ) from exc
    status = response.status_code
    if not 200 <= status < 300:
        detail = _error_detail(response)
        message = f"panel GET {url} failed: HTTP {status} {response.reason_phrase}".rstrip()
        if detail:
            message = f"{message}: {detail}"
        if 300 <= status < 400:
            message = f"{message} (redirect: use the final panel URL)"
        _log.debug("panel request GET %s failed: HTTP %d", url, status)
        raise PanelAPIError(message, status_code=status, fatal=is_fatal_status(status))
    credentials = _parse_body(response, url)
    _log.debug("panel issued websocket credentials for %s", credentials.socket_url)
    return credentials
