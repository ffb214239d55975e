"""What starts each function: one parser per event shape its rules in template.yaml deliver, named
for that shape, and one trigger per function that accepts exactly those shapes.

Events are hints only: a parser says which peering (or VPC) to look at and where; the state is
re-read from EC2 before anything is done. Anything malformed is refused here, naming the field;
the details of the autopilot's own events are parsed by their types in events.py. Each hint names
its `subject`, the correlation id of the log lines. The autopilot's own events (source
`peering-autopilot`) count only when the hub's account put them: `check_publisher()`, given the
hub's account, refuses any other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any

from peering_autopilot import events
from peering_autopilot.errors import InvalidEventError
from peering_autopilot.events import PEERING_ID, VPC_ID, VpcPlace
from peering_autopilot.events import matching as _match
from peering_autopilot.events import object_field as _mapping
from peering_autopilot.events import quoted as _short
from peering_autopilot.record import Origin
from peering_autopilot.settings import ACCOUNT_ID, REGION
from peering_autopilot.structs import struct

MAX_EVENT_BYTES = 256 * 1024  # EventBridge's own ceiling for an event
AUTOPILOT = events.SOURCE
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
TAG_CHANGE_DETAIL_TYPE = "Tag Change on Resource"
SCHEDULED_DETAIL_TYPE = "Scheduled Event"


class EventNotActionableError(InvalidEventError):
    """A well-formed event that records nothing to act on (for example a failed API call)."""


# ---------------------------------------------------------------------------------------- hints
@struct(frozen=True)
class PeeringRequestHint:
    """A peering request to consider, and the account and region of its accepter."""

    peering_id: str
    accepter_account_id: str
    accepter_region: str
    reported_by_account: str
    caller: str = field(default="", compare=False)  # the role that made the call, when a call is the trigger

    @property
    def subject(self) -> str:  # the correlation id of the log lines
        return self.peering_id


@struct(frozen=True)
class PeeringHint:
    """A peering to bring up to date, and an account and region that can see it."""

    peering_id: str
    account_id: str
    region: str
    caller: str = field(default="", compare=False)  # the role that made the call, when a call is the trigger
    # The account and region of the peering's other side, when the event names them: where to read
    # it when the first place is not the hub's to read (a partner's accept, a partner accepter).
    elsewhere: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def subject(self) -> str:  # the correlation id of the log lines
        return self.peering_id


@struct(frozen=True)
class VpcHint:
    """A VPC whose opt-in, group or DNS tag changed, and its tags after the change."""

    vpc_id: str
    account_id: str
    region: str
    opted_in: bool
    changed: frozenset[str] = frozenset()  # the tag keys the change was about

    @property
    def subject(self) -> str:  # the correlation id of the log lines
        return self.vpc_id


@struct(frozen=True)
class GroupRequestHint:
    """The sweep's plan for a peering group: request a peering from one VPC to another."""

    group: str
    requester: VpcPlace
    accepter: VpcPlace

    @property
    def peering_id(self) -> str:  # the correlation id of the log lines: there is no peering yet
        return f"{self.requester.vpc_id}->{self.accepter.vpc_id}"

    @property
    def subject(self) -> str:
        return self.peering_id


@struct(frozen=True)
class ScheduledSweep:
    """The schedule fired: sweep every managed account and region."""

    @property
    def subject(self) -> str:  # the correlation id of the log lines
        return "every managed account and region"


# ---------------------------------------------------------------------------------------- shapes
@struct(frozen=True)
class Shape[H]:
    """One event shape: its envelope's source and detail-type, and the parser of its detail."""

    source: str
    detail_type: str
    parse: Callable[[Mapping[str, Any]], H]

    def __str__(self) -> str:
        article = "an" if self.source[0] in "aeiou" else "a"
        return f"{article} {self.source!r} {self.detail_type!r} event"


