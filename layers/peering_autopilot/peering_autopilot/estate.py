"""The estate at a glance (`peering-autopilot status`): every peering of the listed accounts and
regions, once each, with where the automation stands and what is still missing.

Read as the sweep reads (`places.read_place`, fanned out by `places.read_estate`): per account and
region one paginated read of the opted-in VPCs, the peerings, the route tables and the security
groups of those VPCs, never one call per peering. Judged by the sweep's judge (`survey`, pure):
each side's missing work is `side_plan`'s summary, the plan configure executes. Each place is read
on its own: one that fails is listed as not read, and the others are still shown. The peering
groups are planned as the sweep plans them (`places.group_plan`): what they still ask for, what is
skipped and why, and the mesh advice.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import Any

from peering_autopilot import approval
from peering_autopilot.mesh import GroupPlan, parse_groups
from peering_autopilot.model import (
    ACCEPTER,
    ACTIVE,
    GROUP_TAG,
    PENDING,
    PROVISIONING,
    STATUS_TAG,
    Described,
    Peering,
    PeeringSide,
    QuotaRead,
    Vpc,
)
from peering_autopilot.places import PeerVpcs, Place, PlaceRead, UnreadPlace
from peering_autopilot.record import HistoryEntry, Owned, PeeringRecord
from peering_autopilot.settings import DEFAULT_BUDGETS, BudgetLimits, Ranges
from peering_autopilot.side_plan import (
    NOTHING,
    SideFacts,
    acceptance_summary,
    leftovers,
    plan_side,
    plural,
    settle_intents,
)
from peering_autopilot.status import is_verdict
from peering_autopilot.structs import struct

# What counts against AWS's quota of active peerings per VPC (50 by default): a pending request
# already holds its slot.
QUOTA_STATES = frozenset({PENDING, PROVISIONING, ACTIVE})
DEFAULT_PEERING_QUOTA = 50

NOT_READABLE = "side not readable"
RECORD_NOT_READ = (
    "The autopilot's record was not read: nothing counts as the autopilot's, so no route or rule is "
    "shown as due for removal (such removals are listed as left alone)."
)
RecordReader = Callable[[str], PeeringRecord]  # what the record holds of a peering
NOT_OPTED_IN = "not opted in"


# ---------------------------------------------------------------------- judging (pure)
@struct(frozen=True)
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


# Reads, in one account and region, which of the blackhole routes' targets (kind, id) are gone for good.
GoneReader = Callable[[Place, set[tuple[str, str]]], frozenset[str]]
# Reads, in one account and region, the applied value of a quota (Service Quotas), by its code.
QuotaReader = Callable[[Place, str], QuotaRead]


@struct(frozen=True)
class PeeringRow(Described):
    peering_id: str
    state: str
    verdict: str | None  # the probe's verdict (verified, blocked:…, unverified:…) from the status tags
    requester: SideRow
    accepter: SideRow


def survey(
    reads: Sequence[PlaceRead],
    quota: int,
    policy: Ranges,
    now: float,
    peer_vpcs: PeerVpcs | None = None,
    read_record: RecordReader | None = None,
    read_gone: GoneReader | None = None,
    limits: BudgetLimits = DEFAULT_BUDGETS,
    read_quota: QuotaReader | None = None,
) -> list[PeeringRow]:
    """One row per peering any read place lists, in peering id order; each side judged from its
    own place's reads, and the peer's VPC as its own account reads it (`peer_vpcs`: by default
    only from the places read), as the sweep judges it. `read_record` reads what the autopilot's
    record holds of a peering, where a side has something to remove (without it, nothing is the
    autopilot's: removals show as left alone). `read_gone` reads, in a place, which blackhole
    targets are gone for good, where a held block may depend on it (without it, every blackhole may
    come back). `limits` are the budgets, as configure counts them; `read_quota` reads, in a
    place, a quota's applied value, only where its AWS default would be passed."""
    peer_vpcs = peer_vpcs or PeerVpcs(reads)
    places = {r.place: r for r in reads}
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
            _side_row(
                role,
                info,
                seen,
                places,
                in_use,
                quota,
                policy,
                now,
                peer_vpcs,
                read_record,
                read_gone,
                limits,
                read_quota,
            )
            for role, info in shown.sides()
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
    in_use: Mapping[tuple[str, str, str], set[str]],
    quota: int,
    policy: Ranges,
    now: float,
    peer_vpcs: PeerVpcs,
    read_record: RecordReader | None = None,
    read_gone: GoneReader | None = None,
    limits: BudgetLimits = DEFAULT_BUDGETS,
    read_quota: QuotaReader | None = None,
) -> SideRow:
    """The side as its own account and region show it (the peering's tags there, its VPC if opted
    in, its tables and groups), or as the peering describes it when that place was not read."""
    place = (info.account_id, info.region)
    view, read = seen.get(place), places.get(place)
    if view is None or read is None:
        return SideRow(*place, info.vpc_id, tuple(info.cidrs.as_strings()), False, None, None, NOT_READABLE, None)
    own = view.requester if role != ACCEPTER else view.accepter
    vpc = read.vpcs.get(own.vpc_id)
    return SideRow(
        own.account_id,
        own.region,
        own.vpc_id,
        tuple((own.cidrs.union(vpc.cidrs) if vpc else own.cidrs).as_strings()),
        True,
        view.tags.get(STATUS_TAG),
        group_names(vpc.tags.get(GROUP_TAG, "")) if vpc else None,
        _missing(view, role, vpc, read, policy, now, peer_vpcs, read_record, read_gone, limits, read_quota),
        quota - len(in_use.get((own.account_id, own.region, own.vpc_id), ())),
    )


