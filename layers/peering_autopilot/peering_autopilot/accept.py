"""Step 2 of the runbook: accept a peering request, hands-off, when it is safe to."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import Enum
from typing import Any, ClassVar

from peering_autopilot import approval
from peering_autopilot.aws.dynamodb import BacklogQueue, RecordStore
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.aws.sns import Notifier
from peering_autopilot.aws.ssm import ParameterStore
from peering_autopilot.context import Context
from peering_autopilot.decision import RETRY_TAG, Decision, Reason, decide, next_retry
from peering_autopilot.events import (
    PeeringAccepted,
    PeeringApproval,
    PeeringApprovalExpired,
    PeeringApprovalReminder,
    PeeringApprovalRequested,
    PeeringDecision,
    PeeringDeclined,
    PeeringRejected,
)
from peering_autopilot.lookup import read_peering
from peering_autopilot.model import ACCEPTER, ENABLED_TAG, REQUESTER, STATUS_TAG, Cidrs, Peering, Vpc
from peering_autopilot.permissions import actions_of
from peering_autopilot.policy import PARAMETERS_RULE
from peering_autopilot.results import StepResult
from peering_autopilot.settings import Settings, UnapprovedAction
from peering_autopilot.side_plan import SideFacts, SidePlan, plan_side
from peering_autopilot.sides import Side, open_side, requester_blocks
from peering_autopilot.structs import struct
from peering_autopilot.triggers import PeeringRequestHint

logger = logging.getLogger(__name__)


IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    ParameterStore.read,  # the policy (authority.load_policy, before the step)
    Ec2Gateway.find_peering,
    Ec2Gateway.get_vpc,
    Ec2Gateway.route_tables,
    Ec2Gateway.vpc_security_groups,  # the rules an asked request would add, for the person asked
    Ec2Gateway.gone_targets,
    Ec2Gateway.accept_peering,
    Ec2Gateway.reject_peering,
    Ec2Gateway.tag,
    Ec2Gateway.untag,
    EventPublisher.publish,
    Notifier.notify_each,  # the people asked, reminded, told of an expiry
    RecordStore.last,
    RecordStore.put_new,
    BacklogQueue.send,
)


class Outcome(Enum):
    ACCEPTED = "accepted"
    DECLINED = "declined"  # left pending for a human
    REJECTED = "rejected"
    SKIPPED = "skipped"  # nothing to decide: not pending, or not this hub's to accept
    AWAITING = approval.AWAITING  # the policy asks a person: left pending, people asked
    EXPIRED = "approval-expired"  # it expired while it awaited a person: reported once


EVENTS: dict[Outcome, type[PeeringDecision]] = {
    Outcome.ACCEPTED: PeeringAccepted,
    Outcome.DECLINED: PeeringDeclined,
    Outcome.REJECTED: PeeringRejected,
    Outcome.AWAITING: PeeringDeclined,  # not accepted now: left pending for a person (outcome says so)
}


@struct(frozen=True)
class AcceptResult(StepResult[Outcome]):
    METRICS: ClassVar[Mapping[Enum, str]] = {
        Outcome.ACCEPTED: "PeeringsAccepted",
        Outcome.DECLINED: "PeeringsDeclined",
        Outcome.REJECTED: "PeeringsRejected",
        Outcome.SKIPPED: "PeeringsSkipped",
        Outcome.AWAITING: "PeeringsAwaitingApproval",
        Outcome.EXPIRED: "PeeringApprovalsExpired",
    }
    reason_code: str = ""

    def response(self) -> dict[str, Any]:
        response = super().response()
        response["reason"] = response.pop("summary")
        return response | {"reasonCode": self.reason_code}

    def log_fields(self) -> dict[str, Any]:
        return {"reason_code": self.reason_code, "reason": self.summary, "dry_run": self.dry_run}


def handle_peering_request(hint: PeeringRequestHint, ctx: Context) -> AcceptResult:
    """Re-read the peering in its accepter's account and region, decide, act, and report."""
    settings, aws = ctx.settings, ctx.aws
    if not settings.is_managed_account(hint.accepter_account_id):
        return _skipped(
            hint.peering_id,
            "accepter-not-managed",
            f"accepter account {hint.accepter_account_id} is not managed by this hub",
        )
    if not settings.is_managed_region(hint.accepter_region):
        return _skipped(
            hint.peering_id,
            "region-not-managed",
            f"accepter region {hint.accepter_region} is not in ManagedRegions {list(settings.managed_regions)}",
        )

    ec2 = aws.ec2(hint.accepter_account_id, hint.accepter_region)
    peering = read_peering(ec2, hint.peering_id, ctx.sleep, ctx.backoff)
    if peering.accepter.account_id != hint.accepter_account_id:
        return _skipped(
            peering.peering_id,
            "accepter-mismatch",
            f"the peering's accepter is account {peering.accepter.account_id}, "
            f"not {hint.accepter_account_id} as the event said",
        )
    if approval.expiry_due(peering):
        return _expired(peering, ec2, ctx)
    if not peering.pending:
        return _skipped(
            peering.peering_id,
            "not-pending",
            f"status is {peering.status} ({peering.status_message}): nothing to decide",
        )

    accepter_vpc = ec2.get_vpc(peering.accepter.vpc_id)
    requester = _requester_side(peering, settings, aws, ec2)
    requester_cidrs = requester_blocks(peering, requester, settings)
    if requester is not None and requester.vpc is None:
        logger.warning("requester VPC %s not read: %s", requester.info.vpc_id, requester.not_managed)
    requester_vpc = requester.vpc if requester is not None else None
    now = ctx.now()
    decision = decide(peering, accepter_vpc, requester_cidrs, settings, None, now, requester_vpc)
    plans: dict[str, SidePlan] = {}
    if decision.accept or decision.asks:
        # Only a request that passes everything else (but perhaps a person's word) costs the
        # route-table reads; one asked about also the security groups: what approval would add.
        accepter = Side(ACCEPTER, peering.accepter, ec2, accepter_vpc)
        for role, side, peer_vpc in ((REQUESTER, requester, accepter_vpc), (ACCEPTER, accepter, requester_vpc)):
            plan = _plan(side, peer_vpc, peering, settings, now, with_groups=decision.asks)
            if plan is not None:
                plans[role] = plan
        held = {role: plan.held_routes() if plan.carries_nothing else [] for role, plan in plans.items()}
        decision = decide(peering, accepter_vpc, requester_cidrs, settings, held, now, requester_vpc)

    if decision.accept:
        outcome = Outcome.ACCEPTED
    elif decision.asks:
        outcome = Outcome.AWAITING  # a person decides, whatever UnapprovedRequestAction says
    elif (
        # The policy's reject rejects whatever UnapprovedRequestAction says.
        (settings.unapproved_action is UnapprovedAction.REJECT or Reason.POLICY_REJECTED in decision.reasons)
        and accepter_vpc.opted_in
        and all(r.final for r in decision.reasons)
    ):
        # Only into a VPC whose owner delegated the decision, and only on a verdict about the
        # request itself: a requester the hub could not read is left pending, not rejected.
        outcome = Outcome.REJECTED
    else:
        outcome = Outcome.DECLINED

    if outcome is Outcome.AWAITING and decision.verdict is not None:
        status_value = approval.status_for(decision.verdict.rule)
    else:
        status_value = outcome.value if decision.accept else f"{outcome.value}:{decision.code}"
    status_after = None
    changed = peering.tags.get(STATUS_TAG) != status_value
    resources = [peering.arn(ctx.aws.partition(peering.accepter.region))]
    ask = (
        _ask(peering, accepter_vpc, requester_cidrs, decision, plans, settings) if outcome is Outcome.AWAITING else None
    )
    if ask is not None and changed:
        # Asked once: when the request first awaits a person (or awaits them anew). Told before the
        # status tag is written: a failure to tell is retried by Lambda, and the retry asks again.
        _tell(ctx, PeeringApprovalRequested, approval.ASKED, ask, resources)
    if not settings.dry_run:
        if outcome is Outcome.ACCEPTED:
            status_after = ec2.accept_peering(peering.peering_id)
        elif outcome is Outcome.REJECTED:
            ec2.reject_peering(peering.peering_id)
        # A decline for a reason that may pass notes its attempt, for the sweep's back-off.
        retry = next_retry(peering.tags, status_value, ctx.now())
        # A sweep re-deciding writes nothing new (`changed`: the status tag says another decision).
        tags = ({STATUS_TAG: status_value} if changed else {}) | ({RETRY_TAG: retry.tag_value} if retry else {})
        if tags:
            ec2.tag(peering.peering_id, tags)
        if retry is None and RETRY_TAG in peering.tags:
            ec2.untag(peering.peering_id, [RETRY_TAG])  # decided for good: nothing left to retry
        if changed:  # the history, like the status tag, only when the decision changed
            _record(ctx, peering, accepter_vpc, requester_cidrs, decision, outcome)
    event = _event(peering, decision, outcome, settings.dry_run, status_after)
    event.publish(ctx.publisher, resources=resources)
    detail = event.as_detail()
    summary = decision.explanation
    if ask is not None and not changed and approval.reminder_due(peering, now):
        _tell(ctx, PeeringApprovalReminder, approval.REMINDED, ask, resources)  # before it is remembered
        if not settings.dry_run:
            ec2.tag(peering.peering_id, {approval.REMINDED_TAG: approval.iso(now)})
            ctx.recorder.log(peering.peering_id, approval.REMINDED, f"reminded: {ask.peering_id} expires {ask.expires}")
        summary += f"; reminded: it expires at {ask.expires}"
    return AcceptResult(peering.peering_id, outcome, summary, settings.dry_run, detail, decision.code)


