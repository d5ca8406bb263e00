"""The ``pterows`` command line: ``demo``, ``connect`` and ``console``.

- ``pterows demo``: a Pterodactyl console client against FakeWings (a fake panel and
  Wings node) behind a ChaosProxy that breaks the link every few seconds, shown live
  (rich, when installed and stdout is a terminal) or as timestamped lines;
- ``pterows connect URL``: a reconnecting websocat-like client;
- ``pterows console --panel URL --server ID``: a real server's console.

One module per command (the demo in parts), shared helpers in :mod:`._shared`,
:mod:`._text`, :mod:`._stdin`, :mod:`._args` and :mod:`._tokens`. Nothing in the
library imports this package. Nothing here prints the API key, a token or a URL's
query string. Standard input is read without threads and without changing its
blocking mode; the whole CLI runs in one ``trio.run``.
"""

from __future__ import annotations

from ._main import main as main

__all__ = ["main"]
