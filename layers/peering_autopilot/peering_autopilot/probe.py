"""The runbook's "if ping fails, check in this order", as a pure function over what EC2 describes:
peering status -> route tables on both sides -> security groups -> network ACLs -> addresses.

Nothing here calls AWS: `verify.py` gathers a snapshot of each side, this module judges it, so
every failing case is a table row in the tests and the doctor command prints the same verdict.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from typing import Any

from peering_autopilot.allow import PROTOCOL_NAMES, Traffic, parse_allow
from peering_autopilot.model import (
    ALLOW_TAG,
    AclEntry,
    Cidrs,
    NetworkAcl,
    Permission,
    RouteTable,
    SecurityGroup,
    TableRoute,
)
from peering_autopilot.routes import route_target
from peering_autopilot.structs import NamedTuple, struct

STEPS = ("peering", "routes", "security-groups", "network-acls", "addresses")
ICMP_ECHO = Traffic("icmp")
# Ports a client may pick for the return leg (Linux uses 32768-60999, Windows 49152-65535, AWS
# recommends opening 1024-65535): an ACL must let the return traffic back to all of them.
EPHEMERAL_SAMPLES = (1024, 32768, 49152, 60999, 65535)
_ICMP_ECHO_REQUEST, _ICMP_ECHO_REPLY = 8, 0
# RFC 6598 space: not "private" to Python, but AWS accepts it for VPCs (and suggests it for
# secondary blocks), and it is not routed on the internet.
_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")


class Endpoint(NamedTuple):
    """Where a probe starts or ends: a tagged probe instance or interface, else a representative
    instance, else a representative subnet (then no security group can be judged)."""

    kind: str  # "probe instance", "probe interface", "instance", "subnet"
    resource_id: str
    ip: str
    subnet_id: str
    group_ids: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.kind} {self.resource_id} {self.ip}"


@struct
class SideSnapshot:
    """What the probe needs of one VPC, read once per side."""

    role: str
    account_id: str
    region: str
    vpc_id: str
    cidrs: Cidrs
    endpoint: Endpoint | None
    route_tables: Sequence[RouteTable] = ()
    network_acls: Sequence[NetworkAcl] = ()
    security_groups: Mapping[str, SecurityGroup] = field(default_factory=dict)

    def traffic_in(self) -> Traffic:
        """What to test towards this side: the first entry of its endpoint's allow-tagged group,
        else ICMP echo, as the runbook tests with ping."""
        for group_id in self.endpoint.group_ids if self.endpoint else ():
            group = self.security_groups.get(group_id)
            wanted, _ = parse_allow(group.tags.get(ALLOW_TAG, "") if group else "")
            if wanted:
                return ICMP_ECHO if wanted[0].protocol == "-1" else wanted[0]
        return ICMP_ECHO


class Check(NamedTuple):
    step: str
    ok: bool | None  # None: could not be judged (said why)
    detail: str
    component: str = ""

    def describe(self) -> dict[str, Any]:
        result = "pass" if self.ok else ("not checked" if self.ok is None else "fail")
        return {"step": self.step, "result": result, "detail": self.detail, "component": self.component}


@struct
class Direction:
    source: SideSnapshot
    destination: SideSnapshot
    traffic: Traffic
    checks: list[Check]

    @property
    def name(self) -> str:
        return f"{self.source.role} -> {self.destination.role}"

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if c.ok is False), None)

    @property
    def passed(self) -> bool:
        return self.first_failure is None

    def describe(self) -> dict[str, Any]:
        failure = self.first_failure
        return {
            "direction": self.name,
            "source": self.source.endpoint.label if self.source.endpoint else None,
            "destination": self.destination.endpoint.label if self.destination.endpoint else None,
            "traffic": describe_traffic(self.traffic),
            "passed": self.passed,
            "firstFailure": failure.describe() if failure else None,
            "checks": [c.describe() for c in self.checks],
        }


def describe_traffic(traffic: Traffic) -> str:
    return "ICMP echo (ping)" if traffic.protocol == "icmp" else f"{traffic.protocol.upper()} {traffic.from_port}"


def evaluate(
    peering_id: str, peering_status: str, source: SideSnapshot, destination: SideSnapshot, traffic: Traffic
) -> Direction:
    """The checklist for traffic from `source` to `destination`, every step, in the seed's order."""
    src, dst = source.endpoint, destination.endpoint
    checks = [_peering(peering_id, peering_status)]
    if src is None or dst is None:
        missing = source if src is None else destination
        checks.append(Check("routes", None, f"no instance or subnet found in {missing.vpc_id}", missing.vpc_id))
        return Direction(source, destination, traffic, checks)
    checks.append(_routes(peering_id, source, destination))
    checks.append(_security_groups(source, destination, traffic))
    checks.append(_network_acls(source, destination, traffic))
    checks.append(_addresses(source, destination))
    return Direction(source, destination, traffic, checks)


