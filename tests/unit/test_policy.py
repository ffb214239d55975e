"""The network team's policy document: parsed with every fault named, rules in order, ranges by
owner, group membership; and decide() asking it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from ipaddress import ip_network
from typing import Any

import pytest

from peering_autopilot.decision import PENDING, Reason, decide
from peering_autopilot.mesh import plan_groups
from peering_autopilot.model import Cidrs, Peering, PeeringSide, Vpc
from peering_autopilot.organization import Membership, OrgSnapshot, membership_changes, parse_units
from peering_autopilot.policy import (
    ACCEPT,
    ASK,
    DEFAULT_RULE,
    REJECT,
    Party,
    PolicyError,
    check_units,
    from_parameters,
    parse,
)
from peering_autopilot.settings import DEFAULT_PEER_CIDRS, PeerCidrPolicy, Settings

HUB, PROD, DEV, PARTNER = "111111111111", "222222222222", "333333333333", "444444444444"
ROOT, OU_PROD, OU_PARTNERS, OU_PLATFORM = "r-ab12", "ou-ab12-prod0001", "ou-ab12-part0001", "ou-ab12-plat0001"
PARAMS = PeerCidrPolicy.parse(DEFAULT_PEER_CIDRS)
FREEZE_START = datetime(2026, 12, 18, tzinfo=UTC).timestamp()
IN_FREEZE = datetime(2026, 12, 20, tzinfo=UTC).timestamp()
BEFORE_FREEZE = datetime(2026, 12, 10, tzinfo=UTC).timestamp()

DOCUMENT: dict[str, Any] = {
    "version": 1,
    "defaults": {"outcome": "ask", "ranges": ["10.0.0.0/8"]},
    "rules": [
        {
            "name": "freeze",
            "window": {"start": "2026-12-18T00:00:00Z", "end": "2027-01-04T00:00:00Z"},
            "outcome": "reject",
        },
        {
            "name": "partners-into-partner-vpcs",
            "requester": {"ous": [OU_PARTNERS]},
            "accepter": {"vpc_tags": {"role": "partner-edge"}},
            "outcome": "ask",
            "approvers": [f"arn:aws:iam::{HUB}:role/NetworkApprover"],
        },
        {"name": "partners-elsewhere", "requester": {"ous": [OU_PARTNERS]}, "outcome": "reject"},
        {
            "name": "prod-with-prod",
            "requester": {"vpc_tags": {"env": "prod"}},
            "accepter": {"vpc_tags": {"env": "prod"}},
            "outcome": "accept",
        },
        {"name": "same-env", "same_vpc_tags": ["env"], "outcome": "accept"},
    ],
    "ranges": [
        {"accounts": [PARTNER], "cidrs": ["192.168.10.0/24"]},
        {"ous": [OU_PROD], "cidrs": ["10.0.0.0/12"]},
    ],
    "groups": {"shared-services": {"ous": [OU_PLATFORM], "accounts": [HUB]}},
}
POLICY = parse(DOCUMENT, PARAMS, source="test")
PATHS = {PROD: (ROOT, OU_PROD), DEV: (ROOT,), PARTNER: (ROOT, OU_PARTNERS), HUB: (ROOT, OU_PLATFORM)}


def party(account: str, **tags: str) -> Party:
    return Party(account, PATHS[account], f"vpc-{account[:4]}", tags)


@pytest.mark.parametrize(
    ("requester", "accepter", "now", "outcome", "rule"),
    [
        (party(PROD, env="prod"), party(DEV, env="prod"), IN_FREEZE, REJECT, "freeze"),  # first match wins
        (party(PROD, env="prod"), party(DEV, env="prod"), BEFORE_FREEZE, ACCEPT, "prod-with-prod"),
        (party(PROD, env="prod"), party(DEV, env="dev"), BEFORE_FREEZE, ASK, DEFAULT_RULE),  # prod only with prod
        (party(DEV, env="dev"), party(PROD, env="dev"), BEFORE_FREEZE, ACCEPT, "same-env"),
        (party(DEV), party(PROD), BEFORE_FREEZE, ASK, DEFAULT_RULE),  # no tags: same-env needs them on both
        (party(PARTNER), party(HUB, role="partner-edge"), BEFORE_FREEZE, ASK, "partners-into-partner-vpcs"),
        (party(PARTNER, env="prod"), party(PROD, env="prod"), BEFORE_FREEZE, REJECT, "partners-elsewhere"),
    ],
)
def test_rules_apply_in_order_and_the_first_that_matches_decides(
    requester: Party, accepter: Party, now: float, outcome: str, rule: str
) -> None:
    verdict = POLICY.verdict(requester, accepter, now)
    assert (verdict.outcome, verdict.rule) == (outcome, rule)


def test_the_freeze_window_holds_from_its_start_to_just_before_its_end() -> None:
    prod = party(PROD, env="prod")
    assert POLICY.verdict(prod, prod, FREEZE_START).rule == "freeze"
    assert POLICY.verdict(prod, prod, FREEZE_START - 1).rule == "prod-with-prod"
    end = datetime(2027, 1, 4, tzinfo=UTC).timestamp()
    assert POLICY.verdict(prod, prod, end - 1).rule == "freeze"
    assert POLICY.verdict(prod, prod, end).rule == "prod-with-prod"


def test_explain_says_why_each_rule_before_the_deciding_one_does_not_match() -> None:
    lines = POLICY.explain(party(PARTNER), party(PROD, env="prod"), BEFORE_FREEZE)
    assert lines == [
        ("freeze", "outside its window 2026-12-18T00:00:00Z to 2027-01-04T00:00:00Z"),
        ("partners-into-partner-vpcs", "accepter: VPC vpc-2222 has no such tag, not role='partner-edge'"),
        ("partners-elsewhere", "matches: reject"),
    ]


def test_an_ask_rule_names_its_approvers_and_only_they_are_allowed() -> None:
    verdict = POLICY.verdict(party(PARTNER), party(HUB, role="partner-edge"), BEFORE_FREEZE)
    assert verdict.approver_allowed(f"arn:aws:iam::{HUB}:role/NetworkApprover")
    assert not verdict.approver_allowed(f"arn:aws:iam::{PARTNER}:role/NetworkApprover")  # same name, other account
    assert not verdict.approver_allowed(f"arn:aws:iam::{HUB}:role/networkapprover")


def test_ranges_come_from_the_first_entry_naming_the_account_or_one_of_its_ous() -> None:
    assert POLICY.ranges_of(PARTNER, PATHS[PARTNER]).ipv4 == (ip_network("192.168.10.0/24"),)
    assert POLICY.ranges_of(PROD, PATHS[PROD]).ipv4 == (ip_network("10.0.0.0/12"),)
    assert POLICY.ranges_of(DEV, PATHS[DEV]).ipv4 == (ip_network("10.0.0.0/8"),)  # the default ranges
    assert POLICY.ranges_of(PROD, ()).ipv4 == (ip_network("10.0.0.0/8"),)  # OU path unknown: no OU entry applies
    assert POLICY.ranges_of(PROD, PATHS[PROD]).label == "the policy's ranges[1]"


def test_only_a_groups_listed_members_may_join_it() -> None:
    assert POLICY.group_member("shared-services", HUB, PATHS[HUB]) == ""
    assert POLICY.group_member("shared-services", DEV, PATHS[DEV]) == (
        f"account {DEV} may not join group 'shared-services': members are {HUB} or under {OU_PLATFORM}"
    )
    assert "is not in the policy's groups" in POLICY.group_member("anything-else", HUB, PATHS[HUB])
    assert from_parameters(PARAMS).group_member("anything-else", DEV) == ""  # no document: as before


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"colour": "blue"}, "the document: unknown field(s) ['colour']"),
        ({"version": 2}, "field 'version': must be 1, got 2"),
        (
            {"rules": [{"name": "a", "outcome": "allow"}]},
            "rules[0] 'a': field 'outcome': must be one of accept, ask, reject, got 'allow'",
        ),
        ({"rules": [{"name": "a"}]}, "rules[0] 'a': field 'outcome': required (accept, ask or reject)"),
        (
            {"rules": [{"name": "a", "outcome": "accept", "requestor": {}}]},
            "rules[0] 'a': unknown field(s) ['requestor']",
        ),
        (
            {"rules": [{"name": "a", "outcome": "accept"}, {"name": "a", "outcome": "ask"}]},
            "rules[1] 'a': field 'name': used by an earlier rule",
        ),
        (
            {"rules": [{"name": "a", "outcome": "accept", "requester": {"ous": ["ou-x"]}}]},
            "rules[0] 'a': field 'requester'.ous: not OU ids (ou-…) or root ids (r-…): ['ou-x']",
        ),
        (
            {"rules": [{"name": "a", "outcome": "accept", "requester": {"vpc_tags": {"env": True}}}]},
            "rules[0] 'a': field 'requester'.vpc_tags: must map tag keys to string values",
        ),
        (
            {
                "rules": [
                    {"name": "a", "outcome": "reject", "window": {"start": "2026-12-18", "end": "2027-01-01T00:00:00Z"}}
                ]
            },
            "rules[0] 'a': field 'window'.start: must be an ISO 8601 time with its zone",
        ),
        (
            {"rules": [{"name": "a", "outcome": "accept", "approvers": ["arn:aws:iam::111111111111:role/A"]}]},
            "rules[0] 'a': field 'approvers': only a rule whose outcome is ask has approvers",
        ),
        (
            {"rules": [{"name": "a", "outcome": "ask", "approvers": ["arn:aws:iam::*:role/A"]}]},
            "rules[0] 'a': field 'approvers': not IAM role or user ARNs (no wildcards)",
        ),
        (
            {"ranges": [{"ous": [OU_PROD], "cidrs": ["10.0.0.1/8"]}]},
            "ranges[0]: field 'cidrs': not CIDR blocks (network/prefix, host bits zero): ['10.0.0.1/8']",
        ),
        ({"ranges": [{"ous": [OU_PROD], "cidrs": ["10.300.0.0/16"]}]}, "ranges[0]: field 'cidrs': not CIDR blocks"),
        ({"ranges": [{"cidrs": ["10.0.0.0/8"]}]}, "ranges[0]: must name accounts or ous"),
        ({"groups": {"bad name!": {"accounts": [HUB]}}}, "groups 'bad name!': not a group name"),
        ({"groups": {"g": {"accounts": ["12345"]}}}, "groups 'g'.accounts: not 12-digit account ids: ['12345']"),
        (
            {"defaults": {"outcome": "maybe"}},
            "defaults: field 'outcome': must be one of accept, ask, reject, got 'maybe'",
        ),
    ],
)
def test_every_fault_names_the_rule_and_the_field(change: dict[str, Any], problem: str) -> None:
    document = {"version": 1} | change
    with pytest.raises(PolicyError) as raised:
        parse(document, PARAMS, source="policy.yaml")
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems
    assert str(raised.value).startswith("policy.yaml: ")


def test_every_fault_is_reported_at_once() -> None:
    with pytest.raises(PolicyError) as raised:
        parse({"version": 1, "rules": [{"name": "a", "outcome": "x"}, {"name": "b"}], "ranges": "none"}, PARAMS)
    assert len(raised.value.problems) == 3


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(PolicyError, match="the document must be a mapping"):
        parse(["rules"], PARAMS)


def test_an_ou_the_organization_does_not_hold_is_refused_by_name() -> None:
    check_units(POLICY, {OU_PROD, OU_PARTNERS, OU_PLATFORM})
    with pytest.raises(PolicyError, match=f"unknown OU {OU_PLATFORM}: not in the managed part of the Organization"):
        check_units(POLICY, {OU_PROD, OU_PARTNERS})


def test_without_a_document_the_parameters_are_a_one_rule_policy() -> None:
    policy = from_parameters(PARAMS)
    assert policy.verdict(party(DEV), party(PROD), IN_FREEZE).outcome == ACCEPT
    assert policy.ranges_of(DEV) is PARAMS


# ------------------------------------------------------------------------ the organization
def test_units_are_ou_or_root_ids_and_anything_else_is_named() -> None:
    assert parse_units(f" {OU_PROD}, {ROOT} ") == {OU_PROD, ROOT}
    with pytest.raises(Exception, match=r"MANAGED_OU_IDS holds values that are not OU ids .*\['prod'\]"):
        parse_units(f"{OU_PROD},prod")


def test_an_account_under_a_managed_ou_at_any_depth_is_managed() -> None:
    nested = "ou-ab12-nest0001"
    snapshot = OrgSnapshot({PROD: (ROOT, OU_PROD, nested), DEV: (ROOT,)})
    membership = Membership.of(HUB, {PARTNER}, {OU_PROD}, snapshot)
    assert [membership.is_managed(a) for a in (HUB, PROD, DEV, PARTNER, "555555555555")] == [
        True,
        True,
        False,
        True,
        False,
    ]
    assert membership.accounts() == {HUB, PROD, PARTNER}
    whole = Membership.of(HUB, (), {ROOT}, snapshot)
    assert whole.is_managed(DEV)


def test_an_incomplete_walk_drops_nothing() -> None:
    before = {PROD: (ROOT, OU_PROD), DEV: (ROOT,)}
    moved = OrgSnapshot({PROD: (ROOT,)}, complete=True)
    assert membership_changes(before, moved) == ({PROD: (ROOT,)}, [DEV])
    partial = OrgSnapshot({PROD: (ROOT,)}, complete=False)
    assert membership_changes(before, partial) == ({PROD: (ROOT,)}, [])


# ------------------------------------------------------------------------ decide() asks the policy
SETTINGS = Settings(
    hub_account_id=HUB,
    hub_region="us-east-1",
    approved_account_ids=frozenset({PROD, DEV, PARTNER}),
    member_role_name="PeeringAutopilotMember",
    managed_regions=("us-east-1",),
    event_bus_name="bus",
    membership=Membership.of(HUB, (), {ROOT}, OrgSnapshot(PATHS)),
    policy=POLICY,
)


def request(requester: str, requester_block: str, accepter: str, accepter_block: str) -> tuple[Peering, Vpc]:
    peering = Peering(
        "pcx-0123456789abcdef0",
        PENDING,
        "",
        PeeringSide(requester, "us-east-1", "vpc-0aaaaaaaaaaaaaaa1", Cidrs.of([requester_block])),
        PeeringSide(accepter, "us-east-1", "vpc-0bbbbbbbbbbbbbbb2", Cidrs()),
    )
    return peering, Vpc(
        "vpc-0bbbbbbbbbbbbbbb2",
        accepter,
        "us-east-1",
        Cidrs.of([accepter_block]),
        {"peering-autopilot:enabled": "true", "env": "prod"},
    )


def requester_vpc(account: str, block: str, **tags: str) -> Vpc:
    return Vpc("vpc-0aaaaaaaaaaaaaaa1", account, "us-east-1", Cidrs.of([block]), tags)


def test_decide_accepts_what_the_policy_accepts_and_names_the_rule() -> None:
    peering, accepter = request(PROD, "10.1.0.0/16", DEV, "10.20.0.0/16")
    decision = decide(
        peering,
        accepter,
        Cidrs.of(["10.1.0.0/16"]),
        SETTINGS,
        None,
        BEFORE_FREEZE,
        requester_vpc(PROD, "10.1.0.0/16", env="prod"),
    )
    assert decision.accept and decision.verdict is not None and decision.verdict.rule == "prod-with-prod"
    assert decision.explanation.endswith(
        "every block is inside its owner's ranges; rule 'prod-with-prod' matches: accept"
    )


def test_decide_declines_what_the_policy_rejects_or_asks() -> None:
    peering, accepter = request(PROD, "10.1.0.0/16", DEV, "10.20.0.0/16")
    prod_vpc = requester_vpc(PROD, "10.1.0.0/16", env="prod")
    frozen = decide(peering, accepter, Cidrs.of(["10.1.0.0/16"]), SETTINGS, None, IN_FREEZE, prod_vpc)
    assert (frozen.accept, frozen.reasons) == (False, (Reason.POLICY_REJECTED,))
    assert "the policy rejects it: rule 'freeze' matches: reject" in frozen.explanation
    untagged = decide(peering, accepter, Cidrs.of(["10.1.0.0/16"]), SETTINGS, None, BEFORE_FREEZE, None)
    assert untagged.asks and "the policy asks a person: no rule matches" in untagged.explanation


def test_a_block_outside_its_owners_ranges_is_never_accepted_whatever_the_rule_says() -> None:
    # PROD may bring 10.0.0.0/12 only: 10.16.0.0/16 is outside it, though inside the default ranges.
    peering, accepter = request(PROD, "10.16.0.0/16", DEV, "10.20.0.0/16")
    decision = decide(
        peering,
        accepter,
        Cidrs.of(["10.16.0.0/16"]),
        SETTINGS,
        None,
        BEFORE_FREEZE,
        requester_vpc(PROD, "10.16.0.0/16", env="prod"),
    )
    assert not decision.accept and Reason.PEER_CIDR_NOT_ALLOWED in decision.reasons
    assert "requester block 10.16.0.0/16 outside the policy's ranges[1] (10.0.0.0/12; any IPv6)" in decision.explanation


def test_the_group_planner_gives_a_vpc_outside_a_groups_members_nothing_and_says_why() -> None:
    tags = {"peering-autopilot:enabled": "true", "peering-autopilot:group": "shared-services"}
    hub = Vpc("vpc-0000000a", HUB, "us-east-1", Cidrs.of(["10.0.0.0/16"]), tags)
    dev = Vpc("vpc-0000000b", DEV, "us-east-1", Cidrs.of(["10.1.0.0/16"]), tags)
    platform = Vpc("vpc-0000000c", HUB, "us-east-1", Cidrs.of(["10.2.0.0/16"]), tags)
    plan = plan_groups([hub, dev, platform], [], {}, SETTINGS.peer_ranges, 50, 10, SETTINGS.group_refusal)
    assert [(r.requester.vpc_id, r.accepter.vpc_id) for r in plan.requests] == [("vpc-0000000a", "vpc-0000000c")]
    assert plan.not_admitted == [
        f"{DEV}/us-east-1/vpc-0000000b names group 'shared-services' and gains nothing: "
        f"account {DEV} may not join group 'shared-services': members are {HUB} or under {OU_PLATFORM}"
    ]
    # The same VPCs with no document: everyone joins, as before.
    open_plan = plan_groups(
        [hub, dev, platform], [], {}, PARAMS, 50, 10, dataclasses.replace(SETTINGS, policy=None).group_refusal
    )
    assert len(open_plan.requests) == 3 and open_plan.not_admitted == []


# ------------------------------------------------------------------------ a requester outside
STRANGER = "999999999999"  # in no managed OU, not in ApprovedAccountIds
OUTSIDE_POLICY = parse(
    {
        "version": 1,
        "defaults": {"outcome": "ask"},
        "rules": [
            {"name": "broad-accept", "requester": {"ous": [OU_PARTNERS]}, "outcome": "accept"},
            {"name": "named-partner", "requester": {"accounts": [PARTNER]}, "outcome": "accept"},
            {"name": "blocked-stranger", "requester": {"accounts": [STRANGER]}, "outcome": "reject"},
        ],
    },
    PARAMS,
)


def test_only_a_rule_naming_an_outside_account_speaks_for_it_and_never_to_accept() -> None:
    # a broad rule or the default never asks people on a stranger's behalf
    assert OUTSIDE_POLICY.verdict_for_outsider(Party("555555555555"), party(HUB), BEFORE_FREEZE) is None
    named = OUTSIDE_POLICY.verdict_for_outsider(Party(PARTNER), party(HUB), BEFORE_FREEZE)
    assert named is not None and (named.outcome, named.rule) == (ASK, "named-partner")  # accept becomes ask
    assert "its VPC unread: a person decides" in named.why
    blocked = OUTSIDE_POLICY.verdict_for_outsider(Party(STRANGER), party(HUB), BEFORE_FREEZE)
    assert blocked is not None and (blocked.outcome, blocked.rule) == (REJECT, "blocked-stranger")


def test_decide_asks_about_an_outsider_only_when_a_rule_names_it() -> None:
    settings = dataclasses.replace(SETTINGS, approved_account_ids=frozenset({PROD}), policy=OUTSIDE_POLICY)
    named = Membership.of(HUB, (), {OU_PROD}, OrgSnapshot({PROD: PATHS[PROD]}))
    settings = dataclasses.replace(settings, membership=named)
    peering, accepter = request(PARTNER, "10.1.0.0/16", HUB, "10.20.0.0/16")
    asked = decide(peering, accepter, Cidrs.of(["10.1.0.0/16"]), settings, None, BEFORE_FREEZE, None)
    assert asked.asks and asked.verdict is not None and asked.verdict.rule == "named-partner"
    stranger, accepter = request("555555555555", "10.1.0.0/16", HUB, "10.20.0.0/16")
    declined = decide(stranger, accepter, Cidrs.of(["10.1.0.0/16"]), settings, None, BEFORE_FREEZE, None)
    assert declined.reasons == (Reason.REQUESTER_NOT_APPROVED,) and declined.verdict is None
