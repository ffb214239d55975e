"""Steps 3 and 4 of the runbook: routes and security-group rules on both sides of a peering.

Level-triggered, both ways: each run reads what is there (one route-table read and one
security-group read per VPC side), computes what the tags and the VPCs' blocks want, adds what is
missing, replaces blackhole routes, takes back what the autopilot owns that is no longer wanted,
and reports per side what it did, what it left alone and why. A second run changes nothing.
Once the peering is active, each managed side also gets its remote DNS option as its VPC's tag
asks, and a Name where its view of the peering has none (side_options.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.context import Context
from peering_autopilot.errors import AwsCallError, ChangeRefusedError, ThrottledError
from peering_autopilot.events import PeeringConfigured
from peering_autopilot.holds import QUOTA_CODES, Hold, holding, holds_in, new_hold, sizes_of
from peering_autopilot.lookup import read_peering
from peering_autopilot.model import ACTIVE, PENDING, PROVISIONING, REQUESTER, Peering
from peering_autopilot.permissions import actions_of
from peering_autopilot.results import StepResult
from peering_autopilot.routes import RefusedBlock, Route, RoutePlan, peer_destinations, plan_routes
from peering_autopilot.security_groups import GroupPlan, Rule, ip_permissions, plan_group, rule_description
from peering_autopilot.settings import Settings
from peering_autopilot.side_options import MARK, DnsPlan, dns_mark, name_needed, peering_name, plan_dns, vpc_label
from peering_autopilot.sides import Side, managed_place, open_sides
from peering_autopilot.status import CONFIGURED, PARTIALLY_CONFIGURED, is_verdict, peering_seen_by, write_status
from peering_autopilot.triggers import PeeringHint

IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    Ec2Gateway.find_peering,
    Ec2Gateway.get_vpc,
    Ec2Gateway.route_tables,
    Ec2Gateway.vpc_security_groups,
    Ec2Gateway.create_route,
    Ec2Gateway.replace_route,
    Ec2Gateway.delete_route,
    Ec2Gateway.authorize_ingress,
    Ec2Gateway.revoke_ingress,
    Ec2Gateway.tag,
    Ec2Gateway.untag,
    Ec2Gateway.set_remote_dns,
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
    refused_blocks: list[RefusedBlock] = field(default_factory=list)  # peer blocks not routed or allowed
    added_routes: list[Route] = field(default_factory=list)
    replaced_routes: list[Route] = field(default_factory=list)
    removed_routes: list[Route] = field(default_factory=list)
    added_rules: dict[str, list[Rule]] = field(default_factory=dict)
    removed_rules: dict[str, list[Rule]] = field(default_factory=dict)
    refused: list[ChangeRefusedError] = field(default_factory=list)
    held: list[Hold] = field(default_factory=list)  # quota refusals not retried yet
    dns: DnsPlan | None = None  # active peerings only
    name: str | None = None  # the Name given to this side's view of the peering, if it had none
    option_errors: list[str] = field(default_factory=list)  # remote DNS EC2 refused

    @property
    def complete(self) -> bool:
        return (
            self.side.managed
            and not self.routes.conflicts
            and not self.refused
            and not self.held
            and not self.refused_blocks
            and not any(g.bad_entries for g in self.groups)
            and not self.option_errors
        )

    @property
    def changed(self) -> bool:
        return bool(
            self.added_routes or self.replaced_routes or self.removed_routes or self.added_rules or self.removed_rules
        )

    def describe(self) -> dict[str, Any]:
        refused = [{"resourceId": e.resource_id, "code": e.code, "message": e.message} for e in self.refused]
        held = [h.describe() for h in self.held]
        return {
            **self.side.describe(),
            "refusedBlocks": [b.describe() for b in self.refused_blocks],
            "routes": {
                "added": [r.describe() for r in self.added_routes],
                "replaced": [
                    r.describe()
                    for r in self.routes.replace
                    if Route(r.route_table_id, r.destination) in self.replaced_routes
                ],
                "removed": [r.describe() for r in self.removed_routes],
                "present": [r.describe() for r in self.routes.present],
                "conflicts": [c.describe() for c in self.routes.conflicts],
                "leftAlone": [r.describe() for r in self.routes.left_alone],
                "shadowing": [w.describe() for w in self.routes.shadowed],
                "skippedTables": [s.describe() for s in self.routes.skipped],
                "refused": [r for r in refused if r["resourceId"].startswith("rtb-")],
                "held": [h for h in held if h["resourceId"].startswith("rtb-")],
            },
            "securityGroups": {
                "added": [{"groupId": g, "rules": [str(r) for r in rules]} for g, rules in self.added_rules.items()],
                "removed": [
                    {"groupId": g, "rules": [str(r) for r in rules]} for g, rules in self.removed_rules.items()
                ],
                "present": [
                    {"groupId": g.group_id, "rules": [str(r) for r in g.present]} for g in self.groups if g.present
                ],
                "keptUnclear": [
                    {"groupId": g.group_id, "rules": [str(r) for r in g.kept]} for g in self.groups if g.kept
                ],
                "invalidEntries": [
                    {"groupId": g.group_id, "entry": b.entry, "error": b.error}
                    for g in self.groups
                    for b in g.bad_entries
                ],
                "refused": [r for r in refused if r["resourceId"].startswith("sg-")],
                "held": [h for h in held if h["resourceId"].startswith("sg-")],
            },
            "remoteDns": {**self.dns.describe(), "errors": self.option_errors} if self.dns else None,
            "nameGiven": self.name,
        }


@dataclass(frozen=True)
class ConfigureResult(StepResult[Outcome]):
    METRICS: ClassVar[Mapping[Enum, str]] = {
        Outcome.CONFIGURED: "PeeringsConfigured",
        Outcome.PARTIALLY_CONFIGURED: "PeeringsPartiallyConfigured",
        Outcome.SKIPPED: "ConfigureSkipped",
    }


def configure_peering(hint: PeeringHint, ctx: Context) -> ConfigureResult:
    settings, aws = ctx.settings, ctx.aws
    seen_from = managed_place(hint, settings)
    if seen_from is None:
        return _skipped(hint.peering_id, f"{hint.account_id}/{hint.region} is not managed by this hub")
    hint = seen_from  # the event's own place, else the peering's other side (a partner's accept)
    ec2 = aws.ec2(hint.account_id, hint.region)
    peering = read_peering(ec2, hint.peering_id, ctx.sleep, ctx.backoff, until=lambda p: p.status != PROVISIONING)
    if not (peering.configurable or (settings.dry_run and peering.status == PENDING)):
        return _skipped(peering.peering_id, f"status is {peering.status}: nothing to configure")

    sides = open_sides(peering, settings, aws, ec2)
    # Each managed side's own view of the peering (its tags: status, holds), read once; the side in
    # the hint's account is the peering just read.
    read_in = (ec2.account_id, ec2.region)
    views = {
        id(side): peering_seen_by(side.ec2, peering, read_in)
        for side in sides
        if side.managed and side.ec2 is not None and not settings.dry_run
    }
    requester, accepter = sides
    # IPv6 routes and rules only make sense when both VPCs speak IPv6.
    both_ipv6 = bool(requester.cidrs.ipv6 and accepter.cidrs.ipv6)
    reports = [
        _configure_side(side, peer, both_ipv6, peering.peering_id, settings, views.get(id(side)), ctx.now())
        for side, peer in ((requester, accepter), (accepter, requester))
    ]
    named: set[tuple[str, str]] = set()  # views given a Name in this run (one view when both sides share a place)
    for report, peer in zip(reports, (accepter, requester), strict=True):
        if report.side.managed:
            _side_options(report, peer, views.get(id(report.side)) or peering, settings.dry_run, named)

    outcome = Outcome.CONFIGURED if all(r.complete for r in reports) else Outcome.PARTIALLY_CONFIGURED
    if not settings.dry_run:
        # A run that changed nothing leaves a later verdict (verified, blocked:…) in place: the
        # configuration it judged is the one still there.
        changed = any(r.changed for r in reports)
        for report in reports:
            view = views.get(id(report.side))
            if report.side.ec2 is not None and view is not None:
                write_status(
                    report.side.ec2,
                    view,
                    (report.side.ec2.account_id, report.side.ec2.region),
                    outcome.value,
                    keep=lambda current: (
                        not changed and (current in (CONFIGURED, PARTIALLY_CONFIGURED) or is_verdict(current))
                    ),
                )
    event = PeeringConfigured.of(peering, outcome, settings.dry_run, (r.describe() for r in reports))
    event.publish(ctx.publisher, resources=[peering.arn(ctx.aws.partition(peering.accepter.region))])
    detail = event.as_detail()
    return ConfigureResult(peering.peering_id, outcome, _summary(reports), settings.dry_run, detail)


def _configure_side(
    side: Side,
    peer: Side,
    both_ipv6: bool,
    peering_id: str,
    settings: Settings,
    view: Peering | None,
    now: float,
) -> SideReport:
    report = SideReport(side)
    if not side.managed or side.ec2 is None:
        return report
    ec2, vpc_id = side.ec2, side.info.vpc_id
    wanted, report.refused_blocks = peer_destinations(side.cidrs, peer.cidrs, settings.allowed_peer_cidrs, both_ipv6)
    tables = ec2.route_tables([vpc_id])
    groups = ec2.vpc_security_groups([vpc_id])
    # Removal needs proof the peer lost a block: its VPC as read in its own account.
    report.routes = plan_routes(tables, wanted, peering_id, peer.vpc.cidrs if peer.vpc else None)
    report.groups = [plan_group(g, wanted, peering_id) for g in groups]
    if settings.dry_run:
        report.added_routes = list(report.routes.add)
        report.replaced_routes = [Route(r.route_table_id, r.destination) for r in report.routes.replace]
        report.removed_routes = list(report.routes.remove)
        report.added_rules = {g.group_id: g.add for g in report.groups if g.add}
        report.removed_rules = {g.group_id: g.remove for g in report.groups if g.remove}
        return report

    holds = holds_in(view.tags) if view is not None else {}
    sizes = sizes_of(tables, groups)
    held = holding(holds, sizes, now)
    report.held = [holds[rid] for rid in sorted(held)]
    refused_now: dict[str, Hold] = {}
    touched: set[str] = set()

    def attempt(resource_id: str, change: Any, grows: bool = False) -> bool:
        """One change. One that `grows` the resource is not tried while it is held (or was refused
        at its quota in this run); removals and replacements always are: they make no room run out."""
        if grows and (resource_id in held or resource_id in refused_now):
            return False
        if grows:
            touched.add(resource_id)
        try:
            change()
        except ChangeRefusedError as e:
            if e.code in ("RouteAlreadyExists", "InvalidPermission.Duplicate"):
                return False  # another writer (a concurrent run, a sweep) got there first: present
            report.refused.append(e)
            if e.code in QUOTA_CODES:
                refused_now[resource_id] = new_hold(resource_id, e.code, now, sizes.get(resource_id, 0))
            return False
        return True

    for route in report.routes.remove:
        if attempt(route.route_table_id, lambda r=route: ec2.delete_route(r.route_table_id, r.destination)):
            report.removed_routes.append(route)
            sizes[route.route_table_id] -= 1
    for dead in report.routes.replace:
        route = Route(dead.route_table_id, dead.destination)
        if attempt(
            route.route_table_id, lambda r=route: ec2.replace_route(r.route_table_id, r.destination, peering_id)
        ):
            report.replaced_routes.append(route)
    for route in report.routes.add:
        if attempt(
            route.route_table_id,
            lambda r=route: ec2.create_route(r.route_table_id, r.destination, peering_id),
            grows=True,
        ):
            report.added_routes.append(route)
            sizes[route.route_table_id] += 1

    description = rule_description(peering_id)
    for group in report.groups:
        if group.remove and attempt(
            group.group_id, lambda g=group: ec2.revoke_ingress(g.group_id, ip_permissions(g.remove))
        ):
            report.removed_rules[group.group_id] = group.remove
            sizes[group.group_id] -= len(group.remove)
        if group.add and attempt(
            group.group_id,
            lambda g=group: ec2.authorize_ingress(g.group_id, ip_permissions(g.add, description)),
            grows=True,
        ):
            report.added_rules[group.group_id] = group.add

    if view is not None:
        # A hold ends when its resource was tried again, or no longer needs anything added.
        needing = {r.route_table_id for r in report.routes.add} | {g.group_id for g in report.groups if g.add}
        _note_holds(ec2, peering_id, holds, refused_now, touched | (set(holds) - needing))
    return report


def _side_options(report: SideReport, peer: Side, view: Peering, dry_run: bool, named: set[tuple[str, str]]) -> None:
    """Remote DNS as the side's VPC tag asks (active peerings only), and a Name where its view of
    the peering has none."""
    side, ec2, pid = report.side, report.side.ec2, view.peering_id
    own = view.requester if side.role == REQUESTER else view.accepter
    if view.status == ACTIVE and side.vpc is not None:
        report.dns = plan_dns(side.vpc.tags, own.remote_dns, view.tags, side.role)
    place = (side.info.account_id, side.info.region)
    if name_needed(view.tags) and place not in named:
        named.add(place)
        report.name = peering_name(
            vpc_label(side.vpc.tags if side.vpc else None, side.info.vpc_id),
            vpc_label(peer.vpc.tags if peer.vpc else None, peer.info.vpc_id),
        )
    if dry_run or ec2 is None:
        return
    dns = report.dns
    if dns is not None and dns.turn is not None:
        try:
            ec2.set_remote_dns(pid, side.role, dns.turn)
        except ThrottledError:
            raise  # Lambda retries
        except AwsCallError as e:  # e.g. the VPC has DNS hostnames off: said, not retried in a loop
            report.option_errors.append(f"{e.code}: {e.message}")
    if dns is not None and not report.option_errors:
        if dns.mark is True:
            ec2.tag(pid, {dns_mark(side.role): MARK})
        elif dns.mark is False:
            ec2.untag(pid, [dns_mark(side.role)])
    if report.name:
        ec2.tag(pid, {"Name": report.name})  # its own call: IAM lets it only where no Name is yet


def _note_holds(
    ec2: Ec2Gateway, peering_id: str, holds: dict[str, Hold], refused_now: dict[str, Hold], touched: set[str]
) -> None:
    """Tag the new holds; drop those of resources tried again without a quota refusal."""
    if refused_now:
        ec2.tag(peering_id, dict(h.tag for h in refused_now.values()))
    cleared = [holds[rid].tag[0] for rid in sorted(holds) if rid in touched and rid not in refused_now]
    if cleared:
        ec2.untag(peering_id, cleared)


def _summary(reports: list[SideReport]) -> str:
    parts = []
    for r in reports:
        name = r.side.label
        if not r.side.managed:
            parts.append(f"{name}: not managed ({r.side.not_managed})")
            continue
        rules = sum(len(v) for v in r.added_rules.values())
        words = f"{name}: {len(r.added_routes)} route(s) and {rules} rule(s) added"
        if r.replaced_routes:
            words += f", {len(r.replaced_routes)} blackhole route(s) replaced"
        taken = len(r.removed_routes) + sum(len(v) for v in r.removed_rules.values())
        if taken:
            words += f", {len(r.removed_routes)} route(s) and {taken - len(r.removed_routes)} rule(s) no longer wanted removed"
        if r.refused_blocks:
            words += ", peer blocks not routed: " + "; ".join(f"{b.cidr} ({b.reason})" for b in r.refused_blocks)
        if r.routes.conflicts:
            words += f", {len(r.routes.conflicts)} conflicting route(s) left alone"
        if r.refused:
            words += ", refused: " + "; ".join(str(e) for e in r.refused)
        if r.held:
            words += ", held after a quota refusal: " + ", ".join(h.resource_id for h in r.held)
        if r.dns is not None and r.dns.turn is not None:
            words += f", remote DNS {'on' if r.dns.turn else 'off'}"
        if r.option_errors:
            words += ", remote DNS refused: " + "; ".join(r.option_errors)
        bad = [b.entry for g in r.groups for b in g.bad_entries]
        if bad:
            words += f", invalid allow entries {bad}"
        parts.append(words)
    return "; ".join(parts)


def _skipped(peering_id: str, why: str) -> ConfigureResult:
    return ConfigureResult(peering_id, Outcome.SKIPPED, why)
