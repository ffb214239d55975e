"""The verification probe: the runbook's last step, both directions, in plain words.

`diagnose()` gathers one snapshot per side, walks the checklist (`probe.evaluate`) and, where
enabled and possible, asks Reachability Analyzer and pings from SSM-managed probe instances. The
verify function then tags, publishes and notifies; the doctor command prints the same diagnosis.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from peering_autopilot import live_ping
from peering_autopilot.aws import AwsAccess, Ec2Gateway, EventPublisher, actions_of
from peering_autopilot.errors import RoleAssumptionError, VpcNotFoundError
from peering_autopilot.hints import PeeringHint
from peering_autopilot.live_ping import PingResult
from peering_autopilot.lookup import read_peering, status_seen_by
from peering_autopilot.model import ENDED_STATES, STATUS_TAG, Peering, PeeringSide
from peering_autopilot.probe import Direction, SideSnapshot, describe_traffic, evaluate
from peering_autopilot.reachability import AnalyzerResult
from peering_autopilot.routes import ROUTES_TAG
from peering_autopilot.settings import Settings

VERIFIED = "verified"
IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    AwsAccess.ssm,
    AwsAccess.notify,
    Ec2Gateway.find_peering,
    Ec2Gateway.get_vpc,
    Ec2Gateway.probe_endpoint,
    Ec2Gateway.route_tables,
    Ec2Gateway.network_acls,
    Ec2Gateway.security_groups,
    Ec2Gateway.analyze_path,
    Ec2Gateway.tag,
    EventPublisher.publish,
)


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


def diagnose(
    hint: PeeringHint,
    settings: Settings,
    aws: AwsAccess,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Diagnosis, dict[str, Ec2Gateway]]:
    """Read both sides and judge both directions. Returns the diagnosis and the gateways of the
    sides that could be read (by role), for the caller to tag with."""
    deadline = clock() + settings.verify_budget_seconds
    ec2 = aws.ec2(hint.account_id, hint.region)
    peering = read_peering(ec2, hint.peering_id, sleep, until=lambda p: p.status != "provisioning")
    diagnosis = Diagnosis(peering)
    if peering.status in ENDED_STATES:
        return diagnosis, {}
    snapshots: dict[str, SideSnapshot] = {}
    gateways: dict[str, Ec2Gateway] = {}
    for role, info in (("requester", peering.requester), ("accepter", peering.accepter)):
        opened = _open(info, settings, aws, ec2)
        if isinstance(opened, str):
            diagnosis.unreadable.append(f"{role} {info.vpc_id} ({info.account_id}): {opened}")
            continue
        gateways[role] = opened
        snapshots[role] = snapshot(role, info, opened)
    if diagnosis.unreadable:
        return diagnosis, gateways

    a, b = snapshots["requester"], snapshots["accepter"]
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
                result.analyzer = gateways[source.role].analyze_path(
                    src.resource_id, dst.resource_id, traffic, deadline
                )
        if settings.live_ping and src and dst and src.kind == "probe instance":
            ssm = aws.ssm(source.account_id, source.region)
            result.ping = live_ping.ping(ssm, src.resource_id, dst.ip, deadline, sleep, clock)
        diagnosis.directions.append(result)
    return diagnosis, gateways


def snapshot(role: str, info: PeeringSide, ec2: Ec2Gateway) -> SideSnapshot:
    """One read of each kind for one side: VPC, endpoint, route tables, ACLs, endpoint's groups."""
    vpc = ec2.get_vpc(info.vpc_id)
    route_tables = ec2.route_tables(info.vpc_id)
    endpoint = ec2.probe_endpoint(info.vpc_id, isolated_subnets(route_tables))
    return SideSnapshot(
        role=role,
        account_id=info.account_id,
        region=info.region,
        vpc_id=info.vpc_id,
        cidrs=vpc.cidrs,
        endpoint=endpoint,
        route_tables=route_tables,
        network_acls=ec2.network_acls(info.vpc_id),
        security_groups=ec2.security_groups(endpoint.group_ids if endpoint else ()),
    )


def isolated_subnets(route_tables: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Subnets whose table its owner kept out of peering routes (peering-autopilot:routes=false)."""
    return frozenset(
        str(a["SubnetId"])
        for table in route_tables
        if any(t["Key"] == ROUTES_TAG and t["Value"] == "false" for t in table.get("Tags", []))
        for a in table.get("Associations", [])
        if a.get("SubnetId")
    )


def _open(info: PeeringSide, settings: Settings, aws: AwsAccess, known: Ec2Gateway) -> Ec2Gateway | str:
    if not settings.is_managed_account(info.account_id):
        return f"account {info.account_id} is not managed by this hub"
    if known.account_id == info.account_id and known.region == info.region:
        return known
    try:
        return aws.ec2(info.account_id, info.region)
    except RoleAssumptionError as e:
        return f"the member role cannot be assumed: {e}"


@dataclass(frozen=True)
class VerifyResult:
    peering_id: str
    outcome: str  # verified, blocked:<step>, unverified:<why>, or skipped
    report: str
    detail: dict[str, Any]


def verify_peering(
    hint: PeeringHint,
    settings: Settings,
    aws: AwsAccess,
    publisher: EventPublisher,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> VerifyResult:
    if not (settings.is_managed_account(hint.account_id) and settings.is_managed_region(hint.region)):
        return VerifyResult(hint.peering_id, "skipped", f"{hint.account_id}/{hint.region} is not managed", {})
    try:
        diagnosis, gateways = diagnose(hint, settings, aws, sleep, clock)
    except VpcNotFoundError as e:
        return VerifyResult(hint.peering_id, "skipped", str(e), {})
    peering = diagnosis.peering
    if peering.status in ENDED_STATES:
        return VerifyResult(peering.peering_id, "skipped", f"status is {peering.status}: nothing to verify", {})

    outcome = diagnosis.status_value
    text = report_text(diagnosis)
    if not settings.dry_run:
        for gateway in gateways.values():
            current = status_seen_by(gateway, peering, (hint.account_id, hint.region))
            if current is not None and current != outcome:
                gateway.tag(peering.peering_id, {STATUS_TAG: outcome})
    detail = {
        "peeringId": peering.peering_id,
        "peeringStatus": peering.status,
        "outcome": outcome,
        "verified": diagnosis.verified,
        "dryRun": settings.dry_run,
        "unreadableSides": diagnosis.unreadable,
        "directions": [d.describe() for d in diagnosis.directions],
        "report": text,
    }
    detail_type = "Peering Verified" if diagnosis.verified else "Peering Verification Failed"
    publisher.publish(detail_type, detail, resources=[peering.arn])
    if not diagnosis.verified and settings.notification_topic_arn:
        aws.notify(settings.notification_topic_arn, f"Peering {peering.peering_id}: {outcome}", text)
    return VerifyResult(peering.peering_id, outcome, text, detail)


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
