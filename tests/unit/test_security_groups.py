"""Planning ingress rules on real DescribeSecurityGroups shapes, and the AuthorizeSecurityGroupIngress call built."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import Any

import pytest

from peering_autopilot.allow import BadEntry, Traffic
from peering_autopilot.model import ALLOW_TAG, SecurityGroup
from peering_autopilot.routes import Network
from peering_autopilot.security_groups import (
    GroupPlan,
    Rule,
    existing_rules,
    ip_permissions,
    plan_group,
    rule_description,
)

PEERING_ID = "pcx-0a1b2c3d4e5f60718"
GROUP_ID = "sg-0123456789abcdef0"
PEER_V4 = IPv4Network("10.1.0.0/16")
PEER_V4_SECONDARY = IPv4Network("100.64.0.0/20")
PEER_V6 = IPv6Network("2600:1f18:abcd:1200::/56")
DESCRIPTION = "peering-autopilot pcx-0a1b2c3d4e5f60718"


def security_group(
    permissions: list[dict[str, Any]] | None = None, allow: str | None = None, group_id: str = GROUP_ID
) -> SecurityGroup:
    """One item of DescribeSecurityGroups' SecurityGroups, as boto3 returns it, read by the gateway's parser."""
    tags = [{"Key": "Name", "Value": "app"}]
    if allow is not None:
        tags.append({"Key": ALLOW_TAG, "Value": allow})
    return SecurityGroup.from_api(
        {
            "Description": "app servers",
            "GroupName": "app",
            "IpPermissions": permissions or [],
            "OwnerId": "222222222222",
            "GroupId": group_id,
            "IpPermissionsEgress": [
                {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [], "UserIdGroupPairs": []}
            ],
            "Tags": tags,
            "VpcId": "vpc-0aaaaaaaaaaaaaaa1",
        }
    )


def permission(
    protocol: str,
    from_port: int | None = None,
    to_port: int | None = None,
    v4: tuple[str, ...] = (),
    v6: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One IpPermissions entry as EC2 describes it (no ports for protocol -1)."""
    item: dict[str, Any] = {
        "IpProtocol": protocol,
        "IpRanges": [{"CidrIp": c, "Description": f"from {c}"} for c in v4],
        "Ipv6Ranges": [{"CidrIpv6": c} for c in v6],
        "PrefixListIds": [],
        "UserIdGroupPairs": [{"GroupId": g, "UserId": "222222222222"} for g in groups],
    }
    if from_port is not None:
        item["FromPort"] = from_port
    if to_port is not None:
        item["ToPort"] = to_port
    return item


# ---------------------------------------------------------------------------------- small pieces


def test_rule_description_names_the_peering() -> None:
    assert rule_description(PEERING_ID) == DESCRIPTION


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        pytest.param(Rule("-1", -1, -1, "10.1.0.0/16"), "all from 10.1.0.0/16", id="all"),
        pytest.param(Rule("icmp", -1, -1, "10.1.0.0/16"), "icmp from 10.1.0.0/16", id="icmp"),
        pytest.param(Rule("icmpv6", -1, -1, str(PEER_V6)), "icmpv6 from 2600:1f18:abcd:1200::/56", id="icmpv6"),
        pytest.param(Rule("tcp", 443, 443, "10.1.0.0/16"), "tcp:443 from 10.1.0.0/16", id="tcp-port"),
        pytest.param(Rule("tcp", 8000, 8080, "10.1.0.0/16"), "tcp:8000-8080 from 10.1.0.0/16", id="tcp-range"),
        pytest.param(Rule("udp", 53, 53, str(PEER_V6)), "udp:53 from 2600:1f18:abcd:1200::/56", id="udp-ipv6"),
    ],
)
def test_rule_str(rule: Rule, text: str) -> None:
    assert str(rule) == text


@pytest.mark.parametrize(
    ("traffic", "cidr", "rule"),
    [
        pytest.param(Traffic("icmp"), PEER_V4, Rule("icmp", -1, -1, "10.1.0.0/16"), id="icmp-ipv4"),
        pytest.param(Traffic("icmp"), PEER_V6, Rule("icmpv6", -1, -1, "2600:1f18:abcd:1200::/56"), id="icmp-ipv6"),
        pytest.param(Traffic("-1"), PEER_V6, Rule("-1", -1, -1, "2600:1f18:abcd:1200::/56"), id="all-ipv6"),
        pytest.param(Traffic("tcp", 80, 81), PEER_V4, Rule("tcp", 80, 81, "10.1.0.0/16"), id="tcp-ipv4"),
    ],
)
def test_rule_of_traffic_and_cidr(traffic: Traffic, cidr: Network, rule: Rule) -> None:
    assert Rule.of(traffic, cidr) == rule
    assert rule.ipv6 is (cidr.version == 6)


