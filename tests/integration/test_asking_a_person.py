"""`ask` asks a person (issue 22, part 3), through the harness: the network team's policy asks about
requests into the member's account; the request waits, tagged `awaiting-approval:<rule>`, and people
are asked once (event and topic: email text and an Amazon Q Developer chat notification). A person
decides with their own AWS identity, which CloudTrail carries to the hub: an allowed approver's
accept (in the console, or `peering-autopilot approve`) is configured and recorded with their ARN,
the rule and the reason; anyone else's is refused and nothing configured; a forged identity (an
event put by hand, a tag claiming an approver) counts for nothing. A reminder 24 hours before the
7-day expiry, an expiry reported, each once; a policy `reject` rejects.

The policy is deployed as the network team deploys it: in the hub's SSM parameter
(PolicyParameterName), read by every step before it acts."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from autopilot_local.cloudtrail import Identity, cloudtrail_event
from autopilot_local.harness import LocalAutopilot, LocalCloud
from autopilot_local.world import ENABLED, Network, build_network
from peering_autopilot import authority, cli
from peering_autopilot.aws.dynamodb import RecordStore
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.context import Context
from peering_autopilot.recorder import Recorder
from tests.support.governance import POLICY_PARAMETER, deploy_policy
from tests.support.observed import Inbox
from tests.support.world import HUB, MEMBER, OUTSIDER, REGION, Side, request_peering, tags_of

STATUS = "peering-autopilot:status"
APPROVER = Identity(MEMBER, "NetworkApprover", "alice")
NOT_APPROVER = Identity(MEMBER, "NetworkAdmin", "mallory")
RULE = "into-member-asks"


def document(outcome: str = "ask", approvers: tuple[str, ...] = (APPROVER.role_arn,)) -> dict[str, Any]:
    rule: dict[str, Any] = {"name": RULE, "accepter": {"accounts": [MEMBER]}, "outcome": outcome}
    if outcome == "ask" and approvers:
        rule["approvers"] = list(approvers)
    return {"version": 1, "defaults": {"outcome": "accept"}, "rules": [rule]}


@pytest.fixture
def with_policy(cloud: LocalCloud) -> Any:
    """Deploy the document as `policy deploy` does, in the hub's parameter (the hub is deployed with
    PolicyParameterName naming it): every step reads it through authority.load_policy."""
    return lambda document: deploy_policy(cloud, document)


class Clock:
    """The functions' wall clock (Context.now), moved on by the test."""

    def __init__(self) -> None:
        self.at = time.time()

    def __call__(self) -> float:
        return self.at


def world(cloud: LocalCloud) -> tuple[Network, Network]:
    a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
    b = build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED)))
    return a, b


def side(net: Network) -> Side:
    return Side(net.account, net.region, net.vpc_id)


def published(autopilot: LocalAutopilot, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in autopilot.published if e["detail-type"] == detail_type]


def routes_to(cloud: LocalCloud, net: Network, peering_id: str) -> set[str]:
    tables = cloud.ec2(net.account, net.region).describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}]
    )["RouteTables"]
    return {
        r.get("DestinationCidrBlock", "")
        for t in tables
        for r in t["Routes"]
        if r.get("VpcPeeringConnectionId") == peering_id
    }


def history(autopilot: LocalAutopilot, capsys: pytest.CaptureFixture[str], peering_id: str) -> list[dict[str, Any]]:
    """The peering's timeline from the record, read with the hub's own credentials."""
    client = autopilot.cloud.session(HUB).client("dynamodb", region_name=REGION)
    store = RecordStore(client, autopilot.stack.physical_name("RecordTable"))
    return [entry.describe() for entry in Recorder(store, None).history(peering_id)]


def asked(cloud: LocalCloud, autopilot_factory: Any, with_policy: Any, **params: str) -> tuple[Any, ...]:
    a, b = world(cloud)
    with_policy(document())
    inbox = Inbox.subscribed(cloud, REGION)
    autopilot: LocalAutopilot = autopilot_factory(
        NotificationTopicArn=inbox.topic_arn, PolicyParameterName=POLICY_PARAMETER, **params
    )
    peering_id = request_peering(cloud, side(a), side(b))
    autopilot.run_until_idle()
    return a, b, inbox, autopilot, peering_id


