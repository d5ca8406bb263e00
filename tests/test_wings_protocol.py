"""The Sans-I/O Wings protocol: parsing, encoding, classification, rate limits."""

from __future__ import annotations

import json
import math
import sys

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from trio_pterows.pterodactyl import _protocol as proto
from trio_pterows.pterodactyl import split_lines
from trio_pterows.pterodactyl._protocol import (
    KNOWN_EVENTS,
    AuthSuccess,
    BackupCompleted,
    BackupRestoreCompleted,
    ConsoleEvent,
    ConsoleOutput,
    DaemonError,
    DaemonMessage,
    Deleted,
    FeatureMatch,
    InstallCompleted,
    InstallOutput,
    InstallStarted,
    JwtError,
    RateLimit,
    RateLimiter,
    Stats,
    StatusChange,
    Throttled,
    TokenExpired,
    TokenExpiring,
    TransferLogs,
    TransferStatus,
    UnknownEvent,
    encode_event,
    encode_frame,
    is_final_close,
    jwt_error_kind,
    parse_client_frame,
    parse_frame,
)

# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"event":"auth success"}', AuthSuccess()),
        ('{"event":"auth success","args":[]}', AuthSuccess()),
        ('{"event":"auth success","args":null}', AuthSuccess()),
        ('{"event":"status","args":["running"]}', StatusChange("running")),
        ('{"event":"console output","args":["[12:00] Done"]}', ConsoleOutput("[12:00] Done")),
        ('{"event":"install output","args":["apt-get"]}', InstallOutput("apt-get")),
        ('{"event":"install started"}', InstallStarted()),
        ('{"event":"install completed"}', InstallCompleted()),
        ('{"event":"daemon message","args":["pulling"]}', DaemonMessage("pulling")),
        ('{"event":"daemon error","args":["boom"]}', DaemonError("boom")),
        (
            '{"event":"jwt error","args":["jwt: exp claim is invalid"]}',
            JwtError("jwt: exp claim is invalid"),
        ),
        ('{"event":"token expiring"}', TokenExpiring()),
        ('{"event":"token expired"}', TokenExpired()),
        ('{"event":"backup restore completed"}', BackupRestoreCompleted()),
        ('{"event":"transfer logs","args":["copying"]}', TransferLogs("copying")),
        ('{"event":"transfer status","args":["completed"]}', TransferStatus("completed")),
        ('{"event":"deleted"}', Deleted()),
        ('{"event":"throttled","args":["send command"]}', Throttled("send command")),
        ('{"event":"throttled","args":["global"]}', Throttled("global")),
        ('{"event":"throttled"}', Throttled("")),
        (b'{"event":"console output","args":["caf\xc3\xa9"]}', ConsoleOutput("café")),
        ('{"event":"feature match","args":["eula"]}', UnknownEvent("feature match", ("eula",))),
        ('{"event":"brand new","args":["a","b"]}', UnknownEvent("brand new", ("a", "b"))),
    ],
)
def test_parse_known_frames(frame: str | bytes, expected: ConsoleEvent) -> None:
    assert parse_frame(frame) == expected


def test_one_arg_event_keeps_the_first_argument_only() -> None:
    assert parse_frame('{"event":"status","args":["offline","extra"]}') == StatusChange("offline")


def test_parse_stats_as_wings_sends_it() -> None:
    # environment.Stats marshalled by Wings: uptime in milliseconds.
    payload = {
        "memory_bytes": 536870912,
        "memory_limit_bytes": 1073741824,
        "cpu_absolute": 37.25,
        "network": {"rx_bytes": 1200, "tx_bytes": 3400},
        "uptime": 93500,
        "state": "running",
        "disk_bytes": 1048576,
    }
    frame = json.dumps({"event": "stats", "args": [json.dumps(payload)]})
    assert parse_frame(frame) == Stats(
        memory_bytes=536870912,
        memory_limit_bytes=1073741824,
        cpu_absolute=37.25,
        network_rx_bytes=1200,
        network_tx_bytes=3400,
        uptime=93.5,
        state="running",
        disk_bytes=1048576,
    )


