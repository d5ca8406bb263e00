"""The public surface, the exception tree, and the layering rules of DESIGN.md."""

from __future__ import annotations

import ast
import importlib
import importlib.resources
import inspect
import re
import typing
from pathlib import Path

import attrs
import pytest

import trio_pterows as pw
from trio_pterows import _exceptions

PACKAGE_DIR = Path(pw.__file__).parent
#: trio_pterows/_*.py without ``__main__.py`` (the CLI is the ``cli`` package), plus
#: ``__init__.py``.
CORE_MODULES = sorted(
    path
    for path in PACKAGE_DIR.glob("_*.py")
    if path.name == "__init__.py" or not path.name.startswith("__")
)
ALL_MODULES = sorted(PACKAGE_DIR.rglob("*.py"))
SANS_IO = [
    "_backoff",
    "_options",
    "_queue",
    "_exceptions",
    "_event_names",
    "_kwargs",
    "_retry",
    "_handle",
    "_ack",
    "_dedupe",
    "_urls",
    "_proxy_url",
]


# -------------------------------------------------------------------- __all__


def _ruff_sort_key(name: str) -> tuple[int, str]:
    """RUF022's "isort-style" order: SCREAMING_CASE, then CamelCase, then the rest."""
    if name.isupper():
        group = 0
    elif name[0].isupper():
        group = 1
    else:
        group = 2
    return group, name


def test_all_is_sorted_and_unique() -> None:
    assert len(set(pw.__all__)) == len(pw.__all__)
    assert list(pw.__all__) == sorted(pw.__all__, key=_ruff_sort_key)


def test_every_name_in_all_exists() -> None:
    missing = [name for name in pw.__all__ if not hasattr(pw, name)]
    assert missing == []


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from trio_pterows import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(pw.__all__)


def test_no_private_name_is_exported() -> None:
    private = [name for name in pw.__all__ if name.startswith("_") and name != "__version__"]
    assert private == []
    assert isinstance(pw.__version__, str)
    assert re.match(r"^\d+\.\d+", pw.__version__)


