"""The runbook's checklist as a pure function over DescribeRouteTables / DescribeNetworkAcls /
DescribeSecurityGroups items: every failing case a table row, then the words the report prints."""

from __future__ import annotations

from copy import replace  # dataclasses and NamedTuples alike (Python 3.13)
from dataclasses import dataclass
from typing import Any

import pytest

from peering_autopilot.allow import Traffic
from peering_autopilot.live_ping import PingResult
from peering_autopilot.model import ALLOW_TAG, Cidrs, NetworkAcl, Peering, RouteTable, SecurityGroup
from peering_autopilot.probe import ICMP_ECHO, STEPS, Check, Direction, Endpoint, SideSnapshot, evaluate
from peering_autopilot.reachability import AnalyzerResult, Finding
from peering_autopilot.verify import Diagnosis, DirectionResult, report_text

REGION = "us-east-1"
HUB = "123456789012"
MEMBER = "222222222222"
PEERING_ID = "pcx-0a1b2c3d4e5f60718"
TGW_ID = "tgw-0123456789abcdef0"
IGW_ID = "igw-0aaaaaaaaaaaaaaa1"

VPC_A, VPC_B = "vpc-0aaaaaaaaaaaaaaa1", "vpc-0bbbbbbbbbbbbbbb2"
CIDR_A, CIDR_B = "10.0.0.0/16", "10.1.0.0/16"
SUBNET_A, SUBNET_B = "subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"
OTHER_SUBNET_A = "subnet-0aaaaaaaaaaaaaaa9"
INSTANCE_A, INSTANCE_B = "i-0aaaaaaaaaaaaaaa1", "i-0bbbbbbbbbbbbbbb2"
IP_A, IP_B = "10.0.1.10", "10.1.1.4"
SG_A, SG_B = "sg-0aaaaaaaaaaaaaaa1", "sg-0bbbbbbbbbbbbbbb2"
SG_OTHER = "sg-0ccccccccccccccc3"
RTB_A, RTB_B = "rtb-0aaaaaaaaaaaaaaa1", "rtb-0bbbbbbbbbbbbbbb2"
RTB_MAIN_A = "rtb-0aaaaaaaaaaaaaaa0"
ACL_A, ACL_B = "acl-0aaaaaaaaaaaaaaa1", "acl-0bbbbbbbbbbbbbbb2"

HTTPS = Traffic("tcp", 443, 443)
ICMP = Traffic("icmp")


# --- DescribeRouteTables items ------------------------------------------------------------------------
def local_route(cidr: str) -> dict[str, Any]:
    return {"DestinationCidrBlock": cidr, "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"}


def peering_route(cidr: str, state: str = "active") -> dict[str, Any]:
    return {"DestinationCidrBlock": cidr, "VpcPeeringConnectionId": PEERING_ID, "Origin": "CreateRoute", "State": state}


def tgw_route(cidr: str) -> dict[str, Any]:
    return {"DestinationCidrBlock": cidr, "TransitGatewayId": TGW_ID, "Origin": "CreateRoute", "State": "active"}


def route_table(
    table_id: str, vpc_id: str, routes: list[dict[str, Any]], subnet_id: str | None = None, state: str = "associated"
) -> RouteTable:
    """A table explicitly associated with `subnet_id`, or the VPC's main table when there is none."""
    association: dict[str, Any] = {
        "Main": subnet_id is None,
        "RouteTableAssociationId": f"rtbassoc-{table_id[4:]}",
        "RouteTableId": table_id,
        "AssociationState": {"State": state},
    }
    if subnet_id:
        association["SubnetId"] = subnet_id
    return RouteTable.from_api(
        {
            "RouteTableId": table_id,
            "VpcId": vpc_id,
            "OwnerId": HUB if vpc_id == VPC_A else MEMBER,
            "Associations": [association],
            "Routes": routes,
            "PropagatingVgws": [],
            "Tags": [],
        }
    )


# --- DescribeNetworkAcls items ---------------------------------------------------------------------------
def acl_entry(
    rule: int,
    egress: bool,
    action: str = "allow",
    protocol: str = "-1",
    cidr: str = "0.0.0.0/0",
    ports: tuple[int, int] | None = None,
    icmp_type: int | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "RuleNumber": rule,
        "Egress": egress,
        "RuleAction": action,
        "Protocol": protocol,
        "CidrBlock": cidr,
    }
    if ports:
        entry["PortRange"] = {"From": ports[0], "To": ports[1]}
    if icmp_type is not None:
        entry["IcmpTypeCode"] = {"Type": icmp_type, "Code": -1}
    return entry


def default_entries(egress: bool) -> list[dict[str, Any]]:
    """What a new default ACL holds in each direction: allow everything at 100, then the final '*' deny."""
    return [acl_entry(100, egress), acl_entry(32767, egress, "deny")]


def network_acl(
    acl_id: str,
    vpc_id: str,
    subnet_id: str,
    inbound: list[dict[str, Any]] | None = None,
    outbound: list[dict[str, Any]] | None = None,
) -> NetworkAcl:
    return NetworkAcl.from_api(
        {
            "NetworkAclId": acl_id,
            "VpcId": vpc_id,
            "IsDefault": True,
            "OwnerId": HUB if vpc_id == VPC_A else MEMBER,
            "Associations": [
                {"NetworkAclAssociationId": f"aclassoc-{subnet_id[7:]}", "NetworkAclId": acl_id, "SubnetId": subnet_id}
            ],
            "Entries": (default_entries(False) if inbound is None else inbound)
            + (default_entries(True) if outbound is None else outbound),
            "Tags": [],
        }
    )


