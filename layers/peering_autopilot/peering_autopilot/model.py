"""What the autopilot knows of a peering and its VPCs, read from EC2's own responses."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

IPv4 = ipaddress.IPv4Network
IPv6 = ipaddress.IPv6Network

# The tags people set, and the one the autopilot writes (the public contract, in one place).
ENABLED_TAG = "peering-autopilot:enabled"  # VPC: its owner opts in
ALLOW_TAG = "peering-autopilot:allow"  # security group: what to open to peers
ROUTES_TAG = "peering-autopilot:routes"  # route table: left out of peering routes
PROBE_TAG = "peering-autopilot:probe"  # instance or interface: where the probe starts
STATUS_TAG = "peering-autopilot:status"  # peering: where the automation stands
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


@dataclass(frozen=True)
class Cidrs:
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Peering:
    peering_id: str
    status: str
    status_message: str
    requester: PeeringSide
    accepter: PeeringSide
    tags: Mapping[str, str] = field(default_factory=dict)

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
        )


@dataclass(frozen=True)
class Vpc:
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


class Described:
    """A dataclass that events describe field by field (`as_event`)."""

    def describe(self) -> dict[str, Any]:
        return dict(as_event(self))


def as_event(value: Any) -> Any:
    """A dataclass (or a list of them) as the JSON of an event: field names in lowerCamelCase."""
    if is_dataclass(value) and not isinstance(value, type):
        return {_camel(f.name): as_event(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [as_event(v) for v in value]
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
