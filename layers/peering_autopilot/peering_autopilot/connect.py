"""Peering groups, step 1 of the runbook hands-off: send the request the sweep planned for two VPCs
that share a group, and withdraw (delete) the autopilot's own group peering whose VPCs no longer
share one. Accept, configure, verify and clean-up then follow as for any peering.

The sweep's plan is a hint: everything is read again first (both VPCs opted in, both tagged with
the group, no peering of the pair in any live state, blocks that neither overlap nor fall outside
AllowedPeerCidrs; for a withdrawal, the peering carries the created-for-group tag, the autopilot's
record holds it as the autopilot's own, and its VPCs, both read, share no group). Its own calls
come back through CloudTrail and are ignored there, so it publishes what comes next itself: the
accept work for a new request, the clean-up work for a deleted peering.

One peering per pair, whatever races: a request first takes the pair's lock in the record (a
conditional put with a lease). The lock item, written before the EC2 call, is the intent; it is
settled with the peering id after. EC2 lists a request only after a while, so while the lease runs
another run for the pair is turned away by the lock, not by a list that may not show the request
yet. A run that stopped between the lock and recording its peering leaves an intent with no
peering id: the pair's next request, once the lease is over, finds the peering in EC2's list
(tagged created-for-group with the intent's group, between exactly these VPCs) and records it as
the autopilot's (`resolved-intent`) instead of requesting a second. When the table does not answer
the request still goes, guarded by EC2's list as before the record existed, and the problem is
reported; a withdrawal then does nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import field
from enum import Enum
from typing import ClassVar

from peering_autopilot.aws.dynamodb import BacklogQueue, RecordStore
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.aws.ssm import ParameterStore
from peering_autopilot.context import Context
from peering_autopilot.events import PeeringRequested, PeeringWithdrawn, VpcPlace, WorkFound
from peering_autopilot.mesh import (
    RECORD_UNREADABLE,
    admitted_members,
    not_ours_to_withdraw,
    pair_problem,
    vpc_key,
    vpc_place,
)
from peering_autopilot.model import CREATED_FOR_TAG, GROUP_TAG, LIVE_STATES, Peering, Vpc
from peering_autopilot.permissions import actions_of
from peering_autopilot.record import OwnedPeering, pair_key
from peering_autopilot.results import StepResult
from peering_autopilot.structs import struct
from peering_autopilot.triggers import GroupRequestHint, PeeringHint

IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    ParameterStore.read,  # the policy (authority.load_policy, before the step)
    Ec2Gateway.get_vpc,
    Ec2Gateway.find_peering,
    Ec2Gateway.peerings_between,
    Ec2Gateway.request_peering,
    Ec2Gateway.delete_peering,
    EventPublisher.publish,
    RecordStore.items,
    RecordStore.last,
    RecordStore.put_new,
    RecordStore.put_if,
    RecordStore.write,
    BacklogQueue.send,
)


# The pair lock's lease. DescribeVpcPeeringConnections is eventually consistent: a request just
# made may be missing from the list for seconds, at worst about a minute. For the lease, another run
# for the pair (the same work delivered twice, each end's tag change) is turned away by the lock
# rather than by that list; after it, the list shows the request. It is shorter than the wait
# before Lambda's second retry of an asynchronous invocation (one minute, then two more), so a run
# that stopped after its request is resolved by its own retry at the latest.
PAIR_LEASE_SECONDS = 150


class Outcome(Enum):
    REQUESTED = "requested"
    RESOLVED = "resolved"  # a stopped run's request, found in EC2 and recorded as the autopilot's
    WITHDRAWN = "withdrawn"
    PLANNED = "planned"  # DryRun: what it would request or withdraw, published, nothing changed
    SKIPPED = "skipped"  # the plan no longer holds when read again: said why


@struct(frozen=True)
class ConnectResult(StepResult[Outcome]):
    METRICS: ClassVar[Mapping[Enum, str]] = {
        Outcome.REQUESTED: "PeeringsRequested",
        Outcome.WITHDRAWN: "PeeringsWithdrawn",
    }

    problems: tuple[str, ...] = field(default=())  # what kept it from acting (the record unreadable)

    def problem_lines(self) -> list[str]:
        return list(self.problems)


def handle_group_work(hint: GroupRequestHint | PeeringHint, ctx: Context) -> ConnectResult:
    if isinstance(hint, GroupRequestHint):
        return request_for_group(hint, ctx)
    return withdraw_from_group(hint, ctx)


def request_for_group(hint: GroupRequestHint, ctx: Context) -> ConnectResult:
    settings = ctx.settings
    subject = hint.peering_id

    def skipped(why: str) -> ConnectResult:
        return ConnectResult(subject, Outcome.SKIPPED, why, settings.dry_run, {"group": hint.group})

    for place in (hint.requester, hint.accepter):
        if not (settings.is_managed_account(place.account_id) and settings.is_managed_region(place.region)):
            return skipped(f"{place.account_id}/{place.region} is not managed by this hub")
    # The pair's lock first: a plan delivered twice (each end's tag change, at least once) is
    # turned away here while the first run's request may not be listed yet.
    recorder = ctx.recorder
    owned = OwnedPeering(hint.group, _key(hint.requester), _key(hint.accepter))
    key = pair_key(owned.requester, owned.accepter)
    holder = f"{ctx.origin.event_id or 'run'}/{uuid.uuid4().hex[:12]}"  # this invocation, not its event
    intent = {"group": hint.group, "requester": owned.requester, "accepter": owned.accepter}
    taken = recorder.take_lock(key, holder, PAIR_LEASE_SECONDS, intent)
    if taken.held_by:
        made = (taken.held or {}).get("peeringId")
        return skipped(f"the pair is being requested by {taken.held_by}" + (f" ({made})" if made else ""))
    result = _request(hint, ctx, owned, taken.previous)
    if not taken.unavailable:
        settled: dict[str, object] = {"settled": result.outcome.value}
        if result.outcome in (Outcome.REQUESTED, Outcome.RESOLVED):
            settled["peeringId"] = result.peering_id  # the intent, resolved
        else:
            settled["why"] = result.summary
        recorder.settle(key, holder, settled)
    return result


def _request(
    hint: GroupRequestHint, ctx: Context, owned: OwnedPeering, previous: Mapping[str, object] | None
) -> ConnectResult:
    """The request, under the pair's lock (`previous`: the lock item it replaced)."""
    settings, aws = ctx.settings, ctx.aws
    subject = hint.peering_id

    def skipped(why: str) -> ConnectResult:
        return ConnectResult(subject, Outcome.SKIPPED, why, settings.dry_run, {"group": hint.group})

    requester_ec2 = aws.ec2(hint.requester.account_id, hint.requester.region)
    # The pair's peerings: a request an earlier run made is found here once EC2 lists it.
    existing = [
        p
        for p in requester_ec2.peerings_between(hint.requester.vpc_id, hint.accepter.vpc_id)
        if p.status in LIVE_STATES
    ]
    stopped = [p for p in existing if _made_for(p, previous, hint)]
    if stopped:
        # An intent with no peering id: a run stopped after its request, before recording it.
        found = stopped[0]
        ctx.recorder.own_peering(found.peering_id, owned, how="resolved-intent")
        why = (
            f"{found.peering_id} ({found.status}) was requested for group {hint.group} by a run that stopped "
            "before recording it: recorded as the autopilot's, no second request"
        )
        if found.pending:  # the stopped run may not have asked for the accept: asked again (idempotent)
            _work(found.peering_id, "accept", hint.accepter, why).publish(ctx.publisher)
        return ConnectResult(found.peering_id, Outcome.RESOLVED, why, settings.dry_run, {"group": hint.group})
    if existing:
        return skipped(f"the pair already has {existing[0].peering_id} ({existing[0].status})")
    requester = requester_ec2.get_vpc(hint.requester.vpc_id)
    accepter = aws.ec2(hint.accepter.account_id, hint.accepter.region).get_vpc(hint.accepter.vpc_id)
    members, not_admitted = admitted_members([requester, accepter], settings.group_refusal)
    for vpc in (requester, accepter):
        member = members.get(vpc_key(vpc))
        if member is None or hint.group not in member.groups:
            tag = vpc.tags.get(GROUP_TAG)
            state = "not opted in" if not vpc.opted_in else f"its {GROUP_TAG} is {tag!r}"
            refused = [line for line in not_admitted if vpc.vpc_id in line]
            return skipped(f"{vpc.vpc_id} is no longer in group {hint.group!r}: " + (refused[0] if refused else state))
    if vpc_key(requester) > vpc_key(accepter):
        return skipped(f"{requester.vpc_id} does not sort first of the pair: the other VPC requests")
    problem = pair_problem(requester, accepter, settings.peer_ranges)
    if problem:
        return skipped(f"{problem[0]}: {problem[1]}")

    detail = {
        "group": hint.group,
        "requester": _place(requester),
        "accepter": _place(accepter),
        "dryRun": settings.dry_run,
    }

    def requested(peering_id: str | None, outcome: Outcome) -> PeeringRequested:
        return PeeringRequested(
            peering_id, hint.group, _place(requester), _place(accepter), outcome.value, settings.dry_run
        )

    if settings.dry_run:
        requested(None, Outcome.PLANNED).publish(ctx.publisher)
        return ConnectResult(subject, Outcome.PLANNED, f"would request {subject} for group {hint.group}", True, detail)
    peering_id = requester_ec2.request_peering(
        requester.vpc_id, accepter.vpc_id, accepter.account_id, accepter.region, {CREATED_FOR_TAG: hint.group}
    )
    # Recorded before anything else: the autopilot's own, the one peering it may withdraw.
    ctx.recorder.own_peering(peering_id, owned, how="requested")
    publisher = ctx.publisher
    requested(peering_id, Outcome.REQUESTED).publish(publisher)
    ctx.recorder.log(peering_id, "requested", f"requested for group {hint.group}", detail)
    # CloudTrail's record of this request is the autopilot's own and starts nothing: the accept,
    # where the accepter sees it, is asked for here.
    why = f"requested by the autopilot for group {hint.group}"
    _work(peering_id, "accept", hint.accepter, why).publish(publisher)
    return ConnectResult(peering_id, Outcome.REQUESTED, f"requested for group {hint.group}", False, detail)