def test_stats_uptime_is_converted_from_milliseconds() -> None:
    ev = parse_frame(encode_frame("stats", json.dumps({"uptime": 1, "state": "running"})))
    assert isinstance(ev, Stats)
    assert ev.uptime == 0.001
    assert ev.memory_bytes == 0  # missing figures read as zero
    assert json.loads(json.loads(encode_event(ev))["args"][0])["uptime"] == 1


def test_backup_completed_uuid_from_event_name() -> None:
    args = json.dumps({"is_successful": True, "checksum": "ab12", "checksum_type": "sha1"})
    frame = encode_frame("backup completed:1f2e-uuid", args)
    assert parse_frame(frame) == BackupCompleted("1f2e-uuid", True, "ab12", "sha1", 0)


def test_backup_completed_uuid_from_args() -> None:
    args = json.dumps(
        {
            "uuid": "real",
            "is_successful": False,
            "checksum": "",
            "checksum_type": "sha1",
            "file_size": 12,
        }
    )
    assert parse_frame(encode_frame("backup completed", args)) == BackupCompleted(
        "real", False, "", "sha1", 12
    )


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "ping",
        "null",
        "[]",
        "42",
        '"auth success"',
        "{}",
        '{"args":["x"]}',
        '{"event":5}',
        '{"event":null}',
        '{"event":["status"]}',
        "NaN",
        "{" * 100_000,
        "[" * 100_000 + "]" * 100_000,
        b"\xff\xfe\x00",
        b"\xef\xbb\xbf{}",
    ],
)
def test_garbage_is_an_unknown_event_without_name(frame: str | bytes) -> None:
    assert parse_frame(frame) == UnknownEvent("")


@pytest.mark.parametrize(
    ("frame", "name"),
    [
        ('{"event":"status"}', "status"),
        ('{"event":"status","args":[1]}', "status"),
        ('{"event":"status","args":"running"}', "status"),
        ('{"event":"console output","args":[null]}', "console output"),
        ('{"event":"stats"}', "stats"),
        ('{"event":"stats","args":["not json"]}', "stats"),
        ('{"event":"stats","args":["[]"]}', "stats"),
        ('{"event":"stats","args":["{\\"uptime\\":\\"1\\"}"]}', "stats"),
        ('{"event":"stats","args":["{\\"memory_bytes\\":true}"]}', "stats"),
        ('{"event":"stats","args":["{\\"memory_bytes\\":1.5}"]}', "stats"),
        ('{"event":"stats","args":["{\\"cpu_absolute\\":NaN}"]}', "stats"),
        ('{"event":"stats","args":["{\\"uptime\\":1e400}"]}', "stats"),
        ('{"event":"stats","args":["{\\"network\\":[]}"]}', "stats"),
        ('{"event":"stats","args":["{\\"state\\":1}"]}', "stats"),
        ('{"event":"backup completed:x"}', "backup completed:x"),
        ('{"event":"backup completed:x","args":["{\\"is_successful\\":\\"yes\\"}"]}', None),
        ('{"event":"backup completed:x","args":["{\\"file_size\\":-0.5}"]}', None),
    ],
)
def test_malformed_known_events_are_unknown_events(frame: str, name: str | None) -> None:
    ev = parse_frame(frame)
    assert isinstance(ev, UnknownEvent)
    assert ev.event == (name if name is not None else "backup completed:x")


def test_huge_numbers_in_stats_do_not_raise() -> None:
    digits = "9" * 5000  # over Python's int-string conversion limit
    frame = encode_frame("stats", '{"uptime":' + digits + "}")
    assert isinstance(parse_frame(frame), UnknownEvent)
    frame = encode_frame("stats", '{"uptime":' + "9" * 400 + "}")
    assert isinstance(parse_frame(frame), UnknownEvent)  # ms → s overflows a float


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(st.one_of(st.text(), st.binary()))
def test_parse_frame_never_raises_on_text_or_bytes(data: str | bytes) -> None:
    assert isinstance(parse_frame(data), ConsoleEvent)
    parse_client_frame(data)


