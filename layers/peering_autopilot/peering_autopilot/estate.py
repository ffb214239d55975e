"""The estate at a glance (`peering-autopilot status`): every peering of the listed accounts and
regions, once each, with where the automation stands and what is still missing.

Read as the sweep reads (`read_place`): per account and region one paginated read of the opted-in
VPCs, the peerings, the route tables and the security groups of those VPCs, never one call per
peering. Judged as the sweep judges (`survey`, pure): the same planners (`peer_destinations`,
`plan_routes`, `plan_group`, holds) through `changes_due`, which the sweep calls too. Each place is
read on its own: one that fails is listed as not read, and the others are still shown. The
peering groups are planned as the sweep plans them (`mesh.plan_groups`): what they still ask for,
what is skipped and why, and the mesh advice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Self

from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.errors import AutopilotError, AwsCallError, RoleAssumptionError
from peering_autopilot.holds import holding, holds_in, sizes_of
from peering_autopilot.mesh import GroupPlan, plan_groups
from peering_autopilot.model import (
    ACCEPTER,
    ACTIVE,
    CREATED_FOR_TAG,
    GROUP_TAG,
    PENDING,
    PROVISIONING,
    REQUESTER,
    STATUS_TAG,
    SWEPT_STATES,
    Described,
    Peering,
    PeeringSide,
    RouteTable,
    SecurityGroup,
    Vpc,
)
from peering_autopilot.permissions import actions_of
from peering_autopilot.routes import peer_destinations, plan_routes, routes_through
from peering_autopilot.security_groups import autopilot_permissions, plan_group
from peering_autopilot.settings import PeerCidrPolicy
from peering_autopilot.side_options import name_needed, plan_dns
from peering_autopilot.status import is_verdict

IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    Ec2Gateway.opted_in_vpcs,
    Ec2Gateway.all_peerings,
    Ec2Gateway.route_tables,
    Ec2Gateway.vpc_security_groups,
)

# Every state EC2 reports, the transient ones the sweep has no work in too: a table of every
# peering. Still one filtered read.
LISTED_STATES = SWEPT_STATES | {"deleting"}
# What counts against AWS's quota of active peerings per VPC (50 by default): a pending request
# already holds its slot.
QUOTA_STATES = frozenset({PENDING, PROVISIONING, ACTIVE})
DEFAULT_PEERING_QUOTA = 50
# What stops one place, not the others (the sweep's and the status command's): AWS refusing the
# caller there (an SCP, a region not enabled: AccessDeniedError), throttling past the retries, any
# other AWS error, a role that cannot be assumed.
PLACE_FAULTS = (AwsCallError, RoleAssumptionError)
# Places read at once. EC2 throttles per account and region, so places in parallel do not compete
# for the same limits; the bound keeps memory and connections in check.
MAX_PARALLEL_PLACES = 8

NOTHING = "nothing"
NOT_READABLE = "side not readable"
NOT_OPTED_IN = "not opted in"

Place = tuple[str, str]  # account, region


@dataclass(frozen=True)
class PlaceRead:
    """What one account and region holds, from one read of each resource type."""

    account_id: str
    region: str
    vpcs: Mapping[str, Vpc]  # the opted-in ones, by id
    peerings: Sequence[Peering]  # as this account sees them here (its own tags)
    tables: Mapping[str, Sequence[RouteTable]] = field(default_factory=dict)  # by VPC id
    groups: Mapping[str, Sequence[SecurityGroup]] = field(default_factory=dict)  # by VPC id

    @property
    def place(self) -> Place:
        return self.account_id, self.region


@dataclass(frozen=True, order=True)
class UnreadPlace(Described):
    """An account and region that could not be read, and why."""

    account_id: str
    region: str
    error: str  # the error's class: AccessDeniedError, RoleAssumptionError, ...
    code: str  # AWS's error code, if any
    message: str

    @classmethod
    def of(cls, account_id: str, region: str, error: AutopilotError) -> Self:
        return cls(account_id, region, type(error).__name__, str(getattr(error, "code", "")), str(error))


def read_place(ec2: Ec2Gateway) -> PlaceRead:
    """The sweep's reads of one place, in its order. Unlike the sweep, the peerings are read even
    where no VPC opted in: they are listed, though nothing there can be work."""
    vpcs = ec2.opted_in_vpcs()
    peerings = ec2.all_peerings(LISTED_STATES)
    return PlaceRead(
        ec2.account_id,
        ec2.region,
        vpcs,
        tuple(peerings),
        by_vpc(ec2.route_tables(vpcs)),
        by_vpc(ec2.vpc_security_groups(vpcs)),
    )


def read_estate(aws: AwsAccess, places: Sequence[Place]) -> tuple[list[PlaceRead], list[UnreadPlace]]:
    """Every place read on its own, several at once; the ones that fail with PLACE_FAULTS are
    returned as unread, anything else (a bug) is raised."""

    def read(place: Place) -> PlaceRead | UnreadPlace:
        account, region = place
        try:
            return read_place(aws.ec2(account, region))
        except PLACE_FAULTS as e:
            return UnreadPlace.of(account, region, e)

    workers = max(1, min(MAX_PARALLEL_PLACES, len(places)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="status") as pool:
        results = list(pool.map(read, places))
    reads = [r for r in results if isinstance(r, PlaceRead)]
    return reads, sorted(r for r in results if isinstance(r, UnreadPlace))


# ---------------------------------------------------------------------- judging (pure)
@dataclass(frozen=True)
class SideChanges:
    """What configure would still do on one side of a configurable peering."""

    routes: int  # to add (not held back), blackholes to replace, routes to blocks the peer gave up
    rules: int  # to add (not held back), and the autopilot's own no longer wanted
    held: int = 0  # additions held back after a quota refusal (holds.py)
    conflicts: int = 0  # destinations a table routes to another live target: never overwritten
    refused: int = 0  # peer blocks outside AllowedPeerCidrs or overlapping this side's

    def summary(self, vpc_id: str) -> str:
        due = _counts((self.routes, "route"), (self.rules, "rule"))
        parts = [f"{due} due in {vpc_id}"] if due else []
        if self.held:
            parts.append(f"{_plural(self.held, 'change')} held back after a quota refusal")
        if self.conflicts:
            parts.append(f"{_plural(self.conflicts, 'destination')} routed elsewhere")
        if self.refused:
            parts.append(f"{_plural(self.refused, 'peer block')} refused")
        return "; ".join(parts) or NOTHING


def changes_due(
    peering: Peering,
    own: PeeringSide,
    vpc: Vpc,
    peer: PeeringSide,
    peer_vpc: Vpc | None,
    tables: Sequence[RouteTable],
    groups: Sequence[SecurityGroup],
    policy: PeerCidrPolicy,
    now: float,
) -> SideChanges:
    """The route and rule changes configure would make on `own`'s side (`vpc`, its `tables` and
    `groups`), as the sweep judges them. `peering` is as this side's account sees it (its holds
    are tagged there); `peer_vpc` is the peer's VPC when it was read, else the peering's
    description of the peer stands in."""
    peer_cidrs = peer.cidrs.union(peer_vpc.cidrs) if peer_vpc else peer.cidrs
    wanted, refused = peer_destinations(
        own.cidrs.union(vpc.cidrs), peer_cidrs, policy, with_ipv6=bool(vpc.cidrs.ipv6 and peer_cidrs.ipv6)
    )
    pid = peering.peering_id
    plan = plan_routes(tables, wanted, pid, peer_vpc.cidrs if peer_vpc else peer.cidrs)
    # A table or group held back after a quota refusal is not work until its hold ends.
    held = holding(holds_in(peering.tags), sizes_of(tables, groups), now)
    group_plans = [plan_group(group, wanted, pid) for group in groups]
    held_routes = sum(1 for r in plan.add if r.route_table_id in held)
    held_rules = sum(len(g.add) for g in group_plans if g.group_id in held)
    return SideChanges(
        routes=len(plan.add) - held_routes + len(plan.replace) + len(plan.remove),
        rules=sum(len(g.add) for g in group_plans) - held_rules + sum(len(g.remove) for g in group_plans),
        held=held_routes + held_rules,
        conflicts=len(plan.conflicts),
        refused=len(refused),
    )


@dataclass(frozen=True)
class SideRow(Described):
    """One side of a peering as the table shows it."""

    account_id: str
    region: str
    vpc_id: str
    cidrs: tuple[str, ...]  # the peering's description, completed by the VPC when it was read
    readable: bool  # its account and region were read, and list the peering
    status: str | None  # the status tag as this side's account has it; None: no tag, or not readable
    groups: tuple[str, ...] | None  # the VPC's group tag; None when the VPC was not read (not opted in)
    missing: str
    quota_headroom: int | None  # the quota less the VPC's pending and active peerings; None: not readable


@dataclass(frozen=True)
class PeeringRow(Described):
    peering_id: str
    state: str
    verdict: str | None  # the probe's verdict (verified, blocked:…, unverified:…) from the status tags
    requester: SideRow
    accepter: SideRow


def survey(reads: Sequence[PlaceRead], quota: int, policy: PeerCidrPolicy, now: float) -> list[PeeringRow]:
    """One row per peering any read place lists, in peering id order; each side judged from its
    own place's reads (and the peer's VPC, when its place was read)."""
    places = {r.place: r for r in reads}
    vpcs = {vpc_id: vpc for r in reads for vpc_id, vpc in r.vpcs.items()}
    views: defaultdict[str, dict[Place, Peering]] = defaultdict(dict)
    in_use: defaultdict[tuple[str, str, str], set[str]] = defaultdict(set)
    for read in reads:
        for peering in read.peerings:
            views[peering.peering_id][read.place] = peering
            if peering.status not in QUOTA_STATES:
                continue
            for _, side in peering.sides():
                if (side.account_id, side.region) == read.place:
                    in_use[(side.account_id, side.region, side.vpc_id)].add(peering.peering_id)
    rows = []
    for pid in sorted(views):
        seen = views[pid]
        shown = next(iter(seen.values()))  # any place's view names both sides alike
        requester, accepter = (
            _side_row(role, info, seen, places, vpcs, in_use, quota, policy, now) for role, info in shown.sides()
        )
        state = seen.get((shown.requester.account_id, shown.requester.region), shown).status
        verdicts = [s.status for s in (requester, accepter) if s.status and is_verdict(s.status)]
        rows.append(PeeringRow(pid, state, ", ".join(dict.fromkeys(verdicts)) or None, requester, accepter))
    return rows


def _side_row(
    role: str,
    info: PeeringSide,
    seen: Mapping[Place, Peering],
    places: Mapping[Place, PlaceRead],
    vpcs: Mapping[str, Vpc],
    in_use: Mapping[tuple[str, str, str], set[str]],
    quota: int,
    policy: PeerCidrPolicy,
    now: float,
) -> SideRow:
    """The side as its own account and region show it (the peering's tags there, its VPC if opted
    in, its tables and groups), or as the peering describes it when that place was not read."""
    place = (info.account_id, info.region)
    view, read = seen.get(place), places.get(place)
    if view is None or read is None:
        return SideRow(*place, info.vpc_id, tuple(info.cidrs.as_strings()), False, None, None, NOT_READABLE, None)
    own, peer = (view.requester, view.accepter) if role == REQUESTER else (view.accepter, view.requester)
    vpc = read.vpcs.get(own.vpc_id)
    return SideRow(
        own.account_id,
        own.region,
        own.vpc_id,
        tuple((own.cidrs.union(vpc.cidrs) if vpc else own.cidrs).as_strings()),
        True,
        view.tags.get(STATUS_TAG),
        parse_groups(vpc.tags.get(GROUP_TAG, "")) if vpc else None,
        _missing(view, role, own, vpc, peer, vpcs.get(peer.vpc_id), read, policy, now),
        quota - len(in_use.get((own.account_id, own.region, own.vpc_id), ())),
    )


def parse_groups(value: str) -> tuple[str, ...]:
    """The group tag's names: comma-separated, stripped, empties dropped, duplicates once."""
    return tuple(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))


