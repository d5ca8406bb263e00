"""The README: its first lines are exactly the two commands, and its flagship example
runs (against a loopback server that also sends text that is not JSON)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import trio
import trio_websocket

README = Path(__file__).resolve().parent.parent / "README.md"
URL = "wss://feed.example/ws"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_starts_with_exactly_two_commands() -> None:
    text = README.read_text()
    first = _blocks("sh")[0]
    assert text.index("```sh") < text.index("\n---\n")  # before anything else
    lines = first.strip().splitlines()
    assert len(lines) == 2
    assert "pterows demo" in lines[0]
    assert "nox -s tests" in lines[1]
    intro = text[text.index("```\n") : text.index("\n---\n")]
    assert "in a clone" in intro
    assert "several minutes" in intro


async def _feed(request: trio_websocket.WebSocketRequest) -> None:
    """Greets in plain text, answers pings with pongs (after more text), then says done."""
    conn = await request.accept()
    await conn.send_message("welcome")  # not JSON: the example must cope
    try:
        while True:
            message = json.loads(await conn.get_message())
            if message.get("action") == "ping":
                await conn.send_message("server time 12:00")  # while the client waits
                await conn.send_message(json.dumps({"action": "pong"}))
                await conn.send_message(json.dumps({"action": "done"}))
    except trio_websocket.ConnectionClosed:
        pass


async def test_the_flagship_example_copes_with_messages_that_are_not_dicts(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    (source,) = [block for block in _blocks("python") if URL in block][:1]
    server = await nursery.start(trio_websocket.serve_websocket, _feed, "127.0.0.1", 0, None)
    program = source.replace(URL, f"ws://127.0.0.1:{server.port}/").replace("trio.run(main)", "")
    printed: list[tuple[Any, ...]] = []
    done = trio.CancelScope()

    def record(*args: Any) -> None:
        printed.append(args)
        if args == ({"action": "done"},):
            done.cancel()

    namespace: dict[str, Any] = {"print": record}
    exec(compile(program, str(README), "exec"), namespace)
    with trio.fail_after(10), done:
        await namespace["main"]()
    assert printed[0] == ("pong:", {"action": "pong"})
    assert ("welcome",) in printed
    assert ("server time 12:00",) in printed
