"""The configure function's trigger: a "Peering Accepted" event or a CloudTrail AcceptVpcPeeringConnection."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from peering_autopilot.errors import InvalidEventError
from peering_autopilot.triggers import MAX_EVENT_BYTES, EventNotActionableError, PeeringHint, configure_trigger

HUB = "111111111111"
REQUESTER = "333333333333"
ACCEPTER = "222222222222"
ACCEPTER_REGION = "us-west-2"
PEERING_ID = "pcx-0a1b2c3d4e5f60718"

Change = Callable[[dict[str, Any]], Any]


def accepted_event() -> dict[str, Any]:
    """The autopilot's own "Peering Accepted" event, as EventBridge delivers it from the hub's bus."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Peering Accepted",
        "source": "peering-autopilot",
        "account": HUB,
        "time": "2025-03-04T10:16:02Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:ec2:{ACCEPTER_REGION}:{ACCEPTER}:vpc-peering-connection/{PEERING_ID}"],
        "detail": {
            "peeringId": PEERING_ID,
            "outcome": "accepted",
            "reasonCodes": ["approved"],
            "reason": "the requester is approved and the blocks do not overlap",
            "overlaps": [],
            "requester": {
                "accountId": REQUESTER,
                "region": "us-east-1",
                "vpcId": "vpc-0aaaaaaaaaaaaaaa1",
                "cidrs": ["10.1.0.0/16"],
            },
            "accepter": {
                "accountId": ACCEPTER,
                "region": ACCEPTER_REGION,
                "vpcId": "vpc-0bbbbbbbbbbbbbbb2",
                "cidrs": ["10.2.0.0/16"],
            },
            "statusBefore": "pending-acceptance",
            "statusAfter": "provisioning",
            "dryRun": False,
        },
    }


def accept_call_event() -> dict[str, Any]:
    """A person's AcceptVpcPeeringConnection, as EventBridge delivers it from CloudTrail in the accepter's account."""
    return {
        "version": "0",
        "id": "0d2f4a6c-8e1b-4d3f-a5c7-9e0b2d4f6a8c",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": ACCEPTER,
        "time": "2025-03-04T10:20:11Z",
        "region": ACCEPTER_REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLEID:network-engineer",
                "arn": f"arn:aws:sts::{ACCEPTER}:assumed-role/NetworkAdmin/network-engineer",
                "accountId": ACCEPTER,
            },
            "eventTime": "2025-03-04T10:20:11Z",
            "eventSource": "ec2.amazonaws.com",
            "eventName": "AcceptVpcPeeringConnection",
            "awsRegion": ACCEPTER_REGION,
            "sourceIPAddress": "203.0.113.10",
            "userAgent": "aws-cli/2.15.30 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0",
            "requestParameters": {"vpcPeeringConnectionId": PEERING_ID},
            "responseElements": {
                "requestId": "5c1e2d3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
                "vpcPeeringConnection": {
                    "vpcPeeringConnectionId": PEERING_ID,
                    "status": {"code": "provisioning", "message": "Provisioning"},
                },
            },
            "requestID": "5c1e2d3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
            "eventID": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": ACCEPTER,
            "eventCategory": "Management",
        },
    }


def setting(path: tuple[str, ...], value: Any) -> Change:
    def change(event: dict[str, Any]) -> Any:
        node = event
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return event

    return change


def removing(path: tuple[str, ...]) -> Change:
    def change(event: dict[str, Any]) -> Any:
        node = event
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return event

    return change


def replacing(value: Any) -> Change:
    return lambda _event: copy.deepcopy(value)


# ------------------------------------------------------------------------------------ good events


def test_the_autopilots_own_accepted_event_names_the_peering_and_its_accepter() -> None:
    assert configure_trigger(accepted_event()) == PeeringHint(PEERING_ID, ACCEPTER, ACCEPTER_REGION)


def test_the_accepted_event_is_read_from_the_detail_not_the_envelope() -> None:
    # GIVEN the hub's bus in another account and region than the accepter (as always)
    event = accepted_event()
    assert (event["account"], event["region"]) == (HUB, "us-east-1")

    hint = configure_trigger(event)

    assert (hint.account_id, hint.region) == (ACCEPTER, ACCEPTER_REGION)


def test_an_accepted_event_with_only_the_fields_read_is_enough() -> None:
    event = {
        "source": "peering-autopilot",
        "detail-type": "Peering Accepted",
        "detail": {"peeringId": "pcx-11111111", "accepter": {"accountId": ACCEPTER, "region": "eu-central-1"}},
    }

    assert configure_trigger(event) == PeeringHint("pcx-11111111", ACCEPTER, "eu-central-1")


