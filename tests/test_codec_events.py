"""The JSON codec (both backends), EventHub dispatch, Subscription and LatencyStats."""

from __future__ import annotations

import functools
import importlib.util
import inspect
import math
import operator
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from trio_pterows import EventType, LatencyStats, Subscription
from trio_pterows import _codec as default_codec
from trio_pterows._events import EventHub, is_async_callable
from trio_pterows._metrics import LatencyWindow

# ------------------------------------------------------------------------ codec


def _load_stdlib_codec() -> ModuleType:
    """A private copy of _codec imported as if orjson were not installed."""
    spec = importlib.util.spec_from_file_location(
        "trio_pterows._codec_without_orjson", default_codec.__file__
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("orjson", None)
    had = "orjson" in sys.modules
    sys.modules["orjson"] = None  # type: ignore[assignment]  # makes `import orjson` fail
    try:
        spec.loader.exec_module(module)
    finally:
        if had:
            sys.modules["orjson"] = saved  # type: ignore[assignment]
        else:
            del sys.modules["orjson"]
    return module


STDLIB_CODEC = _load_stdlib_codec()
CODECS = [pytest.param(STDLIB_CODEC, id="json")]
if default_codec.BACKEND == "orjson":
    CODECS.insert(0, pytest.param(default_codec, id="orjson"))


@pytest.fixture(params=CODECS, scope="module")
def codec(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


def test_backends() -> None:
    assert STDLIB_CODEC.BACKEND == "json"
    try:
        import orjson  # noqa: F401
    except ImportError:  # pragma: no cover
        assert default_codec.BACKEND == "json"
    else:
        assert default_codec.BACKEND == "orjson"


# The subset of JSON both backends handle identically: 64-bit ints, finite floats,
# str keys, no lone surrogates.
json_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(json_text, children, max_size=5)
    ),
    max_leaves=20,
)


@given(value=json_values)
def test_round_trip(codec: ModuleType, value: Any) -> None:
    text = codec.dumps(value)
    assert isinstance(text, str)
    assert codec.loads(text) == value
    assert codec.loads(text.encode()) == value


@given(value=json_values)
def test_backends_agree(value: Any) -> None:
    assert default_codec.loads(STDLIB_CODEC.dumps(value)) == value
    assert STDLIB_CODEC.loads(default_codec.dumps(value)) == value


def test_compact_and_not_ascii_escaped(codec: ModuleType) -> None:
    assert codec.dumps({"a": [1, 2.5, None, True]}) == '{"a":[1,2.5,null,true]}'
    assert codec.dumps("é ☃") == '"é ☃"'
    assert codec.loads('"\\u00e9"') == "é"


class Unserialisable:
    pass


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (object(), "object"),
        (Unserialisable(), "Unserialisable"),
        ({1, 2}, "set"),
        ({"nested": [Unserialisable()]}, "Unserialisable"),
        (b"bytes", "bytes"),
    ],
)
def test_dumps_type_error_names_the_type(codec: ModuleType, value: Any, type_name: str) -> None:
    with pytest.raises(TypeError, match=type_name):
        codec.dumps(value)


