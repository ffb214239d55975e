"""What the autopilot knows of a peering and its VPCs, read from EC2's own responses."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import field, fields, is_dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from peering_autopilot.structs import NamedTuple, struct

# The model's values are NamedTuples where nothing needs a dataclass (a field left out of equality,
# `as_event`): immutable, compared by value, and about a sixth of a frozen dataclass's cost to
# define, which every handler pays at cold start.
_NO_TAGS: Mapping[str, str] = MappingProxyType({})
IPv4 = ipaddress.IPv4Network
IPv6 = ipaddress.IPv6Network

# The tags people set, and the one the autopilot writes (the public contract, in one place).
ENABLED_TAG = "peering-autopilot:enabled"  # VPC: its owner opts in
ALLOW_TAG = "peering-autopilot:allow"  # security group: what to open to peers
ROUTES_TAG = "peering-autopilot:routes"  # route table: left out of peering routes
PROBE_TAG = "peering-autopilot:probe"  # instance or interface: where the probe starts
STATUS_TAG = "peering-autopilot:status"  # peering: where the automation stands
# Status values the judge of a side reads: the probe's verdict, and a hold for a person (held:<code>).
VERIFIED = "verified"
HELD = "held:"
GROUP_TAG = "peering-autopilot:group"  # VPC: the peering groups it belongs to (comma-separated names)
DNS_TAG = "peering-autopilot:dns"  # VPC: its owner lets peers resolve its DNS hostnames privately
# Peering: the autopilot requested it for this group (set at creation). Only such a peering is
# ever deleted by the autopilot, when its two VPCs no longer share a group.
CREATED_FOR_TAG = "peering-autopilot:created-for-group"
# Peering (each side's own view), + ":requester" or ":accepter": the autopilot turned that side's
# remote DNS on, so it may turn it off. Per role: a peering within one account has one view.
REMOTE_DNS_TAG = "peering-autopilot:remote-dns"
NAME_TAG = "Name"
# A group name: what a tag value must be to count (anything else makes the membership unknown).
GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/+=@-]{0,62}", re.ASCII)
REQUESTER, ACCEPTER = "requester", "accepter"

INITIATING = "initiating-request"
# The peering lifecycle, as EC2 reports it: initiating-request -> pending-acceptance ->
# provisioning -> active; or rejected, expired (unaccepted after 7 days), failed, deleting, deleted.
PENDING = "pending-acceptance"
PROVISIONING = "provisioning"
ACTIVE = "active"
CONFIGURABLE_STATES = frozenset({PROVISIONING, ACTIVE})  # AWS accepts routes from provisioning on
# A peering in one of these states carries no traffic and never will again.
ENDED_STATES = frozenset({"deleted", "deleting", "rejected", "expired", "failed"})
# What a sweep reads: every state in which there may be work (to decide, configure or clean up).
# initiating-request too: a request just sent is a peering of the pair already (never a second).
SWEPT_STATES = frozenset({INITIATING, PENDING, *CONFIGURABLE_STATES, *(ENDED_STATES - {"deleting"})})
# The states that hold a pair of VPCs: a peering in one of them is the pair's peering.
LIVE_STATES = frozenset({INITIATING, PENDING, *CONFIGURABLE_STATES})

# CIDR association states that still claim the address space (a block being disassociated still
# routes until it is gone: counting it can only make the overlap check stricter).
_LIVE_CIDR_STATES = frozenset({"associated", "associating", "disassociating"})


class Cidrs(NamedTuple):
    """The IPv4 and IPv6 blocks of one VPC, primary and secondary alike."""

    ipv4: tuple[IPv4, ...] = ()
    ipv6: tuple[IPv6, ...] = ()

    @classmethod
    def of(cls, blocks: Iterable[str]) -> Cidrs:
        v4: list[IPv4] = []
        v6: list[IPv6] = []
        for block in blocks:
            network = ipaddress.ip_network(block, strict=False)
            if isinstance(network, IPv4):
                v4.append(network)
            else:
                v6.append(network)
        return cls(tuple(dict.fromkeys(v4)), tuple(dict.fromkeys(v6)))

    def union(self, other: Cidrs) -> Cidrs:
        return Cidrs(
            tuple(dict.fromkeys(self.ipv4 + other.ipv4)),
            tuple(dict.fromkeys(self.ipv6 + other.ipv6)),
        )

    def as_strings(self) -> list[str]:
        return [str(n) for n in (*self.ipv4, *self.ipv6)]


@struct(frozen=True)
class PeeringSide:
    """One end of a peering as the peering itself describes it."""

    account_id: str
    region: str
    vpc_id: str
    cidrs: Cidrs
    # This side's peering option: peers may resolve its VPC's public DNS hostnames to private
    # addresses. None when EC2 did not say (a peering not active yet has no options).
    remote_dns: bool | None = field(default=None, compare=False)

    @classmethod
    def from_api(cls, info: Mapping[str, Any], default_region: str) -> PeeringSide:
        blocks = [info["CidrBlock"]] if info.get("CidrBlock") else []
        blocks += [b["CidrBlock"] for b in info.get("CidrBlockSet", []) if b.get("CidrBlock")]
        blocks += [b["Ipv6CidrBlock"] for b in info.get("Ipv6CidrBlockSet", []) if b.get("Ipv6CidrBlock")]
        dns = info.get("PeeringOptions", {}).get("AllowDnsResolutionFromRemoteVpc")
        return cls(
            account_id=info["OwnerId"],
            region=info.get("Region") or default_region,
            vpc_id=info["VpcId"],
            cidrs=Cidrs.of(blocks),
            remote_dns=dns if isinstance(dns, bool) else None,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "region": self.region,
            "vpcId": self.vpc_id,
            "cidrs": self.cidrs.as_strings(),
        }


class Peering(NamedTuple):
    peering_id: str
    status: str
    status_message: str
    requester: PeeringSide
    accepter: PeeringSide
    tags: Mapping[str, str] = _NO_TAGS
    # When AWS expires a pending request (ExpirationTime), seconds since the epoch; None when not given.
    expiration_time: float | None = None

    @property
    def pending(self) -> bool:
        return self.status == PENDING

    @property
    def configurable(self) -> bool:
        return self.status in CONFIGURABLE_STATES

    @property
    def ended(self) -> bool:
        return self.status in ENDED_STATES

    def sides(self) -> tuple[tuple[str, PeeringSide], tuple[str, PeeringSide]]:
        """Both ends with their role names, requester first."""
        return (REQUESTER, self.requester), (ACCEPTER, self.accepter)

    def arn(self, partition: str) -> str:
        """The peering's ARN in the accepter's account and region; `partition` is that region's
        (`aws`, `aws-cn`, `aws-us-gov`, ...), which only botocore's endpoint data knows."""
        side = self.accepter
        return f"arn:{partition}:ec2:{side.region}:{side.account_id}:vpc-peering-connection/{self.peering_id}"

    @classmethod
    def from_api(cls, item: Mapping[str, Any], region: str) -> Peering:
        status = item.get("Status", {})
        return cls(
            peering_id=item["VpcPeeringConnectionId"],
            status=status.get("Code", "unknown"),
            status_message=status.get("Message", ""),
            requester=PeeringSide.from_api(item["RequesterVpcInfo"], region),
            accepter=PeeringSide.from_api(item["AccepterVpcInfo"], region),
            tags={t["Key"]: t["Value"] for t in item.get("Tags", [])},
            expiration_time=_epoch(item.get("ExpirationTime")),
        )


