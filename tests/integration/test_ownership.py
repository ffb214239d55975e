"""Issue 20, ownership: the autopilot removes only what its own record says it made. Through the
local harness (moto has DynamoDB: the template's RecordTable and RecordBacklogQueue):

1. a person's more specific route through a configured peering stays, and sweeps stay quiet; a
   person's route sending a slice of the peer's block elsewhere is noted by verify and the status
   command, never touched;
2. a rule carrying the autopilot's marker that a person wrote stays, when the tag narrows and when
   the peering ends;
3. the record table unreadable: nothing is removed and the result says why; a new peering still
   gets its routes and rules; once the table answers, the sweep writes the backlog and the record
   holds exactly what was added, and the removal that waited is done;
4. a crash between intent and confirmation: the next run confirms what EC2 shows was made, and
   forgets what was not.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from autopilot_local.harness import Delivery, LocalAutopilot, LocalCloud
from peering_autopilot import cli
from peering_autopilot.record import INTENT, MADE, OwnedRoute, OwnedRule, own_key, route_item, rule_item
from peering_autopilot.security_groups import Rule
from tests.support.domain import Body
from tests.support.faults import Request, install_fault
from tests.support.world import (
    HUB,
    MEMBER,
    OUTSIDER,
    REGION,
    Net,
    build_net,
    hub_parameters,
    ingress,
    peering_routes,
    request_peering,
    tags_of,
)

MARK = "peering-autopilot {}"
WORK_FOUND = "Peering Work Found"
QUIET = [("SweepFunction", "Schedule", "sweep")]


def invoked(deliveries: list[Delivery]) -> list[tuple[str, str, str]]:
    return [(d.function, d.rule.split(".")[-1], str(d.result.get("status"))) for d in deliveries]


def work_for(autopilot: LocalAutopilot, peering_id: str, since: int = 0) -> list[dict[str, Any]]:
    return [
        e["detail"]
        for e in autopilot.published[since:]
        if e["detail-type"] == WORK_FOUND and e["detail"].get("peeringId") == peering_id
    ]


class Record:
    """The record table as the test reads and writes it, with a client made before any fault is
    installed (faults reach only sessions made after them)."""

    def __init__(self, cloud: LocalCloud, autopilot: LocalAutopilot) -> None:
        self.table = autopilot.stack.physical_name("RecordTable")
        self.client = cloud.session(HUB).client("dynamodb", region_name=REGION)

    def items(self, peering_id: str) -> dict[str, dict[str, Any]]:
        """The peering's ownership items by sort key, each as {attribute: plain value}."""
        found = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": own_key(peering_id)}},
            ConsistentRead=True,
        )["Items"]
        return {i["sk"]["S"]: {k: next(iter(v.values())) for k, v in i.items()} for i in found}

    def put(self, item: dict[str, Any]) -> None:
        wire = {k: ({"N": str(v)} if isinstance(v, int) else {"S": str(v)}) for k, v in item.items()}
        self.client.put_item(TableName=self.table, Item=wire)


def made_routes(record: Record, peering_id: str) -> set[tuple[str, str, str]]:
    """(account, table, destination) of every route the record holds as made."""
    return {
        (i["account"], i["table"], i["destination"])
        for i in record.items(peering_id).values()
        if i["kind"] == "route" and i["state"] == MADE
    }


def made_rules(record: Record, peering_id: str) -> set[tuple[str, str, str, int, int, str]]:
    return {
        (i["account"], i["group"], i["protocol"], int(i["from"]), int(i["to"]), i["cidr"])
        for i in record.items(peering_id).values()
        if i["kind"] == "rule" and i["state"] == MADE
    }


def routes_through(cloud: LocalCloud, nets: list[Net], peering_id: str) -> set[tuple[str, str, str]]:
    return {
        (net.side.account, table, destination)
        for net in nets
        for table, destinations in peering_routes(cloud, net, peering_id).items()
        for destination in destinations
    }


def marked_rules(cloud: LocalCloud, nets: list[Net], peering_id: str) -> set[tuple[str, str, str, int, int, str]]:
    return {
        (net.side.account, group, protocol, low, high, cidr)
        for net in nets
        for group in (net.tagged_group, net.untagged_group)
        for protocol, low, high, cidr, description in ingress(cloud, net, group)
        if description == MARK.format(peering_id)
    }


