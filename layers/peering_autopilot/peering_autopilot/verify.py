"""The verification probe: the runbook's last step, both directions, in plain words.

`diagnose()` gathers one snapshot per side, walks the checklist (`probe.evaluate`) and, where
enabled and possible, asks Reachability Analyzer and pings from SSM-managed probe instances. The
verify function then tags, publishes and notifies; the doctor command prints the same diagnosis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from peering_autopilot import endpoints, live_ping, reachability
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.network_insights import NetworkInsightsGateway
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.aws.sns import Notifier
from peering_autopilot.aws.ssm import SsmGateway
from peering_autopilot.context import Context
from peering_autopilot.live_ping import PingResult
from peering_autopilot.lookup import read_peering
from peering_autopilot.model import PROVISIONING, Peering
from peering_autopilot.permissions import actions_of
from peering_autopilot.probe import Direction, Endpoint, SideSnapshot, describe_traffic, evaluate
from peering_autopilot.reachability import AnalyzerResult
from peering_autopilot.results import StepResult
from peering_autopilot.sides import Side, open_sides
from peering_autopilot.status import VERIFIED, write_status
from peering_autopilot.triggers import PeeringHint

IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    Ec2Gateway.find_peering,
    Ec2Gateway.get_vpc,
    Ec2Gateway.running_instances,
    Ec2Gateway.probe_interfaces,
    Ec2Gateway.subnets,
    Ec2Gateway.route_tables,
    Ec2Gateway.network_acls,
    Ec2Gateway.security_groups,
    Ec2Gateway.tag,
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
)


class Outcome(Enum):
    VERIFIED = VERIFIED
    FAILED = "failed"  # blocked at a step, or not verifiable: the verdict says which
    SKIPPED = "skipped"  # nothing to verify: ended, or not this hub's


@dataclass
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


@dataclass
class Diagnosis:
    peering: Peering
    directions: list[DirectionResult] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # sides the hub cannot inspect, and why

    @property
    def status_value(self) -> str:
        if self.unreadable:
            return "unverified:side-not-readable"
        if any(d.path.source.endpoint is None or d.path.destination.endpoint is None for d in self.directions):
            return "unverified:no-endpoint"  # a VPC without any subnet: nothing to probe from or to
        blocked = [d.blocked_at for d in self.directions if d.blocked_at]
        return f"blocked:{blocked[0]}" if blocked else VERIFIED

    @property
    def verified(self) -> bool:
        return self.status_value == VERIFIED


def diagnose(hint: PeeringHint, ctx: Context) -> tuple[Diagnosis, list[Side]]:
    """Read both sides and judge both directions. Returns the diagnosis and the sides, for the
    caller to tag the managed ones."""
    settings, aws = ctx.settings, ctx.aws
    budget = ctx.budget(settings.verify_budget_seconds)
    ec2 = aws.ec2(hint.account_id, hint.region)
    peering = read_peering(ec2, hint.peering_id, ctx.sleep, ctx.backoff, until=lambda p: p.status != PROVISIONING)
    diagnosis = Diagnosis(peering)
    if peering.ended:
        return diagnosis, []
    sides = open_sides(peering, settings, aws, ec2)
    for side in sides:
        if not side.readable:
            diagnosis.unreadable.append(f"{side.label} ({side.info.account_id}): {side.not_managed}")
    if diagnosis.unreadable:
        return diagnosis, sides

    a, b = (snapshot(side) for side in sides)
    for source, destination in ((a, b), (b, a)):
        traffic = destination.traffic_in()
        result = DirectionResult(evaluate(peering.peering_id, peering.status, source, destination, traffic))
        src, dst = source.endpoint, destination.endpoint
        analyzable = src and dst and src.kind != "subnet" and dst.kind != "subnet"
        if settings.reachability_analyzer and analyzable and src and dst:
            if source.region != destination.region:
                result.analyzer = AnalyzerResult(
                    "unavailable", "inter-region: Reachability Analyzer works in one region"
                )
            else:
                gateway = aws.network_insights(source.account_id, source.region)
                result.analyzer = reachability.analyze(gateway, src.resource_id, dst.resource_id, traffic, budget)
        if settings.live_ping and src and dst and src.kind == "probe instance":
            ssm = aws.ssm(source.account_id, source.region)
            result.ping = live_ping.ping(ssm, src.resource_id, dst.ip, budget)
        diagnosis.directions.append(result)
    return diagnosis, sides


def snapshot(side: Side) -> SideSnapshot:
    """One read of each kind for one readable side: endpoint, route tables, ACLs, endpoint's groups."""
    assert side.ec2 is not None and side.vpc is not None, "only readable sides are probed"
    ec2, vpc_id = side.ec2, side.info.vpc_id
    route_tables = ec2.route_tables([vpc_id])
    endpoint = probe_endpoint(ec2, vpc_id, endpoints.isolated_subnets(route_tables))
    return SideSnapshot(
        role=side.role,
        account_id=side.info.account_id,
        region=side.info.region,
        vpc_id=vpc_id,
        cidrs=side.vpc.cidrs,
        endpoint=endpoint,
        route_tables=route_tables,
        network_acls=ec2.network_acls(vpc_id),
        security_groups=ec2.security_groups(endpoint.group_ids if endpoint else ()),
    )


