"""Standard input without threads, and telling when a stream of output goes quiet."""

from __future__ import annotations

import os

import trio


class LineReader:
    """Lines of a file descriptor (stdin), without threads and without making it
    non-blocking (a terminal shares that flag with stdout).

    Waits with :func:`trio.lowlevel.wait_readable`, then reads what is there. Files and
    ``/dev/null`` cannot be polled: they are always ready, so they are read directly.
    Unix only (trio cannot wait for a Windows console handle).
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pollable = True
        self._buffer = b""
        self._eof = False

    async def readline(self) -> str | None:
        """The next line without its line ending, or None at end of input."""
        while b"\n" not in self._buffer and not self._eof:
            chunk = await self._read()
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True
        if not self._buffer:
            await trio.lowlevel.checkpoint()
            return None
        line, _, rest = self._buffer.partition(b"\n")
        self._buffer = rest
        return line.decode("utf-8", "replace").rstrip("\r")

    async def _read(self) -> bytes:
        if self._pollable:
            try:
                await trio.lowlevel.wait_readable(self._fd)
            except OSError:  # EPERM: a regular file or /dev/null
                self._pollable = False
                await trio.lowlevel.checkpoint()
        else:
            await trio.lowlevel.checkpoint()
        try:
            return os.read(self._fd, 65536)
        except OSError:  # a closed descriptor: no more input
            return b""


class Activity:
    """Tells when a stream of messages goes quiet (for lingering at end of input)."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def touch(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait_quiet(self, idle: float) -> None:
        """Return once nothing was touched for ``idle`` seconds."""
        while True:
            event = self._event
            with trio.move_on_after(idle):
                await event.wait()
            if not event.is_set():
                return
