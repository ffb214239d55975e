"""No noise: people are told (SNS) of a failing verdict once, when it is new, not every time the
same finding is made again; a peering that is not active yet is not a failure; and in DryRun,
where no status tag keeps the previous finding, nothing is sent: the events carry the finding.
Run through the harness with the template's NotificationTopicArn, the topic subscribed by a queue."""

from __future__ import annotations

from typing import Any

from autopilot_local.harness import Delivery, LocalAutopilot, LocalCloud
from autopilot_local.world import ENABLED, Network, build_network
from tests.support.observed import Inbox, metrics_emitted
from tests.support.world import HUB, MEMBER, REGION, Side, deny_ping_in, request_peering, tags_of

STATUS = "peering-autopilot:status"


def world(cloud: LocalCloud) -> tuple[Network, Network]:
    """VPC-A in the hub, VPC-B in the member account, opted in, each with a subnet, a table, an
    instance and an allow=icmp group."""
    a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
    b = build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED)))
    return a, b


def side(net: Network) -> Side:
    return Side(net.account, net.region, net.vpc_id)


def results(deliveries: list[Delivery], function: str) -> list[str]:
    return [d.result["status"] for d in deliveries if d.function == function]


def published(autopilot: LocalAutopilot, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in autopilot.published if e["detail-type"] == detail_type]


def test_an_unchanged_failing_verdict_is_told_once_and_a_changed_one_again(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the runbook's world with an ACL in VPC-B that drops the peer's ping, and a topic
    a, b = world(cloud)
    acl_id = deny_ping_in(cloud, b, a.cidr)
    inbox = Inbox.subscribed(cloud, REGION)
    autopilot: LocalAutopilot = autopilot_factory(NotificationTopicArn=inbox.topic_arn)

    # WHEN a person requests the peering: accepted, configured, verified
    peering_id = request_peering(cloud, side(a), side(b))
    first = autopilot.run_until_idle()

    # THEN the verdict is blocked at the ACL, and people are told once
    assert results(first, "VerifyPeeringFunction") == ["blocked:network-acls"]
    [told] = inbox.take()
    assert told["Subject"] == f"Peering {peering_id}: blocked:network-acls"
    assert f"{acl_id} rule 90 denies icmp echo request in from {a.private_ip}" in told["Message"]
    assert tags_of(cloud, side(a), peering_id) == {STATUS: "blocked:network-acls", "Name": "VPC-A <-> VPC-B"}

    # WHEN "Peering Configured" comes again (EventBridge delivers at least once), twice
    [configured] = [e for e in autopilot.published if e["detail-type"] == "Peering Configured"]
    for _ in range(2):
        autopilot.put(configured, via="a redelivery")
        again = autopilot.run_until_idle()
        assert results(again, "VerifyPeeringFunction") == ["blocked:network-acls"]

    # THEN the same finding is published each time, but nobody is told again
    assert inbox.take() == []
    failed = published(autopilot, "Peering Verification Failed")
    assert [(d["outcome"], d["notified"]) for d in failed] == [
        ("blocked:network-acls", True),
        ("blocked:network-acls", False),
        ("blocked:network-acls", False),
    ]

    # WHEN the ACL is fixed but a more specific route in VPC-A now sends VPC-B's subnet elsewhere
    ec2 = cloud.ec2(HUB, REGION)
    cloud.ec2(MEMBER, REGION).delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=90, Egress=False)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=a.vpc_id)
    ec2.create_route(RouteTableId=a.route_table_id, DestinationCidrBlock="10.1.1.0/24", GatewayId=igw)
    autopilot.put(configured, via="a redelivery")
    changed = autopilot.run_until_idle()

    # THEN the new verdict is told, once, and recorded on both sides
    assert results(changed, "VerifyPeeringFunction") == ["blocked:routes"]
    [told] = inbox.take()
    assert told["Subject"] == f"Peering {peering_id}: blocked:routes"
    assert f"{a.route_table_id} sends {b.private_ip} (to) to {igw} via 10.1.1.0/24, not {peering_id}" in told["Message"]
    assert tags_of(cloud, side(a), peering_id) == {STATUS: "blocked:routes", "Name": "VPC-A <-> VPC-B"}
    assert tags_of(cloud, side(b), peering_id) == {STATUS: "blocked:routes", "Name": "VPC-B <-> VPC-A"}

    # WHEN it is fixed, THEN it is verified, and a success is not a notification
    ec2.delete_route(RouteTableId=a.route_table_id, DestinationCidrBlock="10.1.1.0/24")
    autopilot.put(configured, via="a redelivery")
    assert results(autopilot.run_until_idle(), "VerifyPeeringFunction") == ["verified"]
    assert inbox.take() == []
    assert tags_of(cloud, side(a), peering_id) == {STATUS: "verified", "Name": "VPC-A <-> VPC-B"}


def test_a_pending_request_in_dry_run_is_not_a_failure_and_tells_nobody_sweep_after_sweep(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the autopilot in DryRun with a topic, and a request a person sends
    a, b = world(cloud)
    inbox = Inbox.subscribed(cloud, REGION)
    autopilot: LocalAutopilot = autopilot_factory(DryRun="true", NotificationTopicArn=inbox.topic_arn)
    peering_id = request_peering(cloud, side(a), side(b))

    # WHEN the events run (accept, configure and verify, in DryRun), then two sweeps, each of
    # which decides the request again (DryRun tags nothing, so nothing records the decision)
    deliveries = autopilot.run_until_idle() + autopilot.tick() + autopilot.tick()

    # THEN every verification found a peering not active yet: not a failure, nobody told
    assert results(deliveries, "VerifyPeeringFunction") == ["unverified:not-active"] * 3
    assert inbox.take() == []
    assert published(autopilot, "Peering Verification Failed") == []
    deferred = published(autopilot, "Peering Verification Deferred")
    assert [(d["outcome"], d["peeringStatus"], d["dryRun"], d["notified"]) for d in deferred] == [
        ("unverified:not-active", "pending-acceptance", True, False)
    ] * 3
    assert deferred[0]["report"].splitlines()[1] == (
        f"  not active: {peering_id} is pending-acceptance; the path is checked once it is active"
    )
    assert not [m for m in metrics_emitted(autopilot) if "PeeringVerificationsFailed" in m]
    assert tags_of(cloud, side(b), peering_id) == {}


def test_a_failing_verdict_in_dry_run_is_published_each_time_and_tells_nobody(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the autopilot in DryRun with a topic, and a peering people made with every event lost:
    # active, and without routes (DryRun adds none)
    a, b = world(cloud)
    inbox = Inbox.subscribed(cloud, REGION)
    autopilot: LocalAutopilot = autopilot_factory(DryRun="true", NotificationTopicArn=inbox.topic_arn)
    peering_id = request_peering(cloud, side(a), side(b))
    cloud.ec2(MEMBER, REGION, record=True).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    cloud.trail.clear()

    # WHEN two sweeps find the missing routes and rules, and the dry configure hands on to verify
    deliveries = autopilot.tick() + autopilot.tick()

    # THEN each verification finds the path blocked and says so in its event; SNS stays silent
    assert results(deliveries, "VerifyPeeringFunction") == ["blocked:routes"] * 2
    assert inbox.take() == []
    failed = published(autopilot, "Peering Verification Failed")
    assert [(d["outcome"], d["dryRun"], d["notified"]) for d in failed] == [("blocked:routes", True, False)] * 2
    assert f"{a.route_table_id} has no route to {b.private_ip}" in failed[0]["report"]
    assert tags_of(cloud, side(a), peering_id) == {}