def test_no_helper_name_leaks_from_init() -> None:
    # __init__ loops over __all__ with helper variables; they must be deleted.
    assert not hasattr(pw, "_name")
    assert not hasattr(pw, "_obj")
    public = {
        name
        for name, value in vars(pw).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert public <= set(pw.__all__)


@pytest.mark.parametrize("name", pw.__all__)
def test_public_classes_and_functions_are_defined_in_the_package(name: str) -> None:
    obj = getattr(pw, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert obj.__module__.startswith("trio_pterows"), f"{name}.__module__ == {obj.__module__!r}"


@pytest.mark.parametrize(
    "name",
    [n for n in pw.__all__ if inspect.isclass(getattr(pw, n)) and attrs.has(getattr(pw, n))],
)
def test_type_hints_of_public_attrs_classes_resolve(name: str) -> None:
    # Tools such as cattrs and pydantic need this; rewriting __module__ broke it once.
    cls = getattr(pw, name)
    typing.get_type_hints(cls)
    attrs.resolve_types(cls)


#: The names DESIGN.md section 2 promises at `import trio_pterows as pw`.
DESIGN_NAMES = [
    "AdvancedWebSocket",
    "ConnectionFailed",
    "ConnectionLost",
    "ConnectionState",
    "DROP",
    "Destroyed",
    "NotConnected",
    "PterowsError",
    "QueueFull",
    "ResponseTimeout",
    "WSConnectionOptions",
    "WSMetrics",
    "open_websocket",
]


@pytest.mark.parametrize("name", DESIGN_NAMES)
def test_design_names_are_exported(name: str) -> None:
    assert name in pw.__all__


def test_connection_state_values() -> None:
    assert {s.value for s in pw.ConnectionState} == {
        "CONNECTING",
        "OPEN",
        "CLOSING",
        "CLOSED",
        "RECONNECTING",
    }
    assert pw.ConnectionState.OPEN == "OPEN"


def test_event_type_values() -> None:
    assert {t.value for t in pw.EventType} == {
        "open",
        "message",
        "close",
        "error",
        "reconnectAttempt",
        "reconnectSuccess",
        "reconnect",
        "ping",
        "pong",
        "custom",
    }
    assert str(pw.EventType.RECONNECT_ATTEMPT) == "reconnectAttempt"


def test_py_typed_ships_in_the_package() -> None:
    marker = importlib.resources.files("trio_pterows") / "py.typed"
    assert marker.is_file()
    assert (PACKAGE_DIR / "py.typed").is_file()


# -------------------------------------------------------------- exception tree


def _drawn_tree() -> dict[str, str | None]:
    """Parse the box drawing in _exceptions' docstring into {class name: parent name}."""
    doc = _exceptions.__doc__
    assert doc is not None
    assert "::\n" in doc, "the exception tree is no longer drawn in the module docstring"
    block: list[str] = []
    for line in doc.split("::\n", 1)[1].splitlines():
        if line.strip() and not line.startswith(" "):
            break  # end of the literal block
        if line.strip():
            block.append(line)
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block:
        match = re.search(r"[A-Za-z_]\w*", line)
        assert match is not None, line
        column, name = match.start(), match.group()
        while stack and stack[-1][0] >= column:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((column, name))
    return parents


def _resolve(name: str) -> type[BaseException]:
    if hasattr(pw, name):
        return getattr(pw, name)  # type: ignore[no-any-return]
    for module in ("trio_pterows.pterodactyl", "trio_pterows.pterodactyl._exceptions"):
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if found is not None:
            return found  # type: ignore[no-any-return]
    raise AssertionError(f"{name} is drawn in _exceptions' docstring but does not exist")


def test_drawing_is_parsed() -> None:
    tree = _drawn_tree()
    assert tree["PterowsError"] is None
    assert tree["ConnectionLost"] == "NotConnected"
    assert set(_exceptions.__all__) <= set(tree)


@pytest.mark.parametrize("name", sorted(_drawn_tree()))
def test_exception_tree_matches_the_drawing(name: str) -> None:
    parent = _drawn_tree()[name]
    cls = _resolve(name)
    if parent is None:
        assert cls is pw.PterowsError
        assert cls.__bases__ == (Exception,)
    else:
        assert _resolve(parent) in cls.__bases__


def test_every_error_subclasses_pterows_error() -> None:
    errors = [
        pw.ConnectionFailed,
        pw.NotConnected,
        pw.ConnectionLost,
        pw.QueueFull,
        pw.ResponseTimeout,
        pw.Destroyed,
    ]
    for cls in errors:
        assert issubclass(cls, pw.PterowsError)
        assert issubclass(cls, Exception)
    assert issubclass(pw.ConnectionLost, pw.NotConnected)
    assert not issubclass(pw.NotConnected, pw.ConnectionLost)
    assert issubclass(pw.ResponseTimeout, TimeoutError)
    assert pw.PterowsError.fatal is False


def test_response_timeout_is_caught_as_timeout_error() -> None:
    with pytest.raises(TimeoutError):
        raise pw.ResponseTimeout("no reply")


def test_connection_lost_is_caught_as_not_connected() -> None:
    with pytest.raises(pw.NotConnected):
        raise pw.ConnectionLost("dropped")


def _failed(n: int) -> pw.ConnectionFailed:
    attempts: list[tuple[str, BaseException]] = [
        (f"wss://host{i}.example/", OSError(f"refused #{i}")) for i in range(n)
    ]
    return pw.ConnectionFailed("could not connect", attempts)


def test_connection_failed_str_lists_attempts() -> None:
    error = _failed(2)
    assert len(error.attempts) == 2
    assert str(error).splitlines() == [
        "could not connect",
        "  wss://host0.example/: OSError: refused #0",
        "  wss://host1.example/: OSError: refused #1",
    ]


def test_connection_failed_str_without_attempts() -> None:
    assert str(pw.ConnectionFailed("gave up", [])) == "gave up"


def test_connection_failed_str_shows_exactly_five() -> None:
    text = str(_failed(5))
    assert "earlier attempts" not in text
    assert all(f"refused #{i}" in text for i in range(5))


def test_connection_failed_str_truncates_after_five() -> None:
    error = _failed(8)
    lines = str(error).splitlines()
    assert lines[0] == "could not connect"
    assert lines[1] == "  ... 3 earlier attempts not shown"
    assert lines[2:] == [f"  wss://host{i}.example/: OSError: refused #{i}" for i in range(3, 8)]
    assert len(error.attempts) == 8  # nothing is lost, only the text is short


# ------------------------------------------------------------------- layering


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names, relative imports resolved).

    ``from . import x`` yields both the package and ``package.x``, so importing a
    subpackage by name is caught too. Imports under ``if TYPE_CHECKING`` count.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            # importlib.import_module("x") / __import__("x") with a literal name
            func = node.func
            name = getattr(func, "attr", None) or getattr(func, "id", None)
            if name in ("import_module", "__import__") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
    return found


def _within(imported: set[str], forbidden: str) -> set[str]:
    return {name for name in imported if name == forbidden or name.startswith(forbidden + ".")}


def test_core_module_list() -> None:
    names = {path.name for path in CORE_MODULES}
    assert {"__init__.py", "_manager.py", "_options.py", "_cycle.py", "_live.py"} <= names
    assert not names & {"_cli.py", "__main__.py"}


def test_import_parser_sees_relative_imports() -> None:
    imported = _imports(PACKAGE_DIR / "_cycle.py")
    assert "trio_pterows._backoff" in imported
    assert "trio" in imported
    assert "trio_pterows._options.redact_url" in imported


UPPER_LAYERS = ["trio_pterows.pterodactyl", "trio_pterows.testing", "trio_pterows.cli"]


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: p.name)
def test_core_never_imports_upper_layers(path: Path) -> None:
    imported = _imports(path)
    bad = set().union(*(_within(imported, layer) for layer in UPPER_LAYERS))
    assert bad == set(), f"{path.name} imports {sorted(bad)}"


