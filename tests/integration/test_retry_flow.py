"""Issue 21, rule 6, through the local harness: a request declined because the requester's member
role could not be assumed (`requester-vpc-not-read`, a reason that can pass) is decided again by the
sweep once its back-off is over, and, the role back, accepted and configured as usual. State is
read back from the emulator: the peering's status and tags, the routes, the record's history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse

from autopilot_local.harness import LocalCloud, LocalFunction
from peering_autopilot import runtime as domain_runtime
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.context import Context
from tests.support.domain import Body
from tests.support.world import (
    HUB,
    MEMBER,
    OUTSIDER,
    REGION,
    build_net,
    peering_as_accepter,
    peering_routes,
    request_peering,
    tags_of,
)

STATUS = "peering-autopilot:status"
RETRY = "peering-autopilot:retry"
TABLE = "peering-autopilot-record"  # the harness's stack is `peering-autopilot`
MINUTE = 60.0


class Clock:
    """The functions' wall clock (Context.now), moved on by the test."""

    def __init__(self) -> None:
        self.at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.at


def functions_run(deliveries: list[Any]) -> list[str]:
    return [d.function for d in deliveries]


def work_found(deliveries: list[Any], work: str) -> list[dict[str, Any]]:
    return [
        d.event["detail"]
        for d in deliveries
        if d.event.get("detail-type") == "Peering Work Found" and d.event["detail"]["work"] == work
    ]


def history_kinds(cloud: LocalCloud, peering_id: str) -> list[str]:
    items = (
        cloud.session(HUB)
        .client("dynamodb", region_name=REGION)
        .query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"history#{peering_id}"}},
        )["Items"]
    )
    return [i["kind"]["S"] for i in sorted(items, key=lambda i: i["sk"]["S"])]


