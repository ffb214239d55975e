"""Peering groups: which opted-in VPCs should be peered because they share a group, and which of
the autopilot's own group peerings are no longer wanted. Pure: it plans from what the sweep read.

A VPC joins groups with the tag `peering-autopilot:group` = comma-separated names. Any two
opted-in VPCs of the managed accounts and regions that share a name get one peering; its
requester is the VPC whose `account/region/vpc-id` sorts first. Never a second peering for a pair
that has one (in any live state, whoever requested it); a pair whose blocks overlap, fall outside
AllowedPeerCidrs, where one side already has a live peering to a VPC overlapping the other (the
older claim keeps its traffic, whatever the routes say), or where a live route of one side already
sends some of the other's range elsewhere (`routes.claim_elsewhere`, the one rule; a blackhole
counts here: the planner is pure and has no proof its target is gone) is skipped, and so is one
that would pass a VPC's active-peering quota. One plan sees itself: two requests of the same plan
from one VPC to peers that overlap each other are both skipped (`conflict-in-plan`, never a guess
at which one is meant), so the same tags give the same peerings whatever order their events
arrived in, or the places were read in. A peering tagged
`peering-autopilot:created-for-group` is a candidate for withdrawal once its two VPCs, both read,
opted in and with readable group tags, share no group any more; the tag is anyone's to write, so
the sweep withdraws only the candidates the autopilot's record holds as its own, and keeps the
others back with the reason (`GroupPlan.keep`). Nothing else is ever withdrawn.

Who may join a group is the network team's word, not the tag's: with a policy document, a VPC whose
account the policy's `groups` does not admit to a group gains nothing from naming it (`admission`,
`Settings.group_refusal`), and the plan says why (`GroupPlan.not_admitted`); a group peering the
autopilot made between VPCs that no longer share an admitted group is withdrawn like any other.

Tags are typed by people: a group tag with an entry that is not a valid name makes that VPC's
membership unknown. It then gains no peering and loses none (never act on a guess).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from typing import Any

from peering_autopilot.decision import find_overlaps
from peering_autopilot.model import (
    CREATED_FOR_TAG,
    GROUP_NAME,
    GROUP_TAG,
    LIVE_STATES,
    Cidrs,
    Network,
    Peering,
    RouteTable,
    TableRoute,
    Vpc,
)
from peering_autopilot.record import PeeringRecord
from peering_autopilot.routes import claim_elsewhere, route_target
from peering_autopilot.settings import Ranges
from peering_autopilot.structs import struct

# Why a candidate withdrawal stays: the tag says a peering was made for a group, the record who made it.
NOT_IN_RECORD = "tagged created-for-group but not in the autopilot's record: a person's"
RECORD_UNREADABLE, NOT_RECORDED = "record-unreadable", "not-recorded"
# A VPC this close to its quota (share of it in use) is reported: the next peerings may not fit.
QUOTA_WARNING_SHARE = 0.8
# States that say no to a pair until someone acts: a rejection (a person's word) or a failure.
REFUSED_STATES = frozenset({"rejected", "failed"})
# The peering a group request would make has no id yet: every route through any peering is another's.
NOT_REQUESTED_YET = "(a peering not requested yet)"


def vpc_key(vpc: Vpc) -> str:
    """How VPCs sort: `account/region/vpc-id`; the first of a pair requests."""
    return f"{vpc.account_id}/{vpc.region}/{vpc.vpc_id}"


def parse_groups(text: str) -> tuple[frozenset[str], list[str]]:
    """The names of a group tag, and the entries that are not valid names."""
    entries = [entry.strip() for entry in text.split(",")]
    names = [e for e in entries if e]
    bad = [e for e in names if not GROUP_NAME.fullmatch(e)]
    return frozenset(n for n in names if n not in bad), bad


@struct(frozen=True)
class Member:
    vpc: Vpc
    groups: frozenset[str]
    unclear: tuple[str, ...] = ()  # entries that are not names: membership unknown

    @property
    def key(self) -> str:
        return vpc_key(self.vpc)


@struct(frozen=True, order=True)
class Pair:
    requester: str  # vpc_key of the requester (sorts first)
    accepter: str

    def describe(self) -> dict[str, str]:
        return {"requester": self.requester, "accepter": self.accepter}


@struct(frozen=True)
class Request:
    """Send a peering request from `requester` to `accepter` for `group`."""

    requester: Vpc
    accepter: Vpc
    group: str

    def describe(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "requester": vpc_place(self.requester),
            "accepter": vpc_place(self.accepter),
        }


@struct(frozen=True)
class Withdrawal:
    """A group peering whose VPCs share no group any more: deleted only where the autopilot's record
    holds it as the autopilot's (the sweep keeps the others back: `GroupPlan.keep`)."""

    peering: Peering
    group: str  # the group it was created for
    why: str