def group_names(value: str) -> tuple[str, ...]:
    """The groups a tag puts its VPC in, as the group planner reads them (mesh.parse_groups), in
    the tag's order; entries it refuses are not groups (the plan lists them as unclear tags)."""
    valid, _ = parse_groups(value)
    return tuple(name for name in dict.fromkeys(e.strip() for e in value.split(",")) if name in valid)


def _missing(
    view: Peering,
    role: str,
    vpc: Vpc | None,
    read: PlaceRead,
    policy: Ranges,
    now: float,
    peer_vpcs: PeerVpcs,
    read_record: RecordReader | None = None,
    read_gone: GoneReader | None = None,
    limits: BudgetLimits = DEFAULT_BUDGETS,
    read_quota: QuotaReader | None = None,
) -> str:
    """What the autopilot has still to do on this side: the sweep's judgement, in words."""
    if vpc is None:
        return NOT_OPTED_IN  # nothing of the autopilot's to do here
    tables, groups = read.tables.get(vpc.vpc_id, ()), read.groups.get(vpc.vpc_id, ())

    def read_owned() -> Owned:
        assert read_record is not None
        record = read_record(view.peering_id)
        return settle_intents(record, *read.place, tables, groups).owned(record.side(*read.place))

    owned_reader = read_owned if read_record is not None else None
    if view.pending:
        # The sweep sends an undecided request (no status tag yet) to accept, and one declined for a
        # reason that may pass once its back-off is over; any other decided one waits for a person.
        rule = approval.awaiting(view.tags.get(STATUS_TAG)) if role == ACCEPTER else None
        if rule is not None:
            return f"awaiting a person's approval (rule {rule})"
        return acceptance_summary(view, role, now)
    if view.configurable:
        peer = view.accepter if role != ACCEPTER else view.requester
        facts = SideFacts(role, view, vpc, tables, groups, peer_vpcs.known(peer))
        gone_reader = (lambda judged: read_gone(read.place, judged)) if read_gone is not None else None
        quota_reader = (lambda code: read_quota(read.place, code)) if read_quota is not None else None
        plan = plan_side(
            facts, policy, now, lambda: peer_vpcs.read(peer), owned_reader, gone_reader, limits, quota_reader
        )
        return plan.summary()
    if view.ended:
        return leftovers(tables, groups, view.peering_id, read_owned=owned_reader).summary(vpc.vpc_id)
    return NOTHING


# ---------------------------------------------------------------------- pending approvals
@struct(frozen=True)
class PendingApproval(Described):
    """A request the policy asked a person about, still pending: as its accepter's account tags it."""

    peering_id: str
    rule: str  # the rule that asked
    requester: str  # account/region/vpc
    accepter: str
    age_seconds: int | None  # since the request was made (ExpirationTime less AWS's 7 days); None: unknown
    expires: str  # ISO 8601 UTC; "" when unknown
    reminded: bool


def pending_approvals(reads: Sequence[PlaceRead], now: float) -> list[PendingApproval]:
    """Every pending request whose accepter's view (read in its own place) says it awaits a person."""
    found: dict[str, PendingApproval] = {}
    for read in reads:
        for view in read.peerings:
            rule = approval.awaiting(view.tags.get(STATUS_TAG))
            if not view.pending or rule is None or (view.accepter.account_id, view.accepter.region) != read.place:
                continue
            expires = view.expiration_time
            found[view.peering_id] = PendingApproval(
                view.peering_id,
                rule,
                _where(view.requester),
                _where(view.accepter),
                None if expires is None else max(0, int(now - (expires - approval.EXPIRY_SECONDS))),
                approval.iso(expires),
                approval.REMINDED_TAG in view.tags,
            )
    return [found[pid] for pid in sorted(found)]