def withdraw_from_group(hint: PeeringHint, ctx: Context) -> ConnectResult:
    settings, aws = ctx.settings, ctx.aws

    def skipped(why: str) -> ConnectResult:
        return ConnectResult(hint.peering_id, Outcome.SKIPPED, why, settings.dry_run)

    if not (settings.is_managed_account(hint.account_id) and settings.is_managed_region(hint.region)):
        return skipped(f"{hint.account_id}/{hint.region} is not managed by this hub")
    ec2 = aws.ec2(hint.account_id, hint.region)
    peering = ec2.find_peering(hint.peering_id)
    if peering is None or peering.status not in LIVE_STATES:
        return skipped(f"{hint.peering_id} is {peering.status if peering else 'not visible here'}: nothing to withdraw")
    group = peering.tags.get(CREATED_FOR_TAG)
    if not group:
        return skipped(f"{peering.peering_id} was not requested by the autopilot for a group: never deleted")
    if (peering.requester.account_id, peering.requester.region) != (hint.account_id, hint.region):
        return skipped(f"{peering.peering_id} is withdrawn where its requester sees it, not here")
    # The tag is anyone's to write (IaC copies tags): only the record says the autopilot made it.
    not_ours = not_ours_to_withdraw(ctx.recorder.peering(peering.peering_id))
    if not_ours is not None and not_ours[0] == RECORD_UNREADABLE:
        return ConnectResult(
            peering.peering_id, Outcome.SKIPPED, not_ours[1], settings.dry_run, problems=(not_ours[1],)
        )
    if not_ours is not None:
        return skipped(f"{peering.peering_id} is {not_ours[1]}: never deleted")
    sides = []
    for side in (peering.requester, peering.accepter):
        if not (settings.is_managed_account(side.account_id) and settings.is_managed_region(side.region)):
            return skipped(f"{side.vpc_id} in {side.account_id}/{side.region} is not managed: hands off")
        sides.append(aws.ec2(side.account_id, side.region).get_vpc(side.vpc_id))
    members, _ = admitted_members(sides, settings.group_refusal)  # a group it may not join is not shared
    for vpc in sides:
        member = members.get(vpc_key(vpc))
        if not vpc.opted_in:
            return skipped(f"{vpc.vpc_id} opted out: what is there stays")
        if member is not None and member.unclear:
            return skipped(f"{vpc.vpc_id}'s {GROUP_TAG} is {vpc.tags[GROUP_TAG]!r}: not read as group names")
    shared = set.intersection(*(set(members[vpc_key(v)].groups) if vpc_key(v) in members else set() for v in sides))
    if shared:
        return skipped(f"its VPCs still share {', '.join(sorted(shared))}")

    detail = {
        "peeringId": peering.peering_id,
        "group": group,
        "requester": _place(sides[0]),
        "accepter": _place(sides[1]),
        "dryRun": settings.dry_run,
    }
    why = f"{sides[0].vpc_id} and {sides[1].vpc_id} share no group any more (requested for {group!r})"

    def withdrawn(outcome: Outcome) -> PeeringWithdrawn:
        return PeeringWithdrawn(
            peering.peering_id, group, _place(sides[0]), _place(sides[1]), outcome.value, why, settings.dry_run
        )

    if settings.dry_run:
        withdrawn(Outcome.PLANNED).publish(ctx.publisher)
        return ConnectResult(peering.peering_id, Outcome.PLANNED, f"would withdraw: {why}", True, detail)
    ec2.delete_peering(peering.peering_id)
    # Deleted: no longer the autopilot's to withdraw. (Its routes and rules stay in the record
    # until the clean-up takes them back.)
    ctx.recorder.release_peering(peering.peering_id)
    publisher = ctx.publisher
    withdrawn(Outcome.WITHDRAWN).publish(publisher)
    ctx.recorder.log(peering.peering_id, "withdrawn", why, detail)
    # As for the request: the deletion's CloudTrail record is the autopilot's own.
    place = VpcPlace(hint.account_id, hint.region, sides[0].vpc_id)
    _work(peering.peering_id, "clean-up", place, why).publish(publisher)
    return ConnectResult(peering.peering_id, Outcome.WITHDRAWN, why, False, detail)


