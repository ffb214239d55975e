"""Upgrading: an estate made by a version without the record is adopted exactly, once.

The estate is made through the harness (a person's request accepted and configured, a group
peering requested by the connect function), then the record table is emptied: what a deployment
before the record leaves behind. People add things a sweep must not adopt. The first sweep adopts
exactly the autopilot's routes, rules and group peering; the second adopts nothing more."""

from __future__ import annotations

from typing import Any

from autopilot_local.harness import LocalAutopilot, LocalCloud
from peering_autopilot.model import CREATED_FOR_TAG, GROUP_TAG
from tests.support.world import HUB, MEMBER, OTHER_REGION, REGION, Net, Side, build_net

MARK = "peering-autopilot {}"


def table_name(autopilot: LocalAutopilot) -> str:
    return str(autopilot.stack.resolve(autopilot.stack.resources["RecordTable"]["Properties"])["TableName"])


def items(cloud: LocalCloud, autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    dynamodb = cloud.session(HUB).resource("dynamodb", region_name=REGION)
    return list(dynamodb.Table(table_name(autopilot)).scan(ConsistentRead=True)["Items"])


def empty_the_record(cloud: LocalCloud, autopilot: LocalAutopilot) -> None:
    """The previous version kept no record at all."""
    table = cloud.session(HUB).resource("dynamodb", region_name=REGION).Table(table_name(autopilot))
    for item in items(cloud, autopilot):
        table.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})


def owned(cloud: LocalCloud, autopilot: LocalAutopilot) -> set[tuple[str, ...]]:
    """The ownership items, readably: (peering, kind, account, region, where, what, how)."""
    out = set()
    for item in items(cloud, autopilot):
        if not item["pk"].startswith("own#"):
            continue
        pid = item["pk"].removeprefix("own#")
        if item["kind"] == "route":
            where, what = item["table"], item["destination"]
            out.add((pid, "route", item["account"], item["region"], where, what, item["how"]))
        elif item["kind"] == "rule":
            what = f"{item['protocol']}:{item['from']}-{item['to']} {item['cidr']}"
            out.add((pid, "rule", item["account"], item["region"], item["group"], what, item["how"]))
        else:
            out.add((pid, "peering", item["requester"], item["accepter"], item["group"], item["state"], item["how"]))
    return out


def adopted_entries(cloud: LocalCloud, autopilot: LocalAutopilot) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in items(cloud, autopilot):
        if item["pk"].startswith("history#") and item["kind"] == "adopted":
            found.setdefault(item["pk"].removeprefix("history#"), []).append(item)
    return found


def key(side: Side) -> str:
    return f"{side.account}/{side.region}/{side.vpc_id}"


def side_items(pid: str, net: Net, peer_block: str) -> set[tuple[str, ...]]:
    """What configure makes on one side of build_net's VPC: a route in the main and both subnet
    tables, icmp and tcp:443 from the peer's block in the allow-tagged group."""
    s = net.side
    routes = {(pid, "route", s.account, s.region, t, peer_block, "adopted") for t in net.managed_tables}
    rules = {
        (pid, "rule", s.account, s.region, net.tagged_group, what, "adopted")
        for what in (f"icmp:-1--1 {peer_block}", f"tcp:443-443 {peer_block}")
    }
    return routes | rules