def _missing(
    view: Peering,
    role: str,
    own: PeeringSide,
    vpc: Vpc | None,
    peer: PeeringSide,
    peer_vpc: Vpc | None,
    read: PlaceRead,
    policy: PeerCidrPolicy,
    now: float,
) -> str:
    """What the autopilot has still to do on this side, in the sweep's terms."""
    if vpc is None:
        return NOT_OPTED_IN  # nothing of the autopilot's to do here
    tables, groups = read.tables.get(vpc.vpc_id, ()), read.groups.get(vpc.vpc_id, ())
    if view.pending:
        # The sweep sends an undecided request (no status tag yet) to accept; a decided one waits
        # for a person.
        undecided = role == ACCEPTER and STATUS_TAG not in view.tags
        return "acceptance due" if undecided else "awaiting acceptance"
    if view.configurable:
        due = changes_due(view, own, vpc, peer, peer_vpc, tables, groups, policy, now)
        parts = [] if due.summary(vpc.vpc_id) == NOTHING else [due.summary(vpc.vpc_id)]
        if view.status == ACTIVE:
            dns = plan_dns(vpc.tags, own.remote_dns, view.tags, role)
            if dns.turn is not None:
                parts.append(f"remote DNS {'on' if dns.turn else 'off'} due")
        if name_needed(view.tags):
            parts.append("Name due")
        return "; ".join(parts) or NOTHING
    if view.ended:
        routes = len(routes_through(tables, view.peering_id))
        rules = sum(
            len(p.get("IpRanges", [])) + len(p.get("Ipv6Ranges", []))
            for g in groups
            for p in autopilot_permissions(g, view.peering_id)
        )
        left = _counts((routes, "route"), (rules, "rule"))
        if left:
            return f"{left} to clean up in {vpc.vpc_id}"
    return NOTHING


