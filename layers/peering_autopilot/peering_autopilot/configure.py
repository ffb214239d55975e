"""Steps 3 and 4 of the runbook: routes and security-group rules on both sides of a peering.

Level-triggered: each run reads what is there (one route-table read and one security-group read
per VPC side), adds only what is missing, and reports per side what it added, what was already
there, what it left alone and why. A second run over a configured peering changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.context import Context
from peering_autopilot.errors import ChangeRefusedError
from peering_autopilot.lookup import read_peering
from peering_autopilot.model import PENDING, PROVISIONING
from peering_autopilot.permissions import actions_of
from peering_autopilot.results import StepResult, peering_detail
from peering_autopilot.routes import Network, Route, RoutePlan, destinations, plan_routes
from peering_autopilot.security_groups import GroupPlan, Rule, ip_permissions, plan_group, rule_description
from peering_autopilot.sides import Side, open_sides
from peering_autopilot.status import CONFIGURED, PARTIALLY_CONFIGURED, is_verdict, write_status
from peering_autopilot.triggers import PeeringHint

DETAIL_TYPE = "Peering Configured"
IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    Ec2Gateway.find_peering,
    Ec2Gateway.get_vpc,
    Ec2Gateway.route_tables,
    Ec2Gateway.allow_tagged_groups,
    Ec2Gateway.create_route,
    Ec2Gateway.authorize_ingress,
    Ec2Gateway.tag,
    EventPublisher.publish,
)


class Outcome(Enum):
    CONFIGURED = CONFIGURED
    PARTIALLY_CONFIGURED = PARTIALLY_CONFIGURED  # a side not managed, or something left alone
    SKIPPED = "skipped"  # nothing to configure: not accepted (yet), ended, or not this hub's


@dataclass
class SideReport:
    side: Side
    routes: RoutePlan = field(default_factory=RoutePlan)
    groups: list[GroupPlan] = field(default_factory=list)
    added_routes: list[Route] = field(default_factory=list)
    added_rules: dict[str, list[Rule]] = field(default_factory=dict)
    refused: list[ChangeRefusedError] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return (
            self.side.managed
            and not self.routes.conflicts
            and not self.refused
            and not any(g.bad_entries for g in self.groups)
        )

    def describe(self) -> dict[str, Any]:
        refused = [{"resourceId": e.resource_id, "code": e.code, "message": e.message} for e in self.refused]
        return {
            **self.side.describe(),
            "routes": {
                "added": [r.describe() for r in self.added_routes],
                "present": [r.describe() for r in self.routes.present],
                "conflicts": [c.describe() for c in self.routes.conflicts],
                "skippedTables": [s.describe() for s in self.routes.skipped],
                "refused": [r for r in refused if r["resourceId"].startswith("rtb-")],
            },
            "securityGroups": {
                "added": [{"groupId": g, "rules": [str(r) for r in rules]} for g, rules in self.added_rules.items()],
                "present": [{"groupId": g.group_id, "rules": [str(r) for r in g.present]} for g in self.groups],
                "invalidEntries": [
                    {"groupId": g.group_id, "entry": b.entry, "error": b.error}
                    for g in self.groups
                    for b in g.bad_entries
                ],
                "refused": [r for r in refused if r["resourceId"].startswith("sg-")],
            },
        }


ConfigureResult = StepResult[Outcome]


def configure_peering(hint: PeeringHint, ctx: Context) -> ConfigureResult:
    settings, aws = ctx.settings, ctx.aws
    if not (settings.is_managed_account(hint.account_id) and settings.is_managed_region(hint.region)):
        return _skipped(hint.peering_id, f"{hint.account_id}/{hint.region} is not managed by this hub")
    ec2 = aws.ec2(hint.account_id, hint.region)
    peering = read_peering(ec2, hint.peering_id, ctx.sleep, ctx.backoff, until=lambda p: p.status != PROVISIONING)
    if not (peering.configurable or (settings.dry_run and peering.status == PENDING)):
        return _skipped(peering.peering_id, f"status is {peering.status}: nothing to configure")

    requester, accepter = open_sides(peering, settings, aws, ec2)
    # IPv6 routes and rules only make sense when both VPCs speak IPv6.
    both_ipv6 = bool(requester.cidrs.ipv6 and accepter.cidrs.ipv6)
    reports = [
        _configure_side(side, destinations(peer.cidrs, both_ipv6), peering.peering_id, settings.dry_run)
        for side, peer in ((requester, accepter), (accepter, requester))
    ]

    outcome = Outcome.CONFIGURED if all(r.complete for r in reports) else Outcome.PARTIALLY_CONFIGURED
    if not settings.dry_run:
        # A run that added nothing leaves a later verdict (verified, blocked:…) in place: the
        # configuration it judged is the one still there.
        changed = any(r.added_routes or r.added_rules for r in reports)
        for report in reports:
            if report.side.managed and report.side.ec2 is not None:
                write_status(
                    report.side.ec2,
                    peering,
                    (hint.account_id, hint.region),
                    outcome.value,
                    keep=lambda current: (
                        not changed and (current in (CONFIGURED, PARTIALLY_CONFIGURED) or is_verdict(current))
                    ),
                )
    detail = peering_detail(peering, outcome, settings.dry_run, (r.describe() for r in reports))
    ctx.publisher.publish(DETAIL_TYPE, detail, resources=[peering.arn])
    return ConfigureResult(peering.peering_id, outcome, _summary(reports), settings.dry_run, detail)


def _configure_side(side: Side, destinations: list[Network], peering_id: str, dry_run: bool) -> SideReport:
    report = SideReport(side)
    if not side.managed or side.ec2 is None:
        return report
    vpc_id = side.info.vpc_id
    report.routes = plan_routes(side.ec2.route_tables([vpc_id]), destinations, peering_id)
    report.groups = [plan_group(g, destinations) for g in side.ec2.allow_tagged_groups([vpc_id])]
    if dry_run:
        report.added_routes = list(report.routes.add)
        report.added_rules = {g.group_id: g.add for g in report.groups if g.add}
        return report

    full_tables: set[str] = set()
    for route in report.routes.add:
        if route.route_table_id in full_tables:
            continue
        try:
            side.ec2.create_route(route.route_table_id, route.destination, peering_id)
        except ChangeRefusedError as e:
            report.refused.append(e)
            if e.code == "RouteLimitExceeded":
                full_tables.add(route.route_table_id)  # the table's other routes would fail alike
            continue
        report.added_routes.append(route)

    description = rule_description(peering_id)
    for group in report.groups:
        if not group.add:
            continue
        try:
            side.ec2.authorize_ingress(group.group_id, ip_permissions(group.add, description))
        except ChangeRefusedError as e:
            report.refused.append(e)
            continue
        report.added_rules[group.group_id] = group.add
    return report


def _summary(reports: list[SideReport]) -> str:
    parts = []
    for r in reports:
        name = r.side.label
        if not r.side.managed:
            parts.append(f"{name}: not managed ({r.side.not_managed})")
            continue
        rules = sum(len(v) for v in r.added_rules.values())
        words = f"{name}: {len(r.added_routes)} route(s) and {rules} rule(s) added"
        if r.routes.conflicts:
            words += f", {len(r.routes.conflicts)} conflicting route(s) left alone"
        if r.refused:
            words += ", refused: " + "; ".join(str(e) for e in r.refused)
        bad = [b.entry for g in r.groups for b in g.bad_entries]
        if bad:
            words += f", invalid allow entries {bad}"
        parts.append(words)
    return "; ".join(parts)


def _skipped(peering_id: str, why: str) -> ConfigureResult:
    return ConfigureResult(peering_id, Outcome.SKIPPED, why)
