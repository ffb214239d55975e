"""The network team's policy and the Organization together, through the harness (moto's
Organizations, the policy in its SSM parameter): who may join a peering group is the policy's word
by OU, not the tag's, and it converges both ways as accounts move; a policy naming an OU the
Organization does not hold stops every step, saying which."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autopilot_local.harness import LocalAutopilot, LocalCloud
from autopilot_local.organizations import LocalOrganization
from peering_autopilot.model import CREATED_FOR_TAG, GROUP_TAG
from tests.support.governance import governed_hub
from tests.support.world import HUB, MEMBER, REGION, Side, make_vpc, request_peering, tags_of

APP = "555555555555"  # moved between the platform OU and the sandbox
PLATFORM_ACCOUNT = "666666666666"
GROUP = "shared-services"
LIVE = ("pending-acceptance", "provisioning", "active")


@pytest.fixture
def org(cloud: LocalCloud) -> dict[str, Any]:
    """root ─ platform (PLATFORM_ACCOUNT); root ─ sandbox (APP, MEMBER)."""
    organization = LocalOrganization(cloud)
    platform, sandbox = organization.ou("platform"), organization.ou("sandbox")
    organization.add_account(PLATFORM_ACCOUNT, platform)
    organization.add_account(APP, sandbox)
    organization.add_account(MEMBER, sandbox)
    return {"org": organization, "platform": platform, "sandbox": sandbox}


def deploy(cloud: LocalCloud, org: dict[str, Any], document: dict[str, Any]) -> LocalAutopilot:
    """The policy deployed, and a hub managing the whole Organization."""
    organization: LocalOrganization = org["org"]
    return governed_hub(cloud, organization, organization.root_id, (APP, PLATFORM_ACCOUNT, MEMBER), document)


def group_policy(platform: str) -> dict[str, Any]:
    return {
        "version": 1,
        "defaults": {"outcome": "reject"},
        "rules": [{"name": "within-the-organization", "outcome": "accept"}],
        "groups": {GROUP: {"accounts": [HUB], "ous": [platform]}},
    }


def live_pairs(cloud: LocalCloud, *sides: Side) -> set[frozenset[str]]:
    """Every live peering any of the sides' accounts sees, as the pair of its VPCs."""
    pairs = set()
    for side in sides:
        for p in cloud.ec2(side.account, side.region).describe_vpc_peering_connections()["VpcPeeringConnections"]:
            if p["Status"]["Code"] in LIVE:
                pairs.add(frozenset((p["RequesterVpcInfo"]["VpcId"], p["AccepterVpcInfo"]["VpcId"])))
    return pairs


