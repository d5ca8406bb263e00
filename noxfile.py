"""Automation: `nox -s tests lint typecheck docs` is what CI runs.

Python 3.10-3.13 come from pyenv on the project's machines; PYENV_VERSION makes all of
them resolvable. Interpreters that are missing are skipped, never a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox


def _expose_pyenv_pythons() -> None:
    """Make python3.10 ... python3.13 resolvable through pyenv's shims.

    The shim that started nox exports PYENV_VERSION with one version only, so the
    others are appended here (only those that are installed).
    """
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    wanted = ["3.11.7", "3.10.13", "3.12.1", "3.13.0"]
    current = [v for v in os.environ.get("PYENV_VERSION", "").split(":") if v]
    installed = [v for v in wanted if (root / "versions" / v).is_dir()]
    if installed:
        os.environ["PYENV_VERSION"] = ":".join(dict.fromkeys([*current, *installed]))
    # Never let uv download an interpreter: there is no network for it here.
    os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")


_expose_pyenv_pythons()
nox.options.default_venv_backend = "uv|virtualenv" if shutil.which("uv") else "virtualenv"
nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


#: The Python on which the suites run on both transports (the others: the default only).
BOTH_TRANSPORTS_PYTHON = "3.11"


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite (fault suite and 20-second soak included), with branch coverage.

    On 3.11 every suite that opens connections runs on both transports
    (``--transport=both``); elsewhere on the default one. Posargs go to pytest.
    """
    session.install("-e", ".[test,json,cli]")
    transport = "both" if session.python == BOTH_TRANSPORTS_PYTHON else "trio-websocket"
    session.run(
        "pytest",
        "--cov=trio_pterows",
        "--cov-report=term",
        f"--transport={transport}",
        *session.posargs,
        env={"COVERAGE_FILE": f".coverage.{session.python}"},
    )


@nox.session(python="3.11")
def tests_nojson(session: nox.Session) -> None:
    """The suite without orjson: the stdlib json fallback must behave the same."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[json,cli,test]", "mypy>=1.10")
    session.run("mypy", "--strict", "trio_pterows")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    session.install("-e", ".[docs,json]")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session(python="3.11")
def soak(session: nox.Session) -> None:
    """At least 1000 injected faults, without and with acks; one summary line each."""
    session.install("-e", ".[test,json]")
    if session.posargs:
        session.run("python", "-m", "tests.soak", *session.posargs)
        return
    session.run("python", "-m", "tests.soak", "--faults", "1000")
    session.run("python", "-m", "tests.soak", "--faults", "1000", "--acks")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks: both transports against raw trio-websocket, websockets.trio and
    websockets' asyncio client, in the same run; prints two tables and writes JSON."""
    session.install("-e", ".[test,json]")
    session.run("python", "-m", "benchmarks", *session.posargs)
