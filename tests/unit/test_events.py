"""The autopilot's own events: each type builds the detail docs/how-it-works.md documents (the JSON
on the bus, byte for byte), and the details a later step starts from parse back to what was built."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from peering_autopilot import events
from peering_autopilot.errors import InvalidEventError
from peering_autopilot.events import (
    GroupRequestFound,
    PeeringAccepted,
    PeeringApprovalExpired,
    PeeringApprovalRefused,
    PeeringApprovalReminder,
    PeeringApprovalRequested,
    PeeringAt,
    PeeringCleanedUp,
    PeeringConfigured,
    PeeringDeclined,
    PeeringGroupPlan,
    PeeringRejected,
    PeeringRequested,
    PeeringVerificationDeferred,
    PeeringVerificationFailed,
    PeeringVerified,
    PeeringWithdrawn,
    VpcPlace,
    WorkFound,
)
from peering_autopilot.model import Cidrs, Peering, PeeringSide

PACKAGE = Path(events.__file__).resolve().parent
PCX = "pcx-0f1e2d3c4b5a69788"
REQUESTER, ACCEPTER = "111111111111", "222222222222"
REQUESTER_SIDE = {
    "accountId": REQUESTER,
    "region": "us-east-1",
    "vpcId": "vpc-0aaaaaaaaaaaaaaa1",
    "cidrs": ["10.0.0.0/16"],
}
ACCEPTER_SIDE = {
    "accountId": ACCEPTER,
    "region": "eu-west-1",
    "vpcId": "vpc-0bbbbbbbbbbbbbbb2",
    "cidrs": ["10.1.0.0/16"],
}


class Recorder:
    """An EventPublisher's two calls, recorded as EventBridge would carry them."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, list[str]]] = []

    def publish(self, detail_type: str, detail: Mapping[str, Any], resources: Any = ()) -> None:
        self.publish_many(detail_type, [(detail, list(resources))])

    def publish_many(self, detail_type: str, items: Sequence[tuple[Mapping[str, Any], list[str]]]) -> None:
        self.entries += [(detail_type, json.dumps(detail, sort_keys=True), resources) for detail, resources in items]


def peering(status: str = "active") -> Peering:
    return Peering(
        peering_id=PCX,
        status=status,
        status_message="",
        requester=PeeringSide(REQUESTER, "us-east-1", "vpc-0aaaaaaaaaaaaaaa1", Cidrs.of(["10.0.0.0/16"])),
        accepter=PeeringSide(ACCEPTER, "eu-west-1", "vpc-0bbbbbbbbbbbbbbb2", Cidrs.of(["10.1.0.0/16"])),
    )


def decision(kind: type[events.PeeringDecision], outcome: str, status_after: str | None = None) -> Any:
    return kind(
        peering_id=PCX,
        outcome=outcome,
        reason_codes=("approved",),
        reason="the requester is approved",
        overlaps=(("10.1.128.0/17", "10.1.0.0/16"),),
        requester=REQUESTER_SIDE,
        accepter=ACCEPTER_SIDE,
        status_before="pending-acceptance",
        dry_run=False,
        status_after=status_after,
    )


def side(role: str, account: str, region: str) -> dict[str, Any]:
    return {"role": role, "accountId": account, "region": region, "vpcId": "vpc-0aaaaaaaaaaaaaaa1", "managed": True}


# ---------------------------------------------------------------------------------------- building
def test_every_detail_type_the_product_publishes_is_one_types_and_written_only_here() -> None:
    types = {
        PeeringAccepted: "Peering Accepted",
        PeeringDeclined: "Peering Declined",
        PeeringRejected: "Peering Rejected",
        PeeringConfigured: "Peering Configured",
        PeeringVerified: "Peering Verified",
        PeeringVerificationFailed: "Peering Verification Failed",
        PeeringVerificationDeferred: "Peering Verification Deferred",
        PeeringCleanedUp: "Peering Cleaned Up",
        PeeringRequested: "Peering Requested",
        PeeringWithdrawn: "Peering Withdrawn",
        WorkFound: "Peering Work Found",
        GroupRequestFound: "Peering Work Found",
        PeeringGroupPlan: "Peering Group Plan",
        PeeringApprovalRequested: "Peering Approval Requested",
        PeeringApprovalReminder: "Peering Approval Reminder",
        PeeringApprovalExpired: "Peering Approval Expired",
        PeeringApprovalRefused: "Peering Approval Refused",
    }
    assert {kind: kind.DETAIL_TYPE for kind in types} == types
    for module in PACKAGE.rglob("*.py"):
        if module.name != "events.py":
            strings = {n.value for n in ast.walk(ast.parse(module.read_text())) if isinstance(n, ast.Constant)}
            assert not strings & set(types.values()), module.name


