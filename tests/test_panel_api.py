"""fetch_credentials: the panel API call, against httpx.MockTransport and FakeWings."""

from __future__ import annotations

import base64
import json
import logging
import pickle
import ssl
from collections.abc import Callable

import httpx
import pytest
import trio
from trio.testing import MockClock

from trio_pterows._exceptions import PterowsError
from trio_pterows.pterodactyl._exceptions import ConsoleClosed, PanelAPIError, is_fatal_status
from trio_pterows.pterodactyl._panel import (
    Credentials,
    fetch_credentials,
    origin_for,
    websocket_endpoint,
)
from trio_pterows.testing._fakewings import FakeWings

KEY = "ptlc_SECRETSECRETSECRET0123456789abcdef"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzZWNyZXQiOnRydWV9.c2lnbmF0dXJlLXNlY3JldA"
PANEL = "https://panel.example.com"
SOCKET = "wss://node.example.com:8080/api/servers/0b3c5e6a-uuid/ws"

Handler = Callable[[httpx.Request], httpx.Response]


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": {"token": TOKEN, "socket": SOCKET}})


async def fetch(handler: Handler, **kwargs: str) -> Credentials:
    args = {"panel_url": PANEL, "api_key": KEY, "server_id": "1a2b3c4d", **kwargs}
    with trio.fail_after(10):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await fetch_credentials(client, **args)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert TOKEN not in text


# --------------------------------------------------------------------------- success


async def test_success_sends_the_documented_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(request)

    creds = await fetch(handler)
    assert creds == Credentials(token=TOKEN, socket_url=SOCKET)
    [request] = seen
    assert request.method == "GET"
    assert str(request.url) == f"{PANEL}/api/client/servers/1a2b3c4d/websocket"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "application/json"
    assert_no_secret(repr(creds), str(creds), caplog.text)
    assert SOCKET in repr(creds)
    assert any("1a2b3c4d/websocket" in r.getMessage() for r in caplog.records)


async def test_panel_under_a_sub_path_and_trailing_slash() -> None:
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return ok(request)

    await fetch(handler, panel_url="https://example.com/panel/", server_id="0b3c5e6a-1111")
    assert urls == ["https://example.com/panel/api/client/servers/0b3c5e6a-1111/websocket"]


async def test_http_socket_url_becomes_ws() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"data": {"token": TOKEN, "socket": "https://node:8080/api/servers/u/ws"}}
        )

    creds = await fetch(handler)
    assert creds.socket_url == "wss://node:8080/api/servers/u/ws"


# --------------------------------------------------------------------------- HTTP errors


@pytest.mark.parametrize(
    ("status", "fatal"),
    [
        (401, True),
        (403, True),
        (404, True),
        (400, True),
        (302, True),
        (409, False),
        (429, False),
        (500, False),
        (502, False),
        (503, False),
    ],
)
async def test_http_errors(status: int, fatal: bool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            json={"errors": [{"code": "X", "status": str(status), "detail": "Nope, sorry."}]},
        )

    with pytest.raises(PanelAPIError) as info:
        await fetch(handler)
    exc = info.value
    assert exc.status_code == status
    assert exc.fatal is fatal
    assert isinstance(exc, PterowsError)
    assert str(status) in str(exc)
    assert "Nope, sorry." in str(exc)  # the panel's detail helps the user
    assert "panel.example.com" in str(exc)
    assert_no_secret(str(exc), repr(exc), caplog.text)


async def test_error_body_that_is_not_json_still_names_the_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="<html>Bad gateway</html>")

    with pytest.raises(PanelAPIError, match="503") as info:
        await fetch(handler)
    assert info.value.fatal is False


@pytest.mark.parametrize(
    ("status", "fatal"),
    [(None, False), (200, False), (301, True), (401, True), (404, True), (408, False)],
)
def test_is_fatal_status(status: int | None, fatal: bool) -> None:
    assert is_fatal_status(status) is fatal
    assert PanelAPIError("x", status_code=status).fatal is fatal


def test_exceptions_pickle_and_carry_their_fields() -> None:
    exc = PanelAPIError("boom", status_code=404)
    clone = pickle.loads(pickle.dumps(exc))
    assert (str(clone), clone.status_code, clone.fatal) == ("boom", 404, True)
    closed = ConsoleClosed(4409, "server suspended")
    assert closed.fatal is True
    assert "4409" in str(closed)
    assert "server suspended" in str(closed)
    clone2 = pickle.loads(pickle.dumps(closed))
    assert (clone2.code, clone2.reason, str(clone2)) == (4409, "server suspended", str(closed))
    assert "the node" in str(ConsoleClosed(None))


