"""`make demo`: the seed's runbook, hands-off, against an embedded AWS emulator (moto's server).

Builds the seed's world, sends peering requests as people would, then runs the automation as AWS
would (CloudTrail → EventBridge rules from the templates → the template's handlers) until nothing
is left to do, and tells what happened in a network engineer's words. The hub runs under the
network team's policy (its SSM parameter, as `peering-autopilot policy deploy` stores it): requests
between managed accounts are accepted, a request into a partner VPC is asked of a person, who
approves it with their own identity. Then a peering group: three VPCs in three accounts tagged into
one group converge with no request from anyone, and one leaving the group takes its peerings with it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from autopilot_local.cloudtrail import Identity
from autopilot_local.harness import PROJECT, Delivery, LocalAutopilot, LocalCloud
from autopilot_local.metering import count_calls
from autopilot_local.world import (
    ENABLED,
    HUB_ACCOUNT,
    MEMBER_ACCOUNT,
    OUTSIDER_ACCOUNT,
    REGION,
    THIRD_ACCOUNT,
    Network,
    build_network,
    build_seed_world,
)
from peering_autopilot.aws.dynamodb import RecordStore
from peering_autopilot.recorder import Recorder

GROUP_TAG = "peering-autopilot:group"

LOG_FILE = PROJECT / "build" / "demo" / "function-logs.jsonl"
POLICY_PARAMETER = "/peering-autopilot/policy"
# The member's network approver: a person signed in to their role in the member account (where the
# request is accepted), named by the policy's ask rule.
APPROVER = Identity(MEMBER_ACCOUNT, "NetworkApprover", "dana@example.com")
# The network team's document (docs/governance.md "Policy"): what the demo's hub runs under.
DEMO_POLICY: dict[str, Any] = {
    "version": 1,
    "defaults": {"outcome": "ask"},
    "rules": [
        {
            "name": "into-partner-vpcs",
            "accepter": {"vpc_tags": {"zone": "partner"}},
            "outcome": "ask",
            "approvers": [APPROVER.role_arn],
        },
        {"name": "within-the-organization", "outcome": "accept"},
    ],
    "groups": {"shared-services": {"accounts": [HUB_ACCOUNT, MEMBER_ACCOUNT, THIRD_ACCOUNT]}},
}


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
    ssm = cloud.session(HUB_ACCOUNT).client("ssm", region_name=REGION)
    ssm.put_parameter(Name=POLICY_PARAMETER, Value=json.dumps(DEMO_POLICY), Type="String", Overwrite=True)
    parameters = {
        "ApprovedAccountIds": f"{MEMBER_ACCOUNT},{THIRD_ACCOUNT}",
        "ManagedRegions": REGION,
        "OrganizationId": "o-demoorg0001",
        "UnapprovedRequestAction": "leave-pending",
        "PolicyParameterName": POLICY_PARAMETER,
    }
    autopilot = LocalAutopilot(
        cloud,
        parameters,
        region=REGION,
        member_accounts=(MEMBER_ACCOUNT, OUTSIDER_ACCOUNT, THIRD_ACCOUNT),
        log_stream=log,
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
    rules = "; ".join(f"{r['name']}: {r['outcome']}" for r in DEMO_POLICY["rules"])
    say(f"  The network team's policy ({POLICY_PARAMETER}), first match wins: {rules}; else ask")

    ok = True
    ok &= scenario(
        autopilot,
        cloud,
        "Steps 1-4 of the runbook: VPC-A asks to peer with VPC-B; nobody touches the console",
        world.vpc_a,
        world.vpc_b,
        expect_status="active",
        expect_tag="verified",
    )
    ok &= redelivery(autopilot)
    ok &= drift_repair(autopilot, cloud, world.vpc_a, world.vpc_b)
    ok &= blocked_case(cloud, world.vpc_a, world.vpc_b, host, port)
    deleted = active_peering(cloud, world.vpc_b)
    ok &= deletion(autopilot, cloud, world.vpc_a, world.vpc_b)
    ok &= history_case(deleted, world.vpc_a, host, port)
    ok &= scenario(
        autopilot,
        cloud,
        "A request from an account that is not approved",
        world.vpc_c,
        world.vpc_b,
        expect_status="pending-acceptance",
        expect_tag="declined:requester-not-approved",
    )
    ok &= scenario(
        autopilot,
        cloud,
        "A request into a VPC whose owner has not opted in",
        world.vpc_a,
        world.vpc_d,
        expect_status="pending-acceptance",
        expect_tag="declined:accepter-not-opted-in",
    )
    ok &= held_case(autopilot, cloud, world.vpc_a)
    ok &= asked_case(autopilot, cloud)
    ok &= peering_group(autopilot, cloud)

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
    expect_tag: str,
) -> bool:
    heading(title)
    peering_id = person_requests(cloud, requester, accepter)
    say(
        f"  A network engineer in {requester.account} requests {requester.name} ({requester.cidr}) -> "
        f"{accepter.name} ({accepter.cidr}) in {accepter.account}: {peering_id}"
    )
    say(f"  -> CloudTrail records CreateVpcPeeringConnection in {requester.account}/{requester.region}")

    published_before = len(autopilot.published)
    deliveries = autopilot.run_until_idle()
    if not deliveries:
        say("  !! no function was invoked")
    for delivery in deliveries:
        describe_delivery(delivery, autopilot.published[published_before:])

    ec2 = cloud.ec2(accepter.account, accepter.region)
    found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])["VpcPeeringConnections"]
    peering = next(p for p in found if p["VpcPeeringConnectionId"] == peering_id)
    tag = status_tag(ec2, peering_id)
    status = str(peering["Status"]["Code"])
    ok = status == expect_status and tag == expect_tag
    say(f"  {'OK' if ok else '!!'} {peering_id} is {status}; tag peering-autopilot:status = {tag}")
    if status == "active":
        say("  Read back from EC2:")
        for net in (requester, accepter):
            ok &= show_network(cloud, net, peering_id)
    return ok


def redelivery(autopilot: LocalAutopilot) -> bool:
    """EventBridge delivers at least once: the same event again must change nothing."""
    heading("EventBridge delivers 'Peering Accepted' a second time (at-least-once delivery)")
    accepted = next(e for e in autopilot.published if e["detail-type"] == "Peering Accepted")
    with count_calls() as calls:
        deliveries = autopilot.run_until_idle_with(accepted, via="redelivered")
    changes = calls.mutating()
    detail = next(e for e in reversed(autopilot.published) if e["detail-type"] == "Peering Configured")["detail"]
    present = sum(len(side["routes"]["present"]) for side in detail["sides"])
    rules = sum(len(g["rules"]) for side in detail["sides"] for g in side["securityGroups"]["present"])
    reads = sum(calls.by_action().values()) - len(changes)
    say(f"  -> ConfigurePeeringFunction: {present} routes and {rules} rules already in place")
    followers = ", ".join(f"{d.function}: {d.result.get('status')}" for d in deliveries[1:])
    say(f"  -> then {followers}")
    say(f"  {'OK' if not changes else '!!'} {reads} EC2 reads, {len(changes)} changes {changes or ''}")
    return not changes


def active_peering(cloud: LocalCloud, accepter: Network) -> str:
    found = cloud.ec2(accepter.account, accepter.region).describe_vpc_peering_connections()["VpcPeeringConnections"]
    return str(
        next(
            p["VpcPeeringConnectionId"]
            for p in found
            if p["AccepterVpcInfo"]["VpcId"] == accepter.vpc_id and p["Status"]["Code"] == "active"
        )
    )


def drift_repair(autopilot: LocalAutopilot, cloud: LocalCloud, vpc_a: Network, vpc_b: Network) -> bool:
    """People delete routes by hand; the sweep notices and the same configure path puts it back."""
    heading("Someone deletes VPC-B's route to VPC-A by hand; the next sweep (every 5 minutes) notices")
    cloud.ec2(vpc_b.account, vpc_b.region).delete_route(
        RouteTableId=vpc_b.route_table_id, DestinationCidrBlock=vpc_a.cidr
    )
    say(f"  route {vpc_a.cidr} deleted from {vpc_b.route_table_id}")
    deliveries = autopilot.tick()
    for delivery in deliveries:
        result = delivery.result or {}
        extra = f" work found: {result.get('work')}" if delivery.function == "SweepFunction" else ""
        say(f"  -> {delivery.via} -> {delivery.function}: {result.get('status')}{extra}")
    routes = cloud.ec2(vpc_b.account, vpc_b.region).describe_route_tables(RouteTableIds=[vpc_b.route_table_id])
    back = any(r.get("DestinationCidrBlock") == vpc_a.cidr for r in routes["RouteTables"][0]["Routes"])
    say(
        f"  {'OK' if back else '!!'} {vpc_b.route_table_id}: {vpc_a.cidr} -> peering {'is back' if back else 'still missing'}"
    )
    with count_calls() as calls:
        again = autopilot.tick()
    quiet = [d.function for d in again] == ["SweepFunction"] and not calls.mutating()
    say(f"  {'OK' if quiet else '!!'} the sweep after that finds nothing to do and changes nothing")
    return back and quiet


def deletion(autopilot: LocalAutopilot, cloud: LocalCloud, vpc_a: Network, vpc_b: Network) -> bool:
    """The peering ends: the autopilot removes its routes and its own rules, and nothing else."""
    heading("VPC-A's owner deletes the peering; the autopilot tidies up both sides")
    peering_id = active_peering(cloud, vpc_b)
    cloud.ec2(vpc_a.account, vpc_a.region, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    say(f"  $ aws ec2 delete-vpc-peering-connection --vpc-peering-connection-id {peering_id}")
    for delivery in autopilot.run_until_idle():
        say(f"  -> {delivery.via} -> hub bus -> rule {delivery.rule}")
        say(f"  -> {delivery.function}: {delivery.result.get('status')}: {delivery.result.get('summary')}")
    ok = True
    for net in (vpc_a, vpc_b):
        ec2 = cloud.ec2(net.account, net.region)
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["RouteTables"]
        left = [t["RouteTableId"] for t in tables for r in t["Routes"] if r.get("VpcPeeringConnectionId") == peering_id]
        [group] = ec2.describe_security_groups(GroupIds=[net.security_group_id])["SecurityGroups"]
        rules = [
            r
            for p in group["IpPermissions"]
            for r in p.get("IpRanges", [])
            if r.get("Description") == f"peering-autopilot {peering_id}"
        ]
        clean = not left and not rules
        ok &= clean
        say(f"  {'OK' if clean else '!!'} {net.name}: no route through {peering_id}, no autopilot rule left")
    return ok


def history_case(peering_id: str, vpc_a: Network, host: str, port: int) -> bool:
    """The record: who did what to the peering, on what evidence, and whether its history is intact."""
    heading(f"A month later someone asks who accepted {peering_id}, and when: the autopilot's record")
    tool = Path(sys.executable).parent / "peering-autopilot"
    where = ["--region", vpc_a.region, "--endpoint-url", f"http://{host}:{port}"]
    command = [str(tool), "history", peering_id, "--verify", *where]
    say(
        f"  $ peering-autopilot history {peering_id} --verify --region {vpc_a.region} --endpoint-url http://{host}:{port}"
    )
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    for line in (completed.stdout + completed.stderr).splitlines():
        say(f"     | {line}")
    kinds = ("accepted", "configured", "verified", "deleted", "cleaned-up")
    found = completed.returncode == 0 and all(f" {kind} " in completed.stdout for kind in kinds)
    say(
        f"  {'OK' if found else '!!'} the timeline from accept to clean-up, its chain intact (exit status {completed.returncode})"
    )
    return found


def blocked_case(cloud: LocalCloud, vpc_a: Network, vpc_b: Network, host: str, port: int) -> bool:
    """A change by hand breaks the path; the on-call engineer runs the doctor, as they would."""
    heading("Later, someone adds a deny rule to VPC-B's network ACL; on-call runs the doctor")
    ec2 = cloud.ec2(vpc_b.account, vpc_b.region)
    acl = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [vpc_b.subnet_id]}])[
        "NetworkAcls"
    ][0]["NetworkAclId"]
    ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=90,
        Protocol="1",
        RuleAction="deny",
        Egress=False,
        CidrBlock=vpc_a.cidr,
        IcmpTypeCode={"Type": -1, "Code": -1},
    )
    say(f"  {acl} inbound rule 90: deny ICMP from {vpc_a.cidr} (before the allow-all rule 100)")
    peering_id = active_peering(cloud, vpc_b)
    doctor = Path(sys.executable).parent / "peering-autopilot"
    command = [str(doctor), "doctor", peering_id, "--region", vpc_a.region, "--endpoint-url", f"http://{host}:{port}"]
    say(f"  $ peering-autopilot doctor {peering_id} --region {vpc_a.region} --endpoint-url http://{host}:{port}")
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    for line in (completed.stdout + completed.stderr).splitlines():
        say(f"     | {line}")
    found = completed.returncode == 1 and f"{acl} rule 90 denies icmp" in completed.stdout
    say(f"  {'OK' if found else '!!'} the doctor names {acl} rule 90 (exit status {completed.returncode})")
    return found


def held_case(autopilot: LocalAutopilot, cloud: LocalCloud, hub_net: Network) -> bool:
    """What a member says its blocks are never decides where others' traffic goes: a range a hub
    table already sends elsewhere is held for a person, not taken."""
    heading("A member brings a range the hub already sends on-premises: held, never taken")
    ec2 = cloud.ec2(hub_net.account, hub_net.region)
    vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=hub_net.vpc_id, VpnGatewayId=vgw)
    app = hub_net.route_table_id
    ec2.create_route(RouteTableId=app, DestinationCidrBlock="10.50.0.0/16", GatewayId=vgw)
    say(f"  {hub_net.name}'s app table {app} sends 10.50.0.0/16 on-premises, through {vgw}")
    member = build_network(cloud, Network("VPC-H", MEMBER_ACCOUNT, REGION, "10.50.0.0/16", tags=dict(ENABLED)))
    peering_id = person_requests(cloud, member, hub_net)
    say(
        f"  An approved member's VPC-H ({member.cidr}) in {member.account} asks to peer with {hub_net.name}: {peering_id}"
    )
    published_before = len(autopilot.published)
    tally(autopilot.run_until_idle())
    for event in autopilot.published[published_before:]:
        if event["detail-type"] == "Peering Held" and event["detail"]["peeringId"] == peering_id:
            for held in event["detail"]["held"]:
                say(
                    f"  -> 'Peering Held': {held['destination']} in {held['routeTableId']}: "
                    f"{held['existingDestination']} already goes to {held['existingTarget']}"
                )
    [table] = ec2.describe_route_tables(RouteTableIds=[app])["RouteTables"]
    onprem = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "10.50.0.0/16"]
    kept = [r.get("GatewayId") for r in onprem] == [vgw]
    say(f"  {'OK' if kept else '!!'} {app}: 10.50.0.0/16 still goes to {vgw}: the older claim keeps its traffic")
    tag = status_tag(ec2, peering_id)
    held_tag = tag == "held:routed-elsewhere"
    say(f"  {'OK' if held_tag else '!!'} {hub_net.name}'s side of {peering_id}: peering-autopilot:status = {tag}")
    return kept and held_tag


def asked_case(autopilot: LocalAutopilot, cloud: LocalCloud) -> bool:
    """The policy's `ask`: the request waits for a person, who decides with their own identity."""
    heading("The policy asks a person: a request into a partner VPC waits for an approver")
    partner = build_network(
        cloud, Network("VPC-P", MEMBER_ACCOUNT, REGION, "10.60.0.0/16", tags={**ENABLED, "zone": "partner"})
    )
    asking = build_network(cloud, Network("VPC-Q", THIRD_ACCOUNT, REGION, "10.61.0.0/16", tags=dict(ENABLED)))
    peering_id = person_requests(cloud, asking, partner)
    say(
        f"  {asking.name} ({asking.cidr}) in {asking.account} asks to peer with {partner.name} (zone=partner): {peering_id}"
    )
    published_before = len(autopilot.published)
    tally(autopilot.run_until_idle())
    ec2 = cloud.ec2(partner.account, partner.region)
    waiting = status_tag(ec2, peering_id) == "awaiting-approval:into-partner-vpcs"
    say(f"  {'OK' if waiting else '!!'} {peering_id} waits: peering-autopilot:status = {status_tag(ec2, peering_id)}")
    for event in autopilot.published[published_before:]:
        if event["detail-type"] == "Peering Approval Requested":
            detail = event["detail"]
            say(f"  -> 'Peering Approval Requested': rule {detail['rule']}, who may approve: {detail['approvers']}")
            for side in detail["wouldAdd"]:
                say(f"     approval would add in {side['vpcId']}: routes {side['routes']}, rules {side['rules']}")

    heading(f"The approver signs in as {APPROVER.role_name} in {MEMBER_ACCOUNT} and accepts it in the console")
    person = cloud.person_session(APPROVER, REGION).client("ec2")
    person.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    say(f"  -> CloudTrail records AcceptVpcPeeringConnection by {APPROVER.role_arn} (session {APPROVER.session_name})")
    tally(autopilot.run_until_idle())
    routed = routes_between(cloud, partner, asking, peering_id) and routes_between(cloud, asking, partner, peering_id)
    verified = status_tag(ec2, peering_id) == "verified"
    say(f"  {'OK' if routed and verified else '!!'} configured both ways and {status_tag(ec2, peering_id)}")
    # The autopilot's record, read with the hub's own credentials (as `peering-autopilot history` does).
    client = cloud.session(HUB_ACCOUNT).client("dynamodb", region_name=REGION)
    store = RecordStore(client, autopilot.stack.physical_name("RecordTable"))
    entries = [e.describe() for e in Recorder(store, None).history(peering_id)]
    approvals = [e["evidence"] for e in entries if e["kind"] == "approved"]
    approved = [a.get("approver") for a in approvals] == [APPROVER.role_arn]
    say(
        f"  {'OK' if approved else '!!'} the record: approved under rule "
        f"{approvals[0].get('rule') if approvals else '?'} by {approvals[0].get('approver') if approvals else '?'}"
        " (who, from CloudTrail's record of the call; never from a payload)"
    )
    return waiting and routed and verified and approved