def test_an_asked_request_waits_for_a_person_who_is_asked_once_in_words_for_email_and_chat(
    cloud: LocalCloud, autopilot_factory: Any, with_policy: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a policy that asks about requests into the member's account, with one approver
    # WHEN the hub's VPC-A requests a peering with the member's VPC-B
    a, b, inbox, autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)

    # THEN it stays pending, tagged with the rule that asked, nothing configured
    pcx = cloud.ec2(MEMBER, REGION).describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])
    assert pcx["VpcPeeringConnections"][0]["Status"]["Code"] == "pending-acceptance"
    assert tags_of(cloud, side(b), peering_id)[STATUS] == f"awaiting-approval:{RULE}"
    assert routes_to(cloud, a, peering_id) == set()
    # ... "Peering Approval Requested" says who asks, from where to where, the rule, the approvers,
    # and what approval would add on each managed side
    [request] = published(autopilot, "Peering Approval Requested")
    assert request["rule"] == RULE
    assert request["requester"]["accountId"] == HUB and request["requester"]["cidrs"] == ["10.0.0.0/16"]
    assert request["accepter"]["vpcId"] == b.vpc_id and request["accepter"]["cidrs"] == ["10.1.0.0/16"]
    assert request["approvers"] == [APPROVER.role_arn]
    adds = {s["vpcId"]: s for s in request["wouldAdd"]}
    assert f"{a.route_table_id} 10.1.0.0/16" in adds[a.vpc_id]["routes"]
    assert f"{b.route_table_id} 10.0.0.0/16" in adds[b.vpc_id]["routes"]
    assert any(r.startswith(b.security_group_id) and "10.0.0.0/16" in r for r in adds[b.vpc_id]["rules"])
    assert request["expirationTime"] and request["notified"] is True
    # ... the topic got one message: JSON per protocol, the default an Amazon Q Developer custom
    # notification for chat, the email plain text
    [told] = inbox.take()
    assert told["Subject"] == f"Peering {peering_id} awaits your approval"
    chat = json.loads(told["Message"])  # the queue is not email: it gets `default`
    assert (chat["version"], chat["source"], chat["content"]["textType"]) == ("1.0", "custom", "client-markdown")
    assert chat["content"]["title"] == f"Peering {peering_id} awaits your approval"
    assert f"Rule: {RULE}" in chat["content"]["description"]
    assert f"route {a.route_table_id} 10.1.0.0/16" in chat["content"]["description"]
    assert chat["content"]["nextSteps"][0].startswith(f"Approve, with your own AWS identity in account {MEMBER}")
    assert chat["metadata"]["threadId"] == peering_id
    # ... and the record holds the decision with the rule
    [entry] = history(autopilot, capsys, peering_id)
    assert entry["kind"] == "awaiting-approval"
    assert entry["evidence"]["policy"]["rule"] == RULE

    # WHEN the sweep runs again, twice
    autopilot.tick()
    autopilot.tick()

    # THEN nothing new: no accept work, no second request, nobody told again
    assert len(published(autopilot, "Peering Approval Requested")) == 1
    assert inbox.take() == []
    assert [e["detail"]["work"] for e in autopilot.published if e["detail-type"] == "Peering Work Found"] == []


def test_an_allowed_approvers_own_accept_is_configured_and_recorded_with_their_identity(
    cloud: LocalCloud, autopilot_factory: Any, with_policy: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a request awaiting a person
    a, b, _, autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)

    # WHEN the approver, signed in as their own role in the member account, tags a reason and
    # accepts it in the console (CloudTrail records the call with their identity)
    person = cloud.ec2(MEMBER, REGION, record=True, identity=APPROVER)
    person.create_tags(
        Resources=[peering_id], Tags=[{"Key": "peering-autopilot:approval-reason", "Value": "CHG-1234 app migration"}]
    )
    person.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    autopilot.run_until_idle()

    # THEN configure re-checked every gate and counted the approval: routes on both sides
    assert routes_to(cloud, a, peering_id) == {"10.1.0.0/16"}
    assert routes_to(cloud, b, peering_id) == {"10.0.0.0/16"}
    # ... and the record says who approved (the role CloudTrail named, the session as the actor),
    # under which rule, and why
    [approved] = [e for e in history(autopilot, capsys, peering_id) if e["kind"] == "approved"]
    assert approved["actor"] == f"arn:aws:sts::{MEMBER}:assumed-role/NetworkApprover/alice"
    assert approved["evidence"]["approver"] == APPROVER.role_arn
    assert approved["evidence"]["rule"] == RULE
    assert approved["evidence"]["reason"] == "CHG-1234 app migration"
    assert approved["summary"] == f"approved by {APPROVER.role_arn} under rule {RULE!r}: CHG-1234 app migration"
    assert published(autopilot, "Peering Approval Refused") == []