@given(_json)
def test_parse_frame_never_raises_on_any_json(value: object) -> None:
    assert isinstance(parse_frame(json.dumps(value)), ConsoleEvent)


@given(
    st.sampled_from(sorted(KNOWN_EVENTS | {"backup completed", "backup completed:u"})),
    _json,
)
def test_parse_frame_never_raises_on_known_events_with_any_args(name: str, args: object) -> None:
    assert isinstance(parse_frame(json.dumps({"event": name, "args": args})), ConsoleEvent)
    # ... nor with any JSON (or garbage) inside the first argument
    inner = json.dumps(args)
    assert isinstance(parse_frame(json.dumps({"event": name, "args": [inner]})), ConsoleEvent)


_payload_keys = st.sampled_from(
    [
        "memory_bytes",
        "memory_limit_bytes",
        "cpu_absolute",
        "network",
        "uptime",
        "state",
        "disk_bytes",
        "uuid",
        "is_successful",
        "checksum",
        "checksum_type",
        "file_size",
    ]
)
_network = st.dictionaries(st.sampled_from(["rx_bytes", "tx_bytes"]) | st.text(), _json)


@given(
    st.sampled_from(["stats", "backup completed:u"]),
    st.dictionaries(_payload_keys | st.text(), _json | _network, max_size=8),
)
def test_parse_frame_never_raises_on_object_payloads(name: str, payload: dict[str, object]) -> None:
    assert isinstance(parse_frame(encode_frame(name, json.dumps(payload))), ConsoleEvent)


# --------------------------------------------------------------------------- round trip

_text = st.text(max_size=50)
_size = st.integers(min_value=0, max_value=2**63 - 1)
_unknown_names = _text.filter(
    lambda name: name not in KNOWN_EVENTS and not name.startswith("backup completed")
)

EVENT_STRATEGIES: dict[type[ConsoleEvent], st.SearchStrategy[ConsoleEvent]] = {
    AuthSuccess: st.just(AuthSuccess()),
    StatusChange: st.builds(StatusChange, _text),
    ConsoleOutput: st.builds(ConsoleOutput, _text),
    InstallOutput: st.builds(InstallOutput, _text),
    InstallStarted: st.just(InstallStarted()),
    InstallCompleted: st.just(InstallCompleted()),
    DaemonMessage: st.builds(DaemonMessage, _text),
    DaemonError: st.builds(DaemonError, _text),
    JwtError: st.builds(JwtError, _text),
    TokenExpiring: st.just(TokenExpiring()),
    TokenExpired: st.just(TokenExpired()),
    Stats: st.builds(
        Stats,
        memory_bytes=_size,
        memory_limit_bytes=_size,
        cpu_absolute=st.floats(allow_nan=False, allow_infinity=False),
        network_rx_bytes=_size,
        network_tx_bytes=_size,
        # Wings sends whole milliseconds
        uptime=st.integers(min_value=0, max_value=10**12).map(lambda ms: ms / 1000),
        state=st.sampled_from(["offline", "starting", "running", "stopping"]) | _text,
        disk_bytes=_size,
    )
    | st.builds(
        Stats,
        memory_bytes=_size,
        memory_limit_bytes=_size,
        cpu_absolute=st.just(1.5),
        network_rx_bytes=_size,
        network_tx_bytes=_size,
        uptime=st.just(2.0),
        state=_text,
        disk_bytes=_size,
        disk_io_read_bytes=_size,
        disk_io_write_bytes=_size,
    ),
    FeatureMatch: st.builds(FeatureMatch, _text, _text, _text),
    BackupCompleted: st.builds(BackupCompleted, _text, st.booleans(), _text, _text, _size),
    BackupRestoreCompleted: st.just(BackupRestoreCompleted()),
    TransferLogs: st.builds(TransferLogs, _text),
    TransferStatus: st.builds(TransferStatus, _text),
    Deleted: st.just(Deleted()),
    Throttled: st.builds(Throttled, _text),
    UnknownEvent: st.builds(UnknownEvent, _unknown_names, st.lists(_text, max_size=4)),
}


