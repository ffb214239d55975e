"""Step 4 of the runbook, planned: which ingress rules each tagged security group still needs. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import field
from typing import Any

from peering_autopilot.allow import PROTOCOL_NAMES, BadEntry, Traffic, parse_allow
from peering_autopilot.model import ALLOW_TAG, Network, SecurityGroup
from peering_autopilot.structs import NamedTuple, struct


def rule_description(peering_id: str) -> str:
    """Marks a rule as the autopilot's own, for this peering: a later cleanup removes exactly these."""
    return f"peering-autopilot {peering_id}"


class Rule(NamedTuple):
    """One ingress rule: traffic of one kind from one peer CIDR."""

    ip_protocol: str
    from_port: int
    to_port: int
    cidr: str

    @classmethod
    def of(cls, traffic: Traffic, cidr: Network) -> Rule:
        return cls(traffic.ip_protocol(ipv6=cidr.version == 6), traffic.from_port, traffic.to_port, str(cidr))

    @property
    def ipv6(self) -> bool:
        return ":" in self.cidr

    def __str__(self) -> str:
        if self.ip_protocol in ("-1", "icmp", "icmpv6"):
            kind = "all" if self.ip_protocol == "-1" else self.ip_protocol
        else:
            ports = str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"
            kind = f"{self.ip_protocol}:{ports}"
        return f"{kind} from {self.cidr}"


@struct
class GroupPlan:
    group_id: str
    add: list[Rule] = field(default_factory=list)
    present: list[Rule] = field(default_factory=list)
    bad_entries: list[BadEntry] = field(default_factory=list)
    remove: list[Rule] = field(default_factory=list)  # the autopilot's own rules no longer wanted
    kept: list[Rule] = field(default_factory=list)  # its own rules it would remove, kept: the tag is unclear
    persons: list[Rule] = field(default_factory=list)  # marked rules not in the record: a person's, kept
    unread: list[Rule] = field(default_factory=list)  # marked rules kept: the record could not be read
    unread_reason: str = ""

    @property
    def removal_candidates(self) -> bool:
        """Whether a rule carrying the marker is no longer wanted: the record says whose it is."""
        return bool(self.remove or self.kept or self.persons or self.unread)


def plan_group(
    group: SecurityGroup,
    peer_cidrs: Sequence[Network],
    peering_id: str,
    owns: Callable[[str, Rule], bool] | None = None,
    unreadable: str = "the autopilot's record was not read",
) -> GroupPlan:
    """The rules the group's allow tag asks for, from each peer CIDR, split into present and
    missing; and the rules carrying this peering's marker that are no longer asked for (the tag
    narrowed or removed, the block gone or refused), to take back when the autopilot's record
    holds them (`owns(group, rule)`). A marked rule the record does not hold is a person's (the
    marker is only a description: anyone can write it), kept and reported; with no record to ask
    (`owns` None: `unreadable` says why) nothing is taken back. With an invalid entry in the tag,
    nothing is taken back either: what the owner meant is unclear, so the rules stay, reported."""
    traffic, bad = parse_allow(group.tags.get(ALLOW_TAG, ""))
    existing = existing_rules(group)
    plan = GroupPlan(group.group_id, bad_entries=bad)
    wanted: set[Rule] = set()
    for kind in traffic:
        for cidr in peer_cidrs:
            rule = Rule.of(kind, cidr)
            wanted.add(rule)
            (plan.present if rule in existing else plan.add).append(rule)
    unwanted = sorted(own_rules(group, peering_id) - wanted)
    if owns is None:
        plan.unread, plan.unread_reason = unwanted, unreadable if unwanted else ""
        return plan
    plan.persons = [r for r in unwanted if not owns(group.group_id, r)]
    unwanted = [r for r in unwanted if owns(group.group_id, r)]
    if bad:
        plan.kept = unwanted
    else:
        plan.remove = unwanted
    return plan


