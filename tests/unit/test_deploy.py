"""`make member-stackset`: the member stacks' parameters come from the deployed hub stack, by name;
the commands it prints deploy them with the capabilities and permission model they need."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import boto3
import pytest

from autopilot_local import deploy
from autopilot_local.template import load_yaml

PROJECT = Path(__file__).resolve().parents[2]
HUB = load_yaml(PROJECT / "template.yaml")
MEMBER = load_yaml(PROJECT / "member" / "template.yaml")
REGION = "us-east-1"


def test_every_member_parameter_without_a_default_is_a_hub_output_or_parameter_of_the_same_name() -> None:
    required = {k for k, spec in MEMBER["Parameters"].items() if "Default" not in spec}
    assert required  # the member stack cannot be deployed without the hub's values
    assert required <= set(HUB["Outputs"]) | set(HUB["Parameters"])
    # ... and the ones with defaults that the hub has too are taken from it (the hub must agree)
    shared = (set(MEMBER["Parameters"]) - required) & (set(HUB["Outputs"]) | set(HUB["Parameters"]))
    assert "MemberRoleName" in shared


def hub_stack(mocked_aws: None, outputs: dict[str, str], parameters: dict[str, str]) -> None:
    """A stack with the hub's parameter and output names (values made up): moto cannot run SAM."""
    body = {
        "Parameters": {name: {"Type": "String", "Default": value} for name, value in parameters.items()},
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="peering-autopilot", TemplateBody=json.dumps(body)
    )


OUTPUTS = {
    name: f"value-of-{name}"
    for name in HUB["Outputs"]
    if name not in ("HubAccountId", "HubRegion") and not name.endswith("FunctionRoleArn")
}
OUTPUTS |= {
    "HubAccountId": "123456789012",
    "HubRegion": REGION,
    **{
        f"{name}FunctionRoleArn": f"arn:aws:iam::123456789012:role/peering-autopilot/peering-autopilot-{name}Role-X1"
        for name in ("Accept", "Configure", "Verify", "Cleanup", "Connect", "Sweep")
    },
}
PARAMETERS = {"MemberRoleName": "TeamPeeringMember", "ManagedRegions": "us-east-1,eu-west-1"}


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    try:
        code = deploy.main(
            ["--org-unit", "ou-ab12-34cd56ef", "--region", REGION, "--out", str(tmp_path / "p.json"), *extra]
        )
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_parameters_are_the_hubs_outputs_and_the_commands_deploy_them_to_the_ous(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hub_stack(mocked_aws, OUTPUTS, PARAMETERS)

    code, out, _ = run(capsys, tmp_path)

    assert code == 0
    given = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads((tmp_path / "p.json").read_text())}
    for name in MEMBER["Parameters"]:
        if name in OUTPUTS:
            assert given.pop(name) == OUTPUTS[name]
        elif name in PARAMETERS:
            assert given.pop(name) == PARAMETERS[name]
    assert given == {}  # nothing the member template does not declare
    commands: dict[str, list[str]] = {}
    for line in out.splitlines():
        if line.startswith("aws "):
            argv = shlex.split(line)
            commands[argv[2]] = argv
    assert list(commands) == [
        "create-stack-set",
        "create-stack-instances",
        "update-stack-set",
        "delete-stack-instances",
        "delete-stack-set",
    ]
    create = commands["create-stack-set"]
    assert option(create, "--capabilities") == ["CAPABILITY_NAMED_IAM"]  # the member role has a fixed name
    assert option(create, "--permission-model") == ["SERVICE_MANAGED"]
    assert option(create, "--auto-deployment") == ["Enabled=true,RetainStacksOnAccountRemoval=false"]
    assert option(create, "--template-body") == ["file://member/template.yaml"]
    assert option(create, "--parameters") == [f"file://{tmp_path / 'p.json'}"]
    instances = commands["create-stack-instances"]
    assert option(instances, "--deployment-targets") == ["OrganizationalUnitIds=ou-ab12-34cd56ef"]
    assert option(instances, "--regions") == ["us-east-1", "eu-west-1"]  # the hub's ManagedRegions
    assert "--no-retain-stacks" in commands["delete-stack-instances"]
    assert all(option(c, "--call-as") == ["SELF"] and option(c, "--region") == [REGION] for c in commands.values())


def option(argv: list[str], name: str) -> list[str]:
    at = argv.index(name) + 1
    values = []
    while at < len(argv) and not argv[at].startswith("--"):
        values.append(argv[at])
        at += 1
    return values


def test_a_hub_stack_that_does_not_exist_is_named_and_nothing_is_written(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, tmp_path, "--hub-stack", "not-there")

    assert code == 2
    assert "hub stack not-there in us-east-1 cannot be read" in err
    assert out == "" and not (tmp_path / "p.json").exists()


def test_a_hub_stack_without_an_output_the_members_need_is_refused_naming_it(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outputs: dict[str, Any] = {k: v for k, v in OUTPUTS.items() if k != "HubEventBusName"}
    hub_stack(mocked_aws, outputs, PARAMETERS)

    code, out, err = run(capsys, tmp_path)

    assert code == 2
    assert "no output or parameter for member parameter(s) HubEventBusName" in err
    assert out == "" and not (tmp_path / "p.json").exists()
