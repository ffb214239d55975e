"""`make member-stackset`: the member stacks' parameters come from the deployed hub stack, by name;
the commands it prints deploy them with the capabilities and permission model they need."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import TokenRetrievalError
from botocore.stub import Stubber

from autopilot_local import deploy
from autopilot_local.template import Stack, load_yaml

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


def hub_stack(mocked_aws: None, outputs: dict[str, str], parameters: dict[str, str], region: str = REGION) -> None:
    """A stack with the hub's parameter and output names (values made up): moto cannot run SAM."""
    body = {
        "Parameters": {name: {"Type": "String", "Default": value} for name, value in parameters.items()},
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=region).create_stack(
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


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str, region: str = REGION) -> tuple[int, str, str]:
    try:
        code = deploy.main(
            ["--org-unit", "ou-ab12-34cd56ef", "--region", region, "--out", str(tmp_path / "p.json"), *extra]
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
    # RoleRegion is no hub output or parameter: the hub's region, where the StackSet deploys too
    assert given.pop("RoleRegion") == REGION
    assert given == {}  # nothing the member template does not declare
    commands = by_verb(out)
    assert list(commands) == [
        # the hub account's other region (eu-west-1), with its own credentials: a plain member stack
        "create-stack",
        "update-stack",
        "delete-stack",
        # the management account's or delegated administrator's
        "create-stack-set",
        "create-stack-instances",
        "update-stack-set",
        "delete-stack-instances",
        "delete-stack-set",
    ]
    stack_set = {verb: argv for verb, argv in commands.items() if "--stack-set-name" in argv}
    create = commands["create-stack-set"]
    assert option(create, "--capabilities") == ["CAPABILITY_NAMED_IAM"]  # the member role has a fixed name
    assert option(create, "--permission-model") == ["SERVICE_MANAGED"]
    assert option(create, "--auto-deployment") == ["Enabled=true,RetainStacksOnAccountRemoval=false"]
    assert option(create, "--template-body") == ["file://member/template.yaml"]
    assert option(create, "--parameters") == [f"file://{tmp_path / 'p.json'}"]
    instances = commands["create-stack-instances"]
    # the hub's account is left out of the OUs, wherever it is (issue 23: changed from the OUs alone)
    assert option(instances, "--deployment-targets") == [
        "OrganizationalUnitIds=ou-ab12-34cd56ef,Accounts=123456789012,AccountFilterType=DIFFERENCE"
    ]
    assert option(instances, "--regions") == ["us-east-1", "eu-west-1"]  # the hub's ManagedRegions
    assert "--no-retain-stacks" in commands["delete-stack-instances"]
    assert all(option(c, "--call-as") == ["SELF"] and option(c, "--region") == [REGION] for c in stack_set.values())


def by_verb(out: str) -> dict[str, list[str]]:
    """The printed AWS CLI commands by their verb (the last of each)."""
    commands: dict[str, list[str]] = {}
    for line in out.splitlines():
        if line.startswith("aws "):
            argv = shlex.split(line)
            commands[argv[2]] = argv
    return commands


def all_commands(out: str, verb: str) -> list[list[str]]:
    return [argv for line in out.splitlines() if line.startswith("aws ") and (argv := shlex.split(line))[2] == verb]


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


def outputs_in(region: str, account: str = "123456789012") -> dict[str, str]:
    return OUTPUTS | {
        "HubAccountId": account,
        "HubRegion": region,
        **{k: v.replace("123456789012", account) for k, v in OUTPUTS.items() if k.endswith("FunctionRoleArn")},
    }


def written(path: Path) -> dict[str, Any]:
    return {p["ParameterKey"]: p.get("ParameterValue", p) for p in json.loads(path.read_text())}


def regions_with_member_roles(parameters: dict[str, Any], account: str, regions: list[str]) -> list[str]:
    """The regions whose member stack (the StackSet's instance there) creates the member roles, as
    CloudFormation evaluates the member template's conditions."""
    return [
        region
        for region in regions
        if Stack(PROJECT / "member" / "template.yaml", parameters, account, region).deploys("ReaderRole")
    ]


# --- item 1: RoleRegion -------------------------------------------------------------------------


def test_a_hub_outside_us_east_1_gets_its_member_roles_in_its_own_region(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a hub in eu-west-1 managing eu-west-1 and eu-central-1 (no us-east-1 anywhere)
    hub_stack(mocked_aws, outputs_in("eu-west-1"), {"ManagedRegions": "eu-west-1,eu-central-1"}, region="eu-west-1")

    code, out, err = run(capsys, tmp_path, region="eu-west-1")

    assert (code, err) == (0, "")
    parameters = written(tmp_path / "p.json")
    assert parameters["RoleRegion"] == "eu-west-1"
    assert "# RoleRegion eu-west-1 (the hub's region)" in out
    # THEN a member account of the OU gets its roles once, from the instance in eu-west-1
    regions = option(by_verb(out)["create-stack-instances"], "--regions")
    assert regions == ["eu-west-1", "eu-central-1"]
    assert regions_with_member_roles(parameters, "222222222222", regions) == ["eu-west-1"]


@pytest.mark.parametrize(
    ("hub_region", "managed"),
    [
        pytest.param("cn-north-1", ["cn-north-1", "cn-northwest-1"], id="aws-cn"),
        pytest.param("us-gov-west-1", ["us-gov-west-1", "us-gov-east-1"], id="aws-us-gov"),
        pytest.param("ap-southeast-2", ["ap-southeast-2"], id="one-region"),
    ],
)
def test_the_role_region_is_the_hubs_own_in_every_partition(hub_region: str, managed: list[str]) -> None:
    hub = deploy.HubStack("peering-autopilot", "123456789012", hub_region, {"ManagedRegions": ",".join(managed)}, {})

    assert deploy.role_region(hub, deploy.managed_regions(hub)) == hub_region


def test_a_hub_that_does_not_manage_its_own_region_gets_the_roles_in_the_first_managed_region_and_says_so(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a hub in us-east-1 managing eu-west-1 and eu-central-1 only: no instance in us-east-1
    hub_stack(mocked_aws, OUTPUTS, {"ManagedRegions": "eu-west-1,eu-central-1"})

    code, out, _ = run(capsys, tmp_path)

    assert code == 0
    parameters = written(tmp_path / "p.json")
    assert parameters["RoleRegion"] == "eu-west-1"
    assert "# RoleRegion eu-west-1 (the first of the StackSet's regions)" in out
    assert "# The hub's region us-east-1 is not among the StackSet's regions (eu-west-1, eu-central-1)." in out
    assert regions_with_member_roles(parameters, "222222222222", ["eu-west-1", "eu-central-1"]) == ["eu-west-1"]
    # ... and the hub account needs a plain stack in both (its own region is not managed)
    assert [option(c, "--region") for c in all_commands(out, "create-stack")] == [["eu-west-1"], ["eu-central-1"]]


def test_the_role_region_may_be_pinned_but_only_to_a_region_the_stack_set_deploys_to(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hub_stack(mocked_aws, OUTPUTS, PARAMETERS)

    code, _, _ = run(capsys, tmp_path, "--role-region", "eu-west-1")
    assert code == 0
    assert written(tmp_path / "p.json")["RoleRegion"] == "eu-west-1"

    (tmp_path / "p.json").unlink()
    code, out, err = run(capsys, tmp_path, "--role-region", "us-west-2")
    assert code == 2
    assert err == (
        "error: --role-region us-west-2 is not one of the StackSet's regions (us-east-1, eu-west-1): "
        "the member roles would be created nowhere\n"
    )
    assert out == "" and not (tmp_path / "p.json").exists()


# --- item 2: the hub's account ------------------------------------------------------------------


def test_the_hub_account_is_left_out_of_the_stack_set_and_gets_plain_stacks_in_its_other_regions(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a hub in us-east-1 managing three regions, its account inside the targeted OU or not
    hub_stack(mocked_aws, OUTPUTS, {"ManagedRegions": "us-east-1,eu-west-1,ap-southeast-2"})

    code, out, _ = run(capsys, tmp_path)

    assert code == 0
    commands = by_verb(out)
    for verb in ("create-stack-instances", "delete-stack-instances"):
        assert option(commands[verb], "--deployment-targets") == [
            "OrganizationalUnitIds=ou-ab12-34cd56ef,Accounts=123456789012,AccountFilterType=DIFFERENCE"
        ]
    # THEN the hub account's extra regions get the member template as plain stacks, with the same parameters
    creates = all_commands(out, "create-stack")
    assert [option(c, "--region") for c in creates] == [["eu-west-1"], ["ap-southeast-2"]]
    for argv in creates:
        assert option(argv, "--stack-name") == ["peering-autopilot-member"]
        assert option(argv, "--template-body") == ["file://member/template.yaml"]
        assert option(argv, "--parameters") == [f"file://{tmp_path / 'p.json'}"]
        assert option(argv, "--capabilities") == ["CAPABILITY_NAMED_IAM"]
    assert [option(c, "--region") for c in all_commands(out, "delete-stack")] == [["eu-west-1"], ["ap-southeast-2"]]
    # they run with the hub account's credentials, before the StackSet's (management) commands
    assert out.index("# 1. With the hub account's credentials") < out.index("aws cloudformation create-stack ")
    assert out.index("aws cloudformation delete-stack ") < out.index("# 2. With the Organization's management")


def test_why_the_hub_account_is_left_out_and_its_plain_stacks_collide_with_nothing(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hub_stack(mocked_aws, OUTPUTS, {"ManagedRegions": "us-east-1,eu-west-1,ap-southeast-2"})
    assert run(capsys, tmp_path)[0] == 0
    parameters = written(tmp_path / "p.json")
    member = PROJECT / "member" / "template.yaml"
    hub_account, regions = "123456789012", ["us-east-1", "eu-west-1", "ap-southeast-2"]

    # In the hub's own region every resource of the member template is conditioned out: a StackSet
    # instance there would be a stack without resources, which CloudFormation refuses.
    in_hub_region = Stack(member, parameters, hub_account, REGION)
    assert not any(in_hub_region.deploys(r) for r in in_hub_region.resources)
    # In its other regions: the forwarding and the ping document, no member role.
    elsewhere = Stack(member, parameters, hub_account, "eu-west-1")
    assert sorted(r for r in elsewhere.resources if elsewhere.deploys(r)) == [
        "ForwardRole",
        "ForwardRule",
        "ForwardTagChanges",
        "PingDocument",
    ]

    # Every fixed name in the hub account (the hub stack plus the plain member stacks) and in a
    # member account (the StackSet's instances) is made once: IAM's names are global, SSM's regional.
    hub_account_stacks = [Stack(PROJECT / "template.yaml", {}, hub_account, REGION)] + [
        Stack(member, parameters, hub_account, r) for r in regions if r != REGION
    ]
    member_account_stacks = [Stack(member, parameters, "222222222222", r) for r in regions]
    for stacks in (hub_account_stacks, member_account_stacks):
        names = [name for stack in stacks for name in fixed_names(stack)]
        assert len(names) == len(set(names)), names
    assert ("AWS::SSM::Document", "PeeringAutopilot-Ping", "eu-west-1") in fixed_names(hub_account_stacks[1])
    assert ("AWS::IAM::Role", "PeeringAutopilotMember-reader", "global") in {
        n for s in member_account_stacks for n in fixed_names(s)
    }


def fixed_names(stack: Stack) -> list[tuple[str, str, str]]:
    """The names a stack's deployed resources are given in the template: (type, name, where)."""
    names = []
    for logical_id, resource in stack.resources.items():
        properties = resource.get("Properties", {})
        name = next((properties[k] for k in ("Name", "RoleName", "TableName", "TopicName") if k in properties), None)
        if name is None or not stack.deploys(logical_id):
            continue
        where = "global" if resource["Type"].startswith("AWS::IAM::") else stack.region
        names.append((resource["Type"], str(stack.resolve(name)), where))
    return names


# --- item 4: read-only principals, adding a region --------------------------------------------

READERS = "arn:aws:iam::123456789012:role/NetworkTeam,arn:aws:iam::123456789012:role/ci/Pipeline"


def test_read_only_principals_given_go_to_the_parameters_and_the_stack_sets_update(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hub_stack(mocked_aws, OUTPUTS, PARAMETERS)

    code, out, _ = run(capsys, tmp_path, "--read-only-principals", READERS)

    assert code == 0
    assert written(tmp_path / "p.json")["ReadOnlyPrincipalArns"] == READERS
    commands = by_verb(out)
    for verb in ("create-stack-set", "update-stack-set"):
        assert option(commands[verb], "--parameters") == [f"file://{tmp_path / 'p.json'}"]
    assert not (tmp_path / "p-update.json").exists()


def test_a_rerun_without_read_only_principals_keeps_the_ones_the_stack_set_has(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hub_stack(mocked_aws, OUTPUTS, PARAMETERS)

    code, out, _ = run(capsys, tmp_path)

    assert code == 0
    created = json.loads((tmp_path / "p.json").read_text())
    assert "ReadOnlyPrincipalArns" not in {p["ParameterKey"] for p in created}  # created: the default, none
    update = json.loads((tmp_path / "p-update.json").read_text())
    assert update == [*created, {"ParameterKey": "ReadOnlyPrincipalArns", "UsePreviousValue": True}]
    commands = by_verb(out)
    assert option(commands["create-stack-set"], "--parameters") == [f"file://{tmp_path / 'p.json'}"]
    assert option(commands["update-stack-set"], "--parameters") == [f"file://{tmp_path / 'p-update.json'}"]
    assert f"(ReadOnlyPrincipalArns keeps its value: {tmp_path / 'p-update.json'})" in out


def test_read_only_principals_none_clears_them(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hub_stack(mocked_aws, OUTPUTS, PARAMETERS)

    assert run(capsys, tmp_path, "--read-only-principals", "none")[0] == 0

    assert written(tmp_path / "p.json")["ReadOnlyPrincipalArns"] == ""


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "123456789012",
        "arn:aws:iam::123456789012:root",
        "arn:aws:iam::123456789012:role/Team*",
        "arn:aws:iam::123456789012:role/NetworkTeam,",
    ],
)
def test_a_read_only_principal_the_member_template_would_refuse_is_refused_here_naming_it(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    hub_stack(mocked_aws, OUTPUTS, PARAMETERS)

    code, out, err = run(capsys, tmp_path, "--read-only-principals", value)

    assert code == 2
    bad = value.split(",")[-1] or "(an empty value)"
    why = MEMBER["Parameters"]["ReadOnlyPrincipalArns"]["ConstraintDescription"]  # the template's own words
    assert err == f"error: --read-only-principals: {bad} is refused: {why}\n"
    assert out == "" and not (tmp_path / "p.json").exists()


def test_adding_a_region_prints_the_instances_for_it_alone_with_the_hub_account_left_out(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN ap-southeast-2 added to the hub's ManagedRegions after the StackSet was created
    hub_stack(mocked_aws, OUTPUTS, {**PARAMETERS, "ManagedRegions": "us-east-1,eu-west-1,ap-southeast-2"})

    code, out, _ = run(capsys, tmp_path, "--add-regions", "ap-southeast-2")

    assert code == 0
    commands = by_verb(out)
    assert list(commands) == ["create-stack", "create-stack-instances"]
    assert option(commands["create-stack-instances"], "--regions") == ["ap-southeast-2"]
    assert option(commands["create-stack-instances"], "--deployment-targets") == [
        "OrganizationalUnitIds=ou-ab12-34cd56ef,Accounts=123456789012,AccountFilterType=DIFFERENCE"
    ]
    assert option(commands["create-stack-instances"], "--region") == [REGION]  # the StackSet's own region
    assert option(commands["create-stack"], "--region") == ["ap-southeast-2"]
    assert written(tmp_path / "p.json")["RoleRegion"] == REGION  # the roles stay where they are


def test_adding_a_region_the_hub_does_not_manage_is_refused_naming_it(
    mocked_aws: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hub_stack(mocked_aws, OUTPUTS, PARAMETERS)

    code, out, err = run(capsys, tmp_path, "--add-regions", "ap-southeast-2")

    assert code == 2
    assert err == (
        "error: --add-regions ap-southeast-2: not in hub stack peering-autopilot's ManagedRegions "
        "(us-east-1, eu-west-1); add it there first (sam deploy), then run this again\n"
    )
    assert out == "" and not (tmp_path / "p.json").exists()


# --- item 6: credentials ------------------------------------------------------------------------


def test_an_unknown_profile_is_one_line_and_exit_2_with_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[profile hub]\nregion = us-east-1\n")
    env = {**os.environ, "AWS_PROFILE": "nope", "AWS_CONFIG_FILE": str(config)}
    env.pop("AWS_ACCESS_KEY_ID")
    env.pop("AWS_SECRET_ACCESS_KEY")

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "autopilot_local.deploy",
            "--org-unit",
            "ou-ab12-34cd56ef",
            "--out",
            str(tmp_path / "p.json"),
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr == (
        "error: the AWS profile nope is not in your AWS config: check AWS_PROFILE (aws configure list-profiles)\n"
    )
    assert done.stdout == "" and not (tmp_path / "p.json").exists()


def test_no_credentials_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)

    code, out, err = run(capsys, tmp_path)

    assert code == 2
    assert err == (
        "error: no AWS credentials: sign in to the hub account first (aws sso login, or AWS_PROFILE=<the hub's profile>)\n"
    )
    assert out == "" and not (tmp_path / "p.json").exists()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param(
            "ExpiredToken",
            "your AWS credentials have expired (ExpiredToken): renew them for the hub account and run this again",
            id="expired",
        ),
        pytest.param(
            "InvalidClientTokenId",
            "AWS does not recognise your credentials (InvalidClientTokenId): sign in to the hub account again",
            id="not-recognised",
        ),
    ],
)
def test_credentials_aws_refuses_are_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, code: str, message: str
) -> None:
    class RefusedSession(boto3.session.Session):
        def client(self, *args: Any, **kwargs: Any) -> Any:
            client = super().client(*args, **kwargs)
            stubber = Stubber(client)
            stubber.add_client_error("describe_stacks", code, "The security token included in the request is bad", 403)
            stubber.activate()
            return client

    monkeypatch.setattr(boto3.session, "Session", RefusedSession)

    exit_code, out, err = run(capsys, tmp_path)

    assert exit_code == 2
    assert err == f"error: {message}\n"
    assert out == "" and not (tmp_path / "p.json").exists()


def test_an_expired_sso_session_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    class ExpiredSsoSession(boto3.session.Session):
        def client(self, *args: Any, **kwargs: Any) -> Any:
            client = super().client(*args, **kwargs)

            def expired(**_: Any) -> None:
                raise TokenRetrievalError(provider="sso", error_msg="the SSO session has expired")

            client.meta.events.register("before-sign.cloudformation.DescribeStacks", expired)
            return client

    monkeypatch.setattr(boto3.session, "Session", ExpiredSsoSession)

    code, out, err = run(capsys, tmp_path)

    assert code == 2
    assert err == "error: your SSO session has expired or was never started: aws sso login, then run this again\n"
    assert out == ""


# --- item 4: samconfig.toml's placeholders ------------------------------------------------------


def samconfig_parameters(environment: str) -> dict[str, str]:
    """The hub parameters `sam deploy [--config-env ENV]` passes, from samconfig.toml."""
    with (PROJECT / "samconfig.toml").open("rb") as f:
        overrides = tomllib.load(f)[environment]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in shlex.split(overrides))


@pytest.mark.parametrize("environment", ["default", "live"])
def test_samconfigs_example_organization_is_refused_before_anything_is_created(environment: str) -> None:
    parameters = samconfig_parameters(environment)
    assert parameters["OrganizationId"] == "o-exampleorgid"

    with pytest.raises(ValueError) as refused:
        Stack(PROJECT / "template.yaml", parameters, "123456789012", REGION)

    assert str(refused.value) == (
        "rule OrganizationIdIsNotTheExample: OrganizationId o-exampleorgid is samconfig.toml's example: put your "
        'Organization\'s id there (aws organizations describe-organization --query Organization.Id), or "" to admit '
        "ApprovedAccountIds only."
    )


@pytest.mark.parametrize("environment", ["default", "live"])
def test_samconfigs_example_accounts_are_refused_before_anything_is_created(environment: str) -> None:
    parameters = samconfig_parameters(environment) | {"OrganizationId": "o-ab12cd34ef"}
    assert "111111111111" in parameters["ApprovedAccountIds"].split(",")

    with pytest.raises(ValueError) as refused:
        Stack(PROJECT / "template.yaml", parameters, "123456789012", REGION)

    assert str(refused.value) == (
        "rule ApprovedAccountIdsAreNotTheExample: ApprovedAccountIds 111111111111 is samconfig.toml's example: put "
        'the 12-digit ids of the accounts whose requests may be accepted there (comma-separated), or "" for none '
        "besides the hub's own."
    )


@pytest.mark.parametrize(
    "parameters",
    [
        pytest.param(
            {"ApprovedAccountIds": "210987654321,222222222222", "OrganizationId": "o-ab12cd34ef"}, id="filled"
        ),
        pytest.param({"ApprovedAccountIds": "", "OrganizationId": ""}, id="none"),
        pytest.param({"ApprovedAccountIds": "222222222222", "OrganizationId": "o-demoorg0001"}, id="demo"),
        pytest.param({"ApprovedAccountIds": "1111111111112"}, id="not-the-example-only-like-it"),
    ],
)
def test_real_values_pass_the_placeholder_rules(parameters: dict[str, str]) -> None:
    Stack(PROJECT / "template.yaml", parameters, "123456789012", REGION)  # no ValueError