def create_peering_call(event: Mapping[str, Any]) -> PeeringRequestHint:
    """CloudTrail's CreateVpcPeeringConnection, recorded in the requester's account and region."""
    account = _match(event.get("account"), ACCOUNT_ID, "account")
    region = _match(event.get("region"), REGION, "region")
    detail = _successful_call(event, "CreateVpcPeeringConnection", "no peering was created")
    response = _mapping(detail.get("responseElements"), "detail.responseElements")
    connection = _mapping(response.get("vpcPeeringConnection"), "detail.responseElements.vpcPeeringConnection")
    peering_id = _match(
        connection.get("vpcPeeringConnectionId"),
        PEERING_ID,
        "detail.responseElements.vpcPeeringConnection.vpcPeeringConnectionId",
    )
    accepter = connection.get("accepterVpcInfo") or {}
    if not isinstance(accepter, Mapping):
        raise InvalidEventError("detail.responseElements.vpcPeeringConnection.accepterVpcInfo is not an object")
    request = detail.get("requestParameters") or {}
    if not isinstance(request, Mapping):
        raise InvalidEventError("detail.requestParameters is not an object")

    # The response names the accepter, else the request does; else the peer is in the caller's
    # own account and region. Each value is checked under the name of the field it came from.
    accepter_account = _first_present(
        account,
        (accepter, "ownerId", "detail.responseElements.vpcPeeringConnection.accepterVpcInfo.ownerId"),
        (request, "peerOwnerId", "detail.requestParameters.peerOwnerId"),
    )
    accepter_region = _first_present(
        region,
        (accepter, "region", "detail.responseElements.vpcPeeringConnection.accepterVpcInfo.region"),
        (request, "peerRegion", "detail.requestParameters.peerRegion"),
    )
    return PeeringRequestHint(
        peering_id=peering_id,
        accepter_account_id=_match(accepter_account[0], ACCOUNT_ID, accepter_account[1]),
        accepter_region=_match(accepter_region[0], REGION, accepter_region[1]),
        reported_by_account=account,
        caller=_caller(detail),
    )


def _peering_call(*names: str) -> Callable[[Mapping[str, Any]], PeeringHint]:
    """CloudTrail's record of a call on an existing peering (accept, reject, delete): the caller's
    account and region see the peering."""

    def parse(event: Mapping[str, Any]) -> PeeringHint:
        detail = _successful_call(event, names, "nothing changed")
        request = _mapping(detail.get("requestParameters"), "detail.requestParameters")
        account = _match(event.get("account"), ACCOUNT_ID, "account")
        region = _match(event.get("region"), REGION, "region")
        return PeeringHint(
            peering_id=_match(
                request.get("vpcPeeringConnectionId"), PEERING_ID, "detail.requestParameters.vpcPeeringConnectionId"
            ),
            account_id=account,
            region=region,
            caller=_caller(detail),
            elsewhere=_other_sides(detail, (account, region)),
        )

    return parse


