"""The live ping on a real boto3 SSM client behind botocore's Stubber: who may be pinged from, the
exact Run Command request, the polling schedule and what Linux ping's summary line says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from peering_autopilot.aws.ssm import SsmGateway
from peering_autopilot.context import Budget
from peering_autopilot.live_ping import PingResult, ping

REGION = "us-east-1"
INSTANCE = "i-0aaaaaaaaaaaaaaa1"
TARGET = "10.1.1.4"
COMMAND_ID = "6f3c1b1e-2d7a-4c5e-9b8f-0a1b2c3d4e5f"
SENT_AT = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
NOW = 1000.0
BUDGET = 60.0

SEND_PARAMS = {
    "InstanceIds": [INSTANCE],
    "DocumentName": "PeeringAutopilot-Ping",
    "Comment": "peering-autopilot verification ping",
    "Parameters": {"TargetIp": [TARGET]},
    "TimeoutSeconds": 30,
}
INVOCATION_PARAMS = {"CommandId": COMMAND_ID, "InstanceId": INSTANCE}

# What iputils ping prints on Amazon Linux, as SSM returns it in StandardOutputContent.
ALL_REPLIED = f"""PING {TARGET} ({TARGET}) 56(84) bytes of data.
64 bytes from {TARGET}: icmp_seq=1 ttl=127 time=0.712 ms
64 bytes from {TARGET}: icmp_seq=2 ttl=127 time=0.655 ms
64 bytes from {TARGET}: icmp_seq=3 ttl=127 time=0.640 ms

--- {TARGET} ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 2003ms
rtt min/avg/max/mdev = 0.640/0.669/0.712/0.031 ms
"""
NONE_REPLIED = f"""PING {TARGET} ({TARGET}) 56(84) bytes of data.

--- {TARGET} ping statistics ---
3 packets transmitted, 0 received, 100% packet loss, time 2055ms

"""
ONE_REPLIED = f"""PING {TARGET} ({TARGET}) 56(84) bytes of data.
64 bytes from {TARGET}: icmp_seq=2 ttl=127 time=0.701 ms

--- {TARGET} ping statistics ---
3 packets transmitted, 1 received, 66.6667% packet loss, time 2041ms
rtt min/avg/max/mdev = 0.701/0.701/0.701/0.000 ms
"""
BUSYBOX_REPLIED = f"""PING {TARGET} ({TARGET}): 56 data bytes
64 bytes from {TARGET}: seq=0 ttl=127 time=0.811 ms
64 bytes from {TARGET}: seq=1 ttl=127 time=0.702 ms
64 bytes from {TARGET}: seq=2 ttl=127 time=0.688 ms

