"""After a peering ends (deleted, rejected, expired, failed): remove, on each managed side, the
routes through it and the security-group rules for it that the autopilot's record holds, then
forget them. A route through the ended peering or a marked rule the record does not hold is a
person's: it stays, reported. When the record cannot be read, nothing is removed, and the report
says why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import Enum
from typing import Any, ClassVar

from peering_autopilot import approval
from peering_autopilot.aws.dynamodb import BacklogQueue, RecordStore
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.aws.ssm import ParameterStore
from peering_autopilot.context import Context
from peering_autopilot.events import PeeringCleanedUp
from peering_autopilot.model import ROUTES_TAG, STATUS_TAG, Peering, RouteTable, SecurityGroup
from peering_autopilot.permissions import actions_of
from peering_autopilot.record import OwnedRoute, OwnedRule, PeeringRecord
from peering_autopilot.recorder import Recorder
from peering_autopilot.results import StepResult
from peering_autopilot.security_groups import ip_permissions
from peering_autopilot.settings import Settings
from peering_autopilot.side_plan import Leftovers, Settled, leftovers, settle_intents
from peering_autopilot.sides import Side, open_sides
from peering_autopilot.structs import struct
from peering_autopilot.triggers import PeeringHint

IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    ParameterStore.read,  # the policy (authority.load_policy, before the step)
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


@struct
class SideCleanup:
    side: Side
    routes_removed: list[dict[str, str]] = field(default_factory=list)
    rules_removed: list[dict[str, Any]] = field(default_factory=list)
    kept: dict[str, Any] = field(default_factory=dict)  # a person's, or unread: what stays and why

    @property
    def removed(self) -> bool:
        return bool(self.routes_removed or self.rules_removed)

    def describe(self) -> dict[str, Any]:
        return {
            **self.side.describe(),
            "routesRemoved": self.routes_removed,
            "rulesRemoved": self.rules_removed,
            "kept": self.kept,
        }


@struct(frozen=True)
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

    sides = open_sides(peering, settings, aws, ec2)
    record = ctx.recorder.peering(peering.peering_id) if any(s.managed for s in sides) else None
    reports = [_clean_side(side, peering.peering_id, settings.dry_run, record, ctx.recorder) for side in sides]
    removed = sum(len(r.routes_removed) + len(r.rules_removed) for r in reports)
    kept = any(r.kept for r in reports)
    outcome = Outcome.CLEANED_UP if removed else Outcome.NOTHING_TO_CLEAN
    _record(
        ctx,
        peering.peering_id,
        peering.status,
        {r.side.role: r.describe() for r in reports if r.removed},
        _asked(peering, hint),
    )
    event = PeeringCleanedUp.of(peering, outcome, settings.dry_run, (r.describe() for r in reports))
    if removed or kept:
        event.publish(publisher, resources=[peering.arn(aws.partition(peering.accepter.region))])
    detail = event.as_detail()
    words = "; ".join(
        f"{r.side.label}: {len(r.routes_removed)} route(s), "
        f"{sum(len(g['rules']) for g in r.rules_removed)} rule(s) removed{_kept_words(r.kept)}"
        if r.side.managed
        else f"{r.side.label}: not managed ({r.side.not_managed})"
        for r in reports
    )
    return CleanupResult(peering.peering_id, outcome, words + _problems(ctx.recorder), settings.dry_run, detail)


def _clean_side(
    side: Side, peering_id: str, dry_run: bool, record: PeeringRecord | None, recorder: Recorder
) -> SideCleanup:
    report = SideCleanup(side)
    if not side.managed or side.ec2 is None or record is None:
        return report
    vpc_id = side.info.vpc_id
    tables, groups = side.ec2.route_tables([vpc_id]), side.ec2.vpc_security_groups([vpc_id])
    report.routes_removed, report.rules_removed, report.kept = _remove(
        side.ec2, tables, groups, record, recorder, dry_run
    )
    return report


def _clean_forgotten(
    hint: PeeringHint, ec2: Ec2Gateway, settings: Settings, publisher: EventPublisher, ctx: Context
) -> CleanupResult:
    """A peering EC2 no longer lists (it shows ended ones for a while only): what the record holds
    of it in this account and region's opted-in VPCs is removed; nothing else is known of it."""
    vpcs = ec2.opted_in_vpcs()
    tables, groups = ec2.route_tables(vpcs), ec2.vpc_security_groups(vpcs)
    recorder = ctx.recorder
    record = recorder.peering(hint.peering_id)
    routes, rules, kept = _remove(ec2, tables, groups, record, recorder, settings.dry_run)
    where = {"accountId": hint.account_id, "region": hint.region, "routesRemoved": routes, "rulesRemoved": rules}
    _record(ctx, hint.peering_id, "", {"forgotten": where} if routes or rules else {})
    if not (routes or rules or kept):
        return CleanupResult(
            hint.peering_id, Outcome.NOTHING_TO_CLEAN, f"{hint.peering_id} is gone and left nothing here"
        )
    event = PeeringCleanedUp.forgotten(
        hint.peering_id, hint.account_id, hint.region, settings.dry_run, routes, rules, kept
    )
    event.publish(publisher)
    detail = event.as_detail()
    words = (
        f"{hint.account_id}/{hint.region}: {len(routes)} route(s), "
        f"{sum(len(g['rules']) for g in rules)} rule(s) removed{_kept_words(kept)}"
    )
    outcome = Outcome.CLEANED_UP if routes or rules else Outcome.NOTHING_TO_CLEAN
    return CleanupResult(hint.peering_id, outcome, words + _problems(recorder), settings.dry_run, detail)