def _where(side: PeeringSide) -> str:
    return f"{side.account_id}/{side.region}/{side.vpc_id}"


def age_words(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    days, rest = divmod(seconds, 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


# ---------------------------------------------------------------------- the report
@struct
class EstateReport:
    places: list[Place]  # the places read
    peerings: list[PeeringRow]
    not_read: list[UnreadPlace]
    groups: GroupPlan | None = None  # when a VPC read is in a peering group
    # Each peering's last history entry, when the record was asked (`--record-table`); the
    # record's problem when it could not be read.
    decisions: Mapping[str, HistoryEntry | None] | None = None
    record_not_read: str | None = None
    record_read: bool = False  # whether the rows were judged with the autopilot's record
    # The opted-in VPCs read, with their blocks and tags (and each account's OU path when the
    # Organization was read), when asked (`status --json --with-vpcs`): what `policy explain
    # --status-json` judges a pair by. None: not listed.
    vpcs: Sequence[Vpc] | None = None
    ou_paths: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    approvals: Sequence[PendingApproval] = ()  # requests awaiting a person (listed only when any)

    def describe(self) -> dict[str, Any]:
        peerings = [row.describe() for row in self.peerings]
        if self.decisions is not None:
            for row in peerings:
                entry = self.decisions.get(row["peeringId"])
                row["lastDecision"] = (
                    {
                        "seq": entry.seq,
                        "at": entry.at,
                        "kind": entry.kind,
                        "actor": entry.actor,
                        "summary": entry.summary,
                    }
                    if entry
                    else None
                )
        described: dict[str, Any] = {
            "places": [{"accountId": a, "region": r} for a, r in self.places],
            "peerings": peerings,
            "notRead": [p.describe() for p in self.not_read],
            "groups": self.groups.describe() if self.groups else None,
            "record": "read" if self.record_read else RECORD_NOT_READ,
        }
        if self.vpcs is not None:
            described["vpcs"] = [
                {
                    "accountId": v.account_id,
                    "region": v.region,
                    "vpcId": v.vpc_id,
                    "cidrs": [str(b) for b in (*v.cidrs.ipv4, *v.cidrs.ipv6)],
                    "tags": dict(sorted(v.tags.items())),
                    "ouPath": list(self.ou_paths.get(v.account_id, ())),
                }
                for v in sorted(self.vpcs, key=lambda v: (v.account_id, v.region, v.vpc_id))
            ]
        if self.decisions is not None:
            described["recordNotRead"] = self.record_not_read
        if self.approvals:
            described["pendingApprovals"] = [a.describe() for a in self.approvals]
        return described


COLUMNS = ("PEERING", "STATE", "REQUESTER", "ACCEPTER", "STATUS TAG", "VERDICT", "GROUPS", "MISSING", "HEADROOM")


# The default table's columns, to fit WIDTH: each side's VPC only, the verdict where the peering is
# active (its EC2 state otherwise), what is missing shortened to the room left. `--wide`: COLUMNS.
NARROW_COLUMNS = ("PEERING", "STATE/VERDICT", "REQUESTER VPC", "ACCEPTER VPC", "MISSING")
WIDTH = 120  # a terminal's columns the default text fits
_WIDEST_STATE = 24  # blocked:security-groups; leaves MISSING 25 columns at least


def report_text(report: EstateReport, wide: bool = False) -> str:
    """The places read (and not read), then one table, a row per peering; per-side columns read
    `requester / accepter`, `?` where that side was not read and `-` where there is nothing. Fits
    WIDTH columns (long cells shortened with `…`, long lines wrapped) unless `wide`: every column,
    nothing shortened."""
    lines = [*places_lines(report), ""]
    if report.peerings and wide:
        columns = COLUMNS if report.decisions is None else (*COLUMNS, "LAST DECISION")
        rows = [columns, *(_cells(row, report.decisions) for row in report.peerings)]
        lines += _aligned(rows)
        lines.append("")
        lines.append("Per-side columns read requester / accepter; ? not readable, - none.")
    elif report.peerings:
        lines += _narrow_table(report.peerings)
        lines.append("")
        lines.append("Per-side columns read requester / accepter; ? not readable, - none.")
        more = "accounts, regions, blocks, status tags, groups, headroom"
        lines.append(f"Every column ({more}{', last decision' if report.decisions is not None else ''}): --wide.")
    else:
        lines.append(f"No peerings in the {plural(len(report.places), 'place')} read.")
    if report.approvals:
        lines += ["", "Pending approvals (the policy asks a person):"]
        for a in report.approvals:
            pair = f"  {a.peering_id}  {a.requester} -> {a.accepter}"
            asked = f"rule {a.rule}  age {age_words(a.age_seconds)}  expires {a.expires or '?'}"
            asked += "  (reminded)" if a.reminded else ""
            # one line with --wide; by default the pair, then what asked on a line of its own
            lines += [f"{pair}  {asked}"] if wide else [pair, f"    {asked}"]
    if report.groups is not None:
        lines += ["", *_group_lines(report.groups)]
    if not report.record_read:
        lines += ["", RECORD_NOT_READ]
    if report.not_read:
        lines.append("")
        lines.append("Not read:")
        lines += [f"  {p.account_id} {p.region}: {p.message}" for p in report.not_read]
    if report.record_not_read:
        lines += ["", f"Record not read: {report.record_not_read}"]
    return "\n".join(lines if wide else [short for line in lines for short in _wrapped(line)])


def places_lines(report: EstateReport) -> list[str]:
    """Which places (accounts x regions) were read, and which could not be (why: under Not read)."""
    lines = _places_line(f"Read {plural(len(report.places), 'place')}", report.places)
    if report.not_read:
        unread = [(p.account_id, p.region) for p in report.not_read]
        lines += _places_line(f"Not read {plural(len(unread), 'place')} (why: below)", unread)
    return lines


def _places_line(title: str, where: Sequence[Place]) -> list[str]:
    """`title: 111111111111 us-east-1, eu-west-1; 222222222222 us-east-1.` (in the order given), or
    where that is wider than WIDTH, the title and a line per account."""
    regions: dict[str, list[str]] = {}
    for account, region in where:
        regions.setdefault(account, []).append(region)
    each = [f"{account} {', '.join(names)}" for account, names in regions.items()]
    line = f"{title}: {'; '.join(each) or 'none'}."
    return [line] if len(line) <= WIDTH else [f"{title}:", *(f"  {e}" for e in each)]


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _narrow_table(peerings: Sequence[PeeringRow]) -> list[str]:
    """The default table: fits WIDTH, MISSING shortened to the room the other columns leave."""
    cells = [_narrow_cells(row) for row in peerings]
    fixed = [max(len(r[i]) for r in [NARROW_COLUMNS, *cells]) for i in range(len(NARROW_COLUMNS) - 1)]
    fixed[1] = min(fixed[1], _WIDEST_STATE)  # ids are at most 21 characters; a verdict gives way
    room = WIDTH - sum(fixed) - 2 * len(fixed)
    rows = [NARROW_COLUMNS, *((*r[:-2], _both(r[-2], r[-1], room)) for r in cells)]
    return _aligned([tuple(_cut(c, w) for c, w in zip(r, (*fixed, room), strict=True)) for r in rows])


def _narrow_cells(row: PeeringRow) -> tuple[str, ...]:
    """The row's cells, each side's missing work last (two cells): its own VPC is in its column,
    so its missing work need not name it again."""
    sides = (row.requester, row.accepter)
    state = row.verdict if row.state == "active" and row.verdict else row.state
    return (
        row.peering_id,
        state,
        *(s.vpc_id for s in sides),
        *(s.missing.replace(f" in {s.vpc_id}", "") for s in sides),
    )


def _both(requester: str, accepter: str, width: int) -> str:
    """`requester / accepter` in `width`: where it must be shortened, each side keeps its share."""
    if len(requester) + len(accepter) + 3 <= width:
        return f"{requester} / {accepter}"
    share = (width - 3) // 2
    if len(requester) <= share:
        return f"{requester} / {_cut(accepter, width - 3 - len(requester))}"
    if len(accepter) <= share:
        return f"{_cut(requester, width - 3 - len(accepter))} / {accepter}"
    return f"{_cut(requester, share)} / {_cut(accepter, width - 3 - share)}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)].rstrip() + "…"


def _wrapped(line: str) -> list[str]:
    """A line longer than WIDTH, wrapped with its indent and four more spaces."""
    if len(line) <= WIDTH:
        return [line]
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return textwrap.wrap(line, WIDTH, subsequent_indent=indent, break_on_hyphens=False)


def _cells(row: PeeringRow, decisions: Mapping[str, HistoryEntry | None] | None = None) -> tuple[str, ...]:
    sides = (row.requester, row.accepter)
    last = decisions.get(row.peering_id) if decisions is not None else None
    decided = (f"{last.kind} {last.at} {last.actor}",) if last else ("-",) if decisions is not None else ()

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
        *decided,
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
