"""Sphinx configuration.

Build: ``nox -s docs``, or from this directory
``sphinx-build -W --keep-going -b html . _build/html``. The build needs no network:
intersphinx reads the inventories in ``_inventories/`` (see ``_inventories/build.py``),
and every reference must resolve (``nitpicky``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import trio_pterows

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))


def _offline_inventories() -> dict[str, tuple[str, str]]:
    """``intersphinx_mapping`` from the table in ``_inventories/build.py``."""
    spec = importlib.util.spec_from_file_location(
        "trio_pterows_docs_inventories", HERE / "_inventories" / "build.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mapping: dict[str, tuple[str, str]] = module.intersphinx_mapping()
    return mapping


project = "trio_pterows"
author = "trio_pterows developers"
copyright = "2026, trio_pterows developers"
version = release = trio_pterows.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "towncrier_changelog",
]

exclude_patterns = ["_build", "examples", "_inventories", "_ext"]

# -- autodoc -------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

# -- cross references ------------------------------------------------------------
# Every reference must resolve. A new link to another project needs a row in the
# table of _inventories/build.py (then run that script); a private name that has no
# public page goes in _ALIASES or nitpick_ignore below, with the reason.
nitpicky = True
intersphinx_mapping = _offline_inventories()
intersphinx_timeout = 1

# -- HTML ------------------------------------------------------------------------
html_theme = "furo" if importlib.util.find_spec("furo") else "alabaster"
html_title = f"trio_pterows {release}"


# Private modules re-export their public names from ``trio_pterows``; docstrings and
# annotations sometimes name the private path. Point those at the public object.
_PUBLIC_MODULES = ("trio_pterows", "trio_pterows.testing", "trio_pterows.pterodactyl")
#: Private names with no public page of their own: (target, display text).
_ALIASES: dict[str, tuple[str, str]] = {}
#: Bare method names in docstrings of other classes (``:meth:`get_metrics```).
_MANAGER = "trio_pterows.AdvancedWebSocket"

nitpick_ignore = [
    # The offline Python inventory has no anchor for re.Pattern (command's expect=).
    ("py:class", "re.Pattern"),
    # Console's two halves (sending / waiting, and its reactions), shown as its bases;
    # their public methods are documented on Console.
    ("py:class", "trio_pterows.pterodactyl._commands.CommandsMixin"),
    ("py:class", "trio_pterows.pterodactyl._reactions.ReactionsMixin"),
    # FakeWings' server-event helpers, shown as its base; documented on FakeWings.
    ("py:class", "trio_pterows.testing._wings_emit.ServerEventsMixin"),
    # The private accept loop TestServer and ChaosProxy share (shown as their base).
    ("py:class", "trio_pterows.testing._chaos._Listening"),
    # httpx's documentation is MkDocs: only AsyncClient and MockTransport have anchors
    # in the offline inventory; these are named in docstrings for precision.
    ("py:mod", "httpx"),
    ("py:class", "httpx.ConnectError"),
    ("py:class", "httpx.AsyncBaseTransport"),
    # Sans-I/O helpers named in docstrings; internal, not part of the reference.
    ("py:func", "jwt_error_kind"),
    ("py:func", "is_fatal_status"),
    # ``async (url) -> trio.abc.Stream``, described in the parameter's text; the alias
    # itself lives in a private module.
    ("py:class", "StreamOpener"),
    # Subscription's constructor parameter: subscriptions come from ws.subscribe().
    ("py:class", "EventHub"),
    # Subscription's type parameter, what it yields (Subscription[PongEvent], ...).
    ("py:obj", "trio_pterows._events.E_co"),
    ("py:class", "trio_pterows._events.E_co"),
    # The typed event methods' mixin (AdvancedWebSocket's base): its methods are
    # documented on AdvancedWebSocket itself (:inherited-members:).
    ("py:class", "trio_pterows._event_api.EventSource"),
    # MemoryWebSocketServer's handler type: ``async (WebSocketConnection) -> None``.
    ("py:class", "Handler"),
    # The type of AdvancedWebSocket's internal ``_connect_gate`` parameter (groups).
    ("py:class", "AbstractAsyncContextManager"),
]


def _candidates(target: str, reftype: str) -> list[tuple[str, str | None]]:
    if target in _ALIASES:
        return [_ALIASES[target]]
    parts = target.split(".")
    if target.startswith(("trio_pterows.", "trio_websocket.")):
        private = [i for i, part in enumerate(parts) if i > 0 and part.startswith("_")]
        if not private:
            return []
        name = ".".join(parts[private[0] + 1 :])
        if parts[0] == "trio_websocket":
            return [(f"trio_websocket.{name}", None)]
        return [(f"{module}.{name}", None) for module in _PUBLIC_MODULES]
    if len(parts) == 1 and reftype in ("meth", "attr"):
        return [(f"{_MANAGER}.{target}", None)]
    return []


def _with_text(contnode: Any, text: str) -> Any:
    from docutils import nodes

    if isinstance(contnode, nodes.Text):
        return nodes.Text(text)
    new = contnode.deepcopy()
    new.children = [nodes.Text(text)]
    return new


def _resolve_private(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve references to private paths (and a few aliases) to public objects."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    for candidate, display in _candidates(node.get("reftarget", ""), node["reftype"]):
        new = node.deepcopy()
        new["reftarget"] = candidate
        cont = contnode if display is None else _with_text(contnode, display)
        resolved = domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], candidate, new, cont
        )
        if resolved is None:
            resolved = app.emit_firstresult(
                "missing-reference", env, new, cont, allowed_exceptions=()
            )
        if resolved is not None:
            return resolved
    return None


def setup(app: Any) -> None:
    app.connect("missing-reference", _resolve_private, priority=100)
