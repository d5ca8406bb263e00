"""FakeWings' tokens: HS256 JWTs as the panel signs them and the node checks them.

Times are trio's clock plus an offset, so ``autojump_clock`` skips lifetimes. What the
node checks follows Wings: the signature (a token it cannot verify is not a JWT error
but a ``daemon error``), ``exp``, the denylist, and ``server_uuid``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid as uuid_module
from typing import Any, Final

import attrs

from trio_pterows.pterodactyl._events import (
    JWT_DENYLISTED_TEXT,
    JWT_EXPIRED_TEXT,
    JWT_NOT_PRESENT_TEXT,
)

__all__ = ["Token", "TokenIssuer"]

#: Offset added to trio's clock for the JWT time claims, so they look like Unix times.
EPOCH: Final = 1_700_000_000.0
_UUID_MISMATCH: Final = "jwt: server uuid mismatch"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@attrs.frozen
class Token:
    """A token the node verified: what it checks later on every send."""

    serial: int
    issued_at: float
    expires_at: float
    server_uuid: str
    permissions: frozenset[str]

    def allows(self, permission: str) -> bool:
        """Wings' ``HasPermission``: ``"*"`` grants everything but ``admin.*``."""
        if permission in self.permissions:
            return True
        return "*" in self.permissions and not permission.startswith("admin.")


class TokenIssuer:
    """Signs tokens (the panel's side) and judges them (the node's side)."""

    def __init__(self, *, panel_url: str, server_uuid: str, lifetime: float) -> None:
        self._panel_url = panel_url
        self._server_uuid = server_uuid
        self._lifetime = lifetime
        self._secret = secrets.token_bytes(32)
        self._next_serial = 1
        self._expired_below = 0
        self._denied_below = 0
        #: Tokens the panel handed out.
        self.issued = 0

    def issue(self, now: float, audience: str, permissions: tuple[str, ...]) -> str:
        """A signed token for the server, valid for the configured lifetime from ``now``."""
        serial = self._next_serial
        self._next_serial += 1
        self.issued += 1
        claims: dict[str, Any] = {
            "iss": self._panel_url,
            "aud": [audience],
            "jti": hashlib.sha256(self._secret + str(serial).encode()).hexdigest()[:32],
            "iat": EPOCH + now,
            "nbf": EPOCH + now - 300,
            "exp": EPOCH + now + self._lifetime,
            "server_uuid": self._server_uuid,
            "permissions": list(permissions),
            "user_uuid": str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, "fakewings:user")),
            "unique_id": str(serial),
            "scope": "websocket",
        }
        header = _b64(b'{"alg":"HS256","typ":"JWT"}')
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{_b64(signature.digest())}"

    def decode(self, raw: str) -> Token | None:
        """The token, or ``None`` when it is malformed or not signed by this node's key."""
        try:
            header, payload, signature = raw.split(".")
            expected = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256)
            if not hmac.compare_digest(_unb64(signature), expected.digest()):
                return None
            claims = json.loads(_unb64(payload))
            permissions = claims.get("permissions", [])
            return Token(
                serial=int(claims["unique_id"]),
                issued_at=float(claims["iat"]) - EPOCH,
                expires_at=float(claims["exp"]) - EPOCH,
                server_uuid=str(claims["server_uuid"]),
                permissions=frozenset(p for p in permissions if isinstance(p, str)),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def is_expired(self, token: Token, now: float) -> bool:
        return now >= token.expires_at or token.serial < self._expired_below

    def problem(self, token: Token | None, now: float) -> str | None:
        """Wings' ``TokenValid``: the ``jwt error`` text for ``token`` now, or ``None``."""
        if token is None:
            return JWT_NOT_PRESENT_TEXT
        if self.is_expired(token, now):
            return JWT_EXPIRED_TEXT
        if token.serial < self._denied_below:
            return JWT_DENYLISTED_TEXT
        if token.server_uuid != self._server_uuid:
            return _UUID_MISMATCH
        return None

    def expire_all(self) -> None:
        """Every token issued so far is expired from now on."""
        self._expired_below = self._next_serial

    def deny_all(self) -> None:
        """Every token issued so far is on the denylist from now on."""
        self._denied_below = self._next_serial

    def rotate_key(self) -> None:
        """A new signing key (another node): no earlier token verifies any more."""
        self._secret = secrets.token_bytes(32)
