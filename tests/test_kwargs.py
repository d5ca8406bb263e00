"""The keyword TypedDicts match WSConnectionOptions' fields exactly (names and types)."""

from __future__ import annotations

import logging
import typing
from collections.abc import Iterable, Mapping, Sequence

import attrs

from trio_pterows import WSConnectionOptions
from trio_pterows._kwargs import OptionKwargs, WSConnectionOptionsKwargs
from trio_pterows._options import Interceptor

#: Fields whose converter accepts more than the field stores: the type it accepts.
CONVERTER_INPUT: dict[str, object] = {
    "fallback_urls": Sequence[str] | None,
    "protocols": str | Iterable[str] | None,
    "heartbeat_interval": float | None,
    "outgoing_message_interceptors": Iterable[Interceptor] | None,
    "incoming_message_interceptors": Iterable[Interceptor] | None,
    "headers": Mapping[str, str] | Iterable[tuple[str, str]] | None,
    "fatal_close_codes": Iterable[int] | None,
}
FIELDS = attrs.fields(WSConnectionOptions)


def _expected_source() -> str:
    """What the TypedDict should say, to paste when a field was added."""
    return "\n".join(f"    {field.name}: {field.type}" for field in FIELDS)


def test_every_field_is_a_key_and_nothing_else() -> None:
    names = [field.name for field in FIELDS]
    keys = list(typing.get_type_hints(WSConnectionOptionsKwargs))
    assert sorted(keys) == sorted(names), "\n" + _expected_source()
    assert set(typing.get_type_hints(OptionKwargs)) == set(names) - {"url"}


def test_every_key_is_optional() -> None:
    for kwargs in (OptionKwargs, WSConnectionOptionsKwargs):
        assert kwargs.__total__ is False
        assert kwargs.__required_keys__ == frozenset()


def test_the_converted_fields_are_exactly_those_with_a_converter() -> None:
    converted = {field.name for field in FIELDS if field.converter is not None}
    assert converted == set(CONVERTER_INPUT)


def test_every_key_has_the_fields_type_or_what_its_converter_accepts() -> None:
    fields = typing.get_type_hints(WSConnectionOptions)
    keys = typing.get_type_hints(WSConnectionOptionsKwargs)
    wrong = {
        name: (keys[name], CONVERTER_INPUT.get(name, fields[name]))
        for name in fields
        if keys.get(name) != CONVERTER_INPUT.get(name, fields[name])
    }
    assert wrong == {}, "\n" + _expected_source()


def test_a_typed_dict_of_options_builds_options() -> None:
    kwargs: WSConnectionOptionsKwargs = {
        "url": "wss://example.test/ws",
        "fallback_urls": ["wss://backup.test/ws"],
        "headers": {"Origin": "https://example.test"},
        "fatal_close_codes": [4001],
        "logger": logging.getLogger("app"),
    }
    options = WSConnectionOptions(**kwargs)
    assert options.fallback_urls == ("wss://backup.test/ws",)
    assert options.headers == (("Origin", "https://example.test"),)
    assert options.fatal_close_codes == frozenset({4001})
