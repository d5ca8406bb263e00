"""Sphinx configuration."""

from __future__ import annotations

import trio_pterows

project = "trio_pterows"
author = "trio_pterows developers"
copyright = "2026, trio_pterows developers"  # noqa: A001
version = release = trio_pterows.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = False
html_theme = "furo" if __import__("importlib.util").util.find_spec("furo") else "alabaster"
html_title = f"trio_pterows {release}"
exclude_patterns = ["_build"]
