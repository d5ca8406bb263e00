"""Build the offline intersphinx inventories in this directory.

The machines that build these docs have no internet, so ``sphinx.ext.intersphinx``
cannot download ``objects.inv`` from the projects we link to. Instead, every object
the docs (and the docstrings) refer to is listed below with its real public URL, and
this script writes a small inventory per project in Sphinx's format (version 2: four
header lines, then zlib-compressed ``name domain:role priority uri dispname`` lines).

Run it after editing a table::

    python docs/_inventories/build.py          # rewrite the .inv files
    python docs/_inventories/build.py --check  # exit 1 if a file is out of date

``tests/test_docs_examples.py`` runs the check, so a table and its file cannot drift.
In a URI, ``$`` stands for the object's name (Sphinx's own shorthand); a display name
of ``-`` means "the name itself".
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent


class Project(NamedTuple):
    """One project: where its documentation lives and the objects we link to."""

    name: str
    version: str
    base_url: str
    #: ``(name, "domain:role", uri relative to base_url)``
    objects: tuple[tuple[str, str, str], ...]


TRIO_CORE = "reference-core.html#$"
TRIO_IO = "reference-io.html#$"
TRIO_TESTING = "reference-testing.html#$"
TRIO_LOWLEVEL = "reference-lowlevel.html#$"

TRIO = Project(
    name="Trio",
    version="0.35",
    base_url="https://trio.readthedocs.io/en/stable",
    objects=(
        ("trio.run", "py:function", TRIO_CORE),
        ("trio.open_nursery", "py:function", TRIO_CORE),
        ("trio.Nursery", "py:class", TRIO_CORE),
        ("trio.Nursery.start", "py:method", TRIO_CORE),
        ("trio.Nursery.start_soon", "py:method", TRIO_CORE),
        ("trio.Nursery.cancel_scope", "py:attribute", TRIO_CORE),
        ("trio.CancelScope", "py:class", TRIO_CORE),
        ("trio.CancelScope.cancel", "py:method", TRIO_CORE),
        ("trio.CancelScope.shield", "py:attribute", TRIO_CORE),
        ("trio.CancelScope.cancelled_caught", "py:attribute", TRIO_CORE),
        ("trio.move_on_after", "py:function", TRIO_CORE),
        ("trio.move_on_at", "py:function", TRIO_CORE),
        ("trio.fail_after", "py:function", TRIO_CORE),
        ("trio.fail_at", "py:function", TRIO_CORE),
        ("trio.sleep", "py:function", TRIO_CORE),
        ("trio.sleep_until", "py:function", TRIO_CORE),
        ("trio.sleep_forever", "py:function", TRIO_CORE),
        ("trio.current_time", "py:function", TRIO_CORE),
        ("trio.Event", "py:class", TRIO_CORE),
        ("trio.CapacityLimiter", "py:class", TRIO_CORE),
        ("trio.TaskStatus", "py:class", TRIO_CORE),
        ("trio.TaskStatus.started", "py:method", TRIO_CORE),
        ("trio.open_memory_channel", "py:function", TRIO_CORE),
        ("trio.MemorySendChannel", "py:class", TRIO_CORE),
        ("trio.MemoryReceiveChannel", "py:class", TRIO_CORE),
        ("trio.Cancelled", "py:exception", TRIO_CORE),
        ("trio.TooSlowError", "py:exception", TRIO_CORE),
        ("trio.WouldBlock", "py:exception", TRIO_CORE),
        ("trio.EndOfChannel", "py:exception", TRIO_CORE),
        ("trio.ClosedResourceError", "py:exception", TRIO_CORE),
        ("trio.BrokenResourceError", "py:exception", TRIO_CORE),
        ("trio.abc.Stream", "py:class", TRIO_IO),
        ("trio.abc.Stream.send_all", "py:method", TRIO_IO),
        ("trio.abc.ReceiveStream.receive_some", "py:method", TRIO_IO),
        ("trio.open_tcp_stream", "py:function", TRIO_IO),
        ("trio.open_ssl_over_tcp_stream", "py:function", TRIO_IO),
        ("trio.aclose_forcefully", "py:function", TRIO_IO),
        ("trio.testing", "py:module", "reference-testing.html#module-$"),
        ("trio.testing.MockClock", "py:class", TRIO_TESTING),
        ("trio.testing.MockClock.autojump_threshold", "py:attribute", TRIO_TESTING),
        ("trio.testing.memory_stream_pair", "py:function", TRIO_TESTING),
        ("trio.lowlevel.checkpoint", "py:function", TRIO_LOWLEVEL),
    ),
)

TRIO_WEBSOCKET = Project(
    name="Trio WebSocket",
    version="0.12",
    base_url="https://trio-websocket.readthedocs.io/en/stable",
    objects=(
        ("trio_websocket.open_websocket", "py:function", "clients.html#$"),
        ("trio_websocket.open_websocket_url", "py:function", "clients.html#$"),
        ("trio_websocket.connect_websocket_url", "py:function", "clients.html#$"),
        ("trio_websocket.wrap_client_stream", "py:function", "clients.html#$"),
        ("trio_websocket.serve_websocket", "py:function", "servers.html#$"),
        ("trio_websocket.wrap_server_stream", "py:function", "servers.html#$"),
        ("trio_websocket.WebSocketRequest", "py:class", "api.html#$"),
        ("trio_websocket.WebSocketRequest.accept", "py:method", "api.html#$"),
        ("trio_websocket.WebSocketConnection", "py:class", "api.html#$"),
        ("trio_websocket.WebSocketConnection.send_message", "py:method", "api.html#$"),
        ("trio_websocket.WebSocketConnection.get_message", "py:method", "api.html#$"),
        ("trio_websocket.WebSocketConnection.ping", "py:method", "api.html#$"),
        ("trio_websocket.WebSocketConnection.aclose", "py:method", "api.html#$"),
        ("trio_websocket.CloseReason", "py:class", "api.html#$"),
        ("trio_websocket.ConnectionClosed", "py:exception", "api.html#$"),
        # Raised by trio-websocket but not on its API page: link to the page itself.
        ("trio_websocket.ConnectionRejected", "py:exception", "api.html"),
    ),
)

ATTRS = Project(
    name="attrs",
    version="25",
    base_url="https://www.attrs.org/en/stable",
    objects=(
        ("attrs.define", "py:function", "api.html#$"),
        ("attrs.frozen", "py:function", "api.html#$"),
        ("attrs.field", "py:function", "api.html#$"),
        ("attrs.evolve", "py:function", "api.html#$"),
        ("attrs.Attribute", "py:class", "api.html#$"),
    ),
)

# httpx documents itself with MkDocs: the anchors are the headings' slugs.
HTTPX = Project(
    name="HTTPX",
    version="0.28",
    base_url="https://www.python-httpx.org",
    objects=(
        ("httpx.AsyncClient", "py:class", "api/#asyncclient"),
        ("httpx.Client", "py:class", "api/#client"),
        ("httpx.MockTransport", "py:class", "advanced/transports/#mock-transports"),
    ),
)

PY_EXC = "library/exceptions.html#$"
PY_FUNCTIONS = "library/functions.html#$"
PY_STDTYPES = "library/stdtypes.html#$"

PYTHON = Project(
    name="Python",
    version="3",
    base_url="https://docs.python.org/3",
    objects=(
        ("logging.Logger", "py:class", "library/logging.html#$"),
        ("logging.getLogger", "py:function", "library/logging.html#$"),
        ("ssl.SSLContext", "py:class", "library/ssl.html#$"),
        ("ssl.create_default_context", "py:function", "library/ssl.html#$"),
        ("ssl.SSLCertVerificationError", "py:exception", "library/ssl.html#$"),
        ("contextlib.AsyncExitStack", "py:class", "library/contextlib.html#$"),
        ("collections.deque", "py:class", "library/collections.html#$"),
        ("gc.freeze", "py:function", "library/gc.html#$"),
        ("itertools.count", "py:function", "library/itertools.html#$"),
        ("json", "py:module", "library/json.html#module-json"),
        ("enum.Enum", "py:class", "library/enum.html#$"),
        ("collections.abc.Callable", "py:class", "library/collections.abc.html#$"),
        ("collections.abc.Awaitable", "py:class", "library/collections.abc.html#$"),
        ("collections.abc.Iterable", "py:class", "library/collections.abc.html#$"),
        ("collections.abc.Hashable", "py:class", "library/collections.abc.html#$"),
        ("collections.abc.Mapping", "py:class", "library/collections.abc.html#$"),
        ("collections.Counter", "py:class", "library/collections.html#$"),
        ("typing.Any", "py:data", "library/typing.html#$"),
        ("typing.Literal", "py:data", "library/typing.html#$"),
        ("None", "py:data", "library/constants.html#$"),
        ("True", "py:data", "library/constants.html#$"),
        ("False", "py:data", "library/constants.html#$"),
        ("isinstance", "py:function", PY_FUNCTIONS),
        ("object", "py:class", PY_FUNCTIONS),
        ("bool", "py:class", PY_FUNCTIONS),
        ("int", "py:class", PY_FUNCTIONS),
        ("float", "py:class", PY_FUNCTIONS),
        ("str", "py:class", PY_STDTYPES),
        ("bytes", "py:class", PY_STDTYPES),
        ("bytearray", "py:class", PY_STDTYPES),
        ("memoryview", "py:class", PY_STDTYPES),
        ("tuple", "py:class", PY_STDTYPES),
        ("list", "py:class", PY_STDTYPES),
        ("dict", "py:class", PY_STDTYPES),
        ("frozenset", "py:class", PY_STDTYPES),
        ("BaseException", "py:exception", PY_EXC),
        ("Exception", "py:exception", PY_EXC),
        ("BaseExceptionGroup", "py:exception", PY_EXC),
        ("ExceptionGroup", "py:exception", PY_EXC),
        ("TimeoutError", "py:exception", PY_EXC),
        ("ValueError", "py:exception", PY_EXC),
        ("TypeError", "py:exception", PY_EXC),
        ("RuntimeError", "py:exception", PY_EXC),
        ("OverflowError", "py:exception", PY_EXC),
        ("IndexError", "py:exception", PY_EXC),
        ("OSError", "py:exception", PY_EXC),
        ("ConnectionError", "py:exception", PY_EXC),
        ("ConnectionRefusedError", "py:exception", PY_EXC),
        ("StopAsyncIteration", "py:exception", PY_EXC),
    ),
)

#: Inventory file name (without ``.inv``) → project. conf.py reads this mapping.
PROJECTS: dict[str, Project] = {
    "python": PYTHON,
    "trio": TRIO,
    "trio-websocket": TRIO_WEBSOCKET,
    "attrs": ATTRS,
    "httpx": HTTPX,
}


def render(project: Project) -> bytes:
    """The bytes of ``project``'s inventory file (deterministic)."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project.name}\n"
        f"# Version: {project.version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    seen: set[tuple[str, str]] = set()
    lines = []
    for name, role, uri in sorted(project.objects):
        if (name, role) in seen:
            raise ValueError(f"{project.name}: {name} ({role}) is listed twice")
        if ":" not in role or " " in uri:
            raise ValueError(f"{project.name}: bad entry {(name, role, uri)!r}")
        seen.add((name, role))
        lines.append(f"{name} {role} 1 {uri} -\n")
    return header.encode() + zlib.compress("".join(lines).encode(), 9)


def intersphinx_mapping(directory: str = "_inventories") -> dict[str, tuple[str, str]]:
    """``intersphinx_mapping`` for conf.py: remote base URLs, local inventory files."""
    return {key: (project.base_url, f"{directory}/{key}.inv") for key, project in PROJECTS.items()}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for key, project in PROJECTS.items():
        path = HERE / f"{key}.inv"
        data = render(project)
        if path.exists() and path.read_bytes() == data:
            continue
        if check:
            stale.append(path.name)
        else:
            path.write_bytes(data)
            print(f"wrote {path.name} ({len(project.objects)} objects)")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python docs/_inventories/build.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