def test_a_request_from_outside_the_managed_accounts_is_asked_only_when_a_rule_names_its_account(
    cloud: LocalCloud, autopilot_factory: Any, with_policy: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a partner account the hub does not manage (not approved, in no managed OU), which the
    # network team's policy names: its requests are asked of the member's approver
    _, b = world(cloud)
    partner = build_network(cloud, Network("VPC-X", OUTSIDER, REGION, "10.9.0.0/16", tags=dict(ENABLED)))
    with_policy(
        {
            "version": 1,
            "defaults": {"outcome": "accept"},
            "rules": [
                {
                    "name": "partner-x",
                    "requester": {"accounts": [OUTSIDER]},
                    "outcome": "ask",
                    "approvers": [APPROVER.role_arn],
                }
            ],
        }
    )
    inbox = Inbox.subscribed(cloud, REGION)
    autopilot: LocalAutopilot = autopilot_factory(
        NotificationTopicArn=inbox.topic_arn, PolicyParameterName=POLICY_PARAMETER
    )

    # WHEN the partner requests a peering into the member's VPC
    peering_id = request_peering(cloud, side(partner), side(b))
    autopilot.run_until_idle()

    # THEN a person is asked (not a silent decline), told its VPC could not be read in its account
    assert tags_of(cloud, side(b), peering_id)[STATUS] == "awaiting-approval:partner-x"
    [told] = inbox.take()
    assert "partner-x" in json.dumps(told)

    # WHEN the approver accepts it with their own identity
    cloud.ec2(MEMBER, REGION, record=True, identity=APPROVER).accept_vpc_peering_connection(
        VpcPeeringConnectionId=peering_id
    )
    autopilot.run_until_idle()

    # THEN the managed side is configured (the partner's side is not the hub's), and the record
    # names the approver CloudTrail gave
    assert routes_to(cloud, b, peering_id) == {"10.9.0.0/16"}
    assert routes_to(cloud, partner, peering_id) == set()
    [approved] = [e for e in history(autopilot, capsys, peering_id) if e["kind"] == "approved"]
    assert approved["evidence"]["approver"] == APPROVER.role_arn
    assert approved["evidence"]["rule"] == "partner-x"


def test_a_request_from_outside_no_rule_names_is_declined_and_nobody_is_asked(
    cloud: LocalCloud, autopilot_factory: Any, with_policy: Any
) -> None:
    # GIVEN a policy whose default would ask: a stranger's request must not page people
    _, b = world(cloud)
    stranger = build_network(cloud, Network("VPC-S", OUTSIDER, REGION, "10.9.0.0/16", tags=dict(ENABLED)))
    with_policy({"version": 1, "defaults": {"outcome": "ask"}, "rules": []})
    inbox = Inbox.subscribed(cloud, REGION)
    autopilot: LocalAutopilot = autopilot_factory(
        NotificationTopicArn=inbox.topic_arn, PolicyParameterName=POLICY_PARAMETER
    )
    peering_id = request_peering(cloud, side(stranger), side(b))
    autopilot.run_until_idle()
    assert tags_of(cloud, side(b), peering_id)[STATUS] == "declined:requester-not-approved"
    assert inbox.take() == []


def test_an_accept_by_someone_who_is_not_an_approver_configures_nothing_even_with_a_tag_naming_one(
    cloud: LocalCloud, autopilot_factory: Any, with_policy: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a request awaiting a person
    a, b, inbox, autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)
    inbox.take()

    # WHEN an admin of the member account who is not an approver tags the peering as approved by
    # the approver (a claim anyone can write) and accepts it
    person = cloud.ec2(MEMBER, REGION, record=True, identity=NOT_APPROVER)
    person.create_tags(
        Resources=[peering_id], Tags=[{"Key": "peering-autopilot:approved-by", "Value": APPROVER.role_arn}]
    )
    person.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    autopilot.run_until_idle()

    # THEN nothing is configured: the identity is CloudTrail's, the tag counts for nothing
    assert routes_to(cloud, a, peering_id) == set()
    assert routes_to(cloud, b, peering_id) == set()
    assert tags_of(cloud, side(b), peering_id)[STATUS] == "blocked:approval-refused"
    why = f"{NOT_APPROVER.role_arn} is not an approver of rule {RULE!r} (approvers: {APPROVER.role_arn})"
    [refused] = published(autopilot, "Peering Approval Refused")
    assert refused["decision"] == {"approver": NOT_APPROVER.role_arn, "refused": why, "reason": ""}
    [entry] = [e for e in history(autopilot, capsys, peering_id) if e["kind"] == "approval-refused"]
    assert entry["summary"] == why
    assert entry["actor"] == f"arn:aws:sts::{MEMBER}:assumed-role/NetworkAdmin/mallory"
    # ... and a sweep afterwards neither configures it nor reports it again, nor sends it to
    # configure only to be refused alike
    autopilot.tick()
    assert routes_to(cloud, a, peering_id) == set()
    assert len(published(autopilot, "Peering Approval Refused")) == 1
    assert [
        w
        for w in published(autopilot, "Peering Work Found")
        if w["peeringId"] == peering_id and w["work"] == "configure"
    ] == []


def test_a_refused_approval_is_configured_once_the_policy_accepts_the_pair(
    cloud: LocalCloud, autopilot_factory: Any, with_policy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a request a non-approver accepted: active, refused, nothing configured
    a, b, _, autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)
    cloud.ec2(MEMBER, REGION, record=True, identity=NOT_APPROVER).accept_vpc_peering_connection(
        VpcPeeringConnectionId=peering_id
    )
    autopilot.run_until_idle()
    assert tags_of(cloud, side(b), peering_id)[STATUS] == "blocked:approval-refused"

    # WHEN the network team's policy now accepts the pair, and the next sweep runs
    with_policy(document("accept"))
    monkeypatch.setattr(authority, "POLICY_CACHE_SECONDS", 0.0)  # a minute on: each container reads it again
    autopilot.tick()

    # THEN it is configured both ways, no approval needed
    assert routes_to(cloud, a, peering_id) == {"10.1.0.0/16"}
    assert routes_to(cloud, b, peering_id) == {"10.0.0.0/16"}


def test_a_forged_cloudtrail_event_claiming_the_approver_is_refused_by_the_bus(
    cloud: LocalCloud, autopilot_factory: Any, with_policy: Any
) -> None:
    # GIVEN a request awaiting a person
    a, b, _, autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)

    # WHEN a member admin hand-puts a CloudTrail-shaped accept claiming the approver's identity
    forged = cloudtrail_event(
        "AcceptVpcPeeringConnection",
        MEMBER,
        REGION,
        {"VpcPeeringConnectionId": peering_id},
        {"VpcPeeringConnection": {"VpcPeeringConnectionId": peering_id}},
        caller=APPROVER,
    )
    matched = autopilot.put_as(forged, MEMBER, NOT_APPROVER.role_arn)
    autopilot.run_until_idle()

    # THEN the bus refuses it (members put only AWS's events, through their forwarding role), and
    # the request still waits: nothing accepted, nothing configured
    assert matched == []
    [(_, why)] = autopilot.dropped
    assert (
        why
        == f"the hub's bus policy does not let {NOT_APPROVER.role_arn} put 'aws.ec2' 'AWS API Call via CloudTrail' events"
    )
    assert tags_of(cloud, side(b), peering_id)[STATUS] == f"awaiting-approval:{RULE}"
    assert routes_to(cloud, a, peering_id) == set()


