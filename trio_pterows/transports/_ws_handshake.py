"""The opening handshake of the websockets transport, over a trio stream.

websockets' Sans-I/O :class:`~websockets.client.ClientProtocol` builds the request and
checks the response (``Sec-WebSocket-Accept``, subprotocol, extensions); this module does
the I/O and turns every refusal into a :class:`HandshakeError` that names its cause.
A refusal's body is read only up to :data:`MAX_REJECTION_BODY` bytes, whatever its
``Content-Length``: the raw bytes are watched alongside the protocol, which would
otherwise wait for a body of up to 1 MiB before reporting anything.
"""

from __future__ import annotations

import logging
import ssl
from typing import TYPE_CHECKING, Any

import trio
from websockets.client import ClientProtocol
from websockets.exceptions import (
    InvalidHandshake,
    InvalidHeader,
    InvalidHeaderValue,
    InvalidStatus,
    InvalidUpgrade,
    NegotiationError,
)
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.http11 import Response
from websockets.protocol import CLIENT, OPEN, Protocol
from websockets.typing import Subprotocol
from websockets.uri import WebSocketURI

from ._base import MAX_REJECTION_BODY, HandshakeError, HandshakeParams

if TYPE_CHECKING:
    from websockets.protocol import Event

__all__ = ["run_handshake"]

#: The status line and headers of a response, at most (websockets' own limits are larger).
_MAX_HEAD = 64 * 1024
_HEAD_END = b"\r\n\r\n"

_protocol_logger = logging.getLogger("trio_pterows.transports.websockets")


class _QuietLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The protocol's logger, with DEBUG off for good.

    websockets logs every handshake header at DEBUG (``Authorization`` and cookies
    included); a user who turns on DEBUG for ``trio_pterows`` must not get those.
    """

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return msg, kwargs


_QUIET = _QuietLogger(_protocol_logger, {})


def _new_protocol(params: HandshakeParams) -> ClientProtocol:
    # Only the resource matters: the Host header is replaced by the caller's below.
    uri = WebSocketURI(False, "localhost", 80, params.resource, "")
    extensions = enable_client_permessage_deflate(None) if params.compression else None
    subprotocols = [Subprotocol(p) for p in params.subprotocols] if params.subprotocols else None
    return ClientProtocol(
        uri,
        extensions=extensions,
        subprotocols=subprotocols,
        max_size=params.max_message_size,
        logger=_QUIET,
    )


def _refusal(head: bytes | bytearray, body: bytes | bytearray) -> HandshakeError:
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        return HandshakeError(f"the server did not answer with HTTP: {status_line[:80]!r}")
    return _status_error(status, body)


def _status_error(status: int, body: bytes | bytearray) -> HandshakeError:
    body = bytes(body[:MAX_REJECTION_BODY])
    return HandshakeError(
        f"the server refused the WebSocket upgrade: HTTP {status}",
        status_code=status,
        body=body,
    )


def _invalid(exc: Exception, response: Response | None = None) -> HandshakeError:
    """A response that is not a refusal but a bad upgrade: name what is wrong (and
    what the server sent, for an unrequested subprotocol or extension)."""
    if isinstance(exc, InvalidStatus):
        return _status_error(exc.response.status_code, exc.response.body)
    if isinstance(exc, InvalidHeaderValue) and exc.name == "Sec-WebSocket-Accept":
        text = "wrong Sec-WebSocket-Accept in the server's upgrade"
    elif isinstance(exc, InvalidHeader) and exc.name == "Sec-WebSocket-Accept":
        text = "no valid Sec-WebSocket-Accept in the server's upgrade"
    elif isinstance(exc, NegotiationError):
        what = str(exc)
        headers = response.headers if response is not None else None
        if "subprotocol" in what:
            sent = headers.get("Sec-WebSocket-Protocol") if headers is not None else None
            text = f"the server chose an unrequested subprotocol {sent!r} ({what})"
        else:
            sent = ", ".join(headers.get_all("Sec-WebSocket-Extensions")) if headers else None
            text = f"the server accepted an unrequested extension {sent!r} ({what})"
    elif isinstance(exc, (InvalidUpgrade, InvalidHeader)):
        text = f"the server's upgrade is invalid: {exc}"
    elif isinstance(exc.__cause__, EOFError):
        text = "the connection closed during the opening handshake"
    elif isinstance(exc, InvalidHandshake):
        cause = exc.__cause__
        text = f"the server's response is invalid: {exc}" + (f" ({cause})" if cause else "")
    else:
        text = f"the opening handshake failed: {exc}"
    error = HandshakeError(text)
    error.__cause__ = exc
    return error


def _stream_error(exc: BaseException) -> BaseException:
    """The error worth reporting for a failed read or write during the handshake.

    TLS fails in the first write or read (unknown CA, wrong host name): keep the
    ``ssl`` error, it decides whether another attempt is worth it.
    """
    if isinstance(exc, trio.BrokenResourceError) and isinstance(exc.__cause__, ssl.SSLError):
        return exc.__cause__
    return exc


async def _read_some_body(
    stream: trio.abc.Stream, raw: bytearray, body_start: int, read_size: int
) -> None:
    """Read a refusal's body into ``raw``, up to :data:`MAX_REJECTION_BODY` or EOF."""
    while len(raw) - body_start < MAX_REJECTION_BODY:
        data = await stream.receive_some(read_size)
        if not data:
            return
        raw += data


