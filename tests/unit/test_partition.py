"""ARNs the autopilot builds name the partition of their region, never a literal `aws`."""

from __future__ import annotations

import datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from peering_autopilot.aws.sessions import MEMBER_SESSION_NAME, AwsAccess
from peering_autopilot.model import Cidrs, Peering, PeeringSide
from tests.support.domain import settings
from tests.support.world import HUB, MEMBER

PARTITIONS = [("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]


def _session(region: str) -> boto3.Session:
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)


@pytest.mark.parametrize(("region", "partition"), PARTITIONS)
def test_partition_of_a_region(region: str, partition: str) -> None:
    access = AwsAccess(settings(hub_region=region, managed_regions=(region,)), base_session=_session(region))
    assert access.partition(region) == partition


@pytest.mark.parametrize(("region", "partition"), PARTITIONS)
def test_peering_arn_names_its_partition(region: str, partition: str) -> None:
    side = PeeringSide(account_id=MEMBER, region=region, vpc_id="vpc-1", cidrs=Cidrs())
    peering = Peering("pcx-1", "active", "", requester=side, accepter=side)
    assert peering.arn(partition) == f"arn:{partition}:ec2:{region}:{MEMBER}:vpc-peering-connection/pcx-1"


@pytest.mark.parametrize(("region", "partition"), PARTITIONS)
def test_member_role_assumed_in_the_hubs_partition(region: str, partition: str) -> None:
    base = _session(region)
    access = AwsAccess(settings(hub_region=region, managed_regions=(region,)), base_session=base)
    sts: Any = access._client(HUB, "sts", region)  # the client AwsAccess assumes roles with
    expected_role = f"arn:{partition}:iam::{MEMBER}:role/PeeringAutopilotMember"
    creds = {
        "AccessKeyId": "AKIAEXAMPLEEXAMPLE12",
        "SecretAccessKey": "secret",
        "SessionToken": "token",
        "Expiration": datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
    }
    with Stubber(sts) as stub:
        stub.add_response(
            "assume_role",
            {"Credentials": creds},
            {"RoleArn": expected_role, "RoleSessionName": MEMBER_SESSION_NAME},
        )
        access.session_for(MEMBER)
        stub.assert_no_pending_responses()
