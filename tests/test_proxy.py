"""Proxies: URL parsing and the environment (pure), and real pproxy servers on loopback
(HTTP CONNECT and SOCKS, with and without credentials) in front of real WebSocket servers.
"""

from __future__ import annotations

import pathlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trio
import trio_websocket
import trustme

import trio_pterows as pw
from trio_pterows._proxy_url import ProxyURL, parse_proxy_url, proxy_from_environment, resolve_proxy
from trio_pterows.transports._base import HandshakeError
from trio_pterows.transports._proxy import ProxyError, open_tunnel
from trio_pterows.transports._websockets import WebsocketsTransport

from .conftest import (
    PROXY_SERVER,
    TRANSPORTS,
    SeamRecorder,
    line_server,
    ping_echo_handler,
    seam_params,
)

pytest.importorskip("python_socks")
pytest.importorskip("pproxy")

SECRET = "s3cr3t-pa55"

# -- parsing and the environment ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://proxy:3128", ("http", "proxy", 3128, None, None)),
        ("proxy:3128", ("http", "proxy", 3128, None, None)),  # as curl reads it
        ("https://proxy", ("https", "proxy", 443, None, None)),
        ("socks5h://u:p%40ss@[::1]:9050", ("socks5h", "::1", 9050, "u", "p@ss")),
        ("SOCKS4://10.0.0.1", ("socks4", "10.0.0.1", 1080, None, None)),
    ],
)
def test_parse_proxy_url(url: str, expected: tuple[object, ...]) -> None:
    parsed = parse_proxy_url(url)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.username, parsed.password) == expected


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://u:" + SECRET + "@proxy:21", "unsupported scheme 'ftp'"),
        ("http://u:" + SECRET + "@:3128", "has no host"),
        ("http://u:" + SECRET + "@proxy:99999", "port"),
        ("http://u:" + SECRET + "@proxy:3128/path", "scheme://[user:password@]host[:port]"),
    ],
)
def test_bad_proxy_url_names_proxy_not_credentials(url: str, words: str) -> None:
    with pytest.raises(ValueError, match=r"^proxy: ") as info:
        parse_proxy_url(url)
    assert words in str(info.value)
    assert SECRET not in str(info.value)


def test_proxy_url_repr_hides_credentials() -> None:
    parsed = parse_proxy_url(f"socks5://user:{SECRET}@proxy:1080")
    assert repr(parsed) == str(parsed) == "ProxyURL('socks5://***@proxy:1080')"
    assert parsed.redacted == "socks5://***@proxy:1080"
    assert parse_proxy_url("http://[::1]:8080").redacted == "http://[::1]:8080"


@pytest.mark.parametrize(
    ("environ", "secure", "expected"),
    [
        ({"https_proxy": "http://s", "http_proxy": "http://p"}, True, "http://s"),
        ({"HTTPS_PROXY": "http://S"}, True, "http://S"),
        ({"https_proxy": "http://s", "http_proxy": "http://p"}, False, "http://p"),
        ({"HTTP_PROXY": "http://P"}, False, None),  # curl ignores it (CGI's HTTP_PROXY)
        ({"all_proxy": "socks5h://a"}, False, "socks5h://a"),
        ({"ALL_PROXY": "socks5h://A", "https_proxy": ""}, True, "socks5h://A"),
        ({}, True, None),
    ],
)
def test_proxy_from_environment(environ: dict[str, str], secure: bool, expected: str) -> None:
    found = proxy_from_environment(secure=secure, host="ws.example", port=443, environ=environ)
    assert found == expected


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "bypassed"),
    [
        ("*", "anything.example", 443, True),
        ("example.com", "example.com", 443, True),
        ("example.com", "ws.example.com", 443, True),  # a domain suffix
        (".example.com", "ws.example.com", 443, True),
        ("example.com", "badexample.com", 443, False),
        ("other.org, example.com", "example.com", 443, True),
        ("example.com:8443", "example.com", 8443, True),  # with a port: that port only
        ("example.com:8443", "example.com", 443, False),
        ("localhost,127.0.0.1", "127.0.0.1", 9000, True),
    ],
)
def test_no_proxy(no_proxy: str, host: str, port: int, bypassed: bool) -> None:
    environ = {"https_proxy": "http://proxy:3128", "no_proxy": no_proxy}
    found = proxy_from_environment(secure=True, host=host, port=port, environ=environ)
    assert (found is None) == bypassed
    upper = {"https_proxy": "http://proxy:3128", "NO_PROXY": no_proxy}
    assert proxy_from_environment(secure=True, host=host, port=port, environ=upper) == found