def _open_protocol(params: HandshakeParams, handshake: ClientProtocol) -> Protocol:
    """A fresh client-side protocol, OPEN, with what the handshake negotiated.

    The handshake's own protocol keeps the response (headers and all) alive in its
    parser for the connection's whole life (~1.7 KiB measured): it is dropped instead.
    Once open, a client is websockets' plain :class:`~websockets.protocol.Protocol` on
    the client side (masking, parsing); ``ClientProtocol`` only adds the handshake.
    """
    protocol = Protocol(CLIENT, state=OPEN, max_size=params.max_message_size, logger=_QUIET)
    protocol.extensions = handshake.extensions
    protocol.subprotocol = handshake.subprotocol
    return protocol


async def _receive(stream: trio.abc.Stream, size: int) -> bytes | bytearray:
    try:
        return await stream.receive_some(size)
    except trio.BrokenResourceError as exc:
        raise _stream_error(exc) from None


async def run_handshake(
    stream: trio.abc.Stream, params: HandshakeParams
) -> tuple[Protocol, list[Event]]:
    """Send the upgrade request and read the answer.

    Returns the open protocol and the frames that arrived with the answer (in the same
    read), to be processed by the reader first. Raises :class:`HandshakeError` or the
    stream's error; the caller closes the stream on failure and bounds the time.
    """
    handshake = _new_protocol(params)
    request = handshake.connect()
    headers = request.headers
    del headers["Host"]
    headers["Host"] = params.host_header
    for name, value in params.headers:
        headers[name] = value
    handshake.send_request(request)
    try:
        await stream.send_all(b"".join(handshake.data_to_send()))
    except trio.BrokenResourceError as exc:
        raise _stream_error(exc) from None
    # The head first, on our side: the handshake protocol sees no byte past it, so
    # no frame is parsed (or inflated) by a protocol that is then dropped.
    raw = bytearray()
    head_end = -1
    while head_end < 0:
        data = await _receive(stream, params.receive_buffer_size)
        if not data:
            raise HandshakeError("the connection closed during the opening handshake")
        raw += data
        head_end = raw.find(_HEAD_END, max(0, len(raw) - len(data) - 3))
        if head_end < 0 and len(raw) > _MAX_HEAD:
            raise HandshakeError("the server's response headers are too large")
    body_start = head_end + 4
    handshake.receive_data(raw[:body_start])
    body_fed = eof = False
    while True:
        for event in handshake.events_received():
            if isinstance(event, Response):
                if handshake.handshake_exc is not None:
                    raise _invalid(handshake.handshake_exc, event)
                protocol = _open_protocol(params, handshake)
                if len(raw) > body_start:
                    protocol.receive_data(raw[body_start:])
                return protocol, protocol.events_received()
        # Not a 101 (that is an event as soon as the head is in): a refusal. Its body
        # is read up to MAX_REJECTION_BODY bytes, or until the protocol has it whole.
        if handshake.handshake_exc is not None:  # e.g. a Content-Length over 1 MiB
            await _read_some_body(stream, raw, body_start, params.receive_buffer_size)
            raise _refusal(raw[:head_end], raw[body_start:]) from None
        if len(raw) - body_start >= MAX_REJECTION_BODY:
            raise _refusal(raw[:head_end], raw[body_start:])
        if eof:
            raise HandshakeError("the connection closed during the opening handshake")
        if not body_fed:
            body_fed = True
            if len(raw) > body_start:
                handshake.receive_data(raw[body_start:])
            continue
        data = await _receive(stream, params.receive_buffer_size)
        if data:
            raw += data
            handshake.receive_data(data)
        else:
            eof = True
            handshake.receive_eof()