# ---------------------------------------------------------------------- the report
@dataclass
class EstateReport:
    places: list[Place]  # the places read
    peerings: list[PeeringRow]
    not_read: list[UnreadPlace]
    groups: GroupPlan | None = None  # when a VPC read is in a peering group

    def describe(self) -> dict[str, Any]:
        return {
            "places": [{"accountId": a, "region": r} for a, r in self.places],
            "peerings": [row.describe() for row in self.peerings],
            "notRead": [p.describe() for p in self.not_read],
            "groups": self.groups.describe() if self.groups else None,
        }


def group_plan(reads: Sequence[PlaceRead], quota: int, policy: PeerCidrPolicy, threshold: int) -> GroupPlan | None:
    """The peering groups planned from these reads (the sweep's plan, and what status shows);
    None when no VPC is in a group and no group peering is left to withdraw."""
    vpcs = [v for r in reads for v in r.vpcs.values()]
    peerings = [p for r in reads for p in r.peerings]
    if not any(GROUP_TAG in v.tags for v in vpcs) and not any(CREATED_FOR_TAG in p.tags for p in peerings):
        return None
    tables = {vpc_id: list(t) for r in reads for vpc_id, t in r.tables.items()}
    return plan_groups(vpcs, peerings, tables, policy, quota, threshold)