def group_plans(autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    return [e["detail"] for e in autopilot.published if e["detail-type"] == "Peering Group Plan"]


def test_a_vpc_outside_a_groups_ous_gains_nothing_and_joins_when_its_account_moves_in_then_leaves_when_moved_out(
    cloud: LocalCloud, org: dict[str, Any]
) -> None:
    # GIVEN a policy whose group shared-services admits the hub and the platform OU, and three
    # opted-in VPCs all tagged into it: the hub's, the platform account's, and APP's in the sandbox
    autopilot = deploy(cloud, org, group_policy(org["platform"]))
    hub_vpc = make_vpc(cloud, HUB, REGION, "10.0.0.0/16", tags={GROUP_TAG: GROUP})
    platform_vpc = make_vpc(cloud, PLATFORM_ACCOUNT, REGION, "10.1.0.0/16", tags={GROUP_TAG: GROUP})
    app_vpc = make_vpc(cloud, APP, REGION, "10.2.0.0/16", tags={GROUP_TAG: GROUP})

    # WHEN the schedule fires (the sweep walks the Organization, plans the group) and the work runs
    autopilot.tick()

    # THEN only the admitted pair is peered; APP's VPC gains nothing, and the plan says why
    everyone = (hub_vpc, platform_vpc, app_vpc)
    assert live_pairs(cloud, *everyone) == {frozenset((hub_vpc.vpc_id, platform_vpc.vpc_id))}
    plan = group_plans(autopilot)[-1]
    assert plan["notAdmitted"] == [
        f"{APP}/{REGION}/{app_vpc.vpc_id} names group '{GROUP}' and gains nothing: account {APP} may not join "
        f"group '{GROUP}': members are {HUB} or under {org['platform']}"
    ]
    assert all(app_vpc.vpc_id not in json.dumps(r) for r in plan["requests"])

    # WHEN an administrator moves APP into the platform OU (no redeploy, no tag change) and the schedule fires
    org["org"].move(APP, org["platform"])
    autopilot.tick()
    autopilot.tick()  # the first run walks and requests; the next finds nothing left to do

    # THEN APP's VPC is peered with both, by the autopilot, for the group
    assert live_pairs(cloud, *everyone) == {
        frozenset((hub_vpc.vpc_id, platform_vpc.vpc_id)),
        frozenset((hub_vpc.vpc_id, app_vpc.vpc_id)),
        frozenset((platform_vpc.vpc_id, app_vpc.vpc_id)),
    }
    assert group_plans(autopilot)[-1]["notAdmitted"] == []

    # WHEN it is moved back to the sandbox and the schedule fires
    org["org"].move(APP, org["sandbox"])
    autopilot.tick()
    autopilot.tick()

    # THEN the autopilot withdraws the two group peerings it made for APP's VPC; the admitted pair stays
    assert live_pairs(cloud, *everyone) == {frozenset((hub_vpc.vpc_id, platform_vpc.vpc_id))}
    assert group_plans(autopilot)[-1]["notAdmitted"] != []


def test_a_group_peering_a_member_requests_itself_from_outside_the_group_is_not_configured_by_its_tag(
    cloud: LocalCloud, org: dict[str, Any]
) -> None:
    # GIVEN the same policy; MEMBER (sandbox) tags its VPC into the group and itself requests a
    # peering to the hub's VPC, tagging it created-for-group as the autopilot would
    autopilot = deploy(cloud, org, group_policy(org["platform"]) | {"defaults": {"outcome": "reject"}, "rules": []})
    hub_vpc = make_vpc(cloud, HUB, REGION, "10.0.0.0/16", tags={GROUP_TAG: GROUP})
    member_vpc = make_vpc(cloud, MEMBER, REGION, "10.3.0.0/16", tags={GROUP_TAG: GROUP})
    autopilot.tick()
    peering_id = request_peering(cloud, member_vpc, hub_vpc)
    cloud.ec2(MEMBER, REGION).create_tags(Resources=[peering_id], Tags=[{"Key": CREATED_FOR_TAG, "Value": GROUP}])

    # WHEN the autopilot hears the request
    autopilot.run_until_idle()

    # THEN the policy decides, not the tag: no rule accepts, the default rejects
    assert tags_of(cloud, hub_vpc, peering_id)["peering-autopilot:status"] == "rejected:policy-rejected"
    assert live_pairs(cloud, hub_vpc, member_vpc) == set()


def test_a_policy_naming_an_ou_the_organization_does_not_hold_stops_every_step_and_says_which(
    cloud: LocalCloud, org: dict[str, Any]
) -> None:
    # GIVEN a policy whose group names an OU that is not in the Organization (a typo, or a deleted OU)
    missing = "ou-zz99-zz99zz99"
    autopilot = deploy(cloud, org, group_policy(missing))
    hub_vpc = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    platform_vpc = make_vpc(cloud, PLATFORM_ACCOUNT, REGION, "10.1.0.0/16")
    autopilot.tick()  # the sweep walks the Organization first: the OUs it saw are now known

    # WHEN a request arrives
    peering_id = request_peering(cloud, platform_vpc, hub_vpc)
    deliveries = autopilot.run_until_idle()

    # THEN the accept step does nothing and says which OU, and the request is untouched
    [accept] = [d.result for d in deliveries if d.function == "AcceptPeeringFunction"]
    assert accept["status"] == "error"
    assert f"unknown OU {missing}: not in the managed part of the Organization" in accept["error"]
    assert tags_of(cloud, hub_vpc, peering_id) == {}
    [seen] = cloud.ec2(HUB, REGION).describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])[
        "VpcPeeringConnections"
    ]
    assert seen["Status"]["Code"] == "pending-acceptance"
