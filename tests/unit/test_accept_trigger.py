"""Reading a CloudTrail CreateVpcPeeringConnection event into a hint, and refusing anything else."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from peering_autopilot.errors import InvalidEventError
from peering_autopilot.triggers import MAX_EVENT_BYTES, EventNotActionableError, PeeringRequestHint, accept_trigger

REQUESTER = "222222222222"  # the caller: the event is recorded in its account and region
ACCEPTER = "111111111111"
REQUESTER_REGION = "us-east-1"
ACCEPTER_REGION = "eu-west-1"
PEERING_ID = "pcx-0a1b2c3d4e5f60718"
CONNECTION = ("detail", "responseElements", "vpcPeeringConnection")
PEERING_ID_FIELD = "detail.responseElements.vpcPeeringConnection.vpcPeeringConnectionId"


def create_peering_event() -> dict[str, Any]:
    """A cross-account, inter-region CreateVpcPeeringConnection as EventBridge delivers it from CloudTrail."""
    return {
        "version": "0",
        "id": "3b7c5f0e-9f4a-4a8e-8a0c-2b1d6c9e7f10",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": REQUESTER,
        "time": "2025-03-04T10:15:30Z",
        "region": REQUESTER_REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLEID:network-engineer",
                "arn": f"arn:aws:sts::{REQUESTER}:assumed-role/NetworkAdmin/network-engineer",
                "accountId": REQUESTER,
                "accessKeyId": "ASIAEXAMPLEKEYID",
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": "AROAEXAMPLEID",
                        "arn": f"arn:aws:iam::{REQUESTER}:role/NetworkAdmin",
                        "accountId": REQUESTER,
                        "userName": "NetworkAdmin",
                    },
                    "attributes": {"creationDate": "2025-03-04T09:58:02Z", "mfaAuthenticated": "false"},
                },
            },
            "eventTime": "2025-03-04T10:15:30Z",
            "eventSource": "ec2.amazonaws.com",
            "eventName": "CreateVpcPeeringConnection",
            "awsRegion": REQUESTER_REGION,
            "sourceIPAddress": "203.0.113.10",
            "userAgent": "aws-cli/2.15.30 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0",
            "requestParameters": {
                "vpcId": "vpc-0aaaaaaaaaaaaaaa1",
                "peerVpcId": "vpc-0bbbbbbbbbbbbbbb2",
                "peerOwnerId": ACCEPTER,
                "peerRegion": ACCEPTER_REGION,
            },
            "responseElements": {
                "requestId": "c0a3f0de-5a7b-4c1e-9d55-0f2f3e4d5c6b",
                "vpcPeeringConnection": {
                    "vpcPeeringConnectionId": PEERING_ID,
                    "requesterVpcInfo": {
                        "ownerId": REQUESTER,
                        "vpcId": "vpc-0aaaaaaaaaaaaaaa1",
                        "cidrBlock": "10.1.0.0/16",
                        "cidrBlockSet": {"items": [{"cidrBlock": "10.1.0.0/16"}]},
                        "peeringOptions": {
                            "allowEgressFromLocalClassicLinkToRemoteVpc": False,
                            "allowEgressFromLocalVpcToRemoteClassicLink": False,
                            "allowDnsResolutionFromRemoteVpc": False,
                        },
                        "region": REQUESTER_REGION,
                    },
                    "accepterVpcInfo": {
                        "ownerId": ACCEPTER,
                        "vpcId": "vpc-0bbbbbbbbbbbbbbb2",
                        "region": ACCEPTER_REGION,
                    },
                    "status": {"code": "initiating-request", "message": f"Initiating Request to {ACCEPTER}"},
                    "expirationTime": "2025-03-11T10:15:30.000Z",
                    "tagSet": {},
                },
            },
            "requestID": "c0a3f0de-5a7b-4c1e-9d55-0f2f3e4d5c6b",
            "eventID": "9e1b2c3d-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": REQUESTER,
            "eventCategory": "Management",
            "tlsDetails": {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": "ec2.us-east-1.amazonaws.com",
            },
        },
    }


def _parent(event: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node = event
    for key in path[:-1]:
        node = node[key]
    return node


def with_value(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], Any]:
    """A change to the realistic event: the field at `path` set to `value`."""

    def change(event: dict[str, Any]) -> Any:
        _parent(event, path)[path[-1]] = value
        return event

    return change


def without(*paths: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """A change to the realistic event: the fields at `paths` removed."""

    def change(event: dict[str, Any]) -> Any:
        for path in paths:
            del _parent(event, path)[path[-1]]
        return event

    return change


def replaced_by(value: Any) -> Callable[[dict[str, Any]], Any]:
    """A change to the realistic event: another value given in its place."""
    return lambda _event: copy.deepcopy(value)


# ---------------------------------------------------------------------------------- good events


def test_cross_account_inter_region_request_names_the_accepter_from_the_response() -> None:
    hint = accept_trigger(create_peering_event())

    assert hint == PeeringRequestHint(
        peering_id=PEERING_ID,
        accepter_account_id=ACCEPTER,
        accepter_region=ACCEPTER_REGION,
        reported_by_account=REQUESTER,
    )


def test_the_response_wins_over_the_request_parameters() -> None:
    # GIVEN request parameters that disagree with what EC2 answered (the answer is the authority)
    event = with_value(("detail", "requestParameters"), {"peerOwnerId": "444444444444", "peerRegion": "ap-south-1"})(
        create_peering_event()
    )

    hint = accept_trigger(event)

    assert (hint.accepter_account_id, hint.accepter_region) == (ACCEPTER, ACCEPTER_REGION)


def test_without_accepter_info_in_the_response_the_request_parameters_name_the_accepter() -> None:
    # GIVEN a response whose accepterVpcInfo carries neither ownerId nor region
    event = create_peering_event()
    event["detail"]["responseElements"]["vpcPeeringConnection"]["accepterVpcInfo"] = {"vpcId": "vpc-0bbbbbbbbbbbbbbb2"}
    event["detail"]["requestParameters"] = {"peerOwnerId": "444444444444", "peerRegion": "ap-southeast-2"}

    hint = accept_trigger(event)

    assert (hint.accepter_account_id, hint.accepter_region) == ("444444444444", "ap-southeast-2")
    assert hint.reported_by_account == REQUESTER


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            without((*CONNECTION, "accepterVpcInfo", "ownerId"), (*CONNECTION, "accepterVpcInfo", "region")),
            id="accepter-info-without-owner-and-region",
        ),
        pytest.param(without((*CONNECTION, "accepterVpcInfo")), id="accepter-info-absent"),
        pytest.param(with_value((*CONNECTION, "accepterVpcInfo"), None), id="accepter-info-null"),
    ],
)
def test_accepter_falls_back_to_the_request_parameters(change: Callable[[dict[str, Any]], Any]) -> None:
    event = change(create_peering_event())
    event["detail"]["requestParameters"]["peerOwnerId"] = "444444444444"
    event["detail"]["requestParameters"]["peerRegion"] = "ca-central-1"

    hint = accept_trigger(event)

    assert (hint.accepter_account_id, hint.accepter_region) == ("444444444444", "ca-central-1")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            without(
                (*CONNECTION, "accepterVpcInfo", "ownerId"),
                (*CONNECTION, "accepterVpcInfo", "region"),
                ("detail", "requestParameters", "peerOwnerId"),
                ("detail", "requestParameters", "peerRegion"),
            ),
            id="neither-names-the-peer",
        ),
        pytest.param(
            lambda e: without((*CONNECTION, "accepterVpcInfo"))(with_value(("detail", "requestParameters"), None)(e)),
            id="no-accepter-info-and-null-request-parameters",
        ),
    ],
)
def test_accepter_falls_back_to_the_events_own_account_and_region(change: Callable[[dict[str, Any]], Any]) -> None:
    # GIVEN a same-account, same-region request: nothing names the peer's account or region
    event = change(create_peering_event())

    hint = accept_trigger(event)

    assert hint == PeeringRequestHint(PEERING_ID, REQUESTER, REQUESTER_REGION, REQUESTER)


@pytest.mark.parametrize(
    "peering_id",
    ["pcx-0a1b2c3d", "pcx-0a1b2c3d4e5f60718", "pcx-abcdef0123456789"],
    ids=["8-hex-digits", "17-hex-digits", "16-hex-digits"],
)
def test_peering_ids_of_both_lengths_are_read(peering_id: str) -> None:
    event = with_value((*CONNECTION, "vpcPeeringConnectionId"), peering_id)(create_peering_event())

    assert accept_trigger(event).peering_id == peering_id


def test_an_event_exactly_at_the_size_limit_is_read() -> None:
    event = create_peering_event()
    event["detail"]["userAgent"] = ""
    room = MAX_EVENT_BYTES - len(json.dumps(event).encode())
    event["detail"]["userAgent"] = "a" * room

    assert len(json.dumps(event).encode()) == MAX_EVENT_BYTES
    assert accept_trigger(event).peering_id == PEERING_ID


def test_the_event_is_not_changed() -> None:
    event = create_peering_event()

    accept_trigger(event)

    assert event == create_peering_event()


# ---------------------------------------------------------------------------------- bad events

BAD_EVENTS = [
    # --- not an object
    pytest.param(replaced_by([create_peering_event()]), "the event is a list, not a JSON object", id="list"),
    pytest.param(replaced_by("CreateVpcPeeringConnection"), "the event is a str, not a JSON object", id="str"),
    pytest.param(replaced_by(None), "the event is a NoneType, not a JSON object", id="none"),
    # --- not a CloudTrail EC2 event
    pytest.param(with_value(("source",), "aws.s3"), "got source 'aws.s3' detail-type", id="wrong-source"),
    pytest.param(without(("source",)), "got source None detail-type", id="source-missing"),
    pytest.param(
        with_value(("detail-type",), "EC2 Instance State-change Notification"),
        "detail-type 'EC2 Instance State-change Notification'",
        id="wrong-detail-type",
    ),
    pytest.param(
        with_value(("detail", "eventName"), "AcceptVpcPeeringConnection"),
        "detail.eventName is 'AcceptVpcPeeringConnection', not CreateVpcPeeringConnection",
        id="other-event-name",
    ),
    pytest.param(
        without(("detail", "eventName")), "detail.eventName is None, not CreateVpcPeeringConnection", id="no-event-name"
    ),
    # --- envelope fields
    pytest.param(
        with_value(("account",), "22222222222"), "account is not valid: '22222222222'", id="account-11-digits"
    ),
    pytest.param(
        with_value(("account",), "2222222222222"), "account is not valid: '2222222222222'", id="account-13-digits"
    ),
    pytest.param(
        with_value(("account",), "22222222222a"), "account is not valid: '22222222222a'", id="account-with-letter"
    ),
    pytest.param(with_value(("account",), 222222222222), "account must be a string, got int", id="account-int"),
    pytest.param(without(("account",)), "account must be a string, got NoneType", id="account-missing"),
    pytest.param(with_value(("region",), "US-EAST-1"), "region is not valid: 'US-EAST-1'", id="region-upper-case"),
    pytest.param(with_value(("region",), "us-east"), "region is not valid: 'us-east'", id="region-no-number"),
    pytest.param(with_value(("region",), "useast1"), "region is not valid: 'useast1'", id="region-no-dashes"),
    pytest.param(with_value(("region",), ""), "region is not valid: ''", id="region-empty"),
    pytest.param(with_value(("region",), ["us-east-1"]), "region must be a string, got list", id="region-list"),
    # --- detail
    pytest.param(
        with_value(("detail",), "CreateVpcPeeringConnection"),
        "detail is missing or not an object (got str)",
        id="detail-str",
    ),
    pytest.param(with_value(("detail",), []), "detail is missing or not an object (got list)", id="detail-list"),
    pytest.param(without(("detail",)), "detail is missing or not an object (got NoneType)", id="detail-missing"),
    pytest.param(
        without(("detail", "responseElements")),
        "detail.responseElements is missing or not an object (got NoneType)",
        id="response-elements-missing",
    ),
    pytest.param(
        with_value(("detail", "responseElements"), None),
        "detail.responseElements is missing or not an object (got NoneType)",
        id="response-elements-null",
    ),
    pytest.param(
        with_value(("detail", "responseElements"), "pcx-0a1b2c3d"),
        "detail.responseElements is missing or not an object (got str)",
        id="response-elements-str",
    ),
    pytest.param(
        without((*CONNECTION,)),
        "detail.responseElements.vpcPeeringConnection is missing or not an object (got NoneType)",
        id="connection-missing",
    ),
    # --- the peering id
    pytest.param(
        with_value((*CONNECTION, "vpcPeeringConnectionId"), "vpc-0a1b2c3d4e5f60718"),
        f"{PEERING_ID_FIELD} is not valid: 'vpc-0a1b2c3d4e5f60718'",
        id="peering-id-vpc-prefix",
    ),
    pytest.param(
        with_value((*CONNECTION, "vpcPeeringConnectionId"), "pcx-0A1B2C3D"),
        f"{PEERING_ID_FIELD} is not valid: 'pcx-0A1B2C3D'",
        id="peering-id-upper-case-hex",
    ),
    pytest.param(
        with_value((*CONNECTION, "vpcPeeringConnectionId"), "pcx-0a1b2c3"),
        f"{PEERING_ID_FIELD} is not valid: 'pcx-0a1b2c3'",
        id="peering-id-7-hex-digits",
    ),
    pytest.param(
        with_value((*CONNECTION, "vpcPeeringConnectionId"), "pcx-0a1b2c3d4e5f607189"),
        f"{PEERING_ID_FIELD} is not valid: 'pcx-0a1b2c3d4e5f607189'",
        id="peering-id-18-hex-digits",
    ),
    pytest.param(
        with_value((*CONNECTION, "vpcPeeringConnectionId"), "pcx-0a1b2c3d; rm -rf /"),
        f"{PEERING_ID_FIELD} is not valid: 'pcx-0a1b2c3d; rm -rf /'",
        id="peering-id-with-trailing-junk",
    ),
    pytest.param(
        with_value((*CONNECTION, "vpcPeeringConnectionId"), ""),
        f"{PEERING_ID_FIELD} is not valid: ''",
        id="peering-id-empty",
    ),
    pytest.param(
        with_value((*CONNECTION, "vpcPeeringConnectionId"), 1234),
        f"{PEERING_ID_FIELD} must be a string, got int",
        id="peering-id-int",
    ),
    pytest.param(
        with_value((*CONNECTION, "vpcPeeringConnectionId"), [PEERING_ID]),
        f"{PEERING_ID_FIELD} must be a string, got list",
        id="peering-id-list",
    ),
    pytest.param(
        without((*CONNECTION, "vpcPeeringConnectionId")),
        f"{PEERING_ID_FIELD} must be a string, got NoneType",
        id="peering-id-missing",
    ),
    # --- the accepter
    pytest.param(
        with_value((*CONNECTION, "accepterVpcInfo", "ownerId"), "1111"),
        "detail.responseElements.vpcPeeringConnection.accepterVpcInfo.ownerId is not valid: '1111'",
        id="accepter-owner-4-digits",
    ),
    pytest.param(
        with_value((*CONNECTION, "accepterVpcInfo", "ownerId"), 111111111111),
        "detail.responseElements.vpcPeeringConnection.accepterVpcInfo.ownerId must be a string, got int",
        id="accepter-owner-int",
    ),
    pytest.param(
        with_value((*CONNECTION, "accepterVpcInfo", "region"), "eu-west"),
        "detail.responseElements.vpcPeeringConnection.accepterVpcInfo.region is not valid: 'eu-west'",
        id="accepter-region-invalid",
    ),
    pytest.param(
        with_value((*CONNECTION, "accepterVpcInfo"), ["ownerId", ACCEPTER]),
        "detail.responseElements.vpcPeeringConnection.accepterVpcInfo is not an object",
        id="accepter-info-list",
    ),
    pytest.param(
        with_value(("detail", "requestParameters"), "peerOwnerId=111111111111"),
        "detail.requestParameters is not an object",
        id="request-parameters-str",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD_EVENTS)
def test_bad_event_is_refused_naming_the_field(change: Callable[[dict[str, Any]], Any], message: str) -> None:
    # GIVEN the realistic event with one thing wrong
    event = change(create_peering_event())

    # WHEN it is read THEN it is refused as invalid (not as "not actionable"), the field named
    with pytest.raises(InvalidEventError) as caught:
        accept_trigger(event)

    assert type(caught.value) is InvalidEventError
    assert message in str(caught.value)


def test_an_event_over_256_kib_is_refused_for_its_size() -> None:
    event = create_peering_event()
    event["detail"]["userAgent"] = ""
    event["detail"]["userAgent"] = "a" * (MAX_EVENT_BYTES - len(json.dumps(event).encode()) + 1)

    with pytest.raises(InvalidEventError) as caught:
        accept_trigger(event)

    assert type(caught.value) is InvalidEventError
    assert str(caught.value) == f"the event is {MAX_EVENT_BYTES + 1} bytes, over the 262144-byte limit"


def test_an_absurdly_large_event_is_refused_before_anything_else_is_read() -> None:
    # GIVEN an event of 1 MiB that is also of the wrong source: the size is what is reported
    event = create_peering_event()
    event["source"] = "aws.s3"
    event["resources"] = ["arn:aws:s3:::bucket/" + "k" * 1024] * 1024

    with pytest.raises(InvalidEventError, match=r"^the event is \d+ bytes, over the 262144-byte limit$"):
        accept_trigger(event)


def test_an_event_that_cannot_be_serialised_is_refused() -> None:
    event = create_peering_event()
    event["detail"]["loop"] = event["detail"]

    with pytest.raises(InvalidEventError, match=r"^the event cannot be serialised: "):
        accept_trigger(event)


@pytest.mark.parametrize(
    "error_code",
    ["Client.InvalidVpcID.NotFound", "Client.UnauthorizedOperation", "Server.InternalError"],
)
def test_a_failed_call_is_not_actionable(error_code: str) -> None:
    # GIVEN CloudTrail's record of a call that failed: an errorCode and no response elements
    event = create_peering_event()
    event["detail"]["errorCode"] = error_code
    event["detail"]["errorMessage"] = "The vpc ID 'vpc-0bbbbbbbbbbbbbbb2' does not exist"
    event["detail"]["responseElements"] = None

    with pytest.raises(EventNotActionableError) as caught:
        accept_trigger(event)

    assert str(caught.value) == (f"the CreateVpcPeeringConnection call failed ({error_code!r}): no peering was created")
    assert isinstance(caught.value, InvalidEventError)  # callers that refuse invalid events refuse these too


HUGE = "x" * 100_000


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(with_value(("source",), HUGE), id="source"),
        pytest.param(with_value(("detail-type",), HUGE), id="detail-type"),
        pytest.param(
            lambda e: with_value(("source",), HUGE)(with_value(("detail-type",), HUGE)(e)), id="source-and-detail-type"
        ),
        pytest.param(with_value(("account",), HUGE), id="account"),
        pytest.param(with_value(("region",), HUGE), id="region"),
        pytest.param(with_value(("detail", "eventName"), HUGE), id="event-name"),
        pytest.param(with_value(("detail", "errorCode"), HUGE), id="error-code"),
        pytest.param(with_value((*CONNECTION, "vpcPeeringConnectionId"), "pcx-" + HUGE), id="peering-id"),
        pytest.param(with_value((*CONNECTION, "accepterVpcInfo", "ownerId"), HUGE), id="accepter-owner"),
        pytest.param(with_value((*CONNECTION, "accepterVpcInfo", "region"), HUGE), id="accepter-region"),
    ],
)
def test_an_absurd_value_is_never_echoed_in_full(change: Callable[[dict[str, Any]], Any]) -> None:
    # GIVEN a 100 KB string where a short field belongs (the event itself stays under the size limit)
    event = change(create_peering_event())

    with pytest.raises(InvalidEventError) as caught:
        accept_trigger(event)

    # THEN the message quotes a little of it, says how long it was, and stays short
    message = str(caught.value)
    assert len(message) < 300
    assert "x" * 100 not in message
    assert "chars)" in message


# ---------------------------------------------------------------------------------- known gaps


def test_a_peering_id_with_a_trailing_newline_is_refused() -> None:
    event = with_value((*CONNECTION, "vpcPeeringConnectionId"), PEERING_ID + "\n")(create_peering_event())

    with pytest.raises(InvalidEventError, match="vpcPeeringConnectionId"):
        accept_trigger(event)


def test_an_account_of_non_ascii_digits_is_refused() -> None:
    full_width_account = "\uff12" * 12  # FULLWIDTH DIGIT TWO, twelve times: matches r"\d{12}"
    event = with_value(("account",), full_width_account)(create_peering_event())

    with pytest.raises(InvalidEventError, match="account"):
        accept_trigger(event)


def test_a_bad_peer_owner_id_in_the_request_is_named_as_such() -> None:
    event = create_peering_event()
    del event["detail"]["responseElements"]["vpcPeeringConnection"]["accepterVpcInfo"]
    event["detail"]["requestParameters"]["peerOwnerId"] = "1111"

    with pytest.raises(InvalidEventError, match=r"requestParameters\.peerOwnerId"):
        accept_trigger(event)


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [("source", ["aws.ec2"], "list"), ("detail-type", {"a": 1}, "dict"), ("source", 7, "int")],
)
def test_an_envelope_whose_source_or_detail_type_is_not_a_string_is_refused_by_name(
    field: str, value: Any, kind: str
) -> None:
    event = create_peering_event()
    event[field] = value
    with pytest.raises(InvalidEventError, match=f"the envelope's {field} must be a string, got {kind}"):
        accept_trigger(event)