def peering_group(autopilot: LocalAutopilot, cloud: LocalCloud) -> bool:
    """Step 1 hands-off: owners tag their VPCs into one group; nobody sends a request."""
    heading("A peering group: three VPCs in three accounts tagged peering-autopilot:group=shared-services")
    nets = [
        build_network(cloud, Network("VPC-E", HUB_ACCOUNT, REGION, "10.10.0.0/16", tags=dict(ENABLED))),
        build_network(cloud, Network("VPC-F", MEMBER_ACCOUNT, REGION, "10.11.0.0/16", tags=dict(ENABLED))),
        build_network(cloud, Network("VPC-G", THIRD_ACCOUNT, REGION, "10.12.0.0/16", tags=dict(ENABLED))),
    ]
    for net in nets:
        cloud.tag_vpc(net.account, net.region, net.vpc_id, {GROUP_TAG: "shared-services"})
        say(f"  {net.name} {net.vpc_id} {net.cidr} in {net.account}: tagged (a tag change: EventBridge says so)")
    tally(autopilot.run_until_idle())
    live = group_peerings(cloud, nets, ("active",))
    ok = len(live) == 3
    say(f"  {'OK' if ok else '!!'} {len(live)} peerings, all active, for 3 VPCs: n(n-1)/2 = 3; no request by a person")
    for pcx, (a, b) in sorted(live.items()):
        routed = routes_between(cloud, a, b, pcx) and routes_between(cloud, b, a, pcx)
        ok &= routed
        say(f"    {'OK' if routed else '!!'} {pcx}: {a.name} (requester, sorts first) <-> {b.name}, routed both ways")

    leaver = nets[2]
    heading(f"{leaver.name}'s owner takes it out of the group (tag removed)")
    cloud.untag_vpc(leaver.account, leaver.region, leaver.vpc_id, [GROUP_TAG])
    tally(autopilot.run_until_idle())
    left = group_peerings(cloud, nets, ("active",))
    gone = [pcx for pcx, pair in live.items() if leaver in pair]
    clean = all(
        not routes_between(cloud, a, b, pcx) and not routes_between(cloud, b, a, pcx)
        for pcx in gone
        for a, b in [live[pcx]]
    )
    stays = len(left) == 1 and leaver not in next(iter(left.values()))
    say(
        f"  {'OK' if stays else '!!'} {len(gone)} peerings of {leaver.name} withdrawn; {len(left)} left (VPC-E <-> VPC-F)"
    )
    say(f"  {'OK' if clean else '!!'} no route through the withdrawn peerings on either side")
    return ok and stays and clean