# --- DescribeSecurityGroups items -----------------------------------------------------------------------
def permission(
    protocol: str,
    from_port: int | None = None,
    to_port: int | None = None,
    cidrs: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "IpProtocol": protocol,
        "IpRanges": [{"CidrIp": c} for c in cidrs],
        "Ipv6Ranges": [],
        "PrefixListIds": [],
        "UserIdGroupPairs": [
            {"GroupId": g, "UserId": HUB, "VpcPeeringConnectionId": PEERING_ID, "PeeringStatus": "active"}
            for g in groups
        ],
    }
    if from_port is not None:
        rule["FromPort"], rule["ToPort"] = from_port, to_port
    return rule


ALL_OUT = permission("-1", cidrs=("0.0.0.0/0",))


def security_group(
    group_id: str,
    vpc_id: str,
    ingress: list[dict[str, Any]],
    egress: list[dict[str, Any]] | None = None,
    allow: str = "",
) -> SecurityGroup:
    return SecurityGroup.from_api(
        {
            "GroupId": group_id,
            "GroupName": f"probe-{group_id[-1]}",
            "Description": "probe",
            "VpcId": vpc_id,
            "OwnerId": HUB if vpc_id == VPC_A else MEMBER,
            "IpPermissions": ingress,
            "IpPermissionsEgress": [ALL_OUT] if egress is None else egress,
            "Tags": [{"Key": ALLOW_TAG, "Value": allow}] if allow else [],
        }
    )


# --- the two sides ------------------------------------------------------------------------------------
ENDPOINT_A = Endpoint("probe instance", INSTANCE_A, IP_A, SUBNET_A, (SG_A,))
ENDPOINT_B = Endpoint("instance", INSTANCE_B, IP_B, SUBNET_B, (SG_B,))


def side_a(**changes: Any) -> SideSnapshot:
    """The requester: 10.0.0.0/16, a probe instance, a subnet table routing 10.1.0.0/16 to the peering."""
    snapshot = SideSnapshot(
        role="requester",
        account_id=HUB,
        region=REGION,
        vpc_id=VPC_A,
        cidrs=Cidrs.of([CIDR_A]),
        endpoint=ENDPOINT_A,
        route_tables=[route_table(RTB_A, VPC_A, [local_route(CIDR_A), peering_route(CIDR_B)], SUBNET_A)],
        network_acls=[network_acl(ACL_A, VPC_A, SUBNET_A)],
        security_groups={
            SG_A: security_group(SG_A, VPC_A, [permission("icmp", -1, -1, cidrs=(CIDR_B,))], allow="icmp")
        },
    )
    return replace(snapshot, **changes)


def side_b(**changes: Any) -> SideSnapshot:
    """The accepter: 10.1.0.0/16, an instance whose group lets ICMP and HTTPS in from the requester."""
    snapshot = SideSnapshot(
        role="accepter",
        account_id=MEMBER,
        region=REGION,
        vpc_id=VPC_B,
        cidrs=Cidrs.of([CIDR_B]),
        endpoint=ENDPOINT_B,
        route_tables=[route_table(RTB_B, VPC_B, [local_route(CIDR_B), peering_route(CIDR_A)], SUBNET_B)],
        network_acls=[network_acl(ACL_B, VPC_B, SUBNET_B)],
        security_groups={SG_B: b_group([permission("icmp", -1, -1, cidrs=(CIDR_A,)), https_from(CIDR_A)])},
    )
    return replace(snapshot, **changes)


def https_from(cidr: str) -> dict[str, Any]:
    return permission("tcp", 443, 443, cidrs=(cidr,))


def b_group(ingress: list[dict[str, Any]], egress: list[dict[str, Any]] | None = None) -> SecurityGroup:
    return security_group(SG_B, VPC_B, ingress, egress, allow="icmp,tcp:443")


def b_groups(ingress: list[dict[str, Any]]) -> dict[str, SecurityGroup]:
    return {SG_B: b_group(ingress)}


def a_groups(egress: list[dict[str, Any]]) -> dict[str, SecurityGroup]:
    return {SG_A: security_group(SG_A, VPC_A, [], egress)}


def by_step(direction: Direction) -> dict[str, Check]:
    return {c.step: c for c in direction.checks}


# --- all passing -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("traffic", "groups_detail"),
    [
        pytest.param(ICMP, f"{SG_A} lets it out; {SG_B} lets it in (stateful: replies return)", id="icmp-echo"),
        pytest.param(HTTPS, f"{SG_A} lets it out; {SG_B} lets it in (stateful: replies return)", id="tcp-443"),
    ],
)
def test_all_steps_pass(traffic: Traffic, groups_detail: str) -> None:
    direction = evaluate(PEERING_ID, "active", side_a(), side_b(), traffic)

    assert direction.checks == [
        Check("peering", True, f"{PEERING_ID} is active", PEERING_ID),
        Check("routes", True, f"{RTB_A} {CIDR_B} -> {PEERING_ID}; return: {RTB_B} {CIDR_A} -> {PEERING_ID}", RTB_A),
        Check("security-groups", True, groups_detail, SG_B),
        Check("network-acls", True, f"{ACL_A} and {ACL_B} allow both ways, replies included", ACL_B),
        Check("addresses", True, f"{IP_A} and {IP_B} are private and inside their VPCs"),
    ]
    assert direction.passed is True
    assert direction.first_failure is None
    assert direction.name == "requester -> accepter"


