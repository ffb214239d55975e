"""One bad place does not stop the estate: each account and region is swept on its own. A place
AWS refuses (an SCP, a region not enabled), or throttles past botocore's retries, is reported (the
sweep's result, a log line, the SweepPlacesFailed metric) while the other places' work is still
published and done; and a slow place does not hold back the others' work. Faults are injected on
the wire (tests/support/faults.py); state is read back from the emulator."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from autopilot_local.harness import Delivery, LocalAutopilot, LocalCloud
from autopilot_local.world import ENABLED, Network, build_network
from tests.support.domain import ec2_error
from tests.support.faults import Request, install_fault, record_backoff
from tests.support.observed import metrics_emitted
from tests.support.world import HUB, MEMBER, OTHER_REGION, OUTSIDER, REGION, Side, request_peering, tags_of

STATUS = "peering-autopilot:status"
SCP_DENY = (
    f"You are not authorized to perform this operation. User: arn:aws:sts::{MEMBER}:assumed-role/"
    "PeeringAutopilotMember/peering-autopilot is not authorized to perform: ec2:DescribeVpcs with an explicit "
    "deny in a service control policy"
)


def peered_by_hand(cloud: LocalCloud, b_account: str) -> tuple[Network, Network, str]:
    """VPC-A in the hub and VPC-B in `b_account`, us-east-1, opted in, each with a subnet, a table,
    an instance and an allow=icmp group; a peering requested and accepted by people, whose events
    never reached the hub: only a sweep can find the work."""
    a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
    b = build_network(cloud, Network("VPC-B", b_account, REGION, "10.1.0.0/16", tags=dict(ENABLED)))
    peering_id = request_peering(cloud, side(a), side(b))
    cloud.ec2(b_account, REGION, record=True).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    cloud.trail.clear()  # every event lost
    return a, b, peering_id


def side(net: Network) -> Side:
    return Side(net.account, net.region, net.vpc_id)


def routes_via(cloud: LocalCloud, net: Network, peering_id: str) -> list[tuple[str, str]]:
    ec2 = cloud.ec2(net.account, net.region)
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["RouteTables"]
    return sorted(
        (
            "main" if any(a.get("Main") for a in t.get("Associations", [])) else t["RouteTableId"],
            r["DestinationCidrBlock"],
        )
        for t in tables
        for r in t["Routes"]
        if r.get("VpcPeeringConnectionId") == peering_id
    )


def outcomes(deliveries: list[Delivery]) -> list[tuple[str, str]]:
    return [(d.function, d.result["status"]) for d in deliveries]


def sweep_metrics(autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    """The sweep's metrics, per sweep invocation (the ones that count WorkFound)."""
    return [
        {k: v for k, v in metrics.items() if k in ("WorkFound", "SweepPlacesFailed")}
        for metrics in metrics_emitted(autopilot)
        if "WorkFound" in metrics
    ]


def errors_logged(caplog: pytest.LogCaptureFixture, message: str) -> list[str]:
    """The `error` field of the functions' error lines with this message."""
    return [
        str(getattr(r, "error", "")) for r in caplog.records if r.levelname == "ERROR" and r.getMessage() == message
    ]


def problem(account: str, region: str, error: str, code: str, message: str) -> dict[str, str]:
    return {"accountId": account, "region": region, "error": error, "code": code, "message": message}


def denied_in(account: str, status: int, code: str, message: str) -> Callable[[Request], AWSResponse | None]:
    return lambda request: ec2_error(status, code, message) if request.account_id == account else None


def denied_in_region(region: str, status: int, code: str, message: str) -> Callable[[Request], AWSResponse | None]:
    return lambda request: ec2_error(status, code, message) if request.region == region else None


OPT_IN = "You are not subscribed to this service. Please go to http://aws.amazon.com to subscribe."
AUTH = "AWS was not able to validate the provided access credentials"


