"""The Organization's walk (aws/organizations.py) against moto's Organizations, and the cache's
arithmetic (organization.membership_changes, membership.judged)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from autopilot_local.harness import LocalCloud
from autopilot_local.organizations import LocalOrganization
from peering_autopilot.aws.organizations import OrganizationsGateway
from peering_autopilot.membership import Cache, judged
from peering_autopilot.organization import OrgSnapshot, membership_changes
from peering_autopilot.settings import Settings
from tests.support.world import HUB

A, B, C, D = "210000000001", "210000000002", "210000000003", "210000000004"


@pytest.fixture
def org(cloud: LocalCloud) -> dict[str, Any]:
    """root ─ prod ─ prod/web ─ prod/web/edge; root ─ sandbox. A in prod, B in prod/web, C in
    prod/web/edge, D in sandbox."""
    organization = LocalOrganization(cloud)
    prod = organization.ou("prod")
    web = organization.ou("web", prod)
    edge = organization.ou("edge", web)
    sandbox = organization.ou("sandbox")
    for account, parent in ((A, prod), (B, web), (C, edge), (D, sandbox)):
        organization.add_account(account, parent)
    return {"org": organization, "prod": prod, "web": web, "edge": edge, "sandbox": sandbox}


def _gateway(org: dict[str, Any], clock: float = 1000.0) -> OrganizationsGateway:
    return OrganizationsGateway(org["org"].client, clock=lambda: clock)


def test_an_ou_is_walked_with_its_nested_ous_and_each_path_starts_at_the_root(org: dict[str, Any]) -> None:
    root, prod, web, edge = org["org"].root_id, org["prod"], org["web"], org["edge"]
    snapshot = _gateway(org).walk([prod])
    assert snapshot.complete and snapshot.problems == ()
    assert dict(snapshot.paths) == {A: (root, prod), B: (root, prod, web), C: (root, prod, web, edge)}
    assert snapshot.seen_units == {root, prod, web, edge}
    assert snapshot.units == {prod} and snapshot.read_at == 1000.0


def test_a_starting_ou_below_the_root_finds_its_path_with_list_parents(org: dict[str, Any]) -> None:
    root, prod, web, edge = org["org"].root_id, org["prod"], org["web"], org["edge"]
    snapshot = _gateway(org).walk([web])
    assert dict(snapshot.paths) == {B: (root, prod, web), C: (root, prod, web, edge)}
    assert snapshot.seen_units == {root, prod, web, edge}


def test_the_root_is_the_whole_organization_and_a_unit_named_twice_is_walked_once(org: dict[str, Any]) -> None:
    organization = org["org"]
    snapshot = _gateway(org).walk([organization.root_id, org["web"]])
    # the management account itself sits at the root
    assert set(snapshot.paths) == {A, B, C, D, organization.management_account}
    assert snapshot.paths[D] == (organization.root_id, org["sandbox"])
    assert snapshot.seen_units == {organization.root_id, org["prod"], org["web"], org["edge"], org["sandbox"]}


def test_a_suspended_account_is_not_managed(org: dict[str, Any]) -> None:
    org["org"].suspend(B)
    assert set(_gateway(org).walk([org["prod"]]).paths) == {A, C}


def test_the_walk_pages_with_the_paginators(org: dict[str, Any], cloud: LocalCloud) -> None:
    organization = org["org"]
    many = [f"2200000000{n:02d}" for n in range(30)]
    for account in many:
        organization.add_account(account, org["sandbox"])
    calls: Counter[str] = Counter()
    client = organization.client

    def page_small(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls[model.name] += 1
        if model.name in ("ListAccountsForParent", "ListOrganizationalUnitsForParent"):
            params["MaxResults"] = 7

    client.meta.events.register("provide-client-params.organizations.*", page_small)
    try:
        snapshot = OrganizationsGateway(client).walk([org["sandbox"]])
    finally:
        client.meta.events.unregister("provide-client-params.organizations.*", page_small)
    assert set(snapshot.paths) == {D, *many}
    assert calls["ListAccountsForParent"] == 5  # 31 accounts, 7 a page
    assert calls["ListParents"] == 1  # sandbox sits under the root


def test_a_failure_part_way_gives_an_incomplete_walk_with_what_it_read(org: dict[str, Any]) -> None:
    client = org["org"].client
    web = org["web"]

    def refuse_web(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "ListAccountsForParent" and params.get("ParentId") == web:
            raise ClientError(
                {
                    "Error": {
                        "Code": "TooManyRequestsException",
                        "Message": "AWS Organizations can't complete your request because another request is already in progress.",
                    }
                },
                model.name,
            )

    client.meta.events.register("provide-client-params.organizations.*", refuse_web)
    try:
        snapshot = OrganizationsGateway(client).walk([org["prod"]])
    finally:
        client.meta.events.unregister("provide-client-params.organizations.*", refuse_web)
    assert not snapshot.complete
    assert set(snapshot.paths) == {A}  # what it read is kept; web and below were not read
    assert snapshot.problems == (
        f"{web}: not read to the end (TooManyRequestsException: AWS Organizations can't complete your request because another request is already in progress.)",
    )


def test_a_unit_that_is_gone_makes_the_walk_incomplete_not_empty(org: dict[str, Any]) -> None:
    snapshot = _gateway(org).walk([org["prod"], "ou-zzzz-zzzzzzzz"])
    assert not snapshot.complete
    assert set(snapshot.paths) == {A, B, C}
    [problem] = snapshot.problems
    assert problem.startswith("ou-zzzz-zzzzzzzz: its place in the Organization not read (")


def test_the_walk_declares_exactly_the_calls_it_makes() -> None:
    assert OrganizationsGateway.walk.iam_actions == {  # type: ignore[attr-defined]
        "organizations:ListParents",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListAccountsForParent",
    }


def test_the_difference_writes_new_and_moved_accounts_and_drops_only_on_a_complete_walk() -> None:
    before = {A: ("r-ab12", "ou-ab12-11111111"), B: ("r-ab12",), C: ("r-ab12",)}
    after = {A: ("r-ab12", "ou-ab12-22222222"), B: ("r-ab12",), D: ("r-ab12",)}
    written, dropped = membership_changes(before, OrgSnapshot(paths=after, complete=True))
    assert written == {A: ("r-ab12", "ou-ab12-22222222"), D: ("r-ab12",)}
    assert dropped == [C]
    written, dropped = membership_changes(before, OrgSnapshot(paths=after, complete=False))
    assert written == {A: ("r-ab12", "ou-ab12-22222222"), D: ("r-ab12",)} and dropped == []


def _settings(max_age: float = 900.0) -> Settings:
    return Settings(
        hub_account_id=HUB,
        hub_region="us-east-1",
        approved_account_ids=frozenset({"222222222222"}),
        member_role_name="PeeringAutopilotMember-accepter",
        managed_regions=("us-east-1",),
        event_bus_name="bus",
        managed_units=frozenset({"ou-ab12-11111111"}),
        membership_max_age_seconds=max_age,
    )


def test_a_cache_within_its_bound_is_known_and_past_it_only_the_explicit_accounts_are_managed() -> None:
    cache = Cache({A: ("r-ab12", "ou-ab12-11111111")}, walked_at=5000, complete_at=4000, complete=False)
    fresh = judged(_settings(), cache, now=4900)
    assert fresh.unknown == "" and fresh.is_managed(A)
    stale = judged(_settings(), cache, now=4901)
    assert not stale.is_managed(A) and stale.is_managed("222222222222") and stale.is_managed(HUB)
    assert stale.unknown == (
        "the last complete walk of the Organization is 901 s old, past the bound of 900 s:"
        " only the hub and ApprovedAccountIds are managed"
    )
    never = judged(_settings(), Cache({A: ("r-ab12", "ou-ab12-11111111")}), now=1)
    assert not never.is_managed(A)
    assert never.unknown.startswith("no complete walk of the Organization is recorded yet")


def test_the_bound_comes_from_the_environment_in_minutes() -> None:
    env = {
        "HUB_ACCOUNT_ID": HUB,
        "AWS_REGION": "us-east-1",
        "MEMBER_ROLE_NAME": "PeeringAutopilotMember",
        "MEMBER_ROLE": "reader",
        "EVENT_BUS_NAME": "bus",
        "RECORD_TABLE": "peering-autopilot-record",
    }
    assert Settings.from_env(env).membership_max_age_seconds == 900.0
    assert Settings.from_env({**env, "MEMBERSHIP_MAX_AGE_MINUTES": "20"}).membership_max_age_seconds == 1200.0
    with pytest.raises(Exception, match="MEMBERSHIP_MAX_AGE_MINUTES \\(parameter MembershipMaxAgeMinutes\\)"):
        Settings.from_env({**env, "MEMBERSHIP_MAX_AGE_MINUTES": "0"})


def test_the_reader_role_is_assumed_for_the_gateway_when_named(cloud: LocalCloud) -> None:
    from peering_autopilot.aws.sessions import AwsAccess

    organization = LocalOrganization(cloud)
    organization.add_account(A)
    settings = Settings(**{**_settings().__dict__, "organizations_role_arn": organization.reader_role_arn})
    access = AwsAccess(settings, boto3.Session())
    gateway = access.organizations()
    assert access.organizations().client is gateway.client  # one client per container
    assert A in gateway.walk([organization.root_id]).paths


def test_the_ous_seen_are_known_to_every_function_through_the_cache() -> None:
    cache = Cache({A: ("r-ab12", "ou-ab12-11111111")}, 5000, 4000, True, frozenset({"r-ab12", "ou-ab12-11111111"}))
    assert judged(_settings(), cache, now=4500).seen_units == {"r-ab12", "ou-ab12-11111111"}
    assert judged(_settings(), cache, now=99999).seen_units == frozenset()  # not known: none