def test_pterodactyl_never_imports_testing_or_cli() -> None:
    for path in sorted((PACKAGE_DIR / "pterodactyl").rglob("*.py")):
        imported = _imports(path)
        bad = _within(imported, "trio_pterows.testing") | _within(imported, "trio_pterows.cli")
        assert bad == set(), f"{path} imports {sorted(bad)}"


def test_nothing_imports_the_cli() -> None:
    cli = PACKAGE_DIR / "cli"
    for path in ALL_MODULES:
        if path == PACKAGE_DIR / "__main__.py" or cli in path.parents:
            continue
        bad = _within(_imports(path), "trio_pterows.cli")
        assert bad == set(), f"{path} imports the CLI"


#: The core, bottom to top (DESIGN §1): a module imports only modules before it.
CORE_LAYERS = [
    "_version",
    "_exceptions",
    "_ack",
    "_dedupe",
    "_backoff",
    "_retry",
    "_codec",
    "_queue",
    "_metrics",
    "_handle",
    "_urls",
    "_proxy_url",
    "_options",
    "_kwargs",
    "_log",
    "_event_names",
    "_events",
    "_event_api",
    "_util",
    "_state",
    "_context",
    "_delivery",
    "transports._base",
    "transports._stream",
    "transports._trio_websocket",
    "transports._ws_writer",
    "transports._ws_handshake",
    "transports._websockets",
    "transports._proxy",
    "transports",
    "_inbox",
    "_receive",
    "_heartbeat",
    "_send",
    "_live",
    "_cycle",
    "_lifecycle",
    "_manager",
    "_open",
    "_group",
    "",  # __init__
]


def _layer_path(name: str) -> Path:
    if name in ("", "transports"):
        return PACKAGE_DIR / name / "__init__.py"
    return PACKAGE_DIR / (name.replace(".", "/") + ".py")


def test_every_core_module_has_a_layer() -> None:
    listed = {_layer_path(name) for name in CORE_LAYERS}
    core = {p for p in CORE_MODULES if p.name != "__main__.py"}
    core |= set((PACKAGE_DIR / "transports").glob("*.py"))
    # transports modules other engines add (websockets, proxy) sit beside _trio_websocket
    unlisted = {p for p in core - listed if p.parent.name != "transports"}
    assert unlisted == set()