def test_every_event_class_has_a_strategy() -> None:
    classes = {
        obj
        for obj in vars(proto).values()
        if isinstance(obj, type) and issubclass(obj, ConsoleEvent) and obj is not ConsoleEvent
    }
    assert classes == set(EVENT_STRATEGIES)
    assert len(classes) == 20  # the 18 Wings events of DESIGN.md §3, feature match, UnknownEvent


@given(st.one_of(*EVENT_STRATEGIES.values()))
def test_encode_event_round_trips(ev: ConsoleEvent) -> None:
    frame = encode_event(ev)
    assert parse_frame(frame) == ev
    assert parse_frame(frame.encode()) == ev
    # the frame is what Wings sends: a JSON object with a string event and string args
    assert parse_client_frame(frame) is not None


def test_event_names_match_wings() -> None:
    names = {cls: cls.wings_event for cls in EVENT_STRATEGIES if cls is not UnknownEvent}
    assert sorted(names.values()) == sorted(
        [
            "auth success",
            "status",
            "console output",
            "install output",
            "install started",
            "install completed",
            "daemon message",
            "daemon error",
            "jwt error",
            "token expiring",
            "token expired",
            "stats",
            "backup completed",
            "backup restore completed",
            "transfer logs",
            "transfer status",
            "deleted",
            "throttled",
            "feature match",
        ]
    )
    assert Stats.wings_event in KNOWN_EVENTS
    # Wings >= 1.6.1 strips the uuid from the name; the legacy suffixed name parses too.
    assert "backup completed" in KNOWN_EVENTS


def test_events_are_frozen_and_positional() -> None:
    line = ConsoleOutput("x")
    assert line == ConsoleOutput(line="x")
    with pytest.raises(AttributeError):
        line.line = "y"  # type: ignore[misc]
    assert UnknownEvent("e", ["a"]).args == ("a",)
    assert hash(StatusChange("running")) == hash(StatusChange("running"))
    no_args: list[ConsoleEvent] = [AuthSuccess(), InstallStarted()]
    assert no_args[0] != no_args[1]


def test_encode_event_rejects_the_base_class() -> None:
    with pytest.raises(TypeError):
        encode_event(ConsoleEvent())


# --------------------------------------------------------------------------- client frames


def test_encode_frame_is_compact_and_omits_empty_args() -> None:
    assert encode_frame("send logs") == '{"event":"send logs"}'
    assert encode_frame("auth", "tok") == '{"event":"auth","args":["tok"]}'
    assert encode_frame("send command", "say é") == '{"event":"send command","args":["say é"]}'


@pytest.mark.parametrize("bad", [None, 1, b"x", ["x"]])
def test_encode_frame_rejects_non_strings(bad: object) -> None:
    with pytest.raises(TypeError):
        encode_frame("send command", bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_frame(bad)  # type: ignore[arg-type]


@given(_text, st.lists(_text, max_size=4))
def test_client_frames_round_trip(event: str, args: list[str]) -> None:
    assert parse_client_frame(encode_frame(event, *args)) == (event, tuple(args))


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"event":"send logs"}', ("send logs", ())),
        ('{"event":"send logs","args":null}', ("send logs", ())),
        ('{"event":"send stats","args":[]}', ("send stats", ())),
        ('{"event":"auth","args":["a","b"]}', ("auth", ("a", "b"))),
        ('{"event":"auth","args":[null]}', None),
        ('{"event":"auth","args":"tok"}', None),
        ('{"args":[]}', None),
        ("ping", None),
        (b"\x80", None),
    ],
)
def test_parse_client_frame(
    frame: str | bytes, expected: tuple[str, tuple[str, ...]] | None
) -> None:
    assert parse_client_frame(frame) == expected


