"""Every function EventBridge invokes (asynchronously) sends what it could not process to the
failed-events queue, whose alarm says so; the checkov skips that cite it (CKV_AWS_116, no DLQ)
are true of each function that carries one."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopilot_local.template import load_yaml

PROJECT = Path(__file__).resolve().parents[2]
HUB = load_yaml(PROJECT / "template.yaml")
FUNCTIONS = sorted(k for k, v in HUB["Resources"].items() if v["Type"] == "AWS::Serverless::Function")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_sends_its_failed_events_to_the_alarmed_queue(function: str) -> None:
    resource = HUB["Resources"][function]
    on_failure = resource["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}}
    skips = {s["id"]: s["comment"] for s in resource["Metadata"]["checkov"]["skip"]}
    assert "FailedEventsQueue through EventInvokeConfig OnFailure" in skips["CKV_AWS_116"]
    alarm = HUB["Resources"]["FailedEventsAlarm"]["Properties"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailedEventsQueue", "QueueName"]}}]