def test_approve_run_with_the_approvers_own_credentials_is_configured_and_recorded(
    cloud: LocalCloud,
    autopilot_factory: Any,
    with_policy: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a request awaiting a person, and the approver's own signed-in session
    a, b, _, autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)
    monkeypatch.setattr(cli, "operator_session", lambda region, profile=None: cloud.person_session(APPROVER, REGION))

    # WHEN they run `peering-autopilot approve` (no approver option: AWS says who they are)
    capsys.readouterr()
    code = cli.main(["approve", peering_id, "--reason", "CHG-77: shared services", "--region", REGION])

    # THEN it is accepted with their credentials, and CloudTrail carries who they are to the hub
    assert code == 0, capsys.readouterr().err
    assert "accepted by your identity in account" in capsys.readouterr().out
    autopilot.run_until_idle()
    assert routes_to(cloud, a, peering_id) == {"10.1.0.0/16"}
    assert routes_to(cloud, b, peering_id) == {"10.0.0.0/16"}
    [approved] = [e for e in history(autopilot, capsys, peering_id) if e["kind"] == "approved"]
    assert approved["evidence"]["approver"] == APPROVER.role_arn
    assert approved["evidence"]["reason"] == "CHG-77: shared services"
    assert approved["evidence"]["rule"] == RULE