def tally(deliveries: list[Delivery]) -> None:
    """What ran, function by function, in a line each."""
    counts: dict[str, dict[str, int]] = {}
    for delivery in deliveries:
        status = str((delivery.result or {}).get("status"))
        counts.setdefault(delivery.function, {}).setdefault(status, 0)
        counts[delivery.function][status] += 1
    for function, statuses in counts.items():
        words = ", ".join(f"{n} {TALLY_WORDS.get((function, status), status)}" for status, n in statuses.items())
        say(f"  -> {function}: {words}")


# The functions' outcome names are the record's contract; the narration says what each means here.
TALLY_WORDS = {
    ("SweepFunction", "group-change"): "tag changes planned",
    # The other VPC of the pair had already sent the request: the planner sends each pair's once.
    ("ConnectPeeringFunction", "skipped"): "already requested",
    ("VerifyPeeringFunction", "verified"): "verified (by configuration: no live ping in the demo)",
}


def group_peerings(
    cloud: LocalCloud, nets: list[Network], states: tuple[str, ...]
) -> dict[str, tuple[Network, Network]]:
    by_vpc = {n.vpc_id: n for n in nets}
    found: dict[str, tuple[Network, Network]] = {}
    for net in nets:
        for p in cloud.ec2(net.account, net.region).describe_vpc_peering_connections()["VpcPeeringConnections"]:
            ends = (p["RequesterVpcInfo"]["VpcId"], p["AccepterVpcInfo"]["VpcId"])
            if p["Status"]["Code"] in states and all(e in by_vpc for e in ends):
                found[p["VpcPeeringConnectionId"]] = (by_vpc[ends[0]], by_vpc[ends[1]])
    return found


