"""Rules that match the accounts' tags in the Organization, through the harness (moto's
Organizations, the policy in its SSM parameter): only the Organization's management writes an
account's tags, so a member that tags its own VPC `env=prod` does not pass a rule that asks for a
prod account; the management retagging the account changes the outcome after the next sweep."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError
from moto.organizations.models import OrganizationsBackend

from autopilot_local.harness import LocalAutopilot, LocalCloud
from autopilot_local.organizations import LocalOrganization
from peering_autopilot.model import STATUS_TAG
from tests.support.governance import POLICY_PARAMETER, deploy_policy, governed_hub
from tests.support.world import HUB, MEMBER, REGION, Side, hub_parameters, make_vpc, request_peering, tags_of

APP = "555555555555"  # prod
PLATFORM_ACCOUNT = "666666666666"  # prod
RECORD = "peering-autopilot-record"
POLICY: dict[str, Any] = {
    "version": 1,
    "defaults": {"outcome": "reject"},
    "rules": [
        {
            "name": "prod-accounts-only",
            "requester": {"account_tags": {"env": "prod"}},
            "accepter": {"account_tags": {"env": "prod"}},
            "outcome": "accept",
        }
    ],
}


@pytest.fixture
def org(cloud: LocalCloud) -> LocalOrganization:
    """root ─ workloads (APP, PLATFORM_ACCOUNT, MEMBER); APP and PLATFORM_ACCOUNT tagged env=prod by
    the management account, MEMBER env=dev."""
    organization = LocalOrganization(cloud)
    workloads = organization.ou("workloads")
    for account in (APP, PLATFORM_ACCOUNT, MEMBER):
        organization.add_account(account, workloads)
    organization.tag_account(APP, env="prod")
    organization.tag_account(PLATFORM_ACCOUNT, env="prod")
    organization.tag_account(MEMBER, env="dev")
    return organization


def deploy(cloud: LocalCloud, organization: LocalOrganization, document: dict[str, Any]) -> LocalAutopilot:
    """The policy deployed, and a hub managing the whole Organization."""
    return governed_hub(cloud, organization, organization.root_id, (APP, PLATFORM_ACCOUNT, MEMBER), document)


def state(cloud: LocalCloud, accepter: Side, peering_id: str) -> str:
    [seen] = cloud.ec2(accepter.account, accepter.region).describe_vpc_peering_connections(
        VpcPeeringConnectionIds=[peering_id]
    )["VpcPeeringConnections"]
    return str(seen["Status"]["Code"])


def cached_tags(cloud: LocalCloud) -> dict[str, Any]:
    """Each account item's tags in the record's membership partition (absent: not read)."""
    table = cloud.session(HUB).client("dynamodb", region_name=REGION)
    items = table.query(
        TableName=RECORD,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "membership"}},
    )["Items"]
    return {
        item["sk"]["S"].removeprefix("account#"): {k: v["S"] for k, v in item["tags"]["M"].items()}
        for item in items
        if item["sk"]["S"].startswith("account#") and "tags" in item
    }


def tag_reads(autopilot: LocalAutopilot) -> int:
    return sum(1 for c in autopilot.grants.calls if c.action == "organizations:ListTagsForResource")


def test_a_rule_on_account_tags_takes_the_organizations_word_not_the_members_vpc_tags(
    cloud: LocalCloud, org: LocalOrganization
) -> None:
    # GIVEN the rule prod-accounts-only (else reject), two prod accounts, and MEMBER's account
    # tagged env=dev by the management account while MEMBER tags its own VPC env=prod
    autopilot = deploy(cloud, org, POLICY)
    app_vpc = make_vpc(cloud, APP, REGION, "10.2.0.0/16", tags={"env": "prod"})
    platform_vpc = make_vpc(cloud, PLATFORM_ACCOUNT, REGION, "10.1.0.0/16", tags={"env": "prod"})
    member_vpc = make_vpc(cloud, MEMBER, REGION, "10.3.0.0/16", tags={"env": "prod"})

    # WHEN the schedule fires: the sweep walks the Organization and, as the policy uses account
    # tags, reads each account's tags (one call each) into the record with its OU path
    autopilot.tick()
    assert tag_reads(autopilot) == 4  # APP, PLATFORM_ACCOUNT, MEMBER and the management account
    assert cached_tags(cloud) == {
        APP: {"env": "prod"},
        PLATFORM_ACCOUNT: {"env": "prod"},
        MEMBER: {"env": "dev"},
        org.management_account: {},
    }

    # AND both requests come in
    prod_pair = request_peering(cloud, app_vpc, platform_vpc)
    forged = request_peering(cloud, member_vpc, platform_vpc)
    autopilot.run_until_idle()

    # THEN the prod pair is accepted by the rule; MEMBER's VPC tag does not pass it: the default rejects
    assert state(cloud, platform_vpc, prod_pair) == "active"
    assert state(cloud, platform_vpc, forged) == "rejected"
    assert tags_of(cloud, platform_vpc, forged)[STATUS_TAG] == "rejected:policy-rejected"
    said = json.dumps([e for e in autopilot.published if e["detail"].get("peeringId") == forged])
    assert "no rule matches: the default outcome, reject" in said

    # WHEN the management account retags MEMBER's account env=prod and the schedule fires
    org.tag_account(MEMBER, env="prod")
    autopilot.tick()
    assert cached_tags(cloud)[MEMBER] == {"env": "prod"}

    # THEN MEMBER's next request is accepted by the rule
    again = make_vpc(cloud, MEMBER, REGION, "10.4.0.0/16")
    accepted = request_peering(cloud, again, platform_vpc)
    autopilot.run_until_idle()
    assert state(cloud, platform_vpc, accepted) == "active"


def test_without_a_rule_on_account_tags_the_walk_reads_none(cloud: LocalCloud, org: LocalOrganization) -> None:
    # GIVEN a policy matching only by VPC tags
    document = {
        "version": 1,
        "defaults": {"outcome": "reject"},
        "rules": [{"name": "vpcs", "requester": {"vpc_tags": {"env": "prod"}}, "outcome": "accept"}],
    }
    autopilot = deploy(cloud, org, document)

    # WHEN the schedule fires
    autopilot.tick()

    # THEN no account's tags were read or cached (the call is paid only for a policy that uses them)
    assert tag_reads(autopilot) == 0
    assert cached_tags(cloud) == {}


def test_a_delegated_administrator_hub_reads_the_tags_with_its_own_credentials(cloud: LocalCloud) -> None:
    # GIVEN an Organization whose management account the hub's is (it answers Organizations' reads
    # as a delegated administrator does; moto keeps the Organization in the management account's
    # backend only): the hub's account and APP tagged env=prod, and no reader role named
    organization = LocalOrganization(cloud, management_account=HUB)
    organization.add_account(APP, organization.ou("workloads"))
    organization.tag_account(HUB, env="prod")
    organization.tag_account(APP, env="prod")
    deploy_policy(cloud, POLICY)
    params = hub_parameters(
        ApprovedAccountIds="",
        ManagedRegions=REGION,
        OrganizationId=organization.id,
        ManagedOrganizationalUnitIds=organization.root_id,
        PolicyParameterName=POLICY_PARAMETER,
    )
    autopilot = LocalAutopilot(cloud, params, region=REGION, member_accounts=(APP,), log_stream=io.StringIO())
    hub_vpc = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    app_vpc = make_vpc(cloud, APP, REGION, "10.2.0.0/16")

    # WHEN the schedule fires and APP asks to peer with the hub's VPC
    autopilot.tick()
    peering_id = request_peering(cloud, app_vpc, hub_vpc)
    autopilot.run_until_idle()

    # THEN the sweep read the tags with its own role, and the prod pair is accepted by the rule
    reads = {(c.function, c.where) for c in autopilot.grants.calls if c.action == "organizations:ListTagsForResource"}
    assert reads == {("SweepFunction", "hub")}
    assert cached_tags(cloud) == {HUB: {"env": "prod"}, APP: {"env": "prod"}}
    assert state(cloud, hub_vpc, peering_id) == "active"


def sweep_report(deliveries: list[Any]) -> dict[str, Any]:
    [sweep] = [d.result for d in deliveries if d.function == "SweepFunction"]
    return dict(sweep["organization"])


def test_a_tag_read_refused_leaves_that_account_unknown_and_an_incomplete_walk_keeps_the_others_tags(
    cloud: LocalCloud, org: LocalOrganization, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the prod-accounts-only rule, and the cache written with every account's tags
    autopilot = deploy(cloud, org, POLICY)
    app_vpc = make_vpc(cloud, APP, REGION, "10.2.0.0/16")
    platform_vpc = make_vpc(cloud, PLATFORM_ACCOUNT, REGION, "10.1.0.0/16")
    autopilot.tick()

    # WHEN the next walk cannot read the OU's accounts (incomplete)
    original_accounts = OrganizationsBackend.list_accounts_for_parent

    def accounts_refused(self: Any, **kwargs: Any) -> Any:
        if kwargs.get("parent_id") != org.root_id:
            raise JsonRESTError("AccessDeniedException", "You don't have permissions to access this resource.")
        return original_accounts(self, **kwargs)

    monkeypatch.setattr(OrganizationsBackend, "list_accounts_for_parent", accounts_refused)
    report = sweep_report(autopilot.tick())

    # THEN nothing is dropped, the accounts it did not read keep the tags the cache holds, and a
    # request between the two prod accounts is accepted by the rule
    assert report["complete"] is False and report["dropped"] == 0
    assert cached_tags(cloud)[APP] == {"env": "prod"}
    first = request_peering(cloud, app_vpc, platform_vpc)
    autopilot.run_until_idle()
    assert state(cloud, platform_vpc, first) == "active"
    monkeypatch.setattr(OrganizationsBackend, "list_accounts_for_parent", original_accounts)

    # WHEN a complete walk cannot read APP's tags
    original_tags = OrganizationsBackend.list_tags_for_resource

    def tags_refused(self: Any, **kwargs: Any) -> Any:
        if kwargs.get("ResourceId") == APP:
            raise JsonRESTError("AccessDeniedException", "You don't have permissions to access this resource.")
        return original_tags(self, **kwargs)

    monkeypatch.setattr(OrganizationsBackend, "list_tags_for_resource", tags_refused)
    report = sweep_report(autopilot.tick())

    # THEN the walk is complete, says which account's tags it could not read, and APP's tags are not
    # known any more (its item rewritten without them): the rule does not match APP, the default rejects
    assert report["complete"] is True
    assert report["problems"] == [
        f"{APP}: its account tags not read (AccessDeniedException: You don't have permissions to access this resource.)"
    ]
    assert APP not in cached_tags(cloud) and cached_tags(cloud)[PLATFORM_ACCOUNT] == {"env": "prod"}
    second = request_peering(cloud, make_vpc(cloud, APP, REGION, "10.5.0.0/16"), platform_vpc)
    autopilot.run_until_idle()
    assert tags_of(cloud, platform_vpc, second)[STATUS_TAG] == "rejected:policy-rejected"
    said = json.dumps([e for e in autopilot.published if e["detail"].get("peeringId") == second])
    assert "no rule matches: the default outcome, reject" in said