def _ask(
    peering: Peering,
    accepter_vpc: Vpc,
    requester_cidrs: Cidrs | None,
    decision: Decision,
    plans: Mapping[str, SidePlan],
    settings: Settings,
) -> approval.Ask:
    """What the person is asked: who asks (account, OU path, VPC, blocks), into what, under which
    rule, and the routes and rules approval would add on each managed side (the judge's plans)."""
    verdict = decision.verdict
    assert verdict is not None
    sides = {
        REQUESTER: {
            **peering.requester.describe(),
            "ouPath": list(settings.ou_path(peering.requester.account_id)),
            "cidrs": requester_cidrs.as_strings() if requester_cidrs is not None else [],
        },
        ACCEPTER: {
            **peering.accepter.describe(),
            "ouPath": list(settings.ou_path(peering.accepter.account_id)),
            "cidrs": accepter_vpc.cidrs.as_strings(),
        },
    }
    adds = tuple(
        approval.additions(
            {k: sides[role][k] for k in ("accountId", "region", "vpcId")},
            plan.route_additions,
            plan.rule_additions,
        )
        for role, plan in sorted(plans.items(), key=lambda item: item[0] != REQUESTER)
    )
    return approval.Ask(
        peering.peering_id,
        sides[REQUESTER],
        sides[ACCEPTER],
        verdict.rule,
        verdict.why,
        verdict.approvers,
        adds,
        approval.iso(approval.expires_at(peering)),
    )