def own_rules(group: SecurityGroup, peering_id: str) -> set[Rule]:
    """The group's ingress rules that carry the autopilot's marker for this peering."""
    return existing_rules(group, description=rule_description(peering_id))


def existing_rules(group: SecurityGroup, description: str | None = None) -> set[Rule]:
    """The group's ingress rules, one per protocol, port range and CIDR; only those whose
    description is `description` when it is given."""
    rules: set[Rule] = set()
    for permission in group.ingress:
        protocol = PROTOCOL_NAMES.get(permission.protocol, permission.protocol)
        low = _port(permission.from_port) if protocol != "-1" else -1
        high = _port(permission.to_port) if protocol != "-1" else -1
        for ip_range in permission.ranges:
            if description is None or ip_range.description == description:
                rules.add(Rule(protocol, low, high, ip_range.cidr))
    return rules


def _port(port: int | None) -> int:
    return -1 if port is None else port


def ip_permissions(rules: Sequence[Rule], description: str | None = None) -> list[dict[str, Any]]:
    """The IpPermissions of an Authorize (with the marker as description) or a Revoke (without: a
    revoke matches protocol, ports and CIDR): one entry per protocol and port range."""
    grouped: dict[tuple[str, int, int], list[Rule]] = {}
    for rule in rules:
        grouped.setdefault((rule.ip_protocol, rule.from_port, rule.to_port), []).append(rule)
    permissions = []
    for (protocol, low, high), members in sorted(grouped.items()):
        permission: dict[str, Any] = {"IpProtocol": protocol}
        if protocol != "-1":
            permission.update(FromPort=low, ToPort=high)
        described = {"Description": description} if description else {}
        v4 = [{"CidrIp": r.cidr, **described} for r in members if not r.ipv6]
        v6 = [{"CidrIpv6": r.cidr, **described} for r in members if r.ipv6]
        if v4:
            permission["IpRanges"] = v4
        if v6:
            permission["Ipv6Ranges"] = v6
        permissions.append(permission)
    return permissions


def autopilot_permissions(group: SecurityGroup, peering_id: str) -> list[dict[str, Any]]:
    """The group's ingress ranges that carry the autopilot's description for this peering, as
    the IpPermissions a revoke takes; ranges a person wrote are left out."""
    mark = rule_description(peering_id)
    permissions = []
    for permission in group.ingress:
        v4 = [r for r in permission.ipv4_ranges if r.description == mark]
        v6 = [r for r in permission.ipv6_ranges if r.description == mark]
        if not (v4 or v6):
            continue
        kept: dict[str, Any] = {"IpProtocol": permission.protocol}
        if permission.protocol != "-1":
            for key, port in (("FromPort", permission.from_port), ("ToPort", permission.to_port)):
                if port is not None:
                    kept[key] = port
        if v4:
            kept["IpRanges"] = [{"CidrIp": r.cidr} for r in v4]
        if v6:
            kept["Ipv6Ranges"] = [{"CidrIpv6": r.cidr} for r in v6]
        permissions.append(kept)
    return permissions


def describe_permissions(permissions: list[dict[str, Any]]) -> list[str]:
    words = []
    for p in permissions:
        ports = "" if p["IpProtocol"] in ("-1", "icmp", "icmpv6") else f":{p['FromPort']}-{p['ToPort']}"
        for r in p.get("IpRanges", []) + p.get("Ipv6Ranges", []):
            words.append(f"{p['IpProtocol']}{ports} from {r.get('CidrIp') or r.get('CidrIpv6')}")
    return words


def peerings_opened(groups: Iterable[SecurityGroup]) -> set[str]:
    """Peerings the autopilot's rules in these groups were written for, read from their descriptions."""
    prefix = rule_description("")
    return {
        r.description.removeprefix(prefix)
        for g in groups
        for p in g.ingress
        for r in p.ranges
        if r.description.startswith(prefix + "pcx-")
    }
