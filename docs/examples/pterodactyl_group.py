"""Many servers from one client: one event stream, tagged with each server's id.

Two FakeWings stand in for two servers behind one panel; against a real panel, pass
your panel URL, a client API key and the servers' identifiers to open_consoles.
"""

from __future__ import annotations

import httpx
import trio

from trio_pterows.pterodactyl import ConsoleEnded, ConsoleOutput, open_consoles
from trio_pterows.testing import FakeWings


async def main() -> None:
    fakes = {
        sid: FakeWings(server_id=sid, initial_status="running", stats_interval=None)
        for sid in ("lobby", "survival")
    }

    async def panel(request: httpx.Request) -> httpx.Response:  # one panel, two servers
        fake = fakes[request.url.path.split("/")[4]]
        return await fake.panel_transport().handle_async_request(request)

    async def network(url: str) -> trio.abc.Stream:  # each node, in memory
        fake = next(f for f in fakes.values() if f.server_uuid in url)
        return await fake.open_stream(url)

    async with trio.open_nursery() as nursery:
        for fake in fakes.values():
            await nursery.start(fake.serve)
        async with (
            httpx.AsyncClient(transport=httpx.MockTransport(panel)) as http,
            open_consoles(
                "http://panel.test",
                fakes["lobby"].api_key,
                list(fakes),
                http_client=http,
                stream_opener=network,
            ) as group,
        ):
            for sid in group.server_ids:
                await group[sid].wait_for_status("running")
            await trio.sleep(2)  # past the log replay that follows each connect
            fakes["survival"].console("Alex joined the game")
            fakes["lobby"].delete()  # an admin deletes the lobby server
            async for server_id, event in group:
                match event:
                    case ConsoleOutput(text=text):
                        print(f"[{server_id}] {text}")
                    case ConsoleEnded(error=error):
                        print(f"[{server_id}] ended: {error}")
                        await group["survival"].aclose()
            print("every member ended")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
