"""The adoption rules (adoption.py), pure: what an earlier version made, and nothing else."""

from __future__ import annotations

import ipaddress

from peering_autopilot.adoption import Found, candidates, connector_creation, marker_item, not_held
from peering_autopilot.aws.cloudtrail import TrailEvent
from peering_autopilot.model import (
    ALLOW_TAG,
    CREATED_FOR_TAG,
    ROUTES_TAG,
    Cidrs,
    IpRange,
    Peering,
    PeeringSide,
    Permission,
    RouteTable,
    SecurityGroup,
    TableAssociation,
    TableRoute,
    Vpc,
)
from peering_autopilot.places import PlaceRead
from peering_autopilot.record import OwnedPeering, OwnedRoute, OwnedRule, PeeringRecord
from peering_autopilot.security_groups import Rule
from peering_autopilot.settings import PeerCidrPolicy
from tests.support.domain import settings
from tests.support.world import HUB, MEMBER, REGION

PCX = "pcx-0123456789abcdef0"
OTHER = "pcx-0fedcba9876543210"
POLICY = PeerCidrPolicy.parse("10.0.0.0/8")
VPC_A, VPC_B = "vpc-a", "vpc-b"
MAIN = (TableAssociation(True, "", "associated"),)
SUBNET = (TableAssociation(False, "subnet-1", "associated"),)


def peering(status: str = "active", tags: dict[str, str] | None = None, peer_blocks: str = "10.1.0.0/16") -> Peering:
    return Peering(
        PCX,
        status,
        "",
        PeeringSide(HUB, REGION, VPC_A, Cidrs.of(["10.0.0.0/16"])),
        PeeringSide(MEMBER, REGION, VPC_B, Cidrs.of(peer_blocks.split(","))),
        tags or {},
    )


def route(destination: str, target: str = PCX, kind: str = "vpc-peering-connection") -> TableRoute:
    return TableRoute(ipaddress.ip_network(destination), kind, target, "active")


def table(
    table_id: str, *routes: TableRoute, associations: tuple[TableAssociation, ...] = SUBNET, **tags: str
) -> RouteTable:
    return RouteTable(table_id, VPC_A, {k.replace("_", ":"): v for k, v in tags.items()}, associations, routes)


def group(group_id: str, allow: str | None, *rules: tuple[str, int, int, str, str]) -> SecurityGroup:
    ingress = tuple(
        Permission(p, low, high, (IpRange(cidr, description),)) for p, low, high, cidr, description in rules
    )
    return SecurityGroup(group_id, VPC_A, {ALLOW_TAG: allow} if allow is not None else {}, ingress)


def read(p: Peering, tables: list[RouteTable], groups: list[SecurityGroup] = ()) -> PlaceRead:  # type: ignore[assignment]
    vpc = Vpc(VPC_A, HUB, REGION, Cidrs.of(["10.0.0.0/16"]), {"peering-autopilot:enabled": "true"})
    return PlaceRead(HUB, REGION, {VPC_A: vpc}, (p,), {VPC_A: tables}, {VPC_A: list(groups)})


MARK = f"peering-autopilot {PCX}"


def test_a_route_is_adopted_only_when_it_is_exactly_what_configure_makes() -> None:
    tables = [
        table("rtb-main", route("10.1.0.0/16"), associations=MAIN),
        table("rtb-app", route("10.1.0.0/16"), route("10.1.5.0/24")),  # a more specific one: a person's
        table("rtb-excluded", route("10.1.0.0/16"), **{ROUTES_TAG.replace(":", "_"): "false"}),
        table("rtb-loose", route("10.1.0.0/16"), associations=()),  # no subnet: not managed
        table("rtb-other", route("10.1.0.0/16", OTHER)),  # through another peering
        table("rtb-gw", route("10.1.0.0/16", "vgw-1", "gateway")),
    ]
    [found] = candidates(read(peering(), tables), POLICY)
    assert found.routes == (
        OwnedRoute(HUB, REGION, "rtb-app", "10.1.0.0/16"),
        OwnedRoute(HUB, REGION, "rtb-main", "10.1.0.0/16"),
    )


def test_a_route_to_a_block_the_judge_refuses_or_through_a_peering_not_active_is_not_adopted() -> None:
    outside = peering(peer_blocks="10.1.0.0/16,192.168.0.0/24")  # outside AllowedPeerCidrs (10/8 here)
    tables = [table("rtb-app", route("10.1.0.0/16"), route("192.168.0.0/24"))]
    [found] = candidates(read(outside, tables), POLICY)
    assert [r.destination for r in found.routes] == ["10.1.0.0/16"]
    overlapping = peering(peer_blocks="10.0.0.0/16")  # the peer's block overlaps A's own
    assert candidates(read(overlapping, [table("rtb-app", route("10.0.0.0/16"))]), POLICY) == []
    for status in ("pending-acceptance", "deleted", "provisioning"):
        assert candidates(read(peering(status), [table("rtb-app", route("10.1.0.0/16"))]), POLICY) == []


