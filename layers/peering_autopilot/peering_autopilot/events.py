"""The autopilot's own events (source `peering-autopilot`): one type per detail-type it publishes,
each with its detail-type, the detail it carries (`as_detail()`, the schemas docs/how-it-works.md documents)
and, for the ones a later step is started by, the parser of that detail beside the builder.

Every detail-type string the product publishes lives here. Pure: no gateway, no AWS SDK; a
publisher is anything with EventPublisher's `publish` and `publish_many`. A parser checks each
field it reads and names it in its error; who put the event (`triggers.check_publisher`) and its
envelope are judged in triggers.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, ClassVar, Protocol

from peering_autopilot.errors import InvalidEventError
from peering_autopilot.model import GROUP_NAME, Peering
from peering_autopilot.settings import ACCOUNT_ID, REGION
from peering_autopilot.structs import NamedTuple, struct

SOURCE = "peering-autopilot"
PEERING_ID = re.compile(r"pcx-[0-9a-f]{8,17}", re.ASCII)
VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}", re.ASCII)
WORK_FOUND = "Peering Work Found"  # two shapes share it: work on a peering, and a group's request


class Publisher(Protocol):
    def publish(self, detail_type: str, detail: Mapping[str, Any], resources: Iterable[str] = ()) -> None: ...

    def publish_many(self, detail_type: str, items: Sequence[tuple[Mapping[str, Any], list[str]]]) -> None: ...


class Event:
    """One event the autopilot publishes: its detail-type, and the detail it carries."""

    DETAIL_TYPE: ClassVar[str]

    def as_detail(self) -> dict[str, Any]:
        raise NotImplementedError

    def publish(self, publisher: Publisher, resources: list[str] | None = None) -> None:
        if resources is None:
            publisher.publish(self.DETAIL_TYPE, self.as_detail())
        else:
            publisher.publish(self.DETAIL_TYPE, self.as_detail(), resources=resources)


def publish_all(publisher: Publisher, events: Sequence[Event]) -> None:
    """Events of one detail-type, batched (no resources); nothing when there are none."""
    if not events:
        return
    detail_types = {event.DETAIL_TYPE for event in events}
    if len(detail_types) != 1:
        raise ValueError(f"one detail-type a batch, got {sorted(detail_types)}")
    publisher.publish_many(detail_types.pop(), [(event.as_detail(), []) for event in events])


class PeeringAt(NamedTuple):
    """What a parsed event says of a peering: its id, an account and region that see it, and the
    place of its other side when the event names one that differs."""

    peering_id: str
    account_id: str
    region: str
    elsewhere: tuple[tuple[str, str], ...] = ()


class VpcPlace(NamedTuple):
    account_id: str
    region: str
    vpc_id: str

    def as_detail(self) -> dict[str, str]:
        return {"accountId": self.account_id, "region": self.region, "vpcId": self.vpc_id}

    @classmethod
    def parse(cls, value: Any, name: str) -> VpcPlace:
        side = object_field(value, name)
        return cls(
            matching(side.get("accountId"), ACCOUNT_ID, f"{name}.accountId"),
            matching(side.get("region"), REGION, f"{name}.region"),
            matching(side.get("vpcId"), VPC_ID, f"{name}.vpcId"),
        )


# ---------------------------------------------------------------------------------------- accept
@struct(frozen=True)
class PeeringDecision(Event):
    """The accept step's decision on a request (Accepted, Declined, Rejected)."""

    peering_id: str
    outcome: str
    reason_codes: tuple[str, ...]
    reason: str
    overlaps: tuple[tuple[str, ...], ...]
    requester: Mapping[str, Any]
    accepter: Mapping[str, Any]
    status_before: str
    dry_run: bool
    status_after: str | None = None  # only once accepted for real

    def as_detail(self) -> dict[str, Any]:
        detail = {
            "peeringId": self.peering_id,
            "outcome": self.outcome,
            "reasonCodes": list(self.reason_codes),
            "reason": self.reason,
            "overlaps": [list(pair) for pair in self.overlaps],
            "requester": dict(self.requester),
            "accepter": dict(self.accepter),
            "statusBefore": self.status_before,
            "dryRun": self.dry_run,
        }
        if self.status_after is not None:
            detail["statusAfter"] = self.status_after
        return detail

    @staticmethod
    def parse(value: Any) -> PeeringAt:
        """The peering where it was decided: in its accepter's account and region."""
        detail = object_field(value, "detail")
        accepter = object_field(detail.get("accepter"), "detail.accepter")
        return PeeringAt(
            peering_id=matching(detail.get("peeringId"), PEERING_ID, "detail.peeringId"),
            account_id=matching(accepter.get("accountId"), ACCOUNT_ID, "detail.accepter.accountId"),
            region=matching(accepter.get("region"), REGION, "detail.accepter.region"),
        )


