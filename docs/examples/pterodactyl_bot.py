"""A console bot: greets players who join, and reacts to the server's status.

It runs against FakeWings (a fake panel + Wings node that ships with the library);
against a real panel, drop the FakeWings lines and pass your panel URL, a client API
key and the server's identifier to open_console.
"""

from __future__ import annotations

import httpx
import trio

from trio_pterows.pterodactyl import Console, ConsoleOutput, StatusChange, open_console
from trio_pterows.testing import FakeWings


async def bot(console: Console) -> None:
    async for event in console:
        match event:
            case StatusChange(status=status):
                print(f"status: {status}")
            case ConsoleOutput(line=line) if line.endswith("joined the game"):
                player = line.split()[0]
                print(f"greeting {player}")
                await console.send_command(f"say Welcome, {player}!")
            case ConsoleOutput(line=line) if "Welcome" in line:
                print(f"console: {line}")
                return


async def main() -> None:
    fake = FakeWings(initial_status="running", stats_interval=None)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        panel = httpx.AsyncClient(transport=fake.panel_transport())
        async with (
            panel,
            open_console(
                fake.panel_url,
                fake.api_key,
                fake.server_id,
                http_client=panel,
                stream_opener=fake.open_stream,  # in memory; omit for a real node
            ) as console,
        ):
            nursery.start_soon(bot, console)
            await trio.sleep(1)
            fake.console("Steve joined the game")  # what the game server prints
            await fake.wait_until(lambda: bool(fake.commands))
            await trio.sleep(1)
        print(f"commands the node received: {fake.commands}")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
