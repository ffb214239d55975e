"""A peering's history in the autopilot's record, through the harness: every step writes what it
decided, with its actor, the triggering event and its evidence; `peering-autopilot history` reads
it back (a table, `--json`) and `--verify` finds an item changed, taken out or relinked straight
in the table; `status --record-table` shows each peering's last decision."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from autopilot_local.access import RECORD_CALLS_ENV
from autopilot_local.cloudtrail import person
from autopilot_local.harness import LocalAutopilot, LocalCloud
from autopilot_local.world import Network, build_network
from peering_autopilot import cli
from peering_autopilot.record import entry_hash
from tests.support.domain import Body
from tests.support.faults import install_fault
from tests.support.world import HUB, MEMBER, OUTSIDER, REGION, hub_parameters

ENABLED = {"peering-autopilot:enabled": "true"}
TABLE = "peering-autopilot-record"  # the harness's stack is `peering-autopilot`: the CLI's default
PERSON = person(HUB).user_identity()["arn"]


def fn(name: str) -> str:
    return f"peering-autopilot:{name}"


class Lived:
    """VPC-A (hub) and VPC-B (member): a person requests, the autopilot accepts, configures and
    verifies; then a person deletes the peering and the autopilot cleans up."""

    def __init__(self, cloud: LocalCloud, autopilot: LocalAutopilot) -> None:
        self.cloud = cloud
        self.a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
        self.b = build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED)))
        ec2 = cloud.ec2(HUB, REGION, record=True)
        self.peering_id = str(
            ec2.create_vpc_peering_connection(VpcId=self.a.vpc_id, PeerVpcId=self.b.vpc_id, PeerOwnerId=MEMBER)[
                "VpcPeeringConnection"
            ]["VpcPeeringConnectionId"]
        )
        self.up = autopilot.run_until_idle()
        ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=self.peering_id)
        self.down = autopilot.run_until_idle()
        self.dynamodb = cloud.session(HUB).client("dynamodb", region_name=REGION)

    def items(self) -> list[dict[str, Any]]:
        return list(
            self.dynamodb.query(
                TableName=TABLE,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"history#{self.peering_id}"}},
            )["Items"]
        )

    def item(self, seq: int) -> dict[str, Any]:
        [found] = [i for i in self.items() if i["sk"]["S"] == f"{seq:08d}"]
        return found


@pytest.fixture
def lived(cloud: LocalCloud, autopilot_factory: Any) -> Lived:
    return Lived(cloud, autopilot_factory())


def history(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["history", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def history_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = history(capsys, *argv, "--json")
    return code, json.loads(out)


def test_the_timeline_names_each_decision_its_actor_its_event_and_its_evidence(
    lived: Lived, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN the operator asks for the peering's history
    code, report = history_json(capsys, lived.peering_id, "--verify")

    # THEN every decision and change, in order, each by the function that made it (the delete by
    # the person whose CloudTrail identity made the call), each naming the event that triggered it
    assert code == 0
    entries = report["entries"]
    assert [(e["seq"], e["kind"], e["actor"]) for e in entries] == [
        (1, "accepted", fn("AcceptPeeringFunction")),
        (2, "configured", fn("ConfigurePeeringFunction")),
        (3, "verified", fn("VerifyPeeringFunction")),
        (4, "deleted", PERSON),
        (5, "cleaned-up", fn("CleanupPeeringFunction")),
    ]
    trigger = {d.function: d.event["id"] for d in lived.up}
    [cleanup] = lived.down
    assert [e["eventId"] for e in entries] == [
        trigger["AcceptPeeringFunction"],  # CloudTrail's CreateVpcPeeringConnection
        trigger["ConfigurePeeringFunction"],  # "Peering Accepted"
        trigger["VerifyPeeringFunction"],  # "Peering Configured"
        cleanup.event["id"],  # the person's DeleteVpcPeeringConnection, for both of its entries
        cleanup.event["id"],
    ]
    a, b = lived.a, lived.b
    accepted, configured, verified, deleted, cleaned = (e["evidence"] for e in entries)
    # ... the accept on the blocks, tags and settings it decided on
    assert accepted == {
        "requester": {"accountId": HUB, "region": REGION, "vpcId": a.vpc_id, "cidrs": [a.cidr], "approved": True},
        "accepter": {
            "accountId": MEMBER,
            "region": REGION,
            "vpcId": b.vpc_id,
            "cidrs": [b.cidr],
            "optInTag": "true",
        },
        "reasons": ["approved"],
        "overlaps": [],
        "settings": {
            "AllowedPeerCidrs": "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10; any IPv6",
            "UnapprovedRequestAction": "leave-pending",
        },
    }
    assert entries[0]["summary"] == (
        f"requester account {HUB} is approved, accepter VPC {b.vpc_id} is opted in, no address blocks overlap, "
        "and every block is inside AllowedPeerCidrs"
    )
    # ... configure on what it added, per side
    sides = configured["sides"]
    assert sorted(sides) == ["accepter", "requester"]
    assert {r["destination"] for r in sides["requester"]["routes"]["added"]} == {b.cidr}
    assert {r["destination"] for r in sides["accepter"]["routes"]["added"]} == {a.cidr}
    assert sides["accepter"]["rules"]["added"] == {b.security_group_id: [f"icmp from {a.cidr}"]}
    assert sides["requester"]["routes"]["removed"] == []
    # ... verify on its verdict, replacing configure's status
    assert (verified["verdict"], verified["replaces"]) == (
        "verified",
        {"requester": "configured", "accepter": "configured"},
    )
    assert entries[2]["summary"] == "verdict verified"
    # ... the person's delete, and what clean-up then removed
    assert (deleted, entries[3]["summary"]) == ({"status": "deleted"}, "deleted by a person")
    removed = cleaned["removed"]
    assert {r["destination"] for r in removed["requester"]["routesRemoved"]} == {b.cidr}
    assert removed["accepter"]["rulesRemoved"] == [{"groupId": b.security_group_id, "rules": [f"icmp from {a.cidr}"]}]
    # ... each chained to the one before, and the chain intact
    assert [e["prev"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]
    assert entries[0]["prev"] == "0" * 64
    assert report["chain"] == {
        "intact": True,
        "entries": 5,
        "firstSeq": 1,
        "breaks": [],
        "summary": "intact: 5 entries, each chained to the one before",
    }


def test_a_persons_accept_is_theirs_in_the_history_once_though_every_event_comes_twice(
    cloud: LocalCloud, autopilot_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a request into VPC-B, which has not opted in: declined
    autopilot: LocalAutopilot = autopilot_factory()
    autopilot.redeliver = lambda event, rule: 1  # at least once: every delivery twice
    a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
    b = build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags={}))
    peering_id = cloud.ec2(HUB, REGION, record=True).create_vpc_peering_connection(
        VpcId=a.vpc_id, PeerVpcId=b.vpc_id, PeerOwnerId=MEMBER
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    autopilot.run_until_idle()

    # WHEN VPC-B's owner accepts it by hand
    cloud.ec2(MEMBER, REGION, record=True).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    autopilot.run_until_idle()

    # THEN the decline (once, though the accept step ran twice), the person's accept (once, as
    # the person in VPC-B's account), and what configure did on the managed side
    code, report = history_json(capsys, peering_id, "--verify")
    assert code == 0
    assert [(e["kind"], e["actor"]) for e in report["entries"]][:3] == [
        ("declined", fn("AcceptPeeringFunction")),
        ("accepted", person(MEMBER).user_identity()["arn"]),
        ("configured", fn("ConfigurePeeringFunction")),
    ]
    assert [e["kind"] for e in report["entries"]].count("accepted") == 1
    assert report["entries"][0]["evidence"]["accepter"]["optInTag"] is None
    assert report["entries"][0]["evidence"]["reasons"] == ["accepter-not-opted-in"]
    assert report["entries"][1]["eventId"] == report["entries"][2]["eventId"]  # the person's AcceptVpcPeeringConnection
    assert list(report["entries"][2]["evidence"]["sides"]) == ["requester"]
    assert report["chain"]["intact"] is True


def test_the_timeline_as_a_table_and_the_chain_checked(lived: Lived, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = history(capsys, lived.peering_id, "--verify", "--table", TABLE, "--region", REGION)

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["SEQ", "TIME", "KIND", "ACTOR", "SUMMARY"]
    assert [line.split()[:4:2] + line.split()[3:4] for line in lines[1:6]] == [
        ["1", "accepted", fn("AcceptPeeringFunction")],
        ["2", "configured", fn("ConfigurePeeringFunction")],
        ["3", "verified", fn("VerifyPeeringFunction")],
        ["4", "deleted", PERSON],
        ["5", "cleaned-up", fn("CleanupPeeringFunction")],
    ]
    assert all(line.split()[1].endswith("Z") for line in lines[1:6])
    assert lines[3].endswith("verdict verified")
    assert lines[6:] == ["", "Chain: intact: 5 entries, each chained to the one before"]


def test_a_summary_changed_in_the_table_is_found_and_named(lived: Lived, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN someone with write access to the table rewrites entry 2's summary
    item = lived.item(2)
    item["summary"] = {"S": "configured nothing, honest"}
    lived.dynamodb.put_item(TableName=TABLE, Item=item)

    # WHEN the chain is checked
    code, out, _ = history(capsys, lived.peering_id, "--verify")

    # THEN it is broken at entry 2, and only there (the entries after still name its hash)
    assert code == 1
    assert out.splitlines()[-1] == (
        "Chain: BROKEN: entry 2: its content does not match its hash (changed after it was written)"
    )


def test_an_entry_taken_out_is_found(lived: Lived, capsys: pytest.CaptureFixture[str]) -> None:
    lived.dynamodb.delete_item(TableName=TABLE, Key={"pk": lived.item(3)["pk"], "sk": lived.item(3)["sk"]})

    code, report = history_json(capsys, lived.peering_id, "--verify")

    assert code == 1
    assert [e["seq"] for e in report["entries"]] == [1, 2, 4, 5]
    assert report["chain"]["breaks"] == [{"seq": 4, "why": "entries 3 to 3 are missing"}]
    assert report["chain"]["intact"] is False


def test_an_entry_relinked_with_its_hash_recomputed_is_found(lived: Lived, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a forger who points entry 3 at entry 1 (its prev swapped) and recomputes its hash
    first, third = lived.item(1), lived.item(3)
    third["prev"] = first["hash"]
    fields = [third[k]["S"] for k in ("at", "kind", "actor", "eventId", "summary", "evidence", "prev")]
    third["hash"] = {"S": entry_hash(lived.peering_id, 3, *fields)}
    lived.dynamodb.put_item(TableName=TABLE, Item=third)

    code, report = history_json(capsys, lived.peering_id, "--verify")

    # THEN entry 3 no longer names entry 2, and entry 4 no longer names entry 3
    assert code == 1
    assert report["chain"]["breaks"] == [
        {"seq": 3, "why": "it does not name the hash of entry 2"},
        {"seq": 4, "why": "it does not name the hash of entry 3"},
    ]


def test_without_verify_the_timeline_is_shown_whatever_the_chain(
    lived: Lived, capsys: pytest.CaptureFixture[str]
) -> None:
    item = lived.item(1)
    item["evidence"] = {"S": "not json any more"}
    lived.dynamodb.put_item(TableName=TABLE, Item=item)

    code, report = history_json(capsys, lived.peering_id)

    assert code == 0
    assert "chain" not in report
    assert report["entries"][0]["evidence"] == "not json any more"
    assert len(report["entries"]) == 5


def test_read_through_the_reader_role(lived: Lived, capsys: pytest.CaptureFixture[str]) -> None:
    role = f"arn:aws:iam::{HUB}:role/peering-autopilot-record-reader"
    code, report = history_json(capsys, lived.peering_id, "--role-arn", role, "--verify")
    assert code == 0
    assert report["chain"]["intact"] is True


def test_history_from_the_emulator_over_http_with_endpoint_url(
    server_cloud: LocalCloud, _moto_server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the peering's life in moto's HTTP server (`make emulator`)
    autopilot = LocalAutopilot(
        server_cloud, hub_parameters(), region=REGION, member_accounts=(MEMBER, OUTSIDER), log_stream=io.StringIO()
    )
    lived = Lived(server_cloud, autopilot)
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # only the option points the command at it

    # WHEN the operator asks for its history there
    code, report = history_json(capsys, lived.peering_id, "--endpoint-url", _moto_server, "--verify")

    # THEN the same timeline, intact
    assert code == 0
    assert [e["kind"] for e in report["entries"]] == ["accepted", "configured", "verified", "deleted", "cleaned-up"]
    assert report["chain"]["intact"] is True


def test_a_peering_without_history_says_so(
    cloud: LocalCloud, autopilot_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    autopilot_factory()
    code, out, err = history(capsys, "pcx-0123456789abcdef0", "--verify")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["No history recorded for pcx-0123456789abcdef0.", "", "Chain: no history recorded"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pcx-nothex"], "error: 'pcx-nothex' is not a peering id (pcx- and 8 to 17 hex digits)"),
        (
            ["pcx-0123456789abcdef0", "--table", "no such table!"],
            "error: --table 'no such table!' is not a DynamoDB table name",
        ),
        (
            ["pcx-0123456789abcdef0", "--role-arn", "reader"],
            "error: --role-arn 'reader' is not an IAM role ARN",
        ),
        (
            ["pcx-0123456789abcdef0", "--endpoint-url", "localhost:5000"],
            "error: --endpoint-url 'localhost:5000' is not an http(s) URL",
        ),
        (
            ["pcx-0123456789abcdef0", "--table", "peering-autopilot-prod-record"],
            "error: cannot read the history of pcx-0123456789abcdef0: no table peering-autopilot-prod-record here "
            "(--table: the hub's RecordTableName output; --region: the hub's region)",
        ),
    ],
)
def test_what_cannot_be_read_is_one_line_and_exit_status_2(
    cloud: LocalCloud, autopilot_factory: Any, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    autopilot_factory()
    code, out, err = history(capsys, *argv)
    assert (code, out, err) == (2, "", message + "\n")


def test_access_denied_is_one_line_naming_the_reader_role(
    cloud: LocalCloud, autopilot_factory: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    autopilot_factory()
    body = json.dumps(
        {
            "__type": "com.amazon.coral.service#AccessDeniedException",
            "Message": "not authorized to perform: dynamodb:Query",
        }
    ).encode()
    denied = AWSResponse(
        "https://dynamodb.us-east-1.amazonaws.com/",
        400,
        {"Content-Type": "application/x-amz-json-1.0"},
        Body(body),  # type: ignore[arg-type]
    )
    install_fault(monkeypatch, cloud, lambda r: denied, services=("dynamodb",))

    code, out, err = history(capsys, "pcx-0123456789abcdef0")

    assert (code, out) == (2, "")
    assert err == (
        f"error: cannot read the history of pcx-0123456789abcdef0: access denied to {TABLE} "
        "(AccessDeniedException: not authorized to perform: dynamodb:Query); "
        "pass --role-arn, the hub's RecordReaderArn output\n"
    )


def test_status_shows_each_peerings_last_decision(
    cloud: LocalCloud, autopilot_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a peering the autopilot converged, and one declined (VPC-D did not opt in)
    autopilot = autopilot_factory()
    a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
    b = build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED)))
    d = build_network(cloud, Network("VPC-D", MEMBER, REGION, "10.3.0.0/16", tags={}))
    ec2 = cloud.ec2(HUB, REGION, record=True)
    verified, declined = (
        ec2.create_vpc_peering_connection(VpcId=a.vpc_id, PeerVpcId=peer.vpc_id, PeerOwnerId=MEMBER)[
            "VpcPeeringConnection"
        ]["VpcPeeringConnectionId"]
        for peer in (b, d)
    )
    autopilot.run_until_idle()

    # WHEN the operator asks for the status with the record
    capsys.readouterr()
    code = cli.main(["status", "--accounts", f"{HUB},{MEMBER}", "--record-table", TABLE, "--json"])
    report = json.loads(capsys.readouterr().out)

    # THEN each row carries its peering's last history entry
    assert code == 0
    last = {r["peeringId"]: r["lastDecision"] for r in report["peerings"]}
    assert {pid: (e["seq"], e["kind"], e["actor"]) for pid, e in last.items()} == {
        verified: (3, "verified", fn("VerifyPeeringFunction")),
        declined: (1, "declined", fn("AcceptPeeringFunction")),
    }
    assert last[declined]["summary"] == f"accepter VPC {d.vpc_id} tag peering-autopilot:enabled is missing, not 'true'"
    assert report["recordNotRead"] is None

    # ... and as the --wide table, one column more (the default table of 120 columns points to it)
    code = cli.main(["status", "--accounts", f"{HUB},{MEMBER}", "--record-table", TABLE])
    lines = capsys.readouterr().out.splitlines()
    assert "Every column (accounts, regions, blocks, status tags, groups, headroom, last decision): --wide." in lines
    code = cli.main(["status", "--accounts", f"{HUB},{MEMBER}", "--record-table", TABLE, "--wide"])
    lines = capsys.readouterr().out.splitlines()[2:]  # after the places read
    assert lines[0].split()[-2:] == ["LAST", "DECISION"]
    row = next(line for line in lines if line.startswith(verified))
    assert row.split()[-3:-2] == ["verified"] and row.endswith(fn("VerifyPeeringFunction"))


def test_status_with_a_record_it_cannot_read_says_so_and_shows_the_rest(
    lived: Lived, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code = cli.main(["status", "--accounts", f"{HUB},{MEMBER}", "--record-table", "nope-record", "--json"])
    report = json.loads(capsys.readouterr().out)

    assert code == 1
    assert [r["lastDecision"] for r in report["peerings"]] == [None]
    assert report["recordNotRead"].startswith(
        "the record nope-record is unavailable (Query): ResourceNotFoundException"
    )


def test_status_without_the_record_is_as_before(lived: Lived, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli.main(["status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "recordNotRead" not in report
    assert all("lastDecision" not in r for r in report["peerings"])


@pytest.mark.parametrize("action", ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"])
def test_the_harness_refuses_a_function_changing_history_as_the_templates_deny_does(
    autopilot_factory: Any, action: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The functions' roles name these actions for ownership items (`own#`), and deny them on
    # `history#` keys (HistoryIsAppendOnly): moto checks no IAM, the harness does.
    monkeypatch.delenv(RECORD_CALLS_ENV, raising=False)  # no function made these calls: not for tests/recorded
    grants = autopilot_factory().grants
    arn = f"arn:aws:sts::{HUB}:assumed-role/x/y"
    for function in ("ConfigurePeeringFunction", "CleanupPeeringFunction", "SweepFunction"):
        with pytest.raises(ClientError) as refused:
            grants.check_hub_call(function, arn, action, ["own#pcx-1", "history#pcx-1"])
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert "explicit deny" in str(refused.value)
    # ... while ownership items are written in batches
    grants.check_hub_call("ConfigurePeeringFunction", arn, "dynamodb:BatchWriteItem", ["own#pcx-1"])