# --- one failing step per row -------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    source: SideSnapshot
    destination: SideSnapshot
    traffic: Traffic
    failure: Check
    status: str = "active"


def with_a_routes(*routes: dict[str, Any]) -> SideSnapshot:
    return side_a(route_tables=[route_table(RTB_A, VPC_A, [local_route(CIDR_A), *routes], SUBNET_A)])


FAILING: dict[str, Case] = {
    "peering-pending-acceptance": Case(
        side_a(),
        side_b(),
        ICMP,
        Check("peering", False, f"{PEERING_ID} is pending-acceptance, not active", PEERING_ID),
        status="pending-acceptance",
    ),
    "route-missing-on-source-side": Case(
        with_a_routes(),
        side_b(),
        ICMP,
        Check("routes", False, f"{RTB_A} has no route to {IP_B}", RTB_A),
    ),
    "route-missing-on-return-side": Case(
        side_a(),
        side_b(route_tables=[route_table(RTB_B, VPC_B, [local_route(CIDR_B)], SUBNET_B)]),
        ICMP,
        Check("routes", False, f"{RTB_B} has no route return to {IP_A}", RTB_B),
    ),
    "more-specific-tgw-route-steals-traffic": Case(
        with_a_routes(peering_route(CIDR_B), tgw_route("10.1.1.0/24")),
        side_b(),
        ICMP,
        Check(
            "routes",
            False,
            f"{RTB_A} sends {IP_B} (to) to {TGW_ID} via 10.1.1.0/24, not {PEERING_ID}",
            f"{RTB_A} 10.1.1.0/24 -> {TGW_ID}",
        ),
    ),
    "only-a-default-route-to-the-internet": Case(
        with_a_routes(
            {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": IGW_ID, "Origin": "CreateRoute", "State": "active"}
        ),
        side_b(),
        ICMP,
        Check(
            "routes",
            False,
            f"{RTB_A} sends {IP_B} (to) to {IGW_ID} via 0.0.0.0/0, not {PEERING_ID}",
            f"{RTB_A} 0.0.0.0/0 -> {IGW_ID}",
        ),
    ),
    "blackhole-route-through-the-peering": Case(
        with_a_routes(peering_route(CIDR_B, state="blackhole")),
        side_b(),
        ICMP,
        Check(
            "routes",
            False,
            f"{RTB_A} route {CIDR_B} -> {PEERING_ID} is a blackhole",
            f"{RTB_A} {CIDR_B} -> {PEERING_ID}",
        ),
    ),
    "no-route-table-at-all": Case(
        side_a(route_tables=[]),
        side_b(),
        ICMP,
        Check("routes", False, f"no route table found for {SUBNET_A}", SUBNET_A),
    ),
    "explicit-table-without-route-wins-over-main-with-route": Case(
        side_a(
            route_tables=[
                route_table(RTB_MAIN_A, VPC_A, [local_route(CIDR_A), peering_route(CIDR_B)]),
                route_table(RTB_A, VPC_A, [local_route(CIDR_A)], SUBNET_A),
            ]
        ),
        side_b(),
        ICMP,
        Check("routes", False, f"{RTB_A} has no route to {IP_B}", RTB_A),
    ),
    "source-egress-only-tcp-443-while-testing-icmp": Case(
        side_a(security_groups=a_groups([permission("tcp", 443, 443, cidrs=("0.0.0.0/0",))])),
        side_b(),
        ICMP,
        Check("security-groups", False, f"{SG_A} of {INSTANCE_A} allow no ICMP echo (ping) out to {IP_B}", SG_A),
    ),
    "source-egress-to-another-cidr-only": Case(
        side_a(security_groups=a_groups([permission("-1", cidrs=("10.2.0.0/16",))])),
        side_b(),
        HTTPS,
        Check("security-groups", False, f"{SG_A} of {INSTANCE_A} allow no TCP 443 out to {IP_B}", SG_A),
    ),
    "destination-ingress-missing": Case(
        side_a(),
        side_b(security_groups=b_groups([])),
        ICMP,
        Check("security-groups", False, f"{SG_B} of {INSTANCE_B} allow no ICMP echo (ping) in from {IP_A}", SG_B),
    ),
    "destination-ingress-only-ssh-while-testing-443": Case(
        side_a(),
        side_b(security_groups=b_groups([permission("tcp", 22, 22, cidrs=(CIDR_A,))])),
        HTTPS,
        Check("security-groups", False, f"{SG_B} of {INSTANCE_B} allow no TCP 443 in from {IP_A}", SG_B),
    ),
    "destination-ingress-icmp-echo-reply-type-only": Case(
        side_a(),
        side_b(security_groups=b_groups([permission("icmp", 0, -1, cidrs=(CIDR_A,))])),
        ICMP,
        Check("security-groups", False, f"{SG_B} of {INSTANCE_B} allow no ICMP echo (ping) in from {IP_A}", SG_B),
    ),
    "destination-ingress-references-a-group-the-source-lacks": Case(
        side_a(),
        side_b(security_groups=b_groups([permission("-1", groups=(SG_OTHER,))])),
        ICMP,
        Check("security-groups", False, f"{SG_B} of {INSTANCE_B} allow no ICMP echo (ping) in from {IP_A}", SG_B),
    ),
    "acl-deny-90-before-allow-100": Case(
        side_a(),
        side_b(
            network_acls=[
                network_acl(
                    ACL_B,
                    VPC_B,
                    SUBNET_B,
                    inbound=[
                        acl_entry(100, False),  # listed first: order in the response must not matter
                        acl_entry(90, False, "deny", "1", CIDR_A, icmp_type=-1),
                        acl_entry(32767, False, "deny"),
                    ],
                )
            ]
        ),
        ICMP,
        Check("network-acls", False, f"{ACL_B} rule 90 denies icmp echo request in from {IP_A}", f"{ACL_B} rule 90"),
    ),
    "acl-source-outbound-deny-443": Case(
        side_a(
            network_acls=[
                network_acl(
                    ACL_A,
                    VPC_A,
                    SUBNET_A,
                    outbound=[acl_entry(50, True, "deny", "6", CIDR_B, (443, 443)), *default_entries(True)],
                )
            ]
        ),
        side_b(),
        HTTPS,
        Check("network-acls", False, f"{ACL_A} rule 50 denies tcp port 443 out to {IP_B}", f"{ACL_A} rule 50"),
    ),
    "acl-blocks-ephemeral-return-ports": Case(
        side_a(),
        side_b(
            network_acls=[
                network_acl(
                    ACL_B,
                    VPC_B,
                    SUBNET_B,
                    outbound=[acl_entry(100, True, "allow", "6", CIDR_A, (443, 443)), acl_entry(32767, True, "deny")],
                )
            ]
        ),
        HTTPS,
        Check(
            "network-acls",
            False,
            f"{ACL_B} rule 32767 denies tcp port 1024 out (return) back to {IP_A}",
            f"{ACL_B} rule 32767",
        ),
    ),
    "acl-return-only-linux-ephemeral-range-misses-1024": Case(
        side_a(
            network_acls=[
                network_acl(
                    ACL_A,
                    VPC_A,
                    SUBNET_A,
                    inbound=[
                        acl_entry(100, False, "allow", "6", CIDR_B, (32768, 60999)),
                        acl_entry(32767, False, "deny"),
                    ],
                )
            ]
        ),
        side_b(),
        HTTPS,
        Check(
            "network-acls",
            False,
            f"{ACL_A} rule 32767 denies tcp port 1024 in (return) back from {IP_B}",
            f"{ACL_A} rule 32767",
        ),
    ),
    "acl-without-any-matching-entry-is-rule-star": Case(
        side_a(),
        side_b(
            network_acls=[
                network_acl(ACL_B, VPC_B, SUBNET_B, outbound=[acl_entry(100, True, "allow", "6", CIDR_A, (443, 443))])
            ]
        ),
        HTTPS,
        Check(
            "network-acls", False, f"{ACL_B} rule * denies tcp port 1024 out (return) back to {IP_A}", f"{ACL_B} rule *"
        ),
    ),
    "acl-icmp-return-needs-echo-reply": Case(
        side_a(
            network_acls=[
                network_acl(
                    ACL_A,
                    VPC_A,
                    SUBNET_A,
                    inbound=[acl_entry(100, False, "allow", "1", CIDR_B, icmp_type=8), acl_entry(32767, False, "deny")],
                )
            ]
        ),
        side_b(),
        ICMP,
        Check(
            "network-acls",
            False,
            f"{ACL_A} rule 32767 denies icmp echo reply in (return) back from {IP_B}",
            f"{ACL_A} rule 32767",
        ),
    ),
}


@pytest.mark.parametrize("case", list(FAILING.values()), ids=list(FAILING))
def test_first_failure(case: Case) -> None:
    direction = evaluate(PEERING_ID, case.status, case.source, case.destination, case.traffic)

    assert [c.step for c in direction.checks] == list(STEPS)
    assert direction.first_failure == case.failure
    assert direction.passed is False
    # every other step of the default world passes: one row, one broken thing
    assert [c.step for c in direction.checks if c.ok is not True] == [case.failure.step]


# --- passing variations ---------------------------------------------------------------------------------
PASSING: dict[str, tuple[SideSnapshot, SideSnapshot, Traffic]] = {
    "unrelated-more-specific-route-does-not-steal": (
        with_a_routes(peering_route(CIDR_B), tgw_route("10.1.2.0/24")),
        side_b(),
        ICMP,
    ),
    "peering-route-more-specific-than-a-tgw-summary": (
        with_a_routes(tgw_route("10.0.0.0/8"), peering_route(CIDR_B)),
        side_b(),
        ICMP,
    ),
    "main-table-when-subnet-has-no-explicit-association": (
        side_a(
            route_tables=[
                route_table(RTB_A, VPC_A, [local_route(CIDR_A)], OTHER_SUBNET_A),
                route_table(RTB_MAIN_A, VPC_A, [local_route(CIDR_A), peering_route(CIDR_B)]),
            ]
        ),
        side_b(),
        ICMP,
    ),
    "ingress-by-security-group-reference": (
        side_a(),
        side_b(security_groups=b_groups([permission("-1", groups=(SG_A,))])),
        ICMP,
    ),
    "ingress-icmp-echo-request-type-only": (
        side_a(),
        side_b(security_groups=b_groups([permission("icmp", 8, -1, cidrs=(CIDR_A,))])),
        ICMP,
    ),
    "ingress-port-range-covering-443": (
        side_a(),
        side_b(security_groups=b_groups([permission("tcp", 1, 1024, cidrs=(f"{IP_A}/32",))])),
        HTTPS,
    ),
    "acl-allow-80-before-deny-90-first-match-wins": (
        side_a(),
        side_b(
            network_acls=[
                network_acl(
                    ACL_B,
                    VPC_B,
                    SUBNET_B,
                    inbound=[
                        acl_entry(90, False, "deny", "-1", CIDR_A),
                        acl_entry(80, False, "allow", "1", CIDR_A, icmp_type=-1),
                        acl_entry(32767, False, "deny"),
                    ],
                )
            ]
        ),
        ICMP,
    ),
    "acl-deny-for-another-cidr-does-not-match": (
        side_a(),
        side_b(
            network_acls=[
                network_acl(
                    ACL_B,
                    VPC_B,
                    SUBNET_B,
                    inbound=[acl_entry(90, False, "deny", "-1", "10.2.0.0/16"), *default_entries(False)],
                )
            ]
        ),
        ICMP,
    ),
    "acl-opens-exactly-443-and-1024-65535": (
        side_a(
            network_acls=[
                network_acl(
                    ACL_A,
                    VPC_A,
                    SUBNET_A,
                    inbound=[
                        acl_entry(100, False, "allow", "6", CIDR_B, (1024, 65535)),
                        acl_entry(32767, False, "deny"),
                    ],
                    outbound=[acl_entry(100, True, "allow", "6", CIDR_B, (443, 443)), acl_entry(32767, True, "deny")],
                )
            ]
        ),
        side_b(
            network_acls=[
                network_acl(
                    ACL_B,
                    VPC_B,
                    SUBNET_B,
                    inbound=[acl_entry(100, False, "allow", "6", CIDR_A, (443, 443)), acl_entry(32767, False, "deny")],
                    outbound=[
                        acl_entry(100, True, "allow", "6", CIDR_A, (1024, 65535)),
                        acl_entry(32767, True, "deny"),
                    ],
                )
            ]
        ),
        HTTPS,
    ),
    "acl-opens-exactly-echo-request-and-reply": (
        side_a(
            network_acls=[
                network_acl(
                    ACL_A,
                    VPC_A,
                    SUBNET_A,
                    inbound=[acl_entry(100, False, "allow", "1", CIDR_B, icmp_type=0), acl_entry(32767, False, "deny")],
                    outbound=[acl_entry(100, True, "allow", "1", CIDR_B, icmp_type=8), acl_entry(32767, True, "deny")],
                )
            ]
        ),
        side_b(
            network_acls=[
                network_acl(
                    ACL_B,
                    VPC_B,
                    SUBNET_B,
                    inbound=[acl_entry(100, False, "allow", "1", CIDR_A, icmp_type=8), acl_entry(32767, False, "deny")],
                    outbound=[acl_entry(100, True, "allow", "1", CIDR_A, icmp_type=0), acl_entry(32767, True, "deny")],
                )
            ]
        ),
        ICMP,
    ),
}


@pytest.mark.parametrize(("source", "destination", "traffic"), list(PASSING.values()), ids=list(PASSING))
def test_passes(source: SideSnapshot, destination: SideSnapshot, traffic: Traffic) -> None:
    direction = evaluate(PEERING_ID, "active", source, destination, traffic)

    assert [c.step for c in direction.checks] == list(STEPS)
    assert [(c.step, c.ok) for c in direction.checks if c.ok is not True] == []
    assert direction.passed is True


def test_main_table_is_named_when_used() -> None:
    source = PASSING["main-table-when-subnet-has-no-explicit-association"][0]

    direction = evaluate(PEERING_ID, "active", source, side_b(), ICMP)

    assert by_step(direction)["routes"] == Check(
        "routes", True, f"{RTB_MAIN_A} {CIDR_B} -> {PEERING_ID}; return: {RTB_B} {CIDR_A} -> {PEERING_ID}", RTB_MAIN_A
    )


def test_ingress_by_group_reference_names_both_groups() -> None:
    source, destination, traffic = PASSING["ingress-by-security-group-reference"]

    direction = evaluate(PEERING_ID, "active", source, destination, traffic)

    assert by_step(direction)["security-groups"] == Check(
        "security-groups", True, f"{SG_A} lets it out; {SG_B} lets it in (stateful: replies return)", SG_B
    )


# --- addresses --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "destination", "check"),
    [
        pytest.param(
            side_a(),
            side_b(endpoint=replace(ENDPOINT_B, ip="10.2.1.4")),
            Check("addresses", False, f"10.2.1.4 of {INSTANCE_B} is outside {VPC_B} ({CIDR_B})", INSTANCE_B),
            id="destination-ip-outside-its-vpc",
        ),
        pytest.param(
            side_a(
                cidrs=Cidrs.of([CIDR_A, "10.3.0.0/16", "2600:1f18:aaaa:1200::/56"]),
                endpoint=replace(ENDPOINT_A, ip="10.4.0.9"),
            ),
            side_b(),
            Check(
                "addresses",
                False,
                f"10.4.0.9 of {INSTANCE_A} is outside {VPC_A} ({CIDR_A}, 10.3.0.0/16, 2600:1f18:aaaa:1200::/56)",
                INSTANCE_A,
            ),
            id="source-ip-outside-all-its-blocks",
        ),
        pytest.param(
            side_a(),
            side_b(endpoint=replace(ENDPOINT_B, ip="54.210.1.4")),
            Check("addresses", False, f"54.210.1.4 of {INSTANCE_B} is not a private address", INSTANCE_B),
            id="destination-public-ip",
        ),
        pytest.param(
            side_a(cidrs=Cidrs.of([CIDR_A, "10.3.0.0/16"]), endpoint=replace(ENDPOINT_A, ip="10.3.7.7")),
            side_b(),
            Check("addresses", True, f"10.3.7.7 and {IP_B} are private and inside their VPCs"),
            id="source-in-secondary-block",
        ),
    ],
)
def test_addresses(source: SideSnapshot, destination: SideSnapshot, check: Check) -> None:
    direction = evaluate(PEERING_ID, "active", source, destination, ICMP)

    assert [c.step for c in direction.checks] == list(STEPS)
    assert by_step(direction)["addresses"] == check


