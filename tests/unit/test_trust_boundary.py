"""The trust boundary as the templates and the triggers draw it: the hub's bus admits only the
members' forwarding roles with AWS's events, the rules take the autopilot's own events only from
the hub's account, `check_publisher()` refuses any other, and every function's concurrency is
bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autopilot_local.template import load_yaml
from peering_autopilot.errors import InvalidEventError
from peering_autopilot.triggers import check_publisher

PROJECT = Path(__file__).resolve().parents[2]
HUB = load_yaml(PROJECT / "template.yaml")
MEMBER = load_yaml(PROJECT / "member" / "template.yaml")
FORWARDING_ROLES = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/peering-autopilot-forwarding/*"}
BUS_POLICIES = sorted(k for k, r in HUB["Resources"].items() if r["Type"] == "AWS::Events::EventBusPolicy")
FUNCTIONS = sorted(k for k, r in HUB["Resources"].items() if r["Type"] == "AWS::Serverless::Function")


@pytest.mark.parametrize("policy", BUS_POLICIES)
def test_the_bus_admits_only_the_forwarding_roles_and_only_aws_events(policy: str) -> None:
    assert BUS_POLICIES == ["BusPolicyForApprovedAccounts", "BusPolicyForOrganization"]  # both checked
    statement = HUB["Resources"][policy]["Properties"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "events:PutEvents")
    condition = statement["Condition"]
    assert condition["ArnLike"] == {"aws:PrincipalArn": FORWARDING_ROLES}
    assert condition["StringEquals"]["events:source"] == ["aws.ec2", "aws.tag"]
    expected_keys = {"events:source", "aws:PrincipalOrgID"} if "Organization" in policy else {"events:source"}
    assert set(condition["StringEquals"]) == expected_keys


def test_the_members_forwarding_role_is_on_the_path_the_bus_admits_and_nothing_else_of_theirs_is() -> None:
    # The rules that forward put events with the ForwardRole; the member role the hub assumes does not put
    resources = MEMBER["Resources"]
    targets = [t for r in resources.values() if r["Type"] == "AWS::Events::Rule" for t in r["Properties"]["Targets"]]
    assert {t["RoleArn"]["Fn::GetAtt"][0] for t in targets} == {"ForwardRole"}
    assert resources["ForwardRole"]["Properties"]["Path"] == "/peering-autopilot-forwarding/"
    assumed = [r for k, r in resources.items() if r["Type"] == "AWS::IAM::Role" and k != "ForwardRole"]
    assert len(assumed) == 6 and all("Path" not in r["Properties"] for r in assumed)  # "/": never the bus's
    assert HUB["Globals"]["Function"]["RolePath"] == "/peering-autopilot/"  # not the forwarding path either


def own_event_rules() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{function}.{name}", event["Properties"]["Pattern"])
        for function in FUNCTIONS
        for name, event in HUB["Resources"][function]["Properties"]["Events"].items()
        if event["Type"] == "EventBridgeRule" and "peering-autopilot" in event["Properties"]["Pattern"]["source"]
    ]


def test_every_rule_on_the_autopilots_own_events_takes_them_only_from_the_hubs_account() -> None:
    rules = own_event_rules()
    assert sorted(name for name, _ in rules) == [
        "AcceptPeeringFunction.RequestFound",
        "CleanupPeeringFunction.LeftoversFound",
        "CleanupPeeringFunction.RejectedByAutopilot",
        "ConfigurePeeringFunction.AcceptedByAutopilot",
        "ConfigurePeeringFunction.DriftFound",
        "ConnectPeeringFunction.GroupWorkFound",
        "VerifyPeeringFunction.Configured",
    ]
    assert {name: pattern.get("account") for name, pattern in rules} == {
        name: [{"Ref": "AWS::AccountId"}] for name, _ in rules
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_has_a_small_reserved_concurrency(function: str) -> None:
    reserved = HUB["Resources"][function]["Properties"].get("ReservedConcurrentExecutions")
    assert isinstance(reserved, int)
    assert 1 <= reserved <= 4


HUB_ACCOUNT = "123456789012"
NO_ACCOUNT = object()


def own(account: Any, detail_type: Any = "Peering Work Found") -> dict[str, Any]:
    event: dict[str, Any] = {"source": "peering-autopilot", "detail-type": detail_type, "detail": {}}
    if account is not NO_ACCOUNT:
        event["account"] = account
    return event


@pytest.mark.parametrize(
    ("event", "error"),
    [
        pytest.param(
            own("222222222222"),
            "a 'peering-autopilot' 'Peering Work Found' event from account 222222222222 is refused: "
            "the autopilot's own events count only from the hub's account 123456789012",
            id="a member's",
        ),
        pytest.param(
            own("333333333333", "Peering Configured"),
            "a 'peering-autopilot' 'Peering Configured' event from account 333333333333 is refused: "
            "the autopilot's own events count only from the hub's account 123456789012",
            id="an outsider's",
        ),
        pytest.param(
            own(NO_ACCOUNT),
            "a 'peering-autopilot' 'Peering Work Found' event from account None is refused: "
            "the autopilot's own events count only from the hub's account 123456789012",
            id="no account",
        ),
        pytest.param(
            own(123456789012),
            "a 'peering-autopilot' 'Peering Work Found' event from account 123456789012 is refused: "
            "the autopilot's own events count only from the hub's account 123456789012",
            id="the hub's, as a number",
        ),
        pytest.param(
            own("123456789012\n"),
            "a 'peering-autopilot' 'Peering Work Found' event from account '123456789012\\n' is refused: "
            "the autopilot's own events count only from the hub's account 123456789012",
            id="the hub's, with a newline",
        ),
        pytest.param(
            own("x" * 100, ["Peering Accepted"]),
            "a 'peering-autopilot' ['Peering Accepted'] event from account "
            f"'{'x' * 39}... (102 chars) is refused: "
            "the autopilot's own events count only from the hub's account 123456789012",
            id="junk, quoted short",
        ),
    ],
)
def test_an_own_event_the_hub_did_not_put_is_refused_naming_the_account(event: dict[str, Any], error: str) -> None:
    with pytest.raises(InvalidEventError) as refused:
        check_publisher(event, HUB_ACCOUNT)
    assert str(refused.value) == error


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(own(HUB_ACCOUNT), id="the hub's own"),
        pytest.param({"source": "aws.ec2", "account": "222222222222"}, id="CloudTrail's, from a member"),
        pytest.param({"source": "aws.tag", "account": "333333333333"}, id="a tag change, from an outsider"),
        pytest.param({"source": "aws.events", "account": HUB_ACCOUNT}, id="the schedule"),
        pytest.param(
            {"source": "something-else", "account": "444444444444"}, id="another source: the trigger's to refuse"
        ),
    ],
)
def test_the_hubs_own_events_and_awss_events_are_not_refused_here(event: dict[str, Any]) -> None:
    check_publisher(event, HUB_ACCOUNT)
