"""The templates grant each function and the member role exactly the actions the code declares."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from autopilot_local.template import Stack, load_yaml
from peering_autopilot import accept, cleanup, configure, connect, places, sweep, verify
from peering_autopilot.aws.ssm import PING_DOCUMENT

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
    "ConnectPeeringFunction": connect.IAM_ACTIONS,
    "SweepFunction": sweep.IAM_ACTIONS,
}


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    """What the statements allow (a Deny only narrows it: test_history_is_append_only)."""
    found: set[str] = set()
    for statement in statements:
        if statement["Effect"] == "Deny":
            assert statement.get("Sid") in ("HistoryIsAppendOnly", "MembershipIsTheSweeps"), statement
            continue
        assert statement["Effect"] == "Allow"
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def _function_statements(logical_id: str) -> list[dict[str, Any]]:
    policies = HUB["Resources"][logical_id]["Properties"]["Policies"]
    return [s for policy in policies for s in policy["Statement"]]


# Actions the functions take only in the hub's account: the policy document's parameter.
HUB_ONLY = {"ssm:GetParameter"}


# Each hub function's role in the other managed accounts (member/template.yaml), and its name there.
MEMBER_ROLES = {
    "AcceptPeeringFunction": ("AccepterRole", "accepter"),
    "ConfigurePeeringFunction": ("ConfigurerRole", "configurer"),
    "VerifyPeeringFunction": ("VerifierRole", "verifier"),
    "CleanupPeeringFunction": ("CleanerRole", "cleaner"),
    "ConnectPeeringFunction": ("ConnectorRole", "connector"),
    "SweepFunction": ("ReaderRole", "reader"),
}


def _member_statements(role: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = MEMBER["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    return statements


def _statements(owner: str) -> list[dict[str, Any]]:
    return _member_statements(owner) if owner in MEMBER["Resources"] else _function_statements(owner)


def test_every_function_of_the_template_is_checked() -> None:
    functions = {k for k, v in HUB["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert functions == set(FUNCTIONS)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_is_granted_exactly_what_its_code_declares(logical_id: str) -> None:
    # sqs:SendMessage is the plumbing's (the OnFailure destination) and the code's (the record's
    # backlog): granted on each queue by a statement of its own.
    assert _actions(_function_statements(logical_id)) - PLUMBING == FUNCTIONS[logical_id] - PLUMBING
    [backlog] = [s for s in _function_statements(logical_id) if s.get("Sid") == "RecordBacklog"]
    assert "sqs:SendMessage" in backlog["Action"]
    assert backlog["Resource"] == {"Fn::GetAtt": ["RecordBacklogQueue", "Arn"]}


def test_the_member_template_has_one_role_for_each_function_and_no_other_the_hub_assumes() -> None:
    assumed = {k for k, r in MEMBER["Resources"].items() if r["Type"] == "AWS::IAM::Role" and k != "ForwardRole"}
    assert assumed == {role for role, _ in MEMBER_ROLES.values()}
    assert set(MEMBER_ROLES) == set(FUNCTIONS)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_member_role_grants_what_its_function_calls_in_member_accounts_and_nothing_more(function: str) -> None:
    role, _ = MEMBER_ROLES[function]
    in_members = {
        a for a in FUNCTIONS[function] if a.startswith(("ec2:", "ssm:", "cloudtrail:", "servicequotas:"))
    } - HUB_ONLY
    assert _actions(_member_statements(role)) == in_members


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_member_role_is_named_for_its_function_and_trusts_only_that_functions_role(function: str) -> None:
    role, suffix = MEMBER_ROLES[function]
    properties = MEMBER["Resources"][role]["Properties"]
    assert properties["RoleName"] == {"Fn::Sub": f"${{MemberRoleName}}-{suffix}"}
    # the hub function assumes exactly that name, and its environment says which it is
    [assume] = [s for s in _function_statements(function) if s.get("Sid") == "AssumeMemberRole"]
    assert assume["Resource"] == {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::*:role/${{MemberRoleName}}-{suffix}"}
    assert HUB["Resources"][function]["Properties"]["Environment"]["Variables"]["MEMBER_ROLE"] == suffix
    # trusted: the hub output of that function's role, passed as the member parameter of the same name
    # (the reader's second statement, the read-only principals', is deployed only when some are given)
    statement = properties["AssumeRolePolicyDocument"]["Statement"][0]
    output = f"{function.removesuffix('PeeringFunction').removesuffix('Function')}FunctionRoleArn"
    assert HUB["Outputs"][output]["Value"] == {"Fn::GetAtt": [f"{function}Role", "Arn"]}
    member = Stack(
        PROJECT / "member/template.yaml",
        {**MEMBER_VALUES, output: f"arn:aws:iam::123456789012:role/peering-autopilot/{function}"},
        "222222222222",
        "us-east-1",
    )
    resolved = member.resolve(properties["AssumeRolePolicyDocument"]["Statement"])
    assert resolved == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::123456789012:role/peering-autopilot/{function}"},
            "Action": "sts:AssumeRole",
        }
    ]
    assert member.resolve(statement) == resolved[0]


def test_the_reader_role_alone_may_also_be_assumed_by_the_read_only_principals_given() -> None:
    statements = MEMBER["Resources"]["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    people = "arn:aws:iam::222222222222:role/NetworkOps,arn:aws:iam::222222222222:role/Audit"
    member = Stack(
        PROJECT / "member/template.yaml",
        {**MEMBER_VALUES, "ReadOnlyPrincipalArns": people, "OrganizationId": "o-abc123def4"},
        "222222222222",
        "us-east-1",
    )
    # the sweep's role without a condition; the people's only from inside the Organization
    assert member.resolve(statements) == [
        {"Effect": "Allow", "Principal": {"AWS": MEMBER_VALUES["SweepFunctionRoleArn"]}, "Action": "sts:AssumeRole"},
        {
            "Sid": "ReadOnlyPrincipalsOfTheOrganization",
            "Effect": "Allow",
            "Principal": {"AWS": people.split(",")},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}},
        },
    ]
    # no other member role trusts anyone but its function's role
    for role, _ in MEMBER_ROLES.values():
        trust = member.resolve(MEMBER["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"])
        assert len(trust) == (2 if role == "ReaderRole" else 1), role


def test_read_only_principals_need_the_organization() -> None:
    with pytest.raises(ValueError, match="ReadOnlyPrincipalArns needs OrganizationId"):
        Stack(
            PROJECT / "member/template.yaml",
            {**MEMBER_VALUES, "ReadOnlyPrincipalArns": "arn:aws:iam::222222222222:role/NetworkOps"},
            "222222222222",
            "us-east-1",
        )


def test_the_reader_role_grants_every_read_of_the_status_command() -> None:
    # `peering-autopilot status` reads the other accounts through the reader role (ReadOnlyPrincipalArns).
    assert {a for a in places.IAM_ACTIONS if a.startswith("ec2:")} <= _actions(_member_statements("ReaderRole"))


# The member template's required parameters, as `make member-stackset` takes them from the hub.
MEMBER_VALUES = {
    "HubAccountId": "123456789012",
    "HubRegion": "us-east-1",
    "HubEventBusName": "b",
    **{
        f"{name}FunctionRoleArn": f"arn:aws:iam::123456789012:role/peering-autopilot/{name}"
        for name in ("Accept", "Configure", "Verify", "Cleanup", "Connect", "Sweep")
    },
}


def _accepter_vpc(more: str) -> dict[str, Any]:
    """The connector's ec2:AccepterVpc (raw, as written): any with OUs, else the managed accounts by id."""
    accounts = f"arn:*:ec2:*:${{AWS::AccountId}}:vpc/*{more},arn:*:ec2:*:${{Accounts}}:vpc/*"
    joined = {"Fn::Join": [":vpc/*,arn:*:ec2:*:", {"Ref": "ApprovedAccountIds"}]}
    return {
        "Fn::If": [
            "HasManagedUnits",
            "arn:*:ec2:*:*:vpc/*",
            {"Fn::Split": [",", {"Fn::Sub": [accounts, {"Accounts": joined}]}]},
        ]
    }


