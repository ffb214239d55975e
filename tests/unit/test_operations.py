"""Operations in template.yaml: every function logs to a group with a retention, the alarms watch
the metrics the code really emits (namespace and dimension as Powertools writes them) and tell the
notification topic only when one is given, and the dashboard shows every metric the code emits."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest

from autopilot_local.template import Stack, load_yaml
from peering_autopilot import lambda_adapter, membership, sweep
from peering_autopilot.results import StepResult

PROJECT = Path(__file__).resolve().parents[2]
TOPIC = "arn:aws:sns:us-east-1:123456789012:network-team"


def stack(**parameters: str) -> Stack:
    return Stack(PROJECT / "template.yaml", parameters, "123456789012", "us-east-1")


STACK = stack()
RESOURCES: dict[str, Any] = STACK.resources
FUNCTIONS = sorted(k for k, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function")
ENVIRONMENT = STACK.body["Globals"]["Function"]["Environment"]["Variables"]
NAMESPACE, SERVICE = ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"], ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]


def emitted_metrics() -> set[str]:
    """Every metric the Lambda adapter writes: each step result's outcomes', the sweep's, and its own."""
    names: set[str] = set()
    for step_module, _, _ in lambda_adapter.STEPS.values():
        module = importlib.import_module(f"peering_autopilot.{step_module}")
        results = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, StepResult)]
        names |= {name for result in results for name in result.METRICS.values()}
    names |= set(sweep.SweepReport(sweep.Outcome.SWEPT).metrics())
    # a scheduled sweep that walked the Organization (ManagedOrganizationalUnitIds) counts its walk too
    names |= set(sweep.SweepReport(sweep.Outcome.SWEPT, organization=membership.Refresh()).metrics())
    names |= set(re.findall(r'add_metric\(name="(\w+)"', inspect.getsource(lambda_adapter)))
    return names


def test_the_steps_declare_the_metrics_they_always_emitted() -> None:
    assert emitted_metrics() == {
        "PeeringsAccepted",
        "PeeringsDeclined",
        "PeeringsRejected",
        "PeeringsSkipped",
        "PeeringsAwaitingApproval",  # issue 22: requests the policy asks a person about
        "PeeringApprovalsExpired",
        "PeeringsConfigured",
        "PeeringsPartiallyConfigured",
        "ConfigureSkipped",
        "PeeringsVerified",
        "PeeringVerificationsFailed",
        "PeeringsCleanedUp",
        "PeeringsRequested",
        "PeeringsWithdrawn",
        "WorkFound",
        "SweepPlacesFailed",
        "MembershipUnknown",
        "OrganizationWalkIncomplete",  # a sweep whose walk of the Organization failed part-way
        "PolicyUnavailable",  # the policy document cannot be used: every step stops
        "Failures",
        "InvalidEvents",
        "RecordWritesDeferred",
        "RecordWritesLost",
    }


def alarms() -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_the_metrics_found_in_the_code_are_the_ones_the_readme_lists() -> None:
    assert {"PeeringVerificationsFailed", "SweepPlacesFailed", "Failures", "InvalidEvents"} <= emitted_metrics()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_logs_to_a_group_of_its_own_with_the_retention_parameter(function: str) -> None:
    group = RESOURCES[function]["Properties"]["LoggingConfig"]["LogGroup"]
    assert set(group) == {"Ref"}
    log_group = RESOURCES[group["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert stack(LogRetentionDays="90").resolve(log_group["Properties"]["RetentionInDays"]) == "90"
    others = [f for f in FUNCTIONS if f != function]
    assert all(RESOURCES[f]["Properties"]["LoggingConfig"]["LogGroup"] != group for f in others)


def test_each_function_has_an_errors_alarm_and_the_failed_events_queue_one() -> None:
    lambda_alarms = {a["Dimensions"][0]["Value"]["Ref"]: a for a in alarms().values() if a["Namespace"] == "AWS/Lambda"}
    assert sorted(lambda_alarms) == FUNCTIONS
    assert {a["MetricName"] for a in lambda_alarms.values()} == {"Errors"}
    [queue] = [a for a in alarms().values() if a["Namespace"] == "AWS/SQS"]
    assert queue["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert queue["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailedEventsQueue", "QueueName"]}}]


def test_the_autopilots_own_alarms_watch_metrics_the_code_emits_as_powertools_writes_them() -> None:
    own = {a["MetricName"]: a for a in alarms().values() if a["Namespace"] == NAMESPACE}
    assert sorted(own) == [
        "MembershipUnknown",
        "OrganizationWalkIncomplete",
        "PeeringVerificationsFailed",
        "PolicyUnavailable",
        "RecordWritesLost",
        "SweepPlacesFailed",
    ]
    assert set(own) <= emitted_metrics()
    for alarm in own.values():
        assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]  # Powertools' default dimension


@pytest.mark.parametrize("name", sorted(alarms()))
def test_every_alarm_fires_on_the_first_occurrence_and_not_on_silence(name: str) -> None:
    alarm = alarms()[name]
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
        0,
        "GreaterThanThreshold",
        1,
    )
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("name", sorted(alarms()))
def test_an_alarm_tells_the_topic_only_when_one_is_given(name: str) -> None:
    actions = alarms()[name]["AlarmActions"]
    assert stack(NotificationTopicArn=TOPIC).resolve(actions) == [TOPIC]
    assert stack().resolve(actions) is None  # AWS::NoValue: no action


def test_the_dashboard_shows_every_metric_the_code_emits_and_every_alarmed_one() -> None:
    [dashboard] = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = json.loads(STACK.resolve(dashboard["DashboardBody"]))
    shown = {tuple(m[:2]) for widget in body["widgets"] for m in widget["properties"]["metrics"]}
    assert {(NAMESPACE, name) for name in emitted_metrics() - {"ColdStart"}} <= shown
    assert {(a["Namespace"], a["MetricName"]) for a in alarms().values()} <= shown
    own = [m for widget in body["widgets"] for m in widget["properties"]["metrics"] if m[0] == NAMESPACE]
    assert all(m[2:] == ["service", SERVICE] for m in own)


def test_every_checkov_suppression_names_its_check_and_says_why() -> None:
    skips = [
        (name, skip)
        for path in ("template.yaml", "member/template.yaml")
        for name, resource in load_yaml(PROJECT / path)["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), name
        assert len(skip.get("comment", "")) > 20, (name, skip["id"])
