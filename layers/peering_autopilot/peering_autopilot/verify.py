"""The verification probe: the runbook's last step, both directions, in plain words.

`diagnose()` gathers one snapshot per side, walks the checklist (`probe.evaluate`) and, where
enabled and possible, asks Reachability Analyzer and pings from SSM-managed probe instances. The
verify function then tags, publishes and notifies; the doctor command prints the same diagnosis.

A peering that is not active yet (pending acceptance, provisioning) has no path to judge: its
verdict is `unverified:not-active`, not a failure. People are told (SNS) of a failing verdict only
when it is new: when it differs from what the status tag already holds on the managed sides (the
previous finding). In DryRun no tag is written, so there is no previous finding to compare with,
and nothing is sent: the "Peering Verification Failed" event carries the finding.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from peering_autopilot import endpoints
from peering_autopilot.aws.dynamodb import BacklogQueue, RecordStore
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.network_insights import NetworkInsightsGateway
from peering_autopilot.aws.service_quotas import QuotaReaders, ServiceQuotasGateway
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.aws.sns import Notifier
from peering_autopilot.aws.ssm import ParameterStore, SsmGateway
from peering_autopilot.budgets import QUOTA
from peering_autopilot.context import Context
from peering_autopilot.events import (
    PeeringVerdict,
    PeeringVerificationDeferred,
    PeeringVerificationFailed,
    PeeringVerified,
)
from peering_autopilot.lookup import read_peering
from peering_autopilot.model import ACTIVE, PROVISIONING, Peering
from peering_autopilot.permissions import actions_of
from peering_autopilot.probe import Direction, Endpoint, SideSnapshot, describe_traffic, evaluate
from peering_autopilot.results import StepResult
from peering_autopilot.settings import DEFAULT_BUDGETS, BudgetLimits, Ranges
from peering_autopilot.side_plan import ROUTED_ELSEWHERE, SideFacts, kept_out_subnets, plan_side
from peering_autopilot.sides import Side, managed_place, open_sides
from peering_autopilot.status import HELD, NOT_ACTIVE, VERIFIED, peering_seen_by, retag, status_of
from peering_autopilot.structs import struct
from peering_autopilot.triggers import PeeringHint

if TYPE_CHECKING:
    # Reachability Analyzer and the live ping are options (off by default): their modules are
    # imported where a diagnosis uses them, not at every cold start.
    from peering_autopilot.live_ping import PingResult
    from peering_autopilot.reachability import AnalyzerResult

IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    ParameterStore.read,  # the policy (authority.load_policy, before the step)
    Ec2Gateway.find_peering,
    Ec2Gateway.get_vpc,
    Ec2Gateway.running_instances,
    Ec2Gateway.probe_interfaces,
    Ec2Gateway.subnets,
    Ec2Gateway.route_tables,
    Ec2Gateway.gone_targets,
    Ec2Gateway.network_acls,
    Ec2Gateway.vpc_security_groups,  # every group of a VPC: the endpoint's, and the judge's
    Ec2Gateway.tag,
    ServiceQuotasGateway.applied,
    NetworkInsightsGateway.create_path,
    NetworkInsightsGateway.start_analysis,
    NetworkInsightsGateway.analysis,
    NetworkInsightsGateway.delete_analysis,
    NetworkInsightsGateway.delete_path,
    SsmGateway.is_online,
    SsmGateway.send_ping,
    SsmGateway.invocation,
    Notifier.notify,
    EventPublisher.publish,
    RecordStore.last,
    RecordStore.put_new,
    BacklogQueue.send,
)


class Outcome(Enum):
    VERIFIED = VERIFIED
    FAILED = "failed"  # blocked at a step, or not verifiable: the verdict says which
    NOT_ACTIVE = "not-active"  # not accepted yet, or still provisioning: no path to judge, not a failure
    SKIPPED = "skipped"  # nothing to verify: ended, or not this hub's


EVENTS: dict[Outcome, type[PeeringVerdict]] = {
    Outcome.VERIFIED: PeeringVerified,
    Outcome.FAILED: PeeringVerificationFailed,
    Outcome.NOT_ACTIVE: PeeringVerificationDeferred,
}


@struct
class DirectionResult:
    path: Direction
    analyzer: AnalyzerResult | None = None
    ping: PingResult | None = None

    @property
    def blocked_at(self) -> str | None:
        """The first step that fails: the path check first, then the analyzer, then the ping."""
        failure = self.path.first_failure
        if failure:
            return failure.step
        if self.analyzer and self.analyzer.status == "blocked":
            return self.analyzer.findings[0].step if self.analyzer.findings else "reachability-analyzer"
        if self.ping and self.ping.status == "no-reply":
            return "live-ping"
        return None

    def describe(self) -> dict[str, Any]:
        return {
            **self.path.describe(),
            "passed": self.blocked_at is None,
            "blockedAt": self.blocked_at,
            "reachabilityAnalyzer": self.analyzer.describe() if self.analyzer else None,
            "livePing": self.ping.describe() if self.ping else None,
        }


@struct
class Diagnosis:
    peering: Peering
    directions: list[DirectionResult] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # sides the hub cannot inspect, and why
    # The whole job, not just the probed pair: what a managed table of either side does not route
    # ("<table> -> <block>: why"), and peer blocks refused by policy. The probe judges one
    # endpoint per side, so without this a conflict in another table would still read `verified`.
    missing_routes: list[str] = field(default_factory=list)
    refused_blocks: list[str] = field(default_factory=list)
    # Each managed side's own view of the peering (its status and holds are its account's), by role.
    views: dict[str, Peering | None] = field(default_factory=dict)
    # A person's more specific route sending a slice of a peer block elsewhere: theirs, and it
    # stays; a note, not a failure (the probe says whether the path it checks is broken).
    path_changes: list[str] = field(default_factory=list)
    # Peer blocks held for a person (a live route there already sends them elsewhere), and the
    # status code of the hold (`side_plan.SidePlan.held_code`).
    held: list[str] = field(default_factory=list)
    # Per side (role), what its own tables say ahead of the probe (`SidePlan.side_finding`):
    # held:<code>, or blocked:routed-elsewhere; each side's status tag carries its own.
    side_findings: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.peering.status == ACTIVE

    @property
    def status_value(self) -> str:
        """The peering's verdict: what its events say (a hold on either side first)."""
        return self.status_for(None)

    def status_for(self, role: str | None) -> str:
        """The verdict as the status tag of one side (`role`) says it: that side's own hold or
        path change, then what the probe found both ways; None: the peering's, any side's."""
        if not self.active:
            return NOT_ACTIVE
        if self.unreadable:
            return "unverified:side-not-readable"
        findings = [self.side_findings[role]] if role in self.side_findings else []
        if role is None:
            findings = sorted(self.side_findings.values(), key=lambda f: not f.startswith(HELD))
        finding = findings[0] if findings else None
        if finding and finding.startswith(HELD):
            return finding
        if any(d.path.source.endpoint is None or d.path.destination.endpoint is None for d in self.directions):
            return "unverified:no-endpoint"  # a VPC without any subnet: nothing to probe from or to
        blocked = [d.blocked_at for d in self.directions if d.blocked_at]
        if blocked:
            return f"blocked:{blocked[0]}"
        if finding:
            return finding  # blocked:routed-elsewhere: a newer route takes a slice of the peer's traffic
        if self.missing_routes:
            return "blocked:routes-missing"
        if self.refused_blocks:
            return "blocked:peer-block-refused"
        elsewhere = [f for r, f in sorted(self.side_findings.items()) if r != role]
        if role is not None and elsewhere:
            # The other side's own finding stands on its tag; this side's never claims `verified`.
            return f"unverified:peer-side-{'held' if elsewhere[0].startswith(HELD) else ROUTED_ELSEWHERE}"
        return VERIFIED

    @property
    def verified(self) -> bool:
        return self.status_value == VERIFIED

    @property
    def outcome(self) -> Outcome:
        if self.verified:
            return Outcome.VERIFIED
        return Outcome.FAILED if self.active else Outcome.NOT_ACTIVE


