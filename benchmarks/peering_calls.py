"""The AWS API calls one cross-account peering costs from request to verdict, per function.

A person in the hub account requests a peering to an approved member's opted-in VPC; the local
harness delivers every event as EventBridge would (one delivery per matching rule, the functions'
own calls echoed by CloudTrail) until nothing is left to do. Printed: each delivery, then the EC2
calls per operation and function. Calls, not seconds: calls are what EC2 throttles.

Run: make peering-calls (or python benchmarks/peering_calls.py).
"""

from __future__ import annotations

import io
import sys
from collections import Counter
from pathlib import Path

from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autopilot_local.harness import LocalAutopilot, LocalCloud, use_fake_credentials
from autopilot_local.world import Network, build_network

HUB, MEMBER, REGION = "123456789012", "222222222222", "us-east-1"
ENABLED = {"peering-autopilot:enabled": "true"}


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

    by_function: dict[str, Counter[str]] = {}
    print("deliveries (function, rule, outcome, EC2 calls):")
    for d in deliveries:
        calls = d.calls.by_action("ec2")
        by_function.setdefault(d.function, Counter()).update(calls)
        print(f"  {d.function:<26} {d.rule.split('.')[-1]:<22} {d.result.get('status')!s:<22} {sum(calls.values())}")

    functions = list(by_function)
    operations = sorted({op for c in by_function.values() for op in c})
    width = max(len(op) for op in operations)
    print()
    print(f"{'EC2 operation':<{width}} | " + " | ".join(f[:-8] for f in functions) + " | total")
    for op in operations:
        cells = [f"{by_function[f][op]:>{len(f) - 8}}" for f in functions]
        print(f"{op:<{width}} | " + " | ".join(cells) + f" | {sum(by_function[f][op] for f in functions):>5}")
    totals = [f"{sum(by_function[f].values()):>{len(f) - 8}}" for f in functions]
    print(f"{'all':<{width}} | " + " | ".join(totals) + f" | {sum(sum(c.values()) for c in by_function.values()):>5}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
