"""The typed surface, checked by mypy itself: small programs written to a temporary
directory, one mypy run for all of them. A misspelt option keyword, a wrong option
value, a listener of the wrong event class and a wrong attribute of a subscription's
event must fail; the right program must pass.

``**options: Unpack[OptionKwargs]`` and the :class:`EventSource` overloads are what
``open_websocket``, ``AdvancedWebSocket`` and ``open_console`` carry; the programs use
them directly (the types themselves) and through those entry points (the wiring).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import trio_pterows

ROOT = Path(trio_pterows.__file__).resolve().parent.parent

GOOD = """
from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from typing import Unpack
else:
    from typing_extensions import Unpack

import trio_pterows as pw
from trio_pterows._event_api import EventSource
from trio_pterows._events import EventHub
from trio_pterows import OptionKwargs


def open_it(url: str, **options: Unpack[OptionKwargs]) -> pw.WSConnectionOptions:
    return pw.WSConnectionOptions(url=url, **options)


class Source(EventSource):
    def __init__(self) -> None:
        self._hub = EventHub(lambda exc, context: None)


def on_pong(event: pw.PongEvent) -> None:
    latency: float = event.latency


def on_attempt(event: pw.ReconnectAttemptEvent) -> None:
    delay: float = event.delay


def on_any_event(event: pw.Event) -> None:
    stamp: float = event.timestamp


def on_anything(event: object) -> None:
    print(event)


async def use(source: Source) -> None:
    open_it(
        "wss://example.test/",
        auto_reconnect=True,
        heartbeat_mode="protocol",
        fallback_urls=["wss://backup.test/"],
        headers={"Origin": "https://example.test"},
        max_reconnect_attempts=None,
    )
    source.add_event_listener("pong", on_pong)
    source.add_event_listener("pong", lambda event: print(event.latency))
    source.add_event_listener("reconnect_attempt", on_attempt)
    source.add_event_listener(pw.EventType.RECONNECT_ATTEMPT, on_attempt)
    source.add_event_listener("close", on_any_event)
    source.add_event_listener("custom:mine", on_anything)
    source.remove_event_listener("pong", on_pong)
    source.dispatch_event("custom", {"any": "object"})
    async with source.subscribe("close") as closes:
        event = await closes.receive()
        code: int = event.code
    async with source.subscribe("open", "close") as both:
        async for any_event in both:
            stamp: float = any_event.timestamp


async def real(ws: pw.AdvancedWebSocket) -> None:
    ws.add_event_listener("pong", on_pong)
    ws.update_options(heartbeat_interval=5.0)
    pw.open_websocket("wss://example.test/", auto_reconnect=True, transport="websockets")
    pw.AdvancedWebSocket(url="wss://example.test/", close_timeout=1.0)
"""

#: file name -> (program, a fragment of the error mypy must report)
BAD = {
    "bad_option": (
        'open_it("wss://example.test/", auto_reconect=True)',
        'Unexpected keyword argument "auto_reconect"',
    ),
    "bad_value": (
        'open_it("wss://example.test/", heartbeat_mode="pings")',
        'Argument "heartbeat_mode" to "open_it" has incompatible type "Literal[\'pings\']"',
    ),
    "bad_listener": (
        "def on_open(event: pw.OpenEvent) -> None: ...\n"
        'Source().add_event_listener("pong", on_open)',
        'has incompatible type "Callable[[OpenEvent], None]"',
    ),
    "bad_snake_case_listener": (
        "def on_open(event: pw.OpenEvent) -> None: ...\n"
        'Source().add_event_listener("reconnect_attempt", on_open)',
        'has incompatible type "Callable[[OpenEvent], None]"',
    ),
    "bad_subscription": (
        "async def f() -> None:\n"
        '    async with Source().subscribe("pong") as pongs:\n'
        "        print((await pongs.receive()).code)",
        '"PongEvent" has no attribute "code"',
    ),
    # The library's own entry points carry the same types.
    "real_open_websocket": (
        'pw.open_websocket("wss://example.test/", auto_reconect=True)',
        'Unexpected keyword argument "auto_reconect"',
    ),
    "real_manager": (
        'pw.AdvancedWebSocket(url="wss://example.test/", heartbeat_mode="pings")',
        "incompatible type \"Literal['pings']\"",
    ),
    "real_update_options": (
        "def f(ws: pw.AdvancedWebSocket) -> None:\n    ws.update_options(queue_mesages=True)",
        'Unexpected keyword argument "queue_mesages"',
    ),
    "real_console": (
        "from trio_pterows.pterodactyl import open_console\n"
        'open_console("https://panel.test", "key", "server", auto_reconect=True)',
        'Unexpected keyword argument "auto_reconect"',
    ),
    "real_set_state": (
        "from trio_pterows.pterodactyl import Console\n"
        "async def f(console: Console) -> None:\n"
        '    await console.set_state("reboot")',
        "incompatible type \"Literal['reboot']\"",
    ),
    "real_listener": (
        "def on_open(event: pw.OpenEvent) -> None: ...\n"
        "def f(ws: pw.AdvancedWebSocket) -> None:\n"
        '    ws.add_event_listener("pong", on_open)',
        'has incompatible type "Callable[[OpenEvent], None]"',
    ),
}
HEADER = """\
from __future__ import annotations

import trio_pterows as pw

from good import Source, open_it

"""


@pytest.mark.typing
@pytest.mark.timeout(300)
def test_mypy_accepts_the_right_program_and_rejects_each_mistake(tmp_path: Path) -> None:
    (tmp_path / "mypy.ini").write_text("[mypy]\n")  # not the project's configuration
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    for name, (body, _) in BAD.items():
        (tmp_path / f"{name}.py").write_text(HEADER + body + "\n")
    files = ["good.py", *(f"{name}.py" for name in BAD)]
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--cache-dir", str(tmp_path / ".mypy_cache"), "--config-file", "mypy.ini", *files],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    errors: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        file, _, rest = line.partition(":")
        if ": error: " in rest:
            errors.setdefault(file.removesuffix(".py"), []).append(rest)
    assert "good" not in errors, result.stdout
    for name, (_, expected) in BAD.items():
        assert any(expected in error for error in errors.get(name, [])), (name, result.stdout)
    assert set(errors) == set(BAD), result.stdout + result.stderr
