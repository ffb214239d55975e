"""The EC2 calls a peering group of 5 VPCs costs: to converge, and to sweep again once converged.

Five opted-in VPCs in three accounts of one region are tagged `peering-autopilot:group=shared`;
the local harness delivers every event as EventBridge would until nothing is left to do: the 10
peerings (5x4/2) requested, accepted, configured and verified, with no request from a person. Two
ways in: (a) the owners' tag changes, each of which plans the group at once (duplicates are
found already peered and skipped), and (b) tags the events missed, found by one sweep. Then one
more sweep of the converged estate. Printed: EC2 calls per function and in all, and per peering.
Calls, not seconds: calls are what EC2 throttles.

Run: make group-calls (or python benchmarks/group_calls.py).
"""

from __future__ import annotations

import io
import sys
from collections import Counter
from pathlib import Path

from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autopilot_local.harness import Delivery, LocalAutopilot, LocalCloud, use_fake_credentials
from autopilot_local.world import Network, build_network

HUB, MEMBER, THIRD, REGION = "123456789012", "222222222222", "444444444444", "us-east-1"
ENABLED = {"peering-autopilot:enabled": "true"}
GROUP = {"peering-autopilot:group": "shared"}
ACCOUNTS = (HUB, HUB, MEMBER, MEMBER, THIRD)  # 5 VPCs over 3 accounts


def world(cloud: LocalCloud, tag_events: bool) -> list[Network]:
    nets = [
        build_network(cloud, Network(f"VPC-{i}", account, REGION, f"10.{i}.0.0/16", tags=dict(ENABLED)))
        for i, account in enumerate(ACCOUNTS)
    ]
    for net in nets:
        if tag_events:
            cloud.tag_vpc(net.account, REGION, net.vpc_id, GROUP)
        else:
            cloud.ec2(net.account, REGION).create_tags(
                Resources=[net.vpc_id], Tags=[{"Key": k, "Value": v} for k, v in GROUP.items()]
            )
    return nets


def ec2_calls(deliveries: list[Delivery]) -> dict[str, int]:
    per: Counter[str] = Counter()
    for d in deliveries:
        per[d.function] += sum(d.calls.by_action("ec2").values())
    return dict(per)


def run(tag_events: bool) -> tuple[dict[str, int], dict[str, int], int]:
    use_fake_credentials(REGION)
    with mock_aws():
        cloud = LocalCloud(HUB)
        autopilot = LocalAutopilot(
            cloud,
            parameters={"ApprovedAccountIds": f"{MEMBER},{THIRD}", "ManagedRegions": REGION},
            member_accounts=(MEMBER, THIRD),
            log_stream=io.StringIO(),
        )
        nets = world(cloud, tag_events)
        converge = autopilot.run_until_idle() if tag_events else autopilot.tick() + autopilot.run_until_idle()
        active = {
            p["VpcPeeringConnectionId"]
            for n in nets
            for p in cloud.ec2(n.account, REGION).describe_vpc_peering_connections()["VpcPeeringConnections"]
            if p["Status"]["Code"] == "active"
        }
        again = autopilot.tick()
    return ec2_calls(converge), ec2_calls(again), len(active)


def show(title: str, calls: dict[str, int], peerings: int) -> None:
    total = sum(calls.values())
    print(f"{title}: {total} EC2 calls ({total / peerings:.1f} per peering)")
    for function, n in sorted(calls.items(), key=lambda kv: -kv[1]):
        print(f"  {function:<26} {n:>5}")


def main() -> int:
    for tag_events, how in ((True, "(a) the tag changes, as they happen"), (False, "(b) one sweep, the events lost")):
        converge, again, active = run(tag_events)
        print(f"== {how}: {active} active peerings for 5 VPCs")
        show("to converge", converge, active)
        show("to sweep again, converged", again, active)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
