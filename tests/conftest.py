"""Shared fixtures: fake credentials, a fresh moto per test, and the seed's world."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws

from autopilot_local.harness import LocalAutopilot, LocalCloud
from autopilot_local.metering import CallLog, count_calls

HUB = "123456789012"
MEMBER = "222222222222"  # approved account with a member stack
OUTSIDER = "333333333333"  # in the organization (forwards events) but not approved
REGION = "us-east-1"
OTHER_REGION = "us-west-2"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-aws", action="store_true", help="run tests marked 'real_aws' against a real account")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-aws"):
        return
    skip = pytest.mark.skip(reason="real-AWS test: opt in with --run-aws and credentials")
    for item in items:
        if item.get_closest_marker("real_aws"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("real_aws"):
        return
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    assert "MOTO_ACCOUNT_ID" not in os.environ, "MOTO_ACCOUNT_ID overrides assumed roles: unset it"


@pytest.fixture
def mocked_aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def cloud(mocked_aws: None) -> LocalCloud:
    return LocalCloud(HUB)


@dataclass
class Side:
    account: str
    region: str
    vpc_id: str


def make_vpc(
    cloud: LocalCloud,
    account: str,
    region: str,
    cidr: str,
    *,
    opted_in: bool = True,
    secondary: tuple[str, ...] = (),
    ipv6: bool = False,
    tags: dict[str, str] | None = None,
) -> Side:
    ec2 = cloud.ec2(account, region)
    vpc_id = ec2.create_vpc(CidrBlock=cidr, AmazonProvidedIpv6CidrBlock=ipv6)["Vpc"]["VpcId"]
    for block in secondary:
        ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=block)
    all_tags = dict(tags or {})
    if opted_in:
        all_tags.setdefault("peering-autopilot:enabled", "true")
    if all_tags:
        ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": k, "Value": v} for k, v in all_tags.items()])
    return Side(account, region, vpc_id)


def request_peering(cloud: LocalCloud, requester: Side, accepter: Side) -> str:
    """Send a peering request as a person would; CloudTrail records it in the requester's account."""
    ec2 = cloud.ec2(requester.account, requester.region, record=True)
    response = ec2.create_vpc_peering_connection(
        VpcId=requester.vpc_id,
        PeerVpcId=accepter.vpc_id,
        PeerOwnerId=accepter.account,
        PeerRegion=accepter.region,
    )
    return str(response["VpcPeeringConnection"]["VpcPeeringConnectionId"])


def peering_as_accepter(cloud: LocalCloud, accepter: Side, peering_id: str) -> dict[str, Any]:
    ec2 = cloud.ec2(accepter.account, accepter.region)
    items = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])["VpcPeeringConnections"]
    return next(i for i in items if i["VpcPeeringConnectionId"] == peering_id)


def tags_of(cloud: LocalCloud, side: Side, resource_id: str) -> dict[str, str]:
    ec2 = cloud.ec2(side.account, side.region)
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def hub_parameters(**overrides: str) -> dict[str, str]:
    params = {
        "ApprovedAccountIds": MEMBER,
        "ManagedRegions": f"{REGION},{OTHER_REGION}",
        "OrganizationId": "o-exampleorg1",
    }
    params.update(overrides)
    return params


@pytest.fixture
def autopilot_factory(cloud: LocalCloud) -> Any:
    def make(**overrides: str) -> LocalAutopilot:
        return LocalAutopilot(
            cloud,
            hub_parameters(**overrides),
            region=REGION,
            member_accounts=(MEMBER, OUTSIDER),
            log_stream=io.StringIO(),
        )

    return make


ApiCalls = CallLog  # every AWS API call made in the process while a test runs


@pytest.fixture
def api_calls() -> Iterator[CallLog]:
    with count_calls() as log:
        yield log


@pytest.fixture(scope="session")
def _moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def server_cloud(_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCloud]:
    """moto as a real HTTP endpoint, for tests whose faults must stop a request before it is sent
    (in-process mocking handles every request even when a hook answers it first)."""
    import urllib.request

    monkeypatch.setenv("AWS_ENDPOINT_URL", _moto_server)
    urllib.request.urlopen(urllib.request.Request(f"{_moto_server}/moto-api/reset", method="POST")).close()
    yield LocalCloud(HUB)
