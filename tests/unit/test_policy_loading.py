"""authority.load_policy: the document read from its parameter, validated, checked against the
Organization's OUs when they are known, and kept per container for at most a minute."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from peering_autopilot.authority import POLICY_CACHE_SECONDS, known_units, load_policy, with_authority
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.context import Context
from peering_autopilot.errors import PolicyUnavailableError
from peering_autopilot.organization import Membership
from peering_autopilot.settings import Settings

NAME = "/peering-autopilot/policy"
DOCUMENT = {
    "version": 1,
    "rules": [{"name": "prod", "requester": {"ous": ["ou-ab12-produnit"]}, "outcome": "accept"}],
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def context(clock: Clock, name: str = NAME) -> Context:
    settings = Settings(
        hub_account_id="123456789012",
        hub_region="us-east-1",
        approved_account_ids=frozenset(),
        member_role_name="PeeringAutopilotMember-accepter",
        managed_regions=("us-east-1",),
        event_bus_name="bus",
        policy_parameter=name,
    )
    return Context(settings, AwsAccess(settings), clock=clock)


def store(document: Any) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    boto3.client("ssm", region_name="us-east-1").put_parameter(Name=NAME, Value=text, Type="String", Overwrite=True)


def test_without_a_parameter_name_there_is_no_document(mocked_aws: None) -> None:
    ctx = context(Clock(), name="")
    assert load_policy(ctx, None) is None
    assert with_authority(ctx) is ctx
    assert ctx.settings.current_policy().source == "parameters"


def test_the_document_is_read_with_its_version_and_kept_for_a_minute(mocked_aws: None) -> None:
    store(DOCUMENT)
    clock = Clock()
    ctx = context(clock)
    policy = load_policy(ctx, None)
    assert policy is not None
    assert policy.source == f"parameter {NAME} version 1"
    assert [r.name for r in policy.rules] == ["prod"]
    assert with_authority(ctx).settings.policy is policy

    # a new version is not read again within the minute, and is after it
    store({**DOCUMENT, "defaults": {"outcome": "reject"}})
    clock.now += POLICY_CACHE_SECONDS
    assert load_policy(ctx, None) is policy
    clock.now += 1
    again = load_policy(ctx, None)
    assert again is not None
    assert again.source == f"parameter {NAME} version 2"
    assert again.default_outcome == "reject"


def test_a_bad_document_is_never_kept_nor_used(mocked_aws: None) -> None:
    store({"version": 1, "rules": [{"name": "x", "outcome": "allow"}]})
    ctx = context(Clock())
    with pytest.raises(PolicyUnavailableError) as raised:
        load_policy(ctx, None)
    assert str(raised.value) == (
        f"the policy parameter {NAME} version 1 cannot be used, so nothing was done: "
        "rules[0] 'x': field 'outcome': must be one of accept, ask, reject, got 'allow'"
    )
    # fixed: read at once (a failure is not cached)
    store(DOCUMENT)
    policy = load_policy(ctx, None)
    assert policy is not None and policy.source.endswith("version 2")


def test_an_ou_the_organization_does_not_have_is_refused_when_the_walk_is_known(mocked_aws: None) -> None:
    store(DOCUMENT)
    ctx = context(Clock())
    assert load_policy(ctx, None, {"r-ab12", "ou-ab12-produnit"}) is not None
    with pytest.raises(PolicyUnavailableError) as raised:
        load_policy(ctx, None, {"r-ab12", "ou-ab12-other001"})
    assert str(raised.value) == (
        f"the policy parameter {NAME} version 1 cannot be used, so nothing was done: "
        "unknown OU ou-ab12-produnit: not in the managed part of the Organization"
    )


def test_the_units_known_are_the_walks_and_none_without_one() -> None:
    assert known_units(None) is None
    assert known_units(Membership("123456789012")) is None  # until the walk records the units it saw
