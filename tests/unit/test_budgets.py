"""The budgets (issue 21, rule 4), pure: counting as AWS counts, the headroom, the caps, the AWS
defaults against the applied quotas, and what the judge of a side makes of them. The stories
through the harness (moto) are tests/integration/test_budgets.py."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from peering_autopilot import budgets
from peering_autopilot.aws.service_quotas import QuotaReaders, ServiceQuotasGateway
from peering_autopilot.budgets import RULES_QUOTA, Limits, headroom_limit, routes_in_use, rules_in_use
from peering_autopilot.errors import SettingsError
from peering_autopilot.model import Cidrs, Peering, PeeringSide, QuotaRead, RouteTable, SecurityGroup, Vpc
from peering_autopilot.settings import BudgetLimits, PeerCidrPolicy, budget_limits
from peering_autopilot.side_plan import SideFacts, plan_side

ROUTES = budgets.ROUTES_QUOTA.code
RULES = RULES_QUOTA.code
POLICY = PeerCidrPolicy.parse("10.0.0.0/8")
NOW = 1_800_000_000.0
PID = "pcx-0000000000000000a"


def table(table_id: str, v4: int = 0, v6: int = 0, propagated: int = 0, prefix_lists: int = 0) -> RouteTable:
    """The main table with its local route, `v4` - 1 more IPv4 routes (the local one counts), `v6`
    IPv6 routes, `propagated` routes from a virtual private gateway and prefix-list routes."""
    routes: list[dict[str, Any]] = [
        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable"}
    ]
    routes += [
        {"DestinationCidrBlock": f"172.20.{i}.0/24", "GatewayId": "igw-1", "Origin": "CreateRoute"}
        for i in range(v4 - 1)
    ]
    routes += [
        {"DestinationIpv6CidrBlock": f"2600:1f18:{i:x}::/48", "GatewayId": "igw-1", "Origin": "CreateRoute"}
        for i in range(v6)
    ]
    routes += [
        {"DestinationCidrBlock": f"192.168.{i}.0/24", "GatewayId": "vgw-1", "Origin": "EnableVgwRoutePropagation"}
        for i in range(propagated)
    ]
    routes += [{"DestinationPrefixListId": f"pl-{i}", "GatewayId": "vpce-1"} for i in range(prefix_lists)]
    return RouteTable.from_api(
        {"RouteTableId": table_id, "VpcId": "vpc-a", "Associations": [{"Main": True}], "Routes": routes}
    )


def group(
    group_id: str = "sg-app", allow: str = "icmp", v4: int = 0, v6: int = 0, refs: int = 0, lists: int = 0
) -> SecurityGroup:
    return SecurityGroup.from_api(
        {
            "GroupId": group_id,
            "VpcId": "vpc-a",
            "Tags": [{"Key": "peering-autopilot:allow", "Value": allow}] if allow else [],
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": f"192.168.{i}.0/24"} for i in range(v4)],
                    "Ipv6Ranges": [{"CidrIpv6": f"2600:1f18:{i:x}::/48"} for i in range(v6)],
                    "UserIdGroupPairs": [{"GroupId": f"sg-{i}"} for i in range(refs)],
                    "PrefixListIds": [{"PrefixListId": f"pl-{i}"} for i in range(lists)],
                }
            ],
        }
    )


def facts(
    tables: list[RouteTable], groups: list[SecurityGroup] = (), peer: tuple[str, ...] = ("10.1.0.0/16",)
) -> SideFacts:  # type: ignore[assignment]
    own = PeeringSide("111111111111", "us-east-1", "vpc-a", Cidrs.of(["10.0.0.0/16"]))
    other = PeeringSide("999999999999", "us-east-1", "vpc-b", Cidrs.of(list(peer)))
    peering = Peering(PID, "active", "", own, other, {"Name": "named"})
    vpc = Vpc("vpc-a", own.account_id, own.region, own.cidrs, {"peering-autopilot:enabled": "true"})
    return SideFacts("requester", peering, vpc, tables, tuple(groups))


class Reads:
    """A quota reader that counts what it is asked."""

    def __init__(self, answers: dict[str, QuotaRead]) -> None:
        self.answers, self.asked = answers, []  # type: ignore[var-annotated]

    def __call__(self, code: str) -> QuotaRead:
        self.asked.append(code)
        return self.answers.get(code, QuotaRead(None, "not granted"))


# ---------------------------------------------------------------------- the headroom
@pytest.mark.parametrize(
    ("quota", "percent", "limit"),
    [(50, 10, 45), (60, 10, 54), (50, 15, 42), (51, 10, 45), (50, 0, 50), (1000, 10, 900), (50, 50, 25)],
)
def test_the_headroom_is_rounded_up_to_a_whole_route_or_rule(quota: int, percent: int, limit: int) -> None:
    assert headroom_limit(quota, percent) == limit


# ---------------------------------------------------------------------- counting as AWS counts
def test_routes_count_every_route_not_propagated_ipv4_and_ipv6_apart() -> None:
    counted = routes_in_use(table("rtb-1", v4=10, v6=3, propagated=7))
    assert counted == {4: 10, 6: 3}  # the local route counts, the 7 propagated ones do not


def test_a_prefix_list_route_counts_in_both_families() -> None:
    assert routes_in_use(table("rtb-1", v4=1, prefix_lists=2)) == {4: 3, 6: 2}


def test_rules_count_each_range_ipv4_and_ipv6_apart_and_references_in_both() -> None:
    assert rules_in_use(group(v4=5, v6=2)) == {4: 5, 6: 2}
    assert rules_in_use(group(v4=1, refs=2, lists=1)) == {4: 4, 6: 3}


# ---------------------------------------------------------------------- the judge of the budgets
def test_a_table_at_the_limit_is_held_and_names_the_numbers() -> None:
    budget = budgets.judge([table("rtb-1", v4=45)], [("rtb-1", 4)], [], {}, {}, [], "vpc-b")
    [hold] = budget.holds
    assert (hold.resource_id, hold.family, hold.in_use, hold.to_add, hold.quota, hold.limit) == (
        "rtb-1",
        "IPv4",
        45,
        1,
        50,
        45,
    )
    assert hold.source == "the AWS default"
    assert budget.to_read == {ROUTES}  # the default is passed: its applied value is worth a read
    assert hold.words() == (
        "rtb-1: 45 IPv4 routes in use + 1 to add would pass 45 (quota 50, the AWS default, less 10% headroom)"
    )


def test_one_below_the_limit_is_not_held_and_nothing_is_read() -> None:
    budget = budgets.judge([table("rtb-1", v4=44)], [("rtb-1", 4)], [], {}, {}, [], "vpc-b")
    assert budget == budgets.NOT_HELD


def test_ipv4_and_ipv6_are_counted_apart_against_the_same_quota() -> None:
    # 45 IPv4 routes: an IPv6 route still has room, an IPv4 one does not
    full_v4 = table("rtb-1", v4=45)
    assert budgets.judge([full_v4], [("rtb-1", 6)], [], {}, {}, [], "vpc-b").holds == ()
    [hold] = budgets.judge([full_v4], [("rtb-1", 4), ("rtb-1", 6)], [], {}, {}, [], "vpc-b").holds
    assert hold.family == "IPv4"
    # and rules alike: 54 IPv4 ranges leave room for IPv6 rules only
    sg = group(v4=54)
    assert budgets.judge([], [], [sg], {"sg-app": [6]}, {"sg-app": [6]}, [], "vpc-b").holds == ()
    [hold] = budgets.judge([], [], [sg], {"sg-app": [4]}, {"sg-app": [4]}, [], "vpc-b").holds
    assert (hold.kind, hold.quota, hold.limit) == ("rules", 60, 54)


def test_an_applied_quota_read_lets_it_through_and_a_lower_or_missing_one_is_the_default() -> None:
    tables, adding = [table("rtb-1", v4=45)], [("rtb-1", 4)]
    raised = {ROUTES: QuotaRead(100, "applied, read from Service Quotas")}
    assert budgets.judge(tables, adding, [], {}, {}, [], "vpc-b", quotas=raised).holds == ()
    # a value below the default is not believed: an applied quota is never below it
    lower = {ROUTES: QuotaRead(20, "applied, read from Service Quotas")}
    [hold] = budgets.judge(tables, adding, [], {}, {}, [], "vpc-b", quotas=lower).holds
    assert (hold.quota, hold.limit) == (50, 45)
    # not readable: the default, and the words say why
    unread = {ROUTES: QuotaRead(None, "Service Quotas not readable here (AccessDenied)")}
    budget = budgets.judge(tables, adding, [], {}, {}, [], "vpc-b", quotas=unread)
    [hold] = budget.holds
    assert hold.source == "the AWS default: Service Quotas not readable here (AccessDenied)"
    assert budget.to_read == frozenset()  # read once: not again


def test_more_peer_blocks_than_the_cap_hold_everything_per_family() -> None:
    import ipaddress

    blocks = [ipaddress.ip_network(f"10.{i}.0.0/16") for i in range(1, 4)]
    limits = Limits(10, 2, 12)
    budget = budgets.judge([table("rtb-1")], [("rtb-1", 4)] * 3, [], {}, {}, blocks, "vpc-b", limits)
    [hold] = budget.holds
    assert budget.everything and (hold.resource_id, hold.cap, hold.to_add, hold.limit) == (
        "vpc-b",
        "MaxPeerBlocks",
        3,
        2,
    )
    assert hold.words() == "vpc-b: 3 IPv4 peer blocks over MaxPeerBlocks 2"
    # at the cap: nothing held
    assert budgets.judge([table("rtb-1")], [], [], {}, {}, blocks[:2], "vpc-b", limits).holds == ()


def test_a_peering_over_the_rules_cap_in_a_group_is_held_there_present_rules_counted() -> None:
    limits = Limits(10, 5, 4)
    # 3 present + 2 to add = 5 rules of this peering in the group: over 4
    [hold] = budgets.judge([], [], [group()], {"sg-app": [4, 4]}, {"sg-app": [4] * 5}, [], "vpc-b", limits).holds
    assert (hold.cap, hold.in_use, hold.to_add, hold.limit) == ("MaxRulesPerPeeringPerGroup", 3, 2, 4)
    assert budgets.judge([], [], [group()], {"sg-app": [4]}, {"sg-app": [4] * 4}, [], "vpc-b", limits).holds == ()


# ---------------------------------------------------------------------- the judge of a side
def test_the_judge_reads_a_quota_only_where_the_default_would_be_passed_and_once() -> None:
    reads = Reads({})
    roomy = facts([table("rtb-1", v4=10)])
    assert plan_side(roomy, POLICY, NOW, read_quota=reads).budget.holds == ()
    assert reads.asked == []  # the normal case: no read
    full = facts([table("rtb-1", v4=45), table("rtb-2", v4=48)])
    plan = plan_side(full, POLICY, NOW, read_quota=reads)
    assert reads.asked == [ROUTES]  # once for both tables
    assert plan.held_code == "quota"
    assert plan.route_additions == [] and not plan.has_work  # held: not work for the sweep
    assert plan.summary().startswith("2 changes held (quota): rtb-1: 45 IPv4 routes in use + 1 to add")
    assert "the AWS default: not granted" in plan.summary()
    # ... held, not missing: the hold says it (held_budgets), and verify reads held:quota
    assert ("rtb-1", "10.1.0.0/16") not in plan.missing_routes()
    assert any(line.startswith("rtb-1: 45 IPv4 routes in use") for line in plan.held_budgets())
    assert plan.side_finding == "held:quota"


def test_a_granted_quota_makes_the_addition_work_again() -> None:
    reads = Reads({ROUTES: QuotaRead(200, "applied, read from Service Quotas")})
    plan = plan_side(facts([table("rtb-1", v4=45)]), POLICY, NOW, read_quota=reads)
    assert plan.budget.holds == () and plan.has_work and plan.held_code is None
    assert [r.route_table_id for r in plan.route_additions] == ["rtb-1"]


def test_only_the_held_table_waits_the_others_are_work() -> None:
    plan = plan_side(facts([table("rtb-1", v4=45), table("rtb-2", v4=3)]), POLICY, NOW)
    assert [r.route_table_id for r in plan.route_additions] == ["rtb-2"]
    assert plan.has_work and plan.held_code == "quota"


def test_over_max_peer_blocks_nothing_is_added_on_the_side() -> None:
    peer = tuple(f"10.{i}.0.0/16" for i in range(1, 7))  # 6 blocks: over the default 5
    plan = plan_side(facts([table("rtb-1")], [group(allow="icmp")], peer), POLICY, NOW)
    assert plan.route_additions == [] and plan.rule_additions == {} and not plan.has_work
    assert plan.held_code == "quota"
    assert "vpc-b: 6 IPv4 peer blocks over MaxPeerBlocks 5" in plan.summary()


# ---------------------------------------------------------------------- the settings
def test_the_budget_parameters_default_and_are_validated_naming_the_parameter() -> None:
    assert budget_limits({}) == BudgetLimits(10, 5, 12)
    assert budget_limits({"QUOTA_HEADROOM_PERCENT": "0", "MAX_PEER_BLOCKS": "50"}) == BudgetLimits(0, 50, 12)
    for name, value, parameter in [
        ("QUOTA_HEADROOM_PERCENT", "51", "QuotaHeadroomPercent"),
        ("MAX_PEER_BLOCKS", "0", "MaxPeerBlocks"),
        ("MAX_RULES_PER_PEERING_PER_GROUP", "ten", "MaxRulesPerPeeringPerGroup"),
    ]:
        with pytest.raises(SettingsError, match=f"{name} \\(parameter {parameter}\\)"):
            budget_limits({name: value})


# ---------------------------------------------------------------------- the gateway
class FakeQuotas:
    def __init__(self, answer: Any) -> None:
        self.answer, self.calls = answer, 0

    def get_service_quota(self, ServiceCode: str, QuotaCode: str) -> dict[str, Any]:
        self.calls += 1
        assert ServiceCode == "vpc"
        if isinstance(self.answer, str):
            raise ClientError({"Error": {"Code": self.answer, "Message": "no"}}, "GetServiceQuota")
        return {"Quota": {"QuotaCode": QuotaCode, "Value": self.answer}}


@pytest.mark.parametrize(
    ("answer", "read"),
    [
        (100.0, QuotaRead(100, "applied, read from Service Quotas")),
        ("AccessDeniedException", QuotaRead(None, "Service Quotas not readable here (AccessDeniedException)")),
        ("NoSuchResourceException", QuotaRead(None, "Service Quotas gave no applied value (NoSuchResourceException)")),
    ],
)
def test_the_gateway_reads_once_and_falls_back_to_the_default_where_it_cannot(answer: Any, read: QuotaRead) -> None:
    client = FakeQuotas(answer)
    readers = QuotaReaders(lambda account, region: ServiceQuotasGateway(client, account, region))
    reader = readers.reader("111111111111", "us-east-1")
    assert reader(ROUTES) == read
    assert readers.reader("111111111111", "us-east-1")(ROUTES) == read
    assert client.calls == 1  # once per account, region and code in an invocation


def test_a_side_tagged_verified_that_a_budget_now_holds_is_verified_again() -> None:
    # a table that filled up after the peering was verified: not work, but never left `verified`
    plan = plan_side(facts([table("rtb-1", v4=45)]), POLICY, NOW)
    verified = plan.facts._replace(
        view=plan.facts.view._replace(tags={"Name": "named", "peering-autopilot:status": "verified"})
    )
    again = plan_side(verified, POLICY, NOW)
    assert not again.has_work and again.reverify_due