def probe_endpoint(ec2: Ec2Gateway, vpc_id: str, isolated: frozenset[str]) -> Endpoint | None:
    """The VPC's endpoint in `endpoints`' order of preference, reading only as far as needed."""
    instances = ec2.running_instances(vpc_id)
    return (
        endpoints.tagged_probe_instance(instances)
        or endpoints.tagged_probe_interface(ec2.probe_interfaces(vpc_id))
        or endpoints.representative_instance(instances, isolated)
        or endpoints.representative_subnet(ec2.subnets(vpc_id), isolated)
    )


@dataclass(frozen=True)
class VerifyResult(StepResult[Outcome]):
    verdict: str = ""  # verified, blocked:<step>, unverified:<why>; empty when skipped

    @property
    def report(self) -> str:
        return self.summary

    def response(self) -> dict[str, Any]:
        return {"status": self.verdict or self.outcome.value, "peeringId": self.peering_id, "report": self.summary}

    def log_fields(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "report": self.summary}


def verify_peering(hint: PeeringHint, ctx: Context) -> VerifyResult:
    settings, aws = ctx.settings, ctx.aws
    if not (settings.is_managed_account(hint.account_id) and settings.is_managed_region(hint.region)):
        return _skipped(hint.peering_id, f"{hint.account_id}/{hint.region} is not managed")
    diagnosis, sides = diagnose(hint, ctx)
    peering = diagnosis.peering
    if peering.ended:
        return _skipped(peering.peering_id, f"status is {peering.status}: nothing to verify")

    verdict = diagnosis.status_value
    text = report_text(diagnosis)
    if not settings.dry_run:
        for side in sides:
            if side.managed and side.ec2 is not None:
                write_status(side.ec2, peering, (hint.account_id, hint.region), verdict)
    detail = {
        "peeringId": peering.peering_id,
        "peeringStatus": peering.status,
        "outcome": verdict,
        "verified": diagnosis.verified,
        "dryRun": settings.dry_run,
        "unreadableSides": diagnosis.unreadable,
        "directions": [d.describe() for d in diagnosis.directions],
        "report": text,
    }
    detail_type = "Peering Verified" if diagnosis.verified else "Peering Verification Failed"
    ctx.publisher.publish(detail_type, detail, resources=[peering.arn])
    if not diagnosis.verified and settings.notification_topic_arn:
        aws.notifier(settings.notification_topic_arn).notify(f"Peering {peering.peering_id}: {verdict}", text)
    outcome = Outcome.VERIFIED if diagnosis.verified else Outcome.FAILED
    return VerifyResult(peering.peering_id, outcome, text, settings.dry_run, detail, verdict)


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
    lines.append("")
    lines.append(f"Verdict: {diagnosis.status_value}")
    return "\n".join(lines)


def _table(rows: Sequence[tuple[str, str, str]]) -> list[str]:
    return [f"  {step:<16} {word:<11} {detail}" for step, word, detail in rows]


def _word(ok: bool | None) -> str:
    return "ok" if ok else ("not checked" if ok is None else "FAIL")