# ---------------------------------------------------------------------------------------------- 1
def _peering(peering_id: str, status: str) -> Check:
    if status == "active":
        return Check("peering", True, f"{peering_id} is active", peering_id)
    return Check("peering", False, f"{peering_id} is {status}, not active", peering_id)


# ---------------------------------------------------------------------------------------------- 2
def _routes(peering_id: str, source: SideSnapshot, destination: SideSnapshot) -> Check:
    assert source.endpoint and destination.endpoint
    legs = (
        (source, source.endpoint.subnet_id, destination.endpoint.ip, "to"),
        (destination, destination.endpoint.subnet_id, source.endpoint.ip, "return to"),
    )
    words = []
    for side, subnet_id, ip, leg in legs:
        table = route_table_of(side.route_tables, subnet_id)
        if table is None:
            return Check("routes", False, f"no route table found for {subnet_id}", subnet_id)
        table_id = table.route_table_id
        route = longest_prefix_match(table, ip)
        if route is None:
            return Check("routes", False, f"{table_id} has no route {leg} {ip}", table_id)
        destination_block = route.destination
        target = route_target(route)
        component = f"{table_id} {destination_block} -> {target}"
        if route.peering_id != peering_id:
            return Check(
                "routes",
                False,
                f"{table_id} sends {ip} ({leg}) to {target} via {destination_block}, not {peering_id}",
                component,
            )
        if route.blackhole:
            return Check(
                "routes", False, f"{table_id} route {destination_block} -> {peering_id} is a blackhole", component
            )
        words.append(f"{table_id} {destination_block} -> {peering_id}")
    return Check("routes", True, "; return: ".join(words), words[0].split()[0])


def route_table_of(tables: Iterable[RouteTable], subnet_id: str) -> RouteTable | None:
    """The subnet's explicitly associated table, else the VPC's main table."""
    main = None
    for table in tables:
        for association in table.associations:
            if not association.live:
                continue
            if association.subnet_id == subnet_id:
                return table
            if association.main:
                main = table
    return main


def longest_prefix_match(table: RouteTable, ip: str) -> TableRoute | None:
    address = ipaddress.ip_address(ip)
    best: tuple[int, TableRoute] | None = None
    for route in table.routes:
        network = route.destination
        if network is None:
            continue
        if network.version == address.version and address in network and (best is None or network.prefixlen > best[0]):
            best = (network.prefixlen, route)
    return best[1] if best else None


# ---------------------------------------------------------------------------------------------- 3
def _security_groups(source: SideSnapshot, destination: SideSnapshot, traffic: Traffic) -> Check:
    src, dst = source.endpoint, destination.endpoint
    assert src and dst
    if src.kind == "subnet" or dst.kind == "subnet":
        return Check("security-groups", None, "no instance to judge: a subnet was probed, groups not checked")
    allowed: list[str] = []
    # The source's groups must let it out, the destination's let it in; replies follow (stateful).
    for side, here, there, egress, way in (
        (source, src, dst, True, "out to"),
        (destination, dst, src, False, "in from"),
    ):
        group = _group_allows(side.security_groups, here.group_ids, egress, traffic, there.ip, there.group_ids)
        if not group:
            groups = ", ".join(here.group_ids)
            words = f"{groups} of {here.resource_id} allow no {describe_traffic(traffic)} {way} {there.ip}"
            return Check("security-groups", False, words, groups)
        allowed.append(group)
    out_ok, in_ok = allowed
    return Check("security-groups", True, f"{out_ok} lets it out; {in_ok} lets it in (stateful: replies return)", in_ok)


def _group_allows(
    groups: Mapping[str, SecurityGroup],
    group_ids: Sequence[str],
    egress: bool,
    traffic: Traffic,
    peer_ip: str,
    peer_groups: Sequence[str],
) -> str:
    """The first group id whose rules (egress or ingress) let the traffic through, or "" when none does."""
    address = ipaddress.ip_address(peer_ip)
    for group_id in group_ids:
        group = groups.get(group_id)
        if group is None:
            continue
        for permission in group.egress if egress else group.ingress:
            if not _permission_covers(permission, traffic):
                continue
            if any(address in ipaddress.ip_network(r.cidr, strict=False) for r in permission.ranges):
                return group_id
            if any(pair in peer_groups for pair in permission.group_ids):
                return group_id
    return ""


def _permission_covers(permission: Permission, traffic: Traffic) -> bool:
    protocol = PROTOCOL_NAMES.get(permission.protocol, permission.protocol)
    if protocol == "-1":
        return True
    if traffic.protocol == "icmp":
        icmp_type = -1 if permission.from_port is None else permission.from_port
        return protocol == "icmp" and icmp_type in (-1, _ICMP_ECHO_REQUEST)  # endpoints are IPv4: not ICMPv6
    if protocol != traffic.protocol:
        return False
    low = 0 if permission.from_port is None else permission.from_port
    high = 65535 if permission.to_port is None else permission.to_port
    return low <= traffic.from_port <= high