class PeeringAccepted(PeeringDecision):
    DETAIL_TYPE = "Peering Accepted"


class PeeringDeclined(PeeringDecision):
    DETAIL_TYPE = "Peering Declined"


class PeeringRejected(PeeringDecision):
    DETAIL_TYPE = "Peering Rejected"


# ---------------------------------------------------------------------------------------- configure, clean-up
@struct(frozen=True)
class PeeringSides(Event):
    """A step's event about a peering and what it did on each of its two sides."""

    peering_id: str
    peering_status: str
    outcome: str
    dry_run: bool
    sides: tuple[Mapping[str, Any], ...]

    @classmethod
    def of[E: PeeringSides](
        cls: type[E], peering: Peering, outcome: Enum | str, dry_run: bool, sides: Iterable[Mapping[str, Any]]
    ) -> E:
        value = outcome.value if isinstance(outcome, Enum) else outcome
        return cls(peering.peering_id, peering.status, value, dry_run, tuple(sides))

    def as_detail(self) -> dict[str, Any]:
        return {
            "peeringId": self.peering_id,
            "peeringStatus": self.peering_status,
            "outcome": self.outcome,
            "dryRun": self.dry_run,
            "sides": list(self.sides),
        }


class PeeringConfigured(PeeringSides):
    DETAIL_TYPE = "Peering Configured"

    @staticmethod
    def parse(value: Any) -> PeeringAt:
        """The peering on its accepter side, else on its requester side (the hub may manage only
        that one: a partner accepted)."""
        detail = object_field(value, "detail")
        sides = detail.get("sides")
        if not isinstance(sides, list) or len(sides) != 2 or not all(isinstance(s, Mapping) for s in sides):
            raise InvalidEventError("detail.sides must be a list of the two sides")
        accepter = next((s for s in sides if s.get("role") == "accepter"), None)
        if accepter is None:
            raise InvalidEventError("detail.sides holds no side with role 'accepter'")
        requester = next((s for s in sides if s.get("role") == "requester"), None)
        account, region = _side_place(accepter, "accepter")
        other = _side_place(requester, "requester") if requester is not None else (account, region)
        return PeeringAt(
            peering_id=matching(detail.get("peeringId"), PEERING_ID, "detail.peeringId"),
            account_id=account,
            region=region,
            elsewhere=(other,) if other != (account, region) else (),
        )


class PeeringCleanedUp(PeeringSides):
    DETAIL_TYPE = "Peering Cleaned Up"

    @classmethod
    def forgotten(
        cls,
        peering_id: str,
        account_id: str,
        region: str,
        dry_run: bool,
        routes: list[dict[str, str]],
        rules: list[dict[str, Any]],
        kept: Mapping[str, Any] | None = None,
    ) -> PeeringCleanedUp:
        """A peering EC2 no longer lists: what was removed in one account and region."""
        side = {
            "role": "unknown",
            "accountId": account_id,
            "region": region,
            "vpcId": None,
            "managed": True,
            "notManagedReason": None,
            "routesRemoved": routes,
            "rulesRemoved": rules,
            "kept": dict(kept or {}),
        }
        outcome = "cleaned-up" if routes or rules else "nothing-to-clean"
        return cls(peering_id, "gone", outcome, dry_run, (side,))


def _side_place(side: Mapping[str, Any], role: str) -> tuple[str, str]:
    return (
        matching(side.get("accountId"), ACCOUNT_ID, f"detail.sides[{role}].accountId"),
        matching(side.get("region"), REGION, f"detail.sides[{role}].region"),
    )