# --------------------------------------------------------------------------- network errors


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out")]
)
async def test_transport_errors_are_retryable(
    error: httpx.TransportError, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(PanelAPIError) as info:
        await fetch(handler)
    exc = info.value
    assert exc.status_code is None
    assert exc.fatal is False
    assert exc.__cause__ is error
    assert type(error).__name__ in str(exc)
    assert_no_secret(str(exc), repr(exc), caplog.text)


# --------------------------------------------------------------------------- malformed bodies


@pytest.mark.parametrize(
    "body",
    [
        b"<html>login</html>",
        b"",
        b"[]",
        b'{"data": null}',
        b'{"data": {"socket": "wss://n/ws"}}',
        b'{"data": {"token": "", "socket": "wss://n/ws"}}',
        b'{"data": {"token": 5, "socket": "wss://n/ws"}}',
        b'{"data": {"token": "t"}}',
        b'{"data": {"token": "t", "socket": "ftp://n/ws"}}',
        b'{"data": {"token": "t", "socket": "wss:///ws"}}',
        b'{"data": {"token": "t", "socket": "wss://[::1/ws"}}',
        b"[" * 100_000,
    ],
)
async def test_malformed_body(body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    with pytest.raises(PanelAPIError, match="malformed") as info:
        await fetch(handler)
    assert info.value.status_code == 200
    assert info.value.fatal is False
    assert_no_secret(str(info.value), caplog.text)


async def test_token_is_never_in_a_malformed_body_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": {"token": TOKEN, "socket": "gopher://x"}})

    with pytest.raises(PanelAPIError) as info:
        await fetch(handler)
    assert_no_secret(str(info.value), repr(info.value))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("server_id", ["", "a/b", "../x", "a b", "a?b", "a#b", "é", "x" * 65])
async def test_bad_server_id(server_id: str) -> None:
    with pytest.raises(ValueError, match="server_id"):
        await fetch(ok, server_id=server_id)


@pytest.mark.parametrize(
    "panel_url",
    ["ftp://panel", "panel.example.com", "https://", "https://u:p@panel", "https://p/?q=1", ""],
)
async def test_bad_panel_url(panel_url: str) -> None:
    with pytest.raises(ValueError, match="panel_url"):
        await fetch(ok, panel_url=panel_url)


@pytest.mark.parametrize("api_key", ["", " ptlc_x", "ptlc\nx", f"{KEY}\r\n"])
async def test_bad_api_key_is_not_echoed(api_key: str) -> None:
    with pytest.raises(ValueError, match="api_key") as info:
        await fetch(ok, api_key=api_key)
    if api_key.strip():
        assert api_key.strip() not in str(info.value)


async def test_wrong_types() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(ok)) as client:
        with pytest.raises(TypeError, match="server_id"):
            await fetch_credentials(client, PANEL, KEY, 123)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="api_key"):
            await fetch_credentials(client, PANEL, None, "abc")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="panel_url"):
            await fetch_credentials(client, b"https://p", KEY, "abc")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://panel.example.com", "https://panel.example.com"),
        ("https://panel.example.com/", "https://panel.example.com"),
        ("https://Panel.Example.COM:443/some/path", "https://panel.example.com"),
        ("HTTP://panel:80", "http://panel"),
        ("http://panel.example.com:8080/", "http://panel.example.com:8080"),
        ("https://panel:80", "https://panel:80"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://127.0.0.1", "http://127.0.0.1"),
    ],
)
def test_origin_for(url: str, origin: str) -> None:
    assert origin_for(url) == origin


@pytest.mark.parametrize("url", ["ws://panel", "panel", "https://panel:99999", "http://"])
def test_origin_for_rejects(url: str) -> None:
    with pytest.raises(ValueError, match="panel_url"):
        origin_for(url)


def test_websocket_endpoint() -> None:
    assert (
        websocket_endpoint("https://p.example/", "abc")
        == "https://p.example/api/client/servers/abc/websocket"
    )


# --------------------------------------------------------------------------- cancellation