def diagnose(hint: PeeringHint, ctx: Context) -> tuple[Diagnosis, list[Side]]:
    """Read both sides and judge both directions. Returns the diagnosis and the sides, for the
    caller to tag the managed ones."""
    settings, aws = ctx.settings, ctx.aws
    budget = ctx.budget(settings.verify_budget_seconds)
    ec2 = aws.ec2(hint.account_id, hint.region)
    peering = read_peering(ec2, hint.peering_id, ctx.sleep, ctx.backoff, until=lambda p: p.status != PROVISIONING)
    diagnosis = Diagnosis(peering)
    if not diagnosis.active:
        return diagnosis, []  # ended, or no path yet: nothing to read
    sides = open_sides(peering, settings, aws, ec2)
    for side in sides:
        if not side.readable:
            diagnosis.unreadable.append(f"{side.label} ({side.info.account_id}): {side.not_managed}")
    # Each managed side's own view: what its tag holds now, and its holds (one read for the other side).
    read_in = (ec2.account_id, ec2.region)
    diagnosis.views = {s.role: peering_seen_by(s.ec2, peering, read_in) for s in sides if s.managed and s.ec2}
    if diagnosis.unreadable:
        return diagnosis, sides

    a, b = (snapshot(side) for side in sides)
    _check_route_coverage(diagnosis, sides, (a, b), settings.peer_ranges, ctx.now(), settings.budgets, ctx.quotas)
    for source, destination in ((a, b), (b, a)):
        traffic = destination.traffic_in()
        result = DirectionResult(evaluate(peering.peering_id, peering.status, source, destination, traffic))
        src, dst = source.endpoint, destination.endpoint
        analyzable = src and dst and src.kind != "subnet" and dst.kind != "subnet"
        if settings.reachability_analyzer and analyzable and src and dst:
            from peering_autopilot import reachability  # an option: imported where it is on

            if source.region != destination.region:
                result.analyzer = reachability.AnalyzerResult(
                    "unavailable", "inter-region: Reachability Analyzer works in one region"
                )
            else:
                gateway = aws.network_insights(source.account_id, source.region)
                result.analyzer = reachability.analyze(gateway, src.resource_id, dst.resource_id, traffic, budget)
        if settings.live_ping and src and dst and src.kind == "probe instance":
            from peering_autopilot import live_ping  # an option: imported where it is on

            ssm = aws.ssm(source.account_id, source.region)
            result.ping = live_ping.ping(ssm, src.resource_id, dst.ip, budget)
        diagnosis.directions.append(result)
    return diagnosis, sides