def _other_sides(detail: Mapping[str, Any], here: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """The places of the peering's sides other than `here`, from the call's response (an accept
    answers with the peering, both sides named); none when the response does not describe it."""
    response = detail.get("responseElements")
    connection = response.get("vpcPeeringConnection") if isinstance(response, Mapping) else None
    if not isinstance(connection, Mapping):
        return ()
    places: list[tuple[str, str]] = []
    for key in ("requesterVpcInfo", "accepterVpcInfo"):
        name = f"detail.responseElements.vpcPeeringConnection.{key}"
        info = connection.get(key)
        if info is None:
            continue
        info = _mapping(info, name)
        place = (
            _match(info.get("ownerId"), ACCOUNT_ID, f"{name}.ownerId"),
            _match(info.get("region") or here[1], REGION, f"{name}.region"),
        )
        if place != here and place not in places:
            places.append(place)
    return tuple(places)


accept_peering_call = _peering_call("AcceptVpcPeeringConnection")
end_peering_call = _peering_call("DeleteVpcPeeringConnection", "RejectVpcPeeringConnection")


def peering_decided(event: Mapping[str, Any]) -> PeeringHint:
    """The autopilot's own "Peering Accepted" or "Peering Rejected": read the peering where it was
    decided, in its accepter's account and region."""
    return _peering_hint(events.PeeringDecision.parse(event.get("detail")))


def peering_configured(event: Mapping[str, Any]) -> PeeringHint:
    """The autopilot's own "Peering Configured": read the peering on its accepter side, else on
    its requester side (the hub may manage only that one: a partner accepted)."""
    return _peering_hint(events.PeeringConfigured.parse(event.get("detail")))


def _peering_hint(seen: events.PeeringAt) -> PeeringHint:
    return PeeringHint(seen.peering_id, seen.account_id, seen.region, elsewhere=seen.elsewhere)


def work_found(work: str) -> Callable[[Mapping[str, Any]], PeeringHint]:
    """The autopilot's own "Peering Work Found" of one kind of work (accept, configure, clean-up)."""

    def parse(event: Mapping[str, Any]) -> PeeringHint:
        found = events.WorkFound.parse(event.get("detail"), work)
        return PeeringHint(peering_id=found.peering_id, account_id=found.account_id, region=found.region)

    return parse


def group_work_found(event: Mapping[str, Any]) -> GroupRequestHint | PeeringHint:
    """ "Peering Work Found" for a peering group: `request` (two VPCs and the group) or
    `withdraw` (the autopilot's own group peering, and where its requester sees it)."""
    detail = _mapping(event.get("detail"), "detail")
    work = detail.get("work")
    if work == "withdraw":
        return work_found("withdraw")(event)
    if work != "request":
        raise InvalidEventError(f"detail.work is {_short(work)}, not 'request' or 'withdraw'")
    found = events.GroupRequestFound.parse(detail)
    return GroupRequestHint(found.group, found.requester, found.accepter)


def request_found(event: Mapping[str, Any]) -> PeeringRequestHint:
    """ "Peering Work Found" with work `accept`: a pending request, seen from its accepter."""
    work = work_found("accept")(event)
    return PeeringRequestHint(work.peering_id, work.account_id, work.region, work.account_id)


def vpc_tag_change(event: Mapping[str, Any]) -> VpcHint:
    """ "Tag Change on Resource" (source aws.tag) for a VPC: its tags after the change."""
    detail = _mapping(event.get("detail"), "detail")
    if detail.get("service") != "ec2" or detail.get("resource-type") != "vpc":
        raise InvalidEventError(f"the tag change is not on a VPC: {_short(detail.get('resource-type'))}")
    resources = event.get("resources")
    if not isinstance(resources, list) or len(resources) != 1 or not isinstance(resources[0], str):
        raise InvalidEventError("resources must hold the one VPC ARN")
    vpc_id = resources[0].rsplit("/", 1)[-1]
    tags = _mapping(detail.get("tags", {}), "detail.tags")
    changed = detail.get("changed-tag-keys", [])
    if not isinstance(changed, list) or not all(isinstance(k, str) for k in changed):
        raise InvalidEventError("detail.changed-tag-keys must be a list of tag keys")
    return VpcHint(
        vpc_id=_match(vpc_id, VPC_ID, "resources[0] (VPC ARN)"),
        account_id=_match(event.get("account"), ACCOUNT_ID, "account"),
        region=_match(event.get("region"), REGION, "region"),
        opted_in=tags.get("peering-autopilot:enabled") == "true",
        changed=frozenset(changed),
    )


def scheduled_event(event: Mapping[str, Any]) -> ScheduledSweep:
    return ScheduledSweep()


# ---------------------------------------------------------------------------------------- triggers
def one_of[H](*shapes: Shape[H]) -> Callable[[Mapping[str, Any]], H]:
    """A function's trigger: the event must be of one of its rules' shapes, and parse as such."""
    by_envelope = {(s.source, s.detail_type): s for s in shapes}
    expected = " or ".join(str(s) for s in shapes)

    def trigger(event: Mapping[str, Any]) -> H:
        _check_size(event)
        source, detail_type = event.get("source"), event.get("detail-type")
        for name, value in (("source", source), ("detail-type", detail_type)):
            if value is not None and not isinstance(value, str):  # a list or an object: no envelope EventBridge sends
                raise InvalidEventError(f"the envelope's {name} must be a string, got {type(value).__name__}")
        shape = by_envelope.get((source, detail_type))  # type: ignore[arg-type]  # a missing one: None, no shape
        if shape is None:
            raise InvalidEventError(
                f"expected {expected}, got source {_short(event.get('source'), 40)} "
                f"detail-type {_short(event.get('detail-type'), 40)}"
            )
        return shape.parse(event)

    return trigger


accept_trigger = one_of(
    Shape("aws.ec2", CLOUDTRAIL_DETAIL_TYPE, create_peering_call),
    Shape(AUTOPILOT, events.WORK_FOUND, request_found),
)
configure_trigger = one_of(
    Shape(AUTOPILOT, events.PeeringAccepted.DETAIL_TYPE, peering_decided),
    Shape(AUTOPILOT, events.WORK_FOUND, work_found("configure")),
    Shape("aws.ec2", CLOUDTRAIL_DETAIL_TYPE, accept_peering_call),
)
verify_trigger = one_of(Shape(AUTOPILOT, events.PeeringConfigured.DETAIL_TYPE, peering_configured))
cleanup_trigger = one_of(
    Shape("aws.ec2", CLOUDTRAIL_DETAIL_TYPE, end_peering_call),
    Shape(AUTOPILOT, events.WORK_FOUND, work_found("clean-up")),
    Shape(AUTOPILOT, events.PeeringRejected.DETAIL_TYPE, peering_decided),
)
connect_trigger = one_of(Shape(AUTOPILOT, events.WORK_FOUND, group_work_found))
sweep_trigger: Callable[[Mapping[str, Any]], VpcHint | ScheduledSweep] = one_of(
    Shape("aws.events", SCHEDULED_DETAIL_TYPE, scheduled_event),
    Shape("aws.tag", TAG_CHANGE_DETAIL_TYPE, vpc_tag_change),
)


# ---------------------------------------------------------------------------------------- who put it
def check_publisher(event: Mapping[str, Any], hub_account_id: str) -> None:
    """Refuse an autopilot event (source `peering-autopilot`) that the hub's account did not put.

    Its envelope's `account` is the account that called PutEvents: EventBridge sets it and no
    sender can choose it. The hub's functions publish from the hub's account; any other account
    the bus admits (a member, the Organization) could otherwise name any peering, account and
    region in `detail`. AWS's own events (CloudTrail's, tag changes, the schedule) carry the
    account where they happened instead, and are not judged here."""
    if not isinstance(event, Mapping) or event.get("source") != AUTOPILOT:
        return
    account = event.get("account")
    if account != hub_account_id:
        sender = account if isinstance(account, str) and ACCOUNT_ID.fullmatch(account) else _short(account, 40)
        raise InvalidEventError(
            f"a {AUTOPILOT!r} {_short(event.get('detail-type'), 40)} event from account {sender} is refused: "
            f"the autopilot's own events count only from the hub's account {hub_account_id}"
        )


# ---------------------------------------------------------------------------------------- who caused it
def origin(event: Mapping[str, Any], function: str) -> Origin:
    """The triggering event's id, the function acting, and for a call recorded by CloudTrail the
    identity that made it (`userIdentity.arn`: the person's session), as the record names them.
    Read from an event already parsed by the function's trigger; never used to grant anything."""
    event_id = event.get("id")
    person = ""
    if event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE:
        detail = event.get("detail")
        identity = detail.get("userIdentity") if isinstance(detail, Mapping) else None
        arn = identity.get("arn") if isinstance(identity, Mapping) else None
        person = arn if isinstance(arn, str) and len(arn) <= 2048 else ""
    return Origin(
        event_id if isinstance(event_id, str) and len(event_id) <= 128 else "",
        f"peering-autopilot:{function}" if function else "peering-autopilot",
        person,
    )


# ---------------------------------------------------------------------------------------- fields
def _successful_call(event: Mapping[str, Any], names: str | tuple[str, ...], if_failed: str) -> Mapping[str, Any]:
    """The detail of a CloudTrail record of one of `names`; a failed call is not actionable."""
    wanted = (names,) if isinstance(names, str) else names
    detail = _mapping(event.get("detail"), "detail")
    name = detail.get("eventName")
    if name not in wanted:
        raise InvalidEventError(f"detail.eventName is {_short(name)}, not {' or '.join(sorted(wanted))}")
    if detail.get("errorCode"):
        raise EventNotActionableError(f"the {name} call failed ({_short(detail.get('errorCode'))}): {if_failed}")
    return detail


def _caller(detail: Mapping[str, Any]) -> str:
    """The role behind a CloudTrail record: `userIdentity.sessionContext.sessionIssuer.arn` for an
    assumed role (it keeps the role's path), else `userIdentity.arn`; empty when neither is a string.
    Used only to recognise the autopilot's own calls, never to grant anything."""
    identity = detail.get("userIdentity")
    if not isinstance(identity, Mapping):
        return ""
    context = identity.get("sessionContext")
    issuer = context.get("sessionIssuer") if isinstance(context, Mapping) else None
    arn = issuer.get("arn") if isinstance(issuer, Mapping) else identity.get("arn")
    return arn if isinstance(arn, str) and len(arn) <= 2048 else ""


def _first_present(default: str, *sources: tuple[Mapping[str, Any], str, str]) -> tuple[Any, str]:
    """The first source field that is set, with its name for error messages; else the default."""
    for mapping, key, name in sources:
        if mapping.get(key) not in (None, ""):
            return mapping[key], name
    return default, "the event's own account/region"


def _check_size(event: Mapping[str, Any]) -> None:
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"the event is a {type(event).__name__}, not a JSON object")
    try:
        size = len(json.dumps(event, default=str).encode())
    except (TypeError, ValueError) as e:
        raise InvalidEventError(f"the event cannot be serialised: {e}") from e
    if size > MAX_EVENT_BYTES:
        raise InvalidEventError(f"the event is {size} bytes, over the {MAX_EVENT_BYTES}-byte limit")
