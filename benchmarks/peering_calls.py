"""The AWS API calls one cross-account peering costs from request to verdict, per function.

A person in the hub account requests a peering to an approved member's opted-in VPC; the local
harness delivers every event as EventBridge would (one delivery per matching rule, the functions'
own calls echoed by CloudTrail) until nothing is left to do. Printed: each delivery, then the calls
per operation and function: EC2's (what EC2 throttles), then the record's (DynamoDB, and SQS for the
record's backlog), what the record costs per peering. Calls, not seconds. Then two sweeps over the
converged estate: the first adopts (once per account and region), the second is every sweep after.
Last, the same peering under governance (the member managed through its OU, a policy document in
Parameter Store): what reading the policy and the membership adds per function.

Run: make peering-calls (or python benchmarks/peering_calls.py).
"""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from pathlib import Path

from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autopilot_local.harness import LocalAutopilot, LocalCloud, use_fake_credentials
from autopilot_local.organizations import LocalOrganization
from autopilot_local.world import Network, build_network

HUB, MEMBER, REGION = "123456789012", "222222222222", "us-east-1"
ENABLED = {"peering-autopilot:enabled": "true"}
RECORD_SERVICES = ("dynamodb", "sqs")


def main() -> int:
    use_fake_credentials(REGION)
    with mock_aws():
        cloud = LocalCloud(HUB)
        autopilot = LocalAutopilot(
            cloud,
            parameters={"ApprovedAccountIds": MEMBER, "ManagedRegions": REGION},
            member_accounts=(MEMBER,),
            log_stream=io.StringIO(),
        )
        a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
        b = build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED)))
        ec2 = cloud.ec2(HUB, REGION, record=True)
        ec2.create_vpc_peering_connection(VpcId=a.vpc_id, PeerVpcId=b.vpc_id, PeerOwnerId=MEMBER)
        deliveries = autopilot.run_until_idle()
        sweeps = [
            next(d for d in autopilot.tick() if d.function == "SweepFunction"),
            next(d for d in autopilot.tick() if d.function == "SweepFunction"),
        ]

    by_function: dict[str, Counter[tuple[str, str]]] = {}
    print("deliveries (function, rule, outcome, EC2 calls, record calls):")
    for d in deliveries:
        calls = Counter(d.calls.calls)
        by_function.setdefault(d.function, Counter()).update(calls)
        ec2 = sum(n for (svc, _), n in calls.items() if svc == "ec2")
        record = sum(n for (svc, _), n in calls.items() if svc in RECORD_SERVICES)
        print(f"  {d.function:<26} {d.rule.split('.')[-1]:<22} {d.result.get('status')!s:<22} {ec2:>3} {record:>3}")

    functions = list(by_function)
    names = {"ec2": "EC2", "dynamodb": "DynamoDB", "sqs": "SQS"}
    rows = [op for op in sorted({op for c in by_function.values() for op in c}) if op[0] in names]
    width = max(len(f"{svc}:{op}") for svc, op in rows)
    print()
    print(f"{'operation':<{width}} | " + " | ".join(f[:-8] for f in functions) + " | total")
    for service in names:
        ops = [op for op in rows if op[0] == service]
        for op in ops:
            cells = [f"{by_function[f][op]:>{len(f) - 8}}" for f in functions]
            total = sum(by_function[f][op] for f in functions)
            print(f"{op[0] + ':' + op[1]:<{width}} | " + " | ".join(cells) + f" | {total:>5}")
        sums = [sum(n for o, n in by_function[f].items() if o[0] == service) for f in functions]
        cells = [f"{n:>{len(f) - 8}}" for n, f in zip(sums, functions, strict=True)]
        print(f"{names[service] + ' all':<{width}} | " + " | ".join(cells) + f" | {sum(sums):>5}")

    print()
    print("sweeps over the converged estate (2 account-regions): EC2, DynamoDB, SQS, CloudTrail calls")
    for label, sweep in zip(("first (adopts, once per place)", "every later sweep"), sweeps, strict=True):
        counted = Counter(svc for svc, _ in sweep.calls.calls)
        detail = ", ".join(f"{svc}:{op} {n}" for (svc, op), n in sorted(Counter(sweep.calls.calls).items()))
        print(
            f"  {label:<32} {counted['ec2']:>3} {counted['dynamodb']:>3} {counted['sqs']:>3} {counted['cloudtrail']:>3}"
            f"   ({detail})"
        )
    governed()
    return 0


def governed() -> None:
    """The same peering with the member managed through its OU (the sweep walks the Organization
    first) and a one-rule policy document: the calls each function adds to read them."""
    use_fake_credentials(REGION)
    with mock_aws():
        cloud = LocalCloud(HUB)
        organization = LocalOrganization(cloud)
        organization.add_account(MEMBER, organization.ou("workloads"))
        policy = {"version": 1, "rules": [{"name": "within-the-organization", "outcome": "accept"}]}
        ssm = cloud.session(HUB).client("ssm", region_name=REGION)
        ssm.put_parameter(Name="/peering-autopilot/policy", Value=json.dumps(policy), Type="String")
        autopilot = LocalAutopilot(
            cloud,
            parameters={
                "ApprovedAccountIds": "",
                "ManagedRegions": REGION,
                "OrganizationId": organization.id,
                "ManagedOrganizationalUnitIds": organization.root_id,
                "OrganizationsReadRoleArn": organization.reader_role_arn,
                "PolicyParameterName": "/peering-autopilot/policy",
            },
            member_accounts=(MEMBER,),
            log_stream=io.StringIO(),
        )
        first_sweep = next(d for d in autopilot.tick() if d.function == "SweepFunction")  # walks, writes
        a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
        b = build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED)))
        ec2 = cloud.ec2(HUB, REGION, record=True)
        ec2.create_vpc_peering_connection(VpcId=a.vpc_id, PeerVpcId=b.vpc_id, PeerOwnerId=MEMBER)
        deliveries = autopilot.run_until_idle()
        later_sweep = next(d for d in autopilot.tick() if d.function == "SweepFunction")

    print()
    print("governed: the member under a managed OU, a policy document (each invocation a cold container here;")
    print("a warm one reads the policy and the membership at most once a minute):")
    services = ("ec2", "ssm", "organizations", "dynamodb", "sts")
    print(f"  {'delivery':<26} {'outcome':<12} " + " ".join(f"{svc:>13}" for svc in services))
    for d in [first_sweep, *deliveries, later_sweep]:
        counted = Counter(svc for svc, _ in d.calls.calls)
        outcome = str(d.result.get("status"))
        print(f"  {d.function:<26} {outcome:<12} " + " ".join(f"{counted[svc]:>13}" for svc in services))
    added = Counter(op for d in [first_sweep, *deliveries, later_sweep] for op in d.calls.calls if op[0] != "ec2")
    print("  besides EC2: " + ", ".join(f"{svc}:{op} {n}" for (svc, op), n in sorted(added.items())))


if __name__ == "__main__":
    raise SystemExit(main())
