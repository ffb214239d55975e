"""Peering groups through the harness: one group tag on VPCs of three accounts and two regions, and
the autopilot requests, accepts, configures and verifies their peerings with no person making a
request; leaving the group withdraws the autopilot's own and cleans up; a person's is never touched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autopilot_local.harness import LocalAutopilot, LocalCloud
from peering_autopilot import cli
from peering_autopilot.model import CREATED_FOR_TAG, GROUP_TAG
from tests.support.domain import ec2_error
from tests.support.faults import install_fault
from tests.support.world import (
    HUB,
    MEMBER,
    OTHER_REGION,
    OUTSIDER,
    REGION,
    Net,
    Side,
    build_net,
    peering_routes,
    request_peering,
)

THIRD = OUTSIDER  # approved here: a third managed account
THREE_ACCOUNTS = {"ApprovedAccountIds": f"{MEMBER},{THIRD}"}
LIVE = ("initiating-request", "pending-acceptance", "provisioning", "active")


def tag(cloud: LocalCloud, side: Side, value: str | None) -> None:
    """The owner sets (or removes) the group tag; EventBridge reports the change."""
    if value is None:
        cloud.untag_vpc(side.account, side.region, side.vpc_id, [GROUP_TAG])
        return
    cloud.tag_vpc(side.account, side.region, side.vpc_id, {GROUP_TAG: value})


def peerings(
    cloud: LocalCloud, side: Side, states: tuple[str, ...] = ("pending-acceptance", "active")
) -> list[dict[str, Any]]:
    ec2 = cloud.ec2(side.account, side.region)
    found = ec2.describe_vpc_peering_connections()["VpcPeeringConnections"]
    return [
        p
        for p in found
        if p["Status"]["Code"] in states
        and side.vpc_id in (p["RequesterVpcInfo"]["VpcId"], p["AccepterVpcInfo"]["VpcId"])
    ]


def key(side: Side) -> str:
    return f"{side.account}/{side.region}/{side.vpc_id}"


def published(autopilot: LocalAutopilot, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in autopilot.published if e["detail-type"] == detail_type]


@pytest.fixture
def three(cloud: LocalCloud) -> tuple[Net, Net, Net]:
    return (
        build_net(cloud, HUB, REGION, "10.0.0.0/16"),
        build_net(cloud, MEMBER, REGION, "10.1.0.0/16"),
        build_net(cloud, THIRD, OTHER_REGION, "10.2.0.0/16"),
    )


def test_three_vpcs_in_three_accounts_joined_by_one_group_tag_converge_with_no_request_by_a_person(
    cloud: LocalCloud, autopilot_factory: Any, three: tuple[Net, Net, Net]
) -> None:
    autopilot = autopilot_factory(**THREE_ACCOUNTS)
    for net in three:
        tag(cloud, net.side, "shared-services")
    autopilot.run_until_idle()  # the tag changes act at once

    # THEN each pair has exactly one peering, active, requested by the VPC that sorts first,
    # tagged for the group in the requester's account, routed both ways
    pairs = {}
    for net in three:
        for p in peerings(cloud, net.side):
            pairs[p["VpcPeeringConnectionId"]] = p
    assert len(pairs) == 3
    by_pair = {frozenset((p["RequesterVpcInfo"]["VpcId"], p["AccepterVpcInfo"]["VpcId"])): p for p in pairs.values()}
    sides = {n.side.vpc_id: n.side for n in three}
    for p in by_pair.values():
        assert p["Status"]["Code"] == "active"
        requester = sides[p["RequesterVpcInfo"]["VpcId"]]
        accepter = sides[p["AccepterVpcInfo"]["VpcId"]]
        assert key(requester) < key(accepter)
        seen_by_requester = cloud.ec2(requester.account, requester.region).describe_vpc_peering_connections(
            VpcPeeringConnectionIds=[p["VpcPeeringConnectionId"]]
        )["VpcPeeringConnections"][0]
        assert {t["Key"]: t["Value"] for t in seen_by_requester.get("Tags", [])}[CREATED_FOR_TAG] == "shared-services"
    a, b, _ = three
    ab = by_pair[frozenset((a.side.vpc_id, b.side.vpc_id))]["VpcPeeringConnectionId"]
    assert all(peering_routes(cloud, a, ab)[t] == {"10.1.0.0/16"} for t in a.managed_tables)
    assert all(peering_routes(cloud, b, ab)[t] == {"10.0.0.0/16"} for t in b.managed_tables)
    verified = {d["peeringId"] for d in published(autopilot, "Peering Verified")}
    assert verified == set(pairs)
    assert len(published(autopilot, "Peering Requested")) == 3

    # WHEN the sweep runs again, and the same tag changes are delivered again
    before = len(autopilot.published)
    autopilot.tick()
    for net in three:
        tag(cloud, net.side, "shared-services")
    autopilot.run_until_idle()

    # THEN no second peering for any pair
    assert len({p["VpcPeeringConnectionId"] for n in three for p in peerings(cloud, n.side)}) == 3
    assert published(autopilot, "Peering Requested")[3:] == []
    assert len(autopilot.published) > before  # the group change still publishes its plan


def test_leaving_the_group_withdraws_the_autopilots_peerings_and_cleans_up_but_keeps_a_persons(
    cloud: LocalCloud, autopilot_factory: Any, three: tuple[Net, Net, Net]
) -> None:
    a, b, c = three
    autopilot = autopilot_factory(**THREE_ACCOUNTS)
    # a person's peering between a and c, made before the group
    persons = request_peering(cloud, a.side, c.side)
    autopilot.run_until_idle()
    for net in three:
        tag(cloud, net.side, "shared-services")
    autopilot.run_until_idle()
    ids = {p["VpcPeeringConnectionId"] for n in three for p in peerings(cloud, n.side)}
    assert len(ids) == 3 and persons in ids  # the pair a-c kept the person's: no second one

    # WHEN c leaves the group (tag removed)
    tag(cloud, c.side, None)
    autopilot.run_until_idle()

    # THEN b-c, the autopilot's, is withdrawn; a-c, the person's, stays
    left = {p["VpcPeeringConnectionId"] for n in three for p in peerings(cloud, n.side)}
    assert persons in left
    withdrawn = published(autopilot, "Peering Withdrawn")
    assert len(withdrawn) == 1 and withdrawn[0]["group"] == "shared-services"
    gone = withdrawn[0]["peeringId"]
    assert gone not in left and gone != persons
    # and the clean-up took its routes back on both managed sides
    assert all(not peering_routes(cloud, n, gone)[t] for n in (b, c) for t in n.managed_tables)
    cleaned = {d["peeringId"] for d in published(autopilot, "Peering Cleaned Up")}
    assert gone in cleaned

    tag(cloud, b.side, "payments")
    autopilot.run_until_idle()
    left = {p["VpcPeeringConnectionId"] for n in three for p in peerings(cloud, n.side)}
    assert left == {persons}  # a-b withdrawn too; the person's a-c stays though a and c share nothing


def test_a_vpc_that_has_not_opted_in_is_never_peered_whatever_its_group_tag(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16", opted_in=False)
    autopilot = autopilot_factory()
    for net in (a, b):
        tag(cloud, net.side, "shared-services")
    autopilot.run_until_idle()
    autopilot.tick()
    autopilot.run_until_idle()
    assert peerings(cloud, a.side) == [] and peerings(cloud, b.side) == []


@pytest.mark.parametrize(
    ("b_cidr", "b_extra", "code"),
    [
        pytest.param("10.0.0.0/16", {}, "overlap", id="overlapping-blocks"),
        pytest.param("10.1.0.0/16", {"secondary": ("203.0.113.0/24",)}, "outside-policy", id="public-block"),
    ],
)
def test_a_pair_that_cannot_be_peered_is_skipped_and_reported(
    cloud: LocalCloud, autopilot_factory: Any, b_cidr: str, b_extra: dict[str, Any], code: str
) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, b_cidr, **b_extra)
    autopilot = autopilot_factory()
    for net in (a, b):
        tag(cloud, net.side, "shared-services")
    autopilot.run_until_idle()

    assert peerings(cloud, a.side) == []
    [plan] = published(autopilot, "Peering Group Plan")[-1:]
    [skipped] = plan["skipped"]
    assert (skipped["group"], skipped["code"]) == ("shared-services", code)
    assert {skipped["requester"], skipped["accepter"]} == {key(a.side), key(b.side)}


def test_a_pair_where_one_side_routes_the_others_block_through_another_peering_is_skipped(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    old = build_net(cloud, HUB, REGION, "10.9.0.0/16")
    ec2 = cloud.ec2(HUB, REGION)
    pcx = ec2.create_vpc_peering_connection(VpcId=a.side.vpc_id, PeerVpcId=old.side.vpc_id)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    ec2.create_route(RouteTableId=a.main_table, DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=pcx)
    autopilot = autopilot_factory()
    for net in (a, b):
        tag(cloud, net.side, "shared-services")
    autopilot.run_until_idle()

    assert [p for p in peerings(cloud, b.side)] == []
    [skipped] = published(autopilot, "Peering Group Plan")[-1]["skipped"]
    assert skipped["code"] == "routed-elsewhere"
    assert f"already routes 10.1.0.0/16 ({b.side.vpc_id}'s) to {pcx} in {a.main_table}" in skipped["reason"]


def test_the_quota_is_respected_and_the_mesh_advice_given_with_the_numbers(
    cloud: LocalCloud, autopilot_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    nets = [build_net(cloud, HUB, REGION, f"10.{i}.0.0/16") for i in range(4)]
    autopilot = autopilot_factory(PeeringQuotaPerVpc="2", MeshAdvisorThreshold="3")
    for net in nets:
        tag(cloud, net.side, "big")
    autopilot.run_until_idle()

    # 4 VPCs would need 6 peerings; each may have 2: no VPC is ever past its quota
    ids = {p["VpcPeeringConnectionId"] for n in nets for p in peerings(cloud, n.side, ("pending-acceptance", "active"))}
    per_vpc = {n.side.vpc_id: len(peerings(cloud, n.side)) for n in nets}
    assert all(count <= 2 for count in per_vpc.values())
    # in key order: 0-1, 0-2 fill VPC 0; 1-2 fills 1 and 2; 0-3, 1-3, 2-3 are skipped, and said so
    # (each tag change plans the pairs of its own VPC: the skipped pairs over all the plans)
    plans = published(autopilot, "Peering Group Plan")
    first = plans[0]
    assert len(ids) == 3 and sorted(per_vpc.values()) == [0, 2, 2, 2]
    quota = {(s["requester"], s["accepter"]): s for p in plans for s in p["skipped"] if s["code"] == "quota"}
    assert len(quota) == 3 and all("of its 2 peerings in use" in s["reason"] for s in quota.values())
    advice = {a["code"]: a for a in first["advice"]}
    assert advice["large-mesh"]["vpcs"] == 4 and advice["large-mesh"]["peeringsNeeded"] == 6
    assert "Transit Gateway" in advice["large-mesh"]["message"]
    assert "near-quota" in advice

    # ... and `peering-autopilot status` says the same from the same reads
    capsys.readouterr()
    code = cli.main(
        ["status", "--accounts", HUB, "--regions", REGION, "--peering-quota", "2", "--mesh-threshold", "3", "--json"]
    )
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert code == 0
    assert {a["code"] for a in groups["advice"]} == {"large-mesh", "near-quota"}
    assert len([s for s in groups["skipped"] if s["code"] == "quota"]) == 3 and groups["requests"] == []


def test_dry_run_publishes_the_plan_and_requests_nothing(cloud: LocalCloud, autopilot_factory: Any) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory(DryRun="true")
    for net in (a, b):
        tag(cloud, net.side, "shared-services")
    autopilot.run_until_idle()

    assert peerings(cloud, a.side) == []
    [requested] = {d["requester"]["vpcId"]: d for d in published(autopilot, "Peering Requested")}.values()
    assert (requested["outcome"], requested["dryRun"], requested["peeringId"]) == ("planned", True, None)
    assert requested["requester"]["vpcId"] == a.side.vpc_id  # HUB sorts first
    assert all(plan["dryRun"] for plan in published(autopilot, "Peering Group Plan"))


def test_a_group_tag_that_is_not_names_gains_nothing_and_loses_nothing(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    for net in (a, b):
        tag(cloud, net.side, "shared-services")
    autopilot.run_until_idle()
    [peering] = peerings(cloud, a.side)

    # WHEN one owner types a value that is not a list of names
    tag(cloud, b.side, "shared-services; payments")
    autopilot.run_until_idle()

    # THEN the peering stays, and the plan says why nothing was done for that VPC
    assert [p["VpcPeeringConnectionId"] for p in peerings(cloud, a.side)] == [peering["VpcPeeringConnectionId"]]
    assert published(autopilot, "Peering Withdrawn") == []
    [unclear] = published(autopilot, "Peering Group Plan")[-1]["unclearTags"]
    assert key(b.side) in unclear and "'shared-services; payments'" in unclear


def test_the_sweep_converges_what_the_tag_events_missed(cloud: LocalCloud, autopilot_factory: Any) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    for net in (a, b):  # tagged with no event delivered (EventBridge lost them)
        cloud.ec2(net.side.account, REGION).create_tags(
            Resources=[net.side.vpc_id], Tags=[{"Key": GROUP_TAG, "Value": "shared-services"}]
        )
    autopilot.tick()
    autopilot.run_until_idle()
    [peering] = peerings(cloud, a.side)
    assert peering["Status"]["Code"] == "active"


def test_the_connect_functions_own_requests_come_back_through_cloudtrail_and_start_nothing(
    cloud: LocalCloud, autopilot_factory: Any, three: tuple[Net, Net, Net]
) -> None:
    autopilot = autopilot_factory(**THREE_ACCOUNTS)
    for net in three:
        tag(cloud, net.side, "shared-services")
    deliveries = autopilot.run_until_idle()

    # CloudTrail recorded each request with the identity that sent it: the hub function's role in
    # the hub, the connector role in a member account ...
    sent = [e for e in cloud.history if e["detail"]["eventName"] == "CreateVpcPeeringConnection"]
    issuers = {e["account"]: e["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] for e in sent}
    assert len(sent) == 3
    assert issuers[MEMBER] == f"arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember-connector"
    assert "/peering-autopilot/" in issuers[HUB]
    # ... and no rule took the echo: every accept came from the connect function's own work event
    accepts = [d for d in deliveries if d.function == "AcceptPeeringFunction"]
    assert {d.rule for d in accepts} == {"AcceptPeeringFunction.RequestFound"} and len(accepts) == 3


def test_a_group_peering_is_not_withdrawn_while_the_place_of_one_of_its_vpcs_cannot_be_read(
    cloud: LocalCloud, autopilot_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    c = build_net(cloud, HUB, REGION, "10.2.0.0/16")
    autopilot = autopilot_factory()
    for net in (a, b, c):
        tag(cloud, net.side, "shared-services")
    autopilot.run_until_idle()
    assert len({p["VpcPeeringConnectionId"] for n in (a, b, c) for p in peerings(cloud, n.side)}) == 3

    # WHEN a and b leave the group (tags removed, events lost) while an SCP denies EC2 in the member account
    for net in (a, b):
        cloud.ec2(net.side.account, REGION).delete_tags(Resources=[net.side.vpc_id], Tags=[{"Key": GROUP_TAG}])
    denied = ec2_error(403, "UnauthorizedOperation", "an explicit deny in a service control policy")
    install_fault(monkeypatch, cloud, lambda r: denied if r.account_id == MEMBER else None)
    [swept, *rest] = autopilot.tick()
    deliveries = rest + autopilot.run_until_idle()

    # THEN the member's place is reported; a-c, both read, is withdrawn; a-b and b-c, whose member
    # VPC could not be read, are left as they are
    assert {p["accountId"] for p in swept.result["problems"]} == {MEMBER}  # in each managed region
    withdrawn = [d for d in deliveries if d.function == "ConnectPeeringFunction" and d.result["status"] == "withdrawn"]
    assert len(withdrawn) == 1
    [(gone_a, gone_c)] = [
        (p["RequesterVpcInfo"]["VpcId"], p["AccepterVpcInfo"]["VpcId"]) for p in peerings(cloud, a.side, ("deleted",))
    ]
    assert {gone_a, gone_c} == {a.side.vpc_id, c.side.vpc_id}
    assert len(peerings(cloud, b.side, ("active",))) == 2


@pytest.mark.parametrize("order", [("x", "y", "z", "w"), ("w", "z", "y", "x")], ids=["x-first", "x-last"])
def test_overlapping_vpcs_joining_a_group_at_once_are_not_peered_to_their_common_vpc_in_any_order(
    cloud: LocalCloud, autopilot_factory: Any, order: tuple[str, ...]
) -> None:
    # GIVEN x, and y and z whose blocks overlap, all tagging themselves into `shared` at the same
    # moment, and w joining x in `ops`
    nets = {
        "x": build_net(cloud, HUB, REGION, "10.0.0.0/16"),
        "y": build_net(cloud, MEMBER, REGION, "10.1.0.0/16"),
        "z": build_net(cloud, THIRD, OTHER_REGION, "10.1.0.0/17"),
        "w": build_net(cloud, HUB, REGION, "10.3.0.0/16"),
    }
    groups = {"x": "shared,ops", "y": "shared", "z": "shared", "w": "ops"}
    autopilot = autopilot_factory(**THREE_ACCOUNTS)
    for name in order:
        tag(cloud, nets[name].side, groups[name])
    autopilot.run_until_idle()
    autopilot.tick()  # and the sweep after agrees
    autopilot.run_until_idle()

    # THEN x has no peering to y nor to z (nor y to z); x-w, which conflicts with nothing, is active
    names = {net.side.vpc_id: name for name, net in nets.items()}
    found = {p["VpcPeeringConnectionId"]: p for net in nets.values() for p in peerings(cloud, net.side, LIVE)}
    made = {
        frozenset((names[p["RequesterVpcInfo"]["VpcId"]], names[p["AccepterVpcInfo"]["VpcId"]])): p["Status"]["Code"]
        for p in found.values()
    }
    assert made == {frozenset(("x", "w")): "active"}

    # AND the Group Plan names the conflict: each request skipped names the other VPC and the blocks
    skipped = {
        frozenset((s["requester"], s["accepter"])): s
        for plan in published(autopilot, "Peering Group Plan")
        for s in plan["skipped"]
    }
    x, y, z = (key(nets[n].side) for n in "xyz")
    assert skipped[frozenset((x, y))]["code"] == skipped[frozenset((x, z))]["code"] == "conflict-in-plan"
    assert (
        f"with {z}, whose 10.1.0.0/17 overlaps 10.1.0.0/16 of {nets['y'].side.vpc_id}"
        in skipped[frozenset((x, y))]["reason"]
    )
    assert (
        f"with {y}, whose 10.1.0.0/16 overlaps 10.1.0.0/17 of {nets['z'].side.vpc_id}"
        in skipped[frozenset((x, z))]["reason"]
    )
    assert skipped[frozenset((y, z))]["code"] == "overlap"
    assert published(autopilot, "Peering Requested") and all(
        {r["requester"]["vpcId"], r["accepter"]["vpcId"]} == {nets["x"].side.vpc_id, nets["w"].side.vpc_id}
        for r in published(autopilot, "Peering Requested")
    )


def test_a_vpc_joining_later_is_not_peered_where_its_blocks_overlap_an_older_peering_of_the_common_vpc(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    x = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    y = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    for net in (x, y):
        tag(cloud, net.side, "shared")
    autopilot.run_until_idle()
    [older] = peerings(cloud, x.side)

    # WHEN z, overlapping y, joins later
    z = build_net(cloud, HUB, REGION, "10.1.0.0/17")
    tag(cloud, z.side, "shared")
    autopilot.run_until_idle()

    # THEN the older claim keeps its traffic: x-y stays, x-z is never requested, and the plan says why
    assert [p["VpcPeeringConnectionId"] for p in peerings(cloud, x.side)] == [older["VpcPeeringConnectionId"]]
    assert peerings(cloud, z.side) == []
    skipped = {
        frozenset((s["requester"], s["accepter"])): s
        for plan in published(autopilot, "Peering Group Plan")
        for s in plan["skipped"]
    }
    xz = skipped[frozenset((key(x.side), key(z.side)))]
    assert xz["code"] == "routed-elsewhere"
    assert f"already has {older['VpcPeeringConnectionId']} (active) with {y.side.vpc_id}" in xz["reason"]
