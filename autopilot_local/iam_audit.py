"""`make parliament`: every IAM policy of both templates, the SAM-generated ones included, written
out as plain policy documents for parliament (an offline IAM policy audit).

The hub template goes through the SAM transform first (`sam_transform`), so the roles SAM makes
for the functions are audited as CloudFormation will create them; intrinsic functions are
resolved as CloudFormation would for one example deployment (an Organization, a notification
topic, LivePing on), with ARNs of the right shape for each resource type.

    python -m autopilot_local.iam_audit build/iam
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from autopilot_local.sam_transform import transform
from autopilot_local.template import Stack

PROJECT = Path(__file__).resolve().parents[1]
ACCOUNT, REGION = "123456789012", "us-east-1"
HUB_VALUES = {
    "OrganizationId": "o-exampleorg1",
    "ApprovedAccountIds": "222222222222",
    "NotificationTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:network-team",
    "LivePing": "true",
}
MEMBER_VALUES = {
    "HubAccountId": ACCOUNT,
    "HubRegion": REGION,
    "HubEventBusName": "peering-autopilot-bus",
    **{
        f"{name}FunctionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/peering-autopilot/{name}PeeringFunctionRole"
        for name in ("Accept", "Configure", "Verify", "Cleanup", "Connect", "Sweep")
    },
    "ReadOnlyPrincipalArns": f"arn:aws:iam::{ACCOUNT}:role/NetworkOps",
    "OrganizationId": HUB_VALUES["OrganizationId"],
    "RoleRegion": REGION,
}
# The ARN of each resource type a policy names by GetAtt, as CloudFormation returns it.
ARN_FORMATS = {
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::Events::EventBus": "arn:aws:events:{region}:{account}:event-bus/{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
}


class _DeployedStack(Stack):
    def _get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resources[logical_id]["Type"]
        if attribute == "Arn" and kind in ARN_FORMATS:
            name = self.physical_name(logical_id)
            return ARN_FORMATS[kind].format(region=self.region, account=self.account_id, name=name)
        return super()._get_att(logical_id, attribute)


def policies(stack: Stack) -> dict[str, dict[str, Any]]:
    """Each inline policy of each role, resolved, by `<role>.<policy>`."""
    found = {}
    for logical_id, resource in stack.resources.items():
        if resource.get("Type") != "AWS::IAM::Role" or not stack.deploys(logical_id):
            continue
        for policy in resource.get("Properties", {}).get("Policies", []):
            document = stack.resolve(policy["PolicyDocument"])
            found[f"{logical_id}.{stack.resolve(policy['PolicyName'])}"] = document
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else PROJECT / "build" / "iam"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.json"):
        stale.unlink()
    hub_json = out.parent / "template.cfn.json"
    hub_json.write_text(json.dumps(transform(PROJECT / "template.yaml"), default=str))
    stacks = {
        "hub": _DeployedStack(hub_json, HUB_VALUES, ACCOUNT, REGION),
        "member": _DeployedStack(PROJECT / "member" / "template.yaml", MEMBER_VALUES, "222222222222", REGION),
        "org-reader": _DeployedStack(
            PROJECT / "org-reader" / "template.yaml",
            {
                "SweepFunctionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/peering-autopilot/peering-autopilot-SweepFunctionRole"
            },
            "999999999999",
            REGION,
        ),
    }
    count = 0
    for prefix, stack in stacks.items():
        for name, document in policies(stack).items():
            (out / f"{prefix}.{name}.json").write_text(json.dumps(document, indent=1) + "\n")
            count += 1
    print(f"{count} policies -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
