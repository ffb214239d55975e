"""Sweeps close the gaps events leave: CloudTrail reaches EventBridge best-effort, the accepter
account sees no event for a request, people delete routes by hand, and peerings end.

Per managed account and region, the sweep reads each resource type once (peerings, opted-in VPCs,
their route tables, their allow-tagged groups: paginated and filtered), compares them with what the
autopilot would do, and publishes one "Peering Work Found" event per peering that needs work. The
accept, configure and clean-up functions take those events like any other: one code path.
A VPC gaining the opt-in tag is swept at once, alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.context import Context
from peering_autopilot.errors import RoleAssumptionError
from peering_autopilot.model import ACCEPTER, REQUESTER, STATUS_TAG, SWEPT_STATES, Peering, PeeringSide, Vpc
from peering_autopilot.permissions import actions_of
from peering_autopilot.routes import destinations, peerings_routed, plan_routes
from peering_autopilot.security_groups import autopilot_permissions, peerings_opened, plan_group
from peering_autopilot.triggers import WORK_DETAIL_TYPE, ScheduledSweep, VpcHint

IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    Ec2Gateway.all_peerings,
    Ec2Gateway.opted_in_vpcs,
    Ec2Gateway.route_tables,
    Ec2Gateway.allow_tagged_groups,
    EventPublisher.publish_many,
)


class Outcome(Enum):
    SWEPT = "sweep"  # the schedule: every managed account and region
    OPT_IN = "opt-in"  # a VPC opted in: swept at once, alone
    OPT_OUT = "opt-out"  # a VPC opted out: no longer touched


@dataclass(frozen=True, order=True)
class Work:
    """One peering that needs one kind of work, and where to read it."""

    peering_id: str
    work: str  # accept, configure, clean-up
    account_id: str
    region: str
    why: str
    local: bool = False  # only this account and region can do it (the peering is gone from its view)

    def detail(self, reason: str) -> dict[str, str]:
        return {
            "peeringId": self.peering_id,
            "work": self.work,
            "accountId": self.account_id,
            "region": self.region,
            "why": self.why,
            "foundBy": reason,
        }


@dataclass
class SweepReport:
    outcome: Outcome
    subject: str = "sweep"  # what was swept: the estate, or one VPC
    work: list[Work] = field(default_factory=list)
    places: int = 0  # account x region pairs read
    problems: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        counts: dict[str, int] = defaultdict(int)
        for item in self.work:
            counts[item.work] += 1
        return {"places": self.places, "work": dict(counts), "problems": self.problems}

    def response(self) -> dict[str, Any]:
        return {"status": self.outcome.value, **self.describe()}

    def log_fields(self) -> dict[str, Any]:
        return self.describe()


def handle_sweep_trigger(trigger: VpcHint | ScheduledSweep, ctx: Context) -> SweepReport:
    return sweep(ctx) if isinstance(trigger, ScheduledSweep) else sweep_vpc(trigger, ctx)


def sweep(ctx: Context) -> SweepReport:
    """Every managed account in every managed region."""
    settings, aws = ctx.settings, ctx.aws
    report = SweepReport(Outcome.SWEPT)
    found: dict[tuple[str, ...], Work] = {}
    for account in sorted({settings.hub_account_id, *settings.approved_account_ids}):
        for region in settings.managed_regions:
            try:
                ec2 = aws.ec2(account, region)
                items = find_work(ec2)
            except RoleAssumptionError as e:
                report.problems.append(str(e))
                continue
            report.places += 1
            for item in items:
                # Both sides may report the same work: once is enough, except leftovers of a peering
                # one account no longer sees while the other may still list it.
                where = (item.account_id, item.region) if item.local else ()
                found.setdefault((item.peering_id, item.work, *where), item)
    report.work = sorted(found.values())
    _publish(ctx.publisher, report.work, "sweep")
    return report


def sweep_vpc(hint: VpcHint, ctx: Context) -> SweepReport:
    """A VPC that just opted in: its pending requests and existing peerings, at once."""
    settings, aws = ctx.settings, ctx.aws
    report = SweepReport(Outcome.OPT_IN if hint.opted_in else Outcome.OPT_OUT, subject=hint.vpc_id)
    if not hint.opted_in:
        return report  # no longer touched; what was configured stays as it is (see README)
    if not (settings.is_managed_account(hint.account_id) and settings.is_managed_region(hint.region)):
        report.problems.append(f"{hint.account_id}/{hint.region} is not managed by this hub")
        return report
    report.places = 1
    # Requests declined because this VPC was not opted in deserve a new decision now.
    report.work = sorted(find_work(aws.ec2(hint.account_id, hint.region), only_vpc=hint.vpc_id, reconsider=True))
    _publish(ctx.publisher, report.work, "opt-in")
    return report


def find_work(ec2: Ec2Gateway, only_vpc: str | None = None, reconsider: bool = False) -> list[Work]:
    """What the autopilot would do here, found from one read of each resource type."""
    vpcs = ec2.opted_in_vpcs()
    if only_vpc is not None:
        vpcs = {k: v for k, v in vpcs.items() if k == only_vpc}
    if not vpcs:
        return []
    peerings = ec2.all_peerings(SWEPT_STATES)
    tables = _by_vpc(ec2.route_tables(vpcs))
    groups = _by_vpc(ec2.allow_tagged_groups(vpcs))
    work: list[Work] = []
    visible = {p.peering_id for p in peerings}
    for peering in peerings:
        for role, side, peer in (
            (REQUESTER, peering.requester, peering.accepter),
            (ACCEPTER, peering.accepter, peering.requester),
        ):
            if side.account_id != ec2.account_id or side.region != ec2.region or side.vpc_id not in vpcs:
                continue
            item = _judge(
                peering, role, vpcs[side.vpc_id], peer, vpcs, tables[side.vpc_id], groups[side.vpc_id], reconsider
            )
            if item:
                work.append(Work(peering.peering_id, item[0], ec2.account_id, ec2.region, item[1]))
    # Routes through, or rules for, peerings EC2 no longer even lists: leftovers of long-ended ones.
    forgotten: set[str] = set()
    for vpc_id in vpcs:
        forgotten |= (peerings_routed(tables[vpc_id]) | peerings_opened(groups[vpc_id])) - visible
    for pcx in sorted(forgotten):
        why = "routes or rules lead to a peering that is gone"
        work.append(Work(pcx, "clean-up", ec2.account_id, ec2.region, why, local=True))
    return work


def _judge(
    peering: Peering,
    role: str,
    vpc: Vpc,
    peer: PeeringSide,
    local_vpcs: Mapping[str, Vpc],
    tables: list[dict[str, Any]],
    groups: list[dict[str, Any]],
    reconsider: bool,
) -> tuple[str, str] | None:
    pid = peering.peering_id
    if peering.pending:
        if role == ACCEPTER and (reconsider or STATUS_TAG not in peering.tags):
            return "accept", "a pending request to decide on"
        return None
    if peering.configurable:
        peer_cidrs = peer.cidrs.union(local_vpcs[peer.vpc_id].cidrs) if peer.vpc_id in local_vpcs else peer.cidrs
        wanted = destinations(peer_cidrs, with_ipv6=bool(vpc.cidrs.ipv6 and peer_cidrs.ipv6))
        missing_routes = plan_routes(tables, wanted, pid).add
        missing_rules = [g for g in (plan_group(group, wanted) for group in groups) if g.add]
        if missing_routes or missing_rules:
            words = f"{len(missing_routes)} route(s) and {sum(len(g.add) for g in missing_rules)} rule(s) missing in {vpc.vpc_id}"
            return "configure", words
        return None
    if peering.ended:
        routed = pid in peerings_routed(tables)
        opened = any(autopilot_permissions(group, pid) for group in groups)
        if routed or opened:
            return "clean-up", f"{peering.status} peering still has routes or rules in {vpc.vpc_id}"
    return None


def _by_vpc(resources: Iterable[dict[str, Any]]) -> defaultdict[str, list[dict[str, Any]]]:
    grouped: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for resource in resources:
        grouped[str(resource["VpcId"])].append(resource)
    return grouped


def _publish(publisher: EventPublisher, work: list[Work], reason: str) -> None:
    if work:
        publisher.publish_many(WORK_DETAIL_TYPE, [(item.detail(reason), []) for item in work])