def test_power_actions() -> None:
    assert frozenset({"start", "stop", "restart", "kill"}) == proto.POWER_ACTIONS


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("jwt: exp claim is invalid", "expired"),
        ("Error Event [2b1c-uuid]: jwt: exp claim is invalid", "expired"),
        ("JWT: EXP CLAIM IS INVALID", "expired"),
        ("jwt: created too far in past (denylist)", "denylisted"),
        ("Error Event [x]: jwt: created too far in past (denylist)", "denylisted"),
        ("jwt: no jwt present", "fatal"),
        ("jwt: missing connect permission", "fatal"),
        ("jwt: server uuid mismatch", "fatal"),
        ("jwt: HMAC verification failed", "fatal"),
        ("", "fatal"),
    ],
)
def test_jwt_error_kind(text: str, kind: str) -> None:
    assert jwt_error_kind(text) == kind


@pytest.mark.parametrize(
    ("code", "reason", "final"),
    [
        (4409, "", True),
        (4409, None, True),
        (4400, "bad request", True),
        (1001, "server deleted", True),
        (1001, "Server Deleted", True),
        (1001, "going away", False),
        (1000, "server deleted", False),
        (1006, "", False),
        (None, None, False),
    ],
)
def test_is_final_close(code: int | None, reason: str | None, final: bool) -> None:
    assert is_final_close(code, reason) is final


def test_close_constants() -> None:
    assert (proto.CLOSE_SUSPENDED, proto.CLOSE_BAD_REQUEST) == (4409, 4400)
    assert (proto.CLOSE_GOING_AWAY, proto.DELETED_CLOSE_REASON) == (1001, "server deleted")


# --------------------------------------------------------------------------- rate limits


def test_rate_limit_validation() -> None:
    with pytest.raises(ValueError, match="burst"):
        RateLimit(0, 1.0)
    with pytest.raises(TypeError, match="burst"):
        RateLimit(True, 1.0)
    with pytest.raises(ValueError, match="interval"):
        RateLimit(1, 0.0)
    with pytest.raises(ValueError, match="interval"):
        RateLimit(1, math.inf)
    with pytest.raises(ValueError, match="headroom"):
        RateLimiter(headroom=-1)
    with pytest.raises(ValueError, match="seconds"):
        RateLimiter().backoff(0.0, -1.0)


def test_wings_limits() -> None:
    assert RateLimit(10, 0.2) == proto.WINGS_GLOBAL_LIMIT
    assert RateLimit(4, 1.0) == proto.WINGS_DEFAULT_LIMIT
    assert dict(proto.WINGS_EVENT_LIMITS) == {
        "auth": RateLimit(2, 5.0),
        "send logs": RateLimit(2, 5.0),
        "send command": RateLimit(10, 1.0),
    }


def test_check_bursts_like_wings() -> None:
    limiter = RateLimiter()
    assert [limiter.check("auth", 0.0) for _ in range(3)] == [None, None, "auth"]
    # "set state" and "send stats" share the default bucket of 4
    results = [limiter.check(e, 0.0) for e in ["set state", "send stats"] * 3]
    assert results == [None, None, None, None, "set state", "send stats"]
    # 9 global tokens were taken (refused per-event frames still take one), 1 left
    assert limiter.check("send command", 0.0) is None
    assert limiter.check("send command", 0.0) == "global"
    # the global bucket refills one token per 0.2 s
    assert limiter.check("send command", 0.19) == "global"
    assert limiter.check("send command", 0.2) is None


def test_delay_after_bursts() -> None:
    limiter = RateLimiter()
    for _ in range(2):
        assert limiter.delay("auth", 0.0) == 0.0
        limiter.consume("auth", 0.0)
    assert limiter.delay("auth", 0.0) == pytest.approx(5.0)
    assert limiter.delay("auth", 4.0) == pytest.approx(1.0)
    assert limiter.delay("auth", 5.0) == 0.0
    assert limiter.delay("send command", 0.0) == 0.0  # other buckets are unaffected
    for _ in range(8):
        limiter.consume("send command", 0.0)
    # 10 global tokens used: the next frame of any event waits for the global refill
    assert limiter.delay("send command", 0.0) == pytest.approx(0.2)
    assert limiter.delay("send stats", 0.0) == pytest.approx(0.2)