def test_an_estate_made_by_the_previous_version_is_adopted_exactly_and_once(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    autopilot = autopilot_factory()
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    c = build_net(cloud, MEMBER, REGION, "10.2.0.0/16")
    d = build_net(cloud, MEMBER, OTHER_REGION, "10.3.0.0/16")

    # A person peers A and B, with the created-for-group tag their IaC copies; they share a group,
    # so no version withdraws it. The autopilot accepts and configures it.
    person = cloud.ec2(HUB, REGION, record=True)
    ab = person.create_vpc_peering_connection(
        VpcId=a.side.vpc_id,
        PeerVpcId=b.side.vpc_id,
        PeerOwnerId=MEMBER,
        PeerRegion=REGION,
        TagSpecifications=[
            {"ResourceType": "vpc-peering-connection", "Tags": [{"Key": CREATED_FOR_TAG, "Value": "copied"}]}
        ],
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    autopilot.run_until_idle()
    for net in (a, b):
        cloud.tag_vpc(net.side.account, net.side.region, net.side.vpc_id, {GROUP_TAG: "copied"})
    # C and D join a group: the connect function requests their peering, then it is configured.
    for net in (c, d):
        cloud.tag_vpc(net.side.account, net.side.region, net.side.vpc_id, {GROUP_TAG: "platform"})
    autopilot.run_until_idle()
    ec2_c = cloud.ec2(MEMBER, REGION)
    [cd] = [
        p["VpcPeeringConnectionId"]
        for p in ec2_c.describe_vpc_peering_connections()["VpcPeeringConnections"]
        if p["Status"]["Code"] == "active" and p["RequesterVpcInfo"]["VpcId"] == c.side.vpc_id
    ]

    # People's things through the A-B peering, none exactly what the autopilot makes.
    ec2_a = cloud.ec2(HUB, REGION)
    ec2_a.create_route(RouteTableId=a.main_table, DestinationCidrBlock="10.1.5.0/24", VpcPeeringConnectionId=ab)
    ec2_a.create_route(RouteTableId=a.excluded_table, DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=ab)
    ec2_a.create_route(RouteTableId=a.loose_table, DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=ab)
    marked = [{"CidrIp": "10.1.0.0/16", "Description": MARK.format(ab)}]
    ec2_a.authorize_security_group_ingress(
        GroupId=a.tagged_group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": marked}]
    )
    ec2_a.authorize_security_group_ingress(
        GroupId=a.untagged_group,
        IpPermissions=[{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": marked}],
    )
    ec2_a.authorize_security_group_ingress(
        GroupId=a.tagged_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.1.5.0/24", "Description": MARK.format(ab)}],
            }
        ],
    )
    # What the previous version left: no record at all.
    empty_the_record(cloud, autopilot)

    # WHEN the upgraded autopilot's first sweep runs
    [sweep] = [d for d in autopilot.tick() if d.function == "SweepFunction"]

    # THEN the record holds exactly what the autopilot made, adopted; nothing of the people's
    expected = (
        side_items(ab, a, "10.1.0.0/16")
        | side_items(ab, b, "10.0.0.0/16")
        | side_items(cd, c, "10.3.0.0/16")
        | side_items(cd, d, "10.2.0.0/16")
        | {(cd, "peering", key(c.side), key(d.side), "platform", "made", "adopted")}
    )
    assert owned(cloud, autopilot) == expected
    # the person's group-tagged peering is not the autopilot's: no CloudTrail record by the connector
    assert not any(o[0] == ab and o[1] == "peering" for o in owned(cloud, autopilot))
    adopted = sweep.result["adopted"]
    assert adopted["notProven"] == [ab]
    assert (adopted["peerings"], adopted["routes"], adopted["rules"], adopted["groupPeerings"]) == (2, 12, 8, 1)
    assert adopted["places"] == 4  # two accounts, two regions

    # one `adopted` entry per peering, naming what and on what evidence
    entries = adopted_entries(cloud, autopilot)
    assert {pid: len(found) for pid, found in entries.items()} == {ab: 1, cd: 1}
    [cd_entry] = entries[cd]
    assert "created by the connector role" in cd_entry["summary"]
    assert f"{MEMBER}:role/PeeringAutopilotMember-connector" in cd_entry["evidence"]
    assert "cloudTrailEventId" in cd_entry["evidence"]
    [ab_entry] = entries[ab]
    assert "cloudTrailEventId" not in ab_entry["evidence"]
    assert "peeringNotAdopted" in ab_entry["evidence"]
    markers = {i["sk"] for i in items(cloud, autopilot) if i["pk"] == "meta"}
    assert markers == {f"adopted#{acct}#{region}" for acct in (HUB, MEMBER) for region in (REGION, OTHER_REGION)}

    # WHEN a second sweep runs: the places are marked, nothing more is adopted
    before = owned(cloud, autopilot)
    [again] = [d for d in autopilot.tick() if d.function == "SweepFunction"]
    assert "adopted" not in again.result
    assert owned(cloud, autopilot) == before
    assert {pid: len(found) for pid, found in adopted_entries(cloud, autopilot).items()} == {ab: 1, cd: 1}
