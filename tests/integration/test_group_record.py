"""Group peerings in the autopilot's record, through the harness: a peering only the record holds as
the autopilot's is ever withdrawn (the created-for-group tag is anyone's to write); one peering per
pair when requests race under EC2's listing lag; a request that stopped between its lock and its
record is resolved, not repeated; the table unavailable: the request still goes, nothing is withdrawn."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from autopilot_local.harness import LocalAutopilot, LocalCloud
from peering_autopilot.events import GroupRequestFound, VpcPlace, WorkFound
from peering_autopilot.model import CREATED_FOR_TAG, GROUP_TAG
from peering_autopilot.record import pair_key
from tests.integration.test_peering_groups import key, peerings, published, tag
from tests.support.domain import Body
from tests.support.faults import Request, install_fault
from tests.support.world import HUB, MEMBER, REGION, Net, build_net, request_peering

GROUP = "shared-services"
NOT_IN_RECORD = "tagged created-for-group but not in the autopilot's record: a person's"


@pytest.fixture
def pair(cloud: LocalCloud) -> tuple[Net, Net]:
    return build_net(cloud, HUB, REGION, "10.0.0.0/16"), build_net(cloud, MEMBER, REGION, "10.1.0.0/16")


def table(autopilot: LocalAutopilot, cloud: LocalCloud) -> tuple[Any, str]:
    name = autopilot.stack.resolve(autopilot.stack.resources["RecordTable"]["Properties"])["TableName"]
    return cloud.session(HUB).client("dynamodb", region_name=REGION), str(name)


def record_items(autopilot: LocalAutopilot, cloud: LocalCloud, pk: str) -> list[dict[str, Any]]:
    client, name = table(autopilot, cloud)
    found = client.query(
        TableName=name, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
    )["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in found]


def withdraw_work(autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    return [d for d in published(autopilot, "Peering Work Found") if d.get("work") == "withdraw"]


def connect_results(autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    return [d.result for d in autopilot.deliveries if d.function == "ConnectPeeringFunction"]


def work_event(detail: dict[str, Any]) -> dict[str, Any]:
    """A "Peering Work Found" event as the hub's functions put it on the bus."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Peering Work Found",
        "source": "peering-autopilot",
        "account": HUB,
        "time": "2026-11-27T09:40:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


class TableDown:
    """The record table refuses every call while `down` (an explicit deny: not retried)."""

    def __init__(self) -> None:
        self.down = True

    def __call__(self, request: Request) -> AWSResponse | None:
        if not self.down:
            return None
        body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "Message": "explicit deny"})
        headers = {"x-amzn-RequestId": "fault"}
        return AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 400, headers, Body(body.encode()))  # type: ignore[arg-type]


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """The functions' error lines, with what each says went wrong."""
    return "\n".join(f"{r.getMessage()}: {getattr(r, 'error', '')}" for r in caplog.records)


@pytest.mark.parametrize("membership", ["leave", "never-shared"])
def test_a_persons_peering_tagged_created_for_group_is_never_withdrawn_and_the_plan_says_why(
    cloud: LocalCloud, autopilot_factory: Any, pair: tuple[Net, Net], membership: str
) -> None:
    a, b = pair
    autopilot = autopilot_factory()
    # A person peers the two VPCs (the autopilot accepts and configures it) and tags the peering
    # as IaC that copies tags would
    persons = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    cloud.ec2(a.side.account, REGION).create_tags(Resources=[persons], Tags=[{"Key": CREATED_FOR_TAG, "Value": GROUP}])
    if membership == "leave":  # both in the group: the pair has its peering, the person's
        for net in pair:
            tag(cloud, net.side, GROUP)
    else:
        tag(cloud, a.side, GROUP)
        tag(cloud, b.side, "payments")
    autopilot.run_until_idle()
    assert [p["VpcPeeringConnectionId"] for p in peerings(cloud, a.side, ("active",))] == [persons]

    # WHEN the VPCs share no group (b leaves it; or they never did)
    if membership == "leave":
        tag(cloud, b.side, None)
    else:
        tag(cloud, b.side, "payments")
    autopilot.run_until_idle()
    sweeps = [autopilot.tick()[0] for _ in range(3)]

    # THEN the person's peering stays, no withdrawal is ever published, and the plan says why
    assert [p["VpcPeeringConnectionId"] for p in peerings(cloud, a.side, ("active",))] == [persons]
    assert withdraw_work(autopilot) == [] and published(autopilot, "Peering Withdrawn") == []
    [kept] = published(autopilot, "Peering Group Plan")[-1]["kept"]
    assert (kept["peeringId"], kept["code"], kept["reason"]) == (persons, "not-recorded", NOT_IN_RECORD)
    for swept in sweeps:
        assert swept.result["groups"]["kept"] == [kept] and "withdraw" not in swept.result["work"]

    # ... and a withdrawal asked for by hand (a replayed event) deletes nothing either
    work = WorkFound(persons, "withdraw", a.side.account, REGION, "replayed", "sweep", group=GROUP)
    [result] = [d.result for d in autopilot.run_until_idle_with(work_event(work.as_detail()), "a replay")]
    assert result["status"] == "skipped" and NOT_IN_RECORD in result["summary"]
    assert [p["VpcPeeringConnectionId"] for p in peerings(cloud, a.side, ("active",))] == [persons]


