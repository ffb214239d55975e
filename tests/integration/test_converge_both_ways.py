"""Issue 9, points 3 to 7 and the quota part of 10, through the local harness: opt-outs that fail
safe, rejection only with consent, peer blocks vetted at every look, convergence both ways (take
back what the autopilot owns, never what a person wrote), blackhole routes replaced, and quota
refusals held back instead of re-run on every sweep."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from autopilot_local.harness import LocalAutopilot, LocalCloud
from tests.support.domain import Body
from tests.support.faults import install_fault
from tests.support.world import (
    HUB,
    MEMBER,
    REGION,
    Net,
    build_net,
    ingress,
    make_vpc,
    peering_as_accepter,
    peering_routes,
    request_peering,
    tags_of,
)

MARK = "peering-autopilot {}"


# Each side once in the hub's account (the function's own role) and once in a member's (its member role).
SIDE_ACCOUNTS = pytest.mark.parametrize(
    ("own", "peer"), [(HUB, MEMBER), (MEMBER, HUB)], ids=["side-in-the-hub", "side-in-a-member"]
)


def configured(autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    return [e for e in autopilot.published if e["detail-type"] == "Peering Configured"]


def side_of(event: dict[str, Any], role: str) -> dict[str, Any]:
    return next(s for s in event["detail"]["sides"] if s["role"] == role)


def functions_run(deliveries: list[Any]) -> list[str]:
    return [d.function for d in deliveries]


def work_event(peering_id: str, account: str, work: str = "configure") -> dict[str, Any]:
    """The hub's own "Peering Work Found", as its sweep publishes it."""
    return {
        "version": "0",
        "id": f"work-{peering_id}",
        "detail-type": "Peering Work Found",
        "source": "peering-autopilot",
        "account": HUB,
        "time": "2026-12-03T09:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "peeringId": peering_id,
            "work": work,
            "accountId": account,
            "region": REGION,
            "why": "asked by the test",
            "foundBy": "sweep",
        },
    }


def converged(cloud: LocalCloud, autopilot: LocalAutopilot, a: Net, b: Net) -> str:
    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    assert peering_as_accepter(cloud, b.side, peering_id)["Status"]["Code"] == "active"
    return peering_id


def authorize(cloud: LocalCloud, net: Net, group_id: str, protocol: str, port: int, cidr: str, note: str) -> None:
    cloud.ec2(net.side.account, net.side.region).authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": protocol,
                "FromPort": port,
                "ToPort": port,
                "IpRanges": [{"CidrIp": cidr, "Description": note}],
            }
        ],
    )