--- {TARGET} ping statistics ---
3 packets transmitted, 3 packets received, 0% packet loss
round-trip min/avg/max = 0.688/0.733/0.811 ms
"""


class FakeTime:
    """A monotonic clock that moves only when the code under test sleeps; every delay is recorded."""

    def __init__(self, start: float = NOW) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def ssm() -> Any:
    return boto3.client("ssm", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def stub(ssm: Any) -> Iterator[Stubber]:
    with Stubber(ssm) as stubber:
        yield stubber


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def run(ssm: Any, fake_time: FakeTime, budget: float = BUDGET) -> PingResult:
    gateway = SsmGateway(ssm, "111111111111", REGION)
    return ping(gateway, INSTANCE, TARGET, Budget(NOW + budget, fake_time.sleep, fake_time.clock))


# --- documented response shapes -------------------------------------------------------------------
def expect_managed(stub: Stubber, *ping_statuses: str) -> None:
    instances = [
        {
            "InstanceId": INSTANCE,
            "PingStatus": status,
            "LastPingDateTime": SENT_AT,
            "AgentVersion": "3.3.1142.0",
            "IsLatestVersion": False,
            "PlatformType": "Linux",
            "PlatformName": "Amazon Linux",
            "PlatformVersion": "2023",
            "ResourceType": "EC2Instance",
            "IPAddress": "10.0.1.10",
            "ComputerName": "ip-10-0-1-10.ec2.internal",
        }
        for status in ping_statuses
    ]
    stub.add_response(
        "describe_instance_information",
        {"InstanceInformationList": instances},
        {"Filters": [{"Key": "InstanceIds", "Values": [INSTANCE]}]},
    )


def expect_send(stub: Stubber) -> None:
    command = {
        "CommandId": COMMAND_ID,
        "DocumentName": "PeeringAutopilot-Ping",
        "Comment": SEND_PARAMS["Comment"],
        "Parameters": SEND_PARAMS["Parameters"],
        "InstanceIds": [INSTANCE],
        "RequestedDateTime": SENT_AT,
        "Status": "Pending",
        "StatusDetails": "Pending",
        "TargetCount": 1,
        "TimeoutSeconds": 30,
    }
    stub.add_response("send_command", {"Command": command}, SEND_PARAMS)


def expect_not_registered_yet(stub: Stubber) -> None:
    stub.add_client_error(
        "get_command_invocation",
        service_error_code="InvocationDoesNotExist",
        service_message="",
        http_status_code=400,
        expected_params=INVOCATION_PARAMS,
    )


def expect_invocation(stub: Stubber, status: str, output: str = "", response_code: int = -1) -> None:
    stub.add_response(
        "get_command_invocation",
        {
            "CommandId": COMMAND_ID,
            "InstanceId": INSTANCE,
            "Comment": SEND_PARAMS["Comment"],
            "DocumentName": "PeeringAutopilot-Ping",
            "DocumentVersion": "$DEFAULT",
            "PluginName": "aws:runShellScript",
            "ResponseCode": response_code,
            "Status": status,
            "StatusDetails": status,
            "StandardOutputContent": output,
            "StandardErrorContent": "",
        },
        INVOCATION_PARAMS,
    )


# --- the answers of ping ------------------------------------------------------------------------------
def test_replied_after_the_invocation_appears_and_runs(ssm: Any, stub: Stubber, fake_time: FakeTime) -> None:
    # GIVEN an online managed instance whose invocation is registered late, runs, then succeeds
    expect_managed(stub, "Online")
    expect_send(stub)
    expect_not_registered_yet(stub)
    expect_invocation(stub, "InProgress")
    expect_invocation(stub, "Success", ALL_REPLIED, response_code=0)

    # WHEN it pings the peer
    result = run(ssm, fake_time)

    # THEN all three echoes came back, after waits of 1, 2 and 4 seconds
    assert result == PingResult("replied", f"ping {TARGET} from {INSTANCE}: 3/3 replies", 3, 3)
    assert result.describe() == {
        "status": "replied",
        "detail": f"ping {TARGET} from {INSTANCE}: 3/3 replies",
        "transmitted": 3,
        "received": 3,
    }
    assert fake_time.sleeps == [1.0, 2.0, 4.0]
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("status", "output", "response_code", "expected"),
    [
        pytest.param(
            "Failed",
            NONE_REPLIED,
            1,
            PingResult("no-reply", f"ping {TARGET} from {INSTANCE}: 0/3 replies", 3, 0),
            id="failed-0-of-3-is-no-reply",
        ),
        pytest.param(
            "Success",
            ONE_REPLIED,
            0,
            PingResult("replied", f"ping {TARGET} from {INSTANCE}: 1/3 replies", 3, 1),
            id="1-of-3-is-replied",
        ),
        pytest.param(
            "Success",
            BUSYBOX_REPLIED,
            0,
            PingResult("replied", f"ping {TARGET} from {INSTANCE}: 3/3 replies", 3, 3),
            id="busybox-packets-received",
        ),
        pytest.param(
            "Failed",
            "",
            127,
            PingResult("unavailable", f"ping on {INSTANCE} ended Failed without a summary"),
            id="no-summary-ping-missing",
        ),
        pytest.param(
            "TimedOut",
            "",
            -1,
            PingResult("unavailable", f"ping on {INSTANCE} ended TimedOut without a summary"),
            id="command-timed-out",
        ),
        pytest.param(
            "Cancelled",
            "",
            -1,
            PingResult("unavailable", f"ping on {INSTANCE} ended Cancelled without a summary"),
            id="command-cancelled",
        ),
    ],
)
def test_finished_invocation_is_read_from_the_summary_line(
    ssm: Any,
    stub: Stubber,
    fake_time: FakeTime,
    status: str,
    output: str,
    response_code: int,
    expected: PingResult,
) -> None:
    expect_managed(stub, "Online")
    expect_send(stub)
    expect_invocation(stub, status, output, response_code)

    result = run(ssm, fake_time)

    assert result == expected
    assert fake_time.sleeps == [1.0]
    stub.assert_no_pending_responses()


# --- not possible -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "ping_statuses",
    [
        pytest.param((), id="not-managed"),
        pytest.param(("ConnectionLost",), id="connection-lost"),
        pytest.param(("Inactive",), id="inactive"),
    ],
)
def test_instance_not_online_is_unavailable_without_send_command(
    ssm: Any, stub: Stubber, fake_time: FakeTime, ping_statuses: tuple[str, ...]
) -> None:
    # No SendCommand is stubbed: calling it would raise from the Stubber and fail the test
    expect_managed(stub, *ping_statuses)

    result = run(ssm, fake_time)

    assert result == PingResult("unavailable", f"{INSTANCE} is not an online SSM managed instance")
    assert fake_time.sleeps == []
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param(
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/peering-autopilot-verify/fn is not authorized to "
            "perform: ssm:SendCommand on resource: arn:aws:ec2:us-east-1:123456789012:instance/i-0aaaaaaaaaaaaaaa1",
            id="access-denied",
        ),
        pytest.param("InvalidInstanceId", "Instances not in a valid state for account", id="invalid-instance"),
    ],
)
def test_send_command_refused_is_unavailable_naming_the_code(
    ssm: Any, stub: Stubber, fake_time: FakeTime, code: str, message: str
) -> None:
    expect_managed(stub, "Online")
    stub.add_client_error(
        "send_command",
        service_error_code=code,
        service_message=message,
        http_status_code=400,
        expected_params=SEND_PARAMS,
    )

    result = run(ssm, fake_time)

    assert result == PingResult("unavailable", f"{code}: {message}")
    assert fake_time.sleeps == []
    stub.assert_no_pending_responses()


def test_describe_refused_is_unavailable_naming_the_code(ssm: Any, stub: Stubber, fake_time: FakeTime) -> None:
    stub.add_client_error(
        "describe_instance_information",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: ssm:DescribeInstanceInformation",
        http_status_code=400,
    )

    result = run(ssm, fake_time)

    assert result == PingResult(
        "unavailable", "AccessDeniedException: not authorized to perform: ssm:DescribeInstanceInformation"
    )
    stub.assert_no_pending_responses()


def test_get_command_invocation_refused_is_unavailable(ssm: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_managed(stub, "Online")
    expect_send(stub)
    stub.add_client_error(
        "get_command_invocation",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: ssm:GetCommandInvocation",
        http_status_code=400,
        expected_params=INVOCATION_PARAMS,
    )

    try:
        result = run(ssm, fake_time)
    except ClientError as e:
        pytest.fail(f"ping raised instead of answering: {e}")

    assert result == PingResult(
        "unavailable", "AccessDeniedException: not authorized to perform: ssm:GetCommandInvocation"
    )


# --- time budget -----------------------------------------------------------------------------------------
def test_still_running_at_the_end_of_the_budget_times_out(ssm: Any, stub: Stubber, fake_time: FakeTime) -> None:
    # GIVEN a 5 s budget: polls after 1 and 1+2 s; another 4 s would end at 7 s, past the budget
    expect_managed(stub, "Online")
    expect_send(stub)
    expect_not_registered_yet(stub)
    expect_invocation(stub, "InProgress")

    result = run(ssm, fake_time, budget=5.0)

    assert result == PingResult("timed-out", f"command {COMMAND_ID} on {INSTANCE} not finished within the time budget")
    assert fake_time.sleeps == [1.0, 2.0]
    assert fake_time.now == NOW + 3.0
    stub.assert_no_pending_responses()


def test_poll_delays_double_and_are_capped_at_four_seconds(ssm: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_managed(stub, "Online")
    expect_send(stub)
    expect_not_registered_yet(stub)
    for _ in range(4):
        expect_invocation(stub, "InProgress")
    expect_invocation(stub, "Success", ALL_REPLIED, response_code=0)

    result = run(ssm, fake_time)

    assert result.status == "replied"
    assert fake_time.sleeps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    stub.assert_no_pending_responses()
