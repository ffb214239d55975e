"""Budgets (issue 21, rule 4): a table or a group near its quota, a peer over a cap. State in moto
after the handlers ran: what was written, what was held and where it shows (status tags, the
"Peering Held" event, verify's verdict, the sweep)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autopilot_local.harness import LocalAutopilot, LocalCloud
from peering_autopilot import cli
from tests.support.world import (
    HUB,
    MEMBER,
    REGION,
    Net,
    build_net,
    ingress,
    peering_as_accepter,
    peering_routes,
    request_peering,
    tags_of,
)

STATUS = "peering-autopilot:status"
ROUTES_QUOTA = "L-93826ACB"


def converged(cloud: LocalCloud, autopilot: LocalAutopilot, a: Net, b: Net) -> str:
    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    assert peering_as_accepter(cloud, b.side, peering_id)["Status"]["Code"] == "active"
    return peering_id


def held_events(autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    return [e["detail"] for e in autopilot.published if e["detail-type"] == "Peering Held"]


def verdicts(autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    kinds = ("Peering Verified", "Peering Verification Failed")
    return [e["detail"] for e in autopilot.published if e["detail-type"] in kinds]


def work_found(autopilot: LocalAutopilot, peering_id: str) -> list[dict[str, Any]]:
    return [
        e["detail"]
        for e in autopilot.published
        if e["detail-type"] == "Peering Work Found" and e["detail"].get("peeringId") == peering_id
    ]


def fill(cloud: LocalCloud, net: Net, table: str, routes: int) -> None:
    """A person's routes to an internet gateway until the table holds `routes` (its local route
    counts), none of them near the peer's blocks."""
    ec2 = cloud.ec2(net.side.account, net.side.region)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=net.side.vpc_id)
    for i in range(routes - 1):
        ec2.create_route(RouteTableId=table, DestinationCidrBlock=f"172.20.{i}.0/24", GatewayId=igw)