@struct(frozen=True)
class Kept:
    """A candidate withdrawal left alone: the record does not hold it as the autopilot's, or
    could not be read."""

    peering: Peering
    group: str  # its created-for-group tag
    code: str  # not-recorded, record-unreadable
    reason: str

    def describe(self) -> dict[str, Any]:
        return {"peeringId": self.peering.peering_id, "group": self.group, "code": self.code, "reason": self.reason}


@struct(frozen=True)
class Skipped:
    group: str
    pair: Pair
    code: str  # overlap, outside-policy, routed-elsewhere, conflict-in-plan, quota, refused
    reason: str

    def describe(self) -> dict[str, Any]:
        return {"group": self.group, **self.pair.describe(), "code": self.code, "reason": self.reason}


@struct(frozen=True)
class Advice:
    subject: str  # a group name, or a VPC key
    code: str  # large-mesh, near-quota
    message: str
    numbers: Mapping[str, int]

    def describe(self) -> dict[str, Any]:
        return {"subject": self.subject, "code": self.code, "message": self.message, **self.numbers}


@struct
class GroupPlan:
    requests: list[Request] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    advice: list[Advice] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)  # VPCs whose group tag could not be read as names
    kept: list[Kept] = field(default_factory=list)  # candidate withdrawals left alone, and why
    not_admitted: list[str] = field(default_factory=list)  # VPCs tagged into a group the policy keeps them out of

    def involving(self, vpc_id: str) -> GroupPlan:
        """The requests, withdrawals and skipped pairs of one VPC (the advice stays whole)."""
        return GroupPlan(
            [r for r in self.requests if vpc_id in (r.requester.vpc_id, r.accepter.vpc_id)],
            [w for w in self.withdrawals if vpc_id in (w.peering.requester.vpc_id, w.peering.accepter.vpc_id)],
            [s for s in self.skipped if vpc_id in (_vpc_of(s.pair.requester), _vpc_of(s.pair.accepter))],
            self.advice,
            [u for u in self.unclear if vpc_id in u],
            [k for k in self.kept if vpc_id in (k.peering.requester.vpc_id, k.peering.accepter.vpc_id)],
            [n for n in self.not_admitted if vpc_id in n],
        )

    def keep(self, peering_id: str, code: str, reason: str) -> None:
        """Take a candidate withdrawal out of the plan, and say why it stays."""
        for w in [w for w in self.withdrawals if w.peering.peering_id == peering_id]:
            self.withdrawals.remove(w)
            self.kept.append(Kept(w.peering, w.group, code, reason))

    def describe(self) -> dict[str, Any]:
        return {
            "requests": [r.describe() for r in self.requests],
            "withdrawals": [
                {"peeringId": w.peering.peering_id, "group": w.group, "why": w.why} for w in self.withdrawals
            ],
            "skipped": [s.describe() for s in self.skipped],
            "advice": [a.describe() for a in self.advice],
            "unclearTags": self.unclear,
            "kept": [k.describe() for k in self.kept],
            "notAdmitted": self.not_admitted,
        }


def members_of(vpcs: Iterable[Vpc]) -> dict[str, Member]:
    """Every opted-in VPC with a group tag, by key."""
    members = {}
    for vpc in vpcs:
        if not vpc.opted_in or GROUP_TAG not in vpc.tags:
            continue
        names, bad = parse_groups(vpc.tags[GROUP_TAG])
        members[vpc_key(vpc)] = Member(vpc, frozenset() if bad else names, tuple(bad))
    return members