def test_a_cloudtrail_accept_names_the_peering_in_the_events_own_account_and_region() -> None:
    assert configure_trigger(accept_call_event()) == PeeringHint(PEERING_ID, ACCEPTER, ACCEPTER_REGION)


def test_a_cloudtrail_accept_in_a_govcloud_region() -> None:
    event = setting(("region",), "us-gov-west-1")(accept_call_event())

    assert configure_trigger(event) == PeeringHint(PEERING_ID, ACCEPTER, "us-gov-west-1")


def test_an_empty_error_code_is_no_failure() -> None:
    event = setting(("detail", "errorCode"), "")(accept_call_event())

    assert configure_trigger(event) == PeeringHint(PEERING_ID, ACCEPTER, ACCEPTER_REGION)


# ------------------------------------------------------------------------------------- bad events


@pytest.mark.parametrize(
    ("make", "change", "message"),
    [
        # the kind of event
        pytest.param(
            accepted_event,
            setting(("source",), "aws.ec2"),
            "expected a 'peering-autopilot' 'Peering Accepted' event or a 'peering-autopilot' 'Peering Work Found' "
            "event or an 'aws.ec2' 'AWS API Call via CloudTrail' event, got source 'aws.ec2' detail-type 'Peering Accepted'",
            id="accepted-wrong-source",
        ),
        pytest.param(
            accepted_event,
            setting(("detail-type",), "Peering Declined"),
            "got source 'peering-autopilot' detail-type 'Peering Declined'",
            id="accepted-wrong-detail-type",
        ),
        pytest.param(
            accepted_event, removing(("source",)), "got source None detail-type 'Peering Accepted'", id="no-source"
        ),
        pytest.param(
            accept_call_event,
            setting(("source",), "aws.s3"),
            "got source 'aws.s3' detail-type 'AWS API Call via CloudTrail'",
            id="cloudtrail-wrong-source",
        ),
        pytest.param(
            accept_call_event,
            setting(("detail-type",), "EC2 Instance State-change Notification"),
            "got source 'aws.ec2' detail-type 'EC2 Instance State-change Notification'",
            id="cloudtrail-wrong-detail-type",
        ),
        pytest.param(
            accept_call_event,
            setting(("detail", "eventName"), "CreateVpcPeeringConnection"),
            "detail.eventName is 'CreateVpcPeeringConnection', not AcceptVpcPeeringConnection",
            id="wrong-event-name",
        ),
        pytest.param(
            accept_call_event,
            removing(("detail", "eventName")),
            "detail.eventName is None, not AcceptVpcPeeringConnection",
            id="no-event-name",
        ),
        # the detail
        pytest.param(
            accepted_event,
            setting(("detail",), "peering accepted"),
            "detail is missing or not an object (got str)",
            id="detail-a-string",
        ),
        pytest.param(
            accept_call_event,
            setting(("detail",), ["AcceptVpcPeeringConnection"]),
            "detail is missing or not an object (got list)",
            id="detail-a-list",
        ),
        pytest.param(
            accepted_event, removing(("detail",)), "detail is missing or not an object (got NoneType)", id="no-detail"
        ),
        # the autopilot's own event
        pytest.param(
            accepted_event,
            setting(("detail", "peeringId"), "pcx-XYZ"),
            "detail.peeringId is not valid: 'pcx-XYZ'",
            id="accepted-bad-peering-id",
        ),
        pytest.param(
            accepted_event,
            setting(("detail", "peeringId"), "vpc-0a1b2c3d4e5f60718"),
            "detail.peeringId is not valid: 'vpc-0a1b2c3d4e5f60718'",
            id="accepted-vpc-id-for-peering-id",
        ),
        pytest.param(
            accepted_event,
            setting(("detail", "peeringId"), f"{PEERING_ID}\n"),
            "detail.peeringId is not valid: 'pcx-0a1b2c3d4e5f60718\\n'",
            id="accepted-peering-id-trailing-newline",
        ),
        pytest.param(
            accepted_event,
            removing(("detail", "peeringId")),
            "detail.peeringId must be a string, got NoneType",
            id="accepted-no-peering-id",
        ),
        pytest.param(
            accepted_event,
            removing(("detail", "accepter")),
            "detail.accepter is missing or not an object (got NoneType)",
            id="missing-accepter",
        ),
        pytest.param(
            accepted_event,
            setting(("detail", "accepter"), ACCEPTER),
            "detail.accepter is missing or not an object (got str)",
            id="accepter-a-string",
        ),
        pytest.param(
            accepted_event,
            setting(("detail", "accepter", "accountId"), "22222222222"),
            "detail.accepter.accountId is not valid: '22222222222'",
            id="account-11-digits",
        ),
        pytest.param(
            accepted_event,
            setting(("detail", "accepter", "accountId"), 222222222222),
            "detail.accepter.accountId must be a string, got int",
            id="account-a-number",
        ),
        pytest.param(
            accepted_event,
            removing(("detail", "accepter", "accountId")),
            "detail.accepter.accountId must be a string, got NoneType",
            id="no-account",
        ),
        pytest.param(
            accepted_event,
            setting(("detail", "accepter", "region"), "US-WEST-2"),
            "detail.accepter.region is not valid: 'US-WEST-2'",
            id="region-upper-case",
        ),
        pytest.param(
            accepted_event,
            setting(("detail", "accepter", "region"), "us-west"),
            "detail.accepter.region is not valid: 'us-west'",
            id="region-without-number",
        ),
        pytest.param(
            accepted_event,
            removing(("detail", "accepter", "region")),
            "detail.accepter.region must be a string, got NoneType",
            id="no-region",
        ),
        # the CloudTrail event
        pytest.param(
            accept_call_event,
            setting(("detail", "requestParameters", "vpcPeeringConnectionId"), "pcx-1234"),
            "detail.requestParameters.vpcPeeringConnectionId is not valid: 'pcx-1234'",
            id="cloudtrail-peering-id-too-short",
        ),
        pytest.param(
            accept_call_event,
            setting(("detail", "requestParameters", "vpcPeeringConnectionId"), "pcx-0A1B2C3D4E5F60718"),
            "detail.requestParameters.vpcPeeringConnectionId is not valid: 'pcx-0A1B2C3D4E5F60718'",
            id="cloudtrail-peering-id-upper-case",
        ),
        pytest.param(
            accept_call_event,
            setting(("detail", "requestParameters", "vpcPeeringConnectionId"), ["pcx-0a1b2c3d4e5f60718"]),
            "detail.requestParameters.vpcPeeringConnectionId must be a string, got list",
            id="cloudtrail-peering-id-a-list",
        ),
        pytest.param(
            accept_call_event,
            setting(("detail", "requestParameters"), None),
            "detail.requestParameters is missing or not an object (got NoneType)",
            id="cloudtrail-request-parameters-null",
        ),
        pytest.param(
            accept_call_event,
            setting(("account",), "2222-2222-2222"),
            "account is not valid: '2222-2222-2222'",
            id="cloudtrail-bad-account",
        ),
        pytest.param(
            accept_call_event,
            removing(("account",)),
            "account must be a string, got NoneType",
            id="cloudtrail-no-account",
        ),
        pytest.param(
            accept_call_event,
            setting(("region",), "us_west_2"),
            "region is not valid: 'us_west_2'",
            id="cloudtrail-bad-region",
        ),
        pytest.param(
            accept_call_event, removing(("region",)), "region must be a string, got NoneType", id="cloudtrail-no-region"
        ),
        # not an event at all
        pytest.param(accepted_event, replacing([]), "the event is a list, not a JSON object", id="a-list"),
        pytest.param(accepted_event, replacing("{}"), "the event is a str, not a JSON object", id="a-string"),
        pytest.param(accepted_event, replacing(None), "the event is a NoneType, not a JSON object", id="none"),
        pytest.param(accepted_event, replacing({}), "got source None detail-type None", id="empty-object"),
    ],
)
def test_bad_events_are_refused_naming_the_field(
    make: Callable[[], dict[str, Any]], change: Change, message: str
) -> None:
    event = change(make())

    with pytest.raises(InvalidEventError) as raised:
        configure_trigger(event)

    assert message in str(raised.value)
    assert type(raised.value) is InvalidEventError  # refused as malformed, not as "nothing to act on"