def test_approve_by_someone_not_an_approver_is_done_by_aws_but_configures_nothing(
    cloud: LocalCloud,
    autopilot_factory: Any,
    with_policy: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a request awaiting a person; someone who may accept in the account but is no approver
    a, b, _, autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)
    monkeypatch.setattr(
        cli, "operator_session", lambda region, profile=None: cloud.person_session(NOT_APPROVER, REGION)
    )

    # WHEN they run approve (IAM lets them accept: the autopilot cannot stop that)
    assert cli.main(["approve", peering_id, "--reason", "trust me", "--region", REGION]) == 0
    autopilot.run_until_idle()

    # THEN the hub configures nothing and says why
    assert routes_to(cloud, a, peering_id) == set()
    assert tags_of(cloud, side(b), peering_id)[STATUS] == "blocked:approval-refused"
    [refused] = published(autopilot, "Peering Approval Refused")
    assert refused["decision"]["approver"] == NOT_APPROVER.role_arn
    assert refused["decision"]["reason"] == "trust me"


def test_approve_refuses_with_exit_2_when_a_gate_fails_and_changes_nothing(
    cloud: LocalCloud,
    autopilot_factory: Any,
    with_policy: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a request awaiting a person, whose accepter VPC has since opted out
    _a, b, _, _autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)
    cloud.ec2(MEMBER, REGION).delete_tags(Resources=[b.vpc_id], Tags=[{"Key": "peering-autopilot:enabled"}])
    monkeypatch.setattr(cli, "operator_session", lambda region, profile=None: cloud.person_session(APPROVER, REGION))

    # WHEN the approver runs approve
    capsys.readouterr()
    code = cli.main(["approve", peering_id, "--reason", "CHG-9", "--region", REGION])

    # THEN it refuses with the gate that failed, and the request is still pending, untagged by it
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: refused: a gate fails: ")
    assert f"accepter VPC {b.vpc_id} tag peering-autopilot:enabled is missing, not 'true'" in err
    pcx = cloud.ec2(MEMBER, REGION).describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])
    assert pcx["VpcPeeringConnections"][0]["Status"]["Code"] == "pending-acceptance"
    assert "peering-autopilot:approval-reason" not in tags_of(cloud, side(b), peering_id)


def test_reject_by_a_person_is_recorded_with_their_identity_and_reason(
    cloud: LocalCloud,
    autopilot_factory: Any,
    with_policy: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a request awaiting a person
    _a, _b, _, autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)
    monkeypatch.setattr(cli, "operator_session", lambda region, profile=None: cloud.person_session(APPROVER, REGION))

    # WHEN the approver rejects it
    assert cli.main(["reject", peering_id, "--reason", "not this quarter", "--region", REGION]) == 0
    autopilot.run_until_idle()

    # THEN it is rejected, and the record names them, the rule and the reason
    pcx = cloud.ec2(MEMBER, REGION).describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])
    assert pcx["VpcPeeringConnections"][0]["Status"]["Code"] == "rejected"
    [rejected] = [e for e in history(autopilot, capsys, peering_id) if e["kind"] == "rejected"]
    assert rejected["actor"] == f"arn:aws:sts::{MEMBER}:assumed-role/NetworkApprover/alice"
    assert rejected["evidence"]["approval"] == {
        "rule": RULE,
        "approver": APPROVER.role_arn,
        "reason": "not this quarter",
    }


