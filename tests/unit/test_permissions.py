"""The templates grant each function and the member role exactly the actions the code declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autopilot_local.template import load_yaml
from peering_autopilot import accept, cleanup, configure, sweep, verify

PROJECT = Path(__file__).resolve().parents[2]
HUB = load_yaml(PROJECT / "template.yaml")
MEMBER = load_yaml(PROJECT / "member" / "template.yaml")
# Actions of the plumbing around the code, not of the code: the failed-events destination.
PLUMBING = {"sqs:SendMessage"}
FUNCTIONS = {
    "AcceptPeeringFunction": accept.IAM_ACTIONS,
    "ConfigurePeeringFunction": configure.IAM_ACTIONS,
    "VerifyPeeringFunction": verify.IAM_ACTIONS,
    "CleanupPeeringFunction": cleanup.IAM_ACTIONS,
    "SweepFunction": sweep.IAM_ACTIONS,
}


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def _function_statements(logical_id: str) -> list[dict[str, Any]]:
    policies = HUB["Resources"][logical_id]["Properties"]["Policies"]
    return [s for policy in policies for s in policy["Statement"]]


def _member_statements() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = MEMBER["Resources"]["MemberRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    return statements


def test_every_function_of_the_template_is_checked() -> None:
    functions = {k for k, v in HUB["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert functions == set(FUNCTIONS)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_is_granted_exactly_what_its_code_declares(logical_id: str) -> None:
    assert _actions(_function_statements(logical_id)) - PLUMBING == FUNCTIONS[logical_id]


def test_member_role_grants_the_actions_the_hub_calls_in_member_accounts() -> None:
    in_members = {a for actions in FUNCTIONS.values() for a in actions if a.startswith(("ec2:", "ssm:"))}
    assert _actions(_member_statements()) == in_members


def test_member_role_trusts_only_the_hub_function_roles() -> None:
    trust = MEMBER["Resources"]["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"AWS": {"Ref": "HubFunctionRoleArns"}}, "Action": "sts:AssumeRole"}
    ]
    roles = HUB["Outputs"]["HubFunctionRoleArns"]["Value"]["Fn::Join"][1]
    assert sorted(r["Fn::GetAtt"][0] for r in roles) == sorted(f"{name}Role" for name in FUNCTIONS)


GUARDED = {
    "AcceptIntoOptedInVpcs": {"StringEquals": {"aws:ResourceTag/peering-autopilot:enabled": "true"}},
    # Only the autopilot's own notes on a peering; configure also notes (and clears) held refusals.
    "TagPeeringStatusOnly": {"ForAllValues:StringEquals": {"aws:TagKeys": ["peering-autopilot:status"]}},
    "TagPeeringStatusAndHolds": {
        "ForAllValues:StringLike": {"aws:TagKeys": ["peering-autopilot:status", "peering-autopilot:held:*"]}
    },
    # A table is routed only when its routes tag is absent or `true` in any case (issue 9, point 3):
    # two statements, since conditions in one statement are ANDed.
    "AddPeeringRoutesUntaggedTables": {"Null": {"aws:ResourceTag/peering-autopilot:routes": "true"}},
    "AddPeeringRoutesTablesTaggedTrue": {
        "StringEqualsIgnoreCase": {"aws:ResourceTag/peering-autopilot:routes": "true"}
    },
    "OpenTaggedGroups": {"Null": {"aws:ResourceTag/peering-autopilot:allow": "false"}},
    "PingFromProbeInstances": {"StringEquals": {"ssm:resourceTag/peering-autopilot:probe": "true"}},
    # Reachability Analyzer: tagged at creation; only tagged paths analysed, only tagged ones deleted.
    "CreateTaggedPaths": {"StringEquals": {"aws:RequestTag/peering-autopilot:managed": "true"}},
    "AnalyzeTaggedPaths": {"StringEquals": {"aws:ResourceTag/peering-autopilot:managed": "true"}},
    "CreateTaggedAnalyses": {"StringEquals": {"aws:RequestTag/peering-autopilot:managed": "true"}},
    "TagPathsAndAnalysesAtCreation": {
        "StringEquals": {"ec2:CreateAction": ["CreateNetworkInsightsPath", "StartNetworkInsightsAnalysis"]}
    },
    "DeleteTaggedPathsAndAnalyses": {"StringEquals": {"aws:ResourceTag/peering-autopilot:managed": "true"}},
}


@pytest.mark.parametrize("owner", [*sorted(FUNCTIONS), "MemberRole"])
def test_mutations_are_limited_by_the_owners_tags(owner: str) -> None:
    statements = _member_statements() if owner == "MemberRole" else _function_statements(owner)
    for statement in statements:
        if statement.get("Sid") in GUARDED:
            assert statement["Condition"] == GUARDED[statement["Sid"]], statement["Sid"]
    mutating = {
        "ec2:AcceptVpcPeeringConnection",
        "ec2:CreateTags",
        "ec2:DeleteTags",
        "ec2:CreateRoute",
        "ec2:ReplaceRoute",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:CreateNetworkInsightsPath",
        "ec2:StartNetworkInsightsAnalysis",
        "ec2:DeleteNetworkInsightsAnalysis",
        "ec2:DeleteNetworkInsightsPath",
    }
    for action in mutating & _actions(statements):
        if action == "ec2:AcceptVpcPeeringConnection":
            assert any(s.get("Sid") == "AcceptIntoOptedInVpcs" for s in statements)
            continue
        granting = [s for s in statements if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
        assert all(s.get("Sid") in GUARDED for s in granting), action