def test_wrong_ip_is_reported_after_the_route_it_also_breaks() -> None:
    # GIVEN a destination address outside the peer VPC: no peering route can cover it either
    destination = side_b(endpoint=replace(ENDPOINT_B, ip="10.2.1.4"))

    direction = evaluate(PEERING_ID, "active", side_a(), destination, ICMP)

    # THEN routes is the first failure, in the checklist's order, and addresses still says why
    assert direction.first_failure == Check("routes", False, f"{RTB_A} has no route to 10.2.1.4", RTB_A)
    assert [(c.step, c.ok) for c in direction.checks] == [
        ("peering", True),
        ("routes", False),
        ("security-groups", True),
        ("network-acls", True),
        ("addresses", False),
    ]


def test_endpoint_in_a_100_64_vpc_block_is_a_valid_address() -> None:
    # GIVEN the accepter VPC's secondary block 100.64.0.0/16, routed through the peering, with the instance in it
    cidr = "100.64.0.0/16"
    source = with_a_routes(peering_route(CIDR_B), peering_route(cidr))
    destination = side_b(
        cidrs=Cidrs.of([CIDR_B, cidr]),
        endpoint=replace(ENDPOINT_B, ip="100.64.1.4"),
        security_groups=b_groups([permission("-1", cidrs=(CIDR_A,))]),
    )

    direction = evaluate(PEERING_ID, "active", source, destination, ICMP)

    assert by_step(direction)["addresses"] == Check(
        "addresses", True, f"{IP_A} and 100.64.1.4 are private and inside their VPCs"
    )


