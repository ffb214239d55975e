"""The recorder against moto's DynamoDB and SQS: what it writes, what it reads back, and what it does
when the table does not answer (nothing lost: the backlog queue keeps it until the sweep drains it)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from peering_autopilot.aws.dynamodb import BacklogQueue, RecordStore
from peering_autopilot.record import (
    MADE,
    ZERO_HASH,
    Origin,
    OwnedPeering,
    OwnedRoute,
    OwnedRule,
    pair_key,
    verify_chain,
)
from peering_autopilot.recorder import Recorder
from peering_autopilot.security_groups import Rule
from tests.support.domain import RECORD_TABLE, create_record_table
from tests.support.world import HUB, REGION

PCX = "pcx-0123456789abcdef0"
ROUTE = OwnedRoute(HUB, REGION, "rtb-0aaa", "10.1.0.0/16")
RULE = OwnedRule(HUB, REGION, "sg-0bbb", Rule("tcp", 443, 443, "10.1.0.0/16"))
ORIGIN = Origin("event-1", "peering-autopilot:ConfigurePeeringFunction", "")


class Clock:
    def __init__(self) -> None:
        self.now = 1_765_000_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def store(mocked_aws: None) -> RecordStore:
    create_record_table()
    return RecordStore(boto3.client("dynamodb", region_name=REGION), RECORD_TABLE)


@pytest.fixture
def backlog(mocked_aws: None) -> BacklogQueue:
    sqs = boto3.client("sqs", region_name=REGION)
    return BacklogQueue(sqs, sqs.create_queue(QueueName="backlog")["QueueUrl"])


def recorder(store: RecordStore | None, backlog: BacklogQueue | None = None, **kw: Any) -> Recorder:
    return Recorder(store, backlog, ORIGIN, Clock(), 400, **kw)


class DownStore(RecordStore):
    """The table as an outage shows it: every call refused (a missing table answers alike)."""

    def __init__(self) -> None:
        super().__init__(boto3.client("dynamodb", region_name=REGION), "no-such-table")


def test_an_intent_is_not_ownership_until_confirmed_and_a_release_forgets_it(store: RecordStore) -> None:
    rec = recorder(store)
    assert rec.intend(PCX, [ROUTE], [RULE])
    record = rec.peering(PCX)
    assert record.side(HUB, REGION).routes == frozenset()  # an intent owns nothing yet
    assert set(record.intents()) == {ROUTE, RULE}

    rec.confirm(PCX, [ROUTE], {RULE: "sgr-0123"})
    record = rec.peering(PCX)
    owned = record.side(HUB, REGION)
    assert owned.holds_route("rtb-0aaa", "10.1.0.0/16")
    assert owned.holds_rule("sg-0bbb", RULE.rule)
    assert record.rules[RULE]["ruleId"] == "sgr-0123"
    assert record.routes[ROUTE]["state"] == MADE
    assert record.side("999999999999", REGION).routes == frozenset()  # another side's place owns nothing

    rec.release(PCX, [ROUTE], [RULE])
    assert rec.peering(PCX).side(HUB, REGION) == rec.peering(PCX).side("999999999999", REGION)


def test_an_unreadable_record_owns_nothing_and_says_why(mocked_aws: None) -> None:
    record = recorder(DownStore()).peering(PCX)
    assert record.unreadable.startswith("the record no-such-table is unavailable (Query): ResourceNotFoundException")
    owned = record.side(HUB, REGION)
    assert owned.unreadable == record.unreadable
    assert not owned.routes and not owned.rules
    assert recorder(None).peering(PCX).unreadable == "no record table is configured"


def test_writes_the_table_refuses_wait_on_the_backlog_and_the_drain_writes_them_in_order(
    store: RecordStore, backlog: BacklogQueue
) -> None:
    down = recorder(DownStore(), backlog)
    assert not down.intend(PCX, [ROUTE])  # the caller still acts
    down.confirm(PCX, [ROUTE], {RULE: "sgr-1"})
    down.log(PCX, "configured", "1 route, 1 rule added", {"added": 2})
    down.log(PCX, "verified", "verified both ways")
    assert (down.deferred, down.problems) == (3, [])

    later = recorder(store, backlog)
    assert later.drain() == 3
    owned = later.peering(PCX).side(HUB, REGION)
    assert owned.holds_route("rtb-0aaa", "10.1.0.0/16") and owned.holds_rule("sg-0bbb", RULE.rule)
    history = later.history(PCX)
    assert [(e.seq, e.kind, e.actor, e.event_id) for e in history] == [
        (1, "configured", ORIGIN.function, "event-1"),
        (2, "verified", ORIGIN.function, "event-1"),
    ]
    assert verify_chain(history).intact
    assert later.drain() == 0  # nothing left


def test_with_neither_table_nor_backlog_the_loss_is_reported_not_raised(mocked_aws: None) -> None:
    rec = recorder(DownStore(), None)
    rec.confirm(PCX, [ROUTE])
    rec.log(PCX, "configured", "x")
    assert len(rec.problems) == 2
    assert rec.problems[0].startswith("not recorded (the record no-such-table is unavailable (BatchWriteItem)")
    assert rec.problems[1].endswith(f"history of {PCX}: configured")


def test_history_entries_chain_and_the_actor_is_the_person_only_when_asked(store: RecordStore) -> None:
    rec = Recorder(
        store,
        None,
        Origin("ev-9", "peering-autopilot:CleanupPeeringFunction", "arn:aws:sts::1:assumed-role/Admin/alice"),
        Clock(),
    )
    rec.log(PCX, "deleted", "deleted by a person", by_person=True)
    rec.log(PCX, "cleaned-up", "2 routes removed", {"routes": ["rtb-1 10.1.0.0/16"]})
    first, second = rec.history(PCX)
    assert (first.actor, second.actor) == (
        "arn:aws:sts::1:assumed-role/Admin/alice",
        ORIGIN.function.replace("Configure", "Cleanup"),
    )
    assert (first.prev, second.prev) == (ZERO_HASH, first.hash)
    assert second.describe()["evidence"] == {"routes": ["rtb-1 10.1.0.0/16"]}
    item = store.last(f"history#{PCX}")
    assert item is not None and item["expires_at"] > 1_765_000_000 + 399 * 86400


def test_racing_writers_of_one_history_both_land_in_one_chain(store: RecordStore) -> None:
    """Two invocations append at once: the second finds its number taken and chains onto the first."""
    a, b = recorder(store), recorder(store)
    real_last = store.last
    calls = {"n": 0}

    def stale_last(pk: str) -> dict[str, Any] | None:
        calls["n"] += 1
        if calls["n"] == 2:  # b read before a wrote: it saw the same (empty) history
            return None
        return real_last(pk)

    a.log(PCX, "configured", "from a")
    store.last = stale_last  # type: ignore[method-assign]
    b.log(PCX, "verified", "from b")
    store.last = real_last  # type: ignore[method-assign]
    entries = a.history(PCX)
    assert [e.summary for e in entries] == ["from a", "from b"]
    assert verify_chain(entries).intact


def test_a_dry_run_reads_and_never_writes(store: RecordStore, backlog: BacklogQueue) -> None:
    rec = recorder(store, backlog, dry_run=True)
    rec.confirm(PCX, [ROUTE])
    rec.own_peering(PCX, OwnedPeering("blue", "a", "b"))
    rec.log(PCX, "configured", "x")
    assert rec.lock(pair_key("a", "b"), "me", 60, {}) is None
    assert store.items(f"own#{PCX}") == [] and store.items(f"history#{PCX}") == []
    assert backlog.receive() == []


def test_the_pair_lock_has_one_holder_until_its_lease_ends(store: RecordStore) -> None:
    clock = Clock()
    first = Recorder(store, None, ORIGIN, clock)
    second = Recorder(store, None, ORIGIN, clock)
    key = pair_key("111111111111/us-east-1/vpc-a", "222222222222/us-east-1/vpc-b")
    assert first.lock(key, "invocation-1", 300, {"group": "blue"}) is None
    held = second.lock(key, "invocation-2", 300, {"group": "blue"})
    assert held is not None and held.startswith("invocation-1 since ")
    first.settle(key, "invocation-1", {"peeringId": PCX})
    assert store.last(key)["peeringId"] == PCX  # type: ignore[index]
    clock.now += 301
    assert second.lock(key, "invocation-2", 300, {"group": "blue"}) is None  # the lease ended
    assert store.last(key)["holder"] == "invocation-2"  # type: ignore[index]