@pytest.mark.parametrize("make", [accepted_event, accept_call_event], ids=["accepted", "cloudtrail"])
def test_an_oversize_event_is_refused_before_anything_is_read(make: Callable[[], dict[str, Any]]) -> None:
    # GIVEN a valid event padded past EventBridge's 256 KiB ceiling
    event = make()
    event["detail"]["padding"] = "x" * MAX_EVENT_BYTES

    with pytest.raises(InvalidEventError, match=rf"^the event is \d+ bytes, over the {MAX_EVENT_BYTES}-byte limit$"):
        configure_trigger(event)


def test_an_event_of_exactly_the_limit_is_read() -> None:
    event = accepted_event()
    event["detail"]["padding"] = ""
    event["detail"]["padding"] = "x" * (MAX_EVENT_BYTES - len(json.dumps(event).encode()))
    assert len(json.dumps(event).encode()) == MAX_EVENT_BYTES

    assert configure_trigger(event) == PeeringHint(PEERING_ID, ACCEPTER, ACCEPTER_REGION)


def test_an_event_one_byte_over_the_limit_is_refused() -> None:
    event = accepted_event()
    event["detail"]["padding"] = ""
    event["detail"]["padding"] = "x" * (MAX_EVENT_BYTES + 1 - len(json.dumps(event).encode()))

    with pytest.raises(InvalidEventError, match=rf"^the event is {MAX_EVENT_BYTES + 1} bytes, over the"):
        configure_trigger(event)