def person_requests(cloud: LocalCloud, requester: Network, accepter: Network) -> str:
    """A person in the requester's account asks to peer, as in the console (CloudTrail records it)."""
    user = cloud.ec2(requester.account, requester.region, record=True)
    response = user.create_vpc_peering_connection(
        VpcId=requester.vpc_id, PeerVpcId=accepter.vpc_id, PeerOwnerId=accepter.account, PeerRegion=accepter.region
    )
    return str(response["VpcPeeringConnection"]["VpcPeeringConnectionId"])


def routes_between(cloud: LocalCloud, net: Network, peer: Network, peering_id: str) -> bool:
    tables = cloud.ec2(net.account, net.region).describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}]
    )["RouteTables"]
    return any(
        r.get("DestinationCidrBlock") == peer.cidr and r.get("VpcPeeringConnectionId") == peering_id
        for t in tables
        for r in t["Routes"]
    )


def describe_delivery(delivery: Delivery, published: list[dict[str, Any]]) -> None:
    if delivery.via.startswith("published"):
        say(f"  -> '{delivery.event['detail-type']}' -> rule {delivery.rule}")
    else:
        say(f"  -> {delivery.via} -> hub bus -> rule {delivery.rule}")
    result = delivery.result or {}
    status = str(result.get("status"))
    verdict = {
        "accepted": "ACCEPTED",
        "declined": "DECLINED, left pending for a human",
        "rejected": "REJECTED",
        "skipped": "nothing to do",
        "configured": "CONFIGURED both sides",
        "partially-configured": "PARTLY CONFIGURED",
        # No instance of the demo is a probe (peering-autopilot:probe), so the live ping never runs:
        # the verdict checks configuration, no packet is sent.
        "verified": "VERIFIED both ways (a configuration check: no live ping ran)",
    }.get(status, status.upper())
    say(f"  -> {delivery.function}: {verdict}")
    if result.get("reason") or result.get("error"):
        say(f"     because {result.get('reason') or result.get('error')}")
    for event in published:
        detail = event["detail"]
        if (
            detail.get("peeringId") != result.get("peeringId")
            or event["detail-type"] not in PUBLISHES[delivery.function]
        ):
            continue
        if event["detail-type"] == "Peering Configured":
            for side in detail["sides"]:
                say("     " + side_summary(side))
        if event["detail-type"].startswith("Peering Verif"):
            for line in detail["report"].splitlines():
                say(f"     | {line}")
        say(f"  -> published '{event['detail-type']}' on the bus for operators and the next steps")


