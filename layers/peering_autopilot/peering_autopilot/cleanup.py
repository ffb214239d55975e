"""After a peering ends (deleted, rejected, expired, failed): remove, on each managed side, the
routes that target it and the security-group rules the autopilot added for it. A rule is the
autopilot's when its description names the peering; every other rule stays."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from peering_autopilot.aws.dynamodb import BacklogQueue, RecordStore
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.context import Context
from peering_autopilot.events import PeeringCleanedUp
from peering_autopilot.model import RouteTable, SecurityGroup
from peering_autopilot.permissions import actions_of
from peering_autopilot.results import StepResult
from peering_autopilot.security_groups import describe_permissions
from peering_autopilot.settings import Settings
from peering_autopilot.side_plan import leftovers
from peering_autopilot.sides import Side, open_sides
from peering_autopilot.triggers import PeeringHint

IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    Ec2Gateway.find_peering,
    Ec2Gateway.get_vpc,
    Ec2Gateway.opted_in_vpcs,
    Ec2Gateway.route_tables,
    Ec2Gateway.vpc_security_groups,
    Ec2Gateway.delete_route,
    Ec2Gateway.revoke_ingress,
    EventPublisher.publish,
    RecordStore.items,
    RecordStore.last,
    RecordStore.put_new,
    RecordStore.write,
    BacklogQueue.send,
)


class Outcome(Enum):
    CLEANED_UP = "cleaned-up"
    NOTHING_TO_CLEAN = "nothing-to-clean"
    SKIPPED = "skipped"  # not ended, or not this hub's


@dataclass
class SideCleanup:
    side: Side
    routes_removed: list[dict[str, str]] = field(default_factory=list)
    rules_removed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def removed(self) -> bool:
        return bool(self.routes_removed or self.rules_removed)

    def describe(self) -> dict[str, Any]:
        return {
            **self.side.describe(),
            "routesRemoved": self.routes_removed,
            "rulesRemoved": self.rules_removed,
        }


@dataclass(frozen=True)
class CleanupResult(StepResult[Outcome]):
    METRICS: ClassVar[Mapping[Enum, str]] = {Outcome.CLEANED_UP: "PeeringsCleanedUp"}


def clean_up_peering(hint: PeeringHint, ctx: Context) -> CleanupResult:
    settings, aws, publisher = ctx.settings, ctx.aws, ctx.publisher
    if not (settings.is_managed_account(hint.account_id) and settings.is_managed_region(hint.region)):
        return CleanupResult(hint.peering_id, Outcome.SKIPPED, f"{hint.account_id}/{hint.region} is not managed")
    ec2 = aws.ec2(hint.account_id, hint.region)
    peering = ec2.find_peering(hint.peering_id)
    if peering is None:
        return _clean_forgotten(hint, ec2, settings, publisher, ctx)
    if not peering.ended:
        return CleanupResult(peering.peering_id, Outcome.SKIPPED, f"status is {peering.status}: nothing to clean up")

    reports = [
        _clean_side(side, peering.peering_id, settings.dry_run) for side in open_sides(peering, settings, aws, ec2)
    ]
    removed = sum(len(r.routes_removed) + len(r.rules_removed) for r in reports)
    outcome = Outcome.CLEANED_UP if removed else Outcome.NOTHING_TO_CLEAN
    _record(ctx, peering.peering_id, peering.status, {r.side.role: r.describe() for r in reports if r.removed})
    event = PeeringCleanedUp.of(peering, outcome, settings.dry_run, (r.describe() for r in reports))
    if removed:
        event.publish(publisher, resources=[peering.arn(aws.partition(peering.accepter.region))])
    detail = event.as_detail()
    words = "; ".join(
        f"{r.side.label}: {len(r.routes_removed)} route(s), "
        f"{sum(len(g['rules']) for g in r.rules_removed)} rule(s) removed"
        if r.side.managed
        else f"{r.side.label}: not managed ({r.side.not_managed})"
        for r in reports
    )
    return CleanupResult(peering.peering_id, outcome, words, settings.dry_run, detail)


def _clean_side(side: Side, peering_id: str, dry_run: bool) -> SideCleanup:
    report = SideCleanup(side)
    if not side.managed or side.ec2 is None:
        return report
    vpc_id = side.info.vpc_id
    tables, groups = side.ec2.route_tables([vpc_id]), side.ec2.vpc_security_groups([vpc_id])
    report.routes_removed, report.rules_removed = _remove(side.ec2, tables, groups, peering_id, dry_run)
    return report


def _clean_forgotten(
    hint: PeeringHint, ec2: Ec2Gateway, settings: Settings, publisher: EventPublisher, ctx: Context
) -> CleanupResult:
    """A peering EC2 no longer lists (it shows ended ones for a while only): whatever still points
    at it in this account and region's opted-in VPCs is removed; nothing else is known of it."""
    vpcs = ec2.opted_in_vpcs()
    tables, groups = ec2.route_tables(vpcs), ec2.vpc_security_groups(vpcs)
    routes, rules = _remove(ec2, tables, groups, hint.peering_id, settings.dry_run)
    where = {"accountId": hint.account_id, "region": hint.region, "routesRemoved": routes, "rulesRemoved": rules}
    _record(ctx, hint.peering_id, "", {"forgotten": where} if routes or rules else {})
    if not (routes or rules):
        return CleanupResult(
            hint.peering_id, Outcome.NOTHING_TO_CLEAN, f"{hint.peering_id} is gone and left nothing here"
        )
    event = PeeringCleanedUp.forgotten(hint.peering_id, hint.account_id, hint.region, settings.dry_run, routes, rules)
    event.publish(publisher)
    detail = event.as_detail()
    words = f"{hint.account_id}/{hint.region}: {len(routes)} route(s), {sum(len(g['rules']) for g in rules)} rule(s) removed"
    return CleanupResult(hint.peering_id, Outcome.CLEANED_UP, words, settings.dry_run, detail)


def _remove(
    ec2: Ec2Gateway, tables: list[RouteTable], groups: list[SecurityGroup], peering_id: str, dry_run: bool
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """Delete the routes through the peering and revoke the autopilot's rules for it: what the
    judge counts as its leftovers (side_plan.leftovers, as the sweep and the status command do)."""
    left = leftovers(tables, groups, peering_id)
    rules: list[dict[str, Any]] = []
    for route in left.routes:
        if not dry_run:
            ec2.delete_route(route.route_table_id, route.destination)
    for group_id, permissions in left.rules:
        if not dry_run:
            ec2.revoke_ingress(group_id, list(permissions))
        rules.append({"groupId": group_id, "rules": describe_permissions(list(permissions))})
    return [r.describe() for r in left.routes], rules


def _record(ctx: Context, peering_id: str, ended_as: str, removed: Mapping[str, Any]) -> None:
    """The peering's history: a person's delete or reject (the trigger), then what was removed."""
    if ctx.origin.person:
        kind = ended_as if ended_as in ("deleted", "rejected") else "deleted"
        ctx.recorder.log(peering_id, kind, f"{kind} by a person", {"status": ended_as or "gone"}, True, once=True)
    if removed:
        words = "; ".join(
            f"{where}: {len(r['routesRemoved'])} route(s), {sum(len(g['rules']) for g in r['rulesRemoved'])} rule(s) removed"
            for where, r in removed.items()
        )
        ctx.recorder.log(peering_id, "cleaned-up", words, {"removed": dict(removed)})