def test_disassociated_table_is_not_the_subnets_table() -> None:
    # GIVEN the subnet just moved: its old association (no peering route) is listed as disassociated
    source = side_a(
        route_tables=[
            route_table(RTB_MAIN_A, VPC_A, [local_route(CIDR_A)], SUBNET_A, state="disassociated"),
            route_table(RTB_A, VPC_A, [local_route(CIDR_A), peering_route(CIDR_B)], SUBNET_A),
        ]
    )

    direction = evaluate(PEERING_ID, "active", source, side_b(), ICMP)

    assert by_step(direction)["routes"].ok is True


# --- endpoints that cannot be judged fully ---------------------------------------------------------------
SUBNET_ENDPOINT_B = Endpoint("subnet", SUBNET_B, "10.1.1.4", SUBNET_B)


def test_subnet_endpoint_leaves_groups_unchecked_but_judges_the_rest() -> None:
    direction = evaluate(PEERING_ID, "active", side_a(), side_b(endpoint=SUBNET_ENDPOINT_B, security_groups={}), ICMP)

    assert [(c.step, c.ok) for c in direction.checks] == [
        ("peering", True),
        ("routes", True),
        ("security-groups", None),
        ("network-acls", True),
        ("addresses", True),
    ]
    assert by_step(direction)["security-groups"] == Check(
        "security-groups", None, "no instance to judge: a subnet was probed, groups not checked"
    )
    assert by_step(direction)["security-groups"].describe() == {
        "step": "security-groups",
        "result": "not checked",
        "detail": "no instance to judge: a subnet was probed, groups not checked",
        "component": "",
    }
    assert direction.passed is True


