"""A peer the hub does not manage (a partner, a SaaS provider): the hub's side is configured on the
first event the hub sees of the accept, verification runs from the hub's side and ends with a
verdict on its status tag, and the sweep finds nothing more to send."""

from __future__ import annotations

from typing import Any

from autopilot_local.harness import Delivery, LocalAutopilot, LocalCloud
from tests.support.world import (
    HUB,
    OUTSIDER,
    REGION,
    build_net,
    expected_routes,
    ingress,
    peering_routes,
    request_peering,
    tags_of,
)

STATUS = "peering-autopilot:status"
PARTNER = "444444444444"  # outside the organization: no member stack, its events never reach the hub


def statuses(deliveries: list[Delivery]) -> list[tuple[str, str, str]]:
    return [(d.function, d.rule.split(".")[-1], d.result["status"]) for d in deliveries]


def test_a_partners_accept_forwarded_from_its_account_configures_the_hubs_side_and_is_verified(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN a hub VPC and a partner's VPC in an account of the organization the hub does not manage
    # (its member stack forwards its CloudTrail events; it is not approved)
    autopilot: LocalAutopilot = autopilot_factory()
    hub = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    partner = build_net(cloud, OUTSIDER, REGION, "10.7.0.0/16")
    # ... and the hub's VPC asking to peer with it: the accept function leaves it to the partner
    peering_id = request_peering(cloud, hub.side, partner.side)
    assert statuses(autopilot.run_until_idle()) == [("AcceptPeeringFunction", "PeeringRequested", "skipped")]

    # WHEN the partner accepts, in its own account: the hub sees that accept, forwarded
    cloud.ec2(OUTSIDER, REGION, record=True).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    deliveries = autopilot.run_until_idle()

    # THEN the hub's side is configured at once, read from the hub's side, and verification runs
    # there and ends with a verdict: the partner's side cannot be read
    assert statuses(deliveries) == [
        ("ConfigurePeeringFunction", "AcceptedByPerson", "partially-configured"),
        ("VerifyPeeringFunction", "Configured", "unverified:side-not-readable"),
    ]
    assert deliveries[0].event["account"] == OUTSIDER
    assert peering_routes(cloud, hub, peering_id) == expected_routes(hub, {"10.7.0.0/16"})
    assert ingress(cloud, hub, hub.tagged_group) == {
        ("icmp", -1, -1, "10.7.0.0/16", f"peering-autopilot {peering_id}"),
        ("tcp", 443, 443, "10.7.0.0/16", f"peering-autopilot {peering_id}"),
    }
    # the partner's VPC cannot be read: its id stands for its Name
    assert tags_of(cloud, hub.side, peering_id) == {
        STATUS: "unverified:side-not-readable",
        "Name": f"{hub.side.vpc_id} <-> {partner.side.vpc_id}",
    }
    [verdict] = [e["detail"] for e in autopilot.published if e["detail-type"] == "Peering Verification Failed"]
    assert verdict["unreadableSides"] == [
        f"accepter {partner.side.vpc_id} ({OUTSIDER}): account {OUTSIDER} is not managed by this hub"
    ]
    # ... nothing of the partner's is touched
    assert peering_routes(cloud, partner, peering_id) == expected_routes(partner, set())
    assert ingress(cloud, partner, partner.tagged_group) == set()

    # WHEN the sweep runs, THEN it finds nothing more to do for it
    swept = autopilot.tick()
    assert statuses(swept) == [("SweepFunction", "Schedule", "sweep")]
    assert swept[0].result["work"] == {}
    assert [d.calls.mutating() for d in swept] == [[]]


def test_a_peering_a_partner_accepted_out_of_sight_is_configured_by_the_sweep_and_verified(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the hub's VPC asking to peer with a partner outside the organization, who accepts: the
    # hub never sees that accept (no member stack there forwards it)
    autopilot: LocalAutopilot = autopilot_factory()
    hub = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    partner = build_net(cloud, PARTNER, REGION, "10.8.0.0/16")
    peering_id = request_peering(cloud, hub.side, partner.side)
    autopilot.run_until_idle()
    cloud.ec2(PARTNER, REGION, record=True).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert autopilot.run_until_idle() == []
    assert [why for _, why in autopilot.dropped] == [f"account {PARTNER} has no member stack forwarding its events"]

    # WHEN the sweep runs
    deliveries = autopilot.tick()

    # THEN it finds the hub's side to configure, which is configured and then verified from it
    assert statuses(deliveries) == [
        ("SweepFunction", "Schedule", "sweep"),
        ("ConfigurePeeringFunction", "DriftFound", "partially-configured"),
        ("VerifyPeeringFunction", "Configured", "unverified:side-not-readable"),
    ]
    assert peering_routes(cloud, hub, peering_id) == expected_routes(hub, {"10.8.0.0/16"})
    # the partner's VPC cannot be read: its id stands for its Name
    assert tags_of(cloud, hub.side, peering_id) == {
        STATUS: "unverified:side-not-readable",
        "Name": f"{hub.side.vpc_id} <-> {partner.side.vpc_id}",
    }

    # WHEN the sweep runs again, THEN it sends no more work for it
    again = autopilot.tick()
    assert statuses(again) == [("SweepFunction", "Schedule", "sweep")]
    assert [d.calls.mutating() for d in again] == [[]]
