"""Account tags within a sweep's time: the pick of whose tags a walk reads (never read first, then
the oldest, at most the budget, ties by account id), the bound on their staleness (older: not known,
and the policy's words say when they were last read), the cache's read times, and the parameters."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, cast

import pytest

from peering_autopilot.aws.dynamodb import RecordStore
from peering_autopilot.errors import SettingsError
from peering_autopilot.membership import Cache, account_item, judged, read_cache
from peering_autopilot.organization import fresh_tags, pick_tag_reads
from peering_autopilot.policy import Party, parse
from peering_autopilot.settings import DEFAULT_PEER_CIDRS, PeerCidrPolicy, Settings

HUB, A, B, C, D = "111111111111", "222222222222", "333333333333", "444444444444", "555555555555"
PATH = ("r-ab12", "ou-ab12-11111111")
HOUR = 3600.0


# ------------------------------------------------------------------------------------ the pick
def test_the_accounts_never_read_come_first_in_id_order_then_the_oldest() -> None:
    read_at = {A: 300.0, B: 100.0}
    assert pick_tag_reads([A, B, C, D], read_at, 4) == [C, D, B, A]
    assert pick_tag_reads([D, C, B, A], read_at, 3) == [C, D, B]


def test_the_budget_is_respected_even_by_the_accounts_never_read() -> None:
    assert pick_tag_reads([D, C, B, A], {}, 2) == [A, B]
    assert pick_tag_reads([A, B, C], {A: 1.0, B: 2.0, C: 3.0}, 1) == [A]
    assert pick_tag_reads([A, B], {A: 1.0}, 10) == [B, A]  # a budget above the accounts: every one
    assert pick_tag_reads([], {}, 5) == []


def test_ties_in_read_time_are_broken_by_account_id_whatever_the_order_given() -> None:
    read_at = {A: 7.0, B: 7.0, C: 7.0, D: 5.0}
    assert pick_tag_reads([C, B, A, D], read_at, 3) == [D, A, B]
    assert pick_tag_reads([A, B, C, D], read_at, 3) == [D, A, B]


def test_accounts_read_before_but_gone_from_the_walk_are_not_picked() -> None:
    assert pick_tag_reads([B], {A: 1.0, B: 9.0}, 5) == [B]


# ------------------------------------------------------------------------------------ the bound
def test_tags_older_than_the_bound_are_not_known_and_say_when_they_were_read() -> None:
    tags = {A: {"env": "prod"}, B: {"env": "dev"}, C: {}}
    read_at = {A: 0.0, B: 100 * HOUR - 24 * HOUR, C: 100 * HOUR - 30 * 60}
    fresh, unknown = fresh_tags(tags, read_at, now=100 * HOUR, max_age=24 * HOUR)
    assert dict(fresh) == {B: {"env": "dev"}, C: {}}  # exactly at the bound: still known
    assert dict(unknown) == {A: "account tags not known (last read 100 h ago, older than 24 h)"}
    _, short = fresh_tags({A: {}}, {A: 0.0}, now=90 * 60, max_age=HOUR)
    assert dict(short) == {A: "account tags not known (last read 90 min ago, older than 60 min)"}


def test_tags_without_a_read_time_count_as_read_now() -> None:
    fresh, unknown = fresh_tags({A: {"env": "prod"}}, {}, now=10**9, max_age=HOUR)
    assert dict(fresh) == {A: {"env": "prod"}} and not unknown


def _settings(**changes: Any) -> Settings:
    base = Settings(
        hub_account_id=HUB,
        hub_region="us-east-1",
        approved_account_ids=frozenset(),
        member_role_name="PeeringAutopilotMember-accepter",
        managed_regions=("us-east-1",),
        event_bus_name="bus",
        managed_units=frozenset({"ou-ab12-11111111"}),
        membership_max_age_seconds=900.0,
        account_tags_max_age_seconds=24 * HOUR,
    )
    return Settings(**{**base.__dict__, **changes})


def test_the_judged_cache_gives_no_stale_tags_and_the_policy_says_why_the_rule_does_not_match() -> None:
    now = 1000 * HOUR
    cache = Cache(
        MappingProxyType({A: PATH, B: PATH}),
        walked_at=now - 60,
        complete_at=now - 60,
        complete=True,
        tags=MappingProxyType({A: {"env": "prod"}, B: {"env": "prod"}}),
        tags_read_at=MappingProxyType({A: now - 26 * HOUR, B: now - 2 * HOUR}),
    )
    membership = judged(_settings(), cache, now)
    assert membership.account_tags(A) is None and membership.account_tags(B) == {"env": "prod"}
    why = "account tags not known (last read 26 h ago, older than 24 h)"
    assert membership.account_tags_unknown(A) == why and membership.account_tags_unknown(B) == ""

    document = {
        "version": 1,
        "defaults": {"outcome": "reject"},
        "rules": [{"name": "prod", "requester": {"account_tags": {"env": "prod"}}, "outcome": "accept"}],
    }
    policy = parse(document, PeerCidrPolicy.parse(DEFAULT_PEER_CIDRS))
    settings = _settings(membership=membership, policy=policy)

    def party(account: str) -> Party:
        tags = settings.account_tags(account)
        return Party(account, PATH, "vpc-0aaaaaaaaaaaaaaa1", {}, tags, settings.account_tags_unknown(account))

    assert policy.explain(party(A), party(B), now)[0] == ("prod", f"requester: account {A}: {why}")
    verdict = policy.verdict(party(A), party(B), now)
    assert (verdict.outcome, verdict.why) == (
        "reject",
        f"no rule matches: the default outcome, reject (rule 'prod' not matched: requester: account {A}: {why})",
    )
    assert policy.verdict(party(B), party(A), now).why == "rule 'prod' matches: accept"


# ------------------------------------------------------------------------------------ the cache
class _Store:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self._items = items

    def items(self, pk: str) -> list[dict[str, Any]]:
        return self._items


def test_the_cache_reads_each_accounts_tag_read_time_and_an_older_item_counts_as_read_by_the_last_walk() -> None:
    items = [
        account_item(A, PATH, {"env": "prod"}, 4000.0),
        {"pk": "membership", "sk": f"account#{B}", "path": list(PATH), "tags": {"env": "dev"}},  # before read times
        account_item(C, PATH),  # its tags never read
        {"pk": "membership", "sk": "walk", "walked_at": 5000, "complete_at": 5000, "complete": True},
    ]
    assert items[0]["tagsReadAt"] == 4000 and "tagsReadAt" not in items[2]
    cache = read_cache(cast(RecordStore, _Store(items)))
    assert dict(cache.tags_read_at) == {A: 4000.0, B: 5000.0}
    assert set(cache.tags) == {A, B}


# ------------------------------------------------------------------------------------ the parameters
ENV = {
    "HUB_ACCOUNT_ID": HUB,
    "AWS_REGION": "us-east-1",
    "MEMBER_ROLE_NAME": "PeeringAutopilotMember",
    "MEMBER_ROLE": "reader",
    "EVENT_BUS_NAME": "bus",
    "RECORD_TABLE": "peering-autopilot-record",
}


def test_the_budget_and_the_bound_come_from_the_environment() -> None:
    defaults = Settings.from_env(ENV)
    assert defaults.account_tag_reads_per_sweep == 200 and defaults.account_tags_max_age_seconds == 24 * HOUR
    given = Settings.from_env({**ENV, "ACCOUNT_TAG_READS_PER_SWEEP": "50", "ACCOUNT_TAGS_MAX_AGE_HOURS": "48"})
    assert given.account_tag_reads_per_sweep == 50 and given.account_tags_max_age_seconds == 48 * HOUR


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "ACCOUNT_TAG_READS_PER_SWEEP",
            "0",
            "ACCOUNT_TAG_READS_PER_SWEEP (parameter AccountTagReadsPerSweep) must be a whole number from 1 to"
            " 10000, got '0'",
        ),
        (
            "ACCOUNT_TAG_READS_PER_SWEEP",
            "lots",
            "ACCOUNT_TAG_READS_PER_SWEEP (parameter AccountTagReadsPerSweep) must be a whole number from 1 to"
            " 10000, got 'lots'",
        ),
        (
            "ACCOUNT_TAGS_MAX_AGE_HOURS",
            "721",
            "ACCOUNT_TAGS_MAX_AGE_HOURS (parameter AccountTagsMaxAgeHours) must be a whole number from 1 to 720,"
            " got '721'",
        ),
    ],
)
def test_a_bad_budget_or_bound_names_the_variable_and_its_parameter(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**ENV, name: value})
    assert str(raised.value) == message