async def test_cancellation_is_clean(autojump_clock: MockClock) -> None:
    fake = FakeWings()
    fake.set_panel_latency(30.0)
    async with httpx.AsyncClient(transport=fake.panel_transport()) as client:
        with trio.move_on_after(1.0) as scope:
            await fetch_credentials(client, fake.panel_url, fake.api_key, fake.server_id)
        assert scope.cancelled_caught
        assert fake.tokens_issued == 0


# --------------------------------------------------------------------------- against FakeWings


async def test_against_fakewings(nursery: trio.Nursery, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeWings(server_id="abc123", api_key=KEY)
    socket_url = await nursery.start(fake.serve)
    with trio.fail_after(10):
        async with httpx.AsyncClient(transport=fake.panel_transport()) as client:
            creds = await fetch_credentials(client, fake.panel_url, KEY, "abc123")
            assert creds.socket_url == socket_url
            assert creds.token.count(".") == 2
            assert fake.tokens_issued == 1

            with pytest.raises(PanelAPIError) as info:
                await fetch_credentials(client, fake.panel_url, KEY + "x", "abc123")
            assert (info.value.status_code, info.value.fatal) == (401, True)

            with pytest.raises(PanelAPIError) as info:
                await fetch_credentials(client, fake.panel_url, KEY, "other1")
            assert (info.value.status_code, info.value.fatal) == (404, True)

            fake.fail_next(500, times=2)
            for _ in range(2):
                with pytest.raises(PanelAPIError) as info:
                    await fetch_credentials(client, fake.panel_url, KEY, "abc123")
                assert (info.value.status_code, info.value.fatal) == (500, False)
            fake.fail_next(None)
            with pytest.raises(PanelAPIError) as info:
                await fetch_credentials(client, fake.panel_url, KEY, "abc123")
            assert (info.value.status_code, info.value.fatal) == (None, False)
            assert isinstance(info.value.__cause__, httpx.ConnectError)
            second = await fetch_credentials(client, fake.panel_url, KEY, "abc123")
            assert second.token != creds.token
            assert fake.tokens_issued == 2

            fake.suspend()  # a 409 the server resource confirms: final
            with pytest.raises(PanelAPIError) as info:
                await fetch_credentials(client, fake.panel_url, KEY, "abc123")
            assert (info.value.status_code, info.value.fatal) == (409, True)
            assert "suspended" in str(info.value)
            fake.unsuspend()

            with pytest.raises(PanelAPIError) as info:  # another host: no such panel
                await fetch_credentials(client, "https://elsewhere.test", KEY, "abc123")
            assert info.value.status_code is None

    statuses = [r.status for r in fake.panel_requests]
    assert statuses == [200, 401, 404, 500, 500, None, 200, 409, 200, None]
    assert fake.panel_requests[8].path == "/api/client/servers/abc123"  # the resource
    assert [r.authorized for r in fake.panel_requests][:3] == [True, False, True]
    assert all(r.accept == "application/json" for r in fake.panel_requests)
    assert_no_secret(caplog.text, repr(fake), repr(fake.panel_requests))
    assert creds.token not in caplog.text


async def test_fakewings_panel_without_node() -> None:
    fake = FakeWings()
    with trio.fail_after(10):
        async with httpx.AsyncClient(transport=fake.panel_transport()) as client:
            with pytest.raises(PanelAPIError) as info:
                await fetch_credentials(client, fake.panel_url, fake.api_key, fake.server_id)
    assert (info.value.status_code, info.value.fatal) == (502, False)


async def test_fakewings_token_is_a_signed_jwt(nursery: trio.Nursery) -> None:
    fake = FakeWings(token_lifetime=120.0)
    await nursery.start(fake.serve)
    async with httpx.AsyncClient(transport=fake.panel_transport()) as client:
        creds = await fetch_credentials(client, fake.panel_url, fake.api_key, fake.server_id)
    header, payload, signature = creds.token.split(".")

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    assert json.loads(unb64(header)) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(unb64(payload))
    assert claims["server_uuid"] == fake.server_uuid
    assert claims["exp"] - claims["iat"] == pytest.approx(120.0)
    assert claims["nbf"] < claims["iat"]
    assert claims["permissions"] == ["*"]
    assert len(unb64(signature)) == 32


# --------------------------------------------------------------------------- revision 2


def resource(**attributes: object) -> httpx.Response:
    return httpx.Response(200, json={"object": "server", "attributes": attributes})


def conflict(status: int, detail: str, state: dict[str, object] | None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/websocket"):
            return httpx.Response(
                status, json={"errors": [{"code": "X", "status": str(status), "detail": detail}]}
            )
        if state is None:
            return httpx.Response(500)
        return resource(**state)

    return handler


@pytest.mark.parametrize(
    ("state", "fatal"),
    [
        ({"is_suspended": True, "status": "suspended"}, True),
        ({"is_suspended": False, "status": "suspended"}, True),
        ({"is_suspended": False, "status": "installing", "is_installing": True}, False),
        ({"is_suspended": False, "is_transferring": True}, False),
        ({"is_suspended": False, "is_node_under_maintenance": True}, False),
        (None, False),  # the resource is unreadable: assume transient
    ],
)
async def test_409_is_judged_by_the_server_resource_not_its_text(
    state: dict[str, object] | None, fatal: bool
) -> None:
    # The detail is in another language: the decision must not read it.
    with pytest.raises(PanelAPIError) as info:
        await fetch(conflict(409, "Dieser Server ist gesperrt.", state))
    assert (info.value.status_code, info.value.fatal) == (409, fatal)


@pytest.mark.parametrize(("transferring", "fatal"), [(True, False), (False, True)])
async def test_403_is_retryable_only_during_a_transfer(transferring: bool, fatal: bool) -> None:
    detail = "You do not have permission to view server transfer logs."
    with pytest.raises(PanelAPIError) as info:
        await fetch(conflict(403, detail, {"is_transferring": transferring}))
    assert (info.value.status_code, info.value.fatal) == (403, fatal)


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "42"}, 42.0),
        ({"Retry-After": "1.5"}, 1.5),
        (
            {
                "Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT",
                "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
            },
            30.0,
        ),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}, None),  # no Date to measure from
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-5"}, 0.0),
        ({}, None),
    ],
)
async def test_429_carries_retry_after(headers: dict[str, str], retry_after: float | None) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers=headers, json={"errors": []})

    with pytest.raises(PanelAPIError) as info:
        await fetch(handler)
    assert (info.value.status_code, info.value.fatal) == (429, False)
    assert info.value.retry_after == retry_after
    clone = pickle.loads(pickle.dumps(info.value))
    assert clone.retry_after == retry_after