def admitted_members(
    vpcs: Iterable[Vpc], admission: Callable[[str, str], str] | None
) -> tuple[dict[str, Member], list[str]]:
    """Every opted-in VPC with a group tag (`members_of`), with only the groups the policy admits its
    account to, and a line for each group named but not admitted: the one rule of who is in a group
    (the planner, and the connect step before a request or a withdrawal)."""
    members = members_of(vpcs)
    if admission is None:
        return members, []
    admitted, not_admitted = {}, []
    for key, member in members.items():
        refused = {name: admission(name, member.vpc.account_id) for name in sorted(member.groups)}
        refused = {name: why for name, why in refused.items() if why}
        not_admitted += [f"{key} names group {name!r} and gains nothing: {why}" for name, why in refused.items()]
        admitted[key] = Member(member.vpc, member.groups - refused.keys(), member.unclear)
    return admitted, not_admitted


def plan_groups(
    vpcs: Iterable[Vpc],
    peerings: Iterable[Peering],
    routes_by_vpc: Mapping[str, Sequence[RouteTable]],
    policy: Ranges,
    quota: int,
    mesh_threshold: int,
    admission: Callable[[str, str], str] | None = None,
) -> GroupPlan:
    """The group work over everything read: `vpcs` the opted-in VPCs of the places read,
    `peerings` every peering seen there (each account's view, tags included), `routes_by_vpc`
    their route tables by VPC id. `admission(group, account_id)`: why the account may not join the
    group ("" when it may; None: any account may join any group)."""
    plan = GroupPlan()
    vpcs = list(vpcs)
    members, plan.not_admitted = admitted_members(vpcs, admission)
    plan.unclear = sorted(
        f"{m.key}: {GROUP_TAG} holds {', '.join(map(repr, m.unclear))}, not group names"
        for m in members.values()
        if m.unclear
    )
    by_vpc_id = {v.vpc_id: v for v in vpcs}
    views = list(peerings)
    live = _live_by_pair(views)
    in_use = _live_per_vpc(views)
    refused = _refused_pairs(views)

    # Join: every pair sharing a group, in a stable order (so quota goes to the same pairs each run),
    # each judged on its own first: the two VPCs, the routes and older peerings of each.
    older = _older_peers(views, by_vpc_id)
    planned: dict[str, int] = defaultdict(int)
    by_group: dict[str, list[Member]] = defaultdict(list)
    for member in members.values():
        for name in member.groups:
            by_group[name].append(member)
    seen_pairs: set[Pair] = set()
    candidates: list[tuple[str, Member, Member]] = []
    for name in sorted(by_group):
        for first, second in itertools.combinations(sorted(by_group[name], key=lambda m: m.key), 2):
            pair = Pair(first.key, second.key)
            if pair in seen_pairs or frozenset((first.vpc.vpc_id, second.vpc.vpc_id)) in live:
                seen_pairs.add(pair)
                continue
            seen_pairs.add(pair)
            problem = _pair_problem(first.vpc, second.vpc, routes_by_vpc, policy, refused, older)
            if problem:
                plan.skipped.append(Skipped(name, pair, *problem))
                continue
            candidates.append((name, first, second))

    # One plan sees itself: two requests of this plan from one VPC to peers that overlap each other
    # are never both made, and neither is (never act on a guess about which one is meant).
    conflicts = conflicts_in_plan([(first.vpc, second.vpc) for _, first, second in candidates])
    for name, first, second in candidates:
        pair = Pair(first.key, second.key)
        problem = conflicts.get(pair)
        if problem is None:
            full = [m for m in (first, second) if in_use[m.vpc.vpc_id] + planned[m.vpc.vpc_id] >= quota]
            if full:
                used = in_use[full[0].vpc.vpc_id] + planned[full[0].vpc.vpc_id]
                problem = ("quota", f"{full[0].key} has {used} of its {quota} peerings in use")
        if problem:
            plan.skipped.append(Skipped(name, pair, *problem))
            continue
        planned[first.vpc.vpc_id] += 1
        planned[second.vpc.vpc_id] += 1
        plan.requests.append(Request(first.vpc, second.vpc, name))

    # Leave: the autopilot's own group peerings whose VPCs share no group any more.
    for peering in views:
        group = peering.tags.get(CREATED_FOR_TAG)
        if not group or peering.status not in LIVE_STATES:
            continue
        a, b = by_vpc_id.get(peering.requester.vpc_id), by_vpc_id.get(peering.accepter.vpc_id)
        if a is None or b is None:
            continue  # a side not read here, or no longer opted in: hands off
        ma, mb = members.get(vpc_key(a)), members.get(vpc_key(b))
        if (ma and ma.unclear) or (mb and mb.unclear):
            continue  # a tag that cannot be read: never act on a guess
        shared = (ma.groups if ma else frozenset()) & (mb.groups if mb else frozenset())
        if not shared:
            why = f"{vpc_key(a)} and {vpc_key(b)} share no group any more (it was made for {group!r})"
            plan.withdrawals.append(Withdrawal(peering, group, why))
    plan.withdrawals = sorted({w.peering.peering_id: w for w in plan.withdrawals}.values(), key=_withdrawal_key)

    plan.advice = _advice(by_group, in_use, planned, members, quota, mesh_threshold)
    return plan