def _epoch(value: Any) -> float | None:
    """boto3's datetime (or an ISO 8601 string, from an emulator) as seconds since the epoch."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return None


class Vpc(NamedTuple):
    """A VPC as its owner's account describes it: the authority on its tags and CIDR blocks."""

    vpc_id: str
    account_id: str
    region: str
    cidrs: Cidrs
    tags: Mapping[str, str]

    @property
    def opted_in(self) -> bool:
        return self.tags.get(ENABLED_TAG) == "true"  # exactly: never act on a guess

    @classmethod
    def from_api(cls, item: Mapping[str, Any], region: str) -> Vpc:
        blocks = [item["CidrBlock"]] if item.get("CidrBlock") else []
        blocks += [
            a["CidrBlock"]
            for a in item.get("CidrBlockAssociationSet", [])
            if a.get("CidrBlockState", {}).get("State") in _LIVE_CIDR_STATES
        ]
        blocks += [
            a["Ipv6CidrBlock"]
            for a in item.get("Ipv6CidrBlockAssociationSet", [])
            if a.get("Ipv6CidrBlockState", {}).get("State") in _LIVE_CIDR_STATES
        ]
        return cls(
            vpc_id=item["VpcId"],
            account_id=item["OwnerId"],
            region=region,
            cidrs=Cidrs.of(blocks),
            tags={t["Key"]: t["Value"] for t in item.get("Tags", [])},
        )


