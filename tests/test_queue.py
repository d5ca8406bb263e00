"""OutgoingQueue: the bounded outgoing queue and its overflow policies (Sans-I/O)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from trio_pterows import QueueFull
from trio_pterows._queue import DEFAULT_QUEUE_LIMIT, OVERFLOW_POLICIES, OutgoingQueue, QueueItem

POLICIES = ["reject", "drop-oldest", "drop-newest"]


def filled(limit: int | None, overflow: str, n: int) -> OutgoingQueue:
    queue = OutgoingQueue(limit, overflow)  # type: ignore[arg-type]
    for i in range(n):
        assert queue.put(i) is not None
    return queue


def test_policies_are_the_documented_ones() -> None:
    assert set(OVERFLOW_POLICIES) == set(POLICIES)


def test_limit_none_is_the_default_limit() -> None:
    assert DEFAULT_QUEUE_LIMIT == 10_000
    queue = OutgoingQueue(None)
    assert queue.limit == DEFAULT_QUEUE_LIMIT
    assert queue.overflow == "reject"


def test_default_limit_is_enforced() -> None:
    queue = filled(None, "reject", DEFAULT_QUEUE_LIMIT)
    with pytest.raises(QueueFull):
        queue.put("one too many")
    assert len(queue) == DEFAULT_QUEUE_LIMIT


def test_new_queue_is_empty() -> None:
    queue = OutgoingQueue(3)
    assert len(queue) == 0
    assert not queue
    assert queue.dropped == 0
    assert queue.snapshot() == []
    with pytest.raises(IndexError):
        queue.peek()


def test_put_keeps_fifo_order_and_returns_fresh_items() -> None:
    queue = OutgoingQueue(10)
    items = [queue.put(x) for x in ["a", b"b", {"c": 1}]]
    assert all(isinstance(item, QueueItem) for item in items)
    assert queue.snapshot() == ["a", b"b", {"c": 1}]
    assert queue
    assert queue.peek() is items[0]
    first = items[0]
    assert first is not None
    assert first.data == "a"
    assert first.frame is None
    assert first.prepared is False
    assert "prepared=False" in repr(first)


def test_remove_only_removes_the_head() -> None:
    queue = OutgoingQueue(10)
    a, b = queue.put("a"), queue.put("b")
    assert a is not None
    assert b is not None
    assert queue.remove(b) is False
    assert queue.snapshot() == ["a", "b"]
    assert queue.remove(a) is True
    assert queue.remove(a) is False
    assert queue.snapshot() == ["b"]
    assert queue.dropped == 0


def test_drop_counts_only_when_the_item_was_the_head() -> None:
    queue = OutgoingQueue(10)
    a, b = queue.put("a"), queue.put("b")
    assert a is not None
    assert b is not None
    queue.drop(b)
    assert queue.dropped == 0
    assert queue.snapshot() == ["a", "b"]
    queue.drop(a)
    assert queue.dropped == 1
    assert queue.snapshot() == ["b"]
    queue.drop(a)  # already gone (a concurrent clear, say): not counted twice
    assert queue.dropped == 1


def test_clear_returns_the_count_and_is_not_counted_as_dropped() -> None:
    queue = filled(10, "reject", 4)
    assert queue.clear() == 4
    assert queue.clear() == 0
    assert len(queue) == 0
    assert queue.dropped == 0


def test_reject_raises_and_leaves_the_queue_unchanged() -> None:
    queue = filled(2, "reject", 2)
    with pytest.raises(QueueFull, match="2 messages"):
        queue.put("x")
    assert queue.snapshot() == [0, 1]
    assert queue.dropped == 0


def test_drop_oldest_drops_the_head_and_counts() -> None:
    queue = filled(2, "drop-oldest", 2)
    item = queue.put("x")
    assert item is not None
    assert item.data == "x"
    assert queue.snapshot() == [1, "x"]
    assert queue.dropped == 1


def test_drop_newest_drops_the_new_item_and_counts() -> None:
    queue = filled(2, "drop-newest", 2)
    assert queue.put("x") is None
    assert queue.snapshot() == [0, 1]
    assert queue.dropped == 1


@pytest.mark.parametrize("policy", POLICIES)
def test_limit_zero_never_holds_anything(policy: str) -> None:
    queue = OutgoingQueue(0, policy)  # type: ignore[arg-type]
    if policy == "reject":
        with pytest.raises(QueueFull):
            queue.put("x")
        assert queue.dropped == 0
    else:
        assert queue.put("x") is None
        assert queue.put("y") is None
        assert queue.dropped == 2
    assert len(queue) == 0
    queue.put_front(QueueItem("z"))
    assert len(queue) == 0
    assert queue.dropped == (1 if policy == "reject" else 3)


def test_put_front_goes_ahead_of_everything() -> None:
    queue = filled(10, "reject", 2)
    item = QueueItem("direct")
    queue.put_front(item)
    assert queue.peek() is item
    assert queue.snapshot() == ["direct", 0, 1]
    assert queue.dropped == 0


@pytest.mark.parametrize("policy", POLICIES)
def test_put_front_over_the_limit_drops_from_the_tail(policy: str) -> None:
    queue = filled(2, policy, 2)
    queue.put_front(QueueItem("direct"))
    assert queue.snapshot() == ["direct", 0]
    assert queue.dropped == 1


# ------------------------------------------------------------------ state machine


class QueueMachine(RuleBasedStateMachine):
    """The queue against a list model, under every policy and small limits."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: OutgoingQueue
        self.model: list[QueueItem] = []
        self.limit = 0
        self.policy = "reject"
        self.dropped = 0
        self.counter = itertools.count()
        self.seen: set[int] = set()  # ids of every item the queue ever held
        self.gone: list[QueueItem] = []  # items that left the queue

    @initialize(limit=st.integers(min_value=0, max_value=5), policy=st.sampled_from(POLICIES))
    def setup(self, limit: int, policy: str) -> None:
        self.limit = limit
        self.policy = policy
        self.queue = OutgoingQueue(limit, policy)  # type: ignore[arg-type]

    def _leave(self, item: QueueItem) -> None:
        self.gone.append(item)

    @rule()
    def put(self) -> None:
        data = next(self.counter)
        before = self.queue.snapshot()
        if len(self.model) < self.limit:
            item = self.queue.put(data)
            assert item is not None
            assert item.data == data
            assert id(item) not in self.seen
            self.model.append(item)
        elif self.policy == "reject":
            with pytest.raises(QueueFull):
                self.queue.put(data)
            assert self.queue.snapshot() == before
        elif self.policy == "drop-newest" or self.limit == 0:
            assert self.queue.put(data) is None
            self.dropped += 1
        else:  # drop-oldest
            item = self.queue.put(data)
            assert item is not None
            self._leave(self.model.pop(0))
            self.model.append(item)
            self.dropped += 1
        for item in self.model:
            self.seen.add(id(item))

    @precondition(lambda self: bool(self.model))
    @rule()
    def flush_head(self) -> None:
        item = self.queue.peek()
        assert item is self.model[0]
        item.prepared = True
        item.frame = str(item.data)
        assert self.queue.remove(item) is True
        self._leave(self.model.pop(0))

    @precondition(lambda self: len(self.model) >= 2)
    @rule(data=st.data())
    def remove_not_head_is_refused(self, data: st.DataObject) -> None:
        item = data.draw(st.sampled_from(self.model[1:]))
        assert self.queue.remove(item) is False

    @precondition(lambda self: bool(self.gone))
    @rule(data=st.data())
    def remove_or_drop_gone_item_is_a_no_op(self, data: st.DataObject) -> None:
        item = data.draw(st.sampled_from(self.gone))
        if data.draw(st.booleans()):
            assert self.queue.remove(item) is False
        else:
            self.queue.drop(item)  # not counted: it was not in the queue

    @precondition(lambda self: bool(self.model))
    @rule()
    def drop_head(self) -> None:
        self.queue.drop(self.queue.peek())
        self._leave(self.model.pop(0))
        self.dropped += 1

    @rule()
    def put_front(self) -> None:
        # A direct send that lost its connection comes back ahead of the queue.
        item = QueueItem(next(self.counter))
        self.queue.put_front(item)
        self.model.insert(0, item)
        if len(self.model) > self.limit:
            self._leave(self.model.pop())
            self.dropped += 1
        for queued in self.model:
            self.seen.add(id(queued))

    @rule()
    def clear(self) -> None:
        assert self.queue.clear() == len(self.model)
        self.gone.extend(self.model)
        self.model.clear()

    @invariant()
    def matches_model(self) -> None:
        if not hasattr(self, "queue"):
            return
        assert self.queue.snapshot() == [item.data for item in self.model]
        assert len(self.queue) == len(self.model)
        assert bool(self.queue) == bool(self.model)
        if self.model:
            assert self.queue.peek() is self.model[0]

    @invariant()
    def bounded_unique_and_counted(self) -> None:
        if not hasattr(self, "queue"):
            return
        assert len(self.queue) <= self.limit
        data = self.queue.snapshot()
        assert len(set(data)) == len(data)
        assert self.queue.dropped == self.dropped


QueueMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestQueueMachine = QueueMachine.TestCase
