"""The network team's policy, deployed in its SSM parameter (PolicyParameterName), read by every
function through the harness: rules in order with each outcome, the freeze window, each owner's
ranges, and a document that cannot be used stopping every step before anything changes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autopilot_local.harness import LocalAutopilot, LocalCloud
from autopilot_local.template import SCHEDULE
from peering_autopilot import cli
from tests.support.governance import POLICY_PARAMETER, deploy_policy
from tests.support.world import (
    HUB,
    MEMBER,
    REGION,
    build_net,
    make_vpc,
    peering_as_accepter,
    peering_routes,
    request_peering,
    tags_of,
)

PARAMETER = POLICY_PARAMETER
PROJECT = Path(__file__).resolve().parents[2]
STATUS_TAG = "peering-autopilot:status"


def with_policy(autopilot_factory: Any, **overrides: str) -> LocalAutopilot:
    autopilot: LocalAutopilot = autopilot_factory(PolicyParameterName=PARAMETER, **overrides)
    return autopilot


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def steps(deliveries: list[Any]) -> list[tuple[str, str]]:
    return [(d.function, d.result["status"]) for d in deliveries]


@pytest.mark.parametrize(
    ("stored", "fault"),
    [
        pytest.param(
            '{"version": 1, "rules": [',
            f"the policy parameter {PARAMETER} version 1 cannot be used, so nothing was done: not JSON: "
            "Expecting value at line 1 column 26",
            id="bad JSON",
        ),
        pytest.param(
            {"version": 1, "rules": [{"name": "a", "outcome": "accept", "colour": "blue"}]},
            f"the policy parameter {PARAMETER} version 1 cannot be used, so nothing was done: rules[0] 'a': "
            "unknown field(s) ['colour'] (allowed: accepter, approvers, description, name, outcome, requester, "
            "same_account_tags, same_vpc_tags, window)",
            id="unknown field",
        ),
        pytest.param(
            {"version": 1, "ranges": [{"accounts": [MEMBER], "cidrs": ["10.0.0.1/8"]}]},
            f"the policy parameter {PARAMETER} version 1 cannot be used, so nothing was done: ranges[0]: "
            "field 'cidrs': not CIDR blocks (network/prefix, host bits zero): ['10.0.0.1/8']",
            id="bad CIDR",
        ),
        pytest.param(
            None,
            f"the policy parameter {PARAMETER} cannot be used, so nothing was done: there is no such parameter "
            "in the hub's account and region",
            id="no such parameter",
        ),
    ],
)
def test_a_policy_that_cannot_be_used_stops_the_step_saying_why_and_nothing_changes(
    cloud: LocalCloud, autopilot_factory: Any, stored: str | dict[str, Any] | None, fault: str
) -> None:
    # GIVEN a document that does not validate (or none at all) in the named parameter
    if stored is not None:
        deploy_policy(cloud, stored)
    a = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    b = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = with_policy(autopilot_factory, UnapprovedRequestAction="reject")

    # WHEN a request comes in
    peering_id = request_peering(cloud, a, b)
    deliveries = autopilot.run_until_idle()

    # THEN the accept step cannot act, says why naming the rule and field, and nothing is accepted,
    # rejected or tagged on a guess; nothing comes after it
    assert steps(deliveries) == [("AcceptPeeringFunction", "error")]
    assert deliveries[0].result["error"].startswith(fault)
    assert peering_as_accepter(cloud, b, peering_id)["Status"]["Code"] == "pending-acceptance"
    assert tags_of(cloud, b, peering_id) == {}
    assert autopilot.published == []
    # ... and counts it for PolicyUnavailableAlarm (the metric, in CloudWatch's embedded format)
    [accept] = [f for f in autopilot.functions if f.spec.logical_id == "AcceptPeeringFunction"]
    assert '"PolicyUnavailable":[1.0]' in accept.log_stream.getvalue()

    # and the sweep, too, acts on nothing: it reports the fault instead
    sweep = sweep_alone(autopilot)
    assert sweep["status"] == "error"
    assert sweep["error"].startswith(fault)
    assert peering_as_accepter(cloud, b, peering_id)["Status"]["Code"] == "pending-acceptance"


def test_rules_apply_in_order_first_match_decides_each_outcome(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN rules: dev VPCs are refused, partner VPCs need a person, the rest is accepted
    deploy_policy(
        cloud,
        {
            "version": 1,
            "defaults": {"outcome": "reject"},
            "rules": [
                {"name": "no-dev", "requester": {"vpc_tags": {"env": "dev"}}, "outcome": "reject"},
                {"name": "partners-ask", "accepter": {"vpc_tags": {"zone": "partner"}}, "outcome": "ask"},
                {"name": "the-rest", "outcome": "accept"},
            ],
        },
    )
    dev = make_vpc(cloud, HUB, REGION, "10.0.0.0/16", tags={"env": "dev", "zone": "partner"})
    prod = make_vpc(cloud, HUB, REGION, "10.2.0.0/16", tags={"env": "prod"})
    partner = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16", tags={"zone": "partner"})
    plain = make_vpc(cloud, MEMBER, REGION, "10.3.0.0/16")
    autopilot = with_policy(autopilot_factory, UnapprovedRequestAction="reject")

    # WHEN three requests come in
    rejected = request_peering(cloud, dev, partner)  # no-dev matches first, though partners-ask would too
    asked = request_peering(cloud, prod, partner)
    accepted = request_peering(cloud, prod, plain)
    autopilot.run_until_idle()

    # THEN each has its rule's outcome
    assert peering_as_accepter(cloud, partner, rejected)["Status"]["Code"] == "rejected"
    assert tags_of(cloud, partner, rejected)[STATUS_TAG] == "rejected:policy-rejected"
    assert peering_as_accepter(cloud, partner, asked)["Status"]["Code"] == "pending-acceptance"
    assert tags_of(cloud, partner, asked)[STATUS_TAG] == "awaiting-approval:partners-ask"  # a person is asked
    assert peering_as_accepter(cloud, plain, accepted)["Status"]["Code"] == "active"
    declined = [e for e in autopilot.published if e["detail"].get("peeringId") == rejected]
    assert "rule 'no-dev' matches: reject" in json.dumps(declined)


@pytest.mark.parametrize(
    ("window", "state", "status"),
    [
        pytest.param((-3600, 3600), "rejected", "rejected:policy-rejected", id="in the freeze"),
        pytest.param((-7200, -3600), "active", None, id="after the freeze: the next rule"),
    ],
)
def test_the_freeze_window_rejects_inside_it_and_the_next_rule_applies_outside(
    cloud: LocalCloud, autopilot_factory: Any, window: tuple[int, int], state: str, status: str | None
) -> None:
    now = time.time()
    deploy_policy(
        cloud,
        {
            "version": 1,
            "rules": [
                {
                    "name": "freeze",
                    "window": {"start": iso(now + window[0]), "end": iso(now + window[1])},
                    "outcome": "reject",
                },
                {"name": "everyone", "outcome": "accept"},
            ],
        },
    )
    a = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    b = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = with_policy(autopilot_factory, UnapprovedRequestAction="reject")

    peering_id = request_peering(cloud, a, b)
    autopilot.run_until_idle()

    assert peering_as_accepter(cloud, b, peering_id)["Status"]["Code"] == state
    if status is not None:
        assert tags_of(cloud, b, peering_id)[STATUS_TAG] == status


def test_a_block_outside_its_owners_ranges_is_never_accepted_nor_routed(
    cloud: LocalCloud, autopilot_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the member may bring only 10.64.0.0/16, and its VPC is 10.1.0.0/16
    deploy_policy(
        cloud,
        {
            "version": 1,
            "rules": [{"name": "everyone", "outcome": "accept"}],
            "ranges": [{"accounts": [MEMBER], "cidrs": ["10.64.0.0/16"]}],
        },
    )
    hub = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    member = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = with_policy(autopilot_factory)

    # WHEN the member requests a peering into the hub's VPC
    declined = request_peering(cloud, member, hub.side)
    autopilot.run_until_idle()

    # THEN it is not accepted, and the status says why
    assert peering_as_accepter(cloud, hub.side, declined)["Status"]["Code"] == "pending-acceptance"
    assert tags_of(cloud, hub.side, declined)[STATUS_TAG] == "declined:peer-cidr-not-allowed"

    # and WHEN a person accepts it by hand, nothing routes to the block outside the member's
    # ranges: configure says so, and the verification reports the block refused
    cloud.ec2(HUB, REGION, record=True).accept_vpc_peering_connection(VpcPeeringConnectionId=declined)
    deliveries = autopilot.run_until_idle()
    assert steps(deliveries) == [
        ("ConfigurePeeringFunction", "partially-configured"),
        ("VerifyPeeringFunction", "unverified:no-endpoint"),
    ]
    outside = "10.1.0.0/16 (outside the policy's ranges[0] (10.64.0.0/16; any IPv6))"
    assert (
        deliveries[0].result["summary"].endswith(f"0 route(s) and 0 rule(s) added, peer blocks not routed: {outside}")
    )
    assert (
        f"refused {hub.side.vpc_id} -> 10.1.0.0/16: outside the policy's ranges[0] (10.64.0.0/16; any IPv6)"
        in deliveries[1].result["report"]
    )
    assert all(routes == set() for routes in peering_routes(cloud, hub, declined).values())

    # and the status command, judging with the deployed policy as the hub does, says so too
    capsys.readouterr()
    argv = ["status", "--accounts", f"{HUB},{MEMBER}", "--regions", REGION, "--json"]
    assert cli.main([*argv, "--policy-parameter-name", PARAMETER]) == 0
    [row] = json.loads(capsys.readouterr().out)["peerings"]
    assert (row["peeringId"], row["accepter"]["missing"]) == (declined, "1 peer block refused")


def test_every_function_reads_the_deployed_policy(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN an accept-everything document: what the parameters' policy does, from the parameter
    deploy_policy(
        cloud,
        {
            "version": 1,
            "rules": [{"name": "everyone", "outcome": "accept"}],
            "groups": {"g": {"accounts": [HUB, MEMBER]}},
        },
    )
    a = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    b = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = with_policy(autopilot_factory)

    # WHEN a request is accepted, configured and verified, the VPCs join a group, the peering is
    # deleted and the sweep runs
    peering_id = request_peering(cloud, a, b)
    first = autopilot.run_until_idle()
    c = make_vpc(cloud, MEMBER, REGION, "10.5.0.0/16")
    cloud.tag_vpc(HUB, REGION, a.vpc_id, {"peering-autopilot:group": "g"})
    cloud.tag_vpc(MEMBER, REGION, c.vpc_id, {"peering-autopilot:group": "g"})
    later = autopilot.run_until_idle()
    cloud.ec2(HUB, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    last = autopilot.run_until_idle()
    sweep = sweep_alone(autopilot)

    # THEN each step ran with it (its role may read that parameter: the harness refuses what IAM would)
    assert steps(first)[0] == ("AcceptPeeringFunction", "accepted")
    functions = {d.function for d in first + later + last}
    assert {"AcceptPeeringFunction", "ConfigurePeeringFunction", "VerifyPeeringFunction"} <= functions
    assert "ConnectPeeringFunction" in functions
    assert "CleanupPeeringFunction" in functions
    assert not [d for d in first + later + last if d.result.get("status") == "error"]
    assert sweep.get("status") != "error"
    called = {(c.function, c.action) for c in autopilot.grants.calls}
    for function in (
        "AcceptPeeringFunction",
        "ConfigurePeeringFunction",
        "VerifyPeeringFunction",
        "CleanupPeeringFunction",
        "ConnectPeeringFunction",
        "SweepFunction",
    ):
        assert (function, "ssm:GetParameter") in called, function


def sweep_alone(autopilot: LocalAutopilot) -> dict[str, Any]:
    """The schedule fires the sweep, and nothing else is delivered."""
    event = json.loads((PROJECT / "events" / "sweep" / "scheduled.json").read_text())
    [sweep] = [f for f in autopilot.functions if any(rule.bus == SCHEDULE for rule in f.spec.rules)]
    result: dict[str, Any] = sweep.invoke(event)
    return result