def _place(vpc: Vpc) -> dict[str, object]:
    return {**vpc_place(vpc), "cidrs": vpc.cidrs.as_strings()}


def _work(peering_id: str, work: str, place: VpcPlace, why: str) -> WorkFound:
    return WorkFound(peering_id, work, place.account_id, place.region, why, found_by="peering-group")


def _key(place: VpcPlace) -> str:
    """A VPC as the record names it (mesh.vpc_key's form): account/region/vpc."""
    return f"{place.account_id}/{place.region}/{place.vpc_id}"


def _made_for(peering: Peering, intent: Mapping[str, object] | None, hint: GroupRequestHint) -> bool:
    """Whether `peering` is what the unsettled `intent` (the lock item a stopped run left) asked
    for: tagged at creation for the intent's group, from exactly the requester to the accepter."""
    if not intent or intent.get("peeringId") or intent.get("settled"):
        return False
    group = intent.get("group")
    return (
        group == hint.group
        and peering.tags.get(CREATED_FOR_TAG) == group
        and (peering.requester.account_id, peering.requester.region, peering.requester.vpc_id)
        == (hint.requester.account_id, hint.requester.region, hint.requester.vpc_id)
        and (peering.accepter.account_id, peering.accepter.region, peering.accepter.vpc_id)
        == (hint.accepter.account_id, hint.accepter.region, hint.accepter.vpc_id)
    )
