"""`make member-stackset`: the commands that deploy (and remove) the member stacks, filled in from
the deployed hub stack.

    python -m autopilot_local.deploy --org-unit ou-abcd-12345678 [--hub-stack peering-autopilot]
        [--region us-east-1] [--regions us-east-1 us-west-2] [--call-as SELF|DELEGATED_ADMIN]
        [--read-only-principals ARN,ARN|none] [--role-region REGION] [--add-regions REGION ...]
        [--profile NAME]

It reads the hub stack (your credentials, the hub's account and region) and gives each parameter of
member/template.yaml the hub output of the same name, else the hub parameter of the same name,
else its default; a required parameter with none of these is an error naming it, and nothing is
printed. RoleRegion, the one region whose member stack creates the (global) member roles, is the
hub's region when the StackSet deploys there, else the first of its regions. The parameters go to a
JSON file (`--parameters file://…`): CommaDelimitedList values need no escaping there. It prints the
AWS CLI commands; it runs none of them.

The hub's own account gets no StackSet instance: it is left out of the deployment targets with the
StackSets account filter (in its own region every resource of the member template is conditioned
out, and CloudFormation creates no stack without resources), and its other managed regions get
plain stacks of the same template, printed here to run with the hub account's credentials.

Every-day mistakes (an unknown profile, no or expired credentials, a hub stack that cannot be read)
end in one line naming what is wrong, and exit 2.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from autopilot_local.template import load_yaml
from peering_autopilot.aws.sessions import EXPIRED_CODES, UNRECOGNIZED_CODES  # AWS's answers: the credentials' fault

PROJECT = Path(__file__).resolve().parents[1]
MEMBER_TEMPLATE = PROJECT / "member" / "template.yaml"
STACK_SET = "peering-autopilot-member"
# The plain member stacks in the hub account's other regions (a StackSet's own stacks are named
# StackSet-<name>-<id>: no clash).
HUB_MEMBER_STACK = "peering-autopilot-member"
READ_ONLY = "ReadOnlyPrincipalArns"
CLEAR = "none"  # --read-only-principals none: the reader role trusts no one besides the sweep


class DeployError(Exception):
    """What is missing to fill the member stacks in; the message names it."""


@dataclass(frozen=True)
class HubStack:
    name: str
    account_id: str
    region: str
    parameters: Mapping[str, str]
    outputs: Mapping[str, str]


def credentials_problem(error: Exception, region: str) -> str | None:
    """One line saying what is wrong with the caller's credentials or profile, if that is the fault."""
    if isinstance(error, ProfileNotFound):
        return (
            f"the AWS profile {error.kwargs.get('profile')} is not in your AWS config: "
            "check AWS_PROFILE (aws configure list-profiles)"
        )
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials: sign in to the hub account first (aws sso login, or AWS_PROFILE=<the hub's profile>)"
        )
    if isinstance(error, TokenRetrievalError | SSOTokenLoadError | UnauthorizedSSOTokenError):
        return "your SSO session has expired or was never started: aws sso login, then run this again"
    if isinstance(error, EndpointConnectionError):
        return f"CloudFormation in {region} cannot be reached: is {region} the hub stack's region?"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in EXPIRED_CODES:
            return f"your AWS credentials have expired ({code}): renew them for the hub account and run this again"
        if code in UNRECOGNIZED_CODES:
            return f"AWS does not recognise your credentials ({code}): sign in to the hub account again"
    return None


def read_hub_stack(name: str, region: str, cfn: Any | None = None) -> HubStack:
    cfn = cfn or boto3.client("cloudformation", region_name=region)
    try:
        [stack] = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as e:
        problem = credentials_problem(e, region)
        if problem:
            raise DeployError(problem) from e
        hint = f" (is {region} the hub's region? --region, REGION=)" if "does not exist" in str(e) else ""
        raise DeployError(f"hub stack {name} in {region} cannot be read: {e}{hint}") from e
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


def managed_regions(hub: HubStack) -> list[str]:
    """The hub's ManagedRegions, as it reads them: empty means the hub's own region."""
    return [r.strip() for r in hub.parameters.get("ManagedRegions", "").split(",") if r.strip()] or [hub.region]