async def test_a_tls_certificate_failure_is_final() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed")
        except ssl.SSLError as exc:
            raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]") from exc

    with pytest.raises(PanelAPIError) as info:
        await fetch(handler)
    assert info.value.status_code is None
    assert info.value.fatal is True
    assert "certificate" in str(info.value)


async def test_the_key_is_redacted_from_panel_error_texts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def echoing(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        detail = f"Invalid header: Authorization: {auth}"
        return httpx.Response(
            500, json={"errors": [{"code": "X", "status": "500", "detail": detail}]}
        )

    with pytest.raises(PanelAPIError) as info:
        await fetch(echoing)
    assert "[redacted]" in str(info.value)
    assert_no_secret(str(info.value), repr(info.value), caplog.text)

    def echoing_network_error(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"proxy refused {request.headers['authorization']}")

    with pytest.raises(PanelAPIError) as info:
        await fetch(echoing_network_error)
    assert "[redacted]" in str(info.value)
    assert_no_secret(str(info.value), repr(info.value), caplog.text)


async def test_fakewings_panel_answers_like_the_panel(nursery: trio.Nursery) -> None:
    fake = FakeWings(server_id="abc123", api_key=KEY, panel_rate_limit=3)
    await nursery.start(fake.serve)
    with trio.fail_after(10):
        async with httpx.AsyncClient(transport=fake.panel_transport()) as client:
            fake.set_state_conflict(installing=True)
            with pytest.raises(PanelAPIError) as info:
                await fetch_credentials(client, fake.panel_url, KEY, "abc123")
            assert (info.value.status_code, info.value.fatal) == (409, False)
            assert "installation" in str(info.value)
            fake.set_state_conflict()
            fake.begin_transfer(panel_answer=403)
            with pytest.raises(PanelAPIError) as info:
                await fetch_credentials(client, fake.panel_url, KEY, "abc123")
            assert (info.value.status_code, info.value.fatal) == (403, False)
            fake.complete_transfer()
            await fetch_credentials(client, fake.panel_url, KEY, "abc123")
            with pytest.raises(PanelAPIError) as info:  # 3 a minute here, refusals included
                await fetch_credentials(client, fake.panel_url, KEY, "abc123")
            assert info.value.status_code == 429
            assert info.value.retry_after is not None
            assert 0 < info.value.retry_after <= 60
