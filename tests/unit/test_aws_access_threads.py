"""AwsAccess shared by the sweep's parallel places: boto3 sessions are not thread-safe (clients
are), so each session makes a client once, and each member account assumes its role once, however
many threads ask at the same moment. Each fault holds the first caller until a second one arrives
(or a short while passes): a second arrival is the race the locks prevent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from botocore.stub import Stubber

from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

HUB = "111111111111"
MEMBER = "222222222222"
REGION = "us-east-1"
MEMBER_ROLE_ARN = f"arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember"
SETTINGS = Settings(
    hub_account_id=HUB,
    hub_region=REGION,
    approved_account_ids=frozenset({MEMBER}),
    member_role_name="PeeringAutopilotMember",
    managed_regions=(REGION, "us-west-2"),
    event_bus_name="peering-autopilot-bus",
)
THREADS = 8
HOLD_SECONDS = 0.5  # how long the first caller waits for a second one that should never come


class RaceDetector:
    """Holds the first caller until a second arrives, or HOLD_SECONDS pass; counts the callers."""

    def __init__(self) -> None:
        self.callers = 0
        self._lock = threading.Lock()
        self._second = threading.Event()

    def __call__(self, **_: Any) -> None:
        with self._lock:
            self.callers += 1
            first = self.callers == 1
        if first:
            self._second.wait(timeout=HOLD_SECONDS)
        else:
            self._second.set()


class SlowSession:
    """The hub's boto3.Session, whose client() is slow enough for threads to meet in it."""

    def __init__(self, **clients: Any) -> None:
        self.clients = clients
        self.made: dict[str, RaceDetector] = {name: RaceDetector() for name in clients}

    def client(self, service_name: str, **_: Any) -> Any:
        self.made[service_name]()
        return self.clients[service_name]


@pytest.fixture
def sts_client() -> STSClient:
    return boto3.client("sts", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def sts_stub(sts_client: STSClient) -> Iterator[Stubber]:
    with Stubber(sts_client) as stubber:
        yield stubber


def test_threads_asking_for_a_member_account_at_once_assume_its_role_once(
    sts_client: STSClient, sts_stub: Stubber
) -> None:
    # GIVEN AWS answering one AssumeRole for the member account (a second would find no answer)
    sts_stub.add_response(
        "assume_role",
        {
            "Credentials": {
                "AccessKeyId": "ASIAMEMBERKEY00001",
                "SecretAccessKey": "secret",
                "SessionToken": "token",
                "Expiration": datetime.fromtimestamp(4_000_000_000, UTC),
            },
        },
        expected_params={"RoleArn": MEMBER_ROLE_ARN, "RoleSessionName": "peering-autopilot"},
    )
    assume_role = RaceDetector()
    sts_client.meta.events.register("before-parameter-build.sts.AssumeRole", assume_role)
    access = AwsAccess(SETTINGS, base_session=cast(boto3.Session, SlowSession(sts=sts_client)))

    # WHEN eight threads ask for a session there at the same moment
    with ThreadPoolExecutor(THREADS) as pool:
        sessions = list(pool.map(lambda _: access.session_for(MEMBER), range(THREADS)))

    # THEN the role was assumed once, and every thread has the one session
    assert assume_role.callers == 1
    assert all(session is sessions[0] for session in sessions)
    sts_stub.assert_no_pending_responses()


def test_threads_asking_for_one_client_at_once_get_the_one_client_made_once() -> None:
    # GIVEN the hub's session, whose client() threads could enter together
    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    base = SlowSession(ec2=ec2)
    access = AwsAccess(SETTINGS, base_session=cast(boto3.Session, base))

    # WHEN eight threads ask for EC2 in the hub's account and region at the same moment
    with ThreadPoolExecutor(THREADS) as pool:
        gateways = list(pool.map(lambda _: access.ec2(HUB, REGION), range(THREADS)))

    # THEN the session made one client, and every gateway uses it
    assert base.made["ec2"].callers == 1
    assert {id(gateway.client) for gateway in gateways} == {id(ec2)}
