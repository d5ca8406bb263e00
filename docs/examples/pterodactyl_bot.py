"""A console bot: waits for the server to run, greets players who join, and makes a
backup-safe pause with a command whose answer it waits for.

It runs against FakeWings (a fake panel + Wings node that ships with the library);
against a real panel, drop the FakeWings lines and pass your panel URL, a client API
key and the server's identifier to open_console.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx
import trio

from trio_pterows.pterodactyl import Console, ConsoleOutput, open_console
from trio_pterows.testing import FakeWings


def minecraft(command: str) -> Iterable[str]:
    """What our fake game server prints for a command (a real one is richer)."""
    if command == "save-off":
        return ("\x1b[33m[12:00:00 INFO]: Automatic saving is now disabled\x1b[0m",)
    return (f"> {command}",)


async def bot(console: Console) -> None:
    status = await console.wait_for_status("running")
    print(f"status: {status}")
    reply = await console.command("save-off", expect="Automatic saving is now disabled")
    print(f"the server answered: {reply.text}")  # .text: without the colours
    async for event in console:
        match event:
            case ConsoleOutput(replayed=True, text=text):
                print(f"history: {text}")  # printed before we connected
            case ConsoleOutput(text=text) if text.endswith("joined the game"):
                player = text.split()[0]
                print(f"greeting {player}")
                await console.send_command(f"say Welcome, {player}!")
            case ConsoleOutput(text=text) if "Welcome" in text:
                print(f"console: {text}")
                return


async def main() -> None:
    fake = FakeWings(initial_status="running", stats_interval=None, command_handler=minecraft)
    fake.console('Done (3.1s)! For help, type "help"')  # the server started earlier
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
            await fake.wait_until(lambda: "save-off" in fake.commands)
            await trio.sleep(1)
            fake.console("Steve joined the game")  # what the game server prints
            await fake.wait_until(lambda: len(fake.commands) == 2)
            await trio.sleep(1)
        print(f"commands the node received: {fake.commands}")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