def test_a_reminder_a_day_before_expiry_and_the_expiry_are_each_told_once(
    cloud: LocalCloud,
    autopilot_factory: Any,
    with_policy: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN every function's wall clock is the test's, and a request awaiting a person
    clock = Clock()
    monkeypatch.setattr(Context, "of", classmethod(lambda cls, s: cls(s, AwsAccess(s), now=clock)))
    _a, b, inbox, autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)
    assert len(inbox.take()) == 1
    expires = (
        cloud.ec2(MEMBER, REGION)
        .describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])["VpcPeeringConnections"][0][
            "ExpirationTime"
        ]
        .timestamp()
    )

    # WHEN the sweep runs 25 hours before it expires: no reminder yet
    clock.at = expires - 25 * 3600
    autopilot.tick()
    assert inbox.take() == [] and published(autopilot, "Peering Approval Reminder") == []

    # WHEN it runs 23 hours before, then again
    clock.at = expires - 23 * 3600
    autopilot.tick()
    autopilot.tick()

    # THEN one reminder, remembered on the peering
    [told] = inbox.take()
    assert told["Subject"] == f"Reminder: peering {peering_id} expires within 24 hours unless approved"
    assert len(published(autopilot, "Peering Approval Reminder")) == 1
    assert "peering-autopilot:approval-reminded" in tags_of(cloud, side(b), peering_id)

    # WHEN AWS expires it (nobody decided), and the sweep runs twice
    clock.at = expires + 60
    cloud.expire_peering(peering_id)
    autopilot.tick()
    autopilot.tick()

    # THEN the expiry is told once, tagged and recorded
    [told] = inbox.take()
    assert told["Subject"] == f"Peering {peering_id} expired: nobody approved it within 7 days"
    [expired] = published(autopilot, "Peering Approval Expired")
    assert expired["rule"] == RULE
    assert tags_of(cloud, side(b), peering_id)[STATUS] == f"expired:{RULE}"
    kinds = [e["kind"] for e in history(autopilot, capsys, peering_id)]
    assert kinds == ["awaiting-approval", "approval-reminder", "approval-expired"]


def test_a_request_awaiting_a_person_is_decided_again_when_the_policy_stops_asking_about_it(
    cloud: LocalCloud, autopilot_factory: Any, with_policy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a request awaiting a person under the rule, and sweeps while the policy still asks
    a, b, inbox, autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)
    autopilot.tick()
    assert tags_of(cloud, side(b), peering_id)[STATUS] == f"awaiting-approval:{RULE}"
    assert len(inbox.take()) == 1  # one message when asked; the sweep sent no second

    # WHEN the network team changes the rule to accept, and a sweep runs once each container's
    # cached document is older than a minute
    with_policy(document("accept"))
    monkeypatch.setattr(authority, "POLICY_CACHE_SECONDS", 0.0)  # a minute on: each container reads it again
    swept = autopilot.tick()
    [sweep] = [d.result for d in swept if d.function == "SweepFunction"]
    assert sweep["work"] == {"accept": 1}
    [work] = [w for w in published(autopilot, "Peering Work Found") if w["peeringId"] == peering_id][-1:]
    assert f"awaiting a person under rule {RULE}, but the policy now says accept" in json.dumps(work)

    # THEN the request is decided again under the new word: accepted and configured, no person asked
    [seen] = cloud.ec2(b.account, b.region).describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])[
        "VpcPeeringConnections"
    ]
    assert seen["Status"]["Code"] == "active"
    assert routes_to(cloud, a, peering_id) == {"10.1.0.0/16"}
    assert inbox.take() == []


def test_a_policy_reject_rejects_whatever_unapproved_request_action_says(
    cloud: LocalCloud, autopilot_factory: Any, with_policy: Any
) -> None:
    # GIVEN a policy that rejects requests into the member's account, UnapprovedRequestAction left pending
    a, b = world(cloud)
    with_policy(document("reject"))
    autopilot: LocalAutopilot = autopilot_factory(
        UnapprovedRequestAction="leave-pending", PolicyParameterName=POLICY_PARAMETER
    )

    # WHEN the hub's VPC requests a peering with the member's
    peering_id = request_peering(cloud, side(a), side(b))
    autopilot.run_until_idle()

    # THEN it is rejected, naming the rule
    pcx = cloud.ec2(MEMBER, REGION).describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])
    assert pcx["VpcPeeringConnections"][0]["Status"]["Code"] == "rejected"
    [rejected] = published(autopilot, "Peering Rejected")
    assert rejected["reasonCodes"] == ["policy-rejected"]
    assert rejected["reason"] == f"the policy rejects it: rule {RULE!r} matches: reject"


