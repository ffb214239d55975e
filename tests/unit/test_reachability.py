"""Reachability Analyzer on a real boto3 EC2 client behind botocore's Stubber: the exact requests,
the polling schedule, how explanations map onto the checklist, and that no billed path is left behind."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from peering_autopilot.allow import Traffic
from peering_autopilot.aws.network_insights import NetworkInsightsGateway
from peering_autopilot.context import Budget
from peering_autopilot.reachability import AnalyzerResult, Finding, analyze, step_of

REGION = "us-east-1"
ACCOUNT = "123456789012"
SOURCE = "i-0aaaaaaaaaaaaaaa1"
DESTINATION = "i-0bbbbbbbbbbbbbbb2"
PATH_ID = "nip-0123456789abcdef0"
ANALYSIS_ID = "nia-0fedcba9876543210"
PEERING_ID = "pcx-0a1b2c3d4e5f60718"
ACL_ID = "acl-0bbbbbbbbbbbbbbb2"
GROUP_ID = "sg-0bbbbbbbbbbbbbbb2"
TABLE_ID = "rtb-0aaaaaaaaaaaaaaa1"
SUBNET_ID = "subnet-0bbbbbbbbbbbbbbb2"
VPC_ID = "vpc-0bbbbbbbbbbbbbbb2"
ENI_ID = "eni-0bbbbbbbbbbbbbbb2"

HTTPS = Traffic("tcp", 443, 443)
ICMP = Traffic("icmp")
HTTPS_PARAMS = {"Protocol": "tcp", "DestinationPort": 443}
STARTED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
NOW = 1000.0
BUDGET = 60.0


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
def ec2() -> Any:
    return boto3.client("ec2", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def stub(ec2: Any) -> Iterator[Stubber]:
    with Stubber(ec2) as stubber:
        yield stubber


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def run(ec2: Any, fake_time: FakeTime, traffic: Traffic = HTTPS, budget: float = BUDGET) -> AnalyzerResult:
    gateway = NetworkInsightsGateway(ec2, "111111111111", REGION)
    return analyze(gateway, SOURCE, DESTINATION, traffic, Budget(NOW + budget, fake_time.sleep, fake_time.clock))


# --- documented response shapes -------------------------------------------------------------------
def analysis(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "NetworkInsightsAnalysisId": ANALYSIS_ID,
        "NetworkInsightsAnalysisArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-insights-analysis/{ANALYSIS_ID}",
        "NetworkInsightsPathId": PATH_ID,
        "StartDate": STARTED,
        "Status": status,
        **fields,
    }


# Every path and analysis is created with the autopilot's tag: IAM starts and deletes only those.
PATH_TAGS = [{"ResourceType": "network-insights-path", "Tags": [{"Key": "peering-autopilot:managed", "Value": "true"}]}]
ANALYSIS_TAGS = [
    {"ResourceType": "network-insights-analysis", "Tags": [{"Key": "peering-autopilot:managed", "Value": "true"}]}
]


def expect_create_path(stub: Stubber, traffic_params: dict[str, Any] | None = None) -> None:
    traffic = traffic_params or HTTPS_PARAMS
    params = {"Source": SOURCE, "Destination": DESTINATION, **traffic, "TagSpecifications": PATH_TAGS}
    response = {
        "NetworkInsightsPath": {
            "NetworkInsightsPathId": PATH_ID,
            "NetworkInsightsPathArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-insights-path/{PATH_ID}",
            "CreatedDate": STARTED,
            "Source": SOURCE,
            "Destination": DESTINATION,
            **traffic,
        }
    }
    stub.add_response("create_network_insights_path", response, params)


def expect_start(stub: Stubber) -> None:
    stub.add_response(
        "start_network_insights_analysis",
        {"NetworkInsightsAnalysis": analysis("running")},
        {"NetworkInsightsPathId": PATH_ID, "TagSpecifications": ANALYSIS_TAGS},
    )


def expect_describe(stub: Stubber, item: dict[str, Any]) -> None:
    stub.add_response(
        "describe_network_insights_analyses",
        {"NetworkInsightsAnalyses": [item]},
        {"NetworkInsightsAnalysisIds": [ANALYSIS_ID]},
    )


def expect_delete_analysis(stub: Stubber) -> None:
    stub.add_response(
        "delete_network_insights_analysis",
        {"NetworkInsightsAnalysisId": ANALYSIS_ID},
        {"NetworkInsightsAnalysisId": ANALYSIS_ID},
    )


def expect_delete_path(stub: Stubber) -> None:
    stub.add_response(
        "delete_network_insights_path",
        {"NetworkInsightsPathId": PATH_ID},
        {"NetworkInsightsPathId": PATH_ID},
    )


def expect_clean_up(stub: Stubber) -> None:
    expect_delete_analysis(stub)
    expect_delete_path(stub)


def component(resource_id: str, name: str = "") -> dict[str, str]:
    kind = resource_id.split("-")[0]
    resource = {"Id": resource_id, "Arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:{kind}/{resource_id}"}
    return {**resource, "Name": name} if name else resource


# --- the happy path ---------------------------------------------------------------------------------
def test_reachable_after_one_running_poll_deletes_analysis_then_path(
    ec2: Any, stub: Stubber, fake_time: FakeTime
) -> None:
    # GIVEN an analysis that is still running at the first poll and has found a path at the second
    expect_create_path(stub)
    expect_start(stub)
    expect_describe(stub, analysis("running"))
    expect_describe(stub, analysis("succeeded", NetworkPathFound=True))
    expect_clean_up(stub)

    # WHEN the path is analyzed
    result = run(ec2, fake_time)

    # THEN it is reachable, the poller slept 1 then 2 seconds, and both billed resources are gone
    assert result == AnalyzerResult("reachable", f"analysis {ANALYSIS_ID} found a path", [])
    assert result.describe() == {
        "status": "reachable",
        "detail": f"analysis {ANALYSIS_ID} found a path",
        "findings": [],
    }
    assert fake_time.sleeps == [1.0, 2.0]
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("traffic", "path_params"),
    [
        pytest.param(HTTPS, {"Protocol": "tcp", "DestinationPort": 443}, id="tcp:443-with-port"),
        pytest.param(Traffic("udp", 53, 53), {"Protocol": "udp", "DestinationPort": 53}, id="udp:53-with-port"),
        pytest.param(
            Traffic("tcp", 8000, 8080), {"Protocol": "tcp", "DestinationPort": 8000}, id="tcp-range-first-port"
        ),
        pytest.param(ICMP, {"Protocol": "tcp"}, id="icmp-as-any-tcp-without-port"),
    ],
)
def test_path_request_names_the_ids_protocol_and_port(
    ec2: Any, stub: Stubber, fake_time: FakeTime, traffic: Traffic, path_params: dict[str, Any]
) -> None:
    # expected_params is compared exactly: an extra DestinationPort for ICMP would fail the stub
    expect_create_path(stub, path_params)
    expect_start(stub)
    expect_describe(stub, analysis("succeeded", NetworkPathFound=True))
    expect_clean_up(stub)

    result = run(ec2, fake_time, traffic)

    assert result.status == "reachable"
    stub.assert_no_pending_responses()


# --- blocked: explanations onto the checklist ---------------------------------------------------------
ACL_EXPLANATION = {
    "ExplanationCode": "SUBNET_ACL_RESTRICTION",
    "Direction": "ingress",
    "Acl": component(ACL_ID),
    "AclRule": {
        "Cidr": "10.0.0.0/16",
        "Egress": False,
        "PortRange": {"From": 443, "To": 443},
        "Protocol": "6",
        "RuleAction": "deny",
        "RuleNumber": 90,
    },
    "Subnet": component(SUBNET_ID),
    "Vpc": component(VPC_ID),
}
SG_EXPLANATION = {
    "ExplanationCode": "ENI_SG_RULES_MISMATCH",
    "Direction": "ingress",
    "SecurityGroup": component(GROUP_ID, "probe-b"),
    "NetworkInterface": component(ENI_ID),
    "Subnet": component(SUBNET_ID),
    "Vpc": component(VPC_ID),
}
ROUTE_EXPLANATION = {
    "ExplanationCode": "NO_ROUTE_TO_DESTINATION",
    "RouteTable": component(TABLE_ID),
    "Destination": component(DESTINATION),
    "Vpc": component("vpc-0aaaaaaaaaaaaaaa1"),
}
PEERING_EXPLANATION = {
    "ExplanationCode": "BAD_STATE",
    "State": "pending-acceptance",
    "VpcPeeringConnection": component(PEERING_ID),
}
UNKNOWN_EXPLANATION = {
    "ExplanationCode": "ENI_SOURCE_DEST_CHECK_RESTRICTION",
    "Component": component(ENI_ID),
    "Subnet": component(SUBNET_ID),
}
SUBNET_ONLY_EXPLANATION = {"ExplanationCode": "SUBNET_HAS_NO_ROUTE_TABLE", "Subnet": component(SUBNET_ID)}
BARE_EXPLANATION = {"ExplanationCode": "NOT_A_KNOWN_CODE"}


@pytest.mark.parametrize(
    ("explanation", "finding"),
    [
        pytest.param(
            ACL_EXPLANATION,
            Finding("network-acls", "SUBNET_ACL_RESTRICTION", f"{ACL_ID} rule 90"),
            id="acl-with-rule-number",
        ),
        pytest.param(
            SG_EXPLANATION,
            Finding("security-groups", "ENI_SG_RULES_MISMATCH", GROUP_ID),
            id="security-group-before-interface-and-subnet",
        ),
        pytest.param(ROUTE_EXPLANATION, Finding("routes", "NO_ROUTE_TO_DESTINATION", TABLE_ID), id="route-table"),
        pytest.param(PEERING_EXPLANATION, Finding("peering", "BAD_STATE", PEERING_ID), id="peering-bad-state"),
        pytest.param(
            UNKNOWN_EXPLANATION,
            Finding("other", "ENI_SOURCE_DEST_CHECK_RESTRICTION", ENI_ID),
            id="unknown-code-generic-component",
        ),
        pytest.param(
            SUBNET_ONLY_EXPLANATION, Finding("routes", "SUBNET_HAS_NO_ROUTE_TABLE", SUBNET_ID), id="subnet-only"
        ),
        pytest.param(BARE_EXPLANATION, Finding("other", "NOT_A_KNOWN_CODE", ""), id="no-component-at-all"),
    ],
)
def test_blocked_explanation_becomes_a_finding(
    ec2: Any, stub: Stubber, fake_time: FakeTime, explanation: dict[str, Any], finding: Finding
) -> None:
    expect_create_path(stub)
    expect_start(stub)
    expect_describe(stub, analysis("succeeded", NetworkPathFound=False, Explanations=[explanation]))
    expect_clean_up(stub)

    result = run(ec2, fake_time)

    assert result == AnalyzerResult("blocked", f"analysis {ANALYSIS_ID} found no path: {finding.code}", [finding])
    assert fake_time.sleeps == [1.0]
    stub.assert_no_pending_responses()


def test_blocked_with_several_explanations_keeps_their_order(ec2: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_create_path(stub)
    expect_start(stub)
    expect_describe(stub, analysis("succeeded", NetworkPathFound=False, Explanations=[ACL_EXPLANATION, SG_EXPLANATION]))
    expect_clean_up(stub)

    result = run(ec2, fake_time)

    assert result.status == "blocked"
    assert result.detail == f"analysis {ANALYSIS_ID} found no path: SUBNET_ACL_RESTRICTION, ENI_SG_RULES_MISMATCH"
    assert result.describe()["findings"] == [
        {"step": "network-acls", "code": "SUBNET_ACL_RESTRICTION", "component": f"{ACL_ID} rule 90"},
        {"step": "security-groups", "code": "ENI_SG_RULES_MISMATCH", "component": GROUP_ID},
    ]
    stub.assert_no_pending_responses()


def test_blocked_without_explanations_says_so(ec2: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_create_path(stub)
    expect_start(stub)
    expect_describe(stub, analysis("succeeded", NetworkPathFound=False))
    expect_clean_up(stub)

    result = run(ec2, fake_time)

    assert result == AnalyzerResult("blocked", f"analysis {ANALYSIS_ID} found no path: no explanation given", [])
    stub.assert_no_pending_responses()


# --- unavailable ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "message", "detail"),
    [
        pytest.param(
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
            "not permitted (UnauthorizedOperation): You are not authorized to perform this operation.",
            id="unauthorized-operation",
        ),
        pytest.param(
            "OptInRequired",
            "You are not subscribed to this service.",
            "not permitted (OptInRequired): You are not subscribed to this service.",
            id="opt-in-required",
        ),
        pytest.param(
            "InvalidParameterValue",
            "The source and destination must be in the same VPC or peered.",
            "InvalidParameterValue: The source and destination must be in the same VPC or peered.",
            id="other-error-named-by-code",
        ),
    ],
)
def test_create_path_refused_is_unavailable_and_nothing_is_deleted(
    ec2: Any, stub: Stubber, fake_time: FakeTime, code: str, message: str, detail: str
) -> None:
    # GIVEN CreateNetworkInsightsPath refuses; no delete is stubbed, so any delete call would fail the test
    stub.add_client_error(
        "create_network_insights_path",
        service_error_code=code,
        service_message=message,
        http_status_code=403 if code == "UnauthorizedOperation" else 400,
        expected_params={"Source": SOURCE, "Destination": DESTINATION, **HTTPS_PARAMS, "TagSpecifications": PATH_TAGS},
    )

    result = run(ec2, fake_time)

    assert result == AnalyzerResult("unavailable", detail, [])
    assert fake_time.sleeps == []
    stub.assert_no_pending_responses()


def test_start_refused_deletes_only_the_path(ec2: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_create_path(stub)
    stub.add_client_error(
        "start_network_insights_analysis",
        service_error_code="UnauthorizedOperation",
        service_message="You are not authorized to perform this operation.",
        http_status_code=403,
        expected_params={"NetworkInsightsPathId": PATH_ID, "TagSpecifications": ANALYSIS_TAGS},
    )
    expect_delete_path(stub)

    result = run(ec2, fake_time)

    assert result == AnalyzerResult(
        "unavailable", "not permitted (UnauthorizedOperation): You are not authorized to perform this operation."
    )
    stub.assert_no_pending_responses()


def test_failed_analysis_is_unavailable_with_its_status_message(ec2: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_create_path(stub)
    expect_start(stub)
    expect_describe(stub, analysis("failed", StatusMessage="Internal error. Try again later."))
    expect_clean_up(stub)

    result = run(ec2, fake_time)

    assert result == AnalyzerResult("unavailable", f"analysis {ANALYSIS_ID} failed: Internal error. Try again later.")
    stub.assert_no_pending_responses()


def test_error_while_polling_is_unavailable_and_still_cleans_up(ec2: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_create_path(stub)
    expect_start(stub)
    stub.add_client_error(
        "describe_network_insights_analyses",
        service_error_code="RequestLimitExceeded",
        service_message="Request limit exceeded.",
        http_status_code=503,
        expected_params={"NetworkInsightsAnalysisIds": [ANALYSIS_ID]},
    )
    expect_clean_up(stub)

    result = run(ec2, fake_time)

    assert result == AnalyzerResult("unavailable", "RequestLimitExceeded: Request limit exceeded.")
    stub.assert_no_pending_responses()


# --- time budget ---------------------------------------------------------------------------------------
def test_still_running_at_the_end_of_the_budget_times_out_and_cleans_up(
    ec2: Any, stub: Stubber, fake_time: FakeTime
) -> None:
    # GIVEN a 10 s budget: polls after 1, 1+2 and 1+2+4 s; another 5 s would end at 12 s, past the budget
    expect_create_path(stub)
    expect_start(stub)
    for _ in range(3):
        expect_describe(stub, analysis("running"))
    expect_clean_up(stub)

    result = run(ec2, fake_time, budget=10.0)

    assert result == AnalyzerResult("timed-out", f"analysis {ANALYSIS_ID} still running at the end of the time budget")
    assert fake_time.sleeps == [1.0, 2.0, 4.0]
    assert fake_time.now == NOW + 7.0
    stub.assert_no_pending_responses()


def test_budget_too_short_for_a_single_poll_times_out_without_polling(
    ec2: Any, stub: Stubber, fake_time: FakeTime
) -> None:
    expect_create_path(stub)
    expect_start(stub)
    expect_clean_up(stub)

    result = run(ec2, fake_time, budget=0.5)

    assert result.status == "timed-out"
    assert fake_time.sleeps == []
    stub.assert_no_pending_responses()


def test_poll_delays_double_and_are_capped_at_five_seconds(ec2: Any, stub: Stubber, fake_time: FakeTime) -> None:
    expect_create_path(stub)
    expect_start(stub)
    for _ in range(5):
        expect_describe(stub, analysis("running"))
    expect_describe(stub, analysis("succeeded", NetworkPathFound=True))
    expect_clean_up(stub)

    result = run(ec2, fake_time)

    assert result.status == "reachable"
    assert fake_time.sleeps == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    stub.assert_no_pending_responses()


# --- clean-up --------------------------------------------------------------------------------------------
def test_failing_delete_is_logged_not_raised_and_the_path_is_still_deleted(
    ec2: Any, stub: Stubber, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    expect_create_path(stub)
    expect_start(stub)
    expect_describe(stub, analysis("succeeded", NetworkPathFound=True))
    stub.add_client_error(
        "delete_network_insights_analysis",
        service_error_code="UnauthorizedOperation",
        service_message="You are not authorized to perform this operation.",
        http_status_code=403,
        expected_params={"NetworkInsightsAnalysisId": ANALYSIS_ID},
    )
    expect_delete_path(stub)

    with caplog.at_level(logging.WARNING, logger="peering_autopilot.reachability"):
        result = run(ec2, fake_time)

    assert result == AnalyzerResult("reachable", f"analysis {ANALYSIS_ID} found a path")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            f"could not delete NetworkInsightsAnalysisId {ANALYSIS_ID}: ec2 DeleteNetworkInsightsAnalysis failed in "
            "account 111111111111 region us-east-1: UnauthorizedOperation: You are not authorized to perform this "
            "operation.",
        )
    ]
    stub.assert_no_pending_responses()


def test_both_deletes_failing_log_twice_and_keep_the_verdict(
    ec2: Any, stub: Stubber, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    expect_create_path(stub)
    expect_start(stub)
    expect_describe(stub, analysis("succeeded", NetworkPathFound=False, Explanations=[SG_EXPLANATION]))
    stub.add_client_error(
        "delete_network_insights_analysis", service_error_code="InvalidNetworkInsightsAnalysisId.NotFound"
    )
    stub.add_client_error("delete_network_insights_path", service_error_code="InvalidNetworkInsightsPathId.NotFound")

    with caplog.at_level(logging.WARNING, logger="peering_autopilot.reachability"):
        result = run(ec2, fake_time)

    assert result.status == "blocked"
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        f"could not delete NetworkInsightsAnalysisId {ANALYSIS_ID}",
        f"could not delete NetworkInsightsPathId {PATH_ID}",
    ]
    stub.assert_no_pending_responses()


# --- explanation codes onto the checklist --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "step"),
    [
        ("SUBNET_ACL_RESTRICTION", "network-acls"),
        ("ACL_RESTRICTION", "network-acls"),
        ("ENI_SG_RULES_MISMATCH", "security-groups"),
        ("SECURITY_GROUP_RESTRICTION", "security-groups"),
        ("NO_ROUTE_TO_DESTINATION", "routes"),
        ("ROUTE_TABLE_ROUTE_NOT_MATCHING", "routes"),
        ("TGW_RTB_CANNOT_ROUTE", "routes"),
        ("BAD_STATE", "peering"),
        ("BAD_STATE_WRONG_TYPE", "peering"),
        ("PCX_REQUIRES_ACCEPTANCE", "peering"),
        ("VPC_PEERING_CONNECTION_NOT_ACTIVE", "peering"),
        ("ENI_SOURCE_DEST_CHECK_RESTRICTION", "other"),
        ("IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS", "other"),
        ("", "other"),
    ],
    ids=lambda value: value or "empty",
)
def test_step_of(code: str, step: str) -> None:
    assert step_of(code) == step