@struct(frozen=True)
class PeeringHeld(Event):
    """Something of a peering is held for a person (`held:<code>` in the status tag): for each
    held peer block, the account, region and VPC, the table, and the route that already claims it."""

    DETAIL_TYPE: ClassVar[str] = "Peering Held"

    peering_id: str
    code: str  # routed-elsewhere, ...
    held: tuple[Mapping[str, Any], ...]
    dry_run: bool

    def as_detail(self) -> dict[str, Any]:
        return {"peeringId": self.peering_id, "code": self.code, "held": list(self.held), "dryRun": self.dry_run}


# ---------------------------------------------------------------------------------------- asking a person
@struct(frozen=True)
class PeeringApproval(Event):
    """A request the policy asks a person about (approval.py): what is asked (`ask`: the request's
    sides with their blocks, the rule and why, who may approve, what approval would add on each
    managed side, when it expires) and, for a decision, who decided and why."""

    peering_id: str
    ask: Mapping[str, Any]
    dry_run: bool
    notified: bool = False
    decision: Mapping[str, Any] | None = None  # approved / approval-refused / rejected: by whom, why

    def as_detail(self) -> dict[str, Any]:
        detail = {"peeringId": self.peering_id, **dict(self.ask), "dryRun": self.dry_run, "notified": self.notified}
        if self.decision is not None:
            detail["decision"] = dict(self.decision)
        return detail


class PeeringApprovalRequested(PeeringApproval):
    DETAIL_TYPE = "Peering Approval Requested"


class PeeringApprovalReminder(PeeringApproval):
    DETAIL_TYPE = "Peering Approval Reminder"


class PeeringApprovalExpired(PeeringApproval):
    DETAIL_TYPE = "Peering Approval Expired"


class PeeringApprovalRefused(PeeringApproval):
    DETAIL_TYPE = "Peering Approval Refused"


# ---------------------------------------------------------------------------------------- verify
@struct(frozen=True)
class PeeringVerdict(Event):
    """The verify step's finding (Verified, Verification Failed, Verification Deferred)."""

    peering_id: str
    peering_status: str
    outcome: str  # the verdict: verified, blocked:<step>, unverified:<why>
    verified: bool
    dry_run: bool
    notified: bool
    unreadable_sides: tuple[str, ...]  # sides the hub cannot inspect, and why
    missing_routes: tuple[str, ...]
    refused_blocks: tuple[str, ...]
    directions: tuple[Mapping[str, Any], ...]
    report: str
    held: tuple[str, ...] = ()  # peer blocks held for a person: a live route already sends them elsewhere

    def as_detail(self) -> dict[str, Any]:
        return {
            "peeringId": self.peering_id,
            "peeringStatus": self.peering_status,
            "outcome": self.outcome,
            "verified": self.verified,
            "dryRun": self.dry_run,
            "notified": self.notified,
            "unreadableSides": list(self.unreadable_sides),
            "missingRoutes": list(self.missing_routes),
            "refusedBlocks": list(self.refused_blocks),
            "held": list(self.held),
            "directions": list(self.directions),
            "report": self.report,
        }


class PeeringVerified(PeeringVerdict):
    DETAIL_TYPE = "Peering Verified"


class PeeringVerificationFailed(PeeringVerdict):
    DETAIL_TYPE = "Peering Verification Failed"


class PeeringVerificationDeferred(PeeringVerdict):
    DETAIL_TYPE = "Peering Verification Deferred"


# ---------------------------------------------------------------------------------------- groups
@struct(frozen=True)
class PeeringRequested(Event):
    """The connect step's request for a group (peering id None while only planned: DryRun)."""

    DETAIL_TYPE: ClassVar[str] = "Peering Requested"

    peering_id: str | None
    group: str
    requester: Mapping[str, Any]
    accepter: Mapping[str, Any]
    outcome: str
    dry_run: bool

    def as_detail(self) -> dict[str, Any]:
        return {
            "peeringId": self.peering_id,
            "group": self.group,
            "requester": dict(self.requester),
            "accepter": dict(self.accepter),
            "outcome": self.outcome,
            "dryRun": self.dry_run,
        }


@struct(frozen=True)
class PeeringWithdrawn(Event):
    """The connect step's withdrawal of its own group peering, and why."""

    DETAIL_TYPE: ClassVar[str] = "Peering Withdrawn"

    peering_id: str
    group: str
    requester: Mapping[str, Any]
    accepter: Mapping[str, Any]
    outcome: str
    why: str
    dry_run: bool

    def as_detail(self) -> dict[str, Any]:
        return {
            "peeringId": self.peering_id,
            "group": self.group,
            "requester": dict(self.requester),
            "accepter": dict(self.accepter),
            "outcome": self.outcome,
            "why": self.why,
            "dryRun": self.dry_run,
        }


