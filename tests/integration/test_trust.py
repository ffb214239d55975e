"""Forged work: the autopilot's own events (source `peering-autopilot`) count only when the hub's
account put them. A member that puts one naming a managed account and a real peering is refused
three times over: by the hub's bus policy (members may put only AWS's events, as their forwarding
role), by the rule patterns (`account` must be the hub's), and by the Lambda adapter if the event
reaches a function anyway. State is read back from the emulator; no AWS call is made."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from autopilot_local.harness import LocalAutopilot, LocalCloud, LocalFunction
from tests.support.world import (
    HUB,
    MEMBER,
    OUTSIDER,
    REGION,
    ApiCalls,
    Net,
    build_net,
    ingress,
    peering_as_accepter,
    peering_routes,
    request_peering,
    tags_of,
)

STRANGER = "444444444444"  # no member stack, not in the organization


@dataclass
class World:
    """A hub VPC and a member VPC, both opted in, with two peerings between them that nothing has
    told the autopilot about: one pending (accepting it is work), one a person accepted and nobody
    configured (routes and rules are work)."""

    a: Net
    b: Net
    pending: str
    active: str


def build_world(cloud: LocalCloud) -> World:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    ec2_a = cloud.ec2(HUB, REGION)  # not recorded: no CloudTrail event tells the autopilot
    pending, active = (
        ec2_a.create_vpc_peering_connection(VpcId=a.side.vpc_id, PeerVpcId=b.side.vpc_id, PeerOwnerId=MEMBER)[
            "VpcPeeringConnection"
        ]["VpcPeeringConnectionId"]
        for _ in range(2)
    )
    cloud.ec2(MEMBER, REGION).accept_vpc_peering_connection(VpcPeeringConnectionId=active)
    return World(a, b, pending, active)


def state(cloud: LocalCloud, world: World) -> dict[str, Any]:
    """Everything a forged event could make the autopilot change, on both sides."""
    return {
        pcx: {
            "status": peering_as_accepter(cloud, world.b.side, pcx)["Status"]["Code"],
            "tags": (tags_of(cloud, world.a.side, pcx), tags_of(cloud, world.b.side, pcx)),
            "routes": (peering_routes(cloud, world.a, pcx), peering_routes(cloud, world.b, pcx)),
            "rules": (ingress(cloud, world.a, world.a.tagged_group), ingress(cloud, world.b, world.b.tagged_group)),
        }
        for pcx in (world.pending, world.active)
    }


def own_event(detail_type: str, detail: dict[str, Any], account: str = HUB) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "peering-autopilot",
        "account": account,
        "time": "2026-11-27T09:30:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def side(role: str, account: str, vpc_id: str) -> dict[str, Any]:
    return {"role": role, "accountId": account, "region": REGION, "vpcId": vpc_id}


# Each forged event: what it names, the rule that would take it if the hub had put it, and what
# its function does with it then (the active peering has no routes yet: verify says blocked:routes).
Forgery = Callable[[World], dict[str, Any]]
FORGERIES: dict[str, tuple[Forgery, str, str]] = {
    "work accept": (
        lambda w: own_event(
            "Peering Work Found", {"work": "accept", "peeringId": w.pending, "accountId": MEMBER, "region": REGION}
        ),
        "AcceptPeeringFunction.RequestFound",
        "accepted",
    ),
    "work configure": (
        lambda w: own_event(
            "Peering Work Found", {"work": "configure", "peeringId": w.active, "accountId": MEMBER, "region": REGION}
        ),
        "ConfigurePeeringFunction.DriftFound",
        "configured",
    ),
    "work clean-up": (
        lambda w: own_event(
            "Peering Work Found", {"work": "clean-up", "peeringId": w.active, "accountId": MEMBER, "region": REGION}
        ),
        "CleanupPeeringFunction.LeftoversFound",
        "skipped",
    ),
    # Peering groups: a forged plan must neither request nor delete. From the hub, the request
    # finds the pair already peered and the withdrawal a peering no group made: both skipped.
    "work request": (
        lambda w: own_event(
            "Peering Work Found",
            {
                "work": "request",
                "group": "shared-services",
                "requester": {"accountId": HUB, "region": REGION, "vpcId": w.a.side.vpc_id},
                "accepter": {"accountId": MEMBER, "region": REGION, "vpcId": w.b.side.vpc_id},
            },
        ),
        "ConnectPeeringFunction.GroupWorkFound",
        "skipped",
    ),
    "work withdraw": (
        lambda w: own_event(
            "Peering Work Found",
            {"work": "withdraw", "peeringId": w.active, "accountId": HUB, "region": REGION, "group": "shared-services"},
        ),
        "ConnectPeeringFunction.GroupWorkFound",
        "skipped",
    ),
    "accepted": (
        lambda w: own_event(
            "Peering Accepted",
            {
                "peeringId": w.active,
                "outcome": "accepted",
                "requester": side("requester", HUB, w.a.side.vpc_id),
                "accepter": side("accepter", MEMBER, w.b.side.vpc_id),
                "dryRun": False,
            },
        ),
        "ConfigurePeeringFunction.AcceptedByAutopilot",
        "configured",
    ),
    "configured": (
        lambda w: own_event(
            "Peering Configured",
            {
                "peeringId": w.active,
                "sides": [side("requester", HUB, w.a.side.vpc_id), side("accepter", MEMBER, w.b.side.vpc_id)],
                "dryRun": False,
            },
        ),
        "VerifyPeeringFunction.Configured",
        "blocked:routes",
    ),
    "rejected": (
        lambda w: own_event(
            "Peering Rejected",
            {
                "peeringId": w.active,
                "outcome": "rejected",
                "requester": side("requester", HUB, w.a.side.vpc_id),
                "accepter": side("accepter", MEMBER, w.b.side.vpc_id),
                "dryRun": False,
            },
        ),
        "CleanupPeeringFunction.RejectedByAutopilot",
        "skipped",
    ),
}


def function(autopilot: LocalAutopilot, rule: str) -> LocalFunction:
    return next(f for f in autopilot.functions if f.spec.logical_id == rule.split(".")[0])


def metrics_of(fn: LocalFunction) -> list[dict[str, Any]]:
    """The metrics the function printed (CloudWatch embedded metric format), cold start aside."""
    lines = [json.loads(line) for line in fn.log_stream.getvalue().splitlines() if line.startswith("{")]  # type: ignore[attr-defined]
    counted = [{k: v for k, v in line.items() if k[0].isupper()} for line in lines if "_aws" in line]
    return [c for c in counted if "ColdStart" not in c]


def refusal(forged: dict[str, Any]) -> str:
    return (
        f"a 'peering-autopilot' {forged['detail-type']!r} event from account {MEMBER} is refused: "
        f"the autopilot's own events count only from the hub's account {HUB}"
    )


@pytest.mark.parametrize("name", FORGERIES)
def test_a_members_forged_event_is_refused_by_the_bus_and_matches_no_rule(
    cloud: LocalCloud, autopilot_factory: Any, api_calls: ApiCalls, name: str
) -> None:
    # GIVEN work the autopilot would do, and a forged event of the hub's naming it
    world = build_world(cloud)
    autopilot = autopilot_factory()
    forge, rule, _ = FORGERIES[name]
    forged = forge(world)
    assert autopilot.rules_matching(forged) == [rule]  # the hub's own would be taken by that rule
    before = state(cloud, world)
    api_calls.clear()

    # WHEN the approved member puts it on the hub's bus, as its forwarding role and as anyone else
    forwarder = autopilot.forwarding_role_arn(MEMBER)
    anyone = f"arn:aws:iam::{MEMBER}:role/NetworkAdmin"
    matched = [autopilot.put_as(forged, MEMBER, forwarder), autopilot.put_as(forged, MEMBER, anyone)]

    # THEN the bus policy refuses both: members may put only AWS's events, as their forwarding role
    assert matched == [[], []]
    assert [reason for _, reason in autopilot.dropped] == [
        f"the hub's bus policy does not let {principal} put 'peering-autopilot' {forged['detail-type']!r} events"
        for principal in (forwarder, anyone)
    ]
    # ... and had a bus policy let it through, no rule would take it: its envelope names the member
    assert autopilot.rules_matching({**forged, "account": MEMBER}) == []
    assert autopilot.put({**forged, "account": MEMBER}) == []
    assert autopilot.run_until_idle() == []
    assert api_calls.calls == []
    assert state(cloud, world) == before


@pytest.mark.parametrize("name", FORGERIES)
def test_a_forged_event_handed_straight_to_its_function_is_refused_without_an_aws_call(
    cloud: LocalCloud, autopilot_factory: Any, api_calls: ApiCalls, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    # GIVEN a forged event whose envelope names the member (a rule edited by hand, a replay)
    world = build_world(cloud)
    autopilot = autopilot_factory()
    forge, rule, taken = FORGERIES[name]
    forged = forge(world) | {"account": MEMBER}
    fn = function(autopilot, rule)
    before = state(cloud, world)
    api_calls.clear()
    caplog.clear()

    # WHEN the function the hub's own event goes to is handed it
    result = fn.invoke(forged)

    # THEN it is refused as an invalid event, logged and counted as one, nothing is called and
    # nothing changes
    assert result == {"status": "invalid", "error": refusal(forged)}
    assert api_calls.calls == []
    errors = [(r.getMessage(), getattr(r, "error", None)) for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [("invalid event", refusal(forged))]
    assert metrics_of(fn) == [{"InvalidEvents": [1.0]}]
    assert autopilot.run_until_idle() == []  # nothing published
    assert state(cloud, world) == before

    # ... while the same event from the hub's account is the work it names
    assert fn.invoke(forged | {"account": HUB})["status"] == taken
    assert (state(cloud, world) == before) is (taken == "skipped")


@pytest.mark.parametrize(
    ("organization", "account", "role", "source", "admitted"),
    [
        pytest.param("o-exampleorg1", MEMBER, "forwarder", "aws.ec2", True, id="org: member forwards CloudTrail"),
        pytest.param("o-exampleorg1", MEMBER, "forwarder", "aws.tag", True, id="org: member forwards a tag change"),
        pytest.param("o-exampleorg1", OUTSIDER, "forwarder", "aws.ec2", True, id="org: unapproved account forwards"),
        pytest.param("o-exampleorg1", MEMBER, "person", "aws.ec2", False, id="org: a person of a member"),
        pytest.param("o-exampleorg1", MEMBER, "member role", "aws.ec2", False, id="org: the member role"),
        pytest.param("o-exampleorg1", MEMBER, "forwarder", "peering-autopilot", False, id="org: own source"),
        pytest.param("o-exampleorg1", MEMBER, "forwarder", "aws.events", False, id="org: another AWS source"),
        pytest.param("o-exampleorg1", STRANGER, "forwarder", "aws.ec2", False, id="org: account outside it"),
        pytest.param("", MEMBER, "forwarder", "aws.ec2", True, id="accounts: approved member forwards"),
        pytest.param("", MEMBER, "forwarder", "peering-autopilot", False, id="accounts: own source"),
        pytest.param("", MEMBER, "person", "aws.tag", False, id="accounts: a person of a member"),
        pytest.param("", OUTSIDER, "forwarder", "aws.ec2", False, id="accounts: unapproved account"),
    ],
)
def test_the_bus_admits_only_the_members_forwarding_roles_with_aws_events(
    cloud: LocalCloud, autopilot_factory: Any, organization: str, account: str, role: str, source: str, admitted: bool
) -> None:
    autopilot = autopilot_factory(OrganizationId=organization)
    principal = {
        "forwarder": autopilot.forwarding_role_arn(account),
        "person": f"arn:aws:iam::{account}:role/NetworkAdmin",
        "member role": f"arn:aws:iam::{account}:role/PeeringAutopilotMember-reader",
    }[role]
    event = {"source": source, "detail-type": "AWS API Call via CloudTrail", "account": account, "detail": {}}

    refused = autopilot.bus_policy_refusal(event, principal)

    assert (
        refused is None
        if admitted
        else refused
        == (f"the hub's bus policy does not let {principal} put {source!r} 'AWS API Call via CloudTrail' events")
    )


def test_with_approved_accounts_only_the_members_forwarded_request_reaches_the_hub(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN a hub without an Organization: its bus admits the approved accounts' forwarding roles
    autopilot = autopilot_factory(OrganizationId="")
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    c = build_net(cloud, OUTSIDER, REGION, "10.2.0.0/16")

    # WHEN the member and an account that is not approved each request a peering into the hub
    accepted = request_peering(cloud, b.side, a.side)
    refused = request_peering(cloud, c.side, a.side)
    deliveries = autopilot.run_until_idle()

    # THEN the member's request came through its forwarding role and was accepted; the other's
    # never reached the bus
    [accept] = [d for d in deliveries if d.function == "AcceptPeeringFunction"]
    assert (accept.via, accept.result["status"]) == (f"member stack ForwardRule in {MEMBER}", "accepted")
    assert peering_as_accepter(cloud, a.side, accepted)["Status"]["Code"] == "active"
    assert peering_as_accepter(cloud, a.side, refused)["Status"]["Code"] == "pending-acceptance"
    [(event, reason)] = [(e, r) for e, r in autopilot.dropped if e["account"] == OUTSIDER]
    assert event["detail"]["eventName"] == "CreateVpcPeeringConnection"
    assert reason == (
        f"the hub's bus policy does not let {autopilot.forwarding_role_arn(OUTSIDER)} "
        "put 'aws.ec2' 'AWS API Call via CloudTrail' events"
    )