@pytest.mark.parametrize(
    "text",
    ["", "{", "[1,]", "nope", "{'a': 1}", '{"a" 1}', "1 2", b"\xff", b"", "[1] trailing"],
)
def test_loads_value_error_for_invalid_json(codec: ModuleType, text: str | bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError (JSONDecodeError) will do
        codec.loads(text)


# ------------------------------------------------------------------ is_async_callable


async def async_function(event: Any) -> None:
    pass


def sync_function(event: Any) -> None:
    pass


def sync_returning_coroutine(event: Any) -> Any:
    return async_function(event)


class Handlers:
    async def async_method(self, event: Any) -> None:
        pass

    def sync_method(self, event: Any) -> None:
        pass

    @staticmethod
    async def async_static(event: Any) -> None:
        pass

    @classmethod
    async def async_class(cls, event: Any) -> None:
        pass


class AsyncCallable:
    async def __call__(self, event: Any) -> None:
        pass


class SyncCallable:
    def __call__(self, event: Any) -> None:
        pass


ASYNC_CALLABLES = [
    pytest.param(async_function, id="async def"),
    pytest.param(functools.partial(async_function), id="partial"),
    pytest.param(functools.partial(functools.partial(async_function)), id="partial of partial"),
    pytest.param(Handlers().async_method, id="bound method"),
    pytest.param(Handlers.async_static, id="staticmethod"),
    pytest.param(Handlers.async_class, id="classmethod"),
    pytest.param(AsyncCallable(), id="async __call__"),
    pytest.param(functools.partial(AsyncCallable()), id="partial of async __call__"),
    pytest.param(functools.partial(Handlers().async_method), id="partial of bound method"),
]
SYNC_CALLABLES = [
    pytest.param(sync_function, id="def"),
    pytest.param(lambda event: None, id="lambda"),
    pytest.param(sync_returning_coroutine, id="def returning a coroutine"),
    pytest.param(functools.partial(sync_function), id="partial"),
    pytest.param(Handlers().sync_method, id="bound method"),
    pytest.param(SyncCallable(), id="sync __call__"),
    pytest.param(print, id="builtin"),
    pytest.param(SyncCallable, id="class"),
]


@pytest.mark.parametrize("func", ASYNC_CALLABLES)
def test_is_async_callable_true(func: Any) -> None:
    assert is_async_callable(func) is True


@pytest.mark.parametrize("func", SYNC_CALLABLES)
def test_is_async_callable_false(func: Any) -> None:
    assert is_async_callable(func) is False


# ------------------------------------------------------------------------ EventHub


class Reports:
    def __init__(self) -> None:
        self.items: list[tuple[BaseException, str]] = []

    def __call__(self, exc: BaseException, context: str) -> None:
        self.items.append((exc, context))


@pytest.fixture
def reports() -> Reports:
    return Reports()


@pytest.fixture
def hub(reports: Reports) -> Iterator[EventHub]:
    hub = EventHub(reports)
    yield hub
    hub.close()


def test_sync_listeners_run_inline_in_order(hub: EventHub, reports: Reports) -> None:
    calls: list[tuple[str, Any]] = []
    hub.add_listener("message", lambda e: calls.append(("first", e)))
    hub.add_listener(EventType.MESSAGE, lambda e: calls.append(("second", e)))  # type: ignore[arg-type]
    event = object()
    hub.emit("message", event)
    # Inline: done before emit() returns, and the event object is passed unchanged.
    assert calls == [("first", event), ("second", event)]
    assert reports.items == []


def test_listener_exception_is_reported_and_others_still_run(
    hub: EventHub, reports: Reports
) -> None:
    calls: list[str] = []
    boom = ValueError("boom")

    def failing(event: Any) -> None:
        raise boom

    hub.add_listener("open", failing)
    hub.add_listener("open", lambda e: calls.append("after"))
    hub.emit("open", "evt")
    assert calls == ["after"]
    assert reports.items == [(boom, "listener")]


def test_failing_error_listener_is_reported_without_recursion(
    hub: EventHub, reports: Reports
) -> None:
    def failing(event: Any) -> None:
        raise RuntimeError("error listener broke")

    hub.add_listener("error", failing)
    hub.emit("error", "evt")
    assert [context for _, context in reports.items] == ["error-listener"]


def test_sync_listener_returning_a_coroutine_is_reported_and_closed(
    hub: EventHub, reports: Reports
) -> None:
    coroutines: list[Any] = []

    def sneaky(event: Any) -> Any:
        coro = async_function(event)
        coroutines.append(coro)
        return coro

    calls: list[str] = []
    hub.add_listener("message", sneaky)
    hub.add_listener("message", lambda e: calls.append("next"))
    hub.emit("message", "evt")
    assert calls == ["next"]
    [(exc, context)] = reports.items
    assert isinstance(exc, TypeError)
    assert "async def" in str(exc)
    assert context == "listener"
    # Closed, so no "coroutine ... was never awaited" RuntimeWarning at garbage collection
    # (filterwarnings=error would turn that into a failure too).
    assert inspect.getcoroutinestate(coroutines[0]) == inspect.CORO_CLOSED


def test_remove_listener(hub: EventHub) -> None:
    calls: list[str] = []
    handlers = Handlers()
    hub.add_listener("close", handlers.sync_method)
    hub.add_listener("close", lambda e: calls.append("kept"))
    # A fresh bound method of the same object compares equal: removal works.
    assert hub.remove_listener("close", handlers.sync_method) is True
    assert hub.remove_listener("close", handlers.sync_method) is False
    assert hub.remove_listener("custom:never", sync_function) is False
    hub.emit("close", "evt")
    assert calls == ["kept"]


def test_remove_listener_removes_one_registration(hub: EventHub) -> None:
    calls: list[Any] = []
    hub.add_listener("ping", calls.append)
    hub.add_listener("ping", calls.append)
    assert hub.remove_listener("ping", calls.append) is True
    hub.emit("ping", 1)
    assert calls == [1]


def test_add_listener_rejects_non_callables(hub: EventHub) -> None:
    with pytest.raises(TypeError):
        hub.add_listener("message", 42)  # type: ignore[arg-type]
    assert not hub.wants("message")


def test_wants_follows_listeners(hub: EventHub) -> None:
    assert not hub.wants("message")
    assert hub.wants_message is False
    hub.add_listener("message", sync_function)
    assert hub.wants("message")
    assert hub.wants_message is True
    assert not hub.wants("close")
    hub.add_listener("message", async_function)
    hub.remove_listener("message", sync_function)
    assert hub.wants_message is True  # the async one still wants it
    hub.remove_listener("message", async_function)
    assert hub.wants_message is False
    assert not hub.wants("message")


def test_wants_custom_types(hub: EventHub) -> None:
    hub.add_listener("custom:my-event", sync_function)
    assert hub.wants("custom:my-event")
    assert not hub.wants("custom")


def test_wants_follows_option_callbacks(hub: EventHub) -> None:
    hub.set_option_callbacks({"message": sync_function, "close": None})
    assert hub.wants_message is True
    assert not hub.wants("close")
    hub.set_option_callbacks({"message": None})
    assert hub.wants_message is False


def test_option_callback_runs_before_listeners(hub: EventHub) -> None:
    calls: list[str] = []
    hub.add_listener("open", lambda e: calls.append("listener"))
    hub.set_option_callbacks({"open": lambda e: calls.append("on_open")})
    hub.emit("open", "evt")
    assert calls == ["on_open", "listener"]


async def test_wants_follows_subscriptions(hub: EventHub) -> None:
    with trio.fail_after(5):
        async with Subscription(hub, frozenset({"open"}), 4):
            assert hub.wants("open")
            assert not hub.wants("message")
            assert hub.wants_message is False
        assert not hub.wants("open")
        async with Subscription(hub, None, 4):
            # No types: every built-in type.
            assert all(hub.wants(t.value) for t in EventType)
            assert hub.wants_message is True
            assert not hub.wants("my-event")
        assert not hub.wants("message")
        assert hub.wants_message is False


async def test_async_listeners_run_in_the_dispatcher_in_order(
    hub: EventHub, reports: Reports
) -> None:
    calls: list[tuple[str, Any]] = []
    done = trio.Event()

    async def first(event: Any) -> None:
        await trio.lowlevel.checkpoint()
        calls.append(("first", event))

    async def second(event: Any) -> None:
        calls.append(("second", event))
        if event == 2:
            done.set()

    hub.add_listener("message", first)
    hub.add_listener("message", second)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            hub.emit("message", 1)
            hub.emit("message", 2)
            assert calls == []  # not inline
            nursery.start_soon(hub.run_dispatcher)
            await done.wait()
            nursery.cancel_scope.cancel()
    assert calls == [("first", 1), ("second", 1), ("first", 2), ("second", 2)]
    assert reports.items == []


async def test_async_listener_exception_is_reported(hub: EventHub, reports: Reports) -> None:
    boom = KeyError("boom")
    ran = trio.Event()

    async def failing(event: Any) -> None:
        raise boom

    async def after(event: Any) -> None:
        ran.set()

    hub.add_listener("close", failing)
    hub.add_listener("close", after)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(hub.run_dispatcher)
            hub.emit("close", "evt")
            await ran.wait()
            nursery.cancel_scope.cancel()
    assert reports.items == [(boom, "listener")]


def test_async_listeners_behind_are_dropped_and_counted(reports: Reports) -> None:
    hub = EventHub(reports, async_buffer=2)
    hub.add_listener("message", async_function)
    for i in range(5):
        hub.emit("message", i)  # never blocks, even with no dispatcher running
    assert hub.dropped == 3
    assert [context for _, context in reports.items] == ["dispatch"] * 3
    hub.close()
    hub.emit("message", 99)  # closed: silently ignored
    assert hub.dropped == 3


# ---------------------------------------------------------------------- Subscription


async def test_subscription_is_bounded_and_counts_missed(hub: EventHub) -> None:
    with trio.fail_after(5):
        async with Subscription(hub, frozenset({"message", "close"}), 2) as events:
            for i in range(5):
                hub.emit("message", i)
            hub.emit("open", "not subscribed")
            assert events.missed == 3
            assert await events.receive() == 0
            assert events.receive_nowait() == 1
            with pytest.raises(trio.WouldBlock):
                events.receive_nowait()
            hub.emit("close", "c")
            assert await events.receive() == "c"
            assert events.missed == 3


async def test_subscription_iteration_ends_when_the_hub_closes(reports: Reports) -> None:
    hub = EventHub(reports)
    received: list[Any] = []
    with trio.fail_after(5):
        async with Subscription(hub, None, 8) as events:
            hub.emit("open", "a")
            hub.emit("message", "b")
            hub.close()
            async for event in events:
                received.append(event)
    assert received == ["a", "b"]


async def test_subscription_stops_receiving_after_exit(hub: EventHub) -> None:
    with trio.fail_after(5):
        async with Subscription(hub, frozenset({"open"}), 2) as events:
            pass
        hub.emit("open", "late")  # must not raise
        assert events.missed == 0
        with pytest.raises(trio.ClosedResourceError):
            await events.receive()


async def test_subscribers_never_block_the_emitter(hub: EventHub) -> None:
    with trio.fail_after(5):
        async with (
            Subscription(hub, frozenset({"ping"}), 1) as slow,
            Subscription(hub, frozenset({"ping"}), 100) as fast,
        ):
            for i in range(50):
                hub.emit("ping", i)
            assert slow.missed == 49
            assert fast.missed == 0
            assert [fast.receive_nowait() for _ in range(50)] == list(range(50))


# ---------------------------------------------------------------------- LatencyStats


def test_latency_stats_empty_is_none() -> None:
    assert LatencyStats.from_samples([]) is None
    assert LatencyStats.from_samples(iter(())) is None
    assert LatencyWindow().stats() is None


def test_latency_stats_nearest_rank() -> None:
    stats = LatencyStats.from_samples([0.4, 0.1, 0.3, 0.2])
    assert stats is not None
    assert stats.count == 4
    assert stats.min == 0.1
    assert stats.max == 0.4
    assert stats.p50 == 0.2  # rank ceil(0.5 * 4) = 2
    assert stats.p99 == 0.4  # rank ceil(0.99 * 4) = 4
    assert stats.avg == pytest.approx(0.25)


def test_latency_stats_p99_of_a_hundred() -> None:
    stats = LatencyStats.from_samples(float(i) for i in range(1, 101))
    assert stats is not None
    assert stats.p50 == 50.0
    assert stats.p99 == 99.0
    assert stats.avg == 50.5
    stats = LatencyStats.from_samples(float(i) for i in range(1, 11))
    assert stats is not None
    assert stats.p50 == 5.0
    assert stats.p99 == 10.0


def test_latency_stats_single_sample() -> None:
    stats = LatencyStats.from_samples([0.25])
    assert stats == LatencyStats(count=1, min=0.25, avg=0.25, max=0.25, p50=0.25, p99=0.25)


def test_latency_average_uses_fsum() -> None:
    # A naive sum loses the small samples next to the big one; fsum does not.
    samples = [1e16, 1.0, 1.0, 1.0, 1.0]
    stats = LatencyStats.from_samples(samples)
    assert stats is not None
    assert stats.avg == math.fsum(samples) / 5
    naive = functools.reduce(operator.add, samples)  # sum() is compensated since 3.12
    assert naive != math.fsum(samples)


def test_latency_window_is_bounded() -> None:
    window = LatencyWindow(size=3)
    for latency in [0.5, 0.1, 0.2, 0.3]:
        window.add(latency)
    assert window.last == 0.3
    stats = window.stats()
    assert stats is not None
    assert stats.count == 3
    assert stats.max == 0.3  # 0.5 fell out of the window


latencies = st.lists(st.floats(min_value=0.0, max_value=1e4), min_size=1, max_size=300)


@given(samples=latencies)
def test_latency_stats_order_properties(samples: list[float]) -> None:
    stats = LatencyStats.from_samples(samples)
    assert stats is not None
    assert stats.count == len(samples)
    assert stats.min == min(samples)
    assert stats.max == max(samples)
    assert stats.min <= stats.p50 <= stats.p99 <= stats.max
    assert stats.p50 in samples
    assert stats.p99 in samples
    ordered = sorted(samples)
    n = len(samples)
    assert stats.p50 == ordered[math.ceil(0.5 * n) - 1]
    assert stats.p99 == ordered[math.ceil(0.99 * n) - 1]


@given(samples=latencies)
def test_latency_stats_average_within_min_and_max(samples: list[float]) -> None:
    stats = LatencyStats.from_samples(samples)
    assert stats is not None
    # Up to one rounding step: the mean of n equal floats may round one ulp away.
    assert math.nextafter(stats.min, -math.inf) <= stats.avg <= math.nextafter(stats.max, math.inf)
    assert stats.avg == pytest.approx(math.fsum(samples) / len(samples))