@struct(frozen=True)
class PeeringGroupPlan(Event):
    """The sweep's plan for the peering groups (requests, withdrawals, skipped pairs, advice)."""

    DETAIL_TYPE: ClassVar[str] = "Peering Group Plan"

    plan: Mapping[str, Any]
    dry_run: bool
    found_by: str

    def as_detail(self) -> dict[str, Any]:
        return {**self.plan, "dryRun": self.dry_run, "foundBy": self.found_by}


# ---------------------------------------------------------------------------------------- work
@struct(frozen=True)
class WorkFound(Event):
    """One peering that needs one kind of work (accept, configure, clean-up, withdraw), and an
    account and region to read it in. Who found it (the sweep's outcome, or the connect step)."""

    DETAIL_TYPE: ClassVar[str] = WORK_FOUND

    peering_id: str
    work: str
    account_id: str
    region: str
    why: str
    found_by: str
    group: str | None = None  # a withdrawal's group

    def as_detail(self) -> dict[str, Any]:
        detail = {
            "peeringId": self.peering_id,
            "work": self.work,
            "accountId": self.account_id,
            "region": self.region,
            "why": self.why,
            "foundBy": self.found_by,
        }
        if self.group is not None:
            detail["group"] = self.group
        return detail

    @classmethod
    def parse(cls, value: Any, work: str) -> WorkFound:
        """Work of the kind `work` only; `why`, `foundBy` and `group` are words for people, not
        checked (empty when absent)."""
        detail = object_field(value, "detail")
        if detail.get("work") != work:
            raise InvalidEventError(f"detail.work is {quoted(detail.get('work'))}, not {work!r}")
        group = detail.get("group")
        return cls(
            peering_id=matching(detail.get("peeringId"), PEERING_ID, "detail.peeringId"),
            work=work,
            account_id=matching(detail.get("accountId"), ACCOUNT_ID, "detail.accountId"),
            region=matching(detail.get("region"), REGION, "detail.region"),
            why=_words(detail.get("why")),
            found_by=_words(detail.get("foundBy")),
            group=group if isinstance(group, str) else None,
        )


@struct(frozen=True)
class GroupRequestFound(Event):
    """The sweep's plan for a peering group: request a peering from one VPC to another."""

    DETAIL_TYPE: ClassVar[str] = WORK_FOUND

    group: str
    requester: VpcPlace
    accepter: VpcPlace
    why: str
    found_by: str

    def as_detail(self) -> dict[str, Any]:
        return {
            "work": "request",
            "group": self.group,
            "requester": self.requester.as_detail(),
            "accepter": self.accepter.as_detail(),
            "why": self.why,
            "foundBy": self.found_by,
        }

    @classmethod
    def parse(cls, value: Any) -> GroupRequestFound:
        detail = object_field(value, "detail")
        if detail.get("work") != "request":
            raise InvalidEventError(f"detail.work is {quoted(detail.get('work'))}, not 'request'")
        requester = VpcPlace.parse(detail.get("requester"), "detail.requester")
        accepter = VpcPlace.parse(detail.get("accepter"), "detail.accepter")
        return cls(
            matching(detail.get("group"), GROUP_NAME, "detail.group"),
            requester,
            accepter,
            _words(detail.get("why")),
            _words(detail.get("foundBy")),
        )


# ---------------------------------------------------------------------------------------- fields
def object_field(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEventError(f"{name} is missing or not an object (got {type(value).__name__})")
    return value


def matching(value: Any, pattern: re.Pattern[str], name: str) -> str:
    if not isinstance(value, str):
        raise InvalidEventError(f"{name} must be a string, got {type(value).__name__}")
    if not pattern.fullmatch(value):
        raise InvalidEventError(f"{name} is not valid: {quoted(value)}")
    return value


def quoted(value: Any, limit: int = 80) -> str:
    """Quote a value for an error message without echoing an absurd payload back into the logs."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def _words(value: Any) -> str:
    return value if isinstance(value, str) else ""