def test_backoff_reset_and_disable() -> None:
    limiter = RateLimiter()
    limiter.backoff(10.0, 3.0)
    assert limiter.delay("send stats", 10.0) == pytest.approx(3.0)
    assert limiter.delay("send stats", 12.5) == pytest.approx(0.5)
    assert limiter.delay("send stats", 13.0) == 0.0
    limiter.backoff(10.0, 1.0)  # a shorter backoff does not shorten the current one
    assert limiter.delay("send stats", 11.0) == pytest.approx(2.0)
    for _ in range(4):
        limiter.consume("send stats", 20.0)
    assert limiter.delay("send stats", 20.0) > 0
    limiter.enabled = False
    assert limiter.delay("send stats", 20.0) == 0.0
    assert limiter.check("send stats", 20.0) is None
    limiter.enabled = True
    limiter.reset()
    assert limiter.delay("send stats", 20.0) == 0.0


def test_headroom_keeps_tokens_unused() -> None:
    limiter = RateLimiter(headroom=1)
    limiter.consume("auth", 0.0)
    assert limiter.delay("auth", 0.0) == pytest.approx(5.0)
    limiter = RateLimiter(headroom=5)  # never below a burst of one
    assert limiter.check("auth", 0.0) is None
    assert limiter.check("auth", 0.0) == "auth"


def test_custom_limits_and_no_global() -> None:
    limiter = RateLimiter(global_limit=None, event_limits={}, default_limit=RateLimit(1, 2.0))
    assert limiter.check("x", 0.0) is None
    assert limiter.check("y", 1.0) == "y"
    assert limiter.delay("y", 1.0) == pytest.approx(1.0)
    unlimited = RateLimiter(global_limit=None, default_limit=None)
    assert all(unlimited.check("x", 0.0) is None for _ in range(100))
    assert "RateLimiter" in repr(limiter)


