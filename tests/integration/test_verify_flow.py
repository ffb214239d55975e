"""The verification probe in moto: one failing case per step of the runbook's checklist, each
named precisely (table and route, group, ACL and rule number, address)."""

from __future__ import annotations

import json
from typing import Any

import boto3

from autopilot_local.harness import LocalCloud
from autopilot_local.world import Network, build_network
from peering_autopilot import verify
from peering_autopilot.triggers import PeeringHint
from peering_autopilot.verify import VerifyResult, verify_peering
from tests.support.domain import context, settings
from tests.support.world import HUB, MEMBER, OUTSIDER, REGION, ApiCalls, Side, deny_ping_in, tags_of

ENABLED = {"peering-autopilot:enabled": "true"}


def peered(
    cloud: LocalCloud, *, accept: bool = True, a_cidr: str = "10.0.0.0/16", b_account: str = MEMBER
) -> tuple[Network, Network, str]:
    """The seed's two VPCs, peered and configured as the autopilot leaves them: routes in every
    table both ways, ICMP allowed in from the peer."""
    a = build_network(cloud, Network("VPC-A", HUB, REGION, a_cidr, tags=dict(ENABLED)))
    b = build_network(cloud, Network("VPC-B", b_account, REGION, "10.1.0.0/16", tags=dict(ENABLED)))
    peering_id = cloud.ec2(HUB, REGION).create_vpc_peering_connection(
        VpcId=a.vpc_id, PeerVpcId=b.vpc_id, PeerOwnerId=b.account
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    if accept:
        cloud.ec2(b.account, REGION).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    for net, peer in ((a, b), (b, a)):
        ec2 = cloud.ec2(net.account, REGION)
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["RouteTables"]
        for table in tables:
            ec2.create_route(
                RouteTableId=table["RouteTableId"], DestinationCidrBlock=peer.cidr, VpcPeeringConnectionId=peering_id
            )
        ec2.authorize_security_group_ingress(
            GroupId=net.security_group_id,
            IpPermissions=[{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": peer.cidr}]}],
        )
    return a, b, peering_id


def run_verify(peering_id: str, account: str = MEMBER, **overrides: Any) -> VerifyResult:
    s = settings(**overrides)
    return verify_peering(PeeringHint(peering_id, account, REGION), context(s))


def direction(result: VerifyResult, name: str) -> dict[str, Any]:
    return next(d for d in result.detail["directions"] if d["direction"] == name)


def failure(result: VerifyResult, name: str = "requester -> accepter") -> dict[str, Any]:
    found = direction(result, name)["firstFailure"]
    assert found is not None, result.report
    return dict(found)


def test_a_configured_peering_is_verified_both_ways(cloud: LocalCloud, bus: str) -> None:
    a, b, peering_id = peered(cloud)

    result = run_verify(peering_id)

    assert result.verdict == "verified", result.report
    for name in ("requester -> accepter", "accepter -> requester"):
        checks = direction(result, name)["checks"]
        assert [(c["step"], c["result"]) for c in checks] == [
            ("peering", "pass"),
            ("routes", "pass"),
            ("security-groups", "pass"),
            ("network-acls", "pass"),
            ("addresses", "pass"),
        ]
    forward = direction(result, "requester -> accepter")
    assert forward["source"] == f"instance {a.instance_id} {a.private_ip}"
    assert forward["destination"] == f"instance {b.instance_id} {b.private_ip}"
    assert forward["traffic"] == "ICMP echo (ping)"
    assert tags_of(cloud, Side(b.account, b.region, b.vpc_id), peering_id) == {"peering-autopilot:status": "verified"}


def test_a_peering_not_active_yet_is_not_verified_and_is_not_a_failure(
    cloud: LocalCloud, bus: str, api_calls: ApiCalls
) -> None:
    # GIVEN a request still pending, its decision in the status tag (as the accept step leaves it)
    a, _, peering_id = peered(cloud, accept=False)
    cloud.ec2(HUB, REGION).create_tags(
        Resources=[peering_id], Tags=[{"Key": "peering-autopilot:status", "Value": "declined:accepter-not-opted-in"}]
    )
    api_calls.clear()

    # WHEN it is verified (a replayed "Peering Configured", or DryRun's configure of a pending request)
    result = run_verify(peering_id)

    # THEN there is no path to judge: not a failure, no side read, and the decision stays in the tag
    assert (result.outcome, result.verdict) == (verify.Outcome.NOT_ACTIVE, "unverified:not-active")
    assert result.detail["directions"] == []
    assert result.report.splitlines()[1:] == [
        f"  not active: {peering_id} is pending-acceptance; the path is checked once it is active",
        "",
        "Verdict: unverified:not-active",
    ]
    assert api_calls.mutating() == []
    assert set(api_calls.by_action()) == {"DescribeVpcPeeringConnections"}
    assert tags_of(cloud, Side(a.account, a.region, a.vpc_id), peering_id) == {
        "peering-autopilot:status": "declined:accepter-not-opted-in"
    }


def test_a_missing_route_on_the_source_side_is_named(cloud: LocalCloud, bus: str) -> None:
    a, b, peering_id = peered(cloud)
    cloud.ec2(HUB, REGION).delete_route(RouteTableId=a.route_table_id, DestinationCidrBlock=b.cidr)

    result = run_verify(peering_id)

    assert result.verdict == "blocked:routes"
    found = failure(result)
    assert found["component"] == a.route_table_id
    assert found["detail"] == f"{a.route_table_id} has no route to {b.private_ip}"
    # the other direction fails on its return leg, through the same table
    back = failure(result, "accepter -> requester")
    assert back["detail"] == f"{a.route_table_id} has no route return to {b.private_ip}"


def test_a_missing_route_on_the_return_side_is_named(cloud: LocalCloud, bus: str) -> None:
    a, b, peering_id = peered(cloud)
    cloud.ec2(MEMBER, REGION).delete_route(RouteTableId=b.route_table_id, DestinationCidrBlock=a.cidr)

    result = run_verify(peering_id)

    assert failure(result)["detail"] == f"{b.route_table_id} has no route return to {a.private_ip}"


def test_a_more_specific_route_stealing_the_traffic_is_named(cloud: LocalCloud, bus: str) -> None:
    a, b, peering_id = peered(cloud)
    ec2 = cloud.ec2(HUB, REGION)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=a.vpc_id)
    ec2.create_route(RouteTableId=a.route_table_id, DestinationCidrBlock="10.1.1.0/24", GatewayId=igw)

    result = run_verify(peering_id)

    found = failure(result)
    assert found["step"] == "routes"
    assert found["component"] == f"{a.route_table_id} 10.1.1.0/24 -> {igw}"
    assert found["detail"] == f"{a.route_table_id} sends {b.private_ip} (to) to {igw} via 10.1.1.0/24, not {peering_id}"


def test_missing_group_ingress_is_named(cloud: LocalCloud, bus: str) -> None:
    a, b, peering_id = peered(cloud)
    cloud.ec2(MEMBER, REGION).revoke_security_group_ingress(
        GroupId=b.security_group_id,
        IpPermissions=[{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": a.cidr}]}],
    )

    result = run_verify(peering_id)

    assert result.verdict == "blocked:security-groups"
    assert failure(result) == {
        "step": "security-groups",
        "result": "fail",
        "detail": f"{b.security_group_id} of {b.instance_id} allow no ICMP echo (ping) in from {a.private_ip}",
        "component": b.security_group_id,
    }


def test_restricted_group_egress_is_named(cloud: LocalCloud, bus: str) -> None:
    a, _, peering_id = peered(cloud)
    ec2 = cloud.ec2(HUB, REGION)
    ec2.revoke_security_group_egress(
        GroupId=a.security_group_id, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    ec2.authorize_security_group_egress(
        GroupId=a.security_group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )

    result = run_verify(peering_id)

    found = failure(result)
    assert (found["step"], found["component"]) == ("security-groups", a.security_group_id)
    assert "allow no ICMP echo (ping) out to" in found["detail"]


def test_an_acl_deny_before_the_allow_is_named_with_its_rule_number(cloud: LocalCloud, bus: str) -> None:
    a, b, peering_id = peered(cloud)
    acl_id = deny_ping_in(cloud, b, a.cidr)

    result = run_verify(peering_id)

    assert result.verdict == "blocked:network-acls"
    found = failure(result)
    assert found["component"] == f"{acl_id} rule 90"
    assert found["detail"] == f"{acl_id} rule 90 denies icmp echo request in from {a.private_ip}"


def test_an_acl_that_blocks_the_ephemeral_return_ports_is_named(cloud: LocalCloud, bus: str) -> None:
    # GIVEN VPC-B asks for tcp:443, and VPC-A's ACL lets in only tcp 443 (stateless: replies to
    # A's own connections come back to its ephemeral ports and are dropped)
    a, b, peering_id = peered(cloud)
    cloud.ec2(MEMBER, REGION).create_tags(
        Resources=[b.security_group_id], Tags=[{"Key": "peering-autopilot:allow", "Value": "tcp:443"}]
    )
    cloud.ec2(MEMBER, REGION).authorize_security_group_ingress(
        GroupId=b.security_group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": a.cidr}]}],
    )
    ec2 = cloud.ec2(HUB, REGION)
    [acl] = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [a.subnet_id]}])[
        "NetworkAcls"
    ]
    acl_id = acl["NetworkAclId"]
    ec2.replace_network_acl_entry(
        NetworkAclId=acl_id,
        RuleNumber=100,
        Protocol="6",
        RuleAction="allow",
        Egress=False,
        CidrBlock="0.0.0.0/0",
        PortRange={"From": 443, "To": 443},
    )

    result = run_verify(peering_id)

    forward = direction(result, "requester -> accepter")
    assert forward["traffic"] == "TCP 443"
    found = failure(result)
    assert found["component"] == f"{acl_id} rule 32767"
    assert found["detail"] == f"{acl_id} rule 32767 denies tcp port 1024 in (return) back from {b.private_ip}"


def test_an_address_outside_the_private_ranges_is_named(cloud: LocalCloud, bus: str) -> None:
    # A VPC may use a publicly routable block; the runbook's "check the private IPs" catches it
    a, _, peering_id = peered(cloud, a_cidr="54.10.0.0/16")

    result = run_verify(peering_id)

    assert result.verdict == "blocked:addresses"
    assert failure(result)["detail"] == f"{a.private_ip} of {a.instance_id} is not a private address"


def test_a_tagged_probe_instance_is_preferred(cloud: LocalCloud, bus: str) -> None:
    _, b, peering_id = peered(cloud)
    ec2 = cloud.ec2(MEMBER, REGION)
    probe = ec2.run_instances(
        ImageId="ami-12c6146b",
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=b.subnet_id,
        SecurityGroupIds=[b.security_group_id],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "peering-autopilot:probe", "Value": "true"}]}],
    )["Instances"][0]

    result = run_verify(peering_id)

    assert direction(result, "requester -> accepter")["destination"] == (
        f"probe instance {probe['InstanceId']} {probe['PrivateIpAddress']}"
    )
    assert result.verdict == "verified"


