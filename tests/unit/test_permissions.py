"""The templates grant each function and the member role exactly the actions the code declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autopilot_local.template import load_yaml
from peering_autopilot.aws import AwsAccess, Ec2Gateway, EventPublisher, iam_actions

PROJECT = Path(__file__).resolve().parents[2]
HUB = load_yaml(PROJECT / "template.yaml")
MEMBER = load_yaml(PROJECT / "member" / "template.yaml")
# Actions of the plumbing around the code, not of the code: the failed-events destination.
PLUMBING = {"sqs:SendMessage"}


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def _function_actions(logical_id: str) -> set[str]:
    policies = HUB["Resources"][logical_id]["Properties"]["Policies"]
    return _actions([s for policy in policies for s in policy["Statement"]])


def test_accept_function_is_granted_exactly_what_its_gateways_call() -> None:
    declared = iam_actions(AwsAccess, Ec2Gateway, EventPublisher)
    assert _function_actions("AcceptPeeringFunction") - PLUMBING == declared


def test_member_role_grants_the_ec2_actions_the_hub_calls_in_member_accounts() -> None:
    policy = MEMBER["Resources"]["MemberRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert _actions(policy["Statement"]) == iam_actions(Ec2Gateway)


def test_member_role_trusts_only_the_hub_function_roles() -> None:
    trust = MEMBER["Resources"]["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"AWS": {"Ref": "HubFunctionRoleArns"}}, "Action": "sts:AssumeRole"}
    ]


def test_accepting_is_limited_to_opted_in_vpcs_in_both_templates() -> None:
    hub = HUB["Resources"]["AcceptPeeringFunction"]["Properties"]["Policies"][0]["Statement"]
    member = MEMBER["Resources"]["MemberRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    for statements in (hub, member):
        [vpc_grant] = [s for s in statements if s.get("Sid") == "AcceptIntoOptedInVpcs"]
        assert vpc_grant["Condition"] == {"StringEquals": {"aws:ResourceTag/peering-autopilot:enabled": "true"}}
        [tagging] = [s for s in statements if s.get("Sid") == "TagPeeringStatusOnly"]
        assert tagging["Condition"] == {"ForAllValues:StringEquals": {"aws:TagKeys": ["peering-autopilot:status"]}}
