"""The demo's faults: every few seconds the proxy drops, black-holes, delays or cuts
the link, refuses connections, or the node expires the tokens or the panel fails."""

from __future__ import annotations

import collections
import random
from collections.abc import Callable

import trio

from ..testing import ChaosProxy, FakeWings

#: (fault, weight): see Chaos.inject.
FAULTS = (
    ("drop", 3),
    ("blackhole", 2),
    ("cut", 2),
    ("delay", 2),
    ("outage", 1),
    ("expire", 2),
    ("panel", 1),
)

Note = Callable[[str, str], None]


class Chaos:
    """Injects faults and says what it did through ``note("chaos", text)``."""

    def __init__(self, seed: int, fake: FakeWings, note: Note) -> None:
        self.seed = seed
        self.fake = fake
        self._note = note
        self.faults: collections.Counter[str] = collections.Counter()
        #: The fault that lasts a while and is going on now (None between faults).
        self.active: str | None = None

    def kinds_text(self) -> str:
        """``3 drop, 1 cut``: how many of each kind, the most frequent first."""
        return ", ".join(f"{n} {kind}" for kind, n in self.faults.most_common())

    async def run(self, proxy: ChaosProxy) -> None:
        """One fault every 1.5-3 s, for ever (the seed decides which)."""
        rng = random.Random(f"{self.seed}/chaos")
        kinds = [kind for kind, _ in FAULTS]
        weights = [weight for _, weight in FAULTS]
        await trio.sleep(1.0)
        while True:
            kind = rng.choices(kinds, weights)[0]
            self.faults[kind] += 1
            await self.inject(kind, proxy, rng)
            await trio.sleep(rng.uniform(1.5, 3.0))

    async def inject(self, kind: str, proxy: ChaosProxy, rng: random.Random) -> None:
        """One fault of ``kind``; returns when it is over."""
        if kind == "drop":
            proxy.drop()
            self._note("chaos", "drop: every connection reset (TCP RST)")
        elif kind == "cut":
            proxy.cut_mid_frame()
            self._note("chaos", "cut: the next frame from the node is cut in half, link closed")
        elif kind == "expire":
            self.fake.expire_tokens()
            self._note("chaos", "the node expires every token: refresh without reconnecting")
        elif kind == "panel":
            self.fake.fail_next(503)
            proxy.drop()
            self._note("chaos", "panel hiccup: the next token request gets HTTP 503; link dropped")
        elif kind == "blackhole":
            await self._blackhole(proxy, rng)
        elif kind == "delay":
            await self._delay(proxy, rng)
        else:
            await self._outage(proxy)

    async def _blackhole(self, proxy: ChaosProxy, rng: random.Random) -> None:
        seconds = round(rng.uniform(2.0, 3.5), 1)
        await self._for_a_while(
            f"blackhole for {seconds} s: nothing flows, sockets stay open (heartbeat 1.5 s)",
            "blackhole",
            seconds,
            proxy.blackhole,
            proxy.restore,
            "blackhole over: bytes flow again",
        )

    async def _delay(self, proxy: ChaosProxy, rng: random.Random) -> None:
        ms = rng.choice((150, 300, 500))
        await self._for_a_while(
            f"latency +{ms} ms each way for 3 s",
            f"+{ms} ms latency",
            3.0,
            lambda: proxy.delay(ms / 1000),
            lambda: proxy.delay(0),
            "latency back to normal",
        )

    async def _outage(self, proxy: ChaosProxy) -> None:
        def begin() -> None:
            proxy.refuse()
            proxy.drop()

        def end() -> None:
            try:
                proxy.accept_again()
            except OSError as exc:  # the port was taken meanwhile
                self._note("chaos", f"cannot listen again: {exc}")

        await self._for_a_while(
            "outage for 2 s: connections dropped and refused; the client backs off",
            "outage",
            2.0,
            begin,
            end,
            "outage over: the proxy accepts connections again",
        )

    async def _for_a_while(
        self,
        announce: str,
        label: str,
        seconds: float,
        begin: Callable[[], object],
        end: Callable[[], object],
        over: str,
    ) -> None:
        begin()
        self.active = label
        self._note("chaos", announce)
        try:
            await trio.sleep(seconds)
        finally:
            end()
            self.active = None
        self._note("chaos", over)