def _check_route_coverage(
    diagnosis: Diagnosis,
    sides: Sequence[Side],
    snapshots: Sequence[SideSnapshot],
    policy: Ranges,
    now: float,
    limits: BudgetLimits = DEFAULT_BUDGETS,
    quotas: QuotaReaders | None = None,
) -> None:
    """Every managed table of every managed side must route every peer block through the
    peering: the judge configure executes (side_plan) says which, from the tables the probe
    already read, and what it holds (a block routed elsewhere; a budget, in those tables and in
    the VPC's groups, which the probe read too), each side judged with its own view of the
    peering, as the sweep judges it."""
    peering = diagnosis.peering
    for side, snap, peer in zip(sides, snapshots, reversed(sides), strict=True):
        if not side.managed or side.vpc is None:
            continue  # its owner did not opt in: its tables are not the autopilot's job
        groups = tuple(snap.security_groups.values())
        # The peering as this side's account sees it: its tags (holds after a refusal) are its own.
        view = diagnosis.views.get(side.role) or peering
        facts = SideFacts(side.role, view, side.vpc, snap.route_tables, groups, peer.vpc)
        plan = plan_side(
            facts,
            policy,
            now,
            read_gone=side.ec2.gone_targets if side.ec2 else None,
            limits=limits,
            read_quota=quotas.reader(snap.account_id, snap.region) if quotas is not None else None,
        )
        diagnosis.held.extend(f"{snap.vpc_id}: {line}" for line in plan.held_routes())
        diagnosis.held.extend(f"{snap.vpc_id}: held ({QUOTA}): {line}" for line in plan.held_budgets())
        if plan.side_finding:
            diagnosis.side_findings[side.role] = plan.side_finding
        diagnosis.refused_blocks.extend(f"{snap.vpc_id} -> {r.cidr}: {r.reason}" for r in plan.refused_blocks)
        diagnosis.missing_routes.extend(
            f"{table_id} -> {destination}: {reason}"
            for (table_id, destination), reason in sorted(plan.missing_routes().items())
        )
        diagnosis.path_changes.extend(f"{p.route_table_id}: {p.reason}" for p in plan.routes.path_changes)


