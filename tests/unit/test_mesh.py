"""The peering groups' planner, pure: pairs, who requests, what is skipped, what is withdrawn."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peering_autopilot.decision import find_overlaps
from peering_autopilot.mesh import NOT_IN_RECORD, GroupPlan, parse_groups, plan_groups, vpc_key
from peering_autopilot.model import LIVE_STATES, Cidrs, Peering, PeeringSide, RouteTable, Vpc
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


# ---------------------------------------------------------------- one plan sees itself (issue 21)
X = vpc("111111111111", "vpc-0000000x", "10.0.0.0/16")
Y = vpc("222222222222", "vpc-0000000y", "10.1.0.0/16")
Z = vpc("222222222222", "vpc-0000000z", "10.1.128.0/17")


def table(*routes: dict[str, str], table_id: str = "rtb-1") -> RouteTable:
    return RouteTable.from_api({"RouteTableId": table_id, "Routes": list(routes)})


def outcome(result: GroupPlan) -> tuple[list[tuple[str, str]], dict[tuple[str, str], str]]:
    requests = [(r.requester.vpc_id, r.accepter.vpc_id) for r in result.requests]
    skipped = {(s.pair.requester.rsplit("/")[-1], s.pair.accepter.rsplit("/")[-1]): s.code for s in result.skipped}
    return requests, skipped


@pytest.mark.parametrize("z_cidr", ["10.1.0.0/16", "10.1.128.0/17"])
def test_two_requests_of_one_plan_to_overlapping_peers_are_both_skipped_and_say_why(z_cidr: str) -> None:
    z = vpc("222222222222", "vpc-0000000z", z_cidr)
    result = plan([X, Y, z])
    assert outcome(result) == (
        [],
        {
            ("vpc-0000000x", "vpc-0000000y"): "conflict-in-plan",
            ("vpc-0000000x", "vpc-0000000z"): "conflict-in-plan",
            ("vpc-0000000y", "vpc-0000000z"): "overlap",
        },
    )
    reasons = {s.pair.accepter: s.reason for s in result.skipped if s.code == "conflict-in-plan"}
    assert reasons[vpc_key(Y)] == (
        f"vpc-0000000x would also be peered in this plan with {vpc_key(z)}, whose {z_cidr} overlaps 10.1.0.0/16 "
        "of vpc-0000000y: vpc-0000000x's tables would send one's range to the other, so neither request is "
        "made; untag one of them"
    )
    assert f"with {vpc_key(Y)}, whose 10.1.0.0/16 overlaps {z_cidr} of vpc-0000000z" in reasons[vpc_key(z)]


def test_a_conflict_leaves_the_other_requests_of_the_plan_alone() -> None:
    w = vpc("111111111111", "vpc-0000000w", "10.3.0.0/16", "g,h")
    only_h = vpc("333333333333", "vpc-00000009", "10.9.0.0/16", "h")
    requests, skipped = outcome(plan([X, Y, Z, w, only_h]))
    # w and x are each in conflict (both peer y and z); w-x and w-9 are free
    assert sorted(requests) == [("vpc-0000000w", "vpc-00000009"), ("vpc-0000000w", "vpc-0000000x")]
    assert {pair for pair, code in skipped.items() if code == "conflict-in-plan"} == {
        ("vpc-0000000w", "vpc-0000000y"),
        ("vpc-0000000w", "vpc-0000000z"),
        ("vpc-0000000x", "vpc-0000000y"),
        ("vpc-0000000x", "vpc-0000000z"),
    }


def test_peers_overlapping_only_in_ipv6_conflict_too_and_each_vpcs_view_says_so() -> None:
    x = Vpc(X.vpc_id, X.account_id, X.region, Cidrs.of(["10.0.0.0/16", "2600:1f18:1::/56"]), X.tags)
    y = Vpc(Y.vpc_id, Y.account_id, Y.region, Cidrs.of(["10.1.0.0/16", "2600:1f18:2::/56"]), Y.tags)
    z = Vpc(Z.vpc_id, Z.account_id, Z.region, Cidrs.of(["10.2.0.0/16", "2600:1f18:2:80::/57"]), Z.tags)
    result = plan([x, y, z])
    assert outcome(result)[0] == []
    for one in (x, y, z):
        codes = {s.code for s in result.involving(one.vpc_id).skipped}
        assert codes == ({"conflict-in-plan"} if one is x else {"conflict-in-plan", "overlap"})
    [xy] = [s for s in result.skipped if s.pair.accepter == vpc_key(y)]
    assert f"whose 2600:1f18:2:80::/57 overlaps 2600:1f18:2::/56 of {y.vpc_id}" in xy.reason


@pytest.mark.parametrize("status", ["pending-acceptance", "active"])
def test_a_peer_overlapping_an_older_live_peering_of_the_common_vpc_is_skipped_whatever_the_routes(
    status: str,
) -> None:
    older = peering("pcx-0000000000000000a", X, Y, status)  # x-y came first; no route read at all
    requests, skipped = outcome(plan([X, Y, Z], [older]))
    assert requests == [] and skipped == {
        ("vpc-0000000x", "vpc-0000000z"): "routed-elsewhere",
        ("vpc-0000000y", "vpc-0000000z"): "overlap",
    }
    [xz] = [s for s in plan([X, Y, Z], [older]).skipped if s.code == "routed-elsewhere"]
    assert xz.reason == (
        f"vpc-0000000x already has pcx-0000000000000000a ({status}) with vpc-0000000y, whose 10.1.0.0/16 "
        "overlaps vpc-0000000z's 10.1.128.0/17: the older peering keeps that range, a new one could carry "
        "nothing back"
    )


@pytest.mark.parametrize(
    ("route", "target"),
    [
        ({"DestinationCidrBlock": "10.0.0.0/8", "TransitGatewayId": "tgw-1"}, "tgw-1"),
        ({"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "vgw-1"}, "vgw-1"),
        ({"DestinationCidrBlock": "10.1.2.0/24", "NatGatewayId": "nat-1"}, "nat-1"),
        ({"DestinationCidrBlock": "10.1.2.0/24", "InstanceId": "i-1"}, "i-1"),
        (
            {"DestinationCidrBlock": "10.1.0.0/16", "TransitGatewayId": "tgw-1", "State": "blackhole"},
            "tgw-1 (blackhole)",
        ),
    ],
)
def test_any_live_route_covering_the_peers_block_skips_the_pair(route: dict[str, str], target: str) -> None:
    [skipped] = plan([A, B], routes={A.vpc_id: [table(route)]}).skipped
    assert skipped.code == "routed-elsewhere"
    assert skipped.reason == (
        f"vpc-0000000a already routes {route['DestinationCidrBlock']} (vpc-0000000b's) to {target} in rtb-1: "
        "a new peering could carry nothing back"
    )


def test_a_default_route_claims_nothing() -> None:
    routes = {A.vpc_id: [table({"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": "tgw-1"})]}
    assert [r.accepter.vpc_id for r in plan([A, B], routes=routes).requests] == [B.vpc_id]


# The property: any small estate, read in any order, plans the same; and never two requests from one
# VPC to overlapping peers, nor one to a peer overlapping an older live peering's peer.
BLOCKS = ["10.0.0.0/16", "10.1.0.0/16", "10.1.128.0/17", "10.1.2.0/24", "10.2.0.0/16", "10.3.0.0/16"]


@st.composite
def estates(draw: st.DrawFn) -> tuple[list[Vpc], list[Peering], dict[str, list[RouteTable]], int]:
    count = draw(st.integers(2, 6))
    vpcs = [
        vpc(
            draw(st.sampled_from(["111111111111", "222222222222"])),
            f"vpc-{i:08x}",
            draw(st.sampled_from(BLOCKS)),
            draw(st.sampled_from(["g", "h", "g,h", "g; h", None])),
            draw(st.sampled_from(["true", "true", "true", "no"])),
        )
        for i in range(count)
    ]
    pairs = list(itertools.combinations(range(count), 2))
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=3, unique=True))
    views = []
    for n, (a, b) in enumerate(chosen):
        status = draw(st.sampled_from(["active", "pending-acceptance", "rejected", "deleted"]))
        one = peering(f"pcx-{n:017x}", vpcs[a], vpcs[b], status)
        views += [one] * draw(st.integers(1, 2))  # each account's view of the peering
    tables = {
        v.vpc_id: [table({"DestinationCidrBlock": block, "TransitGatewayId": "tgw-1"})]
        for v in vpcs
        if (block := draw(st.sampled_from([None, None, None, "10.2.0.0/16", "10.9.0.0/16"])))
    }
    return vpcs, views, tables, draw(st.integers(1, 4))


def facts(result: GroupPlan) -> tuple[list[Any], list[Any]]:
    return [r.describe() for r in result.requests], [s.describe() for s in result.skipped]


def overlap(a: Cidrs, b: Cidrs) -> bool:
    return bool(find_overlaps(a.ipv4, b.ipv4) or find_overlaps(a.ipv6, b.ipv6))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estate=estates(), data=st.data())
def test_one_plan_sees_itself_whatever_order_it_read_the_places_in(estate: Any, data: st.DataObject) -> None:
    vpcs, views, tables, quota = estate
    result = plan_groups(vpcs, views, tables, POLICY, quota, 10)
    # the same requests and skips for any order of the VPCs and of the peerings' views
    again = plan_groups(data.draw(st.permutations(vpcs)), data.draw(st.permutations(views)), tables, POLICY, quota, 10)
    assert facts(again) == facts(result)

    peers: dict[str, list[Vpc]] = {}
    for r in result.requests:
        peers.setdefault(r.requester.vpc_id, []).append(r.accepter)
        peers.setdefault(r.accepter.vpc_id, []).append(r.requester)
    for one_vpc, its_peers in peers.items():
        # never two requests from one VPC to peers that overlap each other ...
        assert not any(overlap(p.cidrs, q.cidrs) for p, q in itertools.combinations(its_peers, 2)), one_vpc
        # ... nor one to a peer overlapping a peer the VPC already has a live peering with
        older = [
            side
            for p in views
            if p.status in LIVE_STATES and one_vpc in (p.requester.vpc_id, p.accepter.vpc_id)
            for side in (p.requester, p.accepter)
            if side.vpc_id != one_vpc
        ]
        assert not any(overlap(peer.cidrs, old.cidrs) for peer in its_peers for old in older), one_vpc