def test_the_status_command_lists_pending_approvals_with_age_and_rule(
    cloud: LocalCloud, autopilot_factory: Any, with_policy: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a request awaiting a person
    a, b, _, _autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)

    # WHEN the network team asks for the status of both accounts
    capsys.readouterr()
    code = cli.main(["status", "--accounts", f"{HUB},{MEMBER}", "--regions", REGION, "--json"])
    report = json.loads(capsys.readouterr().out)

    # THEN the pending approval is listed with the rule that asked and its age
    assert code == 0
    [pending] = report["pendingApprovals"]
    assert pending["peeringId"] == peering_id and pending["rule"] == RULE
    assert pending["requester"] == f"{HUB}/{REGION}/{a.vpc_id}"
    assert pending["accepter"] == f"{MEMBER}/{REGION}/{b.vpc_id}"
    assert 0 <= pending["ageSeconds"] < 600 and pending["reminded"] is False
    [row] = [r for r in report["peerings"] if r["peeringId"] == peering_id]
    assert row["accepter"]["missing"] == f"awaiting a person's approval (rule {RULE})"
    # ... and the table says so in words (--wide: on one line)
    assert cli.main(["status", "--accounts", f"{HUB},{MEMBER}", "--regions", REGION, "--wide"]) == 0
    out = capsys.readouterr().out
    assert "Pending approvals (the policy asks a person):" in out
    assert f"{peering_id}  {HUB}/{REGION}/{a.vpc_id} -> {MEMBER}/{REGION}/{b.vpc_id}  rule {RULE}  age 0h 0m" in out
    # ... by default, in 120 columns: the pair, then what asked
    assert cli.main(["status", "--accounts", f"{HUB},{MEMBER}", "--regions", REGION]) == 0
    lines = capsys.readouterr().out.splitlines()
    pair = lines.index(f"  {peering_id}  {HUB}/{REGION}/{a.vpc_id} -> {MEMBER}/{REGION}/{b.vpc_id}")
    assert lines[pair + 1].startswith(f"    rule {RULE}  age 0h 0m  expires ")
    assert max(len(line) for line in lines) <= 120


def test_an_approval_whose_cloudtrail_event_is_late_is_unproven_until_it_arrives(
    cloud: LocalCloud, autopilot_factory: Any, with_policy: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a request awaiting a person, accepted by the approver, whose CloudTrail event is late
    a, b, _, autopilot, peering_id = asked(cloud, autopilot_factory, with_policy)
    cloud.ec2(MEMBER, REGION, record=True, identity=APPROVER).accept_vpc_peering_connection(
        VpcPeeringConnectionId=peering_id
    )
    late = cloud.trail.pop()
    assert late["detail"]["eventName"] == "AcceptVpcPeeringConnection"

    # WHEN the sweep finds the active peering first, twice
    autopilot.tick()
    autopilot.tick()

    # THEN nothing is configured on a guess: the approval is not proven yet, said once
    assert routes_to(cloud, a, peering_id) == set()
    assert tags_of(cloud, side(b), peering_id)[STATUS] == "blocked:approval-not-recorded"
    [unproven] = published(autopilot, "Peering Approval Refused")
    assert unproven["decision"]["approver"] is None

    # WHEN CloudTrail's record of the approver's accept arrives
    cloud.record(late)
    autopilot.run_until_idle()

    # THEN it counts: configured, and recorded with their identity
    assert routes_to(cloud, a, peering_id) == {"10.1.0.0/16"}
    assert routes_to(cloud, b, peering_id) == {"10.0.0.0/16"}
    [approved] = [e for e in history(autopilot, capsys, peering_id) if e["kind"] == "approved"]
    assert approved["evidence"]["approver"] == APPROVER.role_arn
