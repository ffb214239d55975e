"""Turn incoming events into hints: which peering to look at, and where. Events are hints only;
the state is re-read from EC2 before anything is done. Anything malformed is refused here."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peering_autopilot.errors import InvalidEventError
from peering_autopilot.settings import ACCOUNT_ID, REGION

PEERING_ID = re.compile(r"pcx-[0-9a-f]{8,17}", re.ASCII)
MAX_EVENT_BYTES = 256 * 1024  # EventBridge's own ceiling for an event
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


class EventNotActionableError(InvalidEventError):
    """A well-formed event that records nothing to act on (for example a failed API call)."""


@dataclass(frozen=True)
class PeeringRequestHint:
    """A peering request to consider, and the account and region of its accepter."""

    peering_id: str
    accepter_account_id: str
    accepter_region: str
    reported_by_account: str


WORK_DETAIL_TYPE = "Peering Work Found"


def peering_request_hint(event: Mapping[str, Any]) -> PeeringRequestHint:
    """Read a CloudTrail CreateVpcPeeringConnection event (EventBridge envelope included), or the
    autopilot's own "Peering Work Found" (work: accept) from a sweep or an opt-in."""
    _check_size(event)
    if event.get("source") == "peering-autopilot" and event.get("detail-type") == WORK_DETAIL_TYPE:
        work = work_hint(event, "accept")
        return PeeringRequestHint(work.peering_id, work.account_id, work.region, work.account_id)
    if event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE or event.get("source") != "aws.ec2":
        raise InvalidEventError(
            f"expected an 'aws.ec2' '{CLOUDTRAIL_DETAIL_TYPE}' event, got source "
            f"{_short(event.get('source'))} detail-type {_short(event.get('detail-type'))}"
        )
    account = _match(event.get("account"), ACCOUNT_ID, "account")
    region = _match(event.get("region"), REGION, "region")
    detail = _mapping(event.get("detail"), "detail")
    name = detail.get("eventName")
    if name != "CreateVpcPeeringConnection":
        raise InvalidEventError(f"detail.eventName is {_short(name)}, not CreateVpcPeeringConnection")
    if detail.get("errorCode"):
        raise EventNotActionableError(
            f"the CreateVpcPeeringConnection call failed ({_short(detail.get('errorCode'))}): no peering was created"
        )

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
    )


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


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEventError(f"{name} is missing or not an object (got {type(value).__name__})")
    return value


def _match(value: Any, pattern: re.Pattern[str], name: str) -> str:
    if not isinstance(value, str):
        raise InvalidEventError(f"{name} must be a string, got {type(value).__name__}")
    if not pattern.fullmatch(value):
        raise InvalidEventError(f"{name} is not valid: {_short(value)}")
    return value


