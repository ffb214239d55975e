"""Lifecycle in moto: clean-up after a peering ends, opt-in changes, and sweeps that repair drift."""

from __future__ import annotations

from typing import Any

from autopilot_local.harness import LocalAutopilot, LocalCloud
from autopilot_local.world import Network, build_network
from tests.support.world import HUB, MEMBER, REGION

ENABLED = {"peering-autopilot:enabled": "true"}


def seed(cloud: LocalCloud, b_tags: dict[str, str] | None = None) -> tuple[Network, Network]:
    a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
    b = build_network(
        cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED if b_tags is None else b_tags))
    )
    return a, b


def request(cloud: LocalCloud, a: Network, b: Network) -> str:
    ec2 = cloud.ec2(a.account, REGION, record=True)
    return str(
        ec2.create_vpc_peering_connection(VpcId=a.vpc_id, PeerVpcId=b.vpc_id, PeerOwnerId=b.account)[
            "VpcPeeringConnection"
        ]["VpcPeeringConnectionId"]
    )


def routes_via(cloud: LocalCloud, net: Network, peering_id: str) -> list[tuple[str, str]]:
    ec2 = cloud.ec2(net.account, REGION)
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["RouteTables"]
    return sorted(
        (t["RouteTableId"], r["DestinationCidrBlock"])
        for t in tables
        for r in t["Routes"]
        if r.get("VpcPeeringConnectionId") == peering_id
    )


def ingress(cloud: LocalCloud, net: Network) -> set[tuple[str, int, str, str]]:
    [group] = cloud.ec2(net.account, REGION).describe_security_groups(GroupIds=[net.security_group_id])[
        "SecurityGroups"
    ]
    return {
        (p["IpProtocol"], p.get("FromPort", -1), r["CidrIp"], r.get("Description", ""))
        for p in group["IpPermissions"]
        for r in p.get("IpRanges", [])
    }


def statuses(deliveries: list[Any]) -> list[tuple[str, str]]:
    return [(d.function, d.result.get("status")) for d in deliveries]