def test_a_table_near_its_quota_is_held_and_the_other_tables_are_routed(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the requester's app table already holds 45 routes: the default quota (50) less 10 %
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    app = a.subnet_tables[0]
    fill(cloud, a, app, 45)
    autopilot = autopilot_factory()

    # WHEN a peering is requested and the automation runs
    peering_id = converged(cloud, autopilot, a, b)

    # THEN nothing is written in that table, every other managed table (both sides) is routed ...
    routes = peering_routes(cloud, a, peering_id)
    assert routes[app] == set()
    assert all(routes[t] == {"10.1.0.0/16"} for t in a.managed_tables if t != app)
    assert all(peering_routes(cloud, b, peering_id)[t] == {"10.0.0.0/16"} for t in b.managed_tables)
    assert ingress(cloud, a, a.tagged_group) != set()  # groups have room: configured
    # ... the "Peering Held" event names the table and the numbers ...
    [notice] = held_events(autopilot)
    assert notice["code"] == "quota"
    [held] = notice["held"]
    assert {k: held[k] for k in ("accountId", "vpcId", "resourceId", "family", "kind", "inUse", "toAdd")} == {
        "accountId": HUB,
        "vpcId": a.side.vpc_id,
        "resourceId": app,
        "family": "IPv4",
        "kind": "routes",
        "inUse": 45,
        "toAdd": 1,
    }
    assert (held["quota"], held["limit"], held["cap"]) == (50, 45, None)
    assert f"{app}: 45 IPv4 routes in use + 1 to add would pass 45 (quota 50" in held["reason"]
    # ... the status reads held:quota on the side that holds it (the other never `verified`), and so
    # does verify's verdict, naming the table
    assert tags_of(cloud, a.side, peering_id)[STATUS] == "held:quota"
    assert tags_of(cloud, b.side, peering_id)[STATUS] in ("unverified:peer-side-held", "blocked:routes")
    verdict = verdicts(autopilot)[-1]
    assert verdict["outcome"] == "held:quota"
    assert any(app in line and "45 IPv4 routes in use" in line for line in verdict["held"])

    # AND the sweep finds no work there: a held addition waits for a person
    autopilot.tick()
    assert work_found(autopilot, peering_id) == []
    assert peering_routes(cloud, a, peering_id)[app] == set()


def test_a_members_full_table_is_held_there_its_quota_read_through_the_member_roles(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the member's main table holds 45 routes; the member's routes quota was never raised
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    fill(cloud, b, b.main_table, 45)
    autopilot = autopilot_factory()

    peering_id = converged(cloud, autopilot, a, b)

    # THEN the member's main table is held (configure and verify read its quota as the member's
    # configurer and verifier), its other tables and the hub's are routed
    assert peering_routes(cloud, b, peering_id)[b.main_table] == set()
    assert all(peering_routes(cloud, b, peering_id)[t] == {"10.0.0.0/16"} for t in b.subnet_tables)
    assert all(peering_routes(cloud, a, peering_id)[t] == {"10.1.0.0/16"} for t in a.managed_tables)
    [notice] = held_events(autopilot)
    [held] = notice["held"]
    assert (held["accountId"], held["resourceId"], held["inUse"], held["limit"]) == (MEMBER, b.main_table, 45, 45)
    assert verdicts(autopilot)[-1]["outcome"] == "held:quota"
    # AND the sweep (the member's reader) counts it alike: no work
    autopilot.tick()
    assert work_found(autopilot, peering_id) == []


def test_a_granted_quota_above_the_default_lets_the_route_through(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN the same full table, in an account whose routes quota was raised to 100
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    app = a.subnet_tables[0]
    fill(cloud, a, app, 45)
    cloud.grant_quota(HUB, REGION, ROUTES_QUOTA, 100.0)
    autopilot = autopilot_factory()

    peering_id = converged(cloud, autopilot, a, b)

    # THEN the applied quota (90 with the headroom) has room: routed, nothing held, verified
    assert peering_routes(cloud, a, peering_id)[app] == {"10.1.0.0/16"}
    assert held_events(autopilot) == []
    assert tags_of(cloud, a.side, peering_id)[STATUS] == "verified"


def test_a_peer_bringing_more_blocks_than_max_peer_blocks_is_held_whole(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN MaxPeerBlocks 1, and a member VPC with two IPv4 blocks
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16", secondary=("10.2.0.0/16",))
    autopilot = autopilot_factory(MaxPeerBlocks="1")

    peering_id = converged(cloud, autopilot, a, b)

    # THEN the requester's side routes and opens nothing to it (which block to keep is a guess) ...
    assert all(not r for r in peering_routes(cloud, a, peering_id).values())
    assert ingress(cloud, a, a.tagged_group) == set()
    # ... while the member's side, whose peer brings one block, is configured
    assert all(peering_routes(cloud, b, peering_id)[t] == {"10.0.0.0/16"} for t in b.managed_tables)
    # ... and the hold names the cap and the count
    [notice] = held_events(autopilot)
    [held] = notice["held"]
    assert (held["vpcId"], held["resourceId"], held["kind"], held["cap"]) == (
        a.side.vpc_id,
        b.side.vpc_id,
        "peer blocks",
        "MaxPeerBlocks",
    )
    assert (held["toAdd"], held["limit"]) == (2, 1)
    assert tags_of(cloud, a.side, peering_id)[STATUS] == "held:quota"
    assert verdicts(autopilot)[-1]["outcome"] == "held:quota"


def test_a_group_over_the_rules_cap_is_held_and_the_rest_configured(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN MaxRulesPerPeeringPerGroup 2: the member's group asks for three kinds of traffic
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16", allow="icmp,tcp:443")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16", allow="icmp,tcp:443,udp:53")
    autopilot = autopilot_factory(MaxRulesPerPeeringPerGroup="2")

    peering_id = converged(cloud, autopilot, a, b)

    # THEN that group gets none of them (never a partial guess), the other side's group gets its two,
    # and every table is routed
    assert ingress(cloud, b, b.tagged_group) == set()
    assert len(ingress(cloud, a, a.tagged_group)) == 2
    assert all(peering_routes(cloud, b, peering_id)[t] == {"10.0.0.0/16"} for t in b.managed_tables)
    [notice] = held_events(autopilot)
    [held] = notice["held"]
    assert (held["vpcId"], held["resourceId"], held["cap"], held["kind"]) == (
        b.side.vpc_id,
        b.tagged_group,
        "MaxRulesPerPeeringPerGroup",
        "rules",
    )
    assert (held["inUse"] + held["toAdd"], held["limit"]) == (3, 2)
    assert tags_of(cloud, b.side, peering_id)[STATUS] == "held:quota"


def test_the_status_command_shows_the_hold_with_the_numbers(
    cloud: LocalCloud, autopilot_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a peering held on a full table
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    app = a.subnet_tables[0]
    fill(cloud, a, app, 45)
    peering_id = converged(cloud, autopilot_factory(), a, b)

    # WHEN the operator asks for the status of both accounts
    capsys.readouterr()
    code = cli.main(["status", "--accounts", f"{HUB},{MEMBER}", "--regions", REGION, "--json"])
    report = json.loads(capsys.readouterr().out)

    # THEN the row reads held:quota, and the requester's side says what waits, where and why
    assert code == 0
    [row] = [r for r in report["peerings"] if r["peeringId"] == peering_id]
    assert row["verdict"].startswith("held:quota")
    missing = row["requester"]["missing"]
    assert missing.startswith(f"1 change held (quota): {app}: 45 IPv4 routes in use + 1 to add would pass 45")
    assert row["accepter"]["missing"] == "nothing"

    # AND the budget options (the hub's parameters, to judge as it does) are checked as the hub checks them
    code = cli.main(["status", "--accounts", HUB, "--regions", REGION, "--max-peer-blocks", "0", "--json"])
    assert code == 2
    assert "MAX_PEER_BLOCKS (parameter MaxPeerBlocks) must be a whole number from 1 to 50" in capsys.readouterr().err