# ------------------------------------------------------------------------------- existing rules


def test_existing_rules_normalizes_protocols_and_ignores_group_references() -> None:
    group = security_group(
        [
            permission("tcp", 443, 443, v4=("10.1.0.0/16",), v6=("2600:1f18:abcd:1200::/56",)),
            permission("6", 22, 22, v4=("100.64.0.0/20",)),
            permission("17", 53, 53, v4=("10.1.0.0/16",)),
            permission("1", -1, -1, v4=("10.1.0.0/16",)),
            permission("58", -1, -1, v6=("2600:1f18:abcd:1200::/56",)),
            permission("icmp", 8, -1, v4=("10.9.0.0/16",)),
            permission("-1", v4=("192.168.0.0/24",)),
            # a reference to another group is not a CIDR rule: ignored
            permission("tcp", 5432, 5432, groups=("sg-0fedcba9876543210",)),
        ]
    )

    assert existing_rules(group) == {
        Rule("tcp", 443, 443, "10.1.0.0/16"),
        Rule("tcp", 443, 443, "2600:1f18:abcd:1200::/56"),
        Rule("tcp", 22, 22, "100.64.0.0/20"),
        Rule("udp", 53, 53, "10.1.0.0/16"),
        Rule("icmp", -1, -1, "10.1.0.0/16"),
        Rule("icmpv6", -1, -1, "2600:1f18:abcd:1200::/56"),
        Rule("icmp", 8, -1, "10.9.0.0/16"),
        Rule("-1", -1, -1, "192.168.0.0/24"),
    }


def test_existing_rules_of_all_traffic_ignore_any_ports_given() -> None:
    group = security_group([permission("-1", 0, 65535, v4=("10.1.0.0/16",))])

    assert existing_rules(group) == {Rule("-1", -1, -1, "10.1.0.0/16")}


def test_existing_rules_of_a_group_without_permissions_keys() -> None:
    assert existing_rules(SecurityGroup.from_api({"GroupId": GROUP_ID})) == set()
    assert existing_rules(security_group([])) == set()


# ---------------------------------------------------------------------------------- plan_group


def test_a_group_without_the_allow_tag_needs_nothing() -> None:
    group = security_group([permission("tcp", 443, 443, v4=("10.1.0.0/16",))])

    assert plan_group(group, [PEER_V4, PEER_V6], PEERING_ID) == GroupPlan(GROUP_ID)


def test_a_group_without_tags_needs_nothing() -> None:
    assert plan_group(SecurityGroup.from_api({"GroupId": GROUP_ID}), [PEER_V4], PEERING_ID) == GroupPlan(GROUP_ID)


def test_missing_rules_are_each_traffic_kind_from_each_peer_cidr_in_order() -> None:
    # GIVEN a group allowing three kinds of traffic, with none of them open to the peer yet
    group = security_group(allow="tcp:443, icmp, all")

    # WHEN planned for the peer's IPv4 and IPv6 blocks
    plan = plan_group(group, [PEER_V4, PEER_V6], PEERING_ID)

    # THEN every kind is asked from every block, kind by kind; ICMP towards IPv6 is ICMPv6
    assert plan == GroupPlan(
        GROUP_ID,
        add=[
            Rule("tcp", 443, 443, "10.1.0.0/16"),
            Rule("tcp", 443, 443, "2600:1f18:abcd:1200::/56"),
            Rule("icmp", -1, -1, "10.1.0.0/16"),
            Rule("icmpv6", -1, -1, "2600:1f18:abcd:1200::/56"),
            Rule("-1", -1, -1, "10.1.0.0/16"),
            Rule("-1", -1, -1, "2600:1f18:abcd:1200::/56"),
        ],
    )