def pair_problem(requester: Vpc, accepter: Vpc, policy: Ranges) -> tuple[str, str] | None:
    """What rules a pair out from the two VPCs alone: overlapping blocks, or a block outside policy."""
    overlaps = find_overlaps(requester.cidrs.ipv4, accepter.cidrs.ipv4) or find_overlaps(
        requester.cidrs.ipv6, accepter.cidrs.ipv6
    )
    if overlaps:
        ours, theirs = overlaps[0]
        return "overlap", f"{requester.vpc_id} {ours} overlaps {accepter.vpc_id} {theirs}"
    for vpc in (requester, accepter):
        ranges = policy.of(vpc.account_id)
        outside = ranges.outside([*vpc.cidrs.ipv4, *vpc.cidrs.ipv6])
        if outside:
            blocks = ", ".join(map(str, outside))
            return "outside-policy", f"{vpc.vpc_id} has {blocks} outside {ranges.label} ({ranges.describe()})"
    return None


def _pair_problem(
    first: Vpc,
    second: Vpc,
    routes_by_vpc: Mapping[str, Sequence[RouteTable]],
    policy: Ranges,
    refused: Mapping[frozenset[str], Peering],
    older: Mapping[str, Sequence[OlderPeer]],
) -> tuple[str, str] | None:
    """What rules a pair out on its own: the two VPCs (`pair_problem`), then, on each side, an older
    live peering to a VPC overlapping the other (whatever the routes say), then a live route already
    sending some of the other's range elsewhere, then a refused request between them."""
    found = pair_problem(first, second, policy)
    if found:
        return found
    for vpc, peer in ((first, second), (second, first)):
        for old_peer in older.get(vpc.vpc_id, ()):
            if old_peer.vpc_id == peer.vpc_id:
                continue
            overlaps = _overlaps(peer.cidrs, old_peer.cidrs)
            if overlaps:
                theirs, its = overlaps[0]
                return "routed-elsewhere", (
                    f"{vpc.vpc_id} already has {old_peer.peering_id} ({old_peer.status}) with "
                    f"{old_peer.vpc_id}, whose {its} overlaps {peer.vpc_id}'s {theirs}: the older peering "
                    "keeps that range, a new one could carry nothing back"
                )
    for vpc, peer in ((first, second), (second, first)):
        claim = routed_elsewhere(routes_by_vpc.get(vpc.vpc_id, ()), peer.cidrs)
        if claim:
            table, route = claim
            blackhole = " (blackhole)" if route.blackhole else ""
            return "routed-elsewhere", (
                f"{vpc.vpc_id} already routes {route.destination} ({peer.vpc_id}'s) to "
                f"{route_target(route)}{blackhole} in {table}: a new peering could carry nothing back"
            )
    old = refused.get(frozenset((first.vpc_id, second.vpc_id)))
    if old is not None:
        return "refused", f"{old.peering_id} between them is {old.status}: delete it to let the group try again"
    return None