def role_region(hub: HubStack, regions: Sequence[str], chosen: str | None = None) -> str:
    """The one region whose member stack creates the member roles (IAM is global; one stack owns
    them). It must be a region the StackSet deploys to, or no account gets its roles: the hub's
    region when the StackSet deploys there (it is in the hub's partition and does not move), else the
    first of the StackSet's regions, as listed (keep it first: changing RoleRegion moves the roles)."""
    if chosen is not None:
        if chosen not in regions:
            raise DeployError(
                f"--role-region {chosen} is not one of the StackSet's regions ({', '.join(regions)}): "
                "the member roles would be created nowhere"
            )
        return chosen
    return hub.region if hub.region in regions else regions[0]


def read_only_principals(value: str, template: Path = MEMBER_TEMPLATE) -> str:
    """The --read-only-principals value as the member template's ReadOnlyPrincipalArns: each ARN checked
    against the template's own pattern, here rather than halfway through a StackSet operation."""
    if value.strip().lower() == CLEAR:
        return ""
    spec = load_yaml(template)["Parameters"][READ_ONLY]
    pattern = re.compile(spec.get("AllowedPattern", ".*"))
    arns = [a.strip() for a in value.split(",")]
    for arn in arns:
        if not arn or not pattern.fullmatch(arn):
            shown = arn or "(an empty value)"
            why = spec.get("ConstraintDescription", f"it does not match {pattern.pattern}")
            raise DeployError(f"--read-only-principals: {shown} is refused: {why}")
    return ",".join(arns)


