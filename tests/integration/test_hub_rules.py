"""The hub template's Rules, as the harness deploys it: CloudFormation checks them before it creates
anything, and so does the harness. samconfig.toml's example values are refused, saying what to put
there; the demo's and the tests' values deploy."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from autopilot_local.harness import LocalCloud
from tests.support.world import MEMBER, REGION


@pytest.mark.parametrize(
    ("overrides", "refusal"),
    [
        pytest.param(
            {"OrganizationId": "o-exampleorgid"},
            "rule OrganizationIdIsNotTheExample: OrganizationId o-exampleorgid is samconfig.toml's example: put "
            "your Organization's id there",
            id="organization",
        ),
        pytest.param(
            {"ApprovedAccountIds": f"111111111111,{MEMBER}"},
            "rule ApprovedAccountIdsAreNotTheExample: ApprovedAccountIds 111111111111 is samconfig.toml's example: "
            "put the 12-digit ids of the accounts whose requests may be accepted there",
            id="accounts",
        ),
    ],
)
def test_samconfigs_examples_are_refused_before_anything_is_created(
    cloud: LocalCloud, autopilot_factory: Any, overrides: dict[str, str], refusal: str
) -> None:
    with pytest.raises(ValueError) as refused:
        autopilot_factory(**overrides)

    assert str(refused.value).startswith(refusal)
    # nothing of the hub was made: no bus of its own, no queue, no table
    assert [b["Name"] for b in boto3.client("events", region_name=REGION).list_event_buses()["EventBuses"]] == [
        "default"
    ]
    assert boto3.client("sqs", region_name=REGION).list_queues().get("QueueUrls", []) == []
    assert boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"] == []


def test_the_tests_values_deploy(cloud: LocalCloud, autopilot_factory: Any) -> None:
    autopilot = autopilot_factory()  # ApprovedAccountIds 222222222222, OrganizationId o-exampleorg1

    assert autopilot.stack.values["OrganizationId"] == "o-exampleorg1"
    assert len(boto3.client("events", region_name=REGION).list_event_buses()["EventBuses"]) > 1
