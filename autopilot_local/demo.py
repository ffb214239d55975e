"""`make demo`: the seed's runbook, hands-off, against an embedded AWS emulator (moto's server).

Builds the seed's world, sends peering requests as people would, then runs the automation as AWS
would (CloudTrail → EventBridge rules from the templates → the template's handlers) until nothing
is left to do, and tells what happened in a network engineer's words.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from autopilot_local.harness import PROJECT, Delivery, LocalAutopilot, LocalCloud
from autopilot_local.world import HUB_ACCOUNT, MEMBER_ACCOUNT, OUTSIDER_ACCOUNT, REGION, Network, build_seed_world

LOG_FILE = PROJECT / "build" / "demo" / "function-logs.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--log-file", type=Path, default=LOG_FILE, help="where the functions' JSON logs go")
    args = parser.parse_args(argv)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server.start()
    host, port = server.get_host_and_port()
    # Everything in this process, the functions included, talks to the emulator with fake keys.
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "MOTO_ACCOUNT_ID"):
        os.environ.pop(name, None)
    args.log_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        with args.log_file.open("w") as log:
            return run(host, port, log, args.log_file)
    finally:
        server.stop()


def run(host: str, port: int, log: Any, log_path: Path) -> int:
    say(f"Peering Autopilot demo — AWS emulator (moto server) on {host}:{port}")
    cloud = LocalCloud(HUB_ACCOUNT)
    world = build_seed_world(cloud)
    parameters = {
        "ApprovedAccountIds": MEMBER_ACCOUNT,
        "ManagedRegions": REGION,
        "OrganizationId": "o-demoorg0001",
        "UnapprovedRequestAction": "leave-pending",
    }
    autopilot = LocalAutopilot(
        cloud, parameters, region=REGION, member_accounts=(MEMBER_ACCOUNT, OUTSIDER_ACCOUNT), log_stream=log
    )

    heading("The world")
    say(f"  {'VPC':<6} {'id':<22} {'CIDR':<12} {'account':<13} {'':<23} {'opt-in tag':<12} instance")
    for net in (world.vpc_a, world.vpc_b, world.vpc_c, world.vpc_d):
        opted = "true" if net.opted_in else "(none)"
        say(
            f"  {net.name:<6} {net.vpc_id:<22} {net.cidr:<12} {net.account:<13} {role_of(net.account):<23} "
            f"{opted:<12} {net.instance_id} {net.private_ip}"
        )
    say(
        f"  Hub stack in {HUB_ACCOUNT}/{REGION}, bus {autopilot.bus_name}: "
        + ", ".join(f"{key}={value}" for key, value in parameters.items())
    )

    ok = True
    ok &= scenario(
        autopilot,
        cloud,
        "Step 1-2 of the runbook: VPC-A asks to peer with VPC-B; nobody touches the console",
        world.vpc_a,
        world.vpc_b,
        expect_status="active",
    )
    ok &= scenario(
        autopilot,
        cloud,
        "A request from an account that is not approved",
        world.vpc_c,
        world.vpc_b,
        expect_status="pending-acceptance",
    )
    ok &= scenario(
        autopilot,
        cloud,
        "A request into a VPC whose owner has not opted in",
        world.vpc_a,
        world.vpc_d,
        expect_status="pending-acceptance",
    )

    heading("Done")
    say(f"  Function logs (JSON, as CloudWatch Logs would hold them): {log_path}")
    say("  Everything above ran against the emulator; nothing left this machine.")
    if not ok:
        say("  SOMETHING DID NOT END AS EXPECTED: see the lines marked !! above.")
        return 1
    return 0


def scenario(
    autopilot: LocalAutopilot,
    cloud: LocalCloud,
    title: str,
    requester: Network,
    accepter: Network,
    expect_status: str,
) -> bool:
    heading(title)
    user = cloud.ec2(requester.account, requester.region, record=True)
    response = user.create_vpc_peering_connection(
        VpcId=requester.vpc_id, PeerVpcId=accepter.vpc_id, PeerOwnerId=accepter.account, PeerRegion=accepter.region
    )
    peering_id = response["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    say(
        f"  A network engineer in {requester.account} requests {requester.name} ({requester.cidr}) -> "
        f"{accepter.name} ({accepter.cidr}) in {accepter.account}: {peering_id}"
    )
    say(f"  -> CloudTrail records CreateVpcPeeringConnection in {requester.account}/{requester.region}")

    deliveries = autopilot.run_until_idle()
    if not deliveries:
        say("  !! no function was invoked")
    for delivery in deliveries:
        describe_delivery(delivery)
    for event in autopilot.published[-len(deliveries) :] if deliveries else []:
        say(f"  -> published '{event['detail-type']}' on the bus for operators and the next steps")

    ec2 = cloud.ec2(accepter.account, accepter.region)
    found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])["VpcPeeringConnections"]
    peering = next(p for p in found if p["VpcPeeringConnectionId"] == peering_id)
    tags = {
        t["Key"]: t["Value"]
        for t in ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [peering_id]}])["Tags"]
    }
    status = str(peering["Status"]["Code"])
    mark = "OK" if status == expect_status else "!!"
    say(
        f"  {mark} {peering_id} is {status}"
        f"; tag peering-autopilot:status = {tags.get('peering-autopilot:status', '(none)')}"
    )
    return status == expect_status


def describe_delivery(delivery: Delivery) -> None:
    say(f"  -> {delivery.via} -> hub bus -> rule {delivery.rule}")
    result = delivery.result or {}
    verdict = {
        "accepted": "ACCEPTED",
        "declined": "DECLINED, left pending for a human",
        "rejected": "REJECTED",
        "skipped": "nothing to do",
    }.get(str(result.get("status")), str(result.get("status")).upper())
    say(f"  -> {delivery.function}: {verdict}")
    say(f"     because {result.get('reason') or result.get('error')}")


def role_of(account: str) -> str:
    return {
        HUB_ACCOUNT: "hub (network team)",
        MEMBER_ACCOUNT: "approved member",
        OUTSIDER_ACCOUNT: "in org, NOT approved",
    }.get(account, "")


def heading(text: str) -> None:
    say("")
    say(f"== {text}")


def say(text: str) -> None:
    print(text, flush=True)


if __name__ == "__main__":
    sys.exit(main())