def test_subnet_endpoint_still_fails_on_its_acl() -> None:
    acls = FAILING["acl-deny-90-before-allow-100"].destination.network_acls

    direction = evaluate(
        PEERING_ID, "active", side_a(), side_b(endpoint=SUBNET_ENDPOINT_B, network_acls=acls, security_groups={}), ICMP
    )

    assert direction.first_failure == Check(
        "network-acls", False, f"{ACL_B} rule 90 denies icmp echo request in from {IP_A}", f"{ACL_B} rule 90"
    )
    assert by_step(direction)["security-groups"].ok is None


def test_missing_endpoint_stops_after_peering_and_is_not_judged() -> None:
    direction = evaluate(PEERING_ID, "active", side_a(), side_b(endpoint=None), ICMP)

    assert direction.checks == [
        Check("peering", True, f"{PEERING_ID} is active", PEERING_ID),
        Check("routes", None, f"no instance or subnet found in {VPC_B}", VPC_B),
    ]
    assert direction.first_failure is None


# --- several failures: the checklist's order decides ------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "source", "destination", "first"),
    [
        pytest.param(
            "pending-acceptance",
            with_a_routes(),
            side_b(security_groups=b_groups([])),
            "peering",
            id="peering-before-routes-and-groups",
        ),
        pytest.param(
            "active",
            with_a_routes(),
            FAILING["acl-deny-90-before-allow-100"].destination,
            "routes",
            id="routes-before-acls",
        ),
        pytest.param(
            "active",
            side_a(cidrs=Cidrs.of(["10.9.0.0/16"])),
            replace(FAILING["acl-deny-90-before-allow-100"].destination, security_groups=b_groups([])),
            "security-groups",
            id="groups-before-acls-and-addresses",
        ),
    ],
)
def test_first_failure_follows_steps_order(
    status: str, source: SideSnapshot, destination: SideSnapshot, first: str
) -> None:
    direction = evaluate(PEERING_ID, status, source, destination, ICMP)

    failing = [c.step for c in direction.checks if c.ok is False]
    assert len(failing) >= 2
    assert failing == [step for step in STEPS if step in failing]
    assert direction.first_failure is not None
    assert direction.first_failure.step == first == failing[0]


