"""Markdown → reStructuredText and news-fragment handling for the changelog page.

Pure functions (no Sphinx import), used by :mod:`towncrier_changelog` and tested by
``tests/test_docs_examples.py``. Only the Markdown subset towncrier writes is handled:
headings, bullet lists, paragraphs, inline code, emphasis, links and fenced code.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the docs are built with 3.11+
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

#: towncrier's default fragment types, in its order: (directory, name, showcontent).
DEFAULT_TYPES: tuple[tuple[str, str, bool], ...] = (
    ("feature", "Features", True),
    ("bugfix", "Bugfixes", True),
    ("doc", "Improved Documentation", True),
    ("removal", "Deprecations and Removals", True),
    ("misc", "Misc", False),
)

#: Underlines for nested sections, outermost first.
UNDERLINES = "-~^\"'"


# ------------------------------------------------------------- Markdown → reST

_CODE = r"(`+)(.+?)\1"
_LINK = r"\[([^\]]+)\]\(([^)\s]+)\)"
_STRONG = r"\*\*(.+?)\*\*|__(.+?)__"
_EMPHASIS = r"(?<![\w*])\*(?![\s*])(.+?)(?<![\s*])\*(?![\w*])|(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)"
_INLINE = re.compile(f"{_CODE}|{_LINK}|{_STRONG}|{_EMPHASIS}")
_SPECIAL = re.compile(r"([\\`*_|])")
_HEADING = re.compile(r"(#{1,6})\s+(.*)")


def _escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


def inline(text: str) -> str:
    """Convert Markdown inline markup in ``text`` to reStructuredText; escape the rest."""
    out: list[str] = []
    pos = 0
    for match in _INLINE.finditer(text):
        out.append(_escape(text[pos : match.start()]))
        ticks, code_text, label, url, strong1, strong2, em1, em2 = match.groups()
        if ticks is not None:
            markup = f"``{code_text.strip()}``"
        elif label is not None:
            markup = f"`{_escape(label).replace('<', '&lt;')} <{url}>`__"
        elif strong1 is not None or strong2 is not None:
            markup = f"**{_escape(strong1 or strong2)}**"
        else:
            markup = f"*{_escape(em1 or em2)}*"
        # reST markup must touch whitespace or punctuation: add escaped spaces if not.
        if match.start() > 0 and text[match.start() - 1].isalnum():
            markup = "\\ " + markup
        if match.end() < len(text) and text[match.end()].isalnum():
            markup += "\\ "
        out.append(markup)
        pos = match.end()
    out.append(_escape(text[pos:]))
    return "".join(out)


def markdown_to_rst(text: str, *, drop_title: bool = False) -> list[str]:
    """Convert the Markdown subset towncrier writes to reStructuredText lines."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    lines = text.splitlines()
    levels = sorted({len(m.group(1)) for m in map(_HEADING.match, lines) if m})
    if drop_title and levels and levels[0] == 1:
        # The page has its own title: drop "# Changelog" and rank the rest below it.
        lines = [line for line in lines if not re.match(r"#\s", line)]
        levels = levels[1:]
    rank = {level: i for i, level in enumerate(levels)}
    out: list[str] = []
    fence: str | None = None
    for line in lines:
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
                out.append("")
            else:
                out.append("   " + line if line.strip() else "")
            continue
        if m := re.match(r"\s*(```+|~~~+)\s*([\w+-]*)", line):
            fence = m.group(1)
            out.extend(["", f".. code-block:: {m.group(2) or 'text'}", ""])
            continue
        if m := _HEADING.match(line):
            title = inline(m.group(2).strip().rstrip("#").strip())
            char = UNDERLINES[min(rank[len(m.group(1))], len(UNDERLINES) - 1)]
            out.extend(["", title, char * max(len(title), 3), ""])
            continue
        if m := re.match(r"(\s*)([-*+])\s+(.*)", line):
            out.append(f"{m.group(1)}- {inline(m.group(3))}")
            continue
        out.append(inline(line) if line.strip() else "")
    return out


# ------------------------------------------------------------------ fragments


class Fragment:
    """One news fragment: ``<issue>.<type>[.<counter>].md``."""

    __slots__ = ("counter", "issue", "path", "text", "type")

    def __init__(self, path: Path, issue: str, type: str, counter: int) -> None:
        self.path = path
        self.issue = issue
        self.type = type
        self.counter = counter
        self.text = path.read_text(encoding="utf-8").strip()


def read_config(root: Path) -> dict[str, Any]:
    """``[tool.towncrier]`` of ``root/pyproject.toml``, or {}."""
    path = root / "pyproject.toml"
    if tomllib is None or not path.exists():
        return {}
    with path.open("rb") as f:
        data = tomllib.load(f)
    config: dict[str, Any] = data.get("tool", {}).get("towncrier", {})
    return config


def fragment_types(config: dict[str, Any]) -> tuple[tuple[str, str, bool], ...]:
    custom = config.get("type")
    if not custom:
        return DEFAULT_TYPES
    return tuple(
        (t["directory"], t.get("name", t["directory"]), t.get("showcontent", True)) for t in custom
    )


def find_fragments(directory: Path, types: tuple[tuple[str, str, bool], ...]) -> list[Fragment]:
    """Every fragment in ``directory`` whose type is known (others are ignored)."""
    known = {t[0] for t in types}
    found = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name == "template.md":
            continue
        stem = path.name[: -len(".md")] if path.name.endswith(".md") else path.name
        parts = stem.split(".")
        counter = 0
        if len(parts) >= 3 and parts[-1].isdigit() and parts[-2] in known:
            counter = int(parts.pop())
        if len(parts) < 2 or parts[-1] not in known:
            continue
        issue = ".".join(parts[:-1])
        found.append(Fragment(path, issue, parts[-1], counter))
    return found


def _issue_key(issue: str) -> tuple[int, int, str]:
    if issue.startswith("+"):
        return (1, 0, issue)
    return (0, int(issue), "") if issue.isdigit() else (0, sys.maxsize, issue)


def render_fragments(
    fragments: list[Fragment], types: tuple[tuple[str, str, bool], ...], issue_format: str
) -> str:
    """Markdown for the unreleased fragments, grouped like towncrier's default template."""

    def ref(issue: str) -> str | None:
        return None if issue.startswith("+") else issue_format.format(issue=issue)

    out: list[str] = []
    for directory, name, showcontent in types:
        of_type = [f for f in fragments if f.type == directory]
        if not of_type:
            continue
        out.extend([f"### {name}", ""])
        if showcontent:
            # One bullet per distinct text; identical texts merge their issues.
            by_text: dict[str, list[str]] = {}
            for f in sorted(of_type, key=lambda f: (_issue_key(f.issue), f.counter)):
                refs = by_text.setdefault(f.text, [])
                if (r := ref(f.issue)) is not None:
                    refs.append(r)
            for text, refs in by_text.items():
                first, *rest = text.splitlines()
                suffix = f" ({', '.join(refs)})" if refs else ""
                out.append(f"- {first}" + ("" if rest else suffix))
                out.extend(f"  {line}" if line.strip() else "" for line in rest)
                if rest and suffix:
                    out.append(f"  {suffix.strip()}")
        else:
            refs = [r for f in of_type if (r := ref(f.issue)) is not None]
            out.append(f"- {', '.join(dict.fromkeys(refs))}" if refs else "- (no issue)")
        out.append("")
    return "\n".join(out)