GUARDED = {
    "AcceptIntoOptedInVpcs": {"StringEquals": {"aws:ResourceTag/peering-autopilot:enabled": "true"}},
    # Only the autopilot's own notes on a peering; configure also notes (and clears) held refusals.
    "TagPeeringStatusOnly": {"ForAllValues:StringEquals": {"aws:TagKeys": ["peering-autopilot:status"]}},
    # accept: also the attempts at a decision a reason that may pass held back (issue 21, rule 6),
    # and that the reminder of a request awaiting a person went out (issue 22)
    "TagPeeringStatusAndRetry": {
        "ForAllValues:StringEquals": {
            "aws:TagKeys": [
                "peering-autopilot:status",
                "peering-autopilot:retry",
                "peering-autopilot:approval-reminded",
            ]
        },
        "Null": {"aws:TagKeys": "false"},  # never DeleteTags without keys: that deletes every tag
    },
    "TagPeeringStatusAndHolds": {
        "ForAllValues:StringLike": {
            "aws:TagKeys": ["peering-autopilot:status", "peering-autopilot:held:*", "peering-autopilot:remote-dns:*"]
        },
        "Null": {"aws:TagKeys": "false"},
    },
    # A Name only where the peering has none (issue 11, point 4).
    "NamePeeringsWithoutOne": {
        "ForAllValues:StringEquals": {"aws:TagKeys": ["Name"]},
        "Null": {"aws:ResourceTag/Name": "true"},
    },
    # A table is routed only when its routes tag is absent or `true` in any case (issue 9, point 3):
    # two statements, since conditions in one statement are ANDed.
    "AddPeeringRoutesUntaggedTables": {"Null": {"aws:ResourceTag/peering-autopilot:routes": "true"}},
    "AddPeeringRoutesTablesTaggedTrue": {
        "StringEqualsIgnoreCase": {"aws:ResourceTag/peering-autopilot:routes": "true"}
    },
    # Routes are taken back only where they may be added (issue 23, point 13): the same two statements.
    **{
        f"{verb}UntaggedTables": {"Null": {"aws:ResourceTag/peering-autopilot:routes": "true"}}
        for verb in ("RemovePeeringRoutes", "RemoveUnwantedRoutes")
    },
    **{
        f"{verb}TablesTaggedTrue": {"StringEqualsIgnoreCase": {"aws:ResourceTag/peering-autopilot:routes": "true"}}
        for verb in ("RemovePeeringRoutes", "RemoveUnwantedRoutes")
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
    # Peering groups: requests only from opted-in VPCs, to other accounts' VPCs, carrying the
    # created-for-group tag (and only that tag at creation); only such peerings deleted.
    "RequestFromOptedInVpcs": {"StringEquals": {"aws:ResourceTag/peering-autopilot:enabled": "true"}},
    # ... in the Organization (or the managed accounts); the accepter's account limited by ARN
    # (the hub's and the member's forms: test_the_connectors_accepter_is_limited_to_managed_accounts)
    "RequestToOtherAccountsVpcs": (
        {
            "StringNotEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}},
            "StringEquals": {
                "Fn::If": [
                    "HasOrganization",
                    {"aws:ResourceOrgID": {"Ref": "OrganizationId"}},
                    {"aws:ResourceAccount": {"Ref": "ApprovedAccountIds"}},
                ]
            },
        },
        {
            "StringNotEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}},
            "StringEquals": {
                "Fn::If": [
                    "HasOrganization",
                    {"aws:ResourceOrgID": {"Ref": "OrganizationId"}},
                    {
                        "aws:ResourceAccount": {
                            "Fn::Split": [
                                ",",
                                {
                                    "Fn::Join": [
                                        ",",
                                        [{"Ref": "HubAccountId"}, {"Fn::Join": [",", {"Ref": "ApprovedAccountIds"}]}],
                                    ]
                                },
                            ]
                        }
                    },
                ]
            },
        },
    ),
    "RequestTaggedForAGroup": (
        {
            "Null": {"aws:RequestTag/peering-autopilot:created-for-group": "false"},
            "ArnLike": {"ec2:AccepterVpc": _accepter_vpc("")},
        },
        {
            "Null": {"aws:RequestTag/peering-autopilot:created-for-group": "false"},
            "ArnLike": {"ec2:AccepterVpc": _accepter_vpc(",arn:*:ec2:*:${HubAccountId}:vpc/*")},
        },
    ),
    # Remote DNS only on a peering whose side the autopilot marked as its own to turn on
    "SetRemoteDnsOfMarkedRequesterSides": {
        "StringEquals": {"aws:ResourceTag/peering-autopilot:remote-dns:requester": "on"}
    },
    "SetRemoteDnsOfMarkedAccepterSides": {
        "StringEquals": {"aws:ResourceTag/peering-autopilot:remote-dns:accepter": "on"}
    },
    "TagRequestsAtCreation": {
        "StringEquals": {"ec2:CreateAction": "CreateVpcPeeringConnection"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["peering-autopilot:created-for-group"]},
    },
    "WithdrawOwnGroupPeerings": {"Null": {"aws:ResourceTag/peering-autopilot:created-for-group": "false"}},
}


@pytest.mark.parametrize("owner", [*sorted(FUNCTIONS), *sorted(role for role, _ in MEMBER_ROLES.values())])
def test_mutations_are_limited_by_the_owners_tags(owner: str) -> None:
    statements = _statements(owner)
    for statement in statements:
        if statement.get("Sid") in GUARDED:
            expected = GUARDED[statement["Sid"]]
            assert statement["Condition"] in (expected if isinstance(expected, tuple) else (expected,)), statement[
                "Sid"
            ]
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
        "ec2:CreateVpcPeeringConnection",
        "ec2:DeleteVpcPeeringConnection",
        "ec2:ModifyVpcPeeringConnectionOptions",
        "ec2:DeleteRoute",
    }
    for action in mutating & _actions(statements):
        if action == "ec2:AcceptVpcPeeringConnection":
            assert any(s.get("Sid") == "AcceptIntoOptedInVpcs" for s in statements)
            continue
        granting = [s for s in statements if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
        assert all(s.get("Sid") in GUARDED for s in granting), action


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_the_member_role_is_assumed_only_inside_the_organization_or_the_approved_accounts(function: str) -> None:
    [statement] = [s for s in _function_statements(function) if s.get("Sid") == "AssumeMemberRole"]
    with_org = Stack(PROJECT / "template.yaml", {"OrganizationId": "o-abc123def4"}, "123456789012", "us-east-1")
    without = Stack(
        PROJECT / "template.yaml", {"ApprovedAccountIds": "222222222222,333333333333"}, "123456789012", "us-east-1"
    )
    assert with_org.resolve(statement["Condition"]) == {"StringEquals": {"aws:ResourceOrgID": "o-abc123def4"}}
    assert without.resolve(statement["Condition"]) == {
        "StringEquals": {"aws:ResourceAccount": ["222222222222", "333333333333"]}
    }


@pytest.mark.parametrize("path", ["template.yaml", "member/template.yaml"])
def test_the_ping_document_runs_ping_on_one_address_that_its_pattern_checks(path: str) -> None:
    document = load_yaml(PROJECT / path)["Resources"]["PingDocument"]["Properties"]
    assert document["Name"] == PING_DOCUMENT  # the name the code sends
    content = document["Content"]
    pattern = content["parameters"]["TargetIp"]["allowedPattern"]
    for address in ("10.1.1.4", "192.168.0.10", "2600:1f18:abcd::4"):
        assert re.fullmatch(pattern, address), address
    for injected in ("10.1.1.4; curl evil", "$(id)", "10.1.1.4 -f", "", "example.com"):
        assert not re.fullmatch(pattern, injected), injected
    [step] = content["mainSteps"]
    assert step["inputs"]["runCommand"] == ["ping -c 3 -W 2 {{ TargetIp }}"]


@pytest.mark.parametrize("owner", ["VerifyPeeringFunction", "VerifierRole"])
def test_send_command_is_granted_only_on_the_ping_document_and_only_with_live_ping_on(owner: str) -> None:
    statements = _statements(owner)
    granting = [
        s for s in statements if "ssm:SendCommand" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert sorted(s["Sid"] for s in granting) == ["PingFromProbeInstances", "PingWithItsOwnDocument"]
    [document] = [s for s in granting if s["Sid"] == "PingWithItsOwnDocument"]
    template = PROJECT / ("member/template.yaml" if owner == "VerifierRole" else "template.yaml")
    params = MEMBER_VALUES if owner == "VerifierRole" else {}
    on = Stack(template, {**params, "LivePing": "true"}, "222222222222", "us-east-1")
    off = Stack(template, {**params, "LivePing": "false"}, "222222222222", "us-east-1")
    assert on.resolve(document["Resource"]) == "arn:aws:ssm:*:222222222222:document/PeeringAutopilot-Ping"
    assert off.resolve(document["Resource"]).endswith(":document/peering-autopilot-live-ping-off")


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_history_is_append_only_for_every_function(function: str) -> None:
    """No function may change or take out a history item (partition `history#…`): no update or
    delete is allowed at all, and batch writes (puts without a condition) are denied there."""
    statements = _function_statements(function)
    assert not {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"} & (
        _actions(statements)
    )
    [deny] = [s for s in statements if s["Effect"] == "Deny" and s["Sid"] == "HistoryIsAppendOnly"]
    assert deny["Action"] == ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
    assert deny["Resource"] == {"Fn::GetAtt": ["RecordTable", "Arn"]}
    assert deny["Condition"] == {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["history#*"]}}
    writes = [s for s in statements if s["Effect"] == "Allow" and any(a.startswith("dynamodb:") for a in s["Action"])]
    assert all(s["Resource"] == {"Fn::GetAtt": ["RecordTable", "Arn"]} for s in writes)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_reads_the_policy_parameter_and_nothing_else_in_parameter_store(function: str) -> None:
    granting = [s for s in _function_statements(function) if "ssm:GetParameter" in _actions([s])]
    assert [s["Sid"] for s in granting] == ["ReadThePolicy"]
    [statement] = granting
    assert statement["Action"] == "ssm:GetParameter"
    named = Stack(
        PROJECT / "template.yaml", {"PolicyParameterName": "/network/peering-policy"}, "123456789012", "eu-west-1"
    )
    none = Stack(PROJECT / "template.yaml", {}, "123456789012", "eu-west-1")
    assert named.resolve(statement["Resource"]) == "arn:aws:ssm:eu-west-1:123456789012:parameter/network/peering-policy"
    # no document: a name `policy deploy` never writes (the template's pattern wants a leading /
    # and the deploy command refuses this one), so nothing is readable
    assert none.resolve(statement["Resource"]) == (
        "arn:aws:ssm:eu-west-1:123456789012:parameter/peering-autopilot-no-policy"
    )
    variables = HUB["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POLICY_PARAMETER_NAME"] == {"Ref": "PolicyParameterName"}
    pattern = HUB["Parameters"]["PolicyParameterName"]["AllowedPattern"]
    assert re.fullmatch(pattern, "") and re.fullmatch(pattern, "/network/peering-policy")
    assert not re.fullmatch(pattern, "network/peering-policy")  # the ARN above needs the leading /
    assert not re.fullmatch(pattern, "/a/*")


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_only_the_sweep_writes_who_is_managed(function: str) -> None:
    """The membership partition grants accounts their rights: the sweep writes it from its walk of
    the Organization, every other function is denied any write there (it reads it with Query)."""
    statements = _function_statements(function)
    denies = [s for s in statements if s.get("Sid") == "MembershipIsTheSweeps"]
    if function == "SweepFunction":
        assert denies == []
        return
    [deny] = denies
    assert deny["Effect"] == "Deny"
    assert deny["Action"] == [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    ]
    assert deny["Resource"] == {"Fn::GetAtt": ["RecordTable", "Arn"]}
    assert deny["Condition"] == {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["membership"]}}