def test_a_decision_is_the_documented_detail_with_status_after_only_once_accepted() -> None:
    expected = {
        "peeringId": PCX,
        "outcome": "accepted",
        "reasonCodes": ["approved"],
        "reason": "the requester is approved",
        "overlaps": [["10.1.128.0/17", "10.1.0.0/16"]],
        "requester": REQUESTER_SIDE,
        "accepter": ACCEPTER_SIDE,
        "statusBefore": "pending-acceptance",
        "statusAfter": "provisioning",
        "dryRun": False,
    }
    assert decision(PeeringAccepted, "accepted", "provisioning").as_detail() == expected
    declined = decision(PeeringDeclined, "declined").as_detail()
    assert declined == {**{k: v for k, v in expected.items() if k != "statusAfter"}, "outcome": "declined"}


def test_configured_and_cleaned_up_carry_the_peering_and_its_sides() -> None:
    sides = [side("requester", REQUESTER, "us-east-1"), side("accepter", ACCEPTER, "eu-west-1")]
    for kind, outcome in ((PeeringConfigured, "configured"), (PeeringCleanedUp, "cleaned-up")):
        assert kind.of(peering(), outcome, True, iter(sides)).as_detail() == {
            "peeringId": PCX,
            "peeringStatus": "active",
            "outcome": outcome,
            "dryRun": True,
            "sides": sides,
        }


def test_a_forgotten_peerings_clean_up_names_the_one_place_it_was_cleaned_in() -> None:
    routes = [{"routeTableId": "rtb-0123456789abcdef0", "destination": "10.1.0.0/16"}]
    rules = [{"groupId": "sg-0123456789abcdef0", "rules": ["icmp from 10.1.0.0/16"]}]
    event = PeeringCleanedUp.forgotten(PCX, ACCEPTER, "eu-west-1", False, routes, rules)
    assert event.as_detail() == {
        "peeringId": PCX,
        "peeringStatus": "gone",
        "outcome": "cleaned-up",
        "dryRun": False,
        "sides": [
            {
                "role": "unknown",
                "accountId": ACCEPTER,
                "region": "eu-west-1",
                "vpcId": None,
                "managed": True,
                "notManagedReason": None,
                "routesRemoved": routes,
                "rulesRemoved": rules,
                "kept": {},
            }
        ],
    }


def test_a_verdict_is_the_documented_detail() -> None:
    event = PeeringVerificationFailed(
        peering_id=PCX,
        peering_status="active",
        outcome="blocked:network-acls",
        verified=False,
        dry_run=False,
        notified=True,
        unreadable_sides=(),
        missing_routes=("rtb-… -> 10.1.0.0/16: routed to igw-…",),
        refused_blocks=(),
        directions=({"direction": "requester -> accepter", "passed": False},),
        report="the checklist",
    )
    assert event.as_detail() == {
        "peeringId": PCX,
        "peeringStatus": "active",
        "outcome": "blocked:network-acls",
        "verified": False,
        "dryRun": False,
        "notified": True,
        "unreadableSides": [],
        "missingRoutes": ["rtb-… -> 10.1.0.0/16: routed to igw-…"],
        "refusedBlocks": [],
        "held": [],
        "directions": [{"direction": "requester -> accepter", "passed": False}],
        "report": "the checklist",
    }


def test_a_request_and_a_withdrawal_for_a_group() -> None:
    planned = PeeringRequested(None, "prod", REQUESTER_SIDE, ACCEPTER_SIDE, "planned", True)
    assert planned.as_detail() == {
        "peeringId": None,
        "group": "prod",
        "requester": REQUESTER_SIDE,
        "accepter": ACCEPTER_SIDE,
        "outcome": "planned",
        "dryRun": True,
    }
    withdrawn = PeeringWithdrawn(PCX, "prod", REQUESTER_SIDE, ACCEPTER_SIDE, "withdrawn", "no group shared", False)
    assert withdrawn.as_detail() == {
        "peeringId": PCX,
        "group": "prod",
        "requester": REQUESTER_SIDE,
        "accepter": ACCEPTER_SIDE,
        "why": "no group shared",
        "outcome": "withdrawn",
        "dryRun": False,
    }


def test_the_group_plan_is_the_plan_with_dry_run_and_who_found_it() -> None:
    plan = {"requests": [], "withdrawals": [], "skipped": [], "advice": [], "unclearTags": []}
    assert PeeringGroupPlan(plan, False, "group-change").as_detail() == {
        **plan,
        "dryRun": False,
        "foundBy": "group-change",
    }


def test_work_found_names_a_withdrawals_group_and_no_other_works() -> None:
    work = WorkFound(PCX, "configure", ACCEPTER, "eu-west-1", "1 route(s) missing", "sweep")
    assert work.as_detail() == {
        "peeringId": PCX,
        "work": "configure",
        "accountId": ACCEPTER,
        "region": "eu-west-1",
        "why": "1 route(s) missing",
        "foundBy": "sweep",
    }
    withdraw = WorkFound(PCX, "withdraw", REQUESTER, "us-east-1", "no group shared", "sweep", group="prod")
    assert withdraw.as_detail() == {
        "peeringId": PCX,
        "work": "withdraw",
        "accountId": REQUESTER,
        "region": "us-east-1",
        "group": "prod",
        "why": "no group shared",
        "foundBy": "sweep",
    }