def snapshot(side: Side) -> SideSnapshot:
    """One read of each kind for one readable side: endpoint, route tables, ACLs, endpoint's groups."""
    assert side.ec2 is not None and side.vpc is not None, "only readable sides are probed"
    ec2, vpc_id = side.ec2, side.info.vpc_id
    route_tables = ec2.route_tables([vpc_id])
    # Never a subnet whose table the owner kept out of peering routes: no configured path leads there.
    endpoint = probe_endpoint(ec2, vpc_id, kept_out_subnets(route_tables))
    return SideSnapshot(
        role=side.role,
        account_id=side.info.account_id,
        region=side.info.region,
        vpc_id=vpc_id,
        cidrs=side.vpc.cidrs,
        endpoint=endpoint,
        route_tables=route_tables,
        network_acls=ec2.network_acls(vpc_id),
        # Every group of the VPC, in the one read the endpoint's groups took before (an interface's
        # groups are always its VPC's): the judge counts rules against the budgets in all of them.
        security_groups={g.group_id: g for g in ec2.vpc_security_groups([vpc_id])},
    )


def probe_endpoint(ec2: Ec2Gateway, vpc_id: str, kept_out: Container[str]) -> Endpoint | None:
    """The VPC's endpoint in `endpoints`' order of preference, reading only as far as needed."""
    instances = ec2.running_instances(vpc_id)
    return (
        endpoints.tagged_probe_instance(instances, kept_out)
        or endpoints.tagged_probe_interface(ec2.probe_interfaces(vpc_id), kept_out)
        or endpoints.representative_instance(instances, kept_out)
        or endpoints.representative_subnet(ec2.subnets(vpc_id), kept_out)
    )


@struct(frozen=True)
class VerifyResult(StepResult[Outcome]):
    METRICS: ClassVar[Mapping[Enum, str]] = {
        Outcome.VERIFIED: "PeeringsVerified",
        Outcome.FAILED: "PeeringVerificationsFailed",
    }
    verdict: str = ""  # verified, blocked:<step>, unverified:<why>; empty when skipped

    @property
    def warning(self) -> bool:
        return self.outcome is Outcome.FAILED

    @property
    def report(self) -> str:
        return self.summary

    def response(self) -> dict[str, Any]:
        return {"status": self.verdict or self.outcome.value, "peeringId": self.peering_id, "report": self.summary}

    def log_fields(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "report": self.summary}


def verify_peering(hint: PeeringHint, ctx: Context) -> VerifyResult:
    settings, aws = ctx.settings, ctx.aws
    seen_from = managed_place(hint, settings)
    if seen_from is None:
        return _skipped(hint.peering_id, f"{hint.account_id}/{hint.region} is not managed")
    hint = seen_from  # the event's own place, else the peering's other side
    diagnosis, sides = diagnose(hint, ctx)
    peering = diagnosis.peering
    if peering.ended:
        return _skipped(peering.peering_id, f"status is {peering.status}: nothing to verify")

    verdict, outcome = diagnosis.status_value, diagnosis.outcome
    text = report_text(diagnosis)
    # The sides the verdict is written on, and what each holds now: the previous finding. A peering
    # not active yet has no sides read, and keeps its tag (a pending request's decision, which the
    # sweep reads).
    tagged = [s for s in sides if s.managed and s.ec2 is not None]
    previous = {} if settings.dry_run else {s.role: status_of(diagnosis.views.get(s.role)) for s in tagged}
    notify = (
        outcome is Outcome.FAILED
        and bool(settings.notification_topic_arn)
        and not settings.dry_run
        and verdict not in previous.values()
    )
    if notify:
        # Before the tags: a crash in between tells people twice rather than never.
        aws.notifier(settings.notification_topic_arn).notify(f"Peering {peering.peering_id}: {verdict}", text)
    for side in tagged:
        if side.ec2 is not None:
            retag(side.ec2, peering.peering_id, previous.get(side.role), diagnosis.status_for(side.role))
    _record(ctx, diagnosis, previous)
    event = EVENTS[outcome](
        peering_id=peering.peering_id,
        peering_status=peering.status,
        outcome=verdict,
        verified=diagnosis.verified,
        dry_run=settings.dry_run,
        notified=notify,
        unreadable_sides=tuple(diagnosis.unreadable),
        missing_routes=tuple(diagnosis.missing_routes),
        refused_blocks=tuple(diagnosis.refused_blocks),
        held=tuple(diagnosis.held),
        directions=tuple(d.describe() for d in diagnosis.directions),
        report=text,
    )
    event.publish(ctx.publisher, resources=[peering.arn(ctx.aws.partition(peering.accepter.region))])
    detail = event.as_detail()
    return VerifyResult(peering.peering_id, outcome, text, settings.dry_run, detail, verdict)


