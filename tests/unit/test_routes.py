"""Planning routes on real DescribeRouteTables shapes: which tables need a route, which have it, which conflict."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

import pytest

from peering_autopilot.model import ROUTES_TAG, Cidrs, RouteTable, TableRoute
from peering_autopilot.routes import (
    Network,
    PersonsRoute,
    RefusedBlock,
    Route,
    RouteConflict,
    RouteLeftAlone,
    RoutePlan,
    RouteReplacement,
    SkippedTable,
    blackholes_to_judge,
    peer_destinations,
    peerings_routed,
    plan_routes,
    routes_through,
)
from peering_autopilot.settings import PeerCidrPolicy

PEERING_ID = "pcx-0a1b2c3d4e5f60718"
OTHER_PEERING = "pcx-0ffffffffffffffff"
VPC_ID = "vpc-0aaaaaaaaaaaaaaa1"
VPC_CIDR = "10.0.0.0/16"
VPC_IPV6 = "2600:1f18:1111:2200::/56"
PEER_V4 = IPv4Network("10.1.0.0/16")
PEER_V4_SECONDARY = IPv4Network("100.64.0.0/20")
PEER_V6 = IPv6Network("2600:1f18:abcd:1200::/56")

NOT_ASSOCIATED = "neither the main table nor associated with a subnet"
OPTED_OUT = f"tagged {ROUTES_TAG}='false' (not 'true')"


def local_routes() -> list[dict[str, Any]]:
    return [
        {
            "DestinationCidrBlock": VPC_CIDR,
            "GatewayId": "local",
            "Origin": "CreateRouteTable",
            "State": "active",
        },
        {
            "DestinationIpv6CidrBlock": VPC_IPV6,
            "GatewayId": "local",
            "Origin": "CreateRouteTable",
            "State": "active",
        },
    ]


def main_association(table_id: str) -> dict[str, Any]:
    return {
        "Main": True,
        "RouteTableAssociationId": f"rtbassoc-{table_id[4:]}",
        "RouteTableId": table_id,
        "AssociationState": {"State": "associated"},
    }


def subnet_association(table_id: str, subnet_id: str) -> dict[str, Any]:
    return {
        "Main": False,
        "RouteTableAssociationId": f"rtbassoc-{subnet_id[7:]}",
        "RouteTableId": table_id,
        "SubnetId": subnet_id,
        "AssociationState": {"State": "associated"},
    }


def gateway_association(table_id: str, gateway_id: str) -> dict[str, Any]:
    return {
        "Main": False,
        "RouteTableAssociationId": "rtbassoc-0edge00000000000e",
        "RouteTableId": table_id,
        "GatewayId": gateway_id,
        "AssociationState": {"State": "associated"},
    }


def route_table(
    table_id: str,
    associations: list[dict[str, Any]],
    routes: list[dict[str, Any]] | None = None,
    tags: dict[str, str] | None = None,
) -> RouteTable:
    """One item of DescribeRouteTables' RouteTables, as boto3 returns it, read by the gateway's parser."""
    return RouteTable.from_api(
        {
            "Associations": associations,
            "PropagatingVgws": [],
            "RouteTableId": table_id,
            "Routes": [*local_routes(), *(routes or [])],
            "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
            "VpcId": VPC_ID,
            "OwnerId": "222222222222",
        }
    )


def main_table(table_id: str = "rtb-0main000000000001", **kwargs: Any) -> RouteTable:
    return route_table(table_id, [main_association(table_id)], **kwargs)


def subnet_table(
    table_id: str = "rtb-0subnet0000000001", subnet_id: str = "subnet-0aaaa0000000001", **kwargs: Any
) -> RouteTable:
    return route_table(table_id, [subnet_association(table_id, subnet_id)], **kwargs)


def peering_route(destination: str, peering_id: str = PEERING_ID, state: str = "active") -> dict[str, Any]:
    key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
    return {key: destination, "VpcPeeringConnectionId": peering_id, "Origin": "CreateRoute", "State": state}


# ------------------------------------------------------------------------------- which tables


def test_main_and_subnet_tables_each_get_a_route_to_every_destination() -> None:
    # GIVEN the main table and a subnet table, neither routing to the peer yet
    tables = [main_table("rtb-0aaa000000000001"), subnet_table("rtb-0bbb000000000002")]

    # WHEN routes to both peer blocks are planned
    plan = plan_routes(tables, [PEER_V4, PEER_V4_SECONDARY], PEERING_ID)

    # THEN every table gets one route per destination, tables in id order, destinations in given order
    assert plan == RoutePlan(
        add=[
            Route("rtb-0aaa000000000001", "10.1.0.0/16"),
            Route("rtb-0aaa000000000001", "100.64.0.0/20"),
            Route("rtb-0bbb000000000002", "10.1.0.0/16"),
            Route("rtb-0bbb000000000002", "100.64.0.0/20"),
        ]
    )


def test_a_table_associated_with_several_subnets_is_planned_once() -> None:
    table_id = "rtb-0ccc000000000003"
    table = route_table(
        table_id,
        [
            subnet_association(table_id, "subnet-0aaaa0000000001"),
            subnet_association(table_id, "subnet-0aaaa0000000002"),
        ],
    )

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(add=[Route(table_id, "10.1.0.0/16")])


def test_the_main_table_also_associated_with_a_subnet_is_managed() -> None:
    table_id = "rtb-0ddd000000000004"
    table = route_table(table_id, [main_association(table_id), subnet_association(table_id, "subnet-0aaaa0000000001")])

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(add=[Route(table_id, "10.1.0.0/16")])


def test_a_table_tagged_routes_false_is_skipped_with_the_reason() -> None:
    # GIVEN a subnet table opted out, beside a main table that is not
    tables = [
        subnet_table("rtb-0aaa000000000001", tags={ROUTES_TAG: "false", "Name": "isolated"}),
        main_table("rtb-0bbb000000000002"),
    ]

    plan = plan_routes(tables, [PEER_V4], PEERING_ID)

    assert plan == RoutePlan(
        add=[Route("rtb-0bbb000000000002", "10.1.0.0/16")],
        skipped=[SkippedTable("rtb-0aaa000000000001", OPTED_OUT)],
    )


def test_the_opt_out_tag_wins_over_an_existing_conflicting_route() -> None:
    # GIVEN an opted-out table that already sends the destination elsewhere: no conflict is reported
    table = main_table(
        "rtb-0aaa000000000001",
        routes=[
            {"DestinationCidrBlock": "10.1.0.0/16", "TransitGatewayId": "tgw-0123456789abcdef0", "State": "active"}
        ],
        tags={ROUTES_TAG: "false"},
    )

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(
        skipped=[SkippedTable("rtb-0aaa000000000001", OPTED_OUT)]
    )


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_the_routes_tag_true_in_any_case_keeps_the_table_managed(value: str) -> None:
    table = main_table("rtb-0aaa000000000001", tags={ROUTES_TAG: value})

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(add=[Route("rtb-0aaa000000000001", "10.1.0.0/16")])


@pytest.mark.parametrize("value", ["False", "FALSE", "no", "", "0", " true", "ture"])
def test_any_other_value_of_the_routes_tag_opts_the_table_out(value: str) -> None:
    # Typed by people: an odd spelling fails safe, the table is left out (issue 9, point 3)
    table = main_table("rtb-0aaa000000000001", tags={ROUTES_TAG: value})

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(
        skipped=[SkippedTable("rtb-0aaa000000000001", f"tagged {ROUTES_TAG}={value!r} (not 'true')")]
    )


@pytest.mark.parametrize(
    "associations",
    [
        pytest.param([gateway_association("rtb-0eee000000000005", "igw-0123456789abcdef0")], id="edge-igw"),
        pytest.param([gateway_association("rtb-0eee000000000005", "vgw-0123456789abcdef0")], id="edge-vgw"),
        pytest.param([], id="no-association"),
        pytest.param(
            [{"Main": False, "RouteTableAssociationId": "rtbassoc-0x", "RouteTableId": "rtb-0eee000000000005"}],
            id="association-without-subnet-or-main",
        ),
    ],
)
def test_a_table_neither_main_nor_subnet_associated_is_skipped(associations: list[dict[str, Any]]) -> None:
    table = route_table("rtb-0eee000000000005", associations)

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(
        skipped=[SkippedTable("rtb-0eee000000000005", NOT_ASSOCIATED)]
    )


def test_a_table_without_associations_or_routes_keys_is_skipped() -> None:
    assert plan_routes(
        [RouteTable.from_api({"RouteTableId": "rtb-0fff000000000006"})], [PEER_V4], PEERING_ID
    ) == RoutePlan(skipped=[SkippedTable("rtb-0fff000000000006", NOT_ASSOCIATED)])


def test_a_subnet_table_without_routes_key_gets_the_route() -> None:
    table = RouteTable.from_api(
        {"RouteTableId": "rtb-0fff000000000006", "Associations": [{"SubnetId": "subnet-0aaaa0000000001"}]}
    )

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(add=[Route("rtb-0fff000000000006", "10.1.0.0/16")])


def test_tables_are_processed_in_id_order_whatever_the_input_order() -> None:
    # GIVEN tables out of order, one of each fate
    tables = [
        subnet_table("rtb-0ccc000000000003", routes=[peering_route("10.1.0.0/16")]),
        route_table("rtb-0bbb000000000002", []),
        main_table(
            "rtb-0ddd000000000004",
            routes=[
                {"DestinationCidrBlock": "10.1.0.0/16", "NatGatewayId": "nat-0123456789abcdef0", "State": "active"}
            ],
        ),
        subnet_table("rtb-0eee000000000005", tags={ROUTES_TAG: "false"}),
        subnet_table("rtb-0aaa000000000001"),
    ]

    plan = plan_routes(tables, [PEER_V4], PEERING_ID)

    assert plan == RoutePlan(
        add=[Route("rtb-0aaa000000000001", "10.1.0.0/16")],
        present=[Route("rtb-0ccc000000000003", "10.1.0.0/16")],
        conflicts=[RouteConflict("rtb-0ddd000000000004", "10.1.0.0/16", "nat-0123456789abcdef0", "10.1.0.0/16")],
        skipped=[
            SkippedTable("rtb-0bbb000000000002", NOT_ASSOCIATED),
            SkippedTable("rtb-0eee000000000005", OPTED_OUT),
        ],
    )
    assert plan_routes(list(reversed(tables)), [PEER_V4], PEERING_ID) == plan


def test_no_tables_or_no_destinations_plan_nothing() -> None:
    assert plan_routes([], [PEER_V4], PEERING_ID) == RoutePlan()
    assert plan_routes([main_table()], [], PEERING_ID) == RoutePlan()


# ----------------------------------------------------------------------------- existing routes


def test_a_route_already_through_this_peering_is_present() -> None:
    table = main_table("rtb-0aaa000000000001", routes=[peering_route("10.1.0.0/16")])

    plan = plan_routes([table], [PEER_V4, PEER_V4_SECONDARY], PEERING_ID)

    assert plan == RoutePlan(
        add=[Route("rtb-0aaa000000000001", "100.64.0.0/20")],
        present=[Route("rtb-0aaa000000000001", "10.1.0.0/16")],
    )


def test_a_blackholed_route_through_this_peering_is_still_present() -> None:
    # GIVEN the route added while the peering was provisioning: EC2 shows it blackhole until active
    table = main_table("rtb-0aaa000000000001", routes=[peering_route("10.1.0.0/16", state="blackhole")])

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(
        present=[Route("rtb-0aaa000000000001", "10.1.0.0/16")]
    )


@pytest.mark.parametrize(
    ("target", "reported"),
    [
        pytest.param({"TransitGatewayId": "tgw-0123456789abcdef0"}, "tgw-0123456789abcdef0", id="transit-gateway"),
        pytest.param({"NatGatewayId": "nat-0123456789abcdef0"}, "nat-0123456789abcdef0", id="nat-gateway"),
        pytest.param({"GatewayId": "igw-0123456789abcdef0"}, "igw-0123456789abcdef0", id="internet-gateway"),
        pytest.param({"GatewayId": "vgw-0123456789abcdef0"}, "vgw-0123456789abcdef0", id="virtual-gateway"),
        pytest.param({"GatewayId": "local"}, "local", id="local"),
        pytest.param({"NetworkInterfaceId": "eni-0123456789abcdef0"}, "eni-0123456789abcdef0", id="network-interface"),
        pytest.param(
            {"EgressOnlyInternetGatewayId": "eigw-0123456789abcdef0"}, "eigw-0123456789abcdef0", id="egress-only"
        ),
        pytest.param({"VpcPeeringConnectionId": OTHER_PEERING}, OTHER_PEERING, id="another-peering"),
        pytest.param({}, "unknown target", id="no-target-known"),
    ],
)
def test_a_route_to_another_target_is_a_conflict_naming_the_target(target: dict[str, str], reported: str) -> None:
    route = {"DestinationCidrBlock": "10.1.0.0/16", "Origin": "CreateRoute", "State": "active", **target}
    table = subnet_table("rtb-0aaa000000000001", routes=[route])

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(
        conflicts=[RouteConflict("rtb-0aaa000000000001", "10.1.0.0/16", reported, "10.1.0.0/16")]
    )


@pytest.mark.parametrize(
    ("target", "reported"),
    [
        pytest.param({"VpcPeeringConnectionId": OTHER_PEERING}, OTHER_PEERING, id="ended-other-peering"),
        pytest.param({"NatGatewayId": "nat-0123456789abcdef0"}, "nat-0123456789abcdef0", id="deleted-nat"),
        pytest.param({"TransitGatewayId": "tgw-0123456789abcdef0"}, "tgw-0123456789abcdef0", id="deleted-tgw"),
        pytest.param({"NetworkInterfaceId": "eni-0123456789abcdef0"}, "eni-0123456789abcdef0", id="deleted-eni"),
    ],
)
def test_a_blackholed_route_elsewhere_is_replaced_only_once_its_target_is_read_as_gone_for_good(
    target: dict[str, str], reported: str
) -> None:
    route = {"DestinationCidrBlock": "10.1.0.0/16", "Origin": "CreateRoute", "State": "blackhole", **target}
    table = main_table("rtb-0aaa000000000001", routes=[route])

    # GIVEN its target read as gone for good: the route carries nothing, the peering's takes its place
    assert plan_routes([table], [PEER_V4], PEERING_ID, gone={reported}) == RoutePlan(
        replace=[RouteReplacement("rtb-0aaa000000000001", "10.1.0.0/16", reported)]
    )
    # GIVEN nothing read about it: it may come back with its traffic, so the block is held
    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(
        conflicts=[RouteConflict("rtb-0aaa000000000001", "10.1.0.0/16", f"{reported} (blackhole)", "10.1.0.0/16")]
    )
    assert blackholes_to_judge([table]) == {(TableRoute.from_api(route).target_kind, reported)}


@pytest.mark.parametrize(
    "target",
    [
        pytest.param({"InstanceId": "i-0123456789abcdef0"}, id="stopped-instance"),
        pytest.param({"GatewayId": "igw-0123456789abcdef0"}, id="detached-internet-gateway"),
        pytest.param({"GatewayId": "vgw-0123456789abcdef0"}, id="detached-virtual-private-gateway"),
    ],
)
def test_a_blackhole_whose_target_may_come_back_keeps_its_route_and_holds_the_block(target: dict[str, str]) -> None:
    # GIVEN an inspection firewall in maintenance (stopped) or a gateway detached for a change
    route = {"DestinationCidrBlock": "10.1.0.0/16", "Origin": "CreateRoute", "State": "blackhole", **target}
    table = main_table("rtb-0aaa000000000001", routes=[route])
    (target_id,) = target.values()

    # THEN no read is asked to prove it gone: the block is held while the route waits for its target
    assert blackholes_to_judge([table]) == set()
    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(
        conflicts=[RouteConflict("rtb-0aaa000000000001", "10.1.0.0/16", f"{target_id} (blackhole)", "10.1.0.0/16")]
    )


def test_the_peering_id_names_the_target_before_any_other_key() -> None:
    # GIVEN an instance route as EC2 describes it (instance, its owner and its interface) and a peering route
    routes = [
        {
            "DestinationCidrBlock": "10.1.0.0/16",
            "InstanceId": "i-0123456789abcdef0",
            "InstanceOwnerId": "222222222222",
            "NetworkInterfaceId": "eni-0123456789abcdef0",
            "Origin": "CreateRoute",
            "State": "active",
        },
        {**peering_route("100.64.0.0/20", OTHER_PEERING), "GatewayId": ""},
    ]
    table = main_table("rtb-0aaa000000000001", routes=routes)

    plan = plan_routes([table], [PEER_V4, PEER_V4_SECONDARY], PEERING_ID)

    # THEN the first target key in the module's order names each conflict; empty values are passed over
    assert plan == RoutePlan(
        conflicts=[
            RouteConflict("rtb-0aaa000000000001", "10.1.0.0/16", "eni-0123456789abcdef0", "10.1.0.0/16"),
            RouteConflict("rtb-0aaa000000000001", "100.64.0.0/20", OTHER_PEERING, "100.64.0.0/20"),
        ]
    )


@pytest.mark.parametrize(
    "other_destination",
    [
        pytest.param("10.1.2.0/24", id="more-specific"),
        pytest.param("10.1.0.0/17", id="half-of-it"),
        pytest.param("10.0.0.0/8", id="less-specific"),
        pytest.param("10.1.0.0/16", id="the-block-itself"),
    ],
)
@pytest.mark.parametrize(
    "target",
    [
        pytest.param({"TransitGatewayId": "tgw-0123456789abcdef0"}, id="tgw"),
        pytest.param({"GatewayId": "vgw-0123456789abcdef0"}, id="vgw"),
        pytest.param({"NatGatewayId": "nat-0123456789abcdef0"}, id="nat"),
        pytest.param({"InstanceId": "i-0123456789abcdef0"}, id="instance"),
        pytest.param({"VpcPeeringConnectionId": OTHER_PEERING}, id="another-peering"),
    ],
)
def test_a_block_any_live_route_already_sends_elsewhere_is_held_at_any_prefix_length(
    other_destination: str, target: dict[str, str]
) -> None:
    # GIVEN part, all or a superset of the peer's block already sent somewhere else
    route = {"DestinationCidrBlock": other_destination, "State": "active", **target}
    table = main_table("rtb-0aaa000000000001", routes=[route])

    plan = plan_routes([table], [PEER_V4], PEERING_ID)

    # THEN nothing is written for it: the older claim keeps its traffic, and the route is named
    (target_id,) = target.values()
    assert plan == RoutePlan(
        conflicts=[RouteConflict("rtb-0aaa000000000001", "10.1.0.0/16", target_id, other_destination)]
    )


def test_the_default_route_and_routes_that_do_not_overlap_claim_nothing() -> None:
    routes = [
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0123456789abcdef0", "State": "active"},
        {
            "DestinationIpv6CidrBlock": "::/0",
            "EgressOnlyInternetGatewayId": "eigw-0123456789abcdef0",
            "State": "active",
        },
        {"DestinationCidrBlock": "10.2.0.0/16", "TransitGatewayId": "tgw-0123456789abcdef0", "State": "active"},
        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
    ]
    table = main_table("rtb-0aaa000000000001", routes=routes)

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(add=[Route("rtb-0aaa000000000001", "10.1.0.0/16")])


def test_the_claim_named_is_the_exact_one_else_the_most_specific() -> None:
    routes = [
        {"DestinationCidrBlock": "10.0.0.0/8", "TransitGatewayId": "tgw-0123456789abcdef0", "State": "active"},
        {"DestinationCidrBlock": "10.1.7.0/24", "InstanceId": "i-0123456789abcdef0", "State": "active"},
    ]
    table = main_table("rtb-0aaa000000000001", routes=routes)

    held = plan_routes([table], [PEER_V4], PEERING_ID).conflicts

    assert held == [RouteConflict("rtb-0aaa000000000001", "10.1.0.0/16", "i-0123456789abcdef0", "10.1.7.0/24")]


def test_a_newer_route_taking_a_slice_of_a_routed_block_is_a_persons_route_that_changes_the_path() -> None:
    # GIVEN the peering's route made first, then a person's more specific route elsewhere
    routes = [
        peering_route("10.1.0.0/16"),
        {"DestinationCidrBlock": "10.1.2.0/24", "TransitGatewayId": "tgw-0123456789abcdef0", "State": "active"},
    ]
    table = main_table("rtb-0aaa000000000001", routes=routes)

    plan = plan_routes([table], [PEER_V4], PEERING_ID)

    why = "sends 10.1.2.0/24, inside the peer's 10.1.0.0/16, to tgw-0123456789abcdef0 instead of this peering"
    assert plan == RoutePlan(
        present=[Route("rtb-0aaa000000000001", "10.1.0.0/16")],
        persons=[PersonsRoute("rtb-0aaa000000000001", "10.1.2.0/24", "tgw-0123456789abcdef0", why, True)],
    )


def test_a_route_through_this_peering_to_a_block_the_peer_lost_is_removed_only_with_proof() -> None:
    # GIVEN the peer VPC gave up 100.64.0.0/20 (a new VPC may reuse it)
    table = main_table("rtb-0aaa000000000001", routes=[peering_route("10.1.0.0/16"), peering_route("100.64.0.0/20")])
    peer_now = Cidrs.of(["10.1.0.0/16"])

    def ours(table_id: str, destination: str) -> bool:  # the autopilot's record holds it
        return True

    # WHEN the peer VPC was read in its own account: the stale route is removed
    assert plan_routes([table], [PEER_V4], PEERING_ID, peer_now, ours) == RoutePlan(
        present=[Route("rtb-0aaa000000000001", "10.1.0.0/16")],
        remove=[Route("rtb-0aaa000000000001", "100.64.0.0/20")],
    )
    # WHEN it could not be read: left alone, reported
    assert plan_routes([table], [PEER_V4], PEERING_ID, None, ours).left_alone == [
        RouteLeftAlone(
            "rtb-0aaa000000000001", "100.64.0.0/20", "the peer VPC could not be read: it may still hold this block"
        )
    ]
    # WHEN the peer still holds it but it is not wanted (refused by policy): left alone, reported
    still = plan_routes([table], [PEER_V4], PEERING_ID, Cidrs.of(["10.1.0.0/16", "100.64.0.0/20"]), ours)
    assert still.remove == [] and [r.destination for r in still.left_alone] == ["100.64.0.0/20"]


def test_a_route_through_the_peering_the_record_does_not_hold_is_a_persons_and_stays() -> None:
    # GIVEN the peer gave up 100.64.0.0/20, and a person routed 10.1.5.0/24 (inside the peer's
    # block) through the peering; the record holds neither
    routes = [peering_route("10.1.0.0/16"), peering_route("100.64.0.0/20"), peering_route("10.1.5.0/24")]
    table = main_table("rtb-0aaa000000000001", routes=routes)
    peer_now = Cidrs.of(["10.1.0.0/16"])

    plan = plan_routes([table], [PEER_V4], PEERING_ID, peer_now, lambda t, d: False)

    # THEN both are a person's: kept, reported; the more specific one keeps the path (this peering)
    assert plan.remove == [] and plan.left_alone == []
    assert [(p.destination, p.reason, p.changes_path) for p in plan.persons] == [
        ("100.64.0.0/20", "not in the autopilot's record: a person's route", False),
        (
            "10.1.5.0/24",
            "not in the autopilot's record: a person's route (more specific, inside the peer's 10.1.0.0/16)",
            False,
        ),
    ]
    # WHEN the record could not be read: nothing removed, and said why
    unread = plan_routes([table], [PEER_V4], PEERING_ID, peer_now, None, "ResourceNotFoundException: gone")
    assert unread.remove == [] and {(r.destination, r.reason) for r in unread.left_alone} == {
        ("100.64.0.0/20", "the record could not be read: ResourceNotFoundException: gone"),
        ("10.1.5.0/24", "the record could not be read: ResourceNotFoundException: gone"),
    }


def test_peer_destinations_refuse_blocks_outside_the_policy_and_blocks_that_overlap_our_own() -> None:
    policy = PeerCidrPolicy.parse("10.0.0.0/8,100.64.0.0/10")
    own = Cidrs.of(["10.0.0.0/16", "10.5.0.0/16"])
    peer = Cidrs.of(["10.1.0.0/16", "203.0.113.0/24", "10.5.128.0/17", "2600:1f18:abcd:1200::/56"])

    wanted, refused = peer_destinations(own, peer, policy, with_ipv6=True)

    assert wanted == [ip_network("10.1.0.0/16"), ip_network("2600:1f18:abcd:1200::/56")]
    assert refused == [
        RefusedBlock("203.0.113.0/24", "outside AllowedPeerCidrs (10.0.0.0/8, 100.64.0.0/10; any IPv6)"),
        RefusedBlock("10.5.128.0/17", "overlaps this VPC's own block 10.5.0.0/16"),
    ]
    # IPv6 listed: only those ranges
    v6_policy = PeerCidrPolicy.parse("10.0.0.0/8,2600:1f18::/32")
    assert peer_destinations(Cidrs(), Cidrs.of(["2001:db8::/56"]), v6_policy, with_ipv6=True)[1] == [
        RefusedBlock("2001:db8::/56", "outside AllowedPeerCidrs (10.0.0.0/8; 2600:1f18::/32)")
    ]


def test_a_prefix_list_route_is_not_a_conflict() -> None:
    route = {
        "DestinationPrefixListId": "pl-0123456789abcdef0",
        "GatewayId": "vpce-0123456789abcdef0",
        "State": "active",
    }
    table = main_table("rtb-0aaa000000000001", routes=[route])

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(add=[Route("rtb-0aaa000000000001", "10.1.0.0/16")])


def test_one_destination_present_one_conflicting_one_missing_in_one_table() -> None:
    table = main_table(
        "rtb-0aaa000000000001",
        routes=[
            peering_route("10.1.0.0/16"),
            {"DestinationCidrBlock": "100.64.0.0/20", "TransitGatewayId": "tgw-0123456789abcdef0", "State": "active"},
        ],
    )

    plan = plan_routes([table], [PEER_V4, PEER_V4_SECONDARY, PEER_V6], PEERING_ID)

    assert plan == RoutePlan(
        add=[Route("rtb-0aaa000000000001", "2600:1f18:abcd:1200::/56")],
        present=[Route("rtb-0aaa000000000001", "10.1.0.0/16")],
        conflicts=[RouteConflict("rtb-0aaa000000000001", "100.64.0.0/20", "tgw-0123456789abcdef0", "100.64.0.0/20")],
    )


# -------------------------------------------------------------------------------------------- IPv6


def test_ipv6_routes_are_matched_on_the_ipv6_destination() -> None:
    tables = [
        main_table("rtb-0aaa000000000001", routes=[peering_route("2600:1f18:abcd:1200::/56")]),
        subnet_table(
            "rtb-0bbb000000000002",
            routes=[
                {
                    "DestinationIpv6CidrBlock": "2600:1f18:abcd:1200::/56",
                    "EgressOnlyInternetGatewayId": "eigw-0123456789abcdef0",
                    "State": "active",
                }
            ],
        ),
        subnet_table("rtb-0ccc000000000003", subnet_id="subnet-0aaaa0000000003"),
    ]

    plan = plan_routes(tables, [PEER_V4, PEER_V6], PEERING_ID)

    assert plan == RoutePlan(
        add=[
            Route("rtb-0aaa000000000001", "10.1.0.0/16"),
            Route("rtb-0bbb000000000002", "10.1.0.0/16"),
            Route("rtb-0ccc000000000003", "10.1.0.0/16"),
            Route("rtb-0ccc000000000003", "2600:1f18:abcd:1200::/56"),
        ],
        present=[Route("rtb-0aaa000000000001", "2600:1f18:abcd:1200::/56")],
        conflicts=[
            RouteConflict(
                "rtb-0bbb000000000002", "2600:1f18:abcd:1200::/56", "eigw-0123456789abcdef0", "2600:1f18:abcd:1200::/56"
            )
        ],
    )


def test_an_ipv6_route_in_another_notation_is_the_same_destination() -> None:
    # GIVEN the route written with explicit zero groups and upper-case hex
    table = main_table("rtb-0aaa000000000001", routes=[peering_route("2600:1F18:ABCD:1200:0:0:0:0/56")])

    assert plan_routes([table], [PEER_V6], PEERING_ID) == RoutePlan(
        present=[Route("rtb-0aaa000000000001", "2600:1f18:abcd:1200::/56")]
    )


def test_a_route_with_host_bits_set_is_compared_as_its_network() -> None:
    table = main_table("rtb-0aaa000000000001", routes=[peering_route("10.1.7.9/16")])

    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(
        present=[Route("rtb-0aaa000000000001", "10.1.0.0/16")]
    )


# ----------------------------------------------------------------------------------- destinations


@pytest.mark.parametrize(
    ("destination", "written"),
    [
        pytest.param(ip_network("10.1.0.0/16"), "10.1.0.0/16", id="ipv4"),
        pytest.param(ip_network("2600:1F18:ABCD:1200:0000::/56"), "2600:1f18:abcd:1200::/56", id="ipv6-compressed"),
        pytest.param(ip_network("10.1.7.9/16", strict=False), "10.1.0.0/16", id="host-bits-dropped"),
    ],
)
def test_destinations_are_written_in_canonical_form(destination: Network, written: str) -> None:
    plan = plan_routes([main_table("rtb-0aaa000000000001")], [destination], PEERING_ID)

    assert plan == RoutePlan(add=[Route("rtb-0aaa000000000001", written)])


def test_describe_shapes() -> None:
    assert Route("rtb-0aaa000000000001", "10.1.0.0/16").describe() == {
        "routeTableId": "rtb-0aaa000000000001",
        "destination": "10.1.0.0/16",
    }
    assert RouteConflict("rtb-0aaa000000000001", "10.1.0.0/16", "tgw-0123456789abcdef0", "10.1.0.0/16").describe() == {
        "routeTableId": "rtb-0aaa000000000001",
        "destination": "10.1.0.0/16",
        "existingTarget": "tgw-0123456789abcdef0",
        "existingDestination": "10.1.0.0/16",
    }
    assert SkippedTable("rtb-0aaa000000000001", OPTED_OUT).describe() == {
        "routeTableId": "rtb-0aaa000000000001",
        "reason": "tagged peering-autopilot:routes='false' (not 'true')",
    }


def test_a_table_whose_only_subnet_association_is_gone_is_skipped() -> None:
    table = {
        "RouteTableId": "rtb-0aaaaaaaaaaaaaaa1",
        "VpcId": "vpc-0aaaaaaaaaaaaaaa1",
        "Associations": [
            {
                "RouteTableAssociationId": "rtbassoc-0aaaaaaaaaaaaaaa1",
                "SubnetId": "subnet-0aaaaaaaaaaaaaaa1",
                "Main": False,
                "AssociationState": {"State": "disassociated"},
            }
        ],
        "Routes": [],
    }

    plan = plan_routes([RouteTable.from_api(table)], [ip_network("10.1.0.0/16")], "pcx-0aaaaaaaaaaaaaaa1")

    assert plan.add == []
    assert plan.skipped == [
        SkippedTable("rtb-0aaaaaaaaaaaaaaa1", "neither the main table nor associated with a subnet")
    ]


def test_prefix_list_destinations_are_read_but_left_alone() -> None:
    # GIVEN a table with a prefix-list route through the peering next to a CIDR route through it
    prefix_list = {
        "DestinationPrefixListId": "pl-0aaaaaaaaaaaaaaa1",
        "VpcPeeringConnectionId": PEERING_ID,
        "State": "active",
    }
    table = main_table("rtb-0aaa000000000001", routes=[peering_route("10.1.0.0/16"), prefix_list])
    [read] = [r for r in table.routes if r.destination is None]
    assert (read.prefix_list_id, read.peering_id) == ("pl-0aaaaaaaaaaaaaaa1", PEERING_ID)

    # THEN the planners see only the CIDR route: nothing to remove, clean up or report for the prefix list
    assert plan_routes([table], [PEER_V4], PEERING_ID) == RoutePlan(
        present=[Route("rtb-0aaa000000000001", "10.1.0.0/16")]
    )
    assert routes_through([table], PEERING_ID) == [Route("rtb-0aaa000000000001", "10.1.0.0/16")]
    assert peerings_routed([table]) == {PEERING_ID}