# --- what to test towards a side --------------------------------------------------------------------------
def tagged(group_id: str, allow: str) -> SecurityGroup:
    return security_group(group_id, VPC_B, [], allow=allow)


@pytest.mark.parametrize(
    ("group_ids", "groups", "expected"),
    [
        pytest.param((SG_B,), {SG_B: tagged(SG_B, "tcp:443, icmp")}, HTTPS, id="first-entry-wins"),
        pytest.param((SG_B,), {SG_B: tagged(SG_B, "icmp,tcp:443")}, ICMP_ECHO, id="icmp-first"),
        pytest.param((SG_B,), {SG_B: tagged(SG_B, "tcp:8000-8080")}, Traffic("tcp", 8000, 8080), id="port-range"),
        pytest.param((SG_B,), {SG_B: tagged(SG_B, "all")}, ICMP_ECHO, id="all-becomes-icmp-echo"),
        pytest.param(
            (SG_OTHER, SG_B),
            {SG_OTHER: tagged(SG_OTHER, ""), SG_B: tagged(SG_B, "udp:53")},
            Traffic("udp", 53, 53),
            id="first-tagged-group-of-the-endpoint",
        ),
        pytest.param(
            (SG_OTHER, SG_B),
            {SG_OTHER: tagged(SG_OTHER, "tcp:99999"), SG_B: tagged(SG_B, "udp:53")},
            Traffic("udp", 53, 53),
            id="group-with-only-bad-entries-skipped",
        ),
        pytest.param((SG_B,), {SG_B: tagged(SG_B, "")}, ICMP_ECHO, id="untagged-is-icmp-echo"),
        pytest.param((SG_B,), {}, ICMP_ECHO, id="group-not-read-is-icmp-echo"),
        pytest.param((), {}, ICMP_ECHO, id="no-groups-is-icmp-echo"),
    ],
)
def test_traffic_in(group_ids: tuple[str, ...], groups: dict[str, SecurityGroup], expected: Traffic) -> None:
    side = side_b(endpoint=replace(ENDPOINT_B, group_ids=group_ids), security_groups=groups)

    assert side.traffic_in() == expected


def test_traffic_in_without_endpoint_is_icmp_echo() -> None:
    assert side_b(endpoint=None).traffic_in() == ICMP_ECHO


# --- the report ---------------------------------------------------------------------------------------------
PEERING_ITEM = {
    "VpcPeeringConnectionId": PEERING_ID,
    "Status": {"Code": "active", "Message": "Active"},
    "RequesterVpcInfo": {"OwnerId": HUB, "VpcId": VPC_A, "CidrBlock": CIDR_A, "Region": REGION},
    "AccepterVpcInfo": {"OwnerId": MEMBER, "VpcId": VPC_B, "CidrBlock": CIDR_B, "Region": REGION},
}
ANALYSIS_ID = "nia-0fedcba9876543210"
HEADER = f"Peering {PEERING_ID} (active): {VPC_A} ({HUB} {REGION}) <-> {VPC_B} ({MEMBER} {REGION})"


def peering() -> Peering:
    return Peering.from_api(PEERING_ITEM, REGION)


def passing_path() -> Direction:
    return evaluate(PEERING_ID, "active", side_a(), side_b(), ICMP)