Network = IPv4 | IPv6

# Where a route can point, in the order that names its target (an instance route also names its
# interface: the interface is reported), and the kind each key stands for.
ROUTE_TARGETS = {
    "VpcPeeringConnectionId": "vpc-peering-connection",
    "GatewayId": "gateway",
    "NatGatewayId": "nat-gateway",
    "TransitGatewayId": "transit-gateway",
    "NetworkInterfaceId": "network-interface",
    "InstanceId": "instance",
    "EgressOnlyInternetGatewayId": "egress-only-internet-gateway",
    "LocalGatewayId": "local-gateway",
    "CarrierGatewayId": "carrier-gateway",
    "CoreNetworkArn": "core-network",
}
PEERING_TARGET = ROUTE_TARGETS["VpcPeeringConnectionId"]
# Association states that still bind a table to its subnet (or make it the main one).
_LIVE_ASSOCIATION_STATES = frozenset({"associated", "associating"})


def _tags(item: Mapping[str, Any], key: str = "Tags") -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in item.get(key, [])}


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


class TableRoute(NamedTuple):
    """One route of a route table. `destination` is None for a prefix-list destination
    (`prefix_list_id`), which the planners leave alone."""

    destination: Network | None
    target_kind: str  # one of ROUTE_TARGETS' values; "" when EC2 names no target
    target_id: str
    state: str  # active or blackhole
    prefix_list_id: str = ""
    # How the route came to be: CreateRouteTable (the local route), CreateRoute, or
    # EnableVgwRoutePropagation (propagated: it does not count against the routes quota).
    origin: str = "CreateRoute"

    @property
    def blackhole(self) -> bool:
        return self.state == "blackhole"

    @property
    def propagated(self) -> bool:
        return self.origin == "EnableVgwRoutePropagation"

    @property
    def peering_id(self) -> str:
        """The peering the route goes through, or ""."""
        return self.target_id if self.target_kind == PEERING_TARGET else ""

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> TableRoute:
        block = item.get("DestinationCidrBlock") or item.get("DestinationIpv6CidrBlock")
        kind, target = next(((k, str(item[key])) for key, k in ROUTE_TARGETS.items() if item.get(key)), ("", ""))
        return cls(
            destination=ipaddress.ip_network(block, strict=False) if block else None,
            target_kind=kind,
            target_id=target,
            state=str(item.get("State", "active")),
            prefix_list_id=str(item.get("DestinationPrefixListId") or ""),
            origin=str(item.get("Origin") or "CreateRoute"),
        )


class QuotaRead(NamedTuple):
    """An applied quota as Service Quotas gave it (`value`), or None where it was not read, and
    why (`note`: in the plan's words)."""

    value: int | None
    note: str


class TableAssociation(NamedTuple):
    """A route table's association: the VPC's main table, or a subnet's (or a gateway's)."""

    main: bool
    subnet_id: str  # "" when not a subnet association
    state: str  # associated, associating, disassociating, ...

    @property
    def live(self) -> bool:
        return self.state in _LIVE_ASSOCIATION_STATES

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> TableAssociation:
        return cls(
            main=bool(item.get("Main")),
            subnet_id=str(item.get("SubnetId") or ""),
            state=str(item.get("AssociationState", {}).get("State", "associated")),
        )


class RouteTable(NamedTuple):
    route_table_id: str
    vpc_id: str
    tags: Mapping[str, str] = _NO_TAGS
    associations: tuple[TableAssociation, ...] = ()
    routes: tuple[TableRoute, ...] = ()

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> RouteTable:
        return cls(
            route_table_id=str(item["RouteTableId"]),
            vpc_id=str(item.get("VpcId", "")),
            tags=_tags(item),
            associations=tuple(TableAssociation.from_api(a) for a in item.get("Associations", [])),
            routes=tuple(TableRoute.from_api(r) for r in item.get("Routes", [])),
        )


class IpRange(NamedTuple):
    """A CIDR a security group rule names, as EC2 spells it, with the rule's description."""

    cidr: str
    description: str = ""


