"""Budgets (issue 21, rule 4): what a peering may add to a route table or a security group before
the table or the group runs out of room for its owner's own changes. Pure.

Before anything is added, what the table or the group already holds is counted against its quota,
and a headroom (QuotaHeadroomPercent) is kept: an addition that would pass the quota less the
headroom is held (status `held:quota`), never written in part. Counted as AWS counts:
- routes per route table (Service Quotas vpc/L-93826ACB, 50 by default): every route that was not
  propagated (the local route and every route made by CreateRoute, blackholes too), IPv4 and IPv6
  apart, each against the same quota value. A prefix-list route counts once in each family: AWS
  counts it as the list's maximum entries, which the autopilot does not read (a floor, not a guess
  above it; a refusal at the quota is still held by `holds`).
- inbound rules per security group (vpc/L-0EA8095F, 60 by default): each IPv4 range, IPv6 range,
  prefix list and group reference one rule, IPv4 and IPv6 apart against the same quota value; a
  group reference or a prefix list has no family, so it counts in both.
The quota value is AWS's default unless Service Quotas was read for it: the judge asks for it
(`to_read`) only when the default would be passed, for an applied quota is never below its
default. Where it cannot be read (not granted, AccessDenied, no applied value), the default
stands, and the words say so.

Two caps (template parameters) bound one peering whatever the room: MaxPeerBlocks, the blocks one
peer may bring (per family), and MaxRulesPerPeeringPerGroup, the rules one peering may have in one
group (per family). Over a cap, every addition the cap concerns is held: never a partial guess
about which blocks or rules to keep.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from peering_autopilot.model import Network, QuotaRead, RouteTable, SecurityGroup
from peering_autopilot.settings import DEFAULT_BUDGETS
from peering_autopilot.settings import BudgetLimits as Limits
from peering_autopilot.structs import NamedTuple

QUOTA = "quota"  # the status code: held:quota


class Quota(NamedTuple):
    code: str  # Service Quotas' code, service `vpc`
    name: str
    default: int  # AWS's default value, in every region


ROUTES_QUOTA = Quota("L-93826ACB", "routes per route table", 50)
RULES_QUOTA = Quota("L-0EA8095F", "inbound or outbound rules per security group", 60)
SERVICE_CODE = "vpc"


DEFAULT_LIMITS = DEFAULT_BUDGETS
FAMILIES = {4: "IPv4", 6: "IPv6"}


class BudgetHold(NamedTuple):
    """Additions held on one resource (a table, a group; the peer VPC for MaxPeerBlocks) in one
    address family, with the numbers: in use, to add, and the most it may hold (`limit`: the
    quota less the headroom, or the cap)."""

    resource_id: str
    family: str  # IPv4 or IPv6
    kind: str  # routes, rules or peer blocks
    in_use: int
    to_add: int
    limit: int
    quota: int = 0  # the quota value counted against (0 for a cap)
    source: str = ""  # where that value came from
    cap: str = ""  # the parameter whose cap is passed, when a cap holds
    headroom: int = 0  # QuotaHeadroomPercent, for the words

    def words(self) -> str:
        if self.cap:
            return (
                f"{self.resource_id}: {self.in_use + self.to_add} {self.family} {self.kind} "
                f"over {self.cap} {self.limit}"
            )
        return (
            f"{self.resource_id}: {self.in_use} {self.family} {self.kind} in use + {self.to_add} to add "
            f"would pass {self.limit} (quota {self.quota}, {self.source}, less {self.headroom}% headroom)"
        )

    def describe(self) -> dict[str, Any]:
        return {
            "resourceId": self.resource_id,
            "family": self.family,
            "kind": self.kind,
            "inUse": self.in_use,
            "toAdd": self.to_add,
            "quota": self.quota or None,
            "quotaSource": self.source or None,
            "limit": self.limit,
            "cap": self.cap or None,
            "reason": self.words(),
        }


class Budget(NamedTuple):
    holds: tuple[BudgetHold, ...] = ()
    to_read: frozenset[str] = frozenset()  # quota codes whose default would be passed, not read yet
    everything: bool = False  # MaxPeerBlocks holds every addition of the side

    @property
    def held(self) -> frozenset[str]:
        """The tables and groups whose additions are held."""
        return frozenset(h.resource_id for h in self.holds if h.kind != PEER_BLOCKS)

    def words(self) -> list[str]:
        return [h.words() for h in self.holds]


PEER_BLOCKS = "peer blocks"
BLOCKS_CAP = "MaxPeerBlocks"
RULES_CAP = "MaxRulesPerPeeringPerGroup"
NOT_HELD = Budget()


def headroom_limit(quota: int, percent: int) -> int:
    """The most a resource may hold: the quota less the headroom, the headroom rounded up to a
    whole route or rule (50 at 10%: 45; 60 at 10%: 54; 50 at 15%: 42; any quota at 0%: itself)."""
    return quota - (quota * percent + 99) // 100


def routes_in_use(table: RouteTable) -> dict[int, int]:
    """Routes counted against the quota, per IP version: every route not propagated."""
    counts = {4: 0, 6: 0}
    for route in table.routes:
        if route.propagated:
            continue
        if route.destination is not None:
            counts[route.destination.version] += 1
        else:  # a prefix list: its family is not read
            counts[4] += 1
            counts[6] += 1
    return counts


def rules_in_use(group: SecurityGroup) -> dict[int, int]:
    """Inbound rules counted against the quota, per IP version: each range, prefix list and group
    reference one (a prefix list or a group reference in both)."""
    counts = {4: 0, 6: 0}
    for permission in group.ingress:
        both = len(permission.group_ids) + len(permission.prefix_list_ids)
        counts[4] += len(permission.ipv4_ranges) + both
        counts[6] += len(permission.ipv6_ranges) + both
    return counts


def quota_value(quota: Quota, read: Mapping[str, QuotaRead] | None) -> tuple[int, str]:
    """The value counted against, and where it came from."""
    found = (read or {}).get(quota.code)
    if found is None:
        return quota.default, "the AWS default"
    if found.value is None:
        return quota.default, f"the AWS default: {found.note}"
    # An applied quota is never below its default: a lower answer is not believed.
    return max(found.value, quota.default), found.note


def judge(
    tables: Sequence[RouteTable],
    route_additions: Iterable[tuple[str, int]],
    groups: Sequence[SecurityGroup],
    rule_additions: Mapping[str, Sequence[int]],
    rules_wanted: Mapping[str, Sequence[int]],
    peer_blocks: Sequence[Network],
    peer_vpc_id: str,
    limits: Limits = DEFAULT_LIMITS,
    quotas: Mapping[str, QuotaRead] | None = None,
) -> Budget:
    """What the budgets hold of the additions planned on one side: `route_additions` (table, IP
    version of the block), `rule_additions` (group -> the IP version of each rule to add),
    `rules_wanted` (group -> that of each rule the peering wants there, present or not), and the
    peer's `peer_blocks` (those routed). `quotas`: what Service Quotas gave, by code; None or a
    missing code counts the AWS default, and a code whose default would be passed is named in
    `to_read`."""
    holds: list[BudgetHold] = []
    to_read: set[str] = set()
    # MaxPeerBlocks: over it, every addition of the side is held (which blocks to keep is a guess).
    for version, family in FAMILIES.items():
        brought = sum(1 for b in peer_blocks if b.version == version)
        if brought > limits.max_peer_blocks:
            holds.append(
                BudgetHold(peer_vpc_id, family, PEER_BLOCKS, 0, brought, limits.max_peer_blocks, cap=BLOCKS_CAP)
            )
    if holds:
        return Budget(tuple(holds), frozenset(), everything=True)

    adding: dict[str, dict[int, int]] = {}
    for table_id, version in route_additions:
        per = adding.setdefault(table_id, {4: 0, 6: 0})
        per[version] += 1
    for table in sorted(tables, key=lambda t: t.route_table_id):
        counts = adding.get(table.route_table_id)
        if counts is None:
            continue
        holds += _over_quota(
            table.route_table_id, "routes", routes_in_use(table), counts, ROUTES_QUOTA, limits, quotas, to_read
        )

    for group in sorted(groups, key=lambda g: g.group_id):
        sources = rule_additions.get(group.group_id)
        if not sources:
            continue
        counts = {v: sum(1 for s in sources if s == v) for v in FAMILIES}
        wanted = {v: sum(1 for s in rules_wanted.get(group.group_id, ()) if s == v) for v in FAMILIES}
        cap = limits.max_rules_per_group
        capped = [
            BudgetHold(group.group_id, family, "rules", wanted[v] - counts[v], counts[v], cap, cap=RULES_CAP)
            for v, family in FAMILIES.items()
            if counts[v] and wanted[v] > cap
        ]
        holds += capped or _over_quota(
            group.group_id, "rules", rules_in_use(group), counts, RULES_QUOTA, limits, quotas, to_read
        )
    return Budget(tuple(holds), frozenset(to_read))


def _over_quota(
    resource_id: str,
    kind: str,
    in_use: Mapping[int, int],
    to_add: Mapping[int, int],
    quota: Quota,
    limits: Limits,
    quotas: Mapping[str, QuotaRead] | None,
    to_read: set[str],
) -> list[BudgetHold]:
    """The families in which the additions would pass the quota less the headroom. Where the
    default would be passed and the applied value was not read, its code goes to `to_read`."""
    held = []
    for version, family in FAMILIES.items():
        if not to_add.get(version):
            continue
        value, source = quota_value(quota, quotas)
        limit = headroom_limit(value, limits.headroom_percent)
        total = in_use[version] + to_add[version]
        if total <= limit:
            continue
        if quotas is None or quota.code not in quotas:
            to_read.add(quota.code)
        held.append(
            BudgetHold(
                resource_id,
                family,
                kind,
                in_use[version],
                to_add[version],
                limit,
                value,
                source,
                headroom=limits.headroom_percent,
            )
        )
    return held
