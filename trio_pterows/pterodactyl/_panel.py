"""The panel API calls the console needs: websocket credentials, and the server's state.

``GET {panel}/api/client/servers/{server}/websocket`` with the client API key returns
``{"data": {"token": "<JWT>", "socket": "wss://node:8080/api/servers/<uuid>/ws"}}``.
The API key goes to the panel only; the node only ever sees the token. Neither is
ever logged, put in an exception message or shown by ``repr``: a panel (or a proxy in
front of it) that echoes the key in an error text has it redacted.

How the answers are judged (``reference/pterodactyl-protocol.md``): a 409 is final when
the server resource ``GET /api/client/servers/{server}`` says ``is_suspended`` and
transient otherwise (installing, restoring, transferring, node maintenance); a 403 is
transient while that resource says ``is_transferring`` (the transfer-logs refusal);
a 429 carries ``Retry-After`` (:attr:`PanelAPIError.retry_after`); a TLS certificate
failure is final. Neither decision reads the panel's (translated) message text.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import ssl
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
import httpx

from trio_pterows.pterodactyl._exceptions import PanelAPIError, is_fatal_status

__all__ = [
    "Credentials",
    "ServerState",
    "fetch_credentials",
    "fetch_server_state",
    "origin_for",
    "redact_key",
    "server_endpoint",
    "websocket_endpoint",
]

_log = logging.getLogger("trio_pterows.pterodactyl")

#: Short identifiers (``1a2b3c4d``) and full UUIDs; nothing that could change the path.
_SERVER_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: At most this much of the panel's error detail goes into an exception message.
_DETAIL_LIMIT: Final = 200
_REDACTED: Final = "[redacted]"


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


def server_endpoint(panel_url: str, server_id: str) -> str:
    """``{panel}/api/client/servers/{server_id}`` (the server resource), validated."""
    path = _split_panel_url(panel_url)[3]
    _check_server_id(server_id)
    return f"{origin_for(panel_url)}{path}/api/client/servers/{server_id}"


def websocket_endpoint(panel_url: str, server_id: str) -> str:
    """``{panel}/api/client/servers/{server_id}/websocket``, validated."""
    return f"{server_endpoint(panel_url, server_id)}/websocket"


def redact_key(text: str, api_key: str) -> str:
    """``text`` with every occurrence of ``api_key`` replaced by ``[redacted]``."""
    if api_key and api_key in text:
        return text.replace(api_key, _REDACTED)
    return text


def _check_api_key(api_key: str) -> None:
    if not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, not {type(api_key).__name__}")
    if not api_key or any(c in api_key for c in "\r\n\x00") or api_key != api_key.strip():
        # Never echo the key, not even a bad one.
        raise ValueError("api_key must be a non-empty string without whitespace around it")


def _error_detail(response: httpx.Response, api_key: str) -> str:
    """The panel's first error ``detail`` (Pterodactyl's error format), redacted, shortened."""
    try:
        body: Any = json.loads(response.content)
        detail = body["errors"][0]["detail"]
    except (ValueError, TypeError, KeyError, IndexError, RecursionError):
        return ""
    if not isinstance(detail, str):
        return ""
    detail = redact_key(" ".join(detail.split()), api_key)
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


@attrs.frozen
class ServerState:
    """What the panel's server resource says about the server's state.

    ``status`` is the panel's ``status`` attribute (``installing``, ``suspended``,
    ``restoring_backup``... or ``None``).
    """

    is_suspended: bool
    is_transferring: bool
    is_installing: bool
    is_node_under_maintenance: bool
    status: str | None


def _flag(attributes: dict[str, Any], name: str) -> bool:
    return attributes.get(name) is True


async def fetch_server_state(
    client: httpx.AsyncClient, panel_url: str, api_key: str, server_id: str
) -> ServerState | None:
    """``GET {panel}/api/client/servers/{server_id}``: the server's state, or ``None``
    when the panel gave no readable answer (any failure; nothing is raised for it).

    The resource stays readable while the server is suspended, installing or being
    transferred, so it tells a final 409 from a transient one. Cancellation: safe.
    """
    _check_api_key(api_key)
    url = server_endpoint(panel_url, server_id)
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    try:
        response = await client.get(url, headers=headers)
        body: Any = json.loads(response.content) if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, RecursionError):
        return None
    attributes = body.get("attributes") if isinstance(body, dict) else None
    if not isinstance(attributes, dict):
        return None
    status = attributes.get("status")
    return ServerState(
        is_suspended=_flag(attributes, "is_suspended") or status == "suspended",
        is_transferring=_flag(attributes, "is_transferring"),
        is_installing=_flag(attributes, "is_installing"),
        is_node_under_maintenance=_flag(attributes, "is_node_under_maintenance"),
        status=status if isinstance(status, str) else None,
    )


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date measured against the
    response's own ``Date`` (no local clock is read). ``None`` if absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            now = email.utils.parsedate_to_datetime(response.headers.get("date", ""))
            seconds = (when - now).total_seconds()
        except (TypeError, ValueError, IndexError):
            return None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def _is_certificate_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        current = current.__cause__ or current.__context__
    return False


async def _judge(
    client: httpx.AsyncClient,
    panel_url: str,
    api_key: str,
    server_id: str,
    status: int,
) -> tuple[bool, str]:
    """Whether a 403/409 is final, decided by the server resource: (fatal, why)."""
    state = await fetch_server_state(client, panel_url, api_key, server_id)
    if status == 409:
        if state is not None and state.is_suspended:
            return True, "the server is suspended"
        return False, "the server is busy (installing, restoring, transferring or maintenance)"
    if state is not None and state.is_transferring:
        return False, "the server is being transferred"
    return True, ""


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
    401, 404 (and other 4xx, 3xx) are ``fatal``; 403 is fatal unless the server is
    being transferred; 409 is fatal when the server is suspended (both asked of the
    server resource, see :func:`fetch_server_state`), else retryable; 5xx, 408, 425,
    429 (with its ``retry_after``) and network errors
    (``status_code=None``, the httpx error chained as ``__cause__``) are retryable,
    except a TLS certificate failure; a body that is not the expected JSON is
    retryable. Error texts never contain ``api_key``.

    Cancellation: safe to cancel at any point; nothing is left behind.
    """
    _check_api_key(api_key)
    url = websocket_endpoint(panel_url, server_id)
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    _log.debug("fetching websocket credentials: GET %s", url)
    try:
        response = await client.get(url, headers=headers)
    except httpx.RequestError as exc:
        certificate = _is_certificate_error(exc)
        _log.debug("panel request GET %s failed: %s", url, type(exc).__name__)
        text = redact_key(f"{type(exc).__name__}: {exc}", api_key)
        if certificate:
            text = f"{text} (the panel's TLS certificate was refused: not retrying)"
        raise PanelAPIError(
            f"panel GET {url} failed: {text}", status_code=None, fatal=certificate
        ) from exc
    status = response.status_code
    if not 200 <= status < 300:
        detail = _error_detail(response, api_key)
        reason = redact_key(response.reason_phrase, api_key)
        message = f"panel GET {url} failed: HTTP {status} {reason}".rstrip()
        if detail:
            message = f"{message}: {detail}"
        if 300 <= status < 400:
            message = f"{message} (redirect: use the final panel URL)"
        fatal = is_fatal_status(status)
        if status in (403, 409):
            fatal, why = await _judge(client, panel_url, api_key, server_id, status)
            if why:
                message = f"{message} ({why})"
        retry_after = _retry_after(response) if status in (429, 503) else None
        _log.debug("panel request GET %s failed: HTTP %d", url, status)
        raise PanelAPIError(message, status_code=status, fatal=fatal, retry_after=retry_after)
    credentials = _parse_body(response, url)
    _log.debug("panel issued websocket credentials for %s", credentials.socket_url)
    return credentials