def member_parameters(
    hub: HubStack, template: Path = MEMBER_TEMPLATE, overrides: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """Each member parameter from the hub: an output of that name, else a parameter of that name,
    else the template's default (left out, CloudFormation applies it); `overrides` (RoleRegion,
    ReadOnlyPrincipalArns) come first."""
    declared: dict[str, Any] = load_yaml(template).get("Parameters", {})
    overrides = overrides or {}
    unknown = set(overrides) - set(declared)
    if unknown:
        raise DeployError(f"{template.name} declares no parameter(s) {', '.join(sorted(unknown))}")
    values = []
    missing = []
    for key, spec in declared.items():
        value = overrides.get(key, hub.outputs.get(key, hub.parameters.get(key)))
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


def keeping_read_only_principals(parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parameters for updating the StackSet when no --read-only-principals was given: the
    principals it has keep their value (UsePreviousValue) instead of falling back to none."""
    kept = [p for p in parameters if p["ParameterKey"] != READ_ONLY]
    return [*kept, {"ParameterKey": READ_ONLY, "UsePreviousValue": True}]


def _line(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def _shown(path: Path) -> Path:
    return path.relative_to(PROJECT) if path.is_absolute() and path.is_relative_to(PROJECT) else path


@dataclass(frozen=True)
class Plan:
    """What the commands deploy: the OUs and regions, the parameters files, the roles' region."""

    hub: HubStack
    org_units: Sequence[str]
    regions: Sequence[str]
    parameters_file: Path
    update_parameters_file: Path
    call_as: str
    role_region: str
    read_only_given: bool

    @property
    def targets(self) -> str:
        # The hub's account is left out wherever it is: inside a targeted OU its stack in the hub's
        # region would have no resource (CloudFormation refuses it and the rollout stops there);
        # outside them the filter changes nothing.
        return (
            "OrganizationalUnitIds="
            + ",".join(self.org_units)
            + f",Accounts={self.hub.account_id},AccountFilterType=DIFFERENCE"
        )

    @property
    def where(self) -> list[str]:
        return ["--region", self.hub.region, "--call-as", self.call_as]

    def hub_extra_regions(self, regions: Sequence[str]) -> list[str]:
        """The hub account's regions that need a plain member stack: all but the hub's own (the hub
        stack forwards its own region's events itself)."""
        return [r for r in regions if r != self.hub.region]

    def hub_stack_commands(self, regions: Sequence[str], verb: str) -> list[list[str]]:
        argv = []
        for region in self.hub_extra_regions(regions):
            if verb == "delete-stack":
                argv.append(["aws", "cloudformation", verb, "--stack-name", HUB_MEMBER_STACK, "--region", region])
                continue
            argv.append(
                [
                    "aws",
                    "cloudformation",
                    verb,
                    "--stack-name",
                    HUB_MEMBER_STACK,
                    "--template-body",
                    f"file://{_shown(MEMBER_TEMPLATE)}",
                    "--parameters",
                    f"file://{self.parameters_file}",
                    "--capabilities",
                    "CAPABILITY_NAMED_IAM",
                    "--region",
                    region,
                ]
            )
        return argv

    def create_instances(self, regions: Sequence[str]) -> list[str]:
        return [
            "aws",
            "cloudformation",
            "create-stack-instances",
            "--stack-set-name",
            STACK_SET,
            "--deployment-targets",
            self.targets,
            "--regions",
            *regions,
            "--operation-preferences",
            "FailureTolerancePercentage=0,MaxConcurrentPercentage=25",
            *self.where,
        ]


def _stack_set_body(parameters_file: Path) -> list[str]:
    # The member template, its parameters, and the capability its fixed-name roles need.
    return [
        "--template-body",
        f"file://{_shown(MEMBER_TEMPLATE)}",
        "--parameters",
        f"file://{parameters_file}",
        "--capabilities",
        "CAPABILITY_NAMED_IAM",
    ]


def _header(plan: Plan) -> list[str]:
    hub = plan.hub
    where = "the hub's region" if plan.role_region == hub.region else "the first of the StackSet's regions"
    lines = [
        f"# Member stacks for hub stack {hub.name} ({hub.account_id}, {hub.region}).",
        f"# Parameters, from the hub's outputs: {plan.parameters_file}",
        f"# RoleRegion {plan.role_region} ({where}): the member roles are created once per account, by the",
        "# stack instance in that region; keep it (ROLE_REGION=) when you re-run this, and keep that region's instances.",
    ]
    if plan.role_region != hub.region:
        lines.append(
            f"# The hub's region {hub.region} is not among the StackSet's regions ({', '.join(plan.regions)})."
        )
    lines.append(
        f"# The hub's account {hub.account_id} is left out of the StackSet (AccountFilterType=DIFFERENCE), inside"
        " the OUs or not;"
    )
    lines.append("# its other regions get plain member stacks (step 1).")
    return lines


def _hub_section(plan: Plan, regions: Sequence[str], verb: str) -> list[str]:
    commands = plan.hub_stack_commands(regions, verb)
    if not commands:
        return [
            "",
            f"# 1. Hub account {plan.hub.account_id}: nothing to deploy (the hub stack forwards its own region's events).",
        ]
    return [
        "",
        f"# 1. With the hub account's credentials ({plan.hub.account_id}, as for this command): plain member stacks",
        "#    in its other managed regions (forwarding and the ping document; no member role in the hub's account)",
        *[_line(c) for c in commands],
    ]


def commands(plan: Plan) -> str:
    hub_regions_update = plan.hub_stack_commands(plan.regions, "update-stack")
    update_parameters = plan.parameters_file if plan.read_only_given else plan.update_parameters_file
    steps: list[tuple[str, list[str]]] = [
        (
            "Create the StackSet (service-managed: new accounts in the OUs get it automatically)",
            [
                "aws",
                "cloudformation",
                "create-stack-set",
                "--stack-set-name",
                STACK_SET,
                *_stack_set_body(plan.parameters_file),
                "--permission-model",
                "SERVICE_MANAGED",
                "--auto-deployment",
                "Enabled=true,RetainStacksOnAccountRemoval=false",
                *plan.where,
            ],
        ),
        (
            f"Deploy it to the OUs, the hub's account left out, in every managed region ({', '.join(plan.regions)})",
            plan.create_instances(plan.regions),
        ),
        (
            "Later, after a change to member/template.yaml or the hub's outputs"
            + (
                ""
                if plan.read_only_given
                else f" (ReadOnlyPrincipalArns keeps its value: {plan.update_parameters_file})"
            ),
            [
                "aws",
                "cloudformation",
                "update-stack-set",
                "--stack-set-name",
                STACK_SET,
                *_stack_set_body(update_parameters),
                *plan.where,
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
                plan.targets,
                "--regions",
                *plan.regions,
                "--no-retain-stacks",
                *plan.where,
            ],
        ),
        ("", ["aws", "cloudformation", "delete-stack-set", "--stack-set-name", STACK_SET, *plan.where]),
    ]
    lines = _header(plan) + _hub_section(plan, plan.regions, "create-stack")
    if hub_regions_update:
        lines += ["#    later, after a change to member/template.yaml or the hub's outputs:"]
        lines += [_line(c) for c in hub_regions_update]
        lines += ["#    to uninstall (after the StackSet's):"]
        lines += [_line(c) for c in plan.hub_stack_commands(plan.regions, "delete-stack")]
    lines += [
        "",
        "# 2. With the Organization's management account's credentials (--call-as SELF) or a delegated",
        "#    administrator's for StackSets (--call-as DELEGATED_ADMIN), trusted access for StackSets enabled:",
    ]
    for title, argv in steps:
        if title:
            lines += ["", f"# {title}"]
        lines.append(_line(argv))
    return "\n".join(lines)


def adding_regions(plan: Plan, new: Sequence[str]) -> str:
    """The commands that bring the member stacks to regions added to the hub's ManagedRegions."""
    lines = _header(plan) + _hub_section(plan, new, "create-stack")
    lines += [
        "",
        "# 2. With the management account's or the delegated administrator's credentials: the StackSet's",
        f"#    instances in {', '.join(new)}, in every account of the OUs but the hub's",
        _line(plan.create_instances(new)),
    ]
    if plan.read_only_given:
        lines += [
            "",
            "# New instances take the StackSet's parameters as they are: to change ReadOnlyPrincipalArns,",
            "# run this without --add-regions (ADD_REGIONS=) and run its update-stack-set command.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--org-unit", action="append", required=True, help="an OU to deploy to (repeatable)")
    parser.add_argument("--hub-stack", default="peering-autopilot")
    parser.add_argument("--region", default=None, help="the hub stack's region (default: your configured one)")
    parser.add_argument("--regions", nargs="+", help="member regions (default: the hub's ManagedRegions)")
    parser.add_argument("--call-as", choices=["SELF", "DELEGATED_ADMIN"], default="SELF")
    parser.add_argument("--profile", default=None, help="the AWS profile of the hub account (default: AWS_PROFILE)")
    parser.add_argument(
        "--read-only-principals",
        default=None,
        metavar="ARN,ARN|none",
        help="role ARNs the member reader role also trusts (ReadOnlyPrincipalArns); 'none' clears them; "
        "left out: the StackSet's update keeps the ones it has",
    )
    parser.add_argument(
        "--role-region", default=None, help="the region whose member stack creates the roles (default: the hub's)"
    )
    parser.add_argument(
        "--add-regions",
        nargs="+",
        default=None,
        metavar="REGION",
        help="only the commands for regions added to the hub's ManagedRegions after the StackSet was created",
    )
    parser.add_argument("--out", type=Path, default=PROJECT / "build" / "member-parameters.json")
    args = parser.parse_args(argv)
    region = args.region
    try:
        session = boto3.session.Session(profile_name=args.profile)
        region = region or session.region_name
        if not region:
            parser.exit(2, "error: no region: pass --region (REGION=), the hub stack's region\n")
        hub = read_hub_stack(args.hub_stack, region, session.client("cloudformation", region_name=region))
        plan = _plan(args, hub)
        parameters = member_parameters(
            hub,
            overrides={
                "RoleRegion": plan.role_region,
                **({READ_ONLY: read_only_principals(args.read_only_principals)} if plan.read_only_given else {}),
            },
        )
    except DeployError as e:
        parser.exit(2, f"error: {e}\n")
    except (BotoCoreError, ClientError) as e:
        parser.exit(2, f"error: {credentials_problem(e, region or '(no region)') or e}\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(parameters, indent=2) + "\n")
    update_file = _update_file(args.out)
    if not plan.read_only_given:
        update_file.write_text(json.dumps(keeping_read_only_principals(parameters), indent=2) + "\n")
    elif update_file.exists():
        update_file.unlink()  # an older run's: the values given now are the ones to use
    print(adding_regions(plan, args.add_regions) if args.add_regions else commands(plan))
    return 0


def _update_file(parameters_file: Path) -> Path:
    """Where the StackSet update's parameters go, next to the parameters file."""
    return parameters_file.with_name(f"{parameters_file.stem}-update{parameters_file.suffix}")


def _plan(args: argparse.Namespace, hub: HubStack) -> Plan:
    managed = managed_regions(hub)
    regions = args.regions or managed
    if args.add_regions:
        outside = [r for r in args.add_regions if r not in managed]
        if outside:
            raise DeployError(
                f"--add-regions {', '.join(outside)}: not in hub stack {hub.name}'s ManagedRegions "
                f"({', '.join(managed)}); add it there first (sam deploy), then run this again"
            )
    shown = _shown(args.out)
    return Plan(
        hub=hub,
        org_units=args.org_unit,
        regions=regions,
        parameters_file=shown,
        update_parameters_file=_update_file(shown),
        call_as=args.call_as,
        role_region=role_region(hub, regions, args.role_region),
        read_only_given=args.read_only_principals is not None,
    )


if __name__ == "__main__":
    sys.exit(main())
