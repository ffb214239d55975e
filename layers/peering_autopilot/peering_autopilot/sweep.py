"""Sweeps close the gaps events leave: CloudTrail reaches EventBridge best-effort, the accepter
account sees no event for a request, people delete routes by hand, and peerings end.

Per managed account and region, the sweep reads each resource type once (places.read_place:
opted-in VPCs, peerings, those VPCs' route tables and security groups, paginated and filtered),
asks the judge of each side (side_plan, which configure executes) whether there is work, and
publishes one "Peering Work Found" event per peering that needs work. The
accept, configure and clean-up functions take those events like any other: one code path.
A VPC gaining the opt-in tag is swept at once, alone.

Peering groups (mesh.py) are planned over everything the places' reads returned, after every place
is read: the requests and withdrawals go out as "Peering Work Found" (work `request`, `withdraw`)
for the connect function, and the whole plan (what was skipped and why, the mesh advice) as
"Peering Group Plan" whenever it asks for a change or a group tag changed, so an unchanged estate
is quiet. A change of a VPC's group tag sweeps every place at once.

Each account and region is swept on its own, several at once: one that fails (an SCP, a region
not enabled, throttling that outlasted the retries, a member role that cannot be assumed) is
reported with its account, region and error, and the others still publish their work; each
place's work is published as soon as that place is read, so a slow place holds back no other's.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from enum import Enum
from typing import TYPE_CHECKING, Any

from peering_autopilot import approval
from peering_autopilot.adoption import Adoption
from peering_autopilot.aws.cloudtrail import TrailGateway
from peering_autopilot.aws.dynamodb import BacklogQueue, RecordStore
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.organizations import OrganizationsGateway
from peering_autopilot.aws.service_quotas import QuotaReaders, ServiceQuotasGateway
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.aws.ssm import ParameterStore
from peering_autopilot.context import Context
from peering_autopilot.decision import policy_verdict, retry_state
from peering_autopilot.events import Event, GroupRequestFound, PeeringGroupPlan, VpcPlace, WorkFound, publish_all
from peering_autopilot.mesh import RECORD_UNREADABLE, GroupPlan, withdraw_only_recorded
from peering_autopilot.model import ACCEPTER, GROUP_TAG, STATUS_TAG, Peering, QuotaRead, Vpc
from peering_autopilot.permissions import actions_of
from peering_autopilot.places import (
    PeerVpcs,
    PlaceRead,
    UnreadPlace,
    VpcReader,
    for_each_place,
    gone_once,
    group_plan,
    read_place,
    vpc_reader,
)
from peering_autopilot.policy import ACCEPT, ASK, Verdict
from peering_autopilot.record import Owned, PeeringRecord
from peering_autopilot.recorder import RecordReads
from peering_autopilot.routes import peerings_routed
from peering_autopilot.security_groups import peerings_opened
from peering_autopilot.settings import DEFAULT_BUDGETS, BudgetLimits, Ranges
from peering_autopilot.side_plan import SideFacts, acceptance_due, leftovers, plan_side, settle_intents
from peering_autopilot.structs import struct
from peering_autopilot.triggers import ScheduledSweep, VpcHint

if TYPE_CHECKING:
    # The Organization's walk runs only where ManagedOrganizationalUnitIds names OUs: membership.py is
    # imported there, not at every cold start.
    from peering_autopilot.membership import Refresh

IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    ParameterStore.read,  # the policy (authority.load_policy, before the step)
    Ec2Gateway.all_peerings,
    Ec2Gateway.opted_in_vpcs,
    Ec2Gateway.route_tables,
    Ec2Gateway.gone_targets,
    Ec2Gateway.vpc_security_groups,
    Ec2Gateway.get_vpc,  # a peer's VPC, where a plan needs it as proof
    ServiceQuotasGateway.applied,  # the budgets' applied quotas, where a default would be passed
    EventPublisher.publish_many,
    RecordStore.items,
    RecordStore.last,
    RecordStore.put_new,
    RecordStore.write,
    BacklogQueue.receive,
    BacklogQueue.done,
    BacklogQueue.send,
    TrailGateway.creations,  # adoption: who created a group-tagged peering
    AwsAccess.organizations,  # the Organization's walk (membership.py), cached in the record
    OrganizationsGateway.walk,
    OrganizationsGateway.account_tags,  # the walk's, when the policy matches by account tags
)


class Outcome(Enum):
    SWEPT = "sweep"  # the schedule: every managed account and region
    GROUP_CHANGE = "group-change"  # a VPC's group tag changed: every place, at once
    OPT_IN = "opt-in"  # a VPC opted in: swept at once, alone
    OPT_OUT = "opt-out"  # a VPC opted out: no longer touched
    NOT_MANAGED = "not-managed"  # a VPC's tags changed where the hub does not manage: nothing read


@struct(frozen=True, order=True)
class Work:
    """One peering that needs one kind of work, and where to read it."""

    peering_id: str
    work: str  # accept, configure, clean-up
    account_id: str
    region: str
    why: str
    local: bool = False  # only this account and region can do it (the peering is gone from its view)

    def event(self, reason: str) -> WorkFound:
        return WorkFound(self.peering_id, self.work, self.account_id, self.region, self.why, reason)


class PlaceProblem(UnreadPlace):
    """An account and region the sweep could not read, and why (places.PLACE_FAULTS: an SCP, a
    region not enabled, throttling past the retries, a role it cannot assume)."""

    def __str__(self) -> str:
        return f"{self.account_id}/{self.region} not swept: {self.message}"


@struct
class SweepReport:
    outcome: Outcome
    subject: str = "sweep"  # what was swept: the estate, or one VPC
    work: list[Work] = field(default_factory=list)
    places: int = 0  # account x region pairs read
    problems: list[PlaceProblem] = field(default_factory=list)  # places not read, and why
    groups: GroupPlan | None = None  # when any VPC is in a group, or a group peering exists
    adopted: dict[str, Any] = field(default_factory=dict)  # what an earlier version made, adopted (adoption.py)
    record_drained: int = 0  # record writes the backlog held, written to the table at the start
    record_problems: list[str] = field(default_factory=list)
    organization: Refresh | None = None  # the Organization's walk at the start of a scheduled sweep

    def describe(self) -> dict[str, Any]:
        counts: dict[str, int] = defaultdict(int)
        for item in self.work:
            counts[item.work] += 1
        if self.groups and self.groups.requests:
            counts["request"] += len(self.groups.requests)
        if self.groups and self.groups.withdrawals:
            counts["withdraw"] += len(self.groups.withdrawals)
        described: dict[str, Any] = {
            "places": self.places,
            "work": dict(counts),
            "problems": [p.describe() for p in self.problems],
        }
        if any(self.adopted.get(k) for k in ("peerings", "notProven", "problems")):
            described["adopted"] = self.adopted
        if self.record_drained or self.record_problems:  # the record's own news, only when there is any
            described["record"] = {"backlogWritten": self.record_drained, "problems": self.record_problems}
        if self.organization is not None:
            described["organization"] = self.organization.describe()
        if self.groups:
            described["groups"] = {
                "skipped": [s.describe() for s in self.groups.skipped],
                "advice": [a.describe() for a in self.groups.advice],
                "unclearTags": self.groups.unclear,
                "kept": [k.describe() for k in self.groups.kept],
            }
        return described

    def response(self) -> dict[str, Any]:
        return {"status": self.outcome.value, **self.describe()}

    def log_fields(self) -> dict[str, Any]:
        return self.describe()

    @property
    def message(self) -> str:
        return f"{self.outcome.value} done"

    @property
    def warning(self) -> bool:
        return False

    def metrics(self) -> Mapping[str, int]:
        counts = {"WorkFound": len(self.work), "SweepPlacesFailed": len(self.problems)}
        if self.organization is not None:  # a scheduled sweep with ManagedOrganizationalUnitIds
            counts["OrganizationWalkIncomplete"] = int(not self.organization.complete)
        return counts

    def problem_lines(self) -> list[str]:
        kept = self.groups.kept if self.groups else []
        unread = [f"{k.peering.peering_id} not withdrawn: {k.reason}" for k in kept if k.code == RECORD_UNREADABLE]
        record = [f"record: {p}" for p in self.record_problems]
        walk = [f"organization: {p}" for p in self.organization.problems] if self.organization else []
        return [str(problem) for problem in self.problems] + unread + record + walk


# The policy's verdict on a peering's pair, given both VPCs as their own accounts read them.
# (whether it could be judged, the verdict: None when no rule speaks for a requester outside).
type PolicyWord = Callable[[Peering, Vpc | None, Vpc], tuple[bool, Verdict | None]]


def handle_sweep_trigger(trigger: VpcHint | ScheduledSweep, ctx: Context) -> SweepReport:
    settings = ctx.settings
    if isinstance(trigger, VpcHint) and not (
        settings.is_managed_account(trigger.account_id) and settings.is_managed_region(trigger.region)
    ):
        # Anyone in the Organization can change a VPC's tags: where the hub does not manage, that
        # costs no call and is no fault (no alarm), whatever the tag.
        return SweepReport(Outcome.NOT_MANAGED, subject=trigger.vpc_id)
    # What steps could not record while the table was down is written first: the record the
    # sweep then reads holds it.
    drained = ctx.recorder.drain()
    walked: Refresh | None = None
    if isinstance(trigger, ScheduledSweep) and ctx.settings.managed_units:
        # Who is managed, from the Organization now: this run acts on its own walk, and the other
        # functions read the difference it writes (membership.py). Tag changes use the cache: a
        # storm of them must not walk the Organization each time (it throttles at a few calls a
        # second).
        from peering_autopilot.membership import refresh

        membership, walked = refresh(ctx)
        recorder = ctx.recorder
        ctx = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, membership=membership))
        vars(ctx)["recorder"] = recorder  # one record per run: the adapter reports its problems
    if isinstance(trigger, ScheduledSweep):
        report = sweep(ctx)
        report.organization = walked
    elif trigger.opted_in and GROUP_TAG in trigger.changed:
        report = sweep(ctx, Outcome.GROUP_CHANGE, trigger.vpc_id)
    else:
        report = sweep_vpc(trigger, ctx)
    report.record_drained = drained
    report.record_problems += ctx.recorder.problems
    return report


def sweep(ctx: Context, outcome: Outcome = Outcome.SWEPT, subject: str = "sweep") -> SweepReport:
    """Every managed account in every managed region, each place on its own; then the groups."""
    settings = ctx.settings
    places = [
        (account, region) for account in sorted(settings.managed_accounts()) for region in settings.managed_regions
    ]
    seen: list[PlaceRead] = []  # each place's reads, for the group plan once every place is read
    read_vpc = vpc_reader(ctx.aws, settings)
    adoption = Adoption(ctx)  # the first full read of a place adopts what an earlier version made there
    records = RecordReads(ctx.recorder)
    report = _sweep_places(
        ctx,
        SweepReport(outcome, subject=subject),
        places,
        lambda ec2: find_work(
            ec2,
            settings.peer_ranges,
            ctx.now(),
            seen=seen,
            read_vpc=read_vpc,
            adopt=adoption.place,
            read_record=records,
            limits=settings.budgets,
            quotas=ctx.quotas,
            policy_word=lambda peering, requester, accepter: (
                # A managed requester's VPC unread: its tags may decide a rule, so no answer.
                (False, None)
                if requester is None and settings.is_managed_account(peering.requester.account_id)
                else (True, policy_verdict(peering, requester, accepter, settings, ctx.now()))
            ),
        ),
        outcome.value,
    )
    report.adopted = adoption.finish()
    report.record_problems += records.unreadable()
    report.groups = group_plan(
        seen, settings.peering_quota, settings.peer_ranges, settings.mesh_threshold, settings.group_refusal
    )
    if report.groups is not None and outcome is Outcome.GROUP_CHANGE:
        # A tag change plans what concerns its VPC: each end of a pair plans it once, not each tag.
        report.groups = report.groups.involving(subject)
    if report.groups is not None:
        withdraw_only_recorded(report.groups, records)
        _publish_group_plan(ctx.publisher, report, settings.dry_run)
    return report


def _publish_group_plan(publisher: EventPublisher, report: SweepReport, dry_run: bool) -> None:
    plan = report.groups
    assert plan is not None
    found_by = report.outcome.value
    work: list[Event] = [
        GroupRequestFound(
            r.group,
            VpcPlace(r.requester.account_id, r.requester.region, r.requester.vpc_id),
            VpcPlace(r.accepter.account_id, r.accepter.region, r.accepter.vpc_id),
            f"both VPCs are in group {r.group!r}",
            found_by,
        )
        for r in plan.requests
    ]
    work += [
        WorkFound(
            w.peering.peering_id,
            "withdraw",
            w.peering.requester.account_id,
            w.peering.requester.region,
            w.why,
            found_by,
            group=w.group,
        )
        for w in plan.withdrawals
    ]
    publish_all(publisher, work)
    unreadable = any(k.code == RECORD_UNREADABLE for k in plan.kept)  # said every sweep until it reads
    if work or unreadable or report.outcome is Outcome.GROUP_CHANGE:
        PeeringGroupPlan(plan.describe(), dry_run, found_by).publish(publisher)


def sweep_vpc(hint: VpcHint, ctx: Context) -> SweepReport:
    """A VPC that just opted in: its pending requests and existing peerings, at once."""
    settings = ctx.settings
    report = SweepReport(Outcome.OPT_IN if hint.opted_in else Outcome.OPT_OUT, subject=hint.vpc_id)
    if not hint.opted_in:
        return report  # no longer touched; what was configured stays as it is (docs/how-it-works.md, "Lifecycle")
    # Requests declined because this VPC was not opted in deserve a new decision now.
    records = RecordReads(ctx.recorder)
    _sweep_places(
        ctx,
        report,
        [(hint.account_id, hint.region)],
        lambda ec2: find_work(
            ec2,
            settings.peer_ranges,
            ctx.now(),
            only_vpc=hint.vpc_id,
            reconsider=True,
            read_vpc=vpc_reader(ctx.aws, settings),
            read_record=records,
            limits=settings.budgets,
            quotas=ctx.quotas,
        ),
        "opt-in",
    )
    report.record_problems += records.unreadable()
    return report


def _sweep_places(
    ctx: Context,
    report: SweepReport,
    places: Sequence[tuple[str, str]],
    find: Callable[[Ec2Gateway], list[Work]],
    reason: str,
) -> SweepReport:
    """`find` the work in each place (account, region) on its own (places.for_each_place: the
    parallelism bound, and a place that fails is reported in `report.problems` while the others go
    on). Each place's work is published as soon as that place is read, less what another place
    already found (when both sides of a peering find it, the first side read names where to read
    it: either is a valid hint). Anything else (the bus refusing the work, a bug) fails the sweep,
    after every place has had its turn."""
    publisher = ctx.publisher
    lock = threading.Lock()
    found: dict[tuple[str, ...], Work] = {}

    def sweep_place(ec2: Ec2Gateway) -> None:
        items = find(ec2)
        with lock:
            new = [item for item in sorted(items) if found.setdefault(_once(item), item) is item]
        _publish(publisher, new, reason)

    done, unread = for_each_place(ctx.aws, places, sweep_place, "sweep")
    report.places += len(done)
    report.problems = sorted(PlaceProblem(u.account_id, u.region, u.error, u.code, u.message) for u in unread)
    report.work = sorted(found.values())
    return report


def _once(item: Work) -> tuple[str, ...]:
    """Both sides may report the same work: once is enough, except leftovers of a peering one
    account no longer sees while the other may still list it."""
    where = (item.account_id, item.region) if item.local else ()
    return (item.peering_id, item.work, *where)


def find_work(
    ec2: Ec2Gateway,
    policy: Ranges,
    now: float,
    only_vpc: str | None = None,
    reconsider: bool = False,
    seen: list[PlaceRead] | None = None,
    read_vpc: VpcReader | None = None,
    adopt: Callable[[PlaceRead], None] | None = None,
    read_record: Callable[[str], PeeringRecord] | None = None,
    limits: BudgetLimits = DEFAULT_BUDGETS,
    quotas: QuotaReaders | None = None,
    policy_word: PolicyWord | None = None,
) -> list[Work]:
    """What the autopilot would do here, found from one read of the place (places.read_place) and
    judged by the judge configure executes (side_plan). `policy` (AllowedPeerCidrs) and `now` (for
    held refusals) are configure's; `read_vpc` reads a peer's VPC in its own account, as configure
    does, only where a side's plan needs it as proof; `read_record` reads what the autopilot's
    record holds of a peering, only where a plan would remove something (without it, nothing is
    the autopilot's to remove); `limits` and `quotas` (Service Quotas, read only where a budget's
    AWS default would be passed) are configure's budgets; the reads go to `seen` too, for the
    group plan. `policy_word(peering, requester VPC, accepter VPC)`: the policy's verdict now, asked
    of a request awaiting a person (a changed policy decides it again)."""
    read = read_place(ec2, only_vpc=only_vpc)
    if adopt is not None:
        adopt(read)  # before its plans: what adoption takes is then the autopilot's own
    peer_vpcs = PeerVpcs([read], read_vpc)
    if seen is not None:
        seen.append(read)
    work: list[Work] = []
    read_gone = gone_once(ec2.gone_targets)  # once per place, however many peerings ask
    visible = {p.peering_id for p in read.peerings}
    for peering in read.peerings:
        for role, side in peering.sides():
            if (side.account_id, side.region) != read.place or side.vpc_id not in read.vpcs:
                continue
            item = _judge(
                peering,
                role,
                read,
                peer_vpcs,
                reconsider,
                policy,
                now,
                read_record,
                read_gone,
                limits,
                quotas.reader(*read.place) if quotas is not None else None,
                policy_word,
            )
            if item:
                work.append(Work(peering.peering_id, item[0], ec2.account_id, ec2.region, item[1]))
    # Routes through, or rules for, peerings EC2 no longer even lists: leftovers of long-ended ones,
    # work only where the record holds some of them.
    forgotten: set[str] = set()
    for vpc_id in read.vpcs:
        forgotten |= (
            peerings_routed(read.tables.get(vpc_id, ())) | peerings_opened(read.groups.get(vpc_id, ()))
        ) - visible
    tables = [t for ts in read.tables.values() for t in ts]
    groups = [g for gs in read.groups.values() for g in gs]
    for pcx in sorted(forgotten):
        if read_record is None or not leftovers(tables, groups, pcx, _owned(read_record(pcx), read, tables, groups)):
            continue
        why = "routes or rules lead to a peering that is gone"
        work.append(Work(pcx, "clean-up", ec2.account_id, ec2.region, why, local=True))
    return work


def _judge(
    peering: Peering,
    role: str,
    read: PlaceRead,
    peer_vpcs: PeerVpcs,
    reconsider: bool,
    policy: Ranges,
    now: float,
    read_record: Callable[[str], PeeringRecord] | None = None,
    read_gone: Callable[[set[tuple[str, str]]], frozenset[str]] | None = None,
    limits: BudgetLimits = DEFAULT_BUDGETS,
    read_quota: Callable[[str], QuotaRead] | None = None,
    policy_word: PolicyWord | None = None,
) -> tuple[str, str] | None:
    """The work one side of one peering, read here, asks for, and why."""
    side = peering.requester if role != ACCEPTER else peering.accepter
    peer = peering.accepter if role != ACCEPTER else peering.requester
    vpc = read.vpcs[side.vpc_id]
    tables, groups = read.tables.get(vpc.vpc_id, ()), read.groups.get(vpc.vpc_id, ())
    read_owned = (
        (lambda: _owned(read_record(peering.peering_id), read, tables, groups)) if read_record is not None else None
    )
    if peering.pending:
        if acceptance_due(peering, role, now, reconsider):
            retry = None if reconsider else retry_state(peering.tags, now)
            why = (
                f"declined for a reason that may pass: {retry.describe()}"
                if retry
                else "a pending request to decide on"
            )
            return "accept", why
        changed = _policy_changed(peering, role, vpc, peer_vpcs, policy_word)
        if changed:
            return "accept", changed
        if role == ACCEPTER and approval.reminder_due(peering, now):
            return (
                "accept",
                f"awaiting a person's approval, expires {approval.iso(peering.expiration_time)}: reminder due",
            )
        return None  # undecided work only: a request awaiting a person is not decided again here
    if role == ACCEPTER and approval.expiry_due(peering):
        return "accept", "expired while it awaited a person's approval: to be reported"
    if peering.configurable and peering.tags.get(STATUS_TAG) in (approval.REFUSED, approval.UNPROVEN):
        return _approval_settled(peering, vpc, peer_vpcs, policy_word)
    if peering.configurable:
        facts = SideFacts(role, peering, vpc, tables, groups, peer_vpcs.known(peer))
        plan = plan_side(facts, policy, now, lambda: peer_vpcs.read(peer), read_owned, read_gone, limits, read_quota)
        if plan.has_work:
            return "configure", plan.summary()
        if plan.reverify_due:
            tag = peering.tags.get(STATUS_TAG, "")
            return "configure", f"tagged {tag}, which its tables no longer say: {plan.summary()}"
        return None
    if peering.ended:
        left = leftovers(tables, groups, peering.peering_id, read_owned=read_owned)
        if left:
            return "clean-up", f"{peering.status} peering still has routes or rules in {vpc.vpc_id}"
    return None


def _approval_settled(
    peering: Peering, vpc: Vpc, peer_vpcs: PeerVpcs, policy_word: PolicyWord | None
) -> tuple[str, str] | None:
    """A peering a person accepted whose approval did not count (or has not reached the hub): no
    sweep work, since configure would refuse it again alike (CloudTrail's record of a person's accept
    starts configure itself when it arrives), until the policy now accepts the pair."""
    requester = peer_vpcs.known(peering.requester) or peer_vpcs.read(peering.requester)
    own = vpc if vpc.vpc_id == peering.accepter.vpc_id else (peer_vpcs.known(peering.accepter))
    if policy_word is None or own is None:
        return None
    judged, verdict = policy_word(peering, requester, own)
    if judged and verdict is not None and verdict.outcome == ACCEPT:
        return "configure", f"tagged {peering.tags.get(STATUS_TAG)}, but the policy now accepts it ({verdict.why})"
    return None


def _policy_changed(peering: Peering, role: str, vpc: Vpc, peer_vpcs: PeerVpcs, policy_word: PolicyWord | None) -> str:
    """Why a request awaiting a person is to be decided again: the policy no longer asks about it
    by the rule its tag names (a rule changed, moved or went). "" when it still does, or when the
    requester's VPC cannot be read as its own account holds it (its tags decide rules: never a guess)."""
    rule = approval.awaiting(peering.tags.get(STATUS_TAG)) if role == ACCEPTER else None
    if rule is None or policy_word is None:
        return ""
    requester = peer_vpcs.known(peering.requester) or peer_vpcs.read(peering.requester)
    judged, verdict = policy_word(peering, requester, vpc)
    if not judged or (verdict is not None and verdict.outcome == ASK and verdict.rule == rule):
        return ""
    says = f"{verdict.outcome} ({verdict.why})" if verdict is not None else "nothing: no rule names this requester"
    return f"awaiting a person under rule {rule}, but the policy now says {says}: decided again"


def _owned(record: PeeringRecord, read: PlaceRead, tables: Sequence[Any], groups: Sequence[Any]) -> Owned:
    """What the record says is the autopilot's on this side, an intent a crash left counted as
    configure and clean-up will settle it (made exactly as intended: its own)."""
    return settle_intents(record, *read.place, tables, groups).owned(record.side(*read.place))


def _publish(publisher: EventPublisher, work: list[Work], reason: str) -> None:
    publish_all(publisher, [item.event(reason) for item in work])