def _short(value: Any, limit: int = 80) -> str:
    """Quote a value for an error message without echoing an absurd payload back into the logs."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


@dataclass(frozen=True)
class PeeringHint:
    """A peering to bring up to date, and an account and region that can see it."""

    peering_id: str
    account_id: str
    region: str


def work_hint(event: Mapping[str, Any], expected_work: str) -> PeeringHint:
    """Read a "Peering Work Found" event: a peering, where to read it, and what to do."""
    _check_size(event)
    detail = _mapping(event.get("detail"), "detail")
    if detail.get("work") != expected_work:
        raise InvalidEventError(f"detail.work is {_short(detail.get('work'))}, not {expected_work!r}")
    return PeeringHint(
        peering_id=_match(detail.get("peeringId"), PEERING_ID, "detail.peeringId"),
        account_id=_match(detail.get("accountId"), ACCOUNT_ID, "detail.accountId"),
        region=_match(detail.get("region"), REGION, "detail.region"),
    )


@dataclass(frozen=True)
class VpcHint:
    vpc_id: str
    account_id: str
    region: str
    opted_in: bool


VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}", re.ASCII)


def vpc_tag_hint(event: Mapping[str, Any]) -> VpcHint:
    """Read a "Tag Change on Resource" event (source aws.tag) for a VPC."""
    _check_size(event)
    if event.get("source") != "aws.tag" or event.get("detail-type") != "Tag Change on Resource":
        raise InvalidEventError(
            f"expected an 'aws.tag' 'Tag Change on Resource' event, got source {_short(event.get('source'))} "
            f"detail-type {_short(event.get('detail-type'))}"
        )
    detail = _mapping(event.get("detail"), "detail")
    if detail.get("service") != "ec2" or detail.get("resource-type") != "vpc":
        raise InvalidEventError(f"the tag change is not on a VPC: {_short(detail.get('resource-type'))}")
    resources = event.get("resources")
    if not isinstance(resources, list) or len(resources) != 1 or not isinstance(resources[0], str):
        raise InvalidEventError("resources must hold the one VPC ARN")
    vpc_id = resources[0].rsplit("/", 1)[-1]
    tags = _mapping(detail.get("tags", {}), "detail.tags")
    return VpcHint(
        vpc_id=_match(vpc_id, VPC_ID, "resources[0] (VPC ARN)"),
        account_id=_match(event.get("account"), ACCOUNT_ID, "account"),
        region=_match(event.get("region"), REGION, "region"),
        opted_in=tags.get("peering-autopilot:enabled") == "true",
    )


def peering_hint(
    event: Mapping[str, Any],
    cloudtrail_calls: frozenset[str] = frozenset({"AcceptVpcPeeringConnection"}),
    work: str = "configure",
) -> PeeringHint:
    """Read the autopilot's own "Peering Accepted" or "Peering Configured" event, or a CloudTrail
    AcceptVpcPeeringConnection event (a person accepted; the caller is the accepter, in the
    accepter's region)."""
    _check_size(event)
    source, detail_type = event.get("source"), event.get("detail-type")
    detail = _mapping(event.get("detail"), "detail")
    if source == "peering-autopilot" and detail_type == "Peering Configured":
        sides = detail.get("sides")
        if not isinstance(sides, list) or len(sides) != 2 or not all(isinstance(s, Mapping) for s in sides):
            raise InvalidEventError("detail.sides must be a list of the two sides")
        accepter = next((s for s in sides if s.get("role") == "accepter"), None)
        if accepter is None:
            raise InvalidEventError("detail.sides holds no side with role 'accepter'")
        return PeeringHint(
            peering_id=_match(detail.get("peeringId"), PEERING_ID, "detail.peeringId"),
            account_id=_match(accepter.get("accountId"), ACCOUNT_ID, "detail.sides[accepter].accountId"),
            region=_match(accepter.get("region"), REGION, "detail.sides[accepter].region"),
        )
    if source == "peering-autopilot" and detail_type == "Peering Accepted":
        accepter = _mapping(detail.get("accepter"), "detail.accepter")
        return PeeringHint(
            peering_id=_match(detail.get("peeringId"), PEERING_ID, "detail.peeringId"),
            account_id=_match(accepter.get("accountId"), ACCOUNT_ID, "detail.accepter.accountId"),
            region=_match(accepter.get("region"), REGION, "detail.accepter.region"),
        )
    if source == "peering-autopilot" and detail_type == WORK_DETAIL_TYPE:
        return work_hint(event, work)
    if source == "aws.ec2" and detail_type == CLOUDTRAIL_DETAIL_TYPE:
        name = detail.get("eventName")
        if name not in cloudtrail_calls:
            raise InvalidEventError(f"detail.eventName is {_short(name)}, not {' or '.join(sorted(cloudtrail_calls))}")
        if detail.get("errorCode"):
            raise EventNotActionableError(
                f"the {name} call failed ({_short(detail.get('errorCode'))}): nothing changed"
            )
        request = _mapping(detail.get("requestParameters"), "detail.requestParameters")
        return PeeringHint(
            peering_id=_match(
                request.get("vpcPeeringConnectionId"), PEERING_ID, "detail.requestParameters.vpcPeeringConnectionId"
            ),
            account_id=_match(event.get("account"), ACCOUNT_ID, "account"),
            region=_match(event.get("region"), REGION, "region"),
        )
    raise InvalidEventError(
        f"expected a 'peering-autopilot' 'Peering Accepted' event or an 'aws.ec2' '{CLOUDTRAIL_DETAIL_TYPE}' "
        f"event, got source {_short(source)} detail-type {_short(detail_type)}"
    )