def routed_elsewhere(tables: Iterable[RouteTable], peer: Cidrs) -> tuple[str, TableRoute] | None:
    """The first live route of these tables (by table id, then the peer's blocks in order) that
    already sends some of the peer's range elsewhere, by the one rule (`routes.claim_elsewhere`):
    any target (Transit Gateway, virtual private gateway, NAT, instance, interface, peering), at any
    prefix length, default routes excepted. The planner is pure and has no proof that a blackhole's
    target is gone for good: here a blackhole is a claim too (fail safe; configure may later
    replace it where its target is read as gone)."""
    blocks: tuple[Network, ...] = (*peer.ipv4, *peer.ipv6)
    for table in sorted(tables, key=lambda t: t.route_table_id):
        for block in blocks:
            claim = claim_elsewhere(table, block, NOT_REQUESTED_YET)
            if claim is not None:
                return table.route_table_id, claim
    return None


@struct(frozen=True)
class OlderPeer:
    """A live peering a VPC already has, and the blocks of the VPC at its other end (as the
    peering's views and, where read, that VPC itself say: every block either names)."""

    peering_id: str
    status: str
    vpc_id: str
    cidrs: Cidrs


def _older_peers(views: Iterable[Peering], by_vpc_id: Mapping[str, Vpc]) -> dict[str, list[OlderPeer]]:
    """Every VPC's live peerings, each once (both accounts' views of one peering are joined), by
    peering id: the same answer whatever order the views were read in."""
    by_id: dict[str, list[Peering]] = defaultdict(list)
    for view in views:
        if view.status in LIVE_STATES:
            by_id[view.peering_id].append(view)
    older: dict[str, list[OlderPeer]] = defaultdict(list)
    for peering_id in sorted(by_id):
        seen = by_id[peering_id]
        status = min(v.status for v in seen)
        first = seen[0]
        for mine, other in ((first.requester, first.accepter), (first.accepter, first.requester)):
            blocks = Cidrs()
            for view in seen:
                side = view.accepter if view.accepter.vpc_id == other.vpc_id else view.requester
                blocks = blocks.union(side.cidrs)
            read = by_vpc_id.get(other.vpc_id)
            if read is not None:
                blocks = blocks.union(read.cidrs)
            older[mine.vpc_id].append(OlderPeer(peering_id, status, other.vpc_id, _sorted_cidrs(blocks)))
    return older


def conflicts_in_plan(candidates: Sequence[tuple[Vpc, Vpc]]) -> dict[Pair, tuple[str, str]]:
    """The requests of one plan that must not be made together: two requests sharing a VPC whose
    other ends overlap each other (then the common VPC's tables would send one's range to the
    other, whichever came first). Neither is made: each is skipped `conflict-in-plan`, its reason
    naming the other VPC and the overlapping blocks, so a person can untag one. The same answer
    for every order of `candidates`: it depends on the set alone."""
    peers: dict[str, list[Vpc]] = defaultdict(list)
    common: dict[str, Vpc] = {}
    for first, second in candidates:
        for vpc, peer in ((first, second), (second, first)):
            common[vpc_key(vpc)] = vpc
            peers[vpc_key(vpc)].append(peer)
    why: dict[Pair, list[str]] = defaultdict(list)
    for key in sorted(peers):
        vpc = common[key]
        for one, other in itertools.combinations(sorted(peers[key], key=vpc_key), 2):
            if not _overlaps(one.cidrs, other.cidrs):
                continue
            for peer, rival in ((one, other), (other, one)):
                blocks = ", ".join(f"{r} overlaps {p}" for r, p in _overlaps(rival.cidrs, peer.cidrs))
                why[Pair(*sorted((key, vpc_key(peer))))].append(
                    f"{vpc.vpc_id} would also be peered in this plan with {vpc_key(rival)}, whose {blocks} of "
                    f"{peer.vpc_id}: {vpc.vpc_id}'s tables would send one's range to the other, so neither "
                    "request is made; untag one of them"
                )
    return {pair: ("conflict-in-plan", "; ".join(reasons)) for pair, reasons in why.items()}


def _overlaps(ours: Cidrs, theirs: Cidrs) -> list[tuple[str, str]]:
    """Every pair of blocks, one from each side, IPv4 and IPv6, that share an address."""
    return find_overlaps(ours.ipv4, theirs.ipv4) + find_overlaps(ours.ipv6, theirs.ipv6)