def _tell(ctx: Context, kind: type[PeeringApproval], words: str, ask: approval.Ask, resources: list[str]) -> None:
    """The event on the bus, and the topic's people (when there is a topic, and not in a dry run)."""
    settings = ctx.settings
    notify = bool(settings.notification_topic_arn) and not settings.dry_run
    if notify:
        subject, message = approval.notification(ask, words)
        ctx.aws.notifier(settings.notification_topic_arn).notify_each(subject, message)
    kind(ask.peering_id, ask.describe(), settings.dry_run, notify).publish(ctx.publisher, resources=resources)


def _expired(peering: Peering, ec2: Ec2Gateway, ctx: Context) -> AcceptResult:
    """A request that expired while it awaited a person: tagged `expired:<rule>`, recorded, and
    people told, once (the status tag no longer says awaiting afterwards)."""
    settings = ctx.settings
    rule = approval.awaiting(peering.tags.get(STATUS_TAG)) or ""
    ask = approval.Ask(
        peering.peering_id,
        {**peering.requester.describe(), "cidrs": peering.requester.cidrs.as_strings()},
        {**peering.accepter.describe(), "cidrs": peering.accepter.cidrs.as_strings()},
        rule,
        f"it awaited a person under rule {rule!r}",
        (),
        (),
    )
    why = f"expired while it awaited a person's approval under rule {rule!r}"
    resources = [peering.arn(ctx.aws.partition(peering.accepter.region))]
    _tell(ctx, PeeringApprovalExpired, approval.APPROVAL_EXPIRED, ask, resources)  # before it is remembered
    if not settings.dry_run:
        ec2.tag(peering.peering_id, {STATUS_TAG: f"{approval.EXPIRED}:{rule}"})  # the accepter's view
        ctx.recorder.log(peering.peering_id, approval.APPROVAL_EXPIRED, why, {"rule": rule})
    return AcceptResult(peering.peering_id, Outcome.EXPIRED, why, settings.dry_run, {}, approval.APPROVAL_EXPIRED)


