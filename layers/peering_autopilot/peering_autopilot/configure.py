"""Steps 3 and 4 of the runbook: routes and security-group rules on both sides of a peering.

Level-triggered, both ways: each run reads what is there (one route-table read and one
security-group read per VPC side), asks the judge of a side (side_plan.py: the same one the sweep,
verify and the status command ask) what is due, adds what is missing, replaces blackhole routes,
takes back what the autopilot's record holds that is no longer wanted, and reports per side what
it did, what it left alone and why. What it makes is recorded (recorder.py): the intent before the
EC2 call, confirmed after (an intent a crash left is settled on the next run); what it removes,
or finds another writer made first, is forgotten. The record is read once per peering. A second
run changes nothing. Once the peering is active, each
managed side also gets its remote DNS option as its VPC's tag asks, and a Name where its view of
the peering has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import Enum
from typing import Any, ClassVar

from peering_autopilot import approval
from peering_autopilot.allow import PROTOCOL_NAMES
from peering_autopilot.aws.dynamodb import BacklogQueue, RecordStore
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.service_quotas import QuotaReaders, ServiceQuotasGateway
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.aws.ssm import ParameterStore
from peering_autopilot.budgets import QUOTA
from peering_autopilot.context import Context
from peering_autopilot.decision import decide
from peering_autopilot.errors import (
    AlreadyPresentError,
    AwsCallError,
    ChangeRefusedError,
    QuotaReachedError,
    RecordUnavailableError,
    ThrottledError,
)
from peering_autopilot.events import PeeringApprovalRefused, PeeringConfigured, PeeringHeld
from peering_autopilot.holds import Hold, new_hold, sizes_of
from peering_autopilot.lookup import read_peering
from peering_autopilot.model import PENDING, PROVISIONING, STATUS_TAG, Peering
from peering_autopilot.permissions import actions_of
from peering_autopilot.policy import ACCEPT
from peering_autopilot.record import OwnedRoute, OwnedRule, PeeringRecord
from peering_autopilot.recorder import Recorder
from peering_autopilot.results import StepResult
from peering_autopilot.routes import RefusedBlock, Route, RoutePlan
from peering_autopilot.security_groups import GroupPlan, Rule, ip_permissions, rule_description
from peering_autopilot.settings import Settings
from peering_autopilot.side_options import MARK, DnsPlan, dns_mark
from peering_autopilot.side_plan import ROUTED_ELSEWHERE, Settled, SideFacts, SidePlan, plan_side, settle_intents
from peering_autopilot.sides import Side, managed_place, open_sides, requester_blocks
from peering_autopilot.status import (
    CONFIGURED,
    HELD,
    PARTIALLY_CONFIGURED,
    is_verdict,
    peering_seen_by,
    status_seen_by,
    write_status,
)
from peering_autopilot.structs import struct
from peering_autopilot.triggers import PeeringHint

ACCEPTED = "accepted"  # the accept step's history kind for a request it accepted (accept.Outcome.ACCEPTED)

IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    ParameterStore.read,  # the policy (authority.load_policy, before the step)
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
    Ec2Gateway.gone_targets,
    ServiceQuotasGateway.applied,
    EventPublisher.publish,
    RecordStore.items,
    RecordStore.last,
    RecordStore.put_new,
    RecordStore.write,
    BacklogQueue.send,
)


class Outcome(Enum):
    CONFIGURED = CONFIGURED
    PARTIALLY_CONFIGURED = PARTIALLY_CONFIGURED  # a side not managed, or something left alone
    SKIPPED = "skipped"  # nothing to configure: not accepted (yet), ended, or not this hub's


@struct
class SideReport:
    side: Side
    plan: SidePlan | None = None  # the judge's plan, for a managed side
    added_routes: list[Route] = field(default_factory=list)
    replaced_routes: list[Route] = field(default_factory=list)
    removed_routes: list[Route] = field(default_factory=list)
    added_rules: dict[str, list[Rule]] = field(default_factory=dict)
    removed_rules: dict[str, list[Rule]] = field(default_factory=dict)
    refused: list[ChangeRefusedError] = field(default_factory=list)
    name: str | None = None  # the Name given to this side's view of the peering, if it had none
    option_errors: list[str] = field(default_factory=list)  # remote DNS EC2 refused
    settled: Settled = field(default_factory=Settled)  # intents a crash left, resolved against EC2

    # What the judge planned (nothing for a side the hub may not change).
    @property
    def routes(self) -> RoutePlan:
        return self.plan.routes if self.plan else RoutePlan()

    @property
    def groups(self) -> tuple[GroupPlan, ...]:
        return self.plan.groups if self.plan else ()

    @property
    def refused_blocks(self) -> tuple[RefusedBlock, ...]:  # peer blocks not routed or allowed
        return self.plan.refused_blocks if self.plan else ()

    @property
    def held(self) -> list[Hold]:  # quota refusals not retried yet
        return [self.plan.holds[rid] for rid in sorted(self.plan.held)] if self.plan else []

    @property
    def dns(self) -> DnsPlan | None:  # active peerings only
        return self.plan.dns if self.plan else None

    @property
    def complete(self) -> bool:
        return (
            self.side.managed
            and not self.routes.conflicts
            and not self.refused
            and not self.held
            and not (self.plan is not None and self.plan.budget.holds)
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
                "persons": [p.describe() for p in self.routes.persons],
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
                "persons": [
                    {"groupId": g.group_id, "rules": [str(r) for r in g.persons], "reason": PERSONS_RULE}
                    for g in self.groups
                    if g.persons
                ],
                "keptUnread": [
                    {"groupId": g.group_id, "rules": [str(r) for r in g.unread], "reason": g.unread_reason}
                    for g in self.groups
                    if g.unread
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
            "heldByBudgets": [h.describe() for h in self.plan.budget.holds] if self.plan else [],
            "nameGiven": self.name,
            "record": self.record(),
        }

    def held_described(self) -> list[dict[str, Any]]:
        """What is held on this side, for the "Peering Held" event: each peer block routed
        elsewhere, each budget hold (the resource, in use, to add, the quota and the limit with
        headroom, or the cap), and each resource held after a quota refusal."""
        where = {
            "accountId": self.side.info.account_id,
            "region": self.side.info.region,
            "vpcId": self.side.info.vpc_id,
        }
        held: list[dict[str, Any]] = [{**where, **c.describe()} for c in self.routes.conflicts]
        if self.plan is not None:
            held += [{**where, "code": QUOTA, **h.describe()} for h in self.plan.budget.holds]
        refused = {e.resource_id: e for e in self.refused if isinstance(e, QuotaReachedError)}
        held += [
            {**where, "code": QUOTA, "resourceId": h.resource_id, "reason": f"refused at its quota ({h.code})"}
            for h in self.held
        ]
        held += [
            {**where, "code": QUOTA, "resourceId": rid, "reason": f"refused at its quota ({e.code}): {e.message}"}
            for rid, e in sorted(refused.items())
        ]
        return held

    @property
    def quota_refused(self) -> bool:
        """A change refused in this run because its table or group is at its quota."""
        return any(isinstance(e, QuotaReachedError) for e in self.refused)

    @property
    def held_code(self) -> str | None:
        """This side's hold, as its status tag says it: the judge's, or a quota refusal in this
        run (held by `holds` from now on)."""
        judged = self.plan.held_code if self.plan is not None else None
        return judged or (QUOTA if self.quota_refused else None)

    def record(self) -> dict[str, Any] | None:
        """What the autopilot's record said of this side: unreadable (nothing removed), and the
        intents a crash left that this run settled."""
        if self.plan is None:
            return None
        s = self.settled
        return {
            "unreadable": self.plan.facts.owned.unreadable or None,
            "intentsConfirmed": [r.sort_key for r in s.confirm_routes] + [r.sort_key for r in s.confirm_rules],
            "intentsReleased": [r.sort_key for r in s.release_routes] + [r.sort_key for r in s.release_rules],
        }


@struct(frozen=True)
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
    # What the autopilot made for this peering, read once for both sides (only when one is managed).
    record = ctx.recorder.peering(peering.peering_id) if any(s.managed for s in sides) else None
    refused = _approval_refused(hint, peering, sides, record, ctx)
    if refused:
        return _skipped(peering.peering_id, refused)
    reports = [
        _configure_side(side, peer, settings, views.get(id(side)), peering, ctx.now(), record, ctx.recorder, ctx.quotas)
        for side, peer in ((requester, accepter), (accepter, requester))
    ]
    named: set[tuple[str, str]] = set()  # views given a Name in this run (one view when both sides share a place)
    for report in reports:
        if report.side.managed:
            _side_options(report, settings.dry_run, named)

    outcome = Outcome.CONFIGURED if all(r.complete for r in reports) else Outcome.PARTIALLY_CONFIGURED
    held_code = next((r.held_code for r in reports if r.held_code), None)
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
                    f"{HELD}{report.held_code}" if report.held_code else outcome.value,
                    keep=lambda current: (
                        not changed and (current in (CONFIGURED, PARTIALLY_CONFIGURED) or is_verdict(current))
                    ),
                )
        _record(ctx, peering, reports)
    resources = [peering.arn(ctx.aws.partition(peering.accepter.region))]
    if held_code:
        held = tuple(h for r in reports for h in r.held_described())
        PeeringHeld(peering.peering_id, held_code, held, settings.dry_run).publish(ctx.publisher, resources=resources)
    event = PeeringConfigured.of(peering, outcome, settings.dry_run, (r.describe() for r in reports))
    event.publish(ctx.publisher, resources=resources)
    detail = event.as_detail()
    summary = _summary(reports)
    if ctx.recorder.problems:
        summary += "; not recorded: " + "; ".join(ctx.recorder.problems)
    return ConfigureResult(peering.peering_id, outcome, summary, settings.dry_run, detail)


PERSONS_RULE = "not in the autopilot's record: a person's rule (the marker is only a description)"


def _approval_refused(
    hint: PeeringHint, peering: Peering, sides: list[Side], record: PeeringRecord | None, ctx: Context
) -> str:
    """Why nothing may be configured because the network team's policy does not accept this pair
    and no approval counts; "" to go on. Asked of a peering whose policy verdict, decided again now
    as if the request were still pending, is `ask` or `reject` (a requester outside the managed
    accounts too, when a rule names its account; with none, as before: a person's accept is theirs).
    It goes on when the record shows the peering was accepted (by the autopilot, or approved by a
    person) or holds what the autopilot made for it (configured before the policy said so).
    Otherwise the trigger must be a person's AcceptVpcPeeringConnection (CloudTrail's identity:
    `hint.caller`, never anything an event's detail or a tag claims) that `approval.check_approval`
    counts: every gate again, and the identity among the rule's approvers; then the approval goes
    into the record with the approver's ARN, the rule and the reason given, and configure goes on."""
    requester, accepter = sides
    settings = ctx.settings
    if accepter.vpc is None:
        return ""
    requester_cidrs = requester_blocks(peering, requester, settings)  # as the accept step judged them
    as_asked = peering._replace(status=PENDING)
    decision = decide(as_asked, accepter.vpc, requester_cidrs, settings, None, ctx.now(), requester.vpc)
    verdict = decision.verdict
    if verdict is None or verdict.outcome == ACCEPT:
        return ""
    if record is not None and (record.routes or record.rules) and not record.unreadable:
        return ""  # configured before the policy asked: the autopilot's own already
    try:
        kinds = {entry.kind for entry in ctx.recorder.history(peering.peering_id)}
    except RecordUnavailableError as e:
        return f"the policy {verdict.outcome}s this pair (rule {verdict.rule!r}) and the record cannot be read: {e}"
    if kinds & {ACCEPTED, approval.APPROVED}:
        return ""
    check = approval.check_approval(decision, hint.caller) if hint.caller else None
    reason = approval.clean_reason(peering.tags.get(approval.REASON_TAG, ""))
    evidence = {
        "approver": hint.caller,
        "rule": verdict.rule,
        "policyOutcome": verdict.outcome,
        "approvers": list(verdict.approvers),
        "reason": reason,
        "gates": [r.value for r in decision.reasons],
        "policySource": settings.current_policy().source,
    }
    if check is not None and check.ok:
        if not settings.dry_run:
            ctx.recorder.log(peering.peering_id, approval.APPROVED, f"{check.why}: {reason}", evidence, by_person=True)
        return ""
    # Without a person's call as the trigger (a sweep, an event delivered late or never), the
    # approval is unproven: CloudTrail's record of the accept, when it reaches the hub, is judged then.
    status = approval.REFUSED if check is not None else approval.UNPROVEN
    why = (
        check.why
        if check is not None
        else f"the policy {verdict.outcome}s this pair (rule {verdict.rule!r}) and no person's approval has "
        "reached the hub (CloudTrail's record of their accept is judged when it arrives)"
    )
    views = [s for s in sides if s.managed and s.ec2 is not None]
    read_in = (hint.account_id, hint.region)
    # Reported once: while every managed side's view already says so, again nothing is written or
    # told; a person's accept refused stays refused when a sweep finds it again without a caller.
    settled = (status,) if check is not None else (approval.REFUSED, approval.UNPROVEN)
    new = any(status_seen_by(s.ec2, peering, read_in) not in (*settled, None) for s in views if s.ec2)
    if not settings.dry_run and new:
        for side in views:
            assert side.ec2 is not None
            side.ec2.tag(peering.peering_id, {STATUS_TAG: status})
        ctx.recorder.log(peering.peering_id, approval.APPROVAL_REFUSED, why, evidence, by_person=bool(hint.caller))
    if new:
        ask = {
            "requester": peering.requester.describe(),
            "accepter": peering.accepter.describe(),
            "rule": verdict.rule,
            "why": verdict.why,
            "approvers": list(verdict.approvers),
        }
        decided = {"approver": hint.caller or None, "refused": why, "reason": reason}
        resources = [peering.arn(ctx.aws.partition(peering.accepter.region))]
        PeeringApprovalRefused(peering.peering_id, ask, settings.dry_run, decision=decided).publish(
            ctx.publisher, resources=resources
        )
    return f"approval refused: {why}"


def _configure_side(
    side: Side,
    peer: Side,
    settings: Settings,
    own_view: Peering | None,
    peering: Peering,
    now: float,
    record: PeeringRecord | None = None,
    recorder: Recorder | None = None,
    quotas: QuotaReaders | None = None,
) -> SideReport:
    """Read the side's tables and groups, ask the judge (side_plan) what is due, and do it.
    `own_view`: the peering as the side's account sees it (its holds and marks); None in a dry
    run (not read) or where that account does not see it, and the peering as read stands in.
    `record`: what the autopilot's record holds of the peering (what it may remove), written
    through `recorder`."""
    view = own_view or peering
    report = SideReport(side)
    if not side.managed or side.ec2 is None or side.vpc is None or record is None or recorder is None:
        return report
    ec2, vpc_id, peering_id = side.ec2, side.info.vpc_id, view.peering_id
    place = (side.info.account_id, side.info.region)
    tables = ec2.route_tables([vpc_id])
    groups = ec2.vpc_security_groups([vpc_id])
    # An intent a crash left (written, never confirmed) is settled against what EC2 shows first.
    report.settled = settle_intents(record, *place, tables, groups)
    owned = report.settled.owned(record.side(*place))
    # The peer's VPC counts only as read in its own account (peer.vpc): the proof of what it holds.
    facts = SideFacts(side.role, view, side.vpc, tables, groups, peer.vpc, owned)
    plan = plan_side(
        facts,
        settings.peer_ranges,
        now,
        read_gone=ec2.gone_targets,
        limits=settings.budgets,
        read_quota=quotas.reader(*place) if quotas is not None else None,
    )
    report.plan = plan
    if settings.dry_run:
        report.added_routes = plan.route_additions
        report.replaced_routes = [Route(r.route_table_id, r.destination) for r in plan.routes.replace]
        report.removed_routes = list(plan.routes.remove)
        report.added_rules = plan.rule_additions
        report.removed_rules = plan.rule_removals
        return report

    settled = report.settled
    if settled:
        recorder.confirm(peering_id, settled.confirm_routes, settled.confirm_rules, how="settled")
        recorder.release(peering_id, settled.release_routes, settled.release_rules)

    def owned_route(route: Route) -> OwnedRoute:
        return OwnedRoute(*place, route.route_table_id, route.destination)

    # The intent, before the EC2 calls: a crash after them leaves a trace the next run settles.
    intended_routes = [owned_route(r) for r in (*plan.routes.replace, *plan.route_additions)]
    intended_rules = [OwnedRule(*place, g, rule) for g, rules in plan.rule_additions.items() for rule in rules]
    recorder.intend(peering_id, intended_routes, intended_rules)
    made_routes: list[OwnedRoute] = []
    made_rules: dict[OwnedRule, str] = {}

    held = plan.held
    sizes = sizes_of(tables, groups)
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
        except AlreadyPresentError:
            return False  # another writer (a concurrent run, a sweep) got there first: present
        except QuotaReachedError as e:
            report.refused.append(e)
            refused_now[resource_id] = new_hold(resource_id, e.code, now, sizes.get(resource_id, 0))
            return False
        except ChangeRefusedError as e:
            report.refused.append(e)
            return False
        return True

    for route in plan.routes.remove:
        if attempt(route.route_table_id, lambda r=route: ec2.delete_route(r.route_table_id, r.destination)):
            report.removed_routes.append(route)
            sizes[route.route_table_id] -= 1
    for dead in plan.routes.replace:
        route = Route(dead.route_table_id, dead.destination)
        if attempt(
            route.route_table_id, lambda r=route: ec2.replace_route(r.route_table_id, r.destination, peering_id)
        ):
            report.replaced_routes.append(route)
            made_routes.append(owned_route(route))  # a blackhole taken over: the autopilot's now
    withheld = plan.withheld
    for route in plan.routes.add:
        if route.route_table_id in withheld:
            continue  # held: after a refusal at the quota, or by the budgets
        if attempt(
            route.route_table_id,
            lambda r=route: ec2.create_route(r.route_table_id, r.destination, peering_id),
            grows=True,
        ):
            report.added_routes.append(route)
            made_routes.append(owned_route(route))
            sizes[route.route_table_id] += 1

    description = rule_description(peering_id)
    for group in plan.groups:
        if group.remove and attempt(
            group.group_id, lambda g=group: ec2.revoke_ingress(g.group_id, ip_permissions(g.remove))
        ):
            report.removed_rules[group.group_id] = group.remove
            sizes[group.group_id] -= len(group.remove)
        rule_ids: dict[tuple[str, int, int, str], str] = {}
        if (
            group.add
            and group.group_id not in withheld
            and attempt(
                group.group_id,
                lambda g=group, ids=rule_ids: ids.update(
                    ec2.authorize_ingress(g.group_id, ip_permissions(g.add, description))
                ),
                grows=True,
            )
        ):
            report.added_rules[group.group_id] = group.add
            ids = {(PROTOCOL_NAMES.get(p, p), low, high, cidr): i for (p, low, high, cidr), i in rule_ids.items()}
            for rule in group.add:
                made_rules[OwnedRule(*place, group.group_id, rule)] = ids.get(
                    (rule.ip_protocol, rule.from_port, rule.to_port, rule.cidr), ""
                )

    # Made: the autopilot's. Removed, refused, or another writer's first (AlreadyPresent): forgotten,
    # unless the record held it as made before this run (a concurrent run of its own made it: its
    # intent stays, for the next run to settle against EC2).
    recorder.confirm(peering_id, made_routes, made_rules)
    removed_rules = [OwnedRule(*place, g, rule) for g, rules in report.removed_rules.items() for rule in rules]
    unmade_routes = [
        r for r in intended_routes if r not in made_routes and not owned.holds_route(r.route_table_id, r.destination)
    ]
    unmade_rules = [r for r in intended_rules if r not in made_rules and not owned.holds_rule(r.group_id, r.rule)]
    recorder.release(
        peering_id,
        [*(owned_route(r) for r in report.removed_routes), *unmade_routes],
        [*removed_rules, *unmade_rules],
    )

    # A hold ends when its resource was tried again, or no longer needs anything added.
    needing = {r.route_table_id for r in plan.routes.add} | {g.group_id for g in plan.groups if g.add}
    if own_view is not None:  # holds are tagged on the side's own view only
        _note_holds(ec2, peering_id, dict(plan.holds), refused_now, touched | (set(plan.holds) - needing))
    return report


def _side_options(report: SideReport, dry_run: bool, named: set[tuple[str, str]]) -> None:
    """Remote DNS as the side's VPC tag asks (active peerings only), and a Name where its view of
    the peering has none, as the judge planned them."""
    side, ec2, plan = report.side, report.side.ec2, report.plan
    if plan is None:
        return
    place = (side.info.account_id, side.info.region)
    if plan.name and place not in named:
        named.add(place)  # two sides in one place share one view of the peering: one Name
        report.name = plan.name
    if dry_run or ec2 is None:
        return
    pid, dns = plan.facts.view.peering_id, plan.dns
    if dns is not None and dns.mark is True:
        ec2.tag(pid, {dns_mark(side.role): MARK})  # the record first: an option it turns on is its own
    if dns is not None and dns.turn is not None:
        try:
            ec2.set_remote_dns(pid, side.role, dns.turn)
        except ThrottledError:
            raise  # Lambda retries
        except AwsCallError as e:  # e.g. the VPC has DNS hostnames off: said, not retried in a loop
            report.option_errors.append(f"{e.code}: {e.message}")
    if dns is not None and dns.mark is False and not report.option_errors:
        ec2.untag(pid, [dns_mark(side.role)])  # after the option is off: never an unmarked option of its own
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
            words += f", held ({ROUTED_ELSEWHERE}): " + "; ".join(r.plan.held_routes() if r.plan else ())
        if r.plan is not None and r.plan.budget.holds:
            words += f", held ({QUOTA}): " + "; ".join(r.plan.held_budgets())
        persons = len(r.routes.persons) + sum(len(g.persons) for g in r.groups)
        if persons:
            words += f", {persons} route(s) or rule(s) of a person's kept (not in the autopilot's record)"
        if r.plan is not None and r.plan.record_unread:
            words += (
                f", {r.plan.record_unread} removal(s) left alone: the record could not be read "
                f"({r.plan.facts.owned.unreadable})"
            )
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


def _record(ctx: Context, peering: Peering, reports: list[SideReport]) -> None:
    """The peering's history: a person's accept (the trigger), then what this run changed, per
    side; nothing when it changed nothing."""
    if ctx.origin.person:
        places = {"requester": peering.requester.describe(), "accepter": peering.accepter.describe()}
        ctx.recorder.log(peering.peering_id, "accepted", "accepted by a person", places, by_person=True, once=True)
    if not any(r.changed for r in reports):
        return
    added = any(r.added_routes or r.replaced_routes or r.added_rules for r in reports)
    sides = {
        r.side.role: {
            "accountId": r.side.info.account_id,
            "region": r.side.info.region,
            "vpcId": r.side.info.vpc_id,
            "routes": {
                "added": [x.describe() for x in r.added_routes],
                "replaced": [x.describe() for x in r.replaced_routes],
                "removed": [x.describe() for x in r.removed_routes],
            },
            "rules": {
                "added": {g: [str(x) for x in rules] for g, rules in r.added_rules.items()},
                "removed": {g: [str(x) for x in rules] for g, rules in r.removed_rules.items()},
            },
        }
        for r in reports
        if r.changed
    }
    kind = "configured" if added else "retracted"
    ctx.recorder.log(peering.peering_id, kind, _summary(reports), {"sides": sides, "status": peering.status})


def _skipped(peering_id: str, why: str) -> ConfigureResult:
    return ConfigureResult(peering_id, Outcome.SKIPPED, why)
