"""Who the record names as the actor (triggers.origin): a person only from CloudTrail's own record of
a call, never from what an event's detail claims elsewhere; odd values give no person, never an error."""

from __future__ import annotations

from typing import Any

import pytest

from peering_autopilot.record import Origin
from peering_autopilot.triggers import CLOUDTRAIL_DETAIL_TYPE, origin

PERSON = "arn:aws:sts::222222222222:assumed-role/NetworkAdmin/jane"


def cloudtrail(identity: Any, event_id: Any = "ev-1") -> dict[str, Any]:
    return {
        "id": event_id,
        "detail-type": CLOUDTRAIL_DETAIL_TYPE,
        "source": "aws.ec2",
        "detail": {"userIdentity": identity},
    }


def test_a_persons_call_names_the_person_and_the_function_acting() -> None:
    assert origin(cloudtrail({"arn": PERSON}), "CleanupPeeringFunction") == Origin(
        "ev-1", "peering-autopilot:CleanupPeeringFunction", PERSON
    )


@pytest.mark.parametrize(
    "event",
    [
        # the autopilot's own event claiming a person in its detail: only CloudTrail's record names one
        {
            "id": "ev-1",
            "detail-type": "Peering Work Found",
            "source": "peering-autopilot",
            "detail": {"userIdentity": {"arn": PERSON}},
        },
        cloudtrail(None),
        cloudtrail("arn:aws:iam::1:user/x"),  # not an object
        cloudtrail({"arn": 42}),
        cloudtrail({"arn": "arn:" + "x" * 3000}),  # absurdly long
        {"id": "ev-1", "detail-type": CLOUDTRAIL_DETAIL_TYPE, "detail": "not an object"},
    ],
    ids=[
        "autopilot-event-claims-a-person",
        "no-identity",
        "identity-a-string",
        "arn-a-number",
        "arn-too-long",
        "detail-a-string",
    ],
)
def test_odd_or_forged_identities_name_no_person(event: dict[str, Any]) -> None:
    assert origin(event, "ConfigurePeeringFunction").person == ""


@pytest.mark.parametrize("event_id", [None, 7, "x" * 200])
def test_an_odd_event_id_is_left_out(event_id: Any) -> None:
    assert origin(cloudtrail({"arn": PERSON}, event_id), "").event_id == ""
    assert origin(cloudtrail({"arn": PERSON}, event_id), "").function == "peering-autopilot"