def test_a_deleted_peering_leaves_no_trace_and_nothing_of_anyone_else_is_touched(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN a peering the autopilot configured, and a rule a person wrote in the same group
    a, b = seed(cloud)
    autopilot: LocalAutopilot = autopilot_factory()
    peering_id = request(cloud, a, b)
    autopilot.run_until_idle()
    assert len(routes_via(cloud, a, peering_id)) == 2
    person = ("tcp", 22, "10.9.0.0/16", "ssh from bastion")
    cloud.ec2(MEMBER, REGION).authorize_security_group_ingress(
        GroupId=b.security_group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.9.0.0/16", "Description": person[3]}],
            }
        ],
    )

    # WHEN the peering is deleted
    cloud.ec2(HUB, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    deliveries = autopilot.run_until_idle()

    # THEN its routes and the autopilot's rules are gone on both sides; the person's rule stays
    assert statuses(deliveries) == [("CleanupPeeringFunction", "cleaned-up")]
    assert deliveries[0].rule == "CleanupPeeringFunction.PeeringEnded"
    assert routes_via(cloud, a, peering_id) == []
    assert routes_via(cloud, b, peering_id) == []
    assert ingress(cloud, b) == {person}
    assert ingress(cloud, a) == set()
    [event] = [e for e in autopilot.published if e["detail-type"] == "Peering Cleaned Up"]
    sides = {s["role"]: s for s in event["detail"]["sides"]}
    assert sorted((r["routeTableId"], r["destination"]) for r in sides["requester"]["routesRemoved"]) == sorted(
        [(a.route_table_id, b.cidr), (main_table(cloud, a), b.cidr)]
    )
    assert sides["accepter"]["rulesRemoved"] == [{"groupId": b.security_group_id, "rules": [f"icmp from {a.cidr}"]}]
    # ... and a sweep afterwards finds nothing left to do
    assert statuses(autopilot.tick()) == [("SweepFunction", "sweep")]


def test_a_rejected_request_keeps_a_route_a_person_added_while_it_was_pending(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN a request into a VPC not opted in (declined), and a route a person added early on the
    # managed side (the autopilot's record does not hold it: it is the person's)
    a, b = seed(cloud, b_tags={})
    autopilot = autopilot_factory()
    peering_id = request(cloud, a, b)
    assert statuses(autopilot.run_until_idle()) == [("AcceptPeeringFunction", "declined")]
    cloud.ec2(HUB, REGION).create_route(
        RouteTableId=a.route_table_id, DestinationCidrBlock=b.cidr, VpcPeeringConnectionId=peering_id
    )

    # WHEN the accepter's owner rejects it
    cloud.ec2(MEMBER, REGION, record=True).reject_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    deliveries = autopilot.run_until_idle()

    # THEN clean-up removes nothing of the person's and says it kept their route; the side that
    # never opted in is not touched
    assert statuses(deliveries) == [("CleanupPeeringFunction", "nothing-to-clean")]
    assert routes_via(cloud, a, peering_id) == [(a.route_table_id, b.cidr)]
    [event] = [e for e in autopilot.published if e["detail-type"] == "Peering Cleaned Up"]
    sides = {s["role"]: s for s in event["detail"]["sides"]}
    assert sides["requester"]["kept"]["routes"] == [{"routeTableId": a.route_table_id, "destination": b.cidr}]
    assert sides["requester"]["kept"]["reason"] == "not in the autopilot's record: a person's"
    assert sides["accepter"]["managed"] is False
    # ... and the sweep finds no clean-up work in the person's route
    assert statuses(autopilot.tick()) == [("SweepFunction", "sweep")]


def test_a_vpc_that_opts_in_has_its_pending_request_accepted_at_once(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN a request into VPC-B, declined because VPC-B had not opted in
    a, b = seed(cloud, b_tags={})
    autopilot = autopilot_factory()
    peering_id = request(cloud, a, b)
    assert statuses(autopilot.run_until_idle()) == [("AcceptPeeringFunction", "declined")]

    # WHEN its owner opts in
    cloud.tag_vpc(MEMBER, REGION, b.vpc_id, ENABLED)
    deliveries = autopilot.run_until_idle()

    # THEN the tag change is swept at once: accepted, configured, verified
    assert statuses(deliveries) == [
        ("SweepFunction", "opt-in"),
        ("AcceptPeeringFunction", "accepted"),
        ("ConfigurePeeringFunction", "configured"),
        ("VerifyPeeringFunction", "verified"),
    ]
    assert deliveries[0].via == f"member stack ForwardRule in {MEMBER}"
    assert routes_via(cloud, b, peering_id) == sorted([(b.route_table_id, a.cidr), (main_table(cloud, b), a.cidr)])


def main_table(cloud: LocalCloud, net: Network) -> str:
    tables = cloud.ec2(net.account, REGION).describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]
    return str(tables[0]["RouteTableId"])


def test_an_existing_peering_is_configured_when_a_side_opts_in(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN an active peering whose requester side was not opted in (so it was left unconfigured)
    a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16"))
    b = build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED)))
    autopilot = autopilot_factory()
    peering_id = request(cloud, a, b)
    autopilot.run_until_idle()
    assert routes_via(cloud, a, peering_id) == []

    # WHEN VPC-A opts in
    cloud.tag_vpc(HUB, REGION, a.vpc_id, ENABLED)
    deliveries = autopilot.run_until_idle()

    # THEN its side is configured at once
    assert statuses(deliveries)[:2] == [("SweepFunction", "opt-in"), ("ConfigurePeeringFunction", "configured")]
    assert routes_via(cloud, a, peering_id) == sorted([(a.route_table_id, b.cidr), (main_table(cloud, a), b.cidr)])


def test_a_vpc_that_opts_out_is_no_longer_touched(cloud: LocalCloud, autopilot_factory: Any) -> None:
    a, b = seed(cloud)
    autopilot = autopilot_factory()
    peering_id = request(cloud, a, b)
    autopilot.run_until_idle()
    before = routes_via(cloud, b, peering_id)

    # WHEN VPC-B's owner opts out and then deletes one of the routes by hand
    cloud.tag_vpc(MEMBER, REGION, b.vpc_id, {"peering-autopilot:enabled": "false"})
    assert statuses(autopilot.run_until_idle()) == [("SweepFunction", "opt-out")]
    cloud.ec2(MEMBER, REGION).delete_route(RouteTableId=b.route_table_id, DestinationCidrBlock=a.cidr)

    # THEN sweeps leave VPC-B as its owner left it, and what was configured stays
    autopilot.tick()
    after = routes_via(cloud, b, peering_id)
    assert after == [r for r in before if r[0] != b.route_table_id]


def test_a_route_deleted_by_hand_is_put_back_by_the_next_sweep(cloud: LocalCloud, autopilot_factory: Any) -> None:
    a, b = seed(cloud)
    autopilot = autopilot_factory()
    peering_id = request(cloud, a, b)
    autopilot.run_until_idle()
    before = routes_via(cloud, b, peering_id)
    cloud.ec2(MEMBER, REGION).delete_route(RouteTableId=b.route_table_id, DestinationCidrBlock=a.cidr)

    deliveries = autopilot.tick()

    assert statuses(deliveries) == [
        ("SweepFunction", "sweep"),
        ("ConfigurePeeringFunction", "configured"),
        ("VerifyPeeringFunction", "verified"),
    ]
    assert deliveries[0].result["work"] == {"configure": 1}
    assert routes_via(cloud, b, peering_id) == before
    # a converged estate: the next sweep reads and changes nothing
    again = autopilot.tick()
    assert statuses(again) == [("SweepFunction", "sweep")]
    assert again[0].calls.mutating() == []