PUBLISHES = {
    "AcceptPeeringFunction": {"Peering Accepted", "Peering Declined", "Peering Rejected"},
    "ConfigurePeeringFunction": {"Peering Configured"},
    "VerifyPeeringFunction": {"Peering Verified", "Peering Verification Failed", "Peering Verification Deferred"},
}


def side_summary(side: dict[str, Any]) -> str:
    where = f"{side['role']} {side['vpcId']} ({side['accountId']})"
    if not side["managed"]:
        return f"{where}: NOT MANAGED, {side['notManagedReason']}"
    routes = side["routes"]
    groups = side["securityGroups"]
    added_routes = ", ".join(f"{r['routeTableId']} {r['destination']}" for r in routes["added"]) or "none"
    added_rules = "; ".join(f"{g['groupId']}: {', '.join(g['rules'])}" for g in groups["added"]) or "none"
    words = f"{where}: routes added [{added_routes}]; rules added [{added_rules}]"
    for conflict in routes["conflicts"]:
        words += f"; CONFLICT {conflict['routeTableId']} {conflict['destination']} -> {conflict['existingTarget']}"
    for bad in groups["invalidEntries"]:
        words += f"; BAD ALLOW ENTRY {bad['groupId']} {bad['entry']!r}: {bad['error']}"
    return words