class Permission(NamedTuple):
    """One IpPermissions entry: a protocol (as EC2 spells it: -1, tcp, 6, ...), a port range
    (None where EC2 gives none) and the sources it lets in (or destinations it lets out)."""

    protocol: str
    from_port: int | None = None
    to_port: int | None = None
    ipv4_ranges: tuple[IpRange, ...] = ()
    ipv6_ranges: tuple[IpRange, ...] = ()
    group_ids: tuple[str, ...] = ()  # referenced security groups
    prefix_list_ids: tuple[str, ...] = ()  # referenced prefix lists

    @property
    def ranges(self) -> tuple[IpRange, ...]:
        return self.ipv4_ranges + self.ipv6_ranges

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Permission:
        return cls(
            protocol=str(item.get("IpProtocol", "-1")),
            from_port=_int_or_none(item.get("FromPort")),
            to_port=_int_or_none(item.get("ToPort")),
            ipv4_ranges=tuple(
                IpRange(str(r["CidrIp"]), str(r.get("Description", ""))) for r in item.get("IpRanges", [])
            ),
            ipv6_ranges=tuple(
                IpRange(str(r["CidrIpv6"]), str(r.get("Description", ""))) for r in item.get("Ipv6Ranges", [])
            ),
            group_ids=tuple(str(p["GroupId"]) for p in item.get("UserIdGroupPairs", []) if p.get("GroupId")),
            prefix_list_ids=tuple(
                str(p["PrefixListId"]) for p in item.get("PrefixListIds", []) if p.get("PrefixListId")
            ),
        )


class SecurityGroup(NamedTuple):
    group_id: str
    vpc_id: str
    tags: Mapping[str, str] = _NO_TAGS
    ingress: tuple[Permission, ...] = ()
    egress: tuple[Permission, ...] = ()

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> SecurityGroup:
        return cls(
            group_id=str(item["GroupId"]),
            vpc_id=str(item.get("VpcId", "")),
            tags=_tags(item),
            ingress=tuple(Permission.from_api(p) for p in item.get("IpPermissions", [])),
            egress=tuple(Permission.from_api(p) for p in item.get("IpPermissionsEgress", [])),
        )


class AclEntry(NamedTuple):
    """One network ACL entry. Ports, ICMP type: None where EC2 gives none."""

    rule_number: int
    egress: bool
    protocol: str  # as EC2 spells it: -1, 6, 17, 1, ...
    action: str  # allow or deny
    block: Network | None
    from_port: int | None = None
    to_port: int | None = None
    icmp_type: int | None = None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> AclEntry:
        block = item.get("CidrBlock") or item.get("Ipv6CidrBlock")
        ports = item.get("PortRange", {})
        return cls(
            rule_number=int(item["RuleNumber"]),
            egress=bool(item.get("Egress")),
            protocol=str(item.get("Protocol")),
            action=str(item.get("RuleAction", "")),
            block=ipaddress.ip_network(block, strict=False) if block else None,
            from_port=_int_or_none(ports.get("From")),
            to_port=_int_or_none(ports.get("To")),
            icmp_type=_int_or_none(item.get("IcmpTypeCode", {}).get("Type")),
        )


class NetworkAcl(NamedTuple):
    network_acl_id: str
    vpc_id: str
    is_default: bool = False
    subnet_ids: tuple[str, ...] = ()  # the subnets associated with it
    entries: tuple[AclEntry, ...] = ()

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> NetworkAcl:
        return cls(
            network_acl_id=str(item["NetworkAclId"]),
            vpc_id=str(item.get("VpcId", "")),
            is_default=bool(item.get("IsDefault")),
            subnet_ids=tuple(str(a["SubnetId"]) for a in item.get("Associations", []) if a.get("SubnetId")),
            entries=tuple(AclEntry.from_api(e) for e in item.get("Entries", [])),
        )


class Described:
    """A dataclass that events describe field by field (`as_event`)."""

    def describe(self) -> dict[str, Any]:
        return dict(as_event(self))


def as_event(value: Any) -> Any:
    """A dataclass (or a list of them) as the JSON of an event: field names in lowerCamelCase."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            _camel(f.name): as_event(getattr(value, f.name)) for f in fields(value) if f.metadata.get("event", True)
        }
    if isinstance(value, list | tuple):
        return [as_event(v) for v in value]
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