def _record(ctx: Context, diagnosis: Diagnosis, previous: Mapping[str, str | None]) -> None:
    """The verdict in the peering's history, when it is new: it differs from the status tag it
    replaces on a managed side (a verdict found again adds nothing)."""
    verdict = diagnosis.status_value
    if not any(tag is not None and tag != verdict for tag in previous.values()):
        return
    kind = "verified" if diagnosis.verified else verdict.split(":", 1)[0]  # blocked, unverified
    evidence = {
        "verdict": verdict,
        "replaces": dict(previous),
        "directions": [
            {"name": d.path.name, "passed": d.blocked_at is None, "blockedAt": d.blocked_at}
            for d in diagnosis.directions
        ],
        "missingRoutes": diagnosis.missing_routes,
        "refusedBlocks": diagnosis.refused_blocks,
        "held": diagnosis.held,
        "pathChanges": diagnosis.path_changes,
        "unreadable": diagnosis.unreadable,
    }
    ctx.recorder.log(diagnosis.peering.peering_id, kind, f"verdict {verdict}", evidence)


def _skipped(peering_id: str, why: str) -> VerifyResult:
    return VerifyResult(peering_id, Outcome.SKIPPED, why)


def report_text(diagnosis: Diagnosis) -> str:
    """The same words for the event, the SNS message and the doctor's table."""
    peering = diagnosis.peering
    lines = [
        f"Peering {peering.peering_id} ({peering.status}): "
        f"{peering.requester.vpc_id} ({peering.requester.account_id} {peering.requester.region}) <-> "
        f"{peering.accepter.vpc_id} ({peering.accepter.account_id} {peering.accepter.region})"
    ]
    if peering.ended:
        lines.append(f"  ended: {peering.peering_id} is {peering.status}; it carries no traffic any more")
    elif not diagnosis.active:
        lines.append(f"  not active: {peering.peering_id} is {peering.status}; the path is checked once it is active")
    for reason in diagnosis.unreadable:
        lines.append(f"  cannot inspect {reason}")
    for result in diagnosis.directions:
        path = result.path
        src = path.source.endpoint.label if path.source.endpoint else "?"
        dst = path.destination.endpoint.label if path.destination.endpoint else "?"
        lines.append("")
        lines.append(f"{path.name}: {describe_traffic(path.traffic)} from {src} to {dst}")
        lines.extend(_table([(c.step, _word(c.ok), c.detail) for c in path.checks]))
        if result.analyzer:
            lines.append(f"  {'reachability':<16} {result.analyzer.status.upper():<11} {result.analyzer.detail}")
        if result.ping:
            lines.append(f"  {'live ping':<16} {result.ping.status.upper():<11} {result.ping.detail}")
        blocked = result.blocked_at
        lines.append(f"  => {'OK' if blocked is None else 'BLOCKED at ' + blocked}")
    if diagnosis.missing_routes or diagnosis.refused_blocks:
        lines.append("")
        lines.append("Route tables not routing the peer's blocks:" if diagnosis.missing_routes else "Peer blocks:")
        lines.extend(f"  {line}" for line in diagnosis.missing_routes)
        lines.extend(f"  refused {line}" for line in diagnosis.refused_blocks)
    if diagnosis.held:
        lines.append("")
        lines.append(
            "Held for a person: a live route already sends these peer blocks elsewhere (the older claim keeps its traffic):"
        )
        lines.extend(f"  {line}" for line in diagnosis.held)
    if diagnosis.path_changes:
        lines.append("")
        lines.append("A person's route changes the path (theirs: it stays; the peering is not verified while it does):")
        lines.extend(f"  {line}" for line in diagnosis.path_changes)
    lines.append("")
    lines.append(f"Verdict: {diagnosis.status_value}")
    return "\n".join(lines)


def _table(rows: Sequence[tuple[str, str, str]]) -> list[str]:
    return [f"  {step:<16} {word:<11} {detail}" for step, word, detail in rows]


def _word(ok: bool | None) -> str:
    return "ok" if ok else ("not checked" if ok is None else "FAIL")
