"""Which blackhole targets are gone for good is read from EC2 by every step that judges a side
(accept, configure, verify, the sweep), in the hub and in member accounts, with the grants each
role holds (tests/recorded holds the grants against these calls)."""

from __future__ import annotations

from typing import Any

from autopilot_local.harness import LocalCloud
from tests.support.world import HUB, MEMBER, REGION, Net, build_net, peering_routes, request_peering, tags_of

STATUS = "peering-autopilot:status"


def dead_ends(cloud: LocalCloud, net: Net, peer_block: str) -> tuple[str, str, str]:
    """In the net's first subnet table: the peer's block sent to an instance that is stopped (its
    route reads blackhole, but its interface is still there: it may come back, so the block is
    held there), and two other ranges left blackholed by a NAT gateway and a transit gateway that
    were deleted. Returns the NAT gateway, the transit gateway and the table."""
    ec2 = cloud.ec2(net.side.account, net.side.region)
    table = net.subnet_tables[0]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [net.side.vpc_id]}])["Subnets"][0]["SubnetId"]
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock=peer_block, InstanceId=instance["InstanceId"])
    ec2.stop_instances(InstanceIds=[instance["InstanceId"]])
    nat = ec2.create_nat_gateway(SubnetId=subnet, ConnectivityType="private")["NatGateway"]["NatGatewayId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="192.168.10.0/24", NatGatewayId=nat)
    tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="172.16.10.0/24", TransitGatewayId=tgw)
    ec2.delete_nat_gateway(NatGatewayId=nat)
    ec2.delete_transit_gateway(TransitGatewayId=tgw)
    return nat, tgw, table


def test_every_step_reads_which_blackhole_targets_are_gone_and_a_held_block_stays_held(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN on both sides a table holding the peer's block for a stopped instance, beside blackholes
    # of a deleted NAT gateway and a deleted transit gateway
    hub = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    member = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    _, _, hub_table = dead_ends(cloud, hub, "10.1.0.0/16")
    _, _, member_table = dead_ends(cloud, member, "10.0.0.0/16")
    autopilot = autopilot_factory()

    # WHEN a person requests the peering, and the sweep runs after the steps
    peering_id = request_peering(cloud, hub.side, member.side)
    deliveries = autopilot.run_until_idle() + autopilot.tick()

    # THEN every step that judged a side asked EC2 which of those targets are gone, each kind once
    # per side (the held block depends on it), and the sweep too
    for function in ("AcceptPeeringFunction", "ConfigurePeeringFunction", "VerifyPeeringFunction", "SweepFunction"):
        [delivery] = [d for d in deliveries if d.function == function][-1:]
        asked = delivery.calls.by_action()
        assert (asked["DescribeNatGateways"], asked["DescribeTransitGateways"]) == (2, 2), (function, asked)
        assert asked["DescribeNetworkInterfaces"] >= 2, (function, asked)  # the stopped instance's interface

    # ... each side routes the peer's block everywhere but in the table the stopped instance claims it in
    hub_routes, member_routes = peering_routes(cloud, hub, peering_id), peering_routes(cloud, member, peering_id)
    assert hub_routes[hub_table] == set() and member_routes[member_table] == set()
    assert all(hub_routes[t] == {"10.1.0.0/16"} for t in hub.managed_tables if t != hub_table)
    assert all(member_routes[t] == {"10.0.0.0/16"} for t in member.managed_tables if t != member_table)
    assert tags_of(cloud, hub.side, peering_id)[STATUS] == "held:routed-elsewhere"
    assert tags_of(cloud, member.side, peering_id)[STATUS] == "held:routed-elsewhere"
    # ... and the dead ends stay: they are not the peer's blocks, and not the autopilot's
    for net, table in ((hub, hub_table), (member, member_table)):
        ec2 = cloud.ec2(net.side.account, net.side.region)
        [found] = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"]
        states = {r.get("DestinationCidrBlock"): r["State"] for r in found["Routes"]}
        assert states["192.168.10.0/24"] == "blackhole" and states["172.16.10.0/24"] == "blackhole"