COLUMNS = ("PEERING", "STATE", "REQUESTER", "ACCEPTER", "STATUS TAG", "VERDICT", "GROUPS", "MISSING", "HEADROOM")


def report_text(report: EstateReport) -> str:
    """One table, a row per peering; per-side columns read `requester / accepter`, `?` where that
    side was not read and `-` where there is nothing."""
    lines = []
    if report.peerings:
        rows = [COLUMNS, *(_cells(row) for row in report.peerings)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        lines.append("")
        lines.append("Per-side columns read requester / accepter; ? not readable, - none.")
    else:
        lines.append(f"No peerings in the {_plural(len(report.places), 'place')} read.")
    if report.groups is not None:
        lines += ["", *_group_lines(report.groups)]
    if report.not_read:
        lines.append("")
        lines.append("Not read:")
        lines += [f"  {p.account_id} {p.region}: {p.message}" for p in report.not_read]
    return "\n".join(lines)


def _cells(row: PeeringRow) -> tuple[str, ...]:
    sides = (row.requester, row.accepter)

    def per_side(value: Callable[[SideRow], str]) -> str:
        return " / ".join(value(s) if s.readable else "?" for s in sides)

    return (
        row.peering_id,
        row.state,
        *(f"{s.account_id} {s.region} {s.vpc_id} {','.join(s.cidrs) or '-'}" for s in sides),
        per_side(lambda s: s.status or "-"),
        row.verdict or "-",
        per_side(lambda s: ",".join(s.groups or ()) or "-"),
        " / ".join(s.missing for s in sides),
        per_side(lambda s: str(s.quota_headroom)),
    )


def _group_lines(plan: GroupPlan) -> list[str]:
    lines = ["Peering groups:"]
    for r in plan.requests:
        lines.append(f"  to request ({r.group}): {r.requester.vpc_id} -> {r.accepter.vpc_id}")
    for w in plan.withdrawals:
        lines.append(f"  to withdraw ({w.group}): {w.peering.peering_id}: {w.why}")
    for s in plan.skipped:
        lines.append(f"  skipped ({s.group}): {s.pair.requester} <-> {s.pair.accepter}: {s.code}: {s.reason}")
    for u in plan.unclear:
        lines.append(f"  unclear tag: {u}")
    for a in plan.advice:
        lines.append(f"  advice: {a.message}")
    if len(lines) == 1:
        lines.append("  converged: every pair that shares a group is peered")
    return lines


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _counts(*counted: tuple[int, str]) -> str:
    """`2 routes, 1 rule`: the counts that are not zero."""
    return ", ".join(_plural(n, noun) for n, noun in counted if n)


def by_vpc[T: (RouteTable, SecurityGroup)](resources: Iterable[T]) -> defaultdict[str, list[T]]:
    """Resources by their VPC id; a VPC with none reads as an empty list."""
    grouped: defaultdict[str, list[T]] = defaultdict(list)
    for resource in resources:
        grouped[resource.vpc_id].append(resource)
    return grouped