def test_a_rule_present_with_any_description_counts_as_present() -> None:
    # GIVEN rules opened by hand (other descriptions, or none), some as protocol numbers
    group = security_group(
        [
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": "opened by hand"}],
                "Ipv6Ranges": [],
                "PrefixListIds": [],
                "UserIdGroupPairs": [],
            },
            {
                "IpProtocol": "58",
                "FromPort": -1,
                "ToPort": -1,
                "IpRanges": [],
                "Ipv6Ranges": [{"CidrIpv6": "2600:1f18:abcd:1200::/56"}],
                "PrefixListIds": [],
                "UserIdGroupPairs": [],
            },
            {
                "IpProtocol": "6",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "100.64.0.0/20", "Description": "peering-autopilot pcx-0ffffffffffffffff"}],
                "Ipv6Ranges": [],
                "PrefixListIds": [],
                "UserIdGroupPairs": [],
            },
        ],
        allow="tcp:443,icmp",
    )

    plan = plan_group(group, [PEER_V4, PEER_V4_SECONDARY, PEER_V6], PEERING_ID)

    assert plan == GroupPlan(
        GROUP_ID,
        add=[
            Rule("tcp", 443, 443, "2600:1f18:abcd:1200::/56"),
            Rule("icmp", -1, -1, "10.1.0.0/16"),
            Rule("icmp", -1, -1, "100.64.0.0/20"),
        ],
        present=[
            Rule("tcp", 443, 443, "10.1.0.0/16"),
            Rule("tcp", 443, 443, "100.64.0.0/20"),
            Rule("icmpv6", -1, -1, "2600:1f18:abcd:1200::/56"),
        ],
    )


@pytest.mark.parametrize(
    "existing",
    [
        pytest.param(permission("tcp", 443, 443, v4=("10.2.0.0/16",)), id="other-cidr"),
        pytest.param(permission("tcp", 443, 444, v4=("10.1.0.0/16",)), id="wider-range"),
        pytest.param(permission("tcp", 444, 444, v4=("10.1.0.0/16",)), id="other-port"),
        pytest.param(permission("udp", 443, 443, v4=("10.1.0.0/16",)), id="other-protocol"),
        pytest.param(permission("tcp", 443, 443, groups=("sg-0fedcba9876543210",)), id="group-reference"),
        pytest.param(permission("tcp", 443, 443, v4=("10.1.0.0/24",)), id="narrower-cidr"),
    ],
)
def test_only_the_exact_rule_counts_as_present(existing: dict[str, Any]) -> None:
    plan = plan_group(security_group([existing], allow="tcp:443"), [PEER_V4], PEERING_ID)

    assert plan == GroupPlan(GROUP_ID, add=[Rule("tcp", 443, 443, "10.1.0.0/16")])


def test_all_traffic_already_open_does_not_count_for_a_narrower_kind() -> None:
    # GIVEN all traffic open from the peer by hand, and the tag asking for tcp:443 and all
    group = security_group([permission("-1", v4=("10.1.0.0/16",))], allow="tcp:443,all")

    plan = plan_group(group, [PEER_V4], PEERING_ID)

    # THEN the exact rule for tcp:443 is still asked for: presence is an exact match
    assert plan == GroupPlan(
        GROUP_ID,
        add=[Rule("tcp", 443, 443, "10.1.0.0/16")],
        present=[Rule("-1", -1, -1, "10.1.0.0/16")],
    )


def test_an_icmp_rule_open_to_an_ipv6_block_does_not_count_as_icmpv6() -> None:
    group = security_group([permission("icmp", -1, -1, v6=("2600:1f18:abcd:1200::/56",))], allow="icmp")

    assert plan_group(group, [PEER_V6], PEERING_ID) == GroupPlan(
        GROUP_ID, add=[Rule("icmpv6", -1, -1, "2600:1f18:abcd:1200::/56")]
    )


def test_bad_entries_are_carried_and_the_good_ones_planned() -> None:
    group = security_group([permission("tcp", 22, 22, v4=("10.1.0.0/16",))], allow="tcp:22,tcp:99999,ftp")

    plan = plan_group(group, [PEER_V4], PEERING_ID)

    assert plan == GroupPlan(
        GROUP_ID,
        present=[Rule("tcp", 22, 22, "10.1.0.0/16")],
        bad_entries=[
            BadEntry("tcp:99999", "port 99999 is outside 0-65535"),
            BadEntry("ftp", "unknown protocol: use icmp, all, tcp:PORT[-PORT] or udp:PORT[-PORT]"),
        ],
    )


def test_no_peer_cidrs_plans_no_rules_but_still_reports_bad_entries() -> None:
    plan = plan_group(security_group(allow="tcp:443,tcp"), [], PEERING_ID)

    assert plan == GroupPlan(
        GROUP_ID, bad_entries=[BadEntry("tcp", "tcp needs a port or range, as in tcp:443 or tcp:8000-8080")]
    )


