"""Where a step reads a peering when the event's own place is not the hub's: the other side the
event names (an accept's response names both sides; "Peering Configured" lists both), taken only
when the hub manages it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from peering_autopilot.errors import InvalidEventError
from peering_autopilot.settings import Settings
from peering_autopilot.sides import managed_place
from peering_autopilot.triggers import PeeringHint, configure_trigger, verify_trigger

EVENTS = Path(__file__).resolve().parents[2] / "events"
HUB = "123456789012"
PARTNER = "333333333333"
PEERING_ID = "pcx-0f1e2d3c4b5a69788"


def accepted_by_person() -> dict[str, Any]:
    """A person's AcceptVpcPeeringConnection in the accepter's account (222222222222), whose
    response names the requester, 123456789012 us-east-1."""
    return dict(json.loads((EVENTS / "configure_peering" / "accepted-by-person.json").read_text()))


def peering_configured(requester: tuple[str, str], accepter: tuple[str, str]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "detail-type": "Peering Configured",
        "source": "peering-autopilot",
        "account": HUB,
        "time": "2026-11-27T09:12:49Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:ec2:{accepter[1]}:{accepter[0]}:vpc-peering-connection/{PEERING_ID}"],
        "detail": {
            "peeringId": PEERING_ID,
            "peeringStatus": "active",
            "outcome": "partially-configured",
            "dryRun": False,
            "sides": [
                {"role": "requester", "accountId": requester[0], "region": requester[1], "managed": True},
                {"role": "accepter", "accountId": accepter[0], "region": accepter[1], "managed": False},
            ],
        },
    }


def settings() -> Settings:
    return Settings(
        hub_account_id=HUB,
        hub_region="us-east-1",
        approved_account_ids=frozenset({"222222222222"}),
        member_role_name="PeeringAutopilotMember",
        managed_regions=("us-east-1", "eu-west-1"),
        event_bus_name="peering-autopilot-bus",
    )


def test_an_accept_call_names_the_requesters_place_as_the_other_side() -> None:
    hint = configure_trigger(accepted_by_person())

    assert (hint.account_id, hint.region) == ("222222222222", "us-east-1")
    assert hint.elsewhere == ((HUB, "us-east-1"),)


def test_an_accept_call_across_regions_names_the_requesters_region() -> None:
    event = accepted_by_person()
    event["detail"]["responseElements"]["vpcPeeringConnection"]["requesterVpcInfo"]["region"] = "eu-west-1"

    assert configure_trigger(event).elsewhere == ((HUB, "eu-west-1"),)


def test_an_accept_call_whose_response_does_not_describe_the_sides_names_no_other_place() -> None:
    event = accepted_by_person()
    connection = event["detail"]["responseElements"]["vpcPeeringConnection"]
    del connection["requesterVpcInfo"], connection["accepterVpcInfo"]

    assert configure_trigger(event).elsewhere == ()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("ownerId", "12345", "requesterVpcInfo.ownerId is not valid: '12345'"),
        ("ownerId", 123456789012, "requesterVpcInfo.ownerId must be a string, got int"),
        ("region", "Mars-1", "requesterVpcInfo.region is not valid: 'Mars-1'"),
    ],
)
def test_a_malformed_other_side_in_an_accept_call_is_refused_naming_the_field(
    field: str, value: Any, error: str
) -> None:
    event = copy.deepcopy(accepted_by_person())
    event["detail"]["responseElements"]["vpcPeeringConnection"]["requesterVpcInfo"][field] = value

    with pytest.raises(InvalidEventError) as raised:
        configure_trigger(event)

    assert str(raised.value) == f"detail.responseElements.vpcPeeringConnection.{error}"


def test_peering_configured_names_the_requester_as_the_other_side() -> None:
    hint = verify_trigger(peering_configured(requester=(HUB, "us-east-1"), accepter=(PARTNER, "us-east-1")))

    assert (hint.account_id, hint.region) == (PARTNER, "us-east-1")
    assert hint.elsewhere == ((HUB, "us-east-1"),)


def test_peering_configured_with_both_sides_in_one_place_names_no_other() -> None:
    assert verify_trigger(peering_configured((HUB, "us-east-1"), (HUB, "us-east-1"))).elsewhere == ()


def test_peering_configured_with_a_malformed_requester_is_refused_naming_the_field() -> None:
    event = peering_configured(requester=("not-an-account", "us-east-1"), accepter=(HUB, "us-east-1"))

    with pytest.raises(
        InvalidEventError, match=r"^detail.sides\[requester\].accountId is not valid: 'not-an-account'$"
    ):
        verify_trigger(event)


@pytest.mark.parametrize(
    ("place", "elsewhere", "chosen"),
    [
        pytest.param((HUB, "us-east-1"), ((PARTNER, "us-east-1"),), (HUB, "us-east-1"), id="its own place first"),
        pytest.param((PARTNER, "us-east-1"), ((HUB, "eu-west-1"),), (HUB, "eu-west-1"), id="a partner's: the hub's"),
        pytest.param((HUB, "ap-south-1"), ((HUB, "eu-west-1"),), (HUB, "eu-west-1"), id="an unmanaged region's"),
        pytest.param((PARTNER, "us-east-1"), ((HUB, "ap-south-1"),), None, id="no managed place"),
        pytest.param((PARTNER, "us-east-1"), (), None, id="no other place"),
    ],
)
def test_the_step_reads_the_first_place_named_that_the_hub_manages(
    place: tuple[str, str], elsewhere: tuple[tuple[str, str], ...], chosen: tuple[str, str] | None
) -> None:
    hint = PeeringHint(PEERING_ID, *place, caller="arn:aws:iam::333333333333:role/NetworkAdmin", elsewhere=elsewhere)

    found = managed_place(hint, settings())

    assert (None if found is None else (found.account_id, found.region)) == chosen
    if found is not None:
        assert (found.peering_id, found.caller) == (PEERING_ID, hint.caller)
