"""The accept function end to end in moto: CloudTrail event → forwarding rule → hub bus → rule in
template.yaml → handler → state in EC2, the status tag and the published decision."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autopilot_local.harness import LocalAutopilot, LocalCloud
from tests.support.world import (
    HUB,
    MEMBER,
    OTHER_REGION,
    OUTSIDER,
    REGION,
    make_vpc,
    peering_as_accepter,
    request_peering,
    tags_of,
)

PLACEMENTS = [
    pytest.param((HUB, REGION), (HUB, REGION), id="within account"),
    pytest.param((HUB, REGION), (MEMBER, REGION), id="across accounts"),
    pytest.param((MEMBER, REGION), (HUB, REGION), id="from a member into the hub"),
    pytest.param((HUB, REGION), (HUB, OTHER_REGION), id="across regions"),
    pytest.param((HUB, REGION), (MEMBER, OTHER_REGION), id="across accounts and regions"),
]


ACCEPT_DECISIONS = ("Peering Accepted", "Peering Declined", "Peering Rejected")


def decisions(autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    """What the accept function published (the configure step publishes too, after an accept)."""
    return [e for e in autopilot.published if e["detail-type"] in ACCEPT_DECISIONS]


def accept_deliveries(autopilot: LocalAutopilot) -> list[Any]:
    return [d for d in autopilot.run_until_idle() if d.function == "AcceptPeeringFunction"]


@pytest.mark.parametrize(("requester_at", "accepter_at"), PLACEMENTS)
def test_approved_request_into_opted_in_vpc_is_accepted(
    cloud: LocalCloud, autopilot_factory: Any, requester_at: tuple[str, str], accepter_at: tuple[str, str]
) -> None:
    # GIVEN the seed's two VPCs, the accepter opted in (the requester need not be)
    vpc_a = make_vpc(cloud, *requester_at, "10.0.0.0/16", opted_in=False)
    vpc_b = make_vpc(cloud, *accepter_at, "10.1.0.0/16")
    autopilot = autopilot_factory()

    # WHEN a person requests the peering and the automation runs
    peering_id = request_peering(cloud, vpc_a, vpc_b)
    deliveries = autopilot.run_until_idle()

    # THEN it is accepted in the accepter's account and region, and says so everywhere; the
    # configure step follows it (and finds the requester side not opted in), then the probe
    # (which finds no subnet to probe from in these bare VPCs)
    assert [(d.function, d.result["status"]) for d in deliveries] == [
        ("AcceptPeeringFunction", "accepted"),
        ("ConfigurePeeringFunction", "partially-configured"),
        ("VerifyPeeringFunction", "unverified:no-endpoint"),
    ]
    assert deliveries[1].via == f"published on {autopilot.bus_name}"
    assert peering_as_accepter(cloud, vpc_b, peering_id)["Status"]["Code"] == "active"
    assert tags_of(cloud, vpc_b, peering_id) == {
        "peering-autopilot:status": "unverified:no-endpoint",
        "Name": f"{vpc_b.vpc_id} <-> {vpc_a.vpc_id}",
    }
    [event] = decisions(autopilot)
    assert event["detail-type"] == "Peering Accepted"
    assert event["detail"]["peeringId"] == peering_id
    assert event["detail"]["requester"]["vpcId"] == vpc_a.vpc_id
    assert event["detail"]["accepter"] == {
        "accountId": vpc_b.account,
        "region": vpc_b.region,
        "vpcId": vpc_b.vpc_id,
        "cidrs": ["10.1.0.0/16"],
    }
    assert event["resources"] == [f"arn:aws:ec2:{vpc_b.region}:{vpc_b.account}:vpc-peering-connection/{peering_id}"]


def test_request_from_unapproved_account_is_left_pending_and_explained(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    vpc_c = make_vpc(cloud, OUTSIDER, REGION, "10.2.0.0/16")
    vpc_b = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()

    peering_id = request_peering(cloud, vpc_c, vpc_b)
    [delivery] = accept_deliveries(autopilot)

    assert delivery.result["status"] == "declined"
    assert peering_as_accepter(cloud, vpc_b, peering_id)["Status"]["Code"] == "pending-acceptance"
    assert tags_of(cloud, vpc_b, peering_id) == {"peering-autopilot:status": "declined:requester-not-approved"}
    [event] = decisions(autopilot)
    assert event["detail-type"] == "Peering Declined"
    assert event["detail"]["reasonCodes"] == ["requester-not-approved"]
    assert f"requester account {OUTSIDER} is not in ApprovedAccountIds" in event["detail"]["reason"]


def test_request_into_opted_out_vpc_is_declined(cloud: LocalCloud, autopilot_factory: Any) -> None:
    vpc_a = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    vpc_d = make_vpc(cloud, MEMBER, REGION, "10.3.0.0/16", opted_in=False, tags={"peering-autopilot:enabled": "yes"})
    autopilot = autopilot_factory()

    peering_id = request_peering(cloud, vpc_a, vpc_d)
    [delivery] = accept_deliveries(autopilot)

    assert delivery.result["reasonCode"] == "accepter-not-opted-in"
    assert peering_as_accepter(cloud, vpc_d, peering_id)["Status"]["Code"] == "pending-acceptance"
    [event] = decisions(autopilot)
    assert event["detail"]["reason"] == (
        f"accepter VPC {vpc_d.vpc_id} tag peering-autopilot:enabled is 'yes', not 'true'"
    )


# The accepter in a member account (its accepter role rejects) or in the hub's (the function's own role).
@pytest.mark.parametrize("accepter_account", [MEMBER, HUB], ids=["in-a-member", "in-the-hub"])
def test_reject_mode_rejects_what_it_declines(cloud: LocalCloud, autopilot_factory: Any, accepter_account: str) -> None:
    vpc_c = make_vpc(cloud, OUTSIDER, REGION, "10.2.0.0/16")
    vpc_b = make_vpc(cloud, accepter_account, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory(UnapprovedRequestAction="reject")

    peering_id = request_peering(cloud, vpc_c, vpc_b)
    [delivery] = accept_deliveries(autopilot)

    assert delivery.result["status"] == "rejected"
    assert peering_as_accepter(cloud, vpc_b, peering_id)["Status"]["Code"] == "rejected"
    assert tags_of(cloud, vpc_b, peering_id) == {"peering-autopilot:status": "rejected:requester-not-approved"}
    assert [e["detail-type"] for e in decisions(autopilot)] == ["Peering Rejected"]


@pytest.mark.parametrize(
    ("requester_extra", "accepter_extra", "code"),
    [
        pytest.param(
            {"secondary": ("10.1.128.0/17",)}, {}, "ipv4-overlap", id="requester secondary overlaps accepter primary"
        ),
        pytest.param(
            {}, {"secondary": ("10.0.64.0/18",)}, "ipv4-overlap", id="accepter secondary overlaps requester primary"
        ),
        pytest.param(
            {"secondary": ("172.16.0.0/16",)},
            {"secondary": ("172.16.8.0/24",)},
            "ipv4-overlap",
            id="secondaries overlap",
        ),
    ],
)
def test_overlapping_secondary_blocks_are_declined(
    cloud: LocalCloud,
    autopilot_factory: Any,
    requester_extra: dict[str, Any],
    accepter_extra: dict[str, Any],
    code: str,
) -> None:
    vpc_a = make_vpc(cloud, HUB, REGION, "10.0.0.0/16", **requester_extra)
    vpc_b = make_vpc(cloud, MEMBER, OTHER_REGION, "10.1.0.0/16", **accepter_extra)
    autopilot = autopilot_factory()

    peering_id = request_peering(cloud, vpc_a, vpc_b)
    [delivery] = accept_deliveries(autopilot)

    assert delivery.result["reasonCode"] == code
    assert peering_as_accepter(cloud, vpc_b, peering_id)["Status"]["Code"] == "pending-acceptance"


def test_dry_run_publishes_the_plan_and_changes_nothing(cloud: LocalCloud, autopilot_factory: Any) -> None:
    vpc_a = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    vpc_b = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory(DryRun="true")

    peering_id = request_peering(cloud, vpc_a, vpc_b)
    [delivery] = accept_deliveries(autopilot)

    assert delivery.result == {
        "status": "accepted",
        "peeringId": peering_id,
        "reasonCode": "approved",
        "reason": delivery.result["reason"],
        "dryRun": True,
    }
    assert peering_as_accepter(cloud, vpc_b, peering_id)["Status"]["Code"] == "pending-acceptance"
    assert tags_of(cloud, vpc_b, peering_id) == {}
    [event] = decisions(autopilot)
    assert event["detail"]["dryRun"] is True


def test_duplicate_delivery_changes_nothing_more(cloud: LocalCloud, autopilot_factory: Any) -> None:
    vpc_a = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    vpc_b = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()
    request_peering(cloud, vpc_a, vpc_b)
    cloud_event = json.loads(json.dumps(cloud.trail[0]))
    autopilot.run_until_idle()

    autopilot.put(cloud_event)
    [again] = autopilot.run_until_idle()  # nothing accepted this time: nothing to configure either

    assert again.result["status"] == "skipped"
    assert again.result["reasonCode"] == "not-pending"
    assert len(decisions(autopilot)) == 1


def test_events_from_accounts_without_member_stack_never_reach_the_hub(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    stranger = "444444444444"
    vpc_x = make_vpc(cloud, stranger, REGION, "10.9.0.0/16")
    vpc_b = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")
    autopilot = autopilot_factory()

    request_peering(cloud, vpc_x, vpc_b)

    assert autopilot.run_until_idle() == []
    assert [reason for _, reason in autopilot.dropped] == [
        f"account {stranger} has no member stack forwarding its events"
    ]


@pytest.mark.parametrize(
    ("requester_v6", "accepter_v6", "outcome"),
    [
        pytest.param("2600:1f18:abcd:1200::/56", "2600:1f18:abcd:1200::/56", "declined", id="same IPv6 block"),
        pytest.param("2600:1f18:abcd::/48", "2600:1f18:abcd:1200::/56", "declined", id="IPv6 block inside the other"),
        pytest.param("2600:1f18:abcd:1200::/56", "2600:1f18:abcd:3400::/56", "accepted", id="disjoint IPv6 blocks"),
    ],
)
def test_ipv6_blocks_are_checked_for_overlap(
    cloud: LocalCloud,
    autopilot_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    requester_v6: str,
    accepter_v6: str,
    outcome: str,
) -> None:
    # GIVEN VPCs with Amazon-provided IPv6 blocks of our choosing (moto draws them at random)
    import moto.ec2.models.vpcs as moto_vpcs

    blocks = iter([requester_v6, accepter_v6])
    monkeypatch.setattr(moto_vpcs, "random_ipv6_cidr", lambda: next(blocks))
    vpc_a = make_vpc(cloud, HUB, REGION, "10.0.0.0/16", ipv6=True)
    vpc_b = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16", ipv6=True)
    autopilot = autopilot_factory()

    peering_id = request_peering(cloud, vpc_a, vpc_b)
    [delivery] = accept_deliveries(autopilot)

    assert delivery.result["status"] == outcome
    if outcome == "declined":
        assert delivery.result["reasonCode"] == "ipv6-overlap"
        [event] = decisions(autopilot)
        assert event["detail"]["overlaps"] == [[requester_v6, accepter_v6]]
        assert peering_as_accepter(cloud, vpc_b, peering_id)["Status"]["Code"] == "pending-acceptance"
    else:
        assert peering_as_accepter(cloud, vpc_b, peering_id)["Status"]["Code"] == "active"