def test_a_side_the_hub_cannot_read_leaves_the_peering_unverified(cloud: LocalCloud, bus: str) -> None:
    _, b, peering_id = peered(cloud, b_account=OUTSIDER)

    result = run_verify(peering_id, account=HUB)

    assert result.verdict == "unverified:side-not-readable"
    assert result.detail["unreadableSides"] == [
        f"accepter {b.vpc_id} ({OUTSIDER}): account {OUTSIDER} is not managed by this hub"
    ]
    assert result.detail["directions"] == []


def test_people_are_told_by_sns_when_verification_fails(cloud: LocalCloud, bus: str) -> None:
    a, b, peering_id = peered(cloud)
    cloud.ec2(HUB, REGION).delete_route(RouteTableId=a.route_table_id, DestinationCidrBlock=b.cidr)
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="network-oncall")["TopicArn"]
    queue = sqs.create_queue(QueueName="oncall-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    result = run_verify(peering_id, notification_topic_arn=topic)

    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert body["Subject"] == f"Peering {peering_id}: blocked:routes"
    assert body["Message"] == result.report
    assert f"{a.route_table_id} has no route to {b.private_ip}" in body["Message"]


def test_verification_publishes_the_checklist(cloud: LocalCloud, bus: str) -> None:
    _, _, peering_id = peered(cloud)
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="tap")["QueueUrl"]
    arn = boto3.client("sqs", region_name=REGION).get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="tap", EventBusName=bus, EventPattern='{"source": ["peering-autopilot"]}')
    events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])

    run_verify(peering_id)

    [message] = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=queue)["Messages"]
    event = json.loads(message["Body"])
    assert event["detail-type"] == "Peering Verified"
    assert [d["direction"] for d in event["detail"]["directions"]] == ["requester -> accepter", "accepter -> requester"]
    assert event["detail"]["report"].endswith("Verdict: verified")


def test_the_verify_function_calls_only_what_it_declares(cloud: LocalCloud, bus: str, api_calls: ApiCalls) -> None:
    _, _, peering_id = peered(cloud)
    api_calls.clear()

    result = run_verify(peering_id)

    assert result.verdict == "verified"
    declared = {a.split(":", 1)[1] for a in verify.IAM_ACTIONS}
    assert set(api_calls.names) <= declared, set(api_calls.names) - declared
    # one read of each kind per side
    reads = api_calls.by_action()
    for action in (
        "DescribeVpcs",
        "DescribeRouteTables",
        "DescribeNetworkAcls",
        "DescribeSecurityGroups",
        "DescribeInstances",
    ):
        assert reads[action] == 2, action