def test_the_sweep_reads_the_organization_itself_or_through_the_named_role_only() -> None:
    [assume] = [s for s in _function_statements("SweepFunction") if s.get("Sid") == "AssumeOrganizationsReadRole"]
    role = "arn:aws:iam::999999999999:role/PeeringAutopilotOrganizationsReader"
    values = {"OrganizationId": "o-abc123def4", "ManagedOrganizationalUnitIds": "r-ab12"}
    named = Stack(PROJECT / "template.yaml", {**values, "OrganizationsReadRoleArn": role}, "123456789012", "us-east-1")
    delegated = Stack(PROJECT / "template.yaml", values, "123456789012", "us-east-1")
    assert named.resolve(assume["Resource"]) == role
    assert delegated.resolve(assume["Resource"]) == (
        "arn:aws:iam::123456789012:role/peering-autopilot-no-organizations-role"
    )
    [read] = [s for s in _function_statements("SweepFunction") if s.get("Sid") == "ReadOrganization"]
    assert sorted(read["Action"]) == sorted(a for a in sweep.IAM_ACTIONS if a.startswith("organizations:"))


def test_units_without_the_organization_are_refused_before_deploy() -> None:
    with pytest.raises(ValueError, match="ManagedOrganizationalUnitIds needs OrganizationId"):
        Stack(PROJECT / "template.yaml", {"ManagedOrganizationalUnitIds": "r-ab12"}, "123456789012", "us-east-1")
    # ... and with none given (the default: a list whose one member is empty) the rule does not apply
    Stack(PROJECT / "template.yaml", {"ManagedOrganizationalUnitIds": ""}, "123456789012", "us-east-1")