def test_everything_already_open_needs_nothing_more() -> None:
    group = security_group(
        [
            permission("tcp", 8000, 8080, v4=("10.1.0.0/16",), v6=("2600:1f18:abcd:1200::/56",)),
            permission("icmp", -1, -1, v4=("10.1.0.0/16",)),
            permission("icmpv6", -1, -1, v6=("2600:1f18:abcd:1200::/56",)),
        ],
        allow="tcp:8000-8080,icmp",
    )

    plan = plan_group(group, [PEER_V4, PEER_V6], PEERING_ID)

    assert plan.add == []
    assert plan.present == [
        Rule("tcp", 8000, 8080, "10.1.0.0/16"),
        Rule("tcp", 8000, 8080, "2600:1f18:abcd:1200::/56"),
        Rule("icmp", -1, -1, "10.1.0.0/16"),
        Rule("icmpv6", -1, -1, "2600:1f18:abcd:1200::/56"),
    ]


# ------------------------------------------------------------------------------- ip_permissions


def test_ip_permissions_group_cidrs_by_protocol_and_ports() -> None:
    # GIVEN rules of three kinds from two IPv4 blocks and one IPv6 block, as plan_group lists them
    rules = plan_group(security_group(allow="tcp:443,icmp,all"), [PEER_V4, PEER_V4_SECONDARY, PEER_V6], PEERING_ID).add

    permissions = ip_permissions(rules, DESCRIPTION)

    # THEN one permission per (protocol, from, to), sorted; no ports for -1; IPv6 in Ipv6Ranges
    assert permissions == [
        {
            "IpProtocol": "-1",
            "IpRanges": [
                {"CidrIp": "10.1.0.0/16", "Description": DESCRIPTION},
                {"CidrIp": "100.64.0.0/20", "Description": DESCRIPTION},
            ],
            "Ipv6Ranges": [{"CidrIpv6": "2600:1f18:abcd:1200::/56", "Description": DESCRIPTION}],
        },
        {
            "IpProtocol": "icmp",
            "FromPort": -1,
            "ToPort": -1,
            "IpRanges": [
                {"CidrIp": "10.1.0.0/16", "Description": DESCRIPTION},
                {"CidrIp": "100.64.0.0/20", "Description": DESCRIPTION},
            ],
        },
        {
            "IpProtocol": "icmpv6",
            "FromPort": -1,
            "ToPort": -1,
            "Ipv6Ranges": [{"CidrIpv6": "2600:1f18:abcd:1200::/56", "Description": DESCRIPTION}],
        },
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [
                {"CidrIp": "10.1.0.0/16", "Description": DESCRIPTION},
                {"CidrIp": "100.64.0.0/20", "Description": DESCRIPTION},
            ],
            "Ipv6Ranges": [{"CidrIpv6": "2600:1f18:abcd:1200::/56", "Description": DESCRIPTION}],
        },
    ]