def test_report_of_a_blocked_direction() -> None:
    # GIVEN the accepter's ACL denies ICMP at rule 90, and the analyzer and the ping agree
    case = FAILING["acl-deny-90-before-allow-100"]
    result = DirectionResult(
        evaluate(PEERING_ID, "active", case.source, case.destination, ICMP),
        analyzer=AnalyzerResult(
            "blocked",
            f"analysis {ANALYSIS_ID} found no path: SUBNET_ACL_RESTRICTION",
            [Finding("network-acls", "SUBNET_ACL_RESTRICTION", f"{ACL_B} rule 90")],
        ),
        ping=PingResult("no-reply", f"ping {IP_B} from {INSTANCE_A}: 0/3 replies", 3, 0),
    )
    diagnosis = Diagnosis(peering(), [result])

    # WHEN the report is written
    lines = report_text(diagnosis).split("\n")

    # THEN every step is one aligned row, and the verdict names the first failing step
    assert lines == [
        HEADER,
        "",
        f"requester -> accepter: ICMP echo (ping) from probe instance {INSTANCE_A} {IP_A} to instance {INSTANCE_B} {IP_B}",
        f"  peering          ok          {PEERING_ID} is active",
        f"  routes           ok          {RTB_A} {CIDR_B} -> {PEERING_ID}; return: {RTB_B} {CIDR_A} -> {PEERING_ID}",
        f"  security-groups  ok          {SG_A} lets it out; {SG_B} lets it in (stateful: replies return)",
        f"  network-acls     FAIL        {ACL_B} rule 90 denies icmp echo request in from {IP_A}",
        f"  addresses        ok          {IP_A} and {IP_B} are private and inside their VPCs",
        f"  reachability     BLOCKED     analysis {ANALYSIS_ID} found no path: SUBNET_ACL_RESTRICTION",
        f"  live ping        NO-REPLY    ping {IP_B} from {INSTANCE_A}: 0/3 replies",
        "  => BLOCKED at network-acls",
        "",
        "Verdict: blocked:network-acls",
    ]
    assert diagnosis.status_value == "blocked:network-acls"
    assert diagnosis.verified is False
    assert result.describe()["blockedAt"] == "network-acls"


def test_report_of_a_subnet_endpoint_says_not_checked() -> None:
    path = evaluate(PEERING_ID, "active", side_a(), side_b(endpoint=SUBNET_ENDPOINT_B, security_groups={}), ICMP)

    lines = report_text(Diagnosis(peering(), [DirectionResult(path)])).split("\n")

    assert (
        lines[2]
        == f"requester -> accepter: ICMP echo (ping) from probe instance {INSTANCE_A} {IP_A} to subnet {SUBNET_B} {IP_B}"
    )
    assert lines[5] == "  security-groups  not checked no instance to judge: a subnet was probed, groups not checked"
    assert lines[-3:] == ["  => OK", "", "Verdict: verified"]


@pytest.mark.parametrize(
    ("analyzer", "ping", "status"),
    [
        pytest.param(None, None, "verified", id="path-only-passes"),
        pytest.param(
            AnalyzerResult("reachable", "found"), PingResult("replied", "3/3", 3, 3), "verified", id="all-agree"
        ),
        pytest.param(
            AnalyzerResult("blocked", "no path", [Finding("security-groups", "ENI_SG_RULES_MISMATCH", SG_B)]),
            None,
            "blocked:security-groups",
            id="analyzer-finding-step",
        ),
        pytest.param(
            AnalyzerResult("blocked", "no path"), None, "blocked:reachability-analyzer", id="analyzer-without-finding"
        ),
        pytest.param(
            AnalyzerResult("unavailable", "not permitted"),
            PingResult("no-reply", "0/3", 3, 0),
            "blocked:live-ping",
            id="ping-no-reply",
        ),
        pytest.param(
            AnalyzerResult("timed-out", "still running"),
            PingResult("unavailable", "not managed"),
            "verified",
            id="unavailable-and-timed-out-do-not-block",
        ),
    ],
)
def test_status_value_when_the_path_passes(
    analyzer: AnalyzerResult | None, ping: PingResult | None, status: str
) -> None:
    diagnosis = Diagnosis(peering(), [DirectionResult(passing_path(), analyzer, ping)])

    assert diagnosis.status_value == status
    assert report_text(diagnosis).split("\n")[-1] == f"Verdict: {status}"


def test_status_value_names_the_first_blocked_direction() -> None:
    back = evaluate(PEERING_ID, "active", side_b(), with_a_routes(), ICMP)
    diagnosis = Diagnosis(
        peering(),
        [DirectionResult(passing_path(), ping=PingResult("no-reply", "0/3", 3, 0)), DirectionResult(back)],
    )

    assert back.first_failure == Check("routes", False, f"{RTB_A} has no route return to {IP_B}", RTB_A)
    assert diagnosis.status_value == "blocked:live-ping"


def test_status_value_when_a_side_is_unreadable_or_has_no_endpoint() -> None:
    unreadable = Diagnosis(peering(), unreadable=[f"accepter {VPC_B} ({MEMBER}): the member role cannot be assumed"])
    no_endpoint = Diagnosis(
        peering(), [DirectionResult(evaluate(PEERING_ID, "active", side_a(), side_b(endpoint=None), ICMP))]
    )

    assert unreadable.status_value == "unverified:side-not-readable"
    assert report_text(unreadable).split("\n") == [
        HEADER,
        f"  cannot inspect accepter {VPC_B} ({MEMBER}): the member role cannot be assumed",
        "",
        "Verdict: unverified:side-not-readable",
    ]
    assert no_endpoint.status_value == "unverified:no-endpoint"