def _sorted_cidrs(cidrs: Cidrs) -> Cidrs:
    return Cidrs(tuple(sorted(cidrs.ipv4)), tuple(sorted(cidrs.ipv6)))


def _live_by_pair(peerings: Iterable[Peering]) -> set[frozenset[str]]:
    return {frozenset((p.requester.vpc_id, p.accepter.vpc_id)) for p in peerings if p.status in LIVE_STATES}


def _refused_pairs(peerings: Iterable[Peering]) -> dict[frozenset[str], Peering]:
    """The refused request of each pair: the first by peering id, whatever order they were read in."""
    refused = sorted((p for p in peerings if p.status in REFUSED_STATES), key=lambda p: p.peering_id, reverse=True)
    return {frozenset((p.requester.vpc_id, p.accepter.vpc_id)): p for p in refused}


def _live_per_vpc(peerings: Iterable[Peering]) -> defaultdict[str, int]:
    """Peerings per VPC that count against its quota, each peering once (both views may list it)."""
    counted: defaultdict[str, int] = defaultdict(int)
    for peering in {p.peering_id: p for p in peerings if p.status in LIVE_STATES}.values():
        counted[peering.requester.vpc_id] += 1
        counted[peering.accepter.vpc_id] += 1
    return counted


def _advice(
    by_group: Mapping[str, list[Member]],
    in_use: Mapping[str, int],
    planned: Mapping[str, int],
    members: Mapping[str, Member],
    quota: int,
    threshold: int,
) -> list[Advice]:
    advice = []
    for name in sorted(by_group):
        size = len(by_group[name])
        if size > threshold:
            needed = size * (size - 1) // 2
            advice.append(
                Advice(
                    name,
                    "large-mesh",
                    f"group {name!r} has {size} VPCs: peering is not transitive, so a full mesh needs "
                    f"{size}x{size - 1}/2 = {needed} peerings; above {threshold} VPCs consider a Transit "
                    "Gateway or AWS Cloud WAN",
                    {"vpcs": size, "peeringsNeeded": needed, "threshold": threshold},
                )
            )
    for key in sorted(members):
        vpc_id = members[key].vpc.vpc_id
        used = in_use.get(vpc_id, 0) + planned.get(vpc_id, 0)
        if used >= QUOTA_WARNING_SHARE * quota:
            advice.append(
                Advice(
                    key,
                    "near-quota",
                    f"{key} has {used} of its {quota} active peerings: raise the quota (Service Quotas, "
                    "'Active VPC peering connections per VPC', up to 125) or move to a Transit Gateway or "
                    "AWS Cloud WAN",
                    {"inUse": used, "quota": quota},
                )
            )
    return advice


def _vpc_of(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _withdrawal_key(w: Withdrawal) -> str:
    return w.peering.peering_id


def vpc_place(vpc: Vpc) -> dict[str, str]:
    """Where a VPC is, as the events say it."""
    return {"accountId": vpc.account_id, "region": vpc.region, "vpcId": vpc.vpc_id}


# ---------------------------------------------------------------------- whose peering to withdraw
def not_ours_to_withdraw(record: PeeringRecord) -> tuple[str, str] | None:
    """Why a group peering may not be withdrawn, by the one rule the sweep, the status command and
    the connect step share: the created-for-group tag is anyone's to write (IaC copies tags), the
    record only the autopilot's. None when the record holds the peering as the autopilot's."""
    if record.unreadable:
        return RECORD_UNREADABLE, (
            f"the autopilot's record could not be read ({record.unreadable}): nothing is withdrawn until it can"
        )
    if not record.owns_peering:
        return NOT_RECORDED, NOT_IN_RECORD
    return None


def withdraw_only_recorded(plan: GroupPlan, read_record: Callable[[str], PeeringRecord]) -> None:
    """Keep back every candidate withdrawal the record does not hold as the autopilot's. One read of
    the record per candidate, none for any other peering."""
    for withdrawal in list(plan.withdrawals):
        why = not_ours_to_withdraw(read_record(withdrawal.peering.peering_id))
        if why is not None:
            plan.keep(withdrawal.peering.peering_id, *why)