def deny_member_role_in(monkeypatch: pytest.MonkeyPatch, account: str) -> dict[str, bool]:
    """Refuse, while the switch returned is on, every AssumeRole into `account` (an SCP, a member
    stack not yet deployed), for every session the functions make from now on."""
    denied = {"on": True}
    xml = b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>denied by an SCP</Message></Error></ErrorResponse>"
    refusal = AWSResponse("https://sts.amazonaws.com/", 403, {}, Body(xml))  # type: ignore[arg-type]

    def deny(request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        return refusal if denied["on"] and f":iam::{account}:role/" in unquote(body) else None

    handlers = [*botocore.handlers.BUILTIN_HANDLERS, ("before-send.sts.AssumeRole", deny)]
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", handlers)
    # The functions' sessions are made by their runtime: start it afresh, as a new container would.
    domain_runtime.runtime.cache_clear()
    monkeypatch.setattr(LocalFunction, "_warm", None)
    return denied


@pytest.mark.parametrize(
    ("requester_account", "accepter_account"),
    [(MEMBER, HUB), (OUTSIDER, MEMBER)],
    ids=["accepter-in-the-hub", "accepter-in-a-member"],
)
def test_a_request_declined_because_the_requester_could_not_be_read_is_retried_with_back_off_and_then_accepted(
    cloud: LocalCloud,
    autopilot_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    requester_account: str,
    accepter_account: str,
) -> None:
    # GIVEN every function's wall clock is the test's
    clock = Clock()
    monkeypatch.setattr(Context, "of", classmethod(lambda cls, s: cls(s, AwsAccess(s), now=clock)))
    # ... an approved requester whose member role the hub cannot assume for now, and an accepter in
    # the hub's own account or (its member role assumed) in another approved one
    requester = build_net(cloud, requester_account, REGION, "10.1.0.0/16")
    accepter = build_net(cloud, accepter_account, REGION, "10.0.0.0/16")
    autopilot = autopilot_factory(ApprovedAccountIds=f"{MEMBER},{OUTSIDER}")
    denied = deny_member_role_in(monkeypatch, requester_account)

    # WHEN a person requests the peering
    peering_id = request_peering(cloud, requester.side, accepter.side)
    deliveries = autopilot.run_until_idle()

    # THEN it is declined, left pending, with the first attempt noted for the back-off
    [decision] = [d.result for d in deliveries if d.function == "AcceptPeeringFunction"]
    assert (decision["status"], decision["reasonCode"]) == ("declined", "requester-vpc-not-read")
    assert peering_as_accepter(cloud, accepter.side, peering_id)["Status"]["Code"] == "pending-acceptance"
    tags = tags_of(cloud, accepter.side, peering_id)
    assert tags[STATUS] == "declined:requester-vpc-not-read"
    assert tags[RETRY] == "1 2026-12-07T09:00:00+00:00"
    assert history_kinds(cloud, peering_id) == ["declined"]

    # WHEN sweeps run before the 15 minutes are over
    clock.at += 14 * MINUTE
    deliveries = autopilot.tick()

    # THEN no accept work is published, and nothing on the peering changes
    assert work_found(deliveries, "accept") == []
    assert "AcceptPeeringFunction" not in functions_run(deliveries)
    assert tags_of(cloud, accepter.side, peering_id)[RETRY] == "1 2026-12-07T09:00:00+00:00"

    # WHEN the back-off is over while the role still cannot be assumed
    clock.at += 2 * MINUTE
    deliveries = autopilot.tick()

    # THEN it is decided again, declined alike: one more attempt noted, the wait doubled, and no
    # second history entry for the same decline
    [work] = work_found(deliveries, "accept")
    assert work["why"] == "declined for a reason that may pass: retry due (attempt 2)"
    [decision] = [d.result for d in deliveries if d.function == "AcceptPeeringFunction"]
    assert decision["reasonCode"] == "requester-vpc-not-read"
    assert tags_of(cloud, accepter.side, peering_id)[RETRY] == "2 2026-12-07T09:16:00+00:00"
    assert history_kinds(cloud, peering_id) == ["declined"]
    clock.at += 29 * MINUTE  # 30 minutes after the second decline: not yet
    assert work_found(autopilot.tick(), "accept") == []

    # WHEN the requester's role can be assumed again and the back-off is over
    denied["on"] = False
    clock.at += 1 * MINUTE
    deliveries = autopilot.tick()

    # THEN the sweep sends it to accept: accepted and configured as usual, on both sides
    assert work_found(deliveries, "accept")
    assert "ConfigurePeeringFunction" in functions_run(deliveries)
    assert peering_as_accepter(cloud, accepter.side, peering_id)["Status"]["Code"] == "active"
    assert peering_routes(cloud, accepter, peering_id)[accepter.main_table] == {"10.1.0.0/16"}
    assert peering_routes(cloud, requester, peering_id)[requester.main_table] == {"10.0.0.0/16"}
    for table in accepter.subnet_tables:
        assert peering_routes(cloud, accepter, peering_id)[table] == {"10.1.0.0/16"}
    # ... the retry tag is gone, and the history holds the one decline, then the acceptance
    tags = tags_of(cloud, accepter.side, peering_id)
    assert RETRY not in tags
    assert tags[STATUS] in ("configured", "verified")
    kinds = history_kinds(cloud, peering_id)
    assert kinds[:2] == ["declined", "accepted"] and kinds.count("declined") == 1

    # ... and a sweep after that finds nothing more to accept
    assert work_found(autopilot.tick(), "accept") == []


def test_a_decline_that_cannot_pass_is_not_retried(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN a request declined for a verdict on the request itself: the blocks overlap
    requester = build_net(cloud, MEMBER, REGION, "10.1.0.0/16", secondary=("10.0.128.0/17",))
    accepter = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    autopilot = autopilot_factory()
    peering_id = request_peering(cloud, requester.side, accepter.side)
    autopilot.run_until_idle()
    tags = tags_of(cloud, accepter.side, peering_id)
    assert tags[STATUS] == "declined:ipv4-overlap"
    assert RETRY not in tags

    # WHEN sweeps run, however late
    deliveries = autopilot.tick()

    # THEN it waits for a person: no accept work
    assert work_found(deliveries, "accept") == []
    assert peering_as_accepter(cloud, accepter.side, peering_id)["Status"]["Code"] == "pending-acceptance"