def test_a_group_request_is_work_request_with_both_vpcs() -> None:
    found = GroupRequestFound(
        "prod",
        VpcPlace(REQUESTER, "us-east-1", "vpc-0aaaaaaaaaaaaaaa1"),
        VpcPlace(ACCEPTER, "eu-west-1", "vpc-0bbbbbbbbbbbbbbb2"),
        "both VPCs are in group 'prod'",
        "sweep",
    )
    assert found.as_detail() == {
        "work": "request",
        "group": "prod",
        "requester": {"accountId": REQUESTER, "region": "us-east-1", "vpcId": "vpc-0aaaaaaaaaaaaaaa1"},
        "accepter": {"accountId": ACCEPTER, "region": "eu-west-1", "vpcId": "vpc-0bbbbbbbbbbbbbbb2"},
        "why": "both VPCs are in group 'prod'",
        "foundBy": "sweep",
    }


def test_publishing_sends_the_detail_type_the_detail_and_the_resources_given() -> None:
    recorder = Recorder()
    work = WorkFound(PCX, "accept", ACCEPTER, "eu-west-1", "pending", "sweep")
    work.publish(recorder)
    decision(PeeringRejected, "rejected").publish(recorder, resources=["arn:pcx"])
    events.publish_all(recorder, [work, work])
    events.publish_all(recorder, [])
    assert [(t, r) for t, _, r in recorder.entries] == [
        ("Peering Work Found", []),
        ("Peering Rejected", ["arn:pcx"]),
        ("Peering Work Found", []),
        ("Peering Work Found", []),
    ]
    assert recorder.entries[0][1] == json.dumps(work.as_detail(), sort_keys=True)


def test_a_batch_is_of_one_detail_type() -> None:
    plan = PeeringGroupPlan({}, False, "sweep")
    work = WorkFound(PCX, "accept", ACCEPTER, "eu-west-1", "pending", "sweep")
    with pytest.raises(ValueError, match="one detail-type"):
        events.publish_all(Recorder(), [work, plan])


# ---------------------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("kind", [PeeringAccepted, PeeringRejected])
def test_a_decision_parses_back_to_where_its_accepter_is(kind: type[events.PeeringDecision]) -> None:
    detail = json.loads(json.dumps(decision(kind, "accepted").as_detail()))
    assert kind.parse(detail) == PeeringAt(PCX, ACCEPTER, "eu-west-1")


def test_configured_parses_back_to_its_accepter_and_names_the_requester_elsewhere() -> None:
    sides = [side("requester", REQUESTER, "us-east-1"), side("accepter", ACCEPTER, "eu-west-1")]
    detail = json.loads(json.dumps(PeeringConfigured.of(peering(), "configured", False, sides).as_detail()))
    assert PeeringConfigured.parse(detail) == PeeringAt(PCX, ACCEPTER, "eu-west-1", (("111111111111", "us-east-1"),))
    same_place = [side("requester", ACCEPTER, "eu-west-1"), side("accepter", ACCEPTER, "eu-west-1")]
    detail = PeeringConfigured.of(peering(), "configured", False, same_place).as_detail()
    assert PeeringConfigured.parse(detail) == PeeringAt(PCX, ACCEPTER, "eu-west-1")


@pytest.mark.parametrize("group", [None, "prod"])
def test_work_found_round_trips(group: str | None) -> None:
    work = WorkFound(PCX, "withdraw", REQUESTER, "us-east-1", "why", "sweep", group=group)
    assert WorkFound.parse(json.loads(json.dumps(work.as_detail())), "withdraw") == work


def test_work_found_of_another_kind_is_refused_naming_the_field() -> None:
    work = WorkFound(PCX, "configure", REQUESTER, "us-east-1", "why", "sweep")
    with pytest.raises(InvalidEventError, match=r"detail.work is 'configure', not 'accept'"):
        WorkFound.parse(work.as_detail(), "accept")


def test_a_group_request_round_trips() -> None:
    found = GroupRequestFound(
        "prod",
        VpcPlace(REQUESTER, "us-east-1", "vpc-0aaaaaaaaaaaaaaa1"),
        VpcPlace(ACCEPTER, "eu-west-1", "vpc-0bbbbbbbbbbbbbbb2"),
        "both VPCs are in group 'prod'",
        "group-change",
    )
    assert GroupRequestFound.parse(json.loads(json.dumps(found.as_detail()))) == found


@pytest.mark.parametrize(
    ("detail", "message"),
    [
        (None, "detail is missing or not an object"),
        ({"peeringId": PCX, "accepter": {"accountId": "nope", "region": "eu-west-1"}}, "detail.accepter.accountId"),
        ({"peeringId": "pcx-x", "accepter": {"accountId": ACCEPTER, "region": "eu-west-1"}}, "detail.peeringId"),
    ],
)
def test_a_decision_that_does_not_parse_names_the_field(detail: Any, message: str) -> None:
    with pytest.raises(InvalidEventError, match=message):
        PeeringAccepted.parse(detail)