def _remove(
    ec2: Ec2Gateway,
    tables: list[RouteTable],
    groups: list[SecurityGroup],
    record: PeeringRecord,
    recorder: Recorder,
    dry_run: bool,
) -> tuple[list[dict[str, str]], list[dict[str, Any]], dict[str, Any]]:
    """Delete the routes through the peering and revoke the rules for it that the record holds
    (side_plan.leftovers, as the sweep and the status command count them), then forget them; an
    intent a crash left is settled against EC2 first. What stays is returned as `kept`."""
    peering_id, place = record.peering_id, (ec2.account_id, ec2.region)
    settled = settle_intents(record, *place, tables, groups)
    left = leftovers(tables, groups, peering_id, settled.owned(record.side(*place)))
    rules: list[dict[str, Any]] = []
    for route in left.routes:
        if not dry_run:
            ec2.delete_route(route.route_table_id, route.destination)
    for group_id, revoked in left.rules:
        if not dry_run:
            ec2.revoke_ingress(group_id, ip_permissions(list(revoked)))
        rules.append({"groupId": group_id, "rules": [str(r) for r in revoked]})
    _forget(recorder, peering_id, place, settled, left)
    return [r.describe() for r in left.routes], rules, _kept(left)


def _forget(recorder: Recorder, peering_id: str, place: tuple[str, str], settled: Settled, left: Leftovers) -> None:
    """Release what was removed, and the intents that were never carried out."""
    routes = [OwnedRoute(*place, r.route_table_id, r.destination) for r in left.routes]
    rules = [OwnedRule(*place, group_id, rule) for group_id, revoked in left.rules for rule in revoked]
    routes += [r for r in settled.release_routes if r not in routes]
    rules += [r for r in settled.release_rules if r not in rules]
    if routes or rules:
        recorder.release(peering_id, routes, rules)


def _kept(left: Leftovers) -> dict[str, Any]:
    """What stays of an ended peering's leftovers, and why."""
    if not (left.persons_routes or left.persons_rules or left.kept_out):
        return {}
    why = (
        f"the record could not be read: {left.unreadable}"
        if left.unreadable
        else "not in the autopilot's record: a person's"
    )
    kept: dict[str, Any] = {
        "reason": why,
        "routes": [r.describe() for r in left.persons_routes],
        "rules": [{"groupId": g, "rules": [str(r) for r in rules]} for g, rules in left.persons_rules],
    }
    if left.kept_out:
        kept["keptOut"] = {"reason": KEPT_OUT, "routes": [r.describe() for r in left.kept_out]}
    return kept


KEPT_OUT = f"in a table its owner kept out ({ROUTES_TAG} not 'true'): never touched"


def _kept_words(kept: dict[str, Any]) -> str:
    if not kept:
        return ""
    count = len(kept["routes"]) + sum(len(g["rules"]) for g in kept["rules"])
    words = f", {count} kept ({kept['reason']})" if count else ""
    if "keptOut" in kept:
        words += f", {len(kept['keptOut']['routes'])} route(s) kept {KEPT_OUT}"
    return words


def _problems(recorder: Recorder) -> str:
    return "; not recorded: " + "; ".join(recorder.problems) if recorder.problems else ""


def _asked(peering: Peering, hint: PeeringHint) -> dict[str, Any]:
    """For a request that awaited a person (its status tag on the view read): the rule that asked,
    the identity CloudTrail gave for the call that ended it, and the reason tagged with it."""
    rule = approval.awaiting(peering.tags.get(STATUS_TAG))
    if rule is None:
        return {}
    reason = approval.clean_reason(peering.tags.get(approval.REASON_TAG, ""))
    return {"rule": rule, "approver": hint.caller, "reason": reason}


def _record(
    ctx: Context, peering_id: str, ended_as: str, removed: Mapping[str, Any], asked: Mapping[str, Any] | None = None
) -> None:
    """The peering's history: a person's delete or reject (the trigger; of a request that awaited a
    person, with the rule, their identity and reason), then what was removed."""
    if ctx.origin.person:
        kind = ended_as if ended_as in ("deleted", "rejected") else "deleted"
        summary = f"{kind} by a person" + (f" under rule {asked['rule']!r}: {asked['reason']}" if asked else "")
        evidence = {"status": ended_as or "gone", **({"approval": dict(asked)} if asked else {})}
        ctx.recorder.log(peering_id, kind, summary, evidence, True, once=True)
    if removed:
        words = "; ".join(
            f"{where}: {len(r['routesRemoved'])} route(s), {sum(len(g['rules']) for g in r['rulesRemoved'])} rule(s) removed"
            for where, r in removed.items()
        )
        ctx.recorder.log(peering_id, "cleaned-up", words, {"removed": dict(removed)})