def converged_pair(cloud: LocalCloud, autopilot: LocalAutopilot, **b: Any) -> tuple[Net, Net, str]:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    bnet = build_net(cloud, MEMBER, REGION, "10.1.0.0/16", **b)
    peering_id = request_peering(cloud, a.side, bnet.side)
    autopilot.run_until_idle()
    assert invoked(autopilot.tick()) == QUIET, "setup: the peering did not converge"
    return a, bnet, peering_id


# ---------------------------------------------------------------------- 1. a person's routes


def test_a_persons_more_specific_route_stays_and_a_verified_peering_it_shadows_is_verified_again_once(
    cloud: LocalCloud, autopilot_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a peering the autopilot converged and verified (the record holds its routes), then a
    person routes 10.1.5.0/24 (inside the peer's 10.1.0.0/16) through the same peering, and
    10.1.6.0/24 to a network interface, from the hub VPC's main table
    WHEN the sweep runs three times
    THEN both routes are still there and nothing of theirs is changed; the first sweep has the
    peering verified again (a newer route takes a slice of its traffic: never left `verified`), the
    verdict becomes `blocked:routed-elsewhere`, and the next sweeps are quiet; the status command
    and the doctor's report say a person's route changes the path."""
    autopilot: LocalAutopilot = autopilot_factory()
    a, b, peering_id = converged_pair(cloud, autopilot)
    record = Record(cloud, autopilot)
    assert made_routes(record, peering_id) == routes_through(cloud, [a, b], peering_id)
    assert tags_of(cloud, a.side, peering_id)["peering-autopilot:status"] == "verified"
    ec2 = cloud.ec2(HUB, REGION)
    ec2.create_route(RouteTableId=a.main_table, DestinationCidrBlock="10.1.5.0/24", VpcPeeringConnectionId=peering_id)
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [a.side.vpc_id]}])["Subnets"][0]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    ec2.create_route(RouteTableId=a.main_table, DestinationCidrBlock="10.1.6.0/24", NetworkInterfaceId=eni)

    since = len(autopilot.published)
    deliveries = autopilot.tick()
    [work] = work_for(autopilot, peering_id, since)
    assert work["work"] == "configure" and "tagged verified, which its tables no longer say" in work["why"], work
    assert [d.function for d in deliveries][-1] == "VerifyPeeringFunction"
    assert all(op == "CreateTags" for d in deliveries for op in d.calls.mutating()), invoked(deliveries)
    assert tags_of(cloud, a.side, peering_id)["peering-autopilot:status"] == "blocked:routed-elsewhere"
    for number in (2, 3):
        since = len(autopilot.published)
        deliveries = autopilot.tick()
        assert (invoked(deliveries), work_for(autopilot, peering_id, since)) == (QUIET, []), (
            f"sweep {number} after the re-verification finds work: {invoked(deliveries)}"
        )
        assert deliveries[0].calls.mutating() == [], f"sweep {number} changed something"

    main = peering_routes(cloud, a, peering_id)[a.main_table]
    assert main == {"10.1.0.0/16", "10.1.5.0/24"}, f"the person's route through the peering went: {main}"
    routes = ec2.describe_route_tables(RouteTableIds=[a.main_table])["RouteTables"][0]["Routes"]
    assert {"DestinationCidrBlock": "10.1.6.0/24", "NetworkInterfaceId": eni} in [
        {k: r[k] for k in ("DestinationCidrBlock", "NetworkInterfaceId") if k in r} for r in routes
    ]
    # the record still holds exactly what the autopilot made: the person's route is not in it
    assert made_routes(record, peering_id) == routes_through(cloud, [a, b], peering_id) - {
        (HUB, a.main_table, "10.1.5.0/24")
    }

    # the status command says the path changed
    capsys.readouterr()
    assert cli.main(["status", "--accounts", f"{HUB},{MEMBER}", "--regions", REGION, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [row] = [r for r in report["peerings"] if r["peeringId"] == peering_id]
    assert "a person's route changes the path (10.1.6.0/24 not through the peering)" in row["requester"]["missing"]
    # ... and the doctor's report (verify's words) names the route, with the verdict it leads to
    code = cli.main(["doctor", peering_id, "--region", REGION])
    text = capsys.readouterr().out
    assert "A person's route changes the path (theirs: it stays; the peering is not verified while it does):" in text
    assert f"{a.main_table}: sends 10.1.6.0/24, inside the peer's 10.1.0.0/16, to {eni} instead of this peering" in (
        text
    )
    assert "Verdict: blocked:routed-elsewhere" in text and code != 0, text


# ---------------------------------------------------------------------- 2. a person's marked rule


def test_a_rule_a_person_wrote_with_the_autopilots_marker_stays_when_the_tag_narrows_and_when_the_peering_ends(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    """GIVEN a converged peering (the record holds icmp and tcp:443 from the hub's block in the
    member's group), and a person's tcp:8443 rule in that group with the autopilot's marker
    WHEN the group's allow tag narrows to icmp and the sweep runs, then the peering is deleted
    THEN configure takes back tcp:443 (its own) and keeps the person's tcp:8443; clean-up removes
    the autopilot's icmp and keeps the person's rule, and says so."""
    autopilot: LocalAutopilot = autopilot_factory()
    a, b, peering_id = converged_pair(cloud, autopilot)
    mark = MARK.format(peering_id)
    member = cloud.ec2(MEMBER, REGION)
    # the record names each rule it made by the id AWS gave it (from AuthorizeSecurityGroupIngress's answer)
    listed = member.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [b.tagged_group]}])
    ids = {
        (r["IpProtocol"], r["FromPort"], r["ToPort"], r["CidrIpv4"]): r["SecurityGroupRuleId"]
        for r in listed["SecurityGroupRules"]
        if not r["IsEgress"]
    }
    recorded = {
        (i["protocol"], int(i["from"]), int(i["to"]), i["cidr"]): i.get("ruleId")
        for i in Record(cloud, autopilot).items(peering_id).values()
        if i["kind"] == "rule" and i["group"] == b.tagged_group
    }
    assert recorded == ids and len(ids) == 2, (recorded, ids)
    member.authorize_security_group_ingress(
        GroupId=b.tagged_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8443,
                "ToPort": 8443,
                "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": mark}],
            }
        ],
    )
    persons = ("tcp", 8443, 8443, "10.0.0.0/16", mark)

    member.create_tags(Resources=[b.tagged_group], Tags=[{"Key": "peering-autopilot:allow", "Value": "icmp"}])
    deliveries = autopilot.tick()

    assert [d[0] for d in invoked(deliveries)][:2] == ["SweepFunction", "ConfigurePeeringFunction"], invoked(deliveries)
    assert ingress(cloud, b, b.tagged_group) == {("icmp", -1, -1, "10.0.0.0/16", mark), persons}
    [configured] = [e for e in autopilot.published if e["detail-type"] == "Peering Configured"][-1:]
    accepter = next(s for s in configured["detail"]["sides"] if s["role"] == "accepter")
    assert accepter["securityGroups"]["removed"] == [{"groupId": b.tagged_group, "rules": ["tcp:443 from 10.0.0.0/16"]}]
    assert [p["rules"] for p in accepter["securityGroups"]["persons"]] == [["tcp:8443 from 10.0.0.0/16"]]
    assert invoked(autopilot.tick()) == QUIET, "the person's marked rule is not work"

    cloud.ec2(HUB, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    deliveries = autopilot.run_until_idle()

    assert invoked(deliveries) == [("CleanupPeeringFunction", "PeeringEnded", "cleaned-up")]
    assert ingress(cloud, b, b.tagged_group) == {persons}
    assert marked_rules(cloud, [a], peering_id) == set()
    [event] = [e for e in autopilot.published if e["detail-type"] == "Peering Cleaned Up"]
    sides = {s["role"]: s for s in event["detail"]["sides"]}
    assert sides["accepter"]["kept"]["rules"] == [{"groupId": b.tagged_group, "rules": ["tcp:8443 from 10.0.0.0/16"]}]
    assert sides["accepter"]["kept"]["reason"] == "not in the autopilot's record: a person's"
    assert Record(cloud, autopilot).items(peering_id) == {}, "clean-up forgets what it removed"


def test_a_persons_route_through_an_ended_peering_stays_and_is_reported(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    """GIVEN a converged peering and a person's route through it (10.1.5.0/24, not in the record)
    WHEN the peering is deleted
    THEN the autopilot's routes go and the person's stays, listed as kept in the event."""
    autopilot: LocalAutopilot = autopilot_factory()
    a, b, peering_id = converged_pair(cloud, autopilot)
    cloud.ec2(HUB, REGION).create_route(
        RouteTableId=a.main_table, DestinationCidrBlock="10.1.5.0/24", VpcPeeringConnectionId=peering_id
    )

    cloud.ec2(MEMBER, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    autopilot.run_until_idle()

    assert routes_through(cloud, [a, b], peering_id) == {(HUB, a.main_table, "10.1.5.0/24")}
    [event] = [e for e in autopilot.published if e["detail-type"] == "Peering Cleaned Up"]
    requester = next(s for s in event["detail"]["sides"] if s["role"] == "requester")
    assert requester["kept"]["routes"] == [{"routeTableId": a.main_table, "destination": "10.1.5.0/24"}]
    # and the sweep has no clean-up work for it: nothing of it is the autopilot's
    assert invoked(autopilot.tick()) == QUIET


# ---------------------------------------------------------------------- 3. the record unreadable


def dynamodb_refusal() -> AWSResponse:
    body = b'{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"explicit deny in an SCP"}'
    return AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 400, {}, Body(body))  # type: ignore[arg-type]


def table_down(monkeypatch: pytest.MonkeyPatch, cloud: LocalCloud) -> list[bool]:
    """DynamoDB refuses every call of the functions while the flag is up (an SCP, a deleted
    table, a region outage): the record can be neither read nor written."""
    down = [True]

    def fault(request: Request) -> AWSResponse | None:
        return dynamodb_refusal() if down[0] else None

    install_fault(monkeypatch, cloud, fault, services=("dynamodb",))
    return down


def test_with_the_record_unreadable_nothing_is_removed_additions_go_on_and_the_backlog_is_written_back(
    server_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a converged peering whose peer (the member's VPC) holds a secondary block 10.5.0.0/16
    WHEN the record table refuses every call, the peer gives the secondary block up and a person
    deletes one of the hub's routes (the sweep sends configure)
    THEN configure puts the route back and removes nothing: the routes to 10.5.0.0/16 stay, and the
    result says the record could not be read; the sweep's result says so too
    WHEN a new peering is made meanwhile
    THEN it gets its routes and rules
    WHEN the table answers again and the sweep runs
    THEN the sweep writes the backlog to the table, the record holds exactly the new peering's
    routes and rules, and the routes to the given-up block are removed.

    In moto's server: in-process, moto would carry out a write even after the fault answered it."""
    cloud = server_cloud
    autopilot = LocalAutopilot(
        cloud, hub_parameters(), region=REGION, member_accounts=(MEMBER, OUTSIDER), log_stream=io.StringIO()
    )
    a, b, p1 = converged_pair(cloud, autopilot, secondary=("10.5.0.0/16",))
    record = Record(cloud, autopilot)
    assert {d for _, _, d in made_routes(record, p1) if d == "10.5.0.0/16"}, "setup: 10.5.0.0/16 not routed"

    down = table_down(monkeypatch, cloud)
    member = cloud.ec2(MEMBER, REGION)
    [vpc] = member.describe_vpcs(VpcIds=[b.side.vpc_id])["Vpcs"]
    [association] = [c for c in vpc["CidrBlockAssociationSet"] if c["CidrBlock"] == "10.5.0.0/16"]
    member.disassociate_vpc_cidr_block(AssociationId=association["AssociationId"])
    cloud.ec2(HUB, REGION).delete_route(RouteTableId=a.main_table, DestinationCidrBlock="10.1.0.0/16")

    deliveries = autopilot.tick()

    assert [d[:2] for d in invoked(deliveries)][:2] == [
        ("SweepFunction", "Schedule"),
        ("ConfigurePeeringFunction", "DriftFound"),
    ], invoked(deliveries)
    hub_routes = peering_routes(cloud, a, p1)
    assert all(hub_routes[t] == {"10.1.0.0/16", "10.5.0.0/16"} for t in a.managed_tables), hub_routes
    summary = str(deliveries[1].result["summary"])
    assert "removal(s) left alone: the record could not be read" in summary and "AccessDenied" in summary, summary
    assert any(p1 in p and "could not be read" in p for p in deliveries[0].result["record"]["problems"])

    a2 = build_net(cloud, MEMBER, REGION, "10.7.0.0/16")
    p2 = request_peering(cloud, a.side, a2.side)
    deliveries = autopilot.run_until_idle()
    assert [d[2] for d in invoked(deliveries)] == ["accepted", "configured", "verified"], invoked(deliveries)
    added_routes = routes_through(cloud, [a, a2], p2)
    added_rules = marked_rules(cloud, [a, a2], p2)
    assert len(added_routes) == 6 and len(added_rules) == 4, (added_routes, added_rules)
    assert record.items(p2) == {}, "nothing could be written while the table was down"

    down[0] = False
    deliveries = autopilot.tick()

    assert deliveries[0].result["record"]["backlogWritten"] > 0, deliveries[0].result
    assert made_routes(record, p2) == added_routes
    assert made_rules(record, p2) == added_rules
    assert not [i for i in record.items(p2).values() if i["state"] != MADE]
    # ... and the removal that waited for the record is done, by the same sweep's configure work
    assert ("ConfigurePeeringFunction", "DriftFound", "configured") in invoked(deliveries), invoked(deliveries)
    assert all(peering_routes(cloud, a, p1)[t] == {"10.1.0.0/16"} for t in a.managed_tables)
    assert made_routes(record, p1) == routes_through(cloud, [a, b], p1)


# ---------------------------------------------------------------------- 4. a crash between intent and confirm


def test_an_intent_a_crash_left_is_confirmed_when_made_and_forgotten_when_not(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    """GIVEN a converged peering, then the record as a crash would leave it: one of the hub's
    routes only intended (the EC2 change made, the confirmation never written), and intents for a
    route and a rule EC2 never got (the crash came before the call)
    WHEN the next run reads the record (a route deleted by hand: the sweep sends configure)
    THEN the made route is confirmed, the others forgotten; and after the peering is deleted,
    clean-up settles an intent the same way and removes the route it confirmed."""
    autopilot: LocalAutopilot = autopilot_factory()
    a, b, peering_id = converged_pair(cloud, autopilot)
    record = Record(cloud, autopilot)
    made = OwnedRoute(HUB, REGION, a.subnet_tables[0], "10.1.0.0/16")
    never = OwnedRoute(HUB, REGION, a.main_table, "10.1.9.0/24")
    never_rule = OwnedRule(HUB, REGION, a.tagged_group, Rule("tcp", 9999, 9999, "10.1.0.0/16"))
    for item in (
        route_item(peering_id, made, INTENT, "2026-01-01T00:00:00.000Z", "created"),
        route_item(peering_id, never, INTENT, "2026-01-01T00:00:00.000Z", "created"),
        rule_item(peering_id, never_rule, INTENT, "2026-01-01T00:00:00.000Z", "created"),
    ):
        record.put(item)
    cloud.ec2(HUB, REGION).delete_route(RouteTableId=a.main_table, DestinationCidrBlock="10.1.0.0/16")

    deliveries = autopilot.tick()

    assert ("ConfigurePeeringFunction", "DriftFound", "configured") in invoked(deliveries), invoked(deliveries)
    items = record.items(peering_id)
    assert items[made.sort_key]["state"] == MADE
    assert never.sort_key not in items and never_rule.sort_key not in items
    assert made_routes(record, peering_id) == routes_through(cloud, [a, b], peering_id)
    [configured] = [e for e in autopilot.published if e["detail-type"] == "Peering Configured"][-1:]
    requester = next(s for s in configured["detail"]["sides"] if s["role"] == "requester")
    assert requester["record"]["intentsConfirmed"] == [made.sort_key]
    assert sorted(requester["record"]["intentsReleased"]) == sorted([never.sort_key, never_rule.sort_key])

    # the same rule in clean-up: a member route only intended is confirmed by EC2 and removed
    member_route = OwnedRoute(MEMBER, REGION, b.main_table, "10.0.0.0/16")
    record.put(route_item(peering_id, member_route, INTENT, "2026-01-01T00:00:00.000Z", "created"))
    cloud.ec2(HUB, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    autopilot.run_until_idle()

    assert routes_through(cloud, [a, b], peering_id) == set()
    assert record.items(peering_id) == {}