def show_network(cloud: LocalCloud, net: Network, peering_id: str) -> bool:
    """The routes through the peering and the autopilot's rules, as EC2 has them now."""
    ec2 = cloud.ec2(net.account, net.region)
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["RouteTables"]
    ok = True
    for table in sorted(tables, key=lambda t: str(t["RouteTableId"])):
        main = any(a.get("Main") for a in table.get("Associations", []))
        via = [r["DestinationCidrBlock"] for r in table["Routes"] if r.get("VpcPeeringConnectionId") == peering_id]
        mark = "OK" if via else "!!"
        ok &= bool(via)
        kind = "main" if main else "subnet"
        say(f"    {mark} {net.name} {table['RouteTableId']} ({kind}): {', '.join(via) or 'no route'} -> {peering_id}")
    [group] = ec2.describe_security_groups(GroupIds=[net.security_group_id])["SecurityGroups"]
    rules = [
        f"{p['IpProtocol']} from {r['CidrIp']}"
        for p in group["IpPermissions"]
        for r in p.get("IpRanges", [])
        if r.get("Description") == f"peering-autopilot {peering_id}"
    ]
    ok &= bool(rules)
    say(f"    {'OK' if rules else '!!'} {net.name} {net.security_group_id} inbound: {', '.join(rules) or 'none'}")
    return ok


def status_tag(ec2: Any, peering_id: str) -> str:
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [peering_id]}])["Tags"]
    return next((t["Value"] for t in tags if t["Key"] == "peering-autopilot:status"), "(none)")


def role_of(account: str) -> str:
    return {
        HUB_ACCOUNT: "hub (network team)",
        MEMBER_ACCOUNT: "approved member",
        THIRD_ACCOUNT: "approved member",
        OUTSIDER_ACCOUNT: "in org, NOT approved",
    }.get(account, "")


def heading(text: str) -> None:
    say("")
    say(f"== {text}")


def say(text: str) -> None:
    print(text, flush=True)


if __name__ == "__main__":
    sys.exit(main())