def set_tags(cloud: LocalCloud, net: Net, resource_id: str, tags: dict[str, str]) -> None:
    cloud.ec2(net.side.account, net.side.region).create_tags(
        Resources=[resource_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
    )


# ------------------------------------------------------------------------------- point 3: opt-out


@pytest.mark.parametrize("value", ["False", "FALSE", "no", "ture"])
def test_a_table_tagged_routes_with_any_value_but_true_gets_no_route(
    cloud: LocalCloud, autopilot_factory: Any, value: str
) -> None:
    # GIVEN one subnet table opted out with an odd spelling, another tagged TRUE (any case routes)
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    out, kept = a.subnet_tables
    set_tags(cloud, a, out, {"peering-autopilot:routes": value})
    set_tags(cloud, a, kept, {"peering-autopilot:routes": "TRUE"})

    peering_id = converged(cloud, autopilot_factory(), a, b)

    # THEN the opted-out table has no route through the peering; the others do
    routes = peering_routes(cloud, a, peering_id)
    assert routes[out] == set()
    assert routes[kept] == {"10.1.0.0/16"} and routes[a.main_table] == {"10.1.0.0/16"}


# ------------------------------------------------------------------------------- point 4: consent


def test_reject_mode_leaves_a_request_into_a_vpc_that_has_not_opted_in_alone(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN UnapprovedRequestAction=reject and an approved requester, but an accepter VPC whose
    # owner never opted in (never delegated the decision)
    requester = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")
    accepter = make_vpc(cloud, HUB, REGION, "10.0.0.0/16", opted_in=False)
    autopilot = autopilot_factory(UnapprovedRequestAction="reject")

    peering_id = request_peering(cloud, requester, accepter)
    deliveries = autopilot.run_until_idle()

    # THEN the request stays pending for its owner: declined, not rejected
    assert peering_as_accepter(cloud, accepter, peering_id)["Status"]["Code"] == "pending-acceptance"
    assert [(d.function, d.result["status"]) for d in deliveries] == [("AcceptPeeringFunction", "declined")]
    assert deliveries[0].result["reasonCode"] == "accepter-not-opted-in"


# ------------------------------------------------------------------------------- point 5: vetted blocks


def test_a_request_from_a_vpc_with_a_public_block_is_not_accepted(cloud: LocalCloud, autopilot_factory: Any) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16", secondary=("203.0.113.0/24",))
    autopilot = autopilot_factory()

    peering_id = request_peering(cloud, b.side, a.side)
    deliveries = autopilot.run_until_idle()

    assert peering_as_accepter(cloud, a.side, peering_id)["Status"]["Code"] == "pending-acceptance"
    [decision] = [d.result for d in deliveries if d.function == "AcceptPeeringFunction"]
    assert decision["reasonCode"] == "peer-cidr-not-allowed"
    assert "requester block 203.0.113.0/24 outside AllowedPeerCidrs" in decision["reason"]
    assert all(routes == set() for routes in peering_routes(cloud, a, peering_id).values())


def test_blocks_added_after_acceptance_get_a_second_look(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN a converged peering
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    peering_id = converged(cloud, autopilot, a, b)

    # WHEN the peer adds a private block, a public one, and one that overlaps the requester's
    ec2 = cloud.ec2(MEMBER, REGION)
    for block in ("100.64.0.0/20", "198.51.100.0/24", "10.0.128.0/17"):
        ec2.associate_vpc_cidr_block(VpcId=b.side.vpc_id, CidrBlock=block)
    autopilot.tick()

    # THEN the sweep routes and opens only the vetted one, and reports the others
    assert peering_routes(cloud, a, peering_id)[a.main_table] == {"10.1.0.0/16", "100.64.0.0/20"}
    opened = {rule[3] for rule in ingress(cloud, a, a.tagged_group)}
    assert opened == {"10.1.0.0/16", "100.64.0.0/20"}
    refused = side_of(configured(autopilot)[-1], "requester")["refusedBlocks"]
    assert [r["cidr"] for r in refused] == ["198.51.100.0/24", "10.0.128.0/17"]
    assert refused[0]["reason"].startswith("outside AllowedPeerCidrs")
    assert refused[1]["reason"] == "overlaps this VPC's own block 10.0.0.0/16"
    assert configured(autopilot)[-1]["detail"]["outcome"] == "partially-configured"


def test_a_requester_whose_vpc_cannot_be_read_is_not_accepted(
    cloud: LocalCloud, autopilot_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an approved requester whose member role the hub cannot assume (an SCP, a stack not
    # deployed), with a secondary block that overlaps the accepter's
    requester = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16", secondary=("10.0.128.0/17",))
    accepter = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    autopilot = autopilot_factory()
    deny = AWSResponse(
        "https://sts.amazonaws.com/",
        403,
        {},
        Body(
            b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>denied by an SCP</Message></Error></ErrorResponse>"
        ),  # type: ignore[arg-type]
    )
    install_fault(monkeypatch, cloud, lambda r: deny if r.operation == "AssumeRole" else None, services=("sts",))

    peering_id = request_peering(cloud, requester, accepter)
    deliveries = autopilot.run_until_idle()

    # THEN no "no overlap" is claimed from the peering's own list: it is left pending
    assert peering_as_accepter(cloud, accepter, peering_id)["Status"]["Code"] == "pending-acceptance"
    [decision] = [d.result for d in deliveries if d.function == "AcceptPeeringFunction"]
    assert decision["status"] == "declined"
    assert decision["reasonCode"] == "requester-vpc-not-read"


def test_a_block_inside_an_on_premises_range_is_held_not_routed(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN the requester's app table sends 10.50.0.0/16 on-premises through a virtual private
    # gateway, and an approved member brings 10.50.0.0/20: a slice of it
    a = build_net(cloud, HUB, REGION, "10.100.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.50.0.0/20")
    ec2 = cloud.ec2(HUB, REGION)
    vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=a.side.vpc_id, VpnGatewayId=vgw)
    app = a.subnet_tables[0]
    ec2.create_route(RouteTableId=app, DestinationCidrBlock="10.50.0.0/16", GatewayId=vgw)

    autopilot = autopilot_factory()
    peering_id = converged(cloud, autopilot, a, b)

    # THEN the on-premises range keeps its traffic: nothing is written for the block in that table,
    # the other tables route it, and the hold names the table, the block, the route and its target
    routes = peering_routes(cloud, a, peering_id)
    assert routes[app] == set()
    assert all(routes[t] == {"10.50.0.0/20"} for t in a.managed_tables if t != app)
    held = {
        "accountId": HUB,
        "region": REGION,
        "vpcId": a.side.vpc_id,
        "routeTableId": app,
        "destination": "10.50.0.0/20",
        "existingTarget": vgw,
        "existingDestination": "10.50.0.0/16",
    }
    [notice] = [e for e in autopilot.published if e["detail-type"] == "Peering Held"]
    assert notice["detail"]["held"] == [held]
    # ... and the verdict is the hold, on the side that holds it, never `verified` on either
    verdicts = [e for e in autopilot.published if e["detail-type"].startswith("Peering Verif")]
    assert verdicts[-1]["detail"]["outcome"] == "held:routed-elsewhere"
    assert f"{app}: 10.50.0.0/16 already goes to {vgw}" in verdicts[-1]["detail"]["held"][0]
    assert tags_of(cloud, a.side, peering_id)["peering-autopilot:status"] == "held:routed-elsewhere"
    assert tags_of(cloud, b.side, peering_id)["peering-autopilot:status"] in (
        "unverified:peer-side-held",
        "blocked:routes",
    )


# ------------------------------------------------------------------------------- point 6: both ways


@SIDE_ACCOUNTS
def test_a_block_the_peer_gives_up_loses_its_routes_and_the_autopilots_rules_but_not_a_persons(
    cloud: LocalCloud, autopilot_factory: Any, own: str, peer: str
) -> None:
    # GIVEN a converged peering to a peer with a secondary block, and a person's rule for that block
    a = build_net(cloud, own, REGION, "10.0.0.0/16")
    b = build_net(cloud, peer, REGION, "10.1.0.0/16", secondary=("100.64.0.0/20",))
    autopilot = autopilot_factory()
    peering_id = converged(cloud, autopilot, a, b)
    assert peering_routes(cloud, a, peering_id)[a.main_table] == {"10.1.0.0/16", "100.64.0.0/20"}
    authorize(cloud, a, a.tagged_group, "tcp", 22, "100.64.0.0/20", "ssh from the old build farm")

    # WHEN the peer disassociates it (a new VPC may reuse the range) and the sweep runs, no event
    ec2 = cloud.ec2(peer, REGION)
    [association] = [
        c["AssociationId"]
        for c in ec2.describe_vpcs(VpcIds=[b.side.vpc_id])["Vpcs"][0]["CidrBlockAssociationSet"]
        if c["CidrBlock"] == "100.64.0.0/20"
    ]
    ec2.disassociate_vpc_cidr_block(AssociationId=association)
    autopilot.tick()

    # THEN its routes and the autopilot's rules for it are gone; the person's rule stays
    routes = peering_routes(cloud, a, peering_id)
    assert all(routes[t] == {"10.1.0.0/16"} for t in a.managed_tables)
    rules = ingress(cloud, a, a.tagged_group)
    assert {r for r in rules if r[3] == "100.64.0.0/20"} == {
        ("tcp", 22, 22, "100.64.0.0/20", "ssh from the old build farm")
    }
    assert ("tcp", 443, 443, "10.1.0.0/16", MARK.format(peering_id)) in rules
    removed = side_of(configured(autopilot)[-1], "requester")
    assert sorted(r["destination"] for r in removed["routes"]["removed"]) == ["100.64.0.0/20"] * len(a.managed_tables)
    # ... and the next sweep finds nothing more to do
    assert functions_run(autopilot.tick()) == ["SweepFunction"]


@pytest.mark.parametrize(
    ("new_tags", "left"),
    [
        pytest.param({"peering-autopilot:allow": "icmp"}, {"icmp"}, id="narrowed"),
        pytest.param(None, set(), id="tag-removed"),
    ],
)
def test_rules_no_longer_asked_for_are_taken_back_and_a_persons_stay(
    cloud: LocalCloud, autopilot_factory: Any, new_tags: dict[str, str] | None, left: set[str]
) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    peering_id = converged(cloud, autopilot, a, b)
    authorize(cloud, b, b.tagged_group, "tcp", 22, "10.0.0.0/16", "ssh from the hub, by hand")
    ec2 = cloud.ec2(MEMBER, REGION)

    # WHEN the owner narrows the allow tag (icmp,tcp:443 -> icmp) or removes it
    if new_tags is None:
        ec2.delete_tags(Resources=[b.tagged_group], Tags=[{"Key": "peering-autopilot:allow"}])
    else:
        set_tags(cloud, b, b.tagged_group, new_tags)
    autopilot.tick()

    # THEN the autopilot's rules no longer wanted are revoked; the person's rule stays
    rules = ingress(cloud, b, b.tagged_group)
    mine = {r[0] for r in rules if r[4] == MARK.format(peering_id)}
    assert mine == left
    assert ("tcp", 22, 22, "10.0.0.0/16", "ssh from the hub, by hand") in rules


def test_an_allow_tag_with_an_invalid_entry_takes_nothing_back(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN a converged peering, then a typo in the owner's allow tag
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    peering_id = converged(cloud, autopilot, a, b)
    set_tags(cloud, b, b.tagged_group, {"peering-autopilot:allow": "icmp,tcp:44x"})

    # THEN the sweep sees nothing to take back, and a configure run (the hub's own work event)
    # keeps the rule what the owner meant is unclear: the tcp:443 rule stays, reported
    assert functions_run(autopilot.tick()) == ["SweepFunction"]
    autopilot.run_until_idle_with(work_event(peering_id, MEMBER), "the hub's own event")
    mine = {(r[0], r[1]) for r in ingress(cloud, b, b.tagged_group) if r[4] == MARK.format(peering_id)}
    assert mine == {("icmp", -1), ("tcp", 443)}
    accepter = side_of(configured(autopilot)[-1], "accepter")
    assert accepter["securityGroups"]["keptUnclear"] == [
        {"groupId": b.tagged_group, "rules": ["tcp:443 from 10.0.0.0/16"]}
    ]


# ------------------------------------------------------------------------------- point 7: blackholes


@SIDE_ACCOUNTS
def test_a_blackhole_route_to_a_deleted_nat_gateway_is_replaced_and_a_live_one_is_not(
    cloud: LocalCloud, autopilot_factory: Any, own: str, peer: str
) -> None:
    # GIVEN the app table sends the peer's block to a NAT gateway that was deleted (blackhole),
    # and the data table to a NAT gateway that still runs
    a = build_net(cloud, own, REGION, "10.0.0.0/16")
    b = build_net(cloud, peer, REGION, "10.1.0.0/16")
    ec2 = cloud.ec2(own, REGION)
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [a.side.vpc_id]}])["Subnets"][0]["SubnetId"]
    dead = ec2.create_nat_gateway(SubnetId=subnet, ConnectivityType="private")["NatGateway"]["NatGatewayId"]
    live = ec2.create_nat_gateway(SubnetId=subnet, ConnectivityType="private")["NatGateway"]["NatGatewayId"]
    app, data = a.subnet_tables
    ec2.create_route(RouteTableId=app, DestinationCidrBlock="10.1.0.0/16", NatGatewayId=dead)
    ec2.create_route(RouteTableId=data, DestinationCidrBlock="10.1.0.0/16", NatGatewayId=live)
    ec2.delete_nat_gateway(NatGatewayId=dead)

    autopilot = autopilot_factory()
    peering_id = converged(cloud, autopilot, a, b)

    # THEN the blackhole route now goes through the peering, reported; the live one is untouched
    assert peering_routes(cloud, a, peering_id)[app] == {"10.1.0.0/16"}
    assert peering_routes(cloud, a, peering_id)[data] == set()
    routes = side_of(configured(autopilot)[0], "requester")["routes"]
    assert routes["replaced"] == [{"routeTableId": app, "destination": "10.1.0.0/16", "deadTarget": dead}]
    assert [c["existingTarget"] for c in routes["conflicts"]] == [live]


def test_a_route_left_by_a_deleted_peering_is_replaced_on_the_first_run(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN a person's route to the peer's block through an old peering that was since deleted
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    ec2 = cloud.ec2(HUB, REGION)
    old = ec2.create_vpc_peering_connection(VpcId=a.side.vpc_id, PeerVpcId=b.side.vpc_id, PeerOwnerId=MEMBER)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    app = a.subnet_tables[0]
    ec2.create_route(RouteTableId=app, DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=old)
    ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=old)

    # WHEN a new peering is requested: no sweep needed
    peering_id = converged(cloud, autopilot_factory(), a, b)

    assert peering_routes(cloud, a, peering_id)[app] == {"10.1.0.0/16"}


# ------------------------------------------------------------------------------- point 10: quotas


def test_a_quota_refusal_is_held_back_until_the_group_changes(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN a tagged group already at EC2's 60-rule quota
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16", allow="icmp")
    ec2 = cloud.ec2(HUB, REGION)
    full = ec2.create_security_group(GroupName="full", Description="full", VpcId=a.side.vpc_id)["GroupId"]
    ec2.create_tags(Resources=[full], Tags=[{"Key": "peering-autopilot:allow", "Value": "tcp:443"}])
    ranges = [{"CidrIp": f"192.168.{i}.0/24"} for i in range(60)]
    ec2.authorize_security_group_ingress(
        GroupId=full, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": ranges}]
    )
    # The budgets count room (Service Quotas answers 100) while EC2 refuses at 60: a refusal they
    # could not foresee (a prefix list's maximum entries, a change between the read and the write).
    cloud.grant_quota(HUB, REGION, "L-0EA8095F", 100.0)
    autopilot = autopilot_factory()

    # WHEN the peering is made: the group is refused, and the refusal is noted on the peering
    peering_id = converged(cloud, autopilot, a, b)
    hold = tags_of(cloud, a.side, peering_id)[f"peering-autopilot:held:{full}"]
    assert hold.startswith("RulesPerSecurityGroupLimitExceeded ") and hold.endswith(" 60")

    # THEN sweeps do not re-run it while nothing changed (it would fail alike)
    assert functions_run(autopilot.tick()) == ["SweepFunction"]
    assert functions_run(autopilot.tick()) == ["SweepFunction"]

    # WHEN a person makes room, the next sweep tries again, succeeds, and drops the hold
    ec2.revoke_security_group_ingress(
        GroupId=full, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": ranges[:1]}]
    )
    deliveries = autopilot.tick()
    assert "ConfigurePeeringFunction" in functions_run(deliveries)
    assert ("tcp", 443, 443, "10.1.0.0/16", MARK.format(peering_id)) in ingress(cloud, a, full)
    assert f"peering-autopilot:held:{full}" not in tags_of(cloud, a.side, peering_id)


# ------------------------------------------------------------------------------- point 8: the whole job


def verdicts(autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    kinds = ("Peering Verified", "Peering Verification Failed")
    return [e["detail"] for e in autopilot.published if e["detail-type"] in kinds]


@pytest.mark.parametrize("conflict_in", [0, 1], ids=["first-table", "second-table"])
def test_a_table_that_does_not_route_the_peer_keeps_the_peering_from_reading_verified(
    cloud: LocalCloud, autopilot_factory: Any, conflict_in: int
) -> None:
    # GIVEN one of the requester's two subnet tables already sends the peer's block to a
    # person's NAT gateway: the block is held there, so that subnet has no path
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    ec2 = cloud.ec2(HUB, REGION)
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [a.side.vpc_id]}])["Subnets"][0]["SubnetId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, ConnectivityType="private")["NatGateway"]["NatGatewayId"]
    table = a.subnet_tables[conflict_in]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.1.0.0/16", NatGatewayId=nat)

    autopilot = autopilot_factory()
    peering_id = converged(cloud, autopilot, a, b)

    # THEN whichever subnet the probe picked, the verdict is the hold, not `verified`, and names the table
    found = verdicts(autopilot)[-1]
    assert found["outcome"] == "held:routed-elsewhere"
    assert found["missingRoutes"] == []
    held = f"{a.side.vpc_id}: 10.1.0.0/16 in {table}: 10.1.0.0/16 already goes to {nat}"
    assert found["held"] == [held]
    assert held in found["report"]
    # ... each side's tag says its own: the hold where it is, and never `verified` on the other
    assert tags_of(cloud, a.side, peering_id).get("peering-autopilot:status") == "held:routed-elsewhere"
    status = tags_of(cloud, b.side, peering_id).get("peering-autopilot:status")
    assert status in ("unverified:peer-side-held", "blocked:routes"), status


def test_a_peer_block_refused_by_policy_keeps_the_peering_from_reading_verified(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN a verified peering whose accepter then adds a public block, outside AllowedPeerCidrs
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    peering_id = converged(cloud, autopilot, a, b)
    assert verdicts(autopilot)[-1]["outcome"] == "verified"
    cloud.ec2(MEMBER, REGION).associate_vpc_cidr_block(VpcId=b.side.vpc_id, CidrBlock="198.51.100.0/24")

    # WHEN the hub configures it again (the refused block needs no change, so the sweep alone
    # does not ask)
    autopilot.run_until_idle_with(work_event(peering_id, HUB), "the hub's own event")

    # THEN the refused block keeps it from reading verified, and the finding says why
    found = verdicts(autopilot)[-1]
    assert found["outcome"] == "blocked:peer-block-refused"
    assert [line.split(":")[0] for line in found["refusedBlocks"]] == [f"{a.side.vpc_id} -> 198.51.100.0/24"]
    assert "outside AllowedPeerCidrs" in found["refusedBlocks"][0]
    assert found["missingRoutes"] == []


# ------------------------------------------------------------------------------- point 2: another writer


def test_routes_and_rules_another_writer_adds_between_read_and_write_count_as_present(
    cloud: LocalCloud, autopilot_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a cross-account request, and another writer (a concurrent run, a sweep's work) that adds
    # the hub side's routes and rules just after configure has read the tables and groups: on the
    # hub's first CreateRoute it writes them all, then lets the call through, which AWS then
    # refuses with RouteAlreadyExists (and the rules with InvalidPermission.Duplicate)
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    peering_id = request_peering(cloud, a.side, b.side)
    other_writer = cloud.ec2(HUB, REGION)  # made before the fault: its own calls are not faulted
    raced: list[str] = []

    def write_first(request: Any) -> AWSResponse | None:
        if request.operation == "CreateRoute" and request.account_id == HUB and not raced:
            raced.append(request.operation)
            for table in a.managed_tables:
                other_writer.create_route(
                    RouteTableId=table, DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=peering_id
                )
            for protocol, port in (("icmp", -1), ("tcp", 443)):
                authorize(cloud, a, a.tagged_group, protocol, port, "10.1.0.0/16", MARK.format(peering_id))
        return None

    wire = install_fault(monkeypatch, cloud, write_first)

    # WHEN the autopilot accepts and configures
    deliveries = autopilot.run_until_idle()

    # THEN the race was real (the writes were refused as duplicates) ...
    assert raced == ["CreateRoute"]
    refused = [r.operation for r in wire.sent if r.account_id == HUB]
    assert refused.count("CreateRoute") == len(a.managed_tables)
    # ... and counts as present: configured and verified, nothing reported as refused
    assert [d.result["status"] for d in deliveries] == ["accepted", "configured", "verified"]
    hub_side = side_of(configured(autopilot)[-1], "requester")
    assert hub_side["routes"]["refused"] == [] and hub_side["securityGroups"]["refused"] == []
    assert hub_side["routes"]["added"] == []
    # ... with each route and rule there once
    assert peering_routes(cloud, a, peering_id) == {
        **{t: set() for t in (a.excluded_table, a.loose_table)},
        **{t: {"10.1.0.0/16"} for t in a.managed_tables},
    }
    assert ingress(cloud, a, a.tagged_group) == {
        ("icmp", -1, -1, "10.1.0.0/16", MARK.format(peering_id)),
        ("tcp", 443, 443, "10.1.0.0/16", MARK.format(peering_id)),
    }