def test_resolve_proxy() -> None:
    env = {"http_proxy": "socks5://envproxy:1080"}
    assert resolve_proxy(None, secure=False, host="h", port=80, environ=env) is None
    found = resolve_proxy(True, secure=False, host="h", port=80, environ=env)
    assert found == ProxyURL("socks5", "envproxy", 1080)
    given = resolve_proxy("http://given:1", secure=False, host="h", port=80, environ=env)
    assert given == ProxyURL("http", "given", 1)
    assert resolve_proxy(True, secure=True, host="h", port=443, environ=env) is None


# -- real proxies -------------------------------------------------------------------

ProxyFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def pproxy() -> AsyncIterator[ProxyFactory]:
    """``await pproxy("socks5", "user:pass")``: start a pproxy server, get its URL."""
    import contextlib

    async with contextlib.AsyncExitStack() as stack:

        async def start(scheme: str, auth: str | None = None, *argv: str) -> str:
            listen = f"{scheme}://127.0.0.1:0" + (f"#{auth}" if auth else "")
            port = await stack.enter_async_context(line_server(PROXY_SERVER, listen, *argv))
            return f"{scheme}://127.0.0.1:{port}"

        yield start  # type: ignore[misc]


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _with_credentials(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://")
    return f"{scheme}://{user}:{password}@{rest}"


async def _echo_through(
    proxy: str,
    port: int,
    ssl_context: ssl.SSLContext | None = None,
    proxy_ssl_context: ssl.SSLContext | None = None,
) -> None:
    handler = SeamRecorder()
    with trio.fail_after(20):
        stream = await open_tunnel(
            parse_proxy_url(proxy),
            "127.0.0.1",
            port,
            ssl_context=ssl_context,
            proxy_ssl_context=proxy_ssl_context,
        )
        async with trio.open_nursery() as nursery:
            conn = await WebsocketsTransport().open(
                nursery, stream, seam_params(host_header=f"127.0.0.1:{port}"), handler
            )
            await conn.send("through the proxy")
            await handler.wait_for(lambda: bool(handler.messages))
            await conn.aclose(1000, "")
    assert handler.messages == ["through the proxy"]


@pytest.mark.parametrize("scheme", ["http", "socks5", "socks5h", "socks4"])
async def test_tunnel_without_credentials(pproxy: ProxyFactory, echo_url: str, scheme: str) -> None:
    proxy = await pproxy("socks4" if scheme == "socks4" else scheme.rstrip("h"))
    if scheme == "socks5h":
        proxy = proxy.replace("socks5://", "socks5h://")
    await _echo_through(proxy, _port(echo_url))


@pytest.mark.parametrize("scheme", ["http", "socks5"])
async def test_tunnel_with_credentials(pproxy: ProxyFactory, echo_url: str, scheme: str) -> None:
    proxy = await pproxy(scheme, f"user:{SECRET}")
    await _echo_through(_with_credentials(proxy, "user", SECRET), _port(echo_url))


@pytest.mark.parametrize("scheme", ["http", "socks5"])
@pytest.mark.parametrize("credentials", [None, ("user", "wrong-" + SECRET)])
async def test_refusal_is_fatal_and_hides_credentials(
    pproxy: ProxyFactory, echo_url: str, scheme: str, credentials: tuple[str, str] | None
) -> None:
    proxy = await pproxy(scheme, f"user:{SECRET}")
    if credentials is not None:
        proxy = _with_credentials(proxy, *credentials)
    with trio.fail_after(20), pytest.raises(ProxyError) as info:
        await open_tunnel(parse_proxy_url(proxy), "127.0.0.1", _port(echo_url), ssl_context=None)
    assert info.value.fatal is True
    assert isinstance(info.value, OSError)
    if scheme == "http":
        assert info.value.status_code == 407
    text = f"{info.value} {info.value!r}"
    assert SECRET not in text
    assert f"{scheme}://" in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_proxy_down_is_retryable(echo_url: str) -> None:
    proxy = parse_proxy_url(f"http://user:{SECRET}@127.0.0.1:{_free_port()}")
    with trio.fail_after(20), pytest.raises(ProxyError) as info:
        await open_tunnel(proxy, "127.0.0.1", _port(echo_url), ssl_context=None)
    assert info.value.fatal is False
    assert isinstance(info.value, OSError)
    assert SECRET not in str(info.value)


async def test_server_down_behind_an_http_proxy_is_retryable(pproxy: ProxyFactory) -> None:
    proxy = parse_proxy_url(await pproxy("http"))
    with trio.fail_after(20), pytest.raises(ProxyError) as info:
        await open_tunnel(proxy, "127.0.0.1", _free_port(), ssl_context=None)
    assert info.value.fatal is False


async def test_server_down_behind_a_socks5_proxy_fails_the_handshake(
    pproxy: ProxyFactory,
) -> None:
    # pproxy grants the SOCKS5 tunnel before it connects, then hangs up: the
    # WebSocket handshake sees the end of the stream (a retryable failure).
    proxy = parse_proxy_url(await pproxy("socks5"))
    with trio.fail_after(20):
        stream = await open_tunnel(proxy, "127.0.0.1", _free_port(), ssl_context=None)
        async with trio.open_nursery() as nursery:
            with pytest.raises(HandshakeError) as info:
                await WebsocketsTransport().open(nursery, stream, seam_params(), SeamRecorder())
    assert info.value.status_code is None


async def test_wss_through_an_http_proxy(pproxy: ProxyFactory, nursery: trio.Nursery) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    async def serve(request: trio_websocket.WebSocketRequest) -> None:
        conn = await request.accept()
        try:
            await ping_echo_handler(conn)
        except trio_websocket.ConnectionClosed:
            pass

    server = await nursery.start(
        trio_websocket.serve_websocket, serve, "127.0.0.1", 0, server_context
    )
    proxy = await pproxy("http")
    await _echo_through(proxy, server.port, client_context)


async def test_https_proxy(pproxy: ProxyFactory, echo_url: str, tmp_path: pathlib.Path) -> None:
    ca = trustme.CA()
    pem = tmp_path / "proxy.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    proxy = await pproxy("http+ssl", f"user:{SECRET}", "--cert", str(pem))
    proxy = _with_credentials(proxy.replace("http+ssl://", "https://"), "user", SECRET)
    await _echo_through(proxy, _port(echo_url), proxy_ssl_context=client_context)
    # The proxy's certificate is checked: one that does not verify is fatal, as the
    # server's own certificate errors are.
    with trio.fail_after(20), pytest.raises(ProxyError) as info:
        await open_tunnel(parse_proxy_url(proxy), "127.0.0.1", _port(echo_url), ssl_context=None)
    assert SECRET not in str(info.value)
    assert info.value.fatal is True
    assert "certificate" in str(info.value)


# -- through the manager, on both transports ------------------------------------------------


@pytest.mark.parametrize("engine", TRANSPORTS)
async def test_manager_through_a_proxy(pproxy: ProxyFactory, echo_url: str, engine: str) -> None:
    proxy = _with_credentials(await pproxy("socks5", f"user:{SECRET}"), "user", SECRET)
    with trio.fail_after(20):
        async with pw.open_websocket(echo_url, proxy=proxy, transport=engine) as ws:
            assert ws.connection is not None
            assert ws.connection.transport == engine
            await ws.send("via socks5")
            assert await ws.receive() == "via socks5"
    assert SECRET not in repr(ws.options)


@pytest.mark.parametrize("engine", TRANSPORTS)
async def test_manager_proxy_refusal_is_not_retried(
    pproxy: ProxyFactory, echo_url: str, engine: str
) -> None:
    proxy = _with_credentials(await pproxy("http", f"user:{SECRET}"), "user", "wrong")
    with trio.fail_after(20), pytest.raises(pw.ConnectionFailed) as info:
        async with pw.open_websocket(
            echo_url, proxy=proxy, transport=engine, auto_reconnect=True, reconnect_interval=0.01
        ):
            pass
    assert len(info.value.attempts) == 1  # fatal: no second attempt
    error = info.value.attempts[0][1]
    assert isinstance(error, ProxyError)
    assert error.status_code == 407
    assert SECRET not in str(info.value)


async def test_manager_proxy_down_is_retried(echo_url: str) -> None:
    proxy = f"http://127.0.0.1:{_free_port()}"
    with trio.fail_after(20), pytest.raises(pw.ConnectionFailed) as info:
        async with pw.open_websocket(
            echo_url,
            proxy=proxy,
            auto_reconnect=True,
            max_reconnect_attempts=2,
            reconnect_interval=0.01,
        ):
            pass
    assert len(info.value.attempts) == 3  # the first attempt and two retries


async def test_proxy_true_reads_the_environment(
    pproxy: ProxyFactory, echo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _with_credentials(await pproxy("http", f"user:{SECRET}"), "user", SECRET)
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", good.replace(SECRET, "wrong"))
    with trio.fail_after(20), pytest.raises(pw.ConnectionFailed) as info:
        async with pw.open_websocket(echo_url, proxy=True):
            pass
    assert isinstance(info.value.attempts[0][1], ProxyError)  # it did use http_proxy
    monkeypatch.setenv("http_proxy", good)
    with trio.fail_after(20):
        async with pw.open_websocket(echo_url, proxy=True) as ws:
            await ws.send("from the environment")
            assert await ws.receive() == "from the environment"
    # no_proxy: the (now dead) proxy is bypassed for this host.
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
    with trio.fail_after(20):
        async with pw.open_websocket(echo_url, proxy=True) as ws:
            await ws.send("direct")
            assert await ws.receive() == "direct"