@pytest.mark.parametrize(
    ("b_account", "fault", "failed"),
    [
        pytest.param(
            HUB,  # the peering is the hub's alone: the member account has nothing to do with it
            denied_in(MEMBER, 403, "UnauthorizedOperation", SCP_DENY),
            [
                problem(
                    MEMBER,
                    region,
                    "AccessDeniedError",
                    "UnauthorizedOperation",
                    f"ec2 DescribeVpcs failed in account {MEMBER} region {region}: UnauthorizedOperation: {SCP_DENY}",
                )
                for region in (REGION, OTHER_REGION)
            ],
            id="an SCP denies EC2 in the member account",
        ),
        pytest.param(
            MEMBER,
            denied_in_region(OTHER_REGION, 401, "OptInRequired", OPT_IN),
            [
                problem(
                    account,
                    OTHER_REGION,
                    "AccessDeniedError",
                    "OptInRequired",
                    f"ec2 DescribeVpcs failed in account {account} region {OTHER_REGION}: OptInRequired: {OPT_IN}",
                )
                for account in (HUB, MEMBER)
            ],
            id="a region not enabled: OptInRequired",
        ),
        pytest.param(
            MEMBER,
            denied_in_region(OTHER_REGION, 401, "AuthFailure", AUTH),
            [
                problem(
                    account,
                    OTHER_REGION,
                    "AccessDeniedError",
                    "AuthFailure",
                    f"ec2 DescribeVpcs failed in account {account} region {OTHER_REGION}: AuthFailure: {AUTH}",
                )
                for account in (HUB, MEMBER)
            ],
            id="a region not enabled: AuthFailure",
        ),
    ],
)
def test_a_place_aws_refuses_is_reported_and_the_other_places_work_is_done(
    cloud: LocalCloud,
    autopilot_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    b_account: str,
    fault: Callable[[Request], AWSResponse | None],
    failed: list[dict[str, str]],
) -> None:
    # GIVEN a peering in us-east-1 that only a sweep can find, and AWS refusing the autopilot
    # everything in one account (an SCP) or one region (not enabled for the accounts)
    autopilot: LocalAutopilot = autopilot_factory()
    a, b, peering_id = peered_by_hand(cloud, b_account)
    wire = install_fault(monkeypatch, cloud, fault)

    # WHEN the sweep runs
    deliveries = autopilot.tick()

    # THEN the places refused are reported, each with its account, region, error and code ...
    assert deliveries[0].result == {"status": "sweep", "places": 2, "work": {"configure": 1}, "problems": failed}
    assert wire.answered_by_fault  # the refusal was on the wire, not a shortcut
    # ... the work the other places found was published and done: configured, then verified
    assert outcomes(deliveries) == [
        ("SweepFunction", "sweep"),
        ("ConfigurePeeringFunction", "configured"),
        ("VerifyPeeringFunction", "verified"),
    ]
    assert routes_via(cloud, a, peering_id) == sorted([("main", b.cidr), (a.route_table_id, b.cidr)])
    assert routes_via(cloud, b, peering_id) == sorted([("main", a.cidr), (b.route_table_id, a.cidr)])
    assert tags_of(cloud, side(a), peering_id) == {STATUS: "verified", "Name": "VPC-A <-> VPC-B"}
    # ... one error line names each place, and the metric counts them
    assert errors_logged(caplog, "cannot act here") == [
        f"{p['accountId']}/{p['region']} not swept: {p['message']}" for p in failed
    ]
    assert sweep_metrics(autopilot) == [{"WorkFound": [1.0], "SweepPlacesFailed": [2.0]}]


