"""The peering groups' planner, pure: pairs, who requests, what is skipped, what is withdrawn."""

from __future__ import annotations

from typing import Any

import pytest

from peering_autopilot.mesh import NOT_IN_RECORD, parse_groups, plan_groups
from peering_autopilot.model import Cidrs, Peering, PeeringSide, RouteTable, Vpc
from peering_autopilot.settings import DEFAULT_PEER_CIDRS, PeerCidrPolicy

POLICY = PeerCidrPolicy.parse(DEFAULT_PEER_CIDRS)


def vpc(account: str, vpc_id: str, cidr: str, group: str | None = "g", enabled: str = "true") -> Vpc:
    tags = {"peering-autopilot:enabled": enabled}
    if group is not None:
        tags["peering-autopilot:group"] = group
    return Vpc(vpc_id, account, "us-east-1", Cidrs.of([cidr]), tags)


def peering(pid: str, a: Vpc, b: Vpc, status: str = "active", **tags: str) -> Peering:
    side = lambda v: PeeringSide(v.account_id, v.region, v.vpc_id, v.cidrs)  # noqa: E731
    return Peering(pid, status, "", side(a), side(b), tags)


A = vpc("111111111111", "vpc-0000000a", "10.0.0.0/16")
B = vpc("222222222222", "vpc-0000000b", "10.1.0.0/16")
C = vpc("111111111111", "vpc-0000000c", "10.2.0.0/16")


def plan(vpcs: list[Vpc], peerings: list[Peering] = (), routes: dict[str, Any] | None = None, quota: int = 50) -> Any:  # type: ignore[assignment]
    return plan_groups(vpcs, list(peerings), routes or {}, POLICY, quota, 10)


@pytest.mark.parametrize(
    ("text", "names", "bad"),
    [
        ("prod", {"prod"}, []),
        (" prod, shared,, ", {"prod", "shared"}, []),
        ("prod; shared", set(), ["prod; shared"]),
        ("", set(), []),
    ],
)
def test_a_group_tag_is_comma_separated_names(text: str, names: set[str], bad: list[str]) -> None:
    parsed, invalid = parse_groups(text)
    assert (set(parsed), invalid) == (names, bad)


def test_every_pair_sharing_a_group_is_requested_once_by_the_vpc_that_sorts_first() -> None:
    result = plan([B, A, C])
    assert [(r.requester.vpc_id, r.accepter.vpc_id, r.group) for r in result.requests] == [
        ("vpc-0000000a", "vpc-0000000c", "g"),  # 111.../vpc-a < 111.../vpc-c < 222.../vpc-b
        ("vpc-0000000a", "vpc-0000000b", "g"),
        ("vpc-0000000c", "vpc-0000000b", "g"),
    ]


@pytest.mark.parametrize("status", ["initiating-request", "pending-acceptance", "provisioning", "active"])
def test_a_pair_with_a_live_peering_either_way_gets_no_second(status: str) -> None:
    result = plan([A, B], [peering("pcx-000000001", B, A, status)])  # requested the other way, by a person
    assert result.requests == [] and result.skipped == []


def test_a_rejected_request_between_them_is_skipped_not_retried() -> None:
    [skipped] = plan([A, B], [peering("pcx-000000001", A, B, "rejected")]).skipped
    assert (skipped.code, skipped.reason) == (
        "refused",
        "pcx-000000001 between them is rejected: delete it to let the group try again",
    )


def test_a_vpc_not_opted_in_is_no_member_whatever_its_group_tag() -> None:
    assert plan([A, vpc("222222222222", "vpc-0000000b", "10.1.0.0/16", enabled="yes")]).requests == []


def test_a_route_to_the_peers_block_through_another_peering_skips_the_pair() -> None:
    tables = {
        A.vpc_id: [
            RouteTable.from_api(
                {
                    "RouteTableId": "rtb-1",
                    "Routes": [{"DestinationCidrBlock": "10.1.0.0/20", "VpcPeeringConnectionId": "pcx-old"}],
                }
            )
        ]
    }
    [skipped] = plan([A, B], routes=tables).skipped
    assert skipped.code == "routed-elsewhere"
    assert "vpc-0000000a already routes 10.1.0.0/20 (vpc-0000000b's) to pcx-old in rtb-1" in skipped.reason


def test_the_autopilots_group_peering_is_withdrawn_when_its_vpcs_share_no_group_and_a_persons_never() -> None:
    a, b = (
        vpc("111111111111", "vpc-0000000a", "10.0.0.0/16", "x"),
        vpc("222222222222", "vpc-0000000b", "10.1.0.0/16", "y"),
    )
    own = peering("pcx-000000001", a, b, **{"peering-autopilot:created-for-group": "g"})
    persons = peering("pcx-000000002", a, b)
    [withdrawal] = plan([a, b], [own, persons]).withdrawals
    assert withdrawal.peering.peering_id == "pcx-000000001" and withdrawal.group == "g"


def test_a_candidate_withdrawal_kept_back_leaves_the_plan_and_says_why_in_every_view() -> None:
    a, b = (
        vpc("111111111111", "vpc-0000000a", "10.0.0.0/16", "x"),
        vpc("222222222222", "vpc-0000000b", "10.1.0.0/16", "y"),
    )
    tagged = peering("pcx-000000001", a, b, **{"peering-autopilot:created-for-group": "g"})
    result = plan([a, b], [tagged])
    result.keep("pcx-000000001", "not-recorded", NOT_IN_RECORD)
    result.keep("pcx-000000009", "not-recorded", "no such candidate: nothing happens")
    assert result.withdrawals == []
    kept = {"peeringId": "pcx-000000001", "group": "g", "code": "not-recorded", "reason": NOT_IN_RECORD}
    assert result.describe()["kept"] == [kept] and result.describe()["withdrawals"] == []
    assert result.involving("vpc-0000000b").describe()["kept"] == [kept]
    assert result.involving("vpc-0000000c").describe()["kept"] == []


def test_an_unreadable_group_tag_withdraws_nothing() -> None:
    a = vpc("111111111111", "vpc-0000000a", "10.0.0.0/16", "g; h")
    own = peering("pcx-000000001", a, B, **{"peering-autopilot:created-for-group": "g"})
    result = plan([a, B], [own])
    assert result.withdrawals == [] and result.requests == []
    assert result.unclear == [
        "111111111111/us-east-1/vpc-0000000a: peering-autopilot:group holds 'g; h', not group names"
    ]


def test_a_side_not_read_withdraws_nothing() -> None:
    own = peering(
        "pcx-000000001",
        A,
        vpc("333333333333", "vpc-0000000d", "10.3.0.0/16", None),
        **{"peering-autopilot:created-for-group": "g"},
    )
    assert plan([A], [own]).withdrawals == []


def test_a_tag_change_plans_only_what_concerns_its_vpc() -> None:
    result = plan([A, B, C]).involving(B.vpc_id)
    assert sorted((r.requester.vpc_id, r.accepter.vpc_id) for r in result.requests) == [
        ("vpc-0000000a", "vpc-0000000b"),
        ("vpc-0000000c", "vpc-0000000b"),
    ]
