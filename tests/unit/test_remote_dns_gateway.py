"""Remote DNS on a real boto3 EC2 client behind botocore's Stubber: the exact request for each
side, and the option read from DescribeVpcPeeringConnections' own response shape."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.model import Peering

PCX = "pcx-0123456789abcdef0"


@pytest.mark.parametrize(
    ("role", "key"),
    [("requester", "RequesterPeeringConnectionOptions"), ("accepter", "AccepterPeeringConnectionOptions")],
)
@pytest.mark.parametrize("allow", [True, False])
def test_each_side_sets_only_its_own_options(role: str, key: str, allow: bool) -> None:
    client = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "modify_vpc_peering_connection_options",
            {key: {"AllowDnsResolutionFromRemoteVpc": allow}},
            {"VpcPeeringConnectionId": PCX, key: {"AllowDnsResolutionFromRemoteVpc": allow}},
        )
        Ec2Gateway(client, "111111111111", "us-east-1").set_remote_dns(PCX, role, allow)
        stub.assert_no_pending_responses()


def test_each_sides_option_is_read_from_the_peerings_description() -> None:
    item = {
        "VpcPeeringConnectionId": PCX,
        "Status": {"Code": "active", "Message": "Active"},
        "RequesterVpcInfo": {
            "OwnerId": "111111111111",
            "VpcId": "vpc-0000000a",
            "Region": "us-east-1",
            "CidrBlock": "10.0.0.0/16",
            "PeeringOptions": {"AllowDnsResolutionFromRemoteVpc": True},
        },
        "AccepterVpcInfo": {"OwnerId": "222222222222", "VpcId": "vpc-0000000b", "Region": "eu-west-1"},
    }
    client = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("describe_vpc_peering_connections", {"VpcPeeringConnections": [item]})
        peering = Ec2Gateway(client, "111111111111", "us-east-1").find_peering(PCX)
    assert isinstance(peering, Peering)
    # the accepter's options are absent until it is active on that side: not known, not off
    assert (peering.requester.remote_dns, peering.accepter.remote_dns) == (True, None)