class _Bucket:
    """An independent token-bucket model (Go's rate.Limiter), for the properties below."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.tokens = float(limit.burst)
        self.last = 0.0

    def tokens_at(self, now: float) -> float:
        refill = (now - self.last) / self.limit.interval
        return min(float(self.limit.burst), self.tokens + refill)

    def take(self, now: float) -> None:
        self.tokens = self.tokens_at(now) - 1
        self.last = now


def _model(event: str, buckets: dict[str, _Bucket]) -> list[_Bucket]:
    own = event if event in proto.WINGS_EVENT_LIMITS else "_default"
    return [buckets["global"], buckets[own]]


def _fresh_model() -> dict[str, _Bucket]:
    buckets = {name: _Bucket(limit) for name, limit in proto.WINGS_EVENT_LIMITS.items()}
    buckets["global"] = _Bucket(proto.WINGS_GLOBAL_LIMIT)
    buckets["_default"] = _Bucket(proto.WINGS_DEFAULT_LIMIT)
    return buckets


_events = st.sampled_from(["auth", "send logs", "send command", "set state", "send stats", "x"])
_gaps = st.floats(min_value=0.0, max_value=6.0) | st.just(0.0)


@settings(max_examples=300)
@given(st.lists(st.tuples(_events, _gaps), max_size=80))
def test_frames_paced_by_delay_never_exceed_a_bucket(frames: list[tuple[str, float]]) -> None:
    limiter = RateLimiter()
    buckets = _fresh_model()
    now = 0.0
    for event, gap in frames:
        now += gap
        wait = limiter.delay(event, now)
        assert wait >= 0.0
        assert limiter.delay(event, now) == wait  # a pure query
        if wait > 1e-3:
            # ... and a tight one: a little earlier, some bucket would be empty
            early = now + wait - 1e-3
            assert min(b.tokens_at(early) for b in _model(event, buckets)) < 1.0
        now += wait
        for bucket in _model(event, buckets):
            assert bucket.tokens_at(now) >= 1.0 - 1e-6, (event, now)
            bucket.take(now)
        limiter.consume(event, now)
        # the node, fed the same frames at the same times, would accept every one
    assert all(b.tokens > -1e-6 for b in buckets.values())


@settings(max_examples=300)
@given(
    st.lists(st.tuples(_events, st.sampled_from([0.0, 0.0, 0.05, 0.1, 0.2, 1.0, 5.0])), max_size=80)
)
def test_check_agrees_with_a_token_bucket_model(frames: list[tuple[str, float]]) -> None:
    limiter = RateLimiter()
    buckets = _fresh_model()
    now = 0.0
    for event, gap in frames:
        now += gap
        refused = limiter.check(event, now)
        glob, own = _model(event, buckets)
        if abs(glob.tokens_at(now) - 1.0) > 1e-6:
            assert (refused == "global") is (glob.tokens_at(now) < 1.0)
        if refused == "global":
            continue
        glob.take(now)
        if abs(own.tokens_at(now) - 1.0) > 1e-6:
            assert (refused == event) is (own.tokens_at(now) < 1.0)
        if refused is None:
            own.take(now)


@given(st.lists(st.tuples(_events, _gaps), max_size=40), _events, _gaps)
def test_delay_zero_means_the_node_accepts(
    frames: list[tuple[str, float]], event: str, gap: float
) -> None:
    client, node = RateLimiter(), RateLimiter()
    now = 0.0
    for name, step in frames:
        now += step + client.delay(name, now + step)
        client.consume(name, now)
        assert node.check(name, now) is None
    now += gap
    assume(client.delay(event, now) == 0.0)
    assert node.check(event, now) is None


def test_parse_frame_handles_deep_recursion_limit() -> None:
    depth = sys.getrecursionlimit() * 2
    assert parse_frame("[" * depth + "]" * depth) == UnknownEvent("")


# --------------------------------------------------------------------------- revision 2


def test_feature_match_is_typed() -> None:
    arg = json.dumps({"key": "eula", "pattern": "agree to the EULA", "line": "You need to agree"})
    assert parse_frame(encode_frame("feature match", arg)) == FeatureMatch(
        "eula", "agree to the EULA", "You need to agree"
    )
    assert isinstance(parse_frame(encode_frame("feature match", "not json")), UnknownEvent)


def test_stats_disk_io_is_read_when_present() -> None:
    payload = {"state": "running", "disk_io": {"read_bytes": 10, "write_bytes": 20}}
    ev = parse_frame(encode_frame("stats", json.dumps(payload)))
    assert isinstance(ev, Stats)
    assert (ev.disk_io_read_bytes, ev.disk_io_write_bytes) == (10, 20)
    plain = parse_frame(encode_frame("stats", json.dumps({"state": "running"})))
    assert isinstance(plain, Stats)
    assert plain.disk_io_read_bytes is None
    assert plain.disk_io_write_bytes is None
    bad = parse_frame(encode_frame("stats", json.dumps({"disk_io": "x"})))
    assert isinstance(bad, UnknownEvent)


@pytest.mark.parametrize(
    "name", ["install started", "install completed", "backup restore completed", "deleted"]
)
@pytest.mark.parametrize("args", [[""], ["null"], []])
def test_no_arg_events_tolerate_wings_filler_args(name: str, args: list[str]) -> None:
    ev = parse_frame(encode_frame(name, *args))
    assert not isinstance(ev, UnknownEvent)
    assert ev.wings_event == name


def test_backup_completed_is_encoded_as_wings_1_6_sends_it() -> None:
    ev = BackupCompleted("u-1", True, "ab", "sha1", 3)
    frame = json.loads(encode_event(ev))
    assert frame["event"] == "backup completed"
    assert json.loads(frame["args"][0])["uuid"] == "u-1"


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("one", ["one"]),
        ("one\n", ["one"]),
        ("one\r\n", ["one"]),
        ("one\r\ntwo", ["one", "two"]),
        ("one\r\ntwo\r\n", ["one", "two"]),
        ("one\ntwo\n\n", ["one", "two", ""]),
        ("50%\r60%", ["50%\r60%"]),
        ("", [""]),
    ],
)
def test_split_lines(text: str, lines: list[str]) -> None:
    assert split_lines(text) == lines


def test_console_output_text_strips_ansi() -> None:
    line = "\x1b[33m\x1b[1m[Pterodactyl Daemon]:\x1b[39m Done (1.2s)!\x1b[0m\x1b]0;title\x07"
    out = ConsoleOutput(line)
    assert out.line == line
    assert out.text == "[Pterodactyl Daemon]: Done (1.2s)!"
    assert ConsoleOutput("plain").text == "plain"
    assert not out.replayed
    assert ConsoleOutput("x", replayed=True).replayed


@given(st.text())
def test_split_lines_never_loses_text(text: str) -> None:
    lines = split_lines(text)
    assert lines
    assert "\n" not in "".join(lines)


# --------------------------------------------------------------------------- replay (Sans-I/O)

from trio_pterows.pterodactyl._replay import REPLAY_QUIET, LineStream, align  # noqa: E402


@pytest.mark.parametrize(
    ("delivered", "burst", "skip"),
    [
        ([], ["a", "b"], 0),
        (["a", "b"], ["a", "b", "c"], 2),
        (["x", "a", "b"], ["a", "b", "c"], 2),  # the burst starts inside the tail
        (["a", "b"], ["c", "d"], 0),  # everything is new (more than the replay length)
        (["a", "b"], ["a", "b"], 2),  # nothing new
        (["t", "t", "s", "t"], ["t", "t", "s", "t", "t"], 4),  # repeats: the whole tail
        (["s", "t"], ["t", "s", "t", "t"], 3),
        # Wings' own lines were delivered live but are not in the docker log
        (["a", "[Daemon]: starting", "b", "[Daemon]: x"], ["a", "b", "c"], 2),
    ],
)
def test_align(delivered: list[str], burst: list[str], skip: int) -> None:
    assert align(delivered, burst) == skip


def test_line_stream_holds_a_burst_until_it_is_over() -> None:
    lines = LineStream()
    assert [e.line for e in lines.live(ConsoleOutput("a\r\nb"))] == ["a", "b"]
    lines.open_window(10.0, dedupe=True)
    assert lines.is_candidate(10.1)
    assert lines.is_candidate(10.2)
    assert lines.deadline() == math.inf  # two candidates queued, none consumed
    assert lines.hold(ConsoleOutput("b", replayed=True)) == []
    assert lines.hold(ConsoleOutput("c", replayed=True)) == []
    assert lines.deadline() == pytest.approx(10.2 + REPLAY_QUIET)
    assert not lines.is_candidate(11.0)  # after the quiet time: live
    assert lines.deadline() == -math.inf
    assert [(e.line, e.replayed) for e in lines.finish()] == [("c", True)]
    assert lines.skipped == 1


def test_a_later_window_ends_the_held_burst() -> None:
    lines = LineStream()
    lines.open_window(0.0, dedupe=True)
    assert lines.is_candidate(0.1)
    lines.close_window()  # the socket dropped
    lines.open_window(5.0, dedupe=True)
    assert lines.is_candidate(5.1)
    assert lines.hold(ConsoleOutput("old", replayed=True)) == []
    out = lines.hold(ConsoleOutput("old", replayed=True))  # the second replay, same line
    assert [e.line for e in out] == ["old"]  # the first burst, ended
    assert lines.finish() == []  # the second one: already delivered


@pytest.mark.parametrize(
    "module",
    [
        "pterodactyl._protocol",
        "pterodactyl._events",
        "pterodactyl._frames",
        "pterodactyl._ratelimit",
        "pterodactyl._replay",
    ],
)
def test_the_wings_protocol_is_sans_io(module: str) -> None:
    from .test_public_api import test_sans_io_modules_import_no_trio

    test_sans_io_modules_import_no_trio(module)
