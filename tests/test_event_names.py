"""Event type names (DESIGN §2, "Event type names"): the seed's spelling and
snake_case work everywhere a name is taken; anything else is a ValueError naming the
nearest known name, except "custom" and "custom:*"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio

import trio_pterows as pw
from trio_pterows._event_names import BUILTIN_NAMES, event_name

MakeWS = Callable[..., pw.AdvancedWebSocket]


def test_the_builtin_names_are_event_types_values() -> None:
    assert tuple(t.value for t in pw.EventType) == BUILTIN_NAMES


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("reconnectAttempt", "reconnectAttempt"),
        ("reconnect_attempt", "reconnectAttempt"),
        ("reconnect_success", "reconnectSuccess"),
        ("reconnectSuccess", "reconnectSuccess"),
        (pw.EventType.RECONNECT_ATTEMPT, "reconnectAttempt"),
        ("open", "open"),
        ("custom", "custom"),
        ("custom:order-filled", "custom:order-filled"),
    ],
)
def test_both_spellings_become_the_seeds(given: Any, canonical: str) -> None:
    name = event_name(given)
    assert name == canonical
    assert type(name) is str


@pytest.mark.parametrize(
    ("typo", "nearest"),
    [
        ("opne", "open"),
        ("Open", "open"),
        ("CLOSE", "close"),
        ("reconect_attempt", "reconnect_attempt"),
        ("RECONNECT_ATTEMPT", "reconnect_attempt"),
        ("reconnectattempt", "reconnectAttempt"),
        ("messages", "message"),
        ("pongs", "pong"),
    ],
)
def test_a_typo_names_the_nearest_known_name(typo: str, nearest: str) -> None:
    with pytest.raises(ValueError, match=f"unknown event type '{typo}': did you mean '{nearest}'"):
        event_name(typo)


def test_an_unknown_name_lists_the_known_ones_and_the_custom_prefix() -> None:
    with pytest.raises(ValueError, match="unknown event type") as info:
        event_name("zzzzzzzz")
    text = str(info.value)
    assert "did you mean" not in text
    assert "'reconnectAttempt'" in text
    assert "'custom:<name>'" in text
    with pytest.raises(ValueError, match="custom"):
        event_name("Custom:mine")  # the prefix is case-sensitive


def test_a_name_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="event type must be a str or an EventType, not int"):
        event_name(3)


async def test_snake_case_works_for_listeners_subscriptions_and_dispatch(
    make_ws: MakeWS,
) -> None:
    seen: list[object] = []
    with trio.fail_after(5):
        async with make_ws() as ws:
            ws.add_event_listener("reconnect_attempt", seen.append)
            async with ws.subscribe("reconnect_success", "custom:mine") as events:
                assert events.types == frozenset({"reconnectSuccess", "custom:mine"})
                ws.dispatch_event("reconnectAttempt", "seed spelling")
                ws.dispatch_event("reconnect_attempt", "snake case")
                ws.dispatch_event("reconnect_success", "to the subscriber")
                ws.dispatch_event("custom:mine", "mine")
                assert await events.receive() == "to the subscriber"
                assert await events.receive() == "mine"
            assert ws.remove_event_listener("reconnectAttempt", seen.append) is True
            ws.dispatch_event("reconnect_attempt", "after removal")
    assert seen == ["seed spelling", "snake case"]


@pytest.mark.parametrize("typo", ["opne", "Open", "reconect_attempt", "my-own-type"])
async def test_every_place_that_takes_a_name_refuses_a_typo(make_ws: MakeWS, typo: str) -> None:
    async with make_ws() as ws:
        with pytest.raises(ValueError, match="unknown event type"):
            ws.add_event_listener(typo, print)
        with pytest.raises(ValueError, match="unknown event type"):
            ws.remove_event_listener(typo, print)
        with pytest.raises(ValueError, match="unknown event type"):
            ws.subscribe("open", typo)
        with pytest.raises(ValueError, match="unknown event type"):
            ws.dispatch_event(typo, object())


async def test_a_refused_listener_is_not_registered(make_ws: MakeWS) -> None:
    seen: list[object] = []
    async with make_ws() as ws:
        with pytest.raises(ValueError, match="did you mean 'open'"):
            ws.add_event_listener("opne", seen.append)
        with pytest.raises(ValueError, match="did you mean 'open'"):
            ws.dispatch_event("opne", "x")
        ws.dispatch_event("open", "y")
    assert seen == []