def _requester_side(peering: Peering, settings: Settings, aws: AwsAccess, known: Ec2Gateway) -> Side | None:
    """The requester's side, opened in its own account; None for an account the hub does not manage."""
    if not settings.is_managed_account(peering.requester.account_id):
        return None
    return open_side(REQUESTER, peering.requester, settings, aws, known)


def _plan(
    side: Side | None, peer_vpc: Vpc | None, peering: Peering, settings: Settings, now: float, with_groups: bool
) -> SidePlan | None:
    """What configure would do on this side once accepted (its tables read once, its tagged
    groups too `with_groups`, judged by the judge configure executes): where every peer block
    would be held (`carries_nothing`), and what an asked request would add; None for a side the
    hub may not route."""
    if side is None or not side.managed or side.ec2 is None or side.vpc is None:
        return None
    vpc_ids = [side.vpc.vpc_id]
    groups = side.ec2.vpc_security_groups(vpc_ids) if with_groups else ()
    facts = SideFacts(side.role, peering, side.vpc, side.ec2.route_tables(vpc_ids), groups, peer_vpc)
    return plan_side(facts, settings.peer_ranges, now, read_gone=side.ec2.gone_targets)


def _record(
    ctx: Context,
    peering: Peering,
    accepter_vpc: Vpc,
    requester_cidrs: Cidrs | None,
    decision: Decision,
    outcome: Outcome,
) -> None:
    """The decision in the peering's history, with what it was decided on: written with the
    status tag, so a sweep re-deciding an undecided request alike adds nothing."""
    settings = ctx.settings
    evidence = {
        "requester": {
            **peering.requester.describe(),
            "cidrs": requester_cidrs.as_strings() if requester_cidrs is not None else None,
            "approved": settings.is_managed_account(peering.requester.account_id),  # ApprovedAccountIds or the hub
        },
        "accepter": {
            **peering.accepter.describe(),
            "cidrs": accepter_vpc.cidrs.as_strings(),
            "optInTag": accepter_vpc.tags.get(ENABLED_TAG),
        },
        "reasons": [r.value for r in decision.reasons],
        "overlaps": [list(pair) for pair in decision.overlaps],
        "settings": {
            "AllowedPeerCidrs": settings.allowed_peer_cidrs.describe(),
            "UnapprovedRequestAction": settings.unapproved_action.value,
        },
    }
    verdict = decision.verdict
    if verdict is not None and verdict.rule != PARAMETERS_RULE:  # a document's rule decided: which, and why
        evidence["policy"] = {
            "rule": verdict.rule,
            "outcome": verdict.outcome,
            "why": verdict.why,
            "approvers": list(verdict.approvers),
            "source": settings.current_policy().source,
        }
    ctx.recorder.log(peering.peering_id, outcome.value, decision.explanation, evidence)


def _event(
    peering: Peering, decision: Decision, outcome: Outcome, dry_run: bool, status_after: str | None
) -> PeeringDecision:
    return EVENTS[outcome](
        peering_id=peering.peering_id,
        outcome=outcome.value,
        reason_codes=tuple(r.value for r in decision.reasons),
        reason=decision.explanation,
        overlaps=tuple(tuple(pair) for pair in decision.overlaps),
        requester=peering.requester.describe(),
        accepter=peering.accepter.describe(),
        status_before=peering.status,
        dry_run=dry_run,
        status_after=status_after,
    )


def _skipped(peering_id: str, code: str, why: str) -> AcceptResult:
    return AcceptResult(peering_id, Outcome.SKIPPED, why, reason_code=code)
