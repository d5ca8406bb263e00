"""The documentation's code runs here, so it cannot rot.

- Every ``docs/examples/*.py`` with a ``main()`` runs, bounded in time, and prints
  exactly its ``.out`` file when it has one (the pages show both). Examples that use
  only in-memory servers run on trio's autojump clock, the others on real loopback
  sockets. ``UPDATE_DOCS_OUTPUT=1 pytest tests/test_docs_examples.py`` rewrites the
  ``.out`` files; review the diff.
- ``docs/examples/test_*.py`` are pytest modules (the testing how-to): their tests are
  collected into this module.
- Every ``>>>`` block of every ``.rst`` page runs as a doctest.
- No page shows Python that is not one of the above, and every example is shown.
- The offline intersphinx inventories match their table, and the changelog's Markdown
  converter handles what towncrier writes.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio
import trio.testing

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)

#: Examples that open real sockets on 127.0.0.1 (real clock); the rest run on autojump.
REAL_SOCKETS = frozenset({"tutorial_echo", "tutorial_json", "tutorial_reconnect"})


def _load(path: Path, name: str | None = None) -> ModuleType:
    """Import ``path`` as a module; its own directory is importable meanwhile."""
    spec = importlib.util.spec_from_file_location(name or f"docs_example_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(path.parent))  # test_ticker.py imports ticker.py
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


SCRIPTS = sorted(
    p.stem
    for p in EXAMPLES.glob("*.py")
    if not p.stem.startswith("test_") and "async def main(" in p.read_text(encoding="utf-8")
)


def _check_output(name: str, printed: str) -> None:
    expected_path = EXAMPLES / f"{name}.out"
    if os.environ.get("UPDATE_DOCS_OUTPUT"):
        expected_path.write_text(printed, encoding="utf-8")
        return
    if expected_path.exists():
        assert printed == expected_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(REAL_SOCKETS & set(SCRIPTS)))
async def test_example_on_loopback(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = _load(EXAMPLES / f"{name}.py")
    with trio.fail_after(20):
        await module.main()
    _check_output(name, capsys.readouterr().out)


@pytest.mark.parametrize("name", sorted(set(SCRIPTS) - REAL_SOCKETS))
async def test_example_in_memory(
    name: str, autojump_clock: trio.testing.MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    module = _load(EXAMPLES / f"{name}.py")
    with trio.fail_after(600):  # virtual seconds: a hang fails at once
        await module.main()
    _check_output(name, capsys.readouterr().out)


def _collect_example_tests() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for path in sorted(EXAMPLES.glob("test_*.py")):
        module = _load(path, path.stem)
        for attr, value in vars(module).items():
            if attr.startswith("test_") and callable(value):
                found[f"test_docs_{path.stem[len('test_') :]}__{attr[len('test_') :]}"] = value
            elif getattr(value, "_pytestfixturefunction", None) or hasattr(
                value, "_fixture_function_marker"
            ):
                found[attr] = value  # the example's fixtures
    return found


globals().update(_collect_example_tests())


# ------------------------------------------------------------------ the pages


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_doctests_in_page(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"__name__": "docs"}, page.name, str(page), 0)
    if not test.examples:
        return
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    output: list[str] = []
    runner.run(test, out=output.append)
    assert runner.failures == 0, "".join(output)


_UNTESTED = re.compile(
    r"^\s*\.\. (code-block|code|sourcecode)::\s*(python|py|python3|pycon)\b", re.M
)
_INCLUDE = re.compile(r"^\s*\.\. literalinclude::\s*(\S+)", re.M)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_pages_show_only_tested_python(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not _UNTESTED.search(text), (
        f"{page.name}: Python in a code-block is never run; use a >>> doctest or "
        "literalinclude a file from docs/examples/"
    )
    for target in _INCLUDE.findall(text):
        path = (page.parent / target).resolve()
        assert path.exists(), f"{page.name}: {target} does not exist"
        if path.suffix == ".py":
            assert path.parent == EXAMPLES, f"{page.name}: {target} is not in docs/examples/"


def test_every_example_is_shown() -> None:
    included = {
        (page.parent / target).resolve()
        for page in PAGES
        for target in _INCLUDE.findall(page.read_text(encoding="utf-8"))
    }
    for path in [*EXAMPLES.glob("*.py"), *EXAMPLES.glob("*.out")]:
        assert path.resolve() in included, f"{path.name} is not shown on any page"


# ---------------------------------------------------------- the docs machinery


def test_offline_inventories_are_up_to_date() -> None:
    build = _load(DOCS / "_inventories" / "build.py", "docs_inventories_build")
    assert build.main(["--check"]) == 0, "run: python docs/_inventories/build.py"


@pytest.fixture(scope="module")
def markdown() -> ModuleType:
    return _load(DOCS / "_ext" / "towncrier_markdown.py", "towncrier_markdown")


def test_changelog_markdown_to_rst(markdown: ModuleType) -> None:
    text = (
        "# Changelog\n\n<!-- towncrier release notes start -->\n\n"
        "## 1.0.0 (2026-01-02)\n\n### Features\n\n"
        "- `AdvancedWebSocket` keeps **every** message; see [the docs](https://x.test/a_b). (#2)\n"
        "- snake_case_names and a | pipe stay text (#3)\n"
    )
    lines = [line for line in markdown.markdown_to_rst(text, drop_title=True) if line]
    assert lines == [
        "1.0.0 (2026-01-02)",
        "------------------",
        "Features",
        "~~~~~~~~",
        "- ``AdvancedWebSocket`` keeps **every** message; "
        "see `the docs <https://x.test/a_b>`__. (#2)",
        "- snake\\_case\\_names and a \\| pipe stay text (#3)",
    ]


def test_changelog_fragments(markdown: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "2.feature.md").write_text("A feature.\n")
    (tmp_path / "10.feature.md").write_text("Another feature.\n")
    (tmp_path / "3.bugfix.1.md").write_text("A fix.\n")
    (tmp_path / "+orphan.misc.md").write_text("ignored text\n")
    (tmp_path / "4.misc.md").write_text("")
    (tmp_path / "README.txt").write_text("not a fragment\n")
    types = markdown.fragment_types({})
    fragments = markdown.find_fragments(tmp_path, types)
    assert markdown.render_fragments(fragments, types, "#{issue}").splitlines() == [
        "### Features",
        "",
        "- A feature. (#2)",
        "- Another feature. (#10)",
        "",
        "### Bugfixes",
        "",
        "- A fix. (#3)",
        "",
        "### Misc",
        "",
        "- #4",
    ]