# ---------------------------------------------------------------------------------------------- 4
def _network_acls(source: SideSnapshot, destination: SideSnapshot, traffic: Traffic) -> Check:
    src, dst = source.endpoint, destination.endpoint
    assert src and dst
    src_acl = acl_of(source.network_acls, src.subnet_id)
    dst_acl = acl_of(destination.network_acls, dst.subnet_id)
    if src_acl is None or dst_acl is None:
        missing = src.subnet_id if src_acl is None else dst.subnet_id
        return Check("network-acls", None, f"no network ACL found for {missing}", missing)
    forward = _port_or_type(traffic, reply=False)
    back_ports = EPHEMERAL_SAMPLES if traffic.protocol in ("tcp", "udp") else (_ICMP_ECHO_REPLY,)
    legs = [
        (src_acl, True, dst.ip, (forward,), "out", f"to {dst.ip}"),
        (dst_acl, False, src.ip, (forward,), "in", f"from {src.ip}"),
        (dst_acl, True, src.ip, back_ports, "out (return)", f"back to {src.ip}"),
        (src_acl, False, dst.ip, back_ports, "in (return)", f"back from {dst.ip}"),
    ]
    for acl, egress, peer_ip, ports, leg, words in legs:
        for port in ports:
            rule = first_matching_entry(acl, egress, traffic.protocol, port, peer_ip)
            if rule is None or rule.action != "allow":
                number = rule.rule_number if rule else "*"
                acl_id = acl.network_acl_id
                what = (
                    f"port {port}"
                    if traffic.protocol in ("tcp", "udp")
                    else ("echo reply" if port == 0 else "echo request")
                )
                return Check(
                    "network-acls",
                    False,
                    f"{acl_id} rule {number} denies {traffic.protocol} {what} {leg} {words}",
                    f"{acl_id} rule {number}",
                )
    return Check(
        "network-acls",
        True,
        f"{src_acl.network_acl_id} and {dst_acl.network_acl_id} allow both ways, replies included",
        dst_acl.network_acl_id,
    )


def _port_or_type(traffic: Traffic, reply: bool) -> int:
    if traffic.protocol == "icmp":
        return _ICMP_ECHO_REPLY if reply else _ICMP_ECHO_REQUEST
    return traffic.from_port


def acl_of(acls: Iterable[NetworkAcl], subnet_id: str) -> NetworkAcl | None:
    default = None
    for acl in acls:
        if subnet_id in acl.subnet_ids:
            return acl
        if acl.is_default:
            default = acl
    return default


def first_matching_entry(
    acl: NetworkAcl, egress: bool, protocol: str, port_or_type: int, peer_ip: str
) -> AclEntry | None:
    """Network ACLs are stateless and ordered: the lowest-numbered matching entry decides."""
    address = ipaddress.ip_address(peer_ip)
    entries = sorted((e for e in acl.entries if e.egress == egress), key=lambda e: e.rule_number)
    for entry in entries:
        if entry.block is None or address not in entry.block:
            continue
        entry_protocol = PROTOCOL_NAMES.get(entry.protocol, entry.protocol)
        if entry_protocol == "-1":
            return entry
        if entry_protocol != protocol:
            continue
        if protocol == "icmp":
            icmp_type = -1 if entry.icmp_type is None else entry.icmp_type
            if icmp_type in (-1, port_or_type):
                return entry
            continue
        low = 0 if entry.from_port is None else entry.from_port
        high = 65535 if entry.to_port is None else entry.to_port
        if low <= port_or_type <= high:
            return entry
    return None


# ---------------------------------------------------------------------------------------------- 5
def _addresses(source: SideSnapshot, destination: SideSnapshot) -> Check:
    for side in (source, destination):
        endpoint = side.endpoint
        assert endpoint
        address = ipaddress.ip_address(endpoint.ip)
        if not (address.is_private or address in _SHARED_ADDRESS_SPACE):
            return Check(
                "addresses",
                False,
                f"{endpoint.ip} of {endpoint.resource_id} is not a private address",
                endpoint.resource_id,
            )
        blocks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [*side.cidrs.ipv4, *side.cidrs.ipv6]
        if not any(address.version == block.version and address in block for block in blocks):
            inside = ", ".join(str(b) for b in blocks)
            return Check(
                "addresses",
                False,
                f"{endpoint.ip} of {endpoint.resource_id} is outside {side.vpc_id} ({inside})",
                endpoint.resource_id,
            )
    assert source.endpoint and destination.endpoint
    return Check(
        "addresses", True, f"{source.endpoint.ip} and {destination.endpoint.ip} are private and inside their VPCs"
    )
