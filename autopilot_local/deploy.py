"""`make member-stackset`: the commands that deploy (and remove) the member stacks, filled in from
the deployed hub stack.

    python -m autopilot_local.deploy --org-unit ou-abcd-12345678 [--hub-stack peering-autopilot]
        [--region us-east-1] [--regions us-east-1 us-west-2] [--call-as SELF|DELEGATED_ADMIN]

It reads the hub stack (your credentials, the hub's account and region) and gives each parameter of
member/template.yaml the hub output of the same name, else the hub parameter of the same name,
else its default; a required parameter with none of these is an error naming it, and nothing is
printed. The parameters go to a JSON file (`--parameters file://…`): CommaDelimitedList values
need no escaping there. It prints the AWS CLI commands; it runs none of them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from autopilot_local.template import load_yaml

PROJECT = Path(__file__).resolve().parents[1]
MEMBER_TEMPLATE = PROJECT / "member" / "template.yaml"
STACK_SET = "peering-autopilot-member"


class DeployError(Exception):
    """What is missing to fill the member stacks in; the message names it."""


@dataclass(frozen=True)
class HubStack:
    name: str
    account_id: str
    region: str
    parameters: Mapping[str, str]
    outputs: Mapping[str, str]


def read_hub_stack(name: str, region: str, cfn: Any | None = None) -> HubStack:
    cfn = cfn or boto3.client("cloudformation", region_name=region)
    try:
        [stack] = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as e:
        raise DeployError(f"hub stack {name} in {region} cannot be read: {e}") from e
    if not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        raise DeployError(f"hub stack {name} in {region} is {stack['StackStatus']}: deploy it first")
    return HubStack(
        name=name,
        account_id=stack["StackId"].split(":")[4],
        region=region,
        parameters={
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", "")) for p in stack.get("Parameters", [])
        },
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
    )


def member_parameters(hub: HubStack, template: Path = MEMBER_TEMPLATE) -> list[dict[str, str]]:
    """Each member parameter from the hub: an output of that name, else a parameter of that name,
    else the template's default (left out, CloudFormation applies it)."""
    declared: dict[str, Any] = load_yaml(template).get("Parameters", {})
    values = []
    missing = []
    for key, spec in declared.items():
        value = hub.outputs.get(key, hub.parameters.get(key))
        if value is None:
            if "Default" not in spec:
                missing.append(key)
            continue
        values.append({"ParameterKey": key, "ParameterValue": value})
    if missing:
        raise DeployError(
            f"hub stack {hub.name} has no output or parameter for member parameter(s) {', '.join(missing)}: "
            "is it the hub template of this checkout?"
        )
    return values


def commands(
    hub: HubStack, org_units: Sequence[str], regions: Sequence[str], parameters_file: Path, call_as: str
) -> str:
    where = ["--region", hub.region, "--call-as", call_as]
    targets = "OrganizationalUnitIds=" + ",".join(org_units)
    template = MEMBER_TEMPLATE.relative_to(PROJECT) if MEMBER_TEMPLATE.is_relative_to(PROJECT) else MEMBER_TEMPLATE
    # The member template, its parameters, and the capability its fixed-name role needs.
    stack_set_body = [
        "--template-body",
        f"file://{template}",
        "--parameters",
        f"file://{parameters_file}",
        "--capabilities",
        "CAPABILITY_NAMED_IAM",
    ]
    steps = [
        (
            "Create the StackSet (service-managed: new accounts in the OUs get it automatically)",
            [
                "aws",
                "cloudformation",
                "create-stack-set",
                "--stack-set-name",
                STACK_SET,
                *stack_set_body,
                "--permission-model",
                "SERVICE_MANAGED",
                "--auto-deployment",
                "Enabled=true,RetainStacksOnAccountRemoval=false",
                *where,
            ],
        ),
        (
            f"Deploy it to the OUs in every managed region ({', '.join(regions)})",
            [
                "aws",
                "cloudformation",
                "create-stack-instances",
                "--stack-set-name",
                STACK_SET,
                "--deployment-targets",
                targets,
                "--regions",
                *regions,
                "--operation-preferences",
                "FailureTolerancePercentage=0,MaxConcurrentPercentage=25",
                *where,
            ],
        ),
        (
            "Later, after a change to member/template.yaml or the hub's outputs",
            [
                "aws",
                "cloudformation",
                "update-stack-set",
                "--stack-set-name",
                STACK_SET,
                *stack_set_body,
                *where,
            ],
        ),
        (
            "To uninstall: remove the stacks from the OUs, then the StackSet",
            [
                "aws",
                "cloudformation",
                "delete-stack-instances",
                "--stack-set-name",
                STACK_SET,
                "--deployment-targets",
                targets,
                "--regions",
                *regions,
                "--no-retain-stacks",
                *where,
            ],
        ),
        ("", ["aws", "cloudformation", "delete-stack-set", "--stack-set-name", STACK_SET, *where]),
    ]
    lines = [
        f"# Member stacks for hub stack {hub.name} ({hub.account_id}, {hub.region}).",
        "# Run from the Organization's management account or a delegated administrator for StackSets",
        "# (--call-as DELEGATED_ADMIN), with trusted access for StackSets enabled in the Organization.",
        f"# Parameters, from the hub's outputs: {parameters_file}",
    ]
    for title, argv in steps:
        if title:
            lines += ["", f"# {title}"]
        lines.append(" ".join(shlex.quote(a) for a in argv))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--org-unit", action="append", required=True, help="an OU to deploy to (repeatable)")
    parser.add_argument("--hub-stack", default="peering-autopilot")
    parser.add_argument("--region", default=None, help="the hub stack's region (default: your configured one)")
    parser.add_argument("--regions", nargs="+", help="member regions (default: the hub's ManagedRegions)")
    parser.add_argument("--call-as", choices=["SELF", "DELEGATED_ADMIN"], default="SELF")
    parser.add_argument("--out", type=Path, default=PROJECT / "build" / "member-parameters.json")
    args = parser.parse_args(argv)
    region = args.region or boto3.session.Session().region_name
    if not region:
        parser.error("no region: pass --region, the hub stack's region")
    try:
        hub = read_hub_stack(args.hub_stack, region)
        parameters = member_parameters(hub)
    except DeployError as e:
        parser.exit(2, f"error: {e}\n")
    regions = args.regions or [r for r in hub.parameters.get("ManagedRegions", "").split(",") if r] or [region]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(parameters, indent=2) + "\n")
    shown = args.out.relative_to(PROJECT) if args.out.is_relative_to(PROJECT) else args.out
    print(commands(hub, args.org_unit, regions, shown, args.call_as))
    return 0


if __name__ == "__main__":
    sys.exit(main())