def test_a_rule_is_adopted_only_with_the_marker_and_asked_for_by_the_allow_tag() -> None:
    groups = [
        group(
            "sg-app",
            "icmp,tcp:443",
            ("icmp", -1, -1, "10.1.0.0/16", MARK),  # adopted
            ("tcp", 443, 443, "10.1.0.0/16", MARK),  # adopted
            ("tcp", 22, 22, "10.1.0.0/16", MARK),  # marker, not asked for
            ("tcp", 443, 443, "10.1.5.0/24", MARK),  # marker, not a peer block
        ),
        group("sg-person", "tcp:443"),
        group("sg-db", None, ("icmp", -1, -1, "10.1.0.0/16", MARK)),  # no allow tag: nothing asked
        group("sg-nomark", "tcp:80", ("tcp", 80, 80, "10.1.0.0/16", "a person's")),
        group("sg-other", "tcp:80", ("tcp", 80, 80, "10.1.0.0/16", f"peering-autopilot {OTHER}")),
    ]
    [found] = candidates(read(peering(), [], groups), POLICY)
    assert found.rules == (
        OwnedRule(HUB, REGION, "sg-app", Rule("icmp", -1, -1, "10.1.0.0/16")),
        OwnedRule(HUB, REGION, "sg-app", Rule("tcp", 443, 443, "10.1.0.0/16")),
    )


def test_a_group_peering_is_a_candidate_where_its_requester_is_and_only_if_tagged() -> None:
    tagged = peering(tags={CREATED_FOR_TAG: "platform"})
    [found] = candidates(read(tagged, []), POLICY)
    assert found.group == OwnedPeering("platform", f"{HUB}/{REGION}/{VPC_A}", f"{MEMBER}/{REGION}/{VPC_B}")
    assert candidates(read(peering(), []), POLICY) == []
    assert candidates(read(peering("deleted", {CREATED_FOR_TAG: "platform"}), []), POLICY) == []
    # seen from the accepter's place: CloudTrail of the requester's account is where to look
    accepter_view = PlaceRead(MEMBER, REGION, {}, (tagged,))
    assert candidates(accepter_view, POLICY) == []


def trail(issuer: str, error: str = "") -> TrailEvent:
    return TrailEvent("ev-1", "CreateVpcPeeringConnection", "2026-12-01T00:00:00+00:00", issuer, issuer, error)


def test_only_the_connector_roles_successful_create_proves_a_group_peering() -> None:
    s = settings(
        member_role_name="PeeringAutopilotMember-reader",
        member_role_names=frozenset(
            {"PeeringAutopilotMember-reader", "PeeringAutopilotMember-connector", "PeeringAutopilotMember-configurer"}
        ),
    )
    connector = f"arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember-connector"
    hub_function = f"arn:aws:iam::{HUB}:role/peering-autopilot/peering-autopilot-ConnectPeeringFunctionRole-X"
    assert connector_creation([trail(connector)], s) == trail(connector)
    assert connector_creation([trail(hub_function)], s) == trail(hub_function)
    for issuer in (
        f"arn:aws:iam::{MEMBER}:role/NetworkAdmin",  # a person
        f"arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember-configurer",  # the autopilot, but no requester
        "arn:aws:iam::333333333333:role/PeeringAutopilotMember-connector",  # an account not managed
        f"arn:aws:iam::{MEMBER}:role/peering-autopilot/PeeringAutopilotMember-connector",  # another path
    ):
        assert connector_creation([trail(issuer)], s) is None, issuer
    assert connector_creation([trail(connector, "UnauthorizedOperation")], s) is None
    assert connector_creation([], s) is None  # past CloudTrail's 90 days: not proven


def test_what_the_record_already_holds_is_not_adopted_again() -> None:
    held_route = OwnedRoute(HUB, REGION, "rtb-app", "10.1.0.0/16")
    new_route = OwnedRoute(HUB, REGION, "rtb-main", "10.1.0.0/16")
    rule = OwnedRule(HUB, REGION, "sg-app", Rule("icmp", -1, -1, "10.1.0.0/16"))
    owned = OwnedPeering("platform", "a", "b")
    found = Found(PCX, (held_route, new_route), (rule,), owned)
    record = PeeringRecord(PCX, {held_route: {"state": "intent"}}, {rule: {"state": "made"}}, owned, "made")
    assert not_held(found, record) == Found(PCX, (new_route,), (), None)


def test_the_marker_names_its_place() -> None:
    item = marker_item(HUB, REGION, "2026-12-07T00:00:00.000Z", {"routes": 3})
    assert (item["pk"], item["sk"], item["routes"]) == ("meta", f"adopted#{HUB}#{REGION}", 3)