def test_the_autopilots_own_group_peering_is_recorded_withdrawn_and_forgotten(
    cloud: LocalCloud, autopilot_factory: Any, pair: tuple[Net, Net]
) -> None:
    a, b = pair
    autopilot = autopilot_factory()
    for net in pair:
        tag(cloud, net.side, GROUP)
    autopilot.run_until_idle()
    [peering] = peerings(cloud, a.side, ("active",))
    pcx = peering["VpcPeeringConnectionId"]

    # the record holds it as the autopilot's, and the pair's lock is settled with it
    [owned] = [i for i in record_items(autopilot, cloud, f"own#{pcx}") if i["sk"] == "peering"]
    assert (owned["group"], owned["state"], owned["how"]) == (GROUP, "made", "requested")
    assert (owned["requester"], owned["accepter"]) == (key(a.side), key(b.side))
    [lock] = record_items(autopilot, cloud, pair_key(key(a.side), key(b.side)))
    assert (lock["peeringId"], lock["settled"], lock["group"]) == (pcx, "requested", GROUP)

    # WHEN b leaves the group
    tag(cloud, b.side, None)
    autopilot.run_until_idle()

    # THEN it is withdrawn, cleaned up, and no longer in the record
    assert peerings(cloud, a.side) == []
    assert [d["peeringId"] for d in published(autopilot, "Peering Withdrawn")] == [pcx]
    assert pcx in {d["peeringId"] for d in published(autopilot, "Peering Cleaned Up")}
    assert [i for i in record_items(autopilot, cloud, f"own#{pcx}") if i["sk"] == "peering"] == []


@pytest.mark.parametrize("race", ["work-delivered-twice", "both-tag-changes"])
def test_two_racing_group_requests_under_ec2s_listing_lag_make_one_peering(
    cloud: LocalCloud, autopilot_factory: Any, pair: tuple[Net, Net], race: str
) -> None:
    a, b = pair
    autopilot = autopilot_factory()
    # EC2 lists a new peering only a while after the request (the harness plays AWS's lag)
    autopilot.listing_lag.invocations = 1
    if race == "work-delivered-twice":
        # the same "Peering Work Found" request delivered twice, at once (at least once delivery)
        tag(cloud, a.side, GROUP)
        autopilot.run_until_idle()
        autopilot.redeliver = lambda event, rule: int(event["detail"].get("work") == "request")
        tag(cloud, b.side, GROUP)
    else:
        for net in pair:  # each end's tag change plans the pair
            tag(cloud, net.side, GROUP)
    autopilot.run_until_idle()

    # THEN one peering for the pair: the second run came while EC2 did not list the first's request
    # yet (each delivery is one invocation), and the pair's lock turned it away
    assert len({p["VpcPeeringConnectionId"] for p in peerings(cloud, a.side)}) == 1
    runs = [(n, d.result) for n, d in enumerate(autopilot.deliveries, 1) if d.function == "ConnectPeeringFunction"]
    assert [r["status"] for _, r in runs] == ["requested", "skipped"]
    (first, requested), (second, skipped) = runs
    assert autopilot.listing_lag.created == {requested["peeringId"]: first}
    assert first < second <= first + autopilot.listing_lag.invocations, "the race was not run under the lag"
    assert "the pair is being requested by" in skipped["summary"]
    [peering] = peerings(cloud, a.side)
    assert peering["Status"]["Code"] == "active"