def test_throttling_that_outlasts_the_retries_in_one_place_is_reported_and_the_rest_is_done(
    cloud: LocalCloud, autopilot_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a cross-account peering in us-east-1 that only a sweep can find, and EC2 throttling
    # every request of the member account in us-west-2
    autopilot: LocalAutopilot = autopilot_factory()
    a, b, peering_id = peered_by_hand(cloud, MEMBER)
    waits = record_backoff(monkeypatch)
    throttle = "Request limit exceeded."

    def throttled(request: Request) -> AWSResponse | None:
        if (request.account_id, request.region) == (MEMBER, OTHER_REGION):
            return ec2_error(503, "RequestLimitExceeded", throttle)
        return None

    wire = install_fault(monkeypatch, cloud, throttled)

    # WHEN the sweep runs
    deliveries = autopilot.tick()

    # THEN botocore sent that place's first read 9 times (BOTO_CONFIG's max_attempts=8 counts the
    # retries), backing off before each retry, then gave up ...
    assert [(r.operation, r.account_id, r.region) for r in wire.answered_by_fault] == [
        ("DescribeVpcs", MEMBER, OTHER_REGION)
    ] * 9
    assert len(waits) == 8
    # ... the place is reported, and the others' work was published and done
    assert deliveries[0].result == {
        "status": "sweep",
        "places": 3,
        "work": {"configure": 1},
        "problems": [
            problem(
                MEMBER,
                OTHER_REGION,
                "ThrottledError",
                "RequestLimitExceeded",
                f"ec2 DescribeVpcs failed in account {MEMBER} region {OTHER_REGION}: RequestLimitExceeded: {throttle}",
            )
        ],
    }
    assert outcomes(deliveries) == [
        ("SweepFunction", "sweep"),
        ("ConfigurePeeringFunction", "configured"),
        ("VerifyPeeringFunction", "verified"),
    ]
    assert routes_via(cloud, b, peering_id) == sorted([("main", a.cidr), (b.route_table_id, a.cidr)])
    assert tags_of(cloud, side(b), peering_id) == {STATUS: "verified", "Name": "VPC-B <-> VPC-A"}
    assert sweep_metrics(autopilot) == [{"WorkFound": [1.0], "SweepPlacesFailed": [1.0]}]


def test_a_slow_place_does_not_hold_back_the_publication_of_the_others_work(
    cloud: LocalCloud, autopilot_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a peering in the hub's us-east-1 that only a sweep can find, and the member account's
    # us-west-2 answering its first read only once the work has been published (or, if it never
    # is, after GIVE_UP seconds): the slow place's delay is the test's to end, not a real sleep
    give_up = 5.0
    autopilot: LocalAutopilot = autopilot_factory()
    a, b, peering_id = peered_by_hand(cloud, HUB)
    published = threading.Event()
    timeline: list[str] = []

    def slow_member_region(request: Request) -> AWSResponse | None:
        if request.service == "eventbridge" and request.operation == "PutEvents":
            timeline.append("work published")
            published.set()
        elif (request.account_id, request.region) == (MEMBER, OTHER_REGION) and request.operation == "DescribeVpcs":
            released = published.wait(timeout=give_up)
            timeline.append("slow place answered" if released else f"slow place gave up waiting after {give_up}s")
        return None

    install_fault(monkeypatch, cloud, slow_member_region, services=("ec2", "eventbridge"))

    # WHEN the sweep runs
    deliveries = autopilot.tick()

    # THEN the work was published while the slow place was still reading, and nothing was lost
    assert timeline[:2] == ["work published", "slow place answered"]
    assert deliveries[0].result == {"status": "sweep", "places": 4, "work": {"configure": 1}, "problems": []}
    assert outcomes(deliveries) == [
        ("SweepFunction", "sweep"),
        ("ConfigurePeeringFunction", "configured"),
        ("VerifyPeeringFunction", "verified"),
    ]
    assert routes_via(cloud, a, peering_id) == sorted([("main", b.cidr), (a.route_table_id, b.cidr)])


@pytest.mark.parametrize(
    "tags", [{"peering-autopilot:group": "shared-services"}, {"peering-autopilot:enabled": "true"}]
)
def test_a_tag_change_where_the_hub_does_not_manage_costs_no_call_and_raises_no_alarm(
    cloud: LocalCloud, autopilot_factory: Any, tags: dict[str, str]
) -> None:
    # GIVEN a hub that does not manage OUTSIDER (a member stack forwards its events all the same)
    autopilot: LocalAutopilot = autopilot_factory()
    outsider = cloud.ec2(OUTSIDER, REGION).create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]

    # WHEN someone there tags a VPC into a group, or opts it in
    cloud.tag_vpc(OUTSIDER, REGION, outsider, tags)
    deliveries = autopilot.run_until_idle()

    # THEN the sweep reads nothing, in no account, finds no fault, and nothing follows
    [sweep] = deliveries
    assert sweep.function == "SweepFunction"
    assert sweep.result == {"status": "not-managed", "places": 0, "work": {}, "problems": []}
    assert [call for call in sweep.calls.calls if call[0] == "ec2"] == []