def test_a_self_referencing_event_is_refused() -> None:
    event = accepted_event()
    event["detail"]["self"] = event

    with pytest.raises(InvalidEventError, match=r"^the event cannot be serialised: Circular reference detected$"):
        configure_trigger(event)


def test_an_absurd_value_is_not_echoed_whole() -> None:
    event = setting(("detail", "peeringId"), "pcx-" + "z" * 10_000)(accepted_event())

    with pytest.raises(InvalidEventError) as raised:
        configure_trigger(event)

    assert str(raised.value) == f"detail.peeringId is not valid: {repr('pcx-' + 'z' * 10_000)[:80]}... (10006 chars)"


# ------------------------------------------------------------------------------------- failed call


@pytest.mark.parametrize(
    "error_code", ["Client.InvalidVpcPeeringConnectionID.NotFound", "Client.UnauthorizedOperation", "AccessDenied"]
)
def test_a_failed_accept_call_is_not_actionable(error_code: str) -> None:
    # GIVEN the accept call failed: CloudTrail records the error and no response
    event = accept_call_event()
    event["detail"]["errorCode"] = error_code
    event["detail"]["errorMessage"] = "The request failed."
    event["detail"]["responseElements"] = None

    with pytest.raises(EventNotActionableError) as raised:
        configure_trigger(event)

    assert str(raised.value) == f"the AcceptVpcPeeringConnection call failed ('{error_code}'): nothing changed"


def test_a_failed_call_is_not_actionable_even_without_request_parameters() -> None:
    # the failure is reported as such, not as a malformed event, whatever else is missing
    event = accept_call_event()
    event["detail"]["errorCode"] = "Client.InvalidParameterValue"
    event["detail"]["requestParameters"] = None

    with pytest.raises(EventNotActionableError, match="call failed"):
        configure_trigger(event)


def test_not_actionable_is_a_kind_of_invalid_event() -> None:
    # callers that stop on InvalidEventError stop on a failed call too, never retrying it
    assert issubclass(EventNotActionableError, InvalidEventError)


# ------------------------------------------------------------------------------------- the caller


def test_the_caller_is_the_session_issuer_with_its_path() -> None:
    event = accept_call_event()
    event["detail"]["userIdentity"]["sessionContext"] = {
        "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCEPTER}:role/PeeringAutopilotMember"}
    }

    assert configure_trigger(event).caller == f"arn:aws:iam::{ACCEPTER}:role/PeeringAutopilotMember"


@pytest.mark.parametrize(
    ("identity", "caller"),
    [
        pytest.param(
            {"type": "IAMUser", "arn": "arn:aws:iam::222222222222:user/ops"},
            "arn:aws:iam::222222222222:user/ops",
            id="iam-user",
        ),
        pytest.param({"type": "AssumedRole", "sessionContext": {"sessionIssuer": "x"}}, "", id="issuer-not-an-object"),
        pytest.param(
            {"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"arn": 7}}}, "", id="arn-not-a-string"
        ),
        pytest.param("root", "", id="identity-not-an-object"),
        pytest.param({"arn": "a" * 5000}, "", id="absurdly-long"),
    ],
)
def test_an_odd_identity_names_no_caller_and_never_makes_the_event_invalid(identity: Any, caller: str) -> None:
    event = accept_call_event()
    event["detail"]["userIdentity"] = identity

    hint = configure_trigger(event)

    assert (hint.peering_id, hint.caller) == (PEERING_ID, caller)