def test_ip_permissions_sort_by_protocol_then_ports_whatever_the_input_order() -> None:
    rules = [
        Rule("udp", 53, 53, "10.1.0.0/16"),
        Rule("tcp", 8000, 8080, "10.1.0.0/16"),
        Rule("tcp", 443, 443, "10.1.0.0/16"),
        Rule("tcp", 22, 22, "10.1.0.0/16"),
        Rule("-1", -1, -1, "10.1.0.0/16"),
    ]

    permissions = ip_permissions(rules, DESCRIPTION)

    assert [(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in permissions] == [
        ("-1", None, None),
        ("tcp", 22, 22),
        ("tcp", 443, 443),
        ("tcp", 8000, 8080),
        ("udp", 53, 53),
    ]
    assert ip_permissions(list(reversed(rules)), DESCRIPTION) == permissions


def test_ip_permissions_of_ipv6_only_rules_have_no_ipv4_ranges() -> None:
    rules = [Rule("udp", 1000, 2000, "2600:1f18:abcd:1200::/56"), Rule("udp", 1000, 2000, "2600:1f18:abcd:1300::/56")]

    assert ip_permissions(rules, "peering-autopilot pcx-11111111") == [
        {
            "IpProtocol": "udp",
            "FromPort": 1000,
            "ToPort": 2000,
            "Ipv6Ranges": [
                {"CidrIpv6": "2600:1f18:abcd:1200::/56", "Description": "peering-autopilot pcx-11111111"},
                {"CidrIpv6": "2600:1f18:abcd:1300::/56", "Description": "peering-autopilot pcx-11111111"},
            ],
        }
    ]


def test_ip_permissions_of_no_rules_is_empty() -> None:
    assert ip_permissions([], DESCRIPTION) == []


def test_planned_rules_authorized_then_described_back_are_all_present() -> None:
    # GIVEN the permissions the autopilot would authorize for a group
    group = security_group(allow="tcp:443,udp:53,icmp,all")
    plan = plan_group(group, [PEER_V4, PEER_V6], PEERING_ID)
    permissions = ip_permissions(plan.add, rule_description(PEERING_ID))

    # WHEN EC2 describes the group with them in place
    after = plan_group(security_group(permissions, allow="tcp:443,udp:53,icmp,all"), [PEER_V4, PEER_V6], PEERING_ID)

    # THEN a second plan adds nothing: the round trip is idempotent
    assert after == GroupPlan(GROUP_ID, present=plan.add)


# ----------------------------------------------------------------------------- taking back (issue 9, point 6)


def RECORDED(group_id: str, rule: Rule) -> bool:
    return True


def own(rules: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
    return [
        {
            "IpProtocol": protocol,
            **({"FromPort": port, "ToPort": port} if protocol != "icmp" else {"FromPort": -1, "ToPort": -1}),
            "IpRanges": [{"CidrIp": cidr, "Description": DESCRIPTION}],
        }
        for protocol, port, cidr in rules
    ]


def test_the_autopilots_rules_no_longer_asked_for_are_to_remove_and_a_persons_are_not() -> None:
    # GIVEN the tag narrowed to icmp; the group holds the autopilot's icmp and tcp:443, and a person's tcp:22
    permissions = own([("icmp", -1, "10.1.0.0/16"), ("tcp", 443, "10.1.0.0/16")])
    permissions.append(
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": "x"}]}
    )
    group = security_group(permissions, allow="icmp")

    plan = plan_group(group, [PEER_V4], PEERING_ID, RECORDED)

    assert plan.add == [] and plan.present == [Rule("icmp", -1, -1, "10.1.0.0/16")]
    assert plan.remove == [Rule("tcp", 443, 443, "10.1.0.0/16")]
    assert ip_permissions(plan.remove) == [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}
    ]


def test_without_the_allow_tag_every_rule_of_the_peering_is_to_remove() -> None:
    group = SecurityGroup.from_api(
        {"GroupId": GROUP_ID, "IpPermissions": own([("icmp", -1, "10.1.0.0/16"), ("tcp", 443, "100.64.0.0/20")])}
    )

    assert plan_group(group, [PEER_V4], PEERING_ID, RECORDED).remove == [
        Rule("icmp", -1, -1, "10.1.0.0/16"),
        Rule("tcp", 443, 443, "100.64.0.0/20"),
    ]
    # ... but not another peering's rules
    assert plan_group(group, [PEER_V4], "pcx-0ffffffffffffffff", RECORDED).remove == []


def test_a_marked_rule_the_record_does_not_hold_is_a_persons_and_stays() -> None:
    # GIVEN the tag narrowed to icmp; tcp:443 carries the marker but the record holds only icmp
    group = security_group(own([("icmp", -1, "10.1.0.0/16"), ("tcp", 443, "10.1.0.0/16")]), allow="")

    plan = plan_group(group, [PEER_V4], PEERING_ID, lambda g, rule: rule.ip_protocol == "icmp")

    assert plan.remove == [Rule("icmp", -1, -1, "10.1.0.0/16")]
    assert plan.persons == [Rule("tcp", 443, 443, "10.1.0.0/16")]
    # WHEN the record could not be read: nothing is taken back, and said why
    unread = plan_group(group, [PEER_V4], PEERING_ID, None, "ResourceNotFoundException: gone")
    assert unread.remove == [] and len(unread.unread) == 2
    assert unread.unread_reason == "ResourceNotFoundException: gone"


def test_with_an_invalid_entry_nothing_is_removed_and_what_would_be_is_kept() -> None:
    group = security_group(own([("tcp", 443, "10.1.0.0/16")]), allow="icmp,tcp:44x")

    plan = plan_group(group, [PEER_V4], PEERING_ID, RECORDED)

    assert plan.remove == [] and plan.kept == [Rule("tcp", 443, 443, "10.1.0.0/16")]