def test_a_request_that_stopped_between_its_lock_and_its_record_is_resolved_not_repeated(
    cloud: LocalCloud, autopilot_factory: Any, pair: tuple[Net, Net]
) -> None:
    a, b = pair
    autopilot = autopilot_factory()
    client, name = table(autopilot, cloud)
    for net in pair:  # the VPCs are in the group (the tag events were the stopped run's trigger)
        cloud.ec2(net.side.account, REGION).create_tags(
            Resources=[net.side.vpc_id], Tags=[{"Key": GROUP_TAG, "Value": GROUP}]
        )
    # A run took the pair's lock (its intent), sent the request tagged for the group, and stopped
    # before recording the peering or settling the lock; its lease is over
    requester, accepter = key(a.side), key(b.side)
    client.put_item(
        TableName=name,
        Item={
            "pk": {"S": pair_key(requester, accepter)},
            "sk": {"S": "lock"},
            "holder": {"S": "stopped-run"},
            "leaseUntil": {"N": str(int(time.time()) - 5)},
            "group": {"S": GROUP},
            "requester": {"S": requester},
            "accepter": {"S": accepter},
            "at": {"S": "2026-11-27T09:20:00.000Z"},
        },
    )
    pcx = cloud.ec2(HUB, REGION).create_vpc_peering_connection(
        VpcId=a.side.vpc_id,
        PeerVpcId=b.side.vpc_id,
        PeerOwnerId=MEMBER,
        PeerRegion=REGION,
        TagSpecifications=[
            {"ResourceType": "vpc-peering-connection", "Tags": [{"Key": CREATED_FOR_TAG, "Value": GROUP}]}
        ],
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]

    # WHEN the pair's next request comes (Lambda's retry of the stopped run, or another plan)
    found = GroupRequestFound(
        GROUP, VpcPlace(HUB, REGION, a.side.vpc_id), VpcPlace(MEMBER, REGION, b.side.vpc_id), "retry", "sweep"
    )
    autopilot.run_until_idle_with(work_event(found.as_detail()), "Lambda's retry")

    # THEN it records the peering as the autopilot's, requests no second one, and the peering goes on
    [result, *_] = connect_results(autopilot)
    assert (result["status"], result["peeringId"]) == ("resolved", pcx)
    assert [p["VpcPeeringConnectionId"] for p in peerings(cloud, a.side)] == [pcx]
    assert peerings(cloud, a.side)[0]["Status"]["Code"] == "active"
    [owned] = [i for i in record_items(autopilot, cloud, f"own#{pcx}") if i["sk"] == "peering"]
    assert (owned["how"], owned["group"]) == ("resolved-intent", GROUP)
    [lock] = record_items(autopilot, cloud, pair_key(requester, accepter))
    assert lock["peeringId"] == pcx
    assert published(autopilot, "Peering Requested") == []

    # ... and, being the autopilot's now, it is withdrawn when the VPCs stop sharing the group
    tag(cloud, b.side, None)
    autopilot.run_until_idle()
    assert peerings(cloud, a.side) == []


def test_the_table_unavailable_the_group_request_still_goes_and_the_problem_is_reported(
    cloud: LocalCloud,
    autopilot_factory: Any,
    pair: tuple[Net, Net],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, _ = pair
    autopilot = autopilot_factory()
    install_fault(monkeypatch, cloud, TableDown(), services=("dynamodb",))
    for net in pair:
        tag(cloud, net.side, GROUP)
    autopilot.run_until_idle()

    # THEN the one request went (the EC2 list guarding the second), and the peering converged
    [peering] = peerings(cloud, a.side)
    assert peering["Status"]["Code"] == "active"
    statuses = [r["status"] for r in connect_results(autopilot)]
    assert statuses.count("requested") == 1
    assert "the pair lock could not be taken" in logged(caplog)


def test_the_table_unavailable_nothing_is_withdrawn_and_it_is_reported(
    cloud: LocalCloud,
    autopilot_factory: Any,
    pair: tuple[Net, Net],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = pair
    autopilot = autopilot_factory()
    for net in pair:
        tag(cloud, net.side, GROUP)
    autopilot.run_until_idle()
    [peering] = peerings(cloud, a.side, ("active",))
    pcx = peering["VpcPeeringConnectionId"]

    # WHEN the table stops answering and b leaves the group
    table_down = TableDown()
    install_fault(monkeypatch, cloud, table_down, services=("dynamodb",))
    tag(cloud, b.side, None)
    autopilot.run_until_idle()
    [swept, *_] = autopilot.tick()

    # THEN nothing is withdrawn: the plan and the sweep say why
    assert [p["VpcPeeringConnectionId"] for p in peerings(cloud, a.side, ("active",))] == [pcx]
    assert withdraw_work(autopilot) == [] and published(autopilot, "Peering Withdrawn") == []
    [kept] = swept.result["groups"]["kept"]
    assert kept["peeringId"] == pcx and kept["code"] == "record-unreadable"
    assert "could not be read" in kept["reason"]
    assert f"{pcx} not withdrawn: the autopilot's record could not be read" in logged(caplog)
    # ... nor by a withdrawal delivered by hand
    work = WorkFound(pcx, "withdraw", HUB, REGION, "replayed", "sweep", group=GROUP)
    [result] = [d.result for d in autopilot.run_until_idle_with(work_event(work.as_detail()), "a replay")]
    assert result["status"] == "skipped" and "could not be read" in result["summary"]
    assert [p["VpcPeeringConnectionId"] for p in peerings(cloud, a.side, ("active",))] == [pcx]

    # ... and once it answers again, the withdrawal goes
    table_down.down = False
    autopilot.tick()
    assert peerings(cloud, a.side) == []
