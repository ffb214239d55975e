"""Bad input and faults: nothing is changed on a guess, and every error names what is at fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse

from autopilot_local.harness import LocalCloud
from peering_autopilot.accept import Outcome, handle_peering_request
from peering_autopilot.errors import PeeringNotFoundError, RoleAssumptionError
from peering_autopilot.triggers import PeeringRequestHint
from tests.support.domain import Body, context, create_bus, ec2_error
from tests.support.world import HUB, MEMBER, REGION, ApiCalls, make_vpc, peering_as_accepter, tags_of

EVENTS = Path(__file__).resolve().parents[2] / "events" / "accept_peering"


def _pending_request(cloud: LocalCloud, accepter_account: str = MEMBER) -> tuple[str, Any]:
    vpc_a = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    vpc_b = make_vpc(cloud, accepter_account, REGION, "10.1.0.0/16")
    ec2 = cloud.ec2(HUB, REGION)
    peering_id = ec2.create_vpc_peering_connection(
        VpcId=vpc_a.vpc_id, PeerVpcId=vpc_b.vpc_id, PeerOwnerId=vpc_b.account
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    return peering_id, vpc_b


def test_throttling_is_absorbed_by_the_standard_retry_mode(
    server_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN EC2 answers every other call with RequestLimitExceeded (HTTP 503), at the HTTP layer
    cloud = server_cloud
    create_bus()
    peering_id, vpc_b = _pending_request(cloud, accepter_account=HUB)
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", sleeps.append)  # keep the test fast, count the waits
    seen: list[str] = []

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        seen.append(request.url)
        return ec2_error(503, "RequestLimitExceeded", "Request limit exceeded.") if len(seen) % 2 else None

    base = boto3.Session()
    base.events.register("before-send.ec2", throttle)

    # WHEN the request is handled
    result = handle_peering_request(
        PeeringRequestHint(peering_id, HUB, REGION, HUB),
        context(base_session=base),
    )

    # THEN botocore's retries carried it through: accepted, with a back-off wait per throttled call
    assert result.outcome is Outcome.ACCEPTED
    assert peering_as_accepter(cloud, vpc_b, peering_id)["Status"]["Code"] == "active"
    throttled = (len(seen) + 1) // 2
    assert throttled >= 3 and len(sleeps) == throttled


def test_role_that_cannot_be_assumed_is_reported_with_account_and_role(
    cloud: LocalCloud, bus: str, api_calls: ApiCalls
) -> None:
    peering_id, vpc_b = _pending_request(cloud)
    base = boto3.Session()

    def deny(request: Any, **_: Any) -> AWSResponse:
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized "
            b"to perform: sts:AssumeRole</Message></Error><RequestId>x</RequestId></ErrorResponse>"
        )
        return AWSResponse("https://sts.amazonaws.com/", 403, {}, Body(body))  # type: ignore[arg-type]

    base.events.register("before-send.sts.AssumeRole", deny)
    api_calls.clear()

    with pytest.raises(RoleAssumptionError) as raised:
        handle_peering_request(
            PeeringRequestHint(peering_id, MEMBER, REGION, HUB),
            context(base_session=base),
        )

    assert str(raised.value) == (
        f"cannot assume role arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember in account {MEMBER}: "
        "AccessDenied: User is not authorized to perform: sts:AssumeRole"
    )
    assert api_calls.mutating() == []
    assert peering_as_accepter(cloud, vpc_b, peering_id)["Status"]["Code"] == "pending-acceptance"


def test_peering_not_visible_at_first_is_retried_with_backoff(cloud: LocalCloud, bus: str) -> None:
    peering_id, vpc_b = _pending_request(cloud, accepter_account=HUB)
    base = boto3.Session()
    describes: list[int] = []

    def not_yet(request: Any, **_: Any) -> AWSResponse | None:
        describes.append(1)
        if len(describes) <= 2:  # EC2 is eventually consistent right after creation
            return ec2_error(400, "InvalidVpcPeeringConnectionID.NotFound", f"{peering_id} does not exist")
        return None

    base.events.register("before-send.ec2.DescribeVpcPeeringConnections", not_yet)
    waits: list[float] = []

    result = handle_peering_request(
        PeeringRequestHint(peering_id, HUB, REGION, HUB),
        context(base_session=base, sleep=waits.append),
    )

    assert result.outcome is Outcome.ACCEPTED
    assert peering_as_accepter(cloud, vpc_b, peering_id)["Status"]["Code"] == "active"
    assert waits == [0.5, 1.0]
    assert len(describes) == 3


def test_unknown_peering_gives_up_after_the_backoff_without_changing_anything(
    cloud: LocalCloud, bus: str, api_calls: ApiCalls
) -> None:
    make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    api_calls.clear()
    waits: list[float] = []
    with pytest.raises(PeeringNotFoundError, match=f"peering pcx-0badc0ffee0badc0f not found in account {HUB}"):
        handle_peering_request(
            PeeringRequestHint("pcx-0badc0ffee0badc0f", HUB, REGION, HUB),
            context(sleep=waits.append),
        )
    assert waits == [0.5, 1.0, 2.0, 4.0]
    assert api_calls.names.count("DescribeVpcPeeringConnections") == 5
    assert api_calls.mutating() == []


def test_peering_into_an_unmanaged_account_is_not_touched(cloud: LocalCloud, bus: str, api_calls: ApiCalls) -> None:
    stranger = "444444444444"
    peering_id, vpc_x = _pending_request(cloud, accepter_account=stranger)
    api_calls.clear()

    result = handle_peering_request(
        PeeringRequestHint(peering_id, stranger, REGION, HUB),
        context(),
    )

    assert (result.outcome, result.reason_code) == (Outcome.SKIPPED, "accepter-not-managed")
    assert api_calls.names == []
    assert peering_as_accepter(cloud, vpc_x, peering_id)["Status"]["Code"] == "pending-acceptance"


def test_event_naming_the_wrong_accepter_is_not_acted_on(cloud: LocalCloud, bus: str, api_calls: ApiCalls) -> None:
    # GIVEN a forwarded event that claims the hub is the accepter of a request into the member
    peering_id, vpc_b = _pending_request(cloud, accepter_account=MEMBER)
    api_calls.clear()

    result = handle_peering_request(
        PeeringRequestHint(peering_id, HUB, REGION, MEMBER),
        context(),
    )

    # THEN the hub reads the peering, sees the real accepter, and does nothing
    assert (result.outcome, result.reason_code) == (Outcome.SKIPPED, "accepter-mismatch")
    assert api_calls.mutating() == []
    assert tags_of(cloud, vpc_b, peering_id) == {}


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(json.loads((EVENTS / "malformed-peering-id.json").read_text()), id="bad peering id"),
        pytest.param(json.loads((EVENTS / "malformed-account-type.json").read_text()), id="account of wrong type"),
        pytest.param({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}, id="wrong event type"),
        pytest.param({"source": "aws.ec2", "detail": "x" * 300_000}, id="absurd size"),
        pytest.param([1, 2, 3], id="not an object"),
    ],
)
def test_malformed_events_are_refused_by_the_handler_without_any_aws_call(
    cloud: LocalCloud, autopilot_factory: Any, api_calls: ApiCalls, event: Any
) -> None:
    autopilot = autopilot_factory()
    [function] = [f for f in autopilot.functions if f.spec.logical_id == "AcceptPeeringFunction"]
    api_calls.clear()

    result = function.invoke(event)

    assert result["status"] == "invalid"
    assert result["error"]
    assert api_calls.names == []
