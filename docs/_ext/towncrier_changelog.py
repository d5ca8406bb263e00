"""``.. towncrier-changelog::``: the changelog, released and unreleased, without MyST.

towncrier writes released entries to ``CHANGELOG.md`` (Markdown) and keeps the
unreleased ones as fragments in ``newsfragments/`` (``<issue>.<type>[.<n>].md``). MyST
is not a dependency, so the Markdown is converted to reStructuredText
(:mod:`towncrier_markdown`) and parsed here.

Options:

``:unreleased:``
    Render the pending fragments, grouped by type like towncrier does.
``:released:``
    Render ``CHANGELOG.md``; its ``# Title`` line and towncrier's start marker are left
    out (the page has its own title).

Paths are relative to the project root (``towncrier_changelog_root``, default: the
parent of the Sphinx source directory). The fragment directory, the changelog file,
fragment types and ``issue_format`` come from ``[tool.towncrier]`` in
``pyproject.toml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles
from towncrier_markdown import (
    find_fragments,
    fragment_types,
    markdown_to_rst,
    read_config,
    render_fragments,
)

# ------------------------------------------------------------------ directive


class TowncrierChangelog(SphinxDirective):
    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {
        "released": directives.flag,
        "unreleased": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        root = Path(self.config.towncrier_changelog_root or Path(self.env.srcdir).parent)
        config = read_config(root)
        self.env.note_dependency(str(root / "pyproject.toml"))
        lines: list[str] = []
        if "unreleased" in self.options:
            directory = root / config.get("directory", "newsfragments")
            types = fragment_types(config)
            fragments = find_fragments(directory, types)
            self.env.note_dependency(str(directory))
            for f in fragments:
                self.env.note_dependency(str(f.path))
            if fragments:
                text = render_fragments(fragments, types, config.get("issue_format", "#{issue}"))
                lines += markdown_to_rst(text)
            else:
                lines.append("No unreleased changes.")
        if "released" in self.options:
            path = root / config.get("filename", "CHANGELOG.md")
            self.env.note_dependency(str(path))
            if path.exists():
                lines += markdown_to_rst(path.read_text(encoding="utf-8"), drop_title=True)
            else:
                lines.append("No release yet.")
        container = nodes.container(classes=["towncrier-changelog"])
        content = StringList(lines, source=f"<towncrier-changelog in {self.env.docname}>")
        nested_parse_with_titles(self.state, content, container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("towncrier_changelog_root", "", "env", types=[str])
    app.add_directive("towncrier-changelog", TowncrierChangelog)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