@pytest.mark.parametrize("path", ["template.yaml", "member/template.yaml", "org-reader/template.yaml"])
def test_every_rule_uses_only_cloudformations_rule_functions(path: str) -> None:
    from autopilot_local.template import RULE_FUNCTIONS, intrinsic_functions, load_yaml

    rules = load_yaml(PROJECT / path).get("Rules", {})
    assert {name: intrinsic_functions(rule) - RULE_FUNCTIONS for name, rule in rules.items()} == {
        name: set() for name in rules
    }


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_may_read_who_is_managed_and_the_sweep_may_walk_and_write_it(function: str) -> None:
    from peering_autopilot import membership

    assert FUNCTIONS[function] >= membership.READ_ACTIONS  # authority.with_authority, before every step
    if function == "SweepFunction":
        assert FUNCTIONS[function] >= membership.REFRESH_ACTIONS


def _statements_anywhere(node: Any) -> list[dict[str, Any]]:
    """Every IAM statement in a template, whatever resource or policy holds it."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Statement" and isinstance(value, list):
                found += [s for s in value if isinstance(s, dict)]
            else:
                found += _statements_anywhere(value)
    elif isinstance(node, list):
        for item in node:
            found += _statements_anywhere(item)
    return found


@pytest.mark.parametrize("template", ["template.yaml", "member/template.yaml"])
def test_no_grant_of_delete_tags_allows_a_call_without_keys(template: str) -> None:
    """DeleteTags with no keys deletes every tag of the resource, and ForAllValues is true of an
    empty set: each grant of it must also require the keys to be there (Null aws:TagKeys false)."""
    body = load_yaml(PROJECT / template)
    granting = [
        s for s in _statements_anywhere(body) if s.get("Effect") == "Allow" and "ec2:DeleteTags" in _actions([s])
    ]
    assert granting, f"{template} grants ec2:DeleteTags nowhere: the test would check nothing"
    for statement in granting:
        assert statement["Condition"].get("Null") == {"aws:TagKeys": "false"}, statement.get("Sid")


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),  # none: the default
        ("arn:aws:iam::123456789012:role/NetworkOnCall", True),
        ("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_ReadOnly_0123", True),
        ("arn:aws-us-gov:iam::123456789012:role/NetworkOnCall", True),
        ("*", False),
        ("123456789012", False),  # a bare account id trusts every principal of the account
        ("arn:aws:iam::123456789012:root", False),
        ("arn:aws:iam::*:role/NetworkOnCall", False),
        ("arn:aws:iam::123456789012:role/*", False),
        ("arn:aws:iam::123456789012:role/Network*", False),
        ("arn:aws:iam::123456789012:user/alice", False),
        ("arn:aws:iam::123456789012:role/NetworkOnCall ", False),
    ],
)
def test_the_reader_roles_extra_principals_are_whole_role_arns(value: str, allowed: bool) -> None:
    """ReadOnlyPrincipalArns (member template): CloudFormation holds each value of the list to the
    pattern before deploying (AllowedPattern on a CommaDelimitedList applies to each value)."""
    pattern = load_yaml(PROJECT / "member/template.yaml")["Parameters"]["ReadOnlyPrincipalArns"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is allowed


def _connector_statement(stack: Stack, sid: str, member: bool) -> dict[str, Any]:
    if member:
        policies = stack.resolve(stack.resources["ConnectorRole"]["Properties"]["Policies"])
        statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    else:
        policies = stack.resolve(stack.resources["ConnectPeeringFunction"]["Properties"]["Policies"])
        statements = [s for p in policies for s in p["Statement"]]
    [statement] = [s for s in statements if s.get("Sid") == sid]
    return statement


@pytest.mark.parametrize("member", [False, True], ids=["hub", "member"])
def test_the_connectors_accepter_is_limited_to_managed_accounts(member: bool) -> None:
    """ec2:AccepterVpc on the new peering (what AWS enforces on the accepter): the accounts managed
    by id; with OUs (accounts read at run time) any; evaluated as IAM does (access.conditions_hold)."""
    from autopilot_local.access import conditions_hold

    path, account = ("member/template.yaml", "222222222222") if member else ("template.yaml", "123456789012")
    values = {"ApprovedAccountIds": "222222222222,333333333333"}
    by_id = Stack(PROJECT / path, {**(MEMBER_VALUES if member else {}), **values}, account, "us-east-1")
    with_ous = Stack(
        PROJECT / path,
        {
            **(MEMBER_VALUES if member else {}),
            **values,
            "OrganizationId": "o-abc123def4",
            "ManagedOrganizationalUnitIds": "ou-ab12-cdefgh34",
        },
        account,
        "us-east-1",
    )

    def allows(stack: Stack, accepter_account: str) -> bool:
        condition = _connector_statement(stack, "RequestTaggedForAGroup", member)["Condition"]
        context = {
            "ec2:acceptervpc": f"arn:aws:ec2:eu-west-1:{accepter_account}:vpc/vpc-0123456789abcdef0",
            "aws:requesttag/peering-autopilot:created-for-group": "blue",
        }
        return conditions_hold(condition, context)

    for managed in ("123456789012", "222222222222", "333333333333"):
        assert allows(by_id, managed), managed
    assert not allows(by_id, "444444444444")  # outside: refused
    assert allows(with_ous, "444444444444")  # an OU's account: IAM cannot know it, the code checks
    # the other account's VPC (should AWS authorize it as a resource): in the Organization
    assert _connector_statement(with_ous, "RequestToOtherAccountsVpcs", member)["Condition"]["StringEquals"] == {
        "aws:ResourceOrgID": "o-abc123def4"
    }


@pytest.mark.parametrize(
    ("pattern", "arn", "like"),
    [
        ("arn:*:ec2:*:222222222222:vpc/*", "arn:aws:ec2:us-east-1:222222222222:vpc/vpc-1", True),
        ("arn:*:ec2:*:222222222222:vpc/*", "arn:aws:ec2:us-east-1:444444444444:vpc/vpc-1", False),
        # a wildcard matches within its part of the ARN only, never past a colon
        ("arn:*:ec2:*:222222222222:vpc/*", "arn:aws:ec2:us-east-1:222222222222:x:vpc/vpc-1", False),
        ("arn:*:ec2:*:*:vpc/*", "arn:aws:ec2:us-east-1:444444444444:vpc/vpc-1", True),
        ("arn:*:ec2:*:222222222222:vpc/*", "arn:aws:ec2:us-east-1:222222222222:subnet/subnet-1", False),
    ],
)
def test_arn_like_matches_each_part_of_the_arn_on_its_own(pattern: str, arn: str, like: bool) -> None:
    from autopilot_local.access import arn_like

    assert arn_like(pattern, arn) is like


def test_the_harness_resolves_sub_with_variables_and_leaves_out_no_value_items(tmp_path: Path) -> None:
    """What the statements above rely on, as CloudFormation does it: Fn::Sub's variable map (its
    names first, then parameters and pseudo parameters), and a list item !Ref AWS::NoValue left out."""
    template = tmp_path / "t.yaml"
    template.write_text(
        "Parameters:\n  Ids: {Type: CommaDelimitedList, Default: 'a,b'}\n"
        "Conditions:\n  Never: !Equals ['1', '2']\n"
        "Resources: {}\n"
    )
    stack = Stack(template, {}, "123456789012", "us-east-1")
    sub = {"Fn::Sub": ["x-${Name}-${AWS::AccountId}", {"Name": {"Fn::Join": ["+", {"Ref": "Ids"}]}}]}
    assert stack.resolve(sub) == "x-a+b-123456789012"
    assert stack.resolve([1, {"Fn::If": ["Never", 2, {"Ref": "AWS::NoValue"}]}, 3]) == [1, 3]
