"""Routes and security-group rules on both sides, in moto: exact route and rule sets asserted."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from autopilot_local.harness import LocalAutopilot, LocalCloud
from peering_autopilot import configure
from peering_autopilot.configure import configure_peering
from peering_autopilot.triggers import PeeringHint
from tests.support.domain import Body, context, create_bus, ec2_error, settings
from tests.support.world import (
    HUB,
    MEMBER,
    OTHER_REGION,
    OUTSIDER,
    REGION,
    ApiCalls,
    build_net,
    expected_routes,
    ingress,
    peering_as_accepter,
    peering_routes,
    request_peering,
    tags_of,
)

DESCRIPTION = "peering-autopilot {}"


def configured_events(autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    return [e for e in autopilot.published if e["detail-type"] == "Peering Configured"]


PLACEMENTS = [
    pytest.param((HUB, REGION), (HUB, REGION), id="within account"),
    pytest.param((HUB, REGION), (MEMBER, REGION), id="across accounts"),
    pytest.param((MEMBER, REGION), (HUB, OTHER_REGION), id="across accounts and regions"),
]


@pytest.mark.parametrize(("a_at", "b_at"), PLACEMENTS)
def test_both_sides_get_routes_in_every_table_and_the_declared_rules(
    cloud: LocalCloud, autopilot_factory: Any, api_calls: ApiCalls, a_at: tuple[str, str], b_at: tuple[str, str]
) -> None:
    # GIVEN the seed's VPCs, each with a main table, two subnet tables, an excluded and a loose one
    a = build_net(cloud, *a_at, "10.0.0.0/16", allow="icmp")
    b = build_net(cloud, *b_at, "10.1.0.0/16", allow="icmp,tcp:443,tcp:8000-8080,udp:53")
    autopilot = autopilot_factory()
    api_calls.clear()

    # WHEN a request is made and the automation runs
    peering_id = request_peering(cloud, a.side, b.side)
    deliveries = autopilot.run_until_idle()
    [configuring] = [d for d in deliveries if d.function == "ConfigurePeeringFunction"]
    calls = configuring.calls.names

    # THEN every managed table on both sides routes the peer VPC's block through the peering ...
    assert peering_routes(cloud, a, peering_id) == expected_routes(a, {"10.1.0.0/16"})
    assert peering_routes(cloud, b, peering_id) == expected_routes(b, {"10.0.0.0/16"})
    # ... the tagged groups let the declared traffic in from the peer, marked as the autopilot's ...
    mark = DESCRIPTION.format(peering_id)
    assert ingress(cloud, a, a.tagged_group) == {("icmp", -1, -1, "10.1.0.0/16", mark)}
    assert ingress(cloud, b, b.tagged_group) == {
        ("icmp", -1, -1, "10.0.0.0/16", mark),
        ("tcp", 443, 443, "10.0.0.0/16", mark),
        ("tcp", 8000, 8080, "10.0.0.0/16", mark),
        ("udp", 53, 53, "10.0.0.0/16", mark),
    }
    # ... untagged groups are never touched, and both sides see the status (the probe's, last)
    assert ingress(cloud, a, a.untagged_group) == set()
    assert ingress(cloud, b, b.untagged_group) == set()
    assert configuring.result["status"] == "configured"
    assert tags_of(cloud, a.side, peering_id) == {
        "peering-autopilot:status": "verified",
        "Name": f"{a.side.vpc_id} <-> {b.side.vpc_id}",
    }
    # (within one account and region both sides share one view of the peering: the requester's Name)
    b_name = f"{b.side.vpc_id} <-> {a.side.vpc_id}" if a_at != b_at else f"{a.side.vpc_id} <-> {b.side.vpc_id}"
    assert tags_of(cloud, b.side, peering_id) == {"peering-autopilot:status": "verified", "Name": b_name}
    # ... with one filtered read of tables and of groups per side, and one Authorize per group
    assert calls.count("DescribeRouteTables") == 2
    assert calls.count("DescribeSecurityGroups") == 2
    assert calls.count("AuthorizeSecurityGroupIngress") == 2
    assert calls.count("CreateRoute") == 6

    [event] = configured_events(autopilot)
    assert event["detail"]["outcome"] == "configured"
    sides = {s["role"]: s for s in event["detail"]["sides"]}
    assert sorted(r["routeTableId"] for r in sides["requester"]["routes"]["added"]) == a.managed_tables
    assert sides["accepter"]["securityGroups"]["added"] == [
        {
            "groupId": b.tagged_group,
            "rules": [
                "icmp from 10.0.0.0/16",
                "tcp:443 from 10.0.0.0/16",
                "tcp:8000-8080 from 10.0.0.0/16",
                "udp:53 from 10.0.0.0/16",
            ],
        }
    ]
    assert {s["routeTableId"]: s["reason"] for s in sides["requester"]["routes"]["skippedTables"]} == {
        a.excluded_table: "tagged peering-autopilot:routes='false' (not 'true')",
        a.loose_table: "neither the main table nor associated with a subnet",
    }


def test_a_second_run_changes_nothing(cloud: LocalCloud, autopilot_factory: Any, api_calls: ApiCalls) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    before = (peering_routes(cloud, a, peering_id), peering_routes(cloud, b, peering_id))
    [accepted] = [e for e in autopilot.published if e["detail-type"] == "Peering Accepted"]
    api_calls.clear()

    # WHEN the same event is delivered again (EventBridge delivers at least once)
    autopilot.put(accepted)
    again, verified_again = autopilot.run_until_idle()

    assert again.result["status"] == "configured"
    assert verified_again.result["status"] == "verified"
    assert api_calls.mutating() == []
    assert (peering_routes(cloud, a, peering_id), peering_routes(cloud, b, peering_id)) == before
    second = configured_events(autopilot)[-1]["detail"]
    for side in second["sides"]:
        assert side["routes"]["added"] == []
        assert len(side["routes"]["present"]) == 3
        assert side["securityGroups"]["added"] == []


def test_secondary_and_ipv6_blocks_are_routed_and_opened(
    cloud: LocalCloud, autopilot_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moto.ec2.models.vpcs as moto_vpcs

    blocks = iter(["2600:1f18:aaaa:1200::/56", "2600:1f18:bbbb:3400::/56"])
    monkeypatch.setattr(moto_vpcs, "random_ipv6_cidr", lambda: next(blocks))
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16", secondary=("100.64.0.0/16",), ipv6=True, allow="icmp")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16", secondary=("10.9.0.0/16",), ipv6=True, allow="tcp:443")
    autopilot = autopilot_factory()

    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()

    assert peering_routes(cloud, a, peering_id) == expected_routes(
        a, {"10.1.0.0/16", "10.9.0.0/16", "2600:1f18:bbbb:3400::/56"}
    )
    assert peering_routes(cloud, b, peering_id) == expected_routes(
        b, {"10.0.0.0/16", "100.64.0.0/16", "2600:1f18:aaaa:1200::/56"}
    )
    mark = DESCRIPTION.format(peering_id)
    assert ingress(cloud, a, a.tagged_group) == {
        ("icmp", -1, -1, "10.1.0.0/16", mark),
        ("icmp", -1, -1, "10.9.0.0/16", mark),
        ("icmpv6", -1, -1, "2600:1f18:bbbb:3400::/56", mark),
    }
    assert ingress(cloud, b, b.tagged_group) == {
        ("tcp", 443, 443, "10.0.0.0/16", mark),
        ("tcp", 443, 443, "100.64.0.0/16", mark),
        ("tcp", 443, 443, "2600:1f18:aaaa:1200::/56", mark),
    }


def test_ipv6_is_left_out_when_only_one_side_has_it(cloud: LocalCloud, autopilot_factory: Any) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16", ipv6=True)
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()

    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()

    assert peering_routes(cloud, b, peering_id) == expected_routes(b, {"10.0.0.0/16"})
    assert {rule[3] for rule in ingress(cloud, b, b.tagged_group)} == {"10.0.0.0/16"}


def test_a_conflicting_route_is_left_alone_and_reported(cloud: LocalCloud, autopilot_factory: Any) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    ec2 = cloud.ec2(HUB, REGION)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=a.side.vpc_id)
    clashing = a.subnet_tables[0]
    ec2.create_route(RouteTableId=clashing, DestinationCidrBlock="10.1.0.0/16", GatewayId=igw)
    autopilot = autopilot_factory()

    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()

    routes = peering_routes(cloud, a, peering_id)
    assert routes[clashing] == set()
    assert all(routes[t] == {"10.1.0.0/16"} for t in a.managed_tables if t != clashing)
    [table] = ec2.describe_route_tables(RouteTableIds=[clashing])["RouteTables"]
    assert {"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": igw} in [
        {k: r[k] for k in ("DestinationCidrBlock", "GatewayId") if k in r} for r in table["Routes"]
    ]
    [event] = configured_events(autopilot)
    requester = next(s for s in event["detail"]["sides"] if s["role"] == "requester")
    held = {"routeTableId": clashing, "destination": "10.1.0.0/16", "existingTarget": igw}
    assert requester["routes"]["conflicts"] == [{**held, "existingDestination": "10.1.0.0/16"}]
    assert event["detail"]["outcome"] == "partially-configured"
    assert peering_routes(cloud, b, peering_id) == expected_routes(b, {"10.0.0.0/16"})
    # ... and the block is held for a person: the status tag and "Peering Held" say where and why
    assert tags_of(cloud, a.side, peering_id)["peering-autopilot:status"] == "held:routed-elsewhere"
    [notice] = [e for e in autopilot.published if e["detail-type"] == "Peering Held"]
    assert notice["detail"]["code"] == "routed-elsewhere"
    place = {"accountId": HUB, "region": REGION, "vpcId": a.side.vpc_id}
    assert notice["detail"]["held"] == [{**place, **held, "existingDestination": "10.1.0.0/16"}]


def test_malformed_allow_entries_are_reported_and_the_valid_ones_apply(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16", allow="icmp, tcp:99999, tcp:abc, ftp, tcp:443")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()

    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()

    mark = DESCRIPTION.format(peering_id)
    assert ingress(cloud, a, a.tagged_group) == {
        ("icmp", -1, -1, "10.1.0.0/16", mark),
        ("tcp", 443, 443, "10.1.0.0/16", mark),
    }
    [event] = configured_events(autopilot)
    requester = next(s for s in event["detail"]["sides"] if s["role"] == "requester")
    assert requester["securityGroups"]["invalidEntries"] == [
        {"groupId": a.tagged_group, "entry": "tcp:99999", "error": "port 99999 is outside 0-65535"},
        {"groupId": a.tagged_group, "entry": "tcp:abc", "error": "'abc' is not a port or a FROM-TO range of ports"},
        {
            "groupId": a.tagged_group,
            "entry": "ftp",
            "error": "unknown protocol: use icmp, all, tcp:PORT[-PORT] or udp:PORT[-PORT]",
        },
    ]


def test_a_side_not_opted_in_is_reported_as_not_managed(cloud: LocalCloud, autopilot_factory: Any) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16", opted_in=False)
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()

    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()

    assert all(routes == set() for routes in peering_routes(cloud, a, peering_id).values())
    assert ingress(cloud, a, a.tagged_group) == set()
    assert peering_routes(cloud, b, peering_id) == expected_routes(b, {"10.0.0.0/16"})
    [event] = configured_events(autopilot)
    requester = next(s for s in event["detail"]["sides"] if s["role"] == "requester")
    assert requester["managed"] is False
    assert requester["notManagedReason"] == (
        f"VPC {a.side.vpc_id} is not opted in (peering-autopilot:enabled is not 'true')"
    )
    assert event["detail"]["outcome"] == "partially-configured"
    # ... and the probe that follows finds the requester side without its routes
    assert tags_of(cloud, b.side, peering_id) == {
        "peering-autopilot:status": "blocked:routes",
        "Name": f"{b.side.vpc_id} <-> {a.side.vpc_id}",
    }


def test_a_side_whose_role_cannot_be_assumed_is_reported_as_not_managed(cloud: LocalCloud) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    create_bus()
    peering_id = request_peering(cloud, a.side, b.side)
    cloud.ec2(MEMBER, REGION).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    base = boto3.Session()

    def deny(request: Any, **_: Any) -> AWSResponse:
        body = (
            b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized</Message></Error></ErrorResponse>"
        )
        return AWSResponse("https://sts.amazonaws.com/", 403, {}, Body(body))  # type: ignore[arg-type]

    base.events.register("before-send.sts.AssumeRole", deny)

    result = configure_peering(
        PeeringHint(peering_id, HUB, REGION),
        context(base_session=base),
    )

    assert result.outcome.value == "partially-configured"
    accepter = next(s for s in result.detail["sides"] if s["role"] == "accepter")
    assert accepter["notManagedReason"] == (
        f"the member role cannot be assumed: cannot assume role arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember "
        f"in account {MEMBER}: AccessDenied: not authorized"
    )
    assert peering_routes(cloud, a, peering_id) == expected_routes(a, {"10.1.0.0/16"})


def test_a_peering_accepted_by_a_person_is_configured(cloud: LocalCloud, autopilot_factory: Any) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    peering_id = request_peering(cloud, a.side, b.side)
    # A person in the accepter account is faster than the autopilot
    cloud.ec2(MEMBER, REGION, record=True).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)

    deliveries = autopilot.run_until_idle()

    assert [(d.function, d.result["status"]) for d in deliveries] == [
        ("AcceptPeeringFunction", "skipped"),
        ("ConfigurePeeringFunction", "configured"),
        ("VerifyPeeringFunction", "verified"),
    ]
    assert deliveries[1].rule == "ConfigurePeeringFunction.AcceptedByPerson"
    assert peering_routes(cloud, b, peering_id) == expected_routes(b, {"10.0.0.0/16"})


def test_dry_run_publishes_the_plan_and_changes_nothing(
    cloud: LocalCloud, autopilot_factory: Any, api_calls: ApiCalls
) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory(DryRun="true")
    peering_id = request_peering(cloud, a.side, b.side)
    api_calls.clear()

    autopilot.run_until_idle()

    assert api_calls.mutating() == []
    assert peering_as_accepter(cloud, b.side, peering_id)["Status"]["Code"] == "pending-acceptance"
    [event] = configured_events(autopilot)
    assert event["detail"]["dryRun"] is True
    accepter = next(s for s in event["detail"]["sides"] if s["role"] == "accepter")
    assert sorted(r["routeTableId"] for r in accepter["routes"]["added"]) == b.managed_tables
    assert accepter["securityGroups"]["added"] == [
        {"groupId": b.tagged_group, "rules": ["icmp from 10.0.0.0/16", "tcp:443 from 10.0.0.0/16"]}
    ]


def test_security_group_rule_quota_is_reported_and_other_groups_still_open(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16", allow="icmp")
    ec2 = cloud.ec2(HUB, REGION)
    full = ec2.create_security_group(GroupName="full", Description="full", VpcId=a.side.vpc_id)["GroupId"]
    ec2.create_tags(Resources=[full], Tags=[{"Key": "peering-autopilot:allow", "Value": "tcp:443"}])
    ec2.authorize_security_group_ingress(
        GroupId=full,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": f"192.168.{i}.0/24"} for i in range(60)],
            }
        ],
    )
    # The budgets count room (Service Quotas answers 100) while EC2 refuses at 60: a refusal they
    # could not foresee (a prefix list's maximum entries, a change between the read and the write).
    cloud.grant_quota(HUB, REGION, "L-0EA8095F", 100.0)
    autopilot = autopilot_factory()

    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()

    assert ("tcp", 443, 443, "10.1.0.0/16", DESCRIPTION.format(peering_id)) in ingress(cloud, a, a.tagged_group)
    [event] = configured_events(autopilot)
    requester = next(s for s in event["detail"]["sides"] if s["role"] == "requester")
    [refused] = requester["securityGroups"]["refused"]
    assert (refused["resourceId"], refused["code"]) == (full, "RulesPerSecurityGroupLimitExceeded")
    assert event["detail"]["outcome"] == "partially-configured"


def test_route_quota_is_reported_and_other_tables_still_get_routes(
    server_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Server mode: the injected refusal stops the request before it reaches the emulator.
    cloud = server_cloud
    create_bus()
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, HUB, REGION, "10.1.0.0/16")
    peering_id = request_peering(cloud, a.side, b.side)
    cloud.ec2(HUB, REGION).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    full_table = a.subnet_tables[0]
    base = boto3.Session()

    def table_full(request: Any, **_: Any) -> AWSResponse | None:
        if f"RouteTableId={full_table}" in (request.body or ""):
            return ec2_error(400, "RouteLimitExceeded", "The maximum number of routes has been reached.")
        return None

    base.events.register("before-send.ec2.CreateRoute", table_full)
    hub_only = settings(approved_account_ids=frozenset())

    result = configure_peering(
        PeeringHint(peering_id, HUB, REGION),
        context(hub_only, base_session=base),
    )

    routes = peering_routes(cloud, a, peering_id)
    assert routes[full_table] == set()
    assert all(routes[t] == {"10.1.0.0/16"} for t in a.managed_tables if t != full_table)
    assert peering_routes(cloud, b, peering_id) == expected_routes(b, {"10.0.0.0/16"})
    requester = next(s for s in result.detail["sides"] if s["role"] == "requester")
    assert requester["routes"]["refused"] == [
        {
            "resourceId": full_table,
            "code": "RouteLimitExceeded",
            "message": "The maximum number of routes has been reached.",
        }
    ]
    assert result.outcome.value == "partially-configured"


def test_the_configure_function_calls_only_what_it_declares(cloud: LocalCloud, api_calls: ApiCalls) -> None:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, OTHER_REGION, "10.1.0.0/16")
    create_bus()
    peering_id = request_peering(cloud, a.side, b.side)
    cloud.ec2(MEMBER, OTHER_REGION).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    api_calls.clear()

    result = configure_peering(PeeringHint(peering_id, MEMBER, OTHER_REGION), context())

    assert result.outcome.value == "configured"
    assert peering_routes(cloud, a, peering_id) == expected_routes(a, {"10.1.0.0/16"})
    declared = {a.split(":", 1)[1] for a in configure.IAM_ACTIONS}
    assert set(api_calls.names) <= declared, set(api_calls.names) - declared


def test_an_outsider_side_is_not_managed(cloud: LocalCloud) -> None:
    create_bus()
    a = build_net(cloud, OUTSIDER, REGION, "10.2.0.0/16")
    b = build_net(cloud, HUB, REGION, "10.1.0.0/16")
    peering_id = request_peering(cloud, a.side, b.side)
    cloud.ec2(HUB, REGION).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)

    result = configure_peering(PeeringHint(peering_id, HUB, REGION), context())

    requester = next(s for s in result.detail["sides"] if s["role"] == "requester")
    assert requester["notManagedReason"] == f"account {OUTSIDER} is not managed by this hub"
    assert peering_routes(cloud, b, peering_id) == expected_routes(b, {"10.2.0.0/16"})
