"""Run ``pterows console`` against an in-process FakeWings (used by tests/test_cli.py).

    python tests/cli_fakewings_runner.py [more pterows console options]

The CLI's own console entry function (``run_console``) runs with the fake panel's
httpx transport injected, so the shipping CLI needs no test-only option or variable.
Everything else is as for ``pterows console``: the API key comes from
``PTERODACTYL_API_KEY`` (the fake accepts :data:`API_KEY`), lines are read from stdin,
console output goes to stdout, diagnostics to stderr.

The fake server runs, sends two greeting lines once the client authenticated (one
with colours, one with a hostile terminal escape), and knows two special commands:
``chaos drop`` drops every connection, ``chaos expire`` expires every token,
``chaos suspend`` suspends the server (the node closes the console with 4409). Other
commands are echoed as ``> command``. When the CLI returns, the runner prints
``runner: commands=<json list>`` on stderr and exits with the CLI's status.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

import httpx
import trio

from trio_pterows.cli._console import read_api_key, run_console
from trio_pterows.cli._main import build_parser
from trio_pterows.cli._shared import setup_logging
from trio_pterows.testing import FakeWings

API_KEY = "ptlc_RunnerSecretKeyThatMustNeverBePrinted0000"
GREETING = "\x1b[32mhello from fakewings\x1b[0m"
HOSTILE = "\x1b]0;pwned\x07title-escape-removed"


async def _greet(fake: FakeWings) -> None:
    await fake.wait_until(lambda: fake.auth_successes >= 1)
    fake.console(GREETING)
    fake.console(HOSTILE)


async def main(argv: list[str]) -> int:
    fake: FakeWings | None = None

    def handle(command: str) -> Iterable[str]:
        assert fake is not None
        if command == "chaos drop":
            fake.drop_all()
            return ()
        if command == "chaos expire":
            fake.expire_tokens()
            return ()
        if command == "chaos suspend":
            fake.suspend()
            return ()
        return (f"> {command}",)

    fake = FakeWings(
        server_id="abc123",
        api_key=API_KEY,
        initial_status="running",
        stats_interval=None,  # stats only when asked (:stats)
        power_delay=0.1,
        command_handler=handle,
    )
    parser = build_parser()
    args = parser.parse_args(
        ["console", "--panel", fake.panel_url, "--server", fake.server_id, *argv]
    )
    setup_logging(args.verbose)
    api_key = read_api_key(sys.stderr)
    if api_key is None:
        return 2
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        nursery.start_soon(_greet, fake)
        async with httpx.AsyncClient(transport=fake.panel_transport()) as http:
            status = await run_console(args, api_key, http_client=http)
        nursery.cancel_scope.cancel()
    print(f"runner: commands={json.dumps(fake.commands)}", file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(trio.run(main, sys.argv[1:]))
