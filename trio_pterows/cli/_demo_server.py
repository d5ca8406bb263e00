"""The demo's server side: FakeWings, and a Minecraft-like world that talks."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

import trio

from ..testing import FakeWings

DEMO_KEY = "ptlc_PterowsDemoKeyNotASecret000000000000000"
_MIB = 1024 * 1024
_PLAYERS = ("Alex", "Steve", "Kiki", "jeb_", "Dinnerbone", "Notch")
_CHAT = (
    "anyone got iron?",
    "brb, dinner",
    "who took the diamonds from the chest",
    "gg",
    "lag?",
    "come see the castle",
)
_ADVANCEMENTS = ("Stone Age", "Getting an Upgrade", "Acquire Hardware", "Hot Stuff", "Diamonds!")


class DemoServer:
    """FakeWings with short-lived tokens, answering commands and printing game lines.

    ``elapsed()`` is the demo's clock (the game's time of day follows it).
    """

    def __init__(self, seed: int, elapsed: Callable[[], float]) -> None:
        self.seed = seed
        self._elapsed = elapsed
        self.fake = FakeWings(
            server_id="demo",
            api_key=DEMO_KEY,
            token_lifetime=20.0,  # short, so that refreshes happen while you watch
            expiring_window=6.0,
            check_interval=1.0,
            stats_interval=1.0,
            power_delay=0.75,
            initial_status="running",
            command_handler=self.run_command,
        )

    def _clock(self) -> str:
        seconds = 12 * 3600 + int(self._elapsed())
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

    def run_command(self, command: str) -> Iterable[str]:
        """What the server prints for a console command."""
        if command == "list":
            online = ", ".join(_PLAYERS[:3])
            return (f"[{self._clock()} INFO]: There are 3 of a max of 20 players online: {online}",)
        if command.startswith("say "):
            return (f"[{self._clock()} INFO]: [Server] {command[4:]}",)
        return (f'[{self._clock()} INFO]: Unknown command. Type "help" for help.',)

    def game_line(self, rng: random.Random) -> str:
        """A random line of the game's log."""
        player = rng.choice(_PLAYERS)
        roll = rng.random()
        if roll < 0.35:
            text = f"<{player}> {rng.choice(_CHAT)}"
        elif roll < 0.5:
            text = f"{player} joined the game"
        elif roll < 0.6:
            text = f"{player} left the game"
        elif roll < 0.72:
            text = f"{player} has made the advancement [{rng.choice(_ADVANCEMENTS)}]"
        elif roll < 0.82:
            text = "Saving the game (this may take a moment!)"
        elif roll < 0.9:
            behind = rng.randint(2000, 6000)
            return (
                f"[{self._clock()} WARN]: Can't keep up! Is the server overloaded? "
                f"Running {behind}ms or {behind // 50} ticks behind"
            )
        else:
            text = f"{player} was slain by Zombie"
        return f"[{self._clock()} INFO]: {text}"

    async def world(self) -> None:
        """Game lines and changing resource usage while the server runs, for ever."""
        rng = random.Random(f"{self.seed}/world")
        while True:
            await trio.sleep(rng.uniform(0.3, 1.0))
            if self.fake.status == "running":
                self.fake.console(self.game_line(rng))
                self.fake.set_resources(
                    cpu_absolute=round(rng.uniform(8.0, 65.0), 1),
                    memory_bytes=rng.randint(600, 900) * _MIB,
                )