@pytest.mark.parametrize("index", range(len(CORE_LAYERS)), ids=lambda i: CORE_LAYERS[i] or "init")
def test_core_imports_only_downward(index: int) -> None:
    name = CORE_LAYERS[index]
    below = {f"trio_pterows.{n}".rstrip(".") for n in CORE_LAYERS[:index]}
    below.add("trio_pterows")  # `from . import x` (package) when x is below
    imported = {
        i for i in _imports(_layer_path(name)) if i.startswith("trio_pterows") and _is_module(i)
    }
    above = {i for i in imported if i not in below and i != f"trio_pterows.{name}".rstrip(".")}
    if name == "":
        above = {i for i in above if not i.startswith(("trio_pterows.pterodactyl",))}
    assert above == set(), f"{name or '__init__'} imports {sorted(above)} from above it"


def _is_module(name: str) -> bool:
    path = PACKAGE_DIR.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _package_closure(start: str) -> set[str]:
    """``start`` and every trio_pterows module it imports, transitively."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = PACKAGE_DIR.parent / (module.replace(".", "/") + ".py")
        if not path.is_file():
            continue  # an imported name, not a module
        seen.add(module)
        todo.extend(name for name in _imports(path) if name.startswith("trio_pterows."))
    return seen


@pytest.mark.parametrize("module", SANS_IO)
def test_sans_io_modules_import_no_trio(module: str) -> None:
    closure = _package_closure(f"trio_pterows.{module}")
    assert f"trio_pterows.{module}" in closure
    for name in sorted(closure):
        path = PACKAGE_DIR.parent / (name.replace(".", "/") + ".py")
        imported = _imports(path)
        io = {
            i
            for i in imported
            if i.split(".")[0] in ("trio", "trio_websocket", "wsproto", "httpx", "socket")
        }
        assert io == set(), f"{name} (reached from {module}) imports {sorted(io)}"


FORBIDDEN_CALLS = {("time", "time"), ("time", "sleep")}
FORBIDDEN_MODULES = {"threading", "_thread"}


def _clock_and_thread_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    time_aliases = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "time"
    }
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    problems.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and not node.level:
            root = (node.module or "").split(".")[0]
            if root in FORBIDDEN_MODULES:
                problems.append(f"line {node.lineno}: from {node.module} import ...")
            if root == "time":
                for alias in node.names:
                    if (root, alias.name) in FORBIDDEN_CALLS:
                        problems.append(f"line {node.lineno}: from time import {alias.name}")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in time_aliases
            and ("time", node.attr) in FORBIDDEN_CALLS
        ):
            problems.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return problems


def test_checker_catches_forbidden_calls(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import time\n"
        "import time as clock\n"
        "import threading\n"
        "from time import sleep\n"
        "x = time.time()\n"
        "clock.sleep(1)\n"
        "y = time.monotonic()\n",
        encoding="utf-8",
    )
    assert sorted(p.split(":")[0] for p in _clock_and_thread_uses(sample)) == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
    ]


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: str(p.relative_to(PACKAGE_DIR.parent)))
def test_library_never_uses_wall_clock_sleep_or_threads(path: Path) -> None:
    assert _clock_and_thread_uses(path) == []


def test_only_the_trio_websocket_transport_imports_trio_websocket_or_wsproto() -> None:
    """The seam (DESIGN §1): the core talks to transports/_base.py only."""
    engine = PACKAGE_DIR / "transports" / "_trio_websocket.py"
    core = [p for p in CORE_MODULES if p.name != "__main__.py"]
    core += sorted((PACKAGE_DIR / "transports").glob("*.py"))
    offenders = {
        p.name: sorted(i for i in _imports(p) if i.split(".")[0] in ("trio_websocket", "wsproto"))
        for p in core
        if p != engine
    }
    assert {name: found for name, found in offenders.items() if found} == {}
    assert any(i.startswith("trio_websocket") for i in _imports(engine))  # the check sees it
