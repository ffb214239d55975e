"""The accept decision as a table, and the model objects it is built from (read from EC2's own shapes)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network
from typing import Any

import pytest

from peering_autopilot.decision import PENDING, Decision, Reason, decide, find_overlaps
from peering_autopilot.model import ENABLED_TAG, Cidrs, Peering, PeeringSide, Vpc
from peering_autopilot.policy import parse
from peering_autopilot.settings import Settings

HUB = "111111111111"
MEMBER = "222222222222"  # in ApprovedAccountIds
OUTSIDER = "333333333333"  # not approved
REGION = "us-east-1"
OTHER_REGION = "us-west-2"
PEERING_ID = "pcx-0a1b2c3d4e5f60718"
REQUESTER_VPC = "vpc-0aaaaaaaaaaaaaaa1"
ACCEPTER_VPC = "vpc-0bbbbbbbbbbbbbbb2"

SETTINGS = Settings(
    hub_account_id=HUB,
    hub_region=REGION,
    approved_account_ids=frozenset({MEMBER}),
    member_role_name="PeeringAutopilotMember",
    managed_regions=(REGION, OTHER_REGION),
    event_bus_name="peering-autopilot-bus",
)

MISSING = None  # the enabled tag is absent


def make_peering(requester_account: str, status: str, requester_blocks: Sequence[str]) -> Peering:
    return Peering(
        peering_id=PEERING_ID,
        status=status,
        status_message="",
        requester=PeeringSide(requester_account, OTHER_REGION, REQUESTER_VPC, Cidrs.of(requester_blocks)),
        accepter=PeeringSide(HUB, REGION, ACCEPTER_VPC, Cidrs()),
    )


def make_accepter_vpc(blocks: Sequence[str], enabled_tag: str | None) -> Vpc:
    tags = {"Name": "shared-services"}
    if enabled_tag is not None:
        tags[ENABLED_TAG] = enabled_tag
    return Vpc(ACCEPTER_VPC, HUB, REGION, Cidrs.of(blocks), tags)


@dataclass(frozen=True, kw_only=True)
class Case:
    """One row: the request as given (blocks of each side), and the decision expected."""

    requester: tuple[str, ...] = ("10.1.0.0/16",)
    accepter: tuple[str, ...] = ("10.0.0.0/16",)
    requester_account: str = MEMBER
    enabled_tag: str | None = "true"
    status: str = PENDING
    accept: bool
    reasons: tuple[Reason, ...]
    overlaps: tuple[tuple[str, str], ...] = ()
    words: tuple[str, ...] = ()


APPROVED = (Reason.APPROVED,)
APPROVED_WORDS = ("is approved", f"accepter VPC {ACCEPTER_VPC} is opted in", "no address blocks overlap")
V4 = (Reason.IPV4_OVERLAP,)
V6 = (Reason.IPV6_OVERLAP,)
NOT_OPTED_IN = (Reason.ACCEPTER_NOT_OPTED_IN,)

CASES = [
    # --- who asks
    pytest.param(
        Case(
            requester_account=HUB, accept=True, reasons=APPROVED, words=(f"account {HUB} is approved", *APPROVED_WORDS)
        ),
        id="hub-account-always-approved",
    ),
    pytest.param(
        Case(requester_account=MEMBER, accept=True, reasons=APPROVED, words=(f"account {MEMBER} is approved",)),
        id="account-in-approved-list",
    ),
    pytest.param(
        Case(
            requester_account=OUTSIDER,
            accept=False,
            reasons=(Reason.REQUESTER_NOT_APPROVED,),
            words=(f"requester account {OUTSIDER} is not in ApprovedAccountIds",),
        ),
        id="other-account-not-approved",
    ),
    # --- the accepter's opt-in tag: exactly "true"
    pytest.param(
        Case(
            enabled_tag=MISSING,
            accept=False,
            reasons=NOT_OPTED_IN,
            words=(f"accepter VPC {ACCEPTER_VPC} tag {ENABLED_TAG} is missing, not 'true'",),
        ),
        id="opt-in-tag-missing",
    ),
    pytest.param(
        Case(enabled_tag="false", accept=False, reasons=NOT_OPTED_IN, words=(f"{ENABLED_TAG} is 'false', not 'true'",)),
        id="opt-in-tag-false",
    ),
    pytest.param(
        Case(enabled_tag="True", accept=False, reasons=NOT_OPTED_IN, words=(f"{ENABLED_TAG} is 'True', not 'true'",)),
        id="opt-in-tag-capital-True-is-not-true",
    ),
    pytest.param(
        Case(enabled_tag=" true", accept=False, reasons=NOT_OPTED_IN, words=(f"{ENABLED_TAG} is ' true'",)),
        id="opt-in-tag-with-space-is-not-true",
    ),
    pytest.param(
        Case(enabled_tag="", accept=False, reasons=NOT_OPTED_IN, words=(f"{ENABLED_TAG} is '', not 'true'",)),
        id="opt-in-tag-empty",
    ),
    # --- status: only a pending request is decided, whatever else is wrong with it
    pytest.param(
        Case(
            status="active",
            requester_account=OUTSIDER,
            enabled_tag=MISSING,
            requester=("10.0.0.0/16",),
            accepter=("10.0.0.0/16",),
            accept=False,
            reasons=(Reason.NOT_PENDING,),
            words=(f"status is active, not {PENDING}: nothing to decide",),
        ),
        id="status-active-not-pending",
    ),
    pytest.param(
        Case(
            status="initiating-request",
            accept=False,
            reasons=(Reason.NOT_PENDING,),
            words=(f"status is initiating-request, not {PENDING}",),
        ),
        id="status-initiating-request-not-pending",
    ),
    # --- IPv4 overlaps; each pair is (requester block, accepter block)
    pytest.param(
        Case(
            requester=("10.0.0.0/16",),
            accepter=("10.0.0.0/16",),
            accept=False,
            reasons=V4,
            overlaps=(("10.0.0.0/16", "10.0.0.0/16"),),
            words=("IPv4 blocks overlap: 10.0.0.0/16 with 10.0.0.0/16",),
        ),
        id="ipv4-primary-vs-primary",
    ),
    pytest.param(
        Case(
            requester=("10.1.0.0/16", "10.0.128.0/20"),
            accepter=("10.0.0.0/16",),
            accept=False,
            reasons=V4,
            overlaps=(("10.0.128.0/20", "10.0.0.0/16"),),
            words=("IPv4 blocks overlap: 10.0.128.0/20 with 10.0.0.0/16",),
        ),
        id="ipv4-requester-secondary-vs-accepter-primary",
    ),
    pytest.param(
        Case(
            requester=("10.1.0.0/16",),
            accepter=("10.0.0.0/16", "10.1.128.0/17"),
            accept=False,
            reasons=V4,
            overlaps=(("10.1.0.0/16", "10.1.128.0/17"),),
            words=("IPv4 blocks overlap: 10.1.0.0/16 with 10.1.128.0/17",),
        ),
        id="ipv4-accepter-secondary-vs-requester-primary",
    ),
    pytest.param(
        Case(
            requester=("10.1.0.0/16", "172.16.0.0/16"),
            accepter=("10.0.0.0/16", "172.16.5.0/24"),
            accept=False,
            reasons=V4,
            overlaps=(("172.16.0.0/16", "172.16.5.0/24"),),
            words=("IPv4 blocks overlap: 172.16.0.0/16 with 172.16.5.0/24",),
        ),
        id="ipv4-secondary-vs-secondary",
    ),
    pytest.param(
        Case(
            requester=("10.0.42.0/24",),
            accepter=("10.0.0.0/16",),
            accept=False,
            reasons=V4,
            overlaps=(("10.0.42.0/24", "10.0.0.0/16"),),
            words=("10.0.42.0/24 with 10.0.0.0/16",),
        ),
        id="ipv4-requester-slash24-inside-accepter-slash16",
    ),
    pytest.param(
        Case(
            requester=("10.0.0.0/16",),
            accepter=("10.0.255.0/24",),
            accept=False,
            reasons=V4,
            overlaps=(("10.0.0.0/16", "10.0.255.0/24"),),
            words=("10.0.0.0/16 with 10.0.255.0/24",),
        ),
        id="ipv4-accepter-slash24-inside-requester-slash16",
    ),
    pytest.param(
        Case(
            requester=("10.0.0.0/24", "10.0.1.0/24"),
            accepter=("10.0.0.0/16",),
            accept=False,
            reasons=V4,
            overlaps=(("10.0.0.0/24", "10.0.0.0/16"), ("10.0.1.0/24", "10.0.0.0/16")),
            words=("IPv4 blocks overlap: 10.0.0.0/24 with 10.0.0.0/16, 10.0.1.0/24 with 10.0.0.0/16",),
        ),
        id="ipv4-every-overlapping-pair-listed",
    ),
    pytest.param(
        Case(
            requester=("10.1.0.0/16",), accepter=("10.0.0.0/16",), accept=True, reasons=APPROVED, words=APPROVED_WORDS
        ),
        id="ipv4-adjacent-slash16s-disjoint",
    ),
    pytest.param(
        Case(
            requester=("10.0.1.0/24",), accepter=("10.0.0.0/24",), accept=True, reasons=APPROVED, words=APPROVED_WORDS
        ),
        id="ipv4-adjacent-slash24s-disjoint",
    ),
    # --- IPv6
    pytest.param(
        Case(
            requester=("10.1.0.0/16", "2600:1f18:abcd:1200::/56"),
            accepter=("10.0.0.0/16", "2600:1f18:abcd::/48"),
            accept=False,
            reasons=V6,
            overlaps=(("2600:1f18:abcd:1200::/56", "2600:1f18:abcd::/48"),),
            words=("IPv6 blocks overlap: 2600:1f18:abcd:1200::/56 with 2600:1f18:abcd::/48",),
        ),
        id="ipv6-slash56-inside-slash48",
    ),
    pytest.param(
        Case(
            requester=("10.1.0.0/16", "2600:1f18:abce:1200::/56"),
            accepter=("10.0.0.0/16", "2600:1f18:abcd::/48"),
            accept=True,
            reasons=APPROVED,
            words=APPROVED_WORDS,
        ),
        id="ipv6-disjoint",
    ),
    pytest.param(
        Case(
            requester=("10.0.0.0/16", "2600:1f18:abce:1200::/56"),
            accepter=("10.0.0.0/16", "2600:1f18:abcd::/48"),
            accept=False,
            reasons=V4,
            overlaps=(("10.0.0.0/16", "10.0.0.0/16"),),
            words=("IPv4 blocks overlap: 10.0.0.0/16 with 10.0.0.0/16",),
        ),
        id="ipv4-overlap-only-when-ipv6-disjoint",
    ),
    pytest.param(
        Case(
            requester=("2600:1f18:abcd:1200::/56",),
            accepter=("10.0.0.0/16",),
            accept=True,
            reasons=APPROVED,
            words=APPROVED_WORDS,
        ),
        id="ipv6-only-requester-vs-ipv4-only-accepter",
    ),
    # --- several failing reasons at once, reported together and in order
    pytest.param(
        Case(
            requester_account=OUTSIDER,
            enabled_tag="True",
            requester=("10.0.0.0/16", "2600:1f18:abcd:1200::/56"),
            accepter=("10.0.0.0/16", "2600:1f18:abcd::/48"),
            accept=False,
            reasons=(
                Reason.REQUESTER_NOT_APPROVED,
                Reason.ACCEPTER_NOT_OPTED_IN,
                Reason.IPV4_OVERLAP,
                Reason.IPV6_OVERLAP,
            ),
            overlaps=(("10.0.0.0/16", "10.0.0.0/16"), ("2600:1f18:abcd:1200::/56", "2600:1f18:abcd::/48")),
            words=(f"requester account {OUTSIDER}", f"{ENABLED_TAG} is 'True'", "IPv4 blocks", "IPv6 blocks"),
        ),
        id="all-four-reasons-together",
    ),
    pytest.param(
        Case(
            requester_account=OUTSIDER,
            requester=("10.0.0.0/16",),
            accepter=("10.0.0.0/16",),
            accept=False,
            reasons=(Reason.REQUESTER_NOT_APPROVED, Reason.IPV4_OVERLAP),
            overlaps=(("10.0.0.0/16", "10.0.0.0/16"),),
            words=(f"requester account {OUTSIDER} is not in ApprovedAccountIds", "IPv4 blocks overlap"),
        ),
        id="not-approved-and-ipv4-overlap",
    ),
    pytest.param(
        Case(
            enabled_tag=MISSING,
            requester=("2600:1f18:abcd:1200::/56",),
            accepter=("2600:1f18:abcd::/48",),
            accept=False,
            reasons=(Reason.ACCEPTER_NOT_OPTED_IN, Reason.IPV6_OVERLAP),
            overlaps=(("2600:1f18:abcd:1200::/56", "2600:1f18:abcd::/48"),),
            words=(f"tag {ENABLED_TAG} is missing", "IPv6 blocks overlap"),
        ),
        id="not-opted-in-and-ipv6-overlap",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_decide(case: Case) -> None:
    # GIVEN a request and the accepter VPC as its owner describes it
    peering = make_peering(case.requester_account, case.status, case.requester)
    vpc = make_accepter_vpc(case.accepter, case.enabled_tag)

    # WHEN the autopilot decides
    decision = decide(peering, vpc, Cidrs.of(case.requester), SETTINGS)

    # THEN every failing condition is reported, in order, with its words
    assert decision.accept is case.accept
    assert decision.reasons == case.reasons
    assert decision.code == case.reasons[0].value
    assert decision.overlaps == case.overlaps
    for word in case.words:
        assert word in decision.explanation


def test_decide_explains_every_failing_reason_in_order_joined_by_semicolons() -> None:
    peering = make_peering(OUTSIDER, PENDING, ("10.0.0.0/16", "2600:1f18:abcd:1200::/56"))
    vpc = make_accepter_vpc(("10.0.0.0/16", "2600:1f18:abcd::/48"), "True")

    decision = decide(peering, vpc, peering.requester.cidrs, SETTINGS)

    assert decision.explanation == (
        f"requester account {OUTSIDER} is not in ApprovedAccountIds; "
        f"accepter VPC {ACCEPTER_VPC} tag peering-autopilot:enabled is 'True', not 'true'; "
        "IPv4 blocks overlap: 10.0.0.0/16 with 10.0.0.0/16; "
        "IPv6 blocks overlap: 2600:1f18:abcd:1200::/56 with 2600:1f18:abcd::/48"
    )
    assert decision.code == "requester-not-approved"


def test_decide_accepts_with_the_exact_explanation() -> None:
    peering = make_peering(MEMBER, PENDING, ("10.1.0.0/16",))
    vpc = make_accepter_vpc(("10.0.0.0/16",), "true")

    decision = decide(peering, vpc, peering.requester.cidrs, SETTINGS)

    assert decision == Decision(
        accept=True,
        reasons=(Reason.APPROVED,),
        explanation=(
            f"requester account {MEMBER} is approved, accepter VPC {ACCEPTER_VPC} is opted in, "
            "no address blocks overlap, and every block is inside AllowedPeerCidrs"
        ),
        overlaps=(),
    )
    assert decision.code == "approved"


def test_a_requester_vpc_that_could_not_be_read_is_never_accepted() -> None:
    # Issue 9, point 5: "no overlap" is never claimed from the peering's own CIDR list
    peering = make_peering(MEMBER, PENDING, ("10.1.0.0/16",))
    vpc = make_accepter_vpc(("10.0.0.0/16",), "true")

    decision = decide(peering, vpc, None, SETTINGS)

    assert not decision.accept
    assert decision.reasons == (Reason.REQUESTER_NOT_READ,)
    assert decision.explanation == (
        f"requester VPC {peering.requester.vpc_id} could not be read in account {MEMBER}: "
        "overlap cannot be ruled out from the peering's own CIDR list"
    )
    assert not Reason.REQUESTER_NOT_READ.final


@pytest.mark.parametrize(
    ("requester", "accepter", "named"),
    [
        pytest.param(("203.0.113.0/24",), ("10.0.0.0/16",), "requester block 203.0.113.0/24", id="public-requester"),
        pytest.param(("10.1.0.0/16", "8.8.8.0/24"), ("10.0.0.0/16",), "requester block 8.8.8.0/24", id="secondary"),
        pytest.param(
            ("10.1.0.0/16",), ("10.0.0.0/16", "198.51.100.0/24"), "accepter block 198.51.100.0/24", id="accepter"
        ),
    ],
)
def test_a_block_outside_the_allowed_peer_cidrs_is_not_accepted(
    requester: tuple[str, ...], accepter: tuple[str, ...], named: str
) -> None:
    peering = make_peering(MEMBER, PENDING, requester)
    vpc = make_accepter_vpc(accepter, "true")

    decision = decide(peering, vpc, peering.requester.cidrs, SETTINGS)

    assert decision.reasons == (Reason.PEER_CIDR_NOT_ALLOWED,)
    assert decision.explanation == (
        f"{named} outside AllowedPeerCidrs (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10; any IPv6)"
    )
    assert Reason.PEER_CIDR_NOT_ALLOWED.final


def test_decide_uses_the_requester_cidrs_given_not_only_the_peerings_own() -> None:
    # GIVEN the peering reports only the requester's primary, but its VPC also holds a secondary
    peering = make_peering(MEMBER, PENDING, ("10.1.0.0/16",))
    vpc = make_accepter_vpc(("10.0.0.0/16",), "true")
    completed = peering.requester.cidrs.union(Cidrs.of(["10.0.64.0/18"]))

    # WHEN deciding on the completed list
    decision = decide(peering, vpc, completed, SETTINGS)

    # THEN the secondary's overlap counts
    assert decision.reasons == (Reason.IPV4_OVERLAP,)
    assert decision.overlaps == (("10.0.64.0/18", "10.0.0.0/16"),)


def test_reason_codes_are_the_stable_strings_used_in_tags_and_events() -> None:
    assert [r.value for r in Reason] == [
        "approved",
        "not-pending",
        "requester-not-approved",
        "accepter-not-opted-in",
        "requester-vpc-not-read",
        "ipv4-overlap",
        "ipv6-overlap",
        "peer-cidr-not-allowed",
        "routed-elsewhere",
        "policy-rejected",
        "approval-required",
    ]


# ---------------------------------------------------------------------------------- find_overlaps


def v4(*blocks: str) -> list[IPv4Network]:
    return [IPv4Network(b) for b in blocks]


def v6(*blocks: str) -> list[IPv6Network]:
    return [IPv6Network(b) for b in blocks]


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"),
    [
        pytest.param(v4(), v4("10.0.0.0/16"), [], id="nothing-on-our-side"),
        pytest.param(v4("10.0.0.0/16"), v4(), [], id="nothing-on-their-side"),
        pytest.param(v4("10.0.0.0/16"), v4("10.1.0.0/16"), [], id="adjacent-disjoint"),
        pytest.param(v4("10.0.0.0/16"), v4("10.0.0.0/16"), [("10.0.0.0/16", "10.0.0.0/16")], id="identical"),
        pytest.param(v4("10.0.7.0/24"), v4("10.0.0.0/16"), [("10.0.7.0/24", "10.0.0.0/16")], id="contained"),
        pytest.param(v4("10.0.0.0/8"), v4("10.200.0.0/16"), [("10.0.0.0/8", "10.200.0.0/16")], id="containing"),
        pytest.param(
            v4("10.0.0.0/16", "192.168.0.0/16"),
            v4("192.168.1.0/24", "10.0.5.0/24", "172.16.0.0/12"),
            [("10.0.0.0/16", "10.0.5.0/24"), ("192.168.0.0/16", "192.168.1.0/24")],
            id="every-pair-ours-outer-theirs-inner",
        ),
        pytest.param(
            v6("2600:1f18:abcd:1200::/56"),
            v6("2600:1f18:abcd::/48"),
            [("2600:1f18:abcd:1200::/56", "2600:1f18:abcd::/48")],
            id="ipv6-contained",
        ),
        pytest.param(v6("2600:1f18:abcd:1200::/56"), v6("2600:1f18:abce::/48"), [], id="ipv6-disjoint"),
    ],
)
def test_find_overlaps(
    ours: list[IPv4Network] | list[IPv6Network],
    theirs: list[IPv4Network] | list[IPv6Network],
    expected: list[tuple[str, str]],
) -> None:
    assert find_overlaps(ours, theirs) == expected


# ---------------------------------------------------------------------------------- Cidrs


def test_cidrs_of_splits_ipv4_and_ipv6_keeping_order() -> None:
    cidrs = Cidrs.of(["10.1.0.0/16", "2600:1f18:abcd:1200::/56", "172.16.0.0/20", "2600:1f14::/56"])

    assert cidrs.ipv4 == (IPv4Network("10.1.0.0/16"), IPv4Network("172.16.0.0/20"))
    assert cidrs.ipv6 == (IPv6Network("2600:1f18:abcd:1200::/56"), IPv6Network("2600:1f14::/56"))
    assert cidrs.as_strings() == ["10.1.0.0/16", "172.16.0.0/20", "2600:1f18:abcd:1200::/56", "2600:1f14::/56"]


def test_cidrs_of_drops_duplicates_including_differently_written_ones() -> None:
    # "10.1.0.9/16" has host bits set: it is read as its network, the same block as "10.1.0.0/16"
    cidrs = Cidrs.of(["10.1.0.0/16", "10.1.0.0/16", "10.1.0.9/16", "2600:1f18::/56", "2600:1f18:0::/56"])

    assert cidrs == Cidrs((IPv4Network("10.1.0.0/16"),), (IPv6Network("2600:1f18::/56"),))


def test_cidrs_of_nothing_is_empty() -> None:
    assert Cidrs.of([]) == Cidrs((), ())
    assert Cidrs.of([]).as_strings() == []


def test_cidrs_of_refuses_what_is_not_a_block() -> None:
    with pytest.raises(ValueError, match=re.escape("10.0.0.0/33")):
        Cidrs.of(["10.0.0.0/33"])


def test_cidrs_union_keeps_our_order_then_theirs_without_duplicates() -> None:
    ours = Cidrs.of(["10.1.0.0/16", "10.2.0.0/16", "2600:1f18::/56"])
    theirs = Cidrs.of(["10.2.0.0/16", "10.3.0.0/16", "2600:1f18::/56", "2600:1f14::/56"])

    union = ours.union(theirs)

    assert union.as_strings() == ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "2600:1f18::/56", "2600:1f14::/56"]
    assert ours.as_strings() == ["10.1.0.0/16", "10.2.0.0/16", "2600:1f18::/56"]  # unchanged


def test_cidrs_union_with_empty_is_identity() -> None:
    cidrs = Cidrs.of(["10.1.0.0/16", "2600:1f18::/56"])

    assert cidrs.union(Cidrs()) == cidrs
    assert Cidrs().union(cidrs) == cidrs


# ---------------------------------------------------------------------------------- Vpc.from_api


def describe_vpcs_item(**overrides: Any) -> dict[str, Any]:
    """One item of a real DescribeVpcs response (boto3's shape)."""
    item: dict[str, Any] = {
        "OwnerId": HUB,
        "InstanceTenancy": "default",
        "CidrBlockAssociationSet": [
            {
                "AssociationId": "vpc-cidr-assoc-0aaaaaaaaaaaaaaa1",
                "CidrBlock": "10.0.0.0/16",
                "CidrBlockState": {"State": "associated"},
            },
            {
                "AssociationId": "vpc-cidr-assoc-0aaaaaaaaaaaaaaa2",
                "CidrBlock": "100.64.0.0/16",
                "CidrBlockState": {"State": "associated"},
            },
            {
                "AssociationId": "vpc-cidr-assoc-0aaaaaaaaaaaaaaa3",
                "CidrBlock": "172.31.0.0/16",
                "CidrBlockState": {"State": "disassociated"},
            },
        ],
        "Ipv6CidrBlockAssociationSet": [
            {
                "AssociationId": "vpc-cidr-assoc-0aaaaaaaaaaaaaaa4",
                "Ipv6CidrBlock": "2600:1f18:abcd:1200::/56",
                "Ipv6CidrBlockState": {"State": "associated"},
                "NetworkBorderGroup": REGION,
                "Ipv6Pool": "Amazon",
            },
            {
                "AssociationId": "vpc-cidr-assoc-0aaaaaaaaaaaaaaa5",
                "Ipv6CidrBlock": "2600:1f18:abcd:3400::/56",
                "Ipv6CidrBlockState": {"State": "disassociated"},
                "NetworkBorderGroup": REGION,
                "Ipv6Pool": "Amazon",
            },
        ],
        "IsDefault": False,
        "Tags": [{"Key": "Name", "Value": "shared-services"}, {"Key": ENABLED_TAG, "Value": "true"}],
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        "VpcId": ACCEPTER_VPC,
        "State": "available",
        "CidrBlock": "10.0.0.0/16",
        "DhcpOptionsId": "dopt-0ccccccccccccccc3",
    }
    item.update(overrides)
    return item


def test_vpc_from_api_reads_live_blocks_and_ignores_disassociated_ones() -> None:
    vpc = Vpc.from_api(describe_vpcs_item(), REGION)

    assert vpc == Vpc(
        vpc_id=ACCEPTER_VPC,
        account_id=HUB,
        region=REGION,
        cidrs=Cidrs.of(["10.0.0.0/16", "100.64.0.0/16", "2600:1f18:abcd:1200::/56"]),
        tags={"Name": "shared-services", ENABLED_TAG: "true"},
    )
    assert vpc.opted_in is True


@pytest.mark.parametrize(
    ("state", "kept"),
    [
        pytest.param("associated", True, id="associated-kept"),
        pytest.param("associating", True, id="associating-kept"),
        pytest.param("disassociating", True, id="disassociating-still-claims-its-range"),
        pytest.param("disassociated", False, id="disassociated-ignored"),
        pytest.param("failed", False, id="failed-ignored"),
        pytest.param("failing", False, id="failing-ignored"),
    ],
)
def test_vpc_from_api_keeps_a_secondary_block_by_state(state: str, kept: bool) -> None:
    associations = [
        {"CidrBlock": "10.0.0.0/16", "CidrBlockState": {"State": "associated"}},
        {"CidrBlock": "10.9.0.0/16", "CidrBlockState": {"State": state}},
    ]

    vpc = Vpc.from_api(describe_vpcs_item(CidrBlockAssociationSet=associations, Ipv6CidrBlockAssociationSet=[]), REGION)

    assert vpc.cidrs.as_strings() == (["10.0.0.0/16", "10.9.0.0/16"] if kept else ["10.0.0.0/16"])


def test_vpc_from_api_falls_back_to_the_primary_block_without_association_sets() -> None:
    item = describe_vpcs_item()
    del item["CidrBlockAssociationSet"], item["Ipv6CidrBlockAssociationSet"]

    vpc = Vpc.from_api(item, REGION)

    assert vpc.cidrs.as_strings() == ["10.0.0.0/16"]


def test_vpc_from_api_keeps_the_ipv4_primary_when_only_ipv6_associations_are_listed() -> None:
    item = describe_vpcs_item()
    del item["CidrBlockAssociationSet"]

    vpc = Vpc.from_api(item, REGION)

    assert vpc.cidrs.as_strings() == ["10.0.0.0/16", "2600:1f18:abcd:1200::/56"]


@pytest.mark.parametrize(
    ("tags", "opted_in"),
    [
        pytest.param([{"Key": ENABLED_TAG, "Value": "true"}], True, id="true"),
        pytest.param([{"Key": ENABLED_TAG, "Value": "True"}], False, id="True"),
        pytest.param([{"Key": ENABLED_TAG, "Value": "TRUE"}], False, id="TRUE"),
        pytest.param([{"Key": ENABLED_TAG, "Value": "yes"}], False, id="yes"),
        pytest.param([{"Key": ENABLED_TAG, "Value": "false"}], False, id="false"),
        pytest.param([{"Key": "Name", "Value": "true"}], False, id="other-tag-only"),
        pytest.param([], False, id="no-tags"),
    ],
)
def test_vpc_opted_in_needs_exactly_true(tags: list[dict[str, str]], opted_in: bool) -> None:
    assert Vpc.from_api(describe_vpcs_item(Tags=tags), REGION).opted_in is opted_in


def test_vpc_from_api_without_tags_has_none() -> None:
    item = describe_vpcs_item()
    del item["Tags"]

    assert Vpc.from_api(item, OTHER_REGION).tags == {}
    assert Vpc.from_api(item, OTHER_REGION).region == OTHER_REGION


# ---------------------------------------------------------------------------------- PeeringSide / Peering


def describe_peering_item() -> dict[str, Any]:
    """One item of a real DescribeVpcPeeringConnections response, as the accepter's account sees it."""
    return {
        "AccepterVpcInfo": {
            "CidrBlock": "10.0.0.0/16",
            "CidrBlockSet": [{"CidrBlock": "10.0.0.0/16"}, {"CidrBlock": "100.64.0.0/16"}],
            "Ipv6CidrBlockSet": [{"Ipv6CidrBlock": "2600:1f18:abcd:1200::/56"}],
            "OwnerId": HUB,
            "PeeringOptions": {
                "AllowDnsResolutionFromRemoteVpc": False,
                "AllowEgressFromLocalClassicLinkToRemoteVpc": False,
                "AllowEgressFromLocalVpcToRemoteClassicLink": False,
            },
            "VpcId": ACCEPTER_VPC,
            "Region": REGION,
        },
        "ExpirationTime": datetime(2025, 3, 11, 10, 15, 30, tzinfo=UTC),
        "RequesterVpcInfo": {
            "CidrBlock": "10.1.0.0/16",
            "CidrBlockSet": [{"CidrBlock": "10.1.0.0/16"}, {"CidrBlock": "10.2.0.0/16"}],
            "Ipv6CidrBlockSet": [{"Ipv6CidrBlock": "2600:1f14:1234:5600::/56"}],
            "OwnerId": MEMBER,
            "PeeringOptions": {
                "AllowDnsResolutionFromRemoteVpc": False,
                "AllowEgressFromLocalClassicLinkToRemoteVpc": False,
                "AllowEgressFromLocalVpcToRemoteClassicLink": False,
            },
            "VpcId": REQUESTER_VPC,
            "Region": OTHER_REGION,
        },
        "Status": {"Code": "pending-acceptance", "Message": f"Pending Acceptance by {HUB}"},
        "Tags": [{"Key": "Name", "Value": "member-to-hub"}],
        "VpcPeeringConnectionId": PEERING_ID,
    }


def test_peering_side_from_api_reads_cidr_block_cidr_block_set_and_ipv6_set() -> None:
    side = PeeringSide.from_api(describe_peering_item()["RequesterVpcInfo"], REGION)

    assert side == PeeringSide(
        account_id=MEMBER,
        region=OTHER_REGION,
        vpc_id=REQUESTER_VPC,
        cidrs=Cidrs.of(["10.1.0.0/16", "10.2.0.0/16", "2600:1f14:1234:5600::/56"]),
    )
    assert side.describe() == {
        "accountId": MEMBER,
        "region": OTHER_REGION,
        "vpcId": REQUESTER_VPC,
        "cidrs": ["10.1.0.0/16", "10.2.0.0/16", "2600:1f14:1234:5600::/56"],
    }


def test_peering_side_from_api_reads_the_cidr_block_set_without_a_primary_cidr_block() -> None:
    info = describe_peering_item()["RequesterVpcInfo"]
    del info["CidrBlock"], info["Ipv6CidrBlockSet"]

    assert PeeringSide.from_api(info, REGION).cidrs.as_strings() == ["10.1.0.0/16", "10.2.0.0/16"]


def test_peering_side_from_api_defaults_the_region_and_may_know_no_blocks() -> None:
    # A pending request's accepter side may list no CIDR block at all, and same-region info may omit Region
    info = {"OwnerId": HUB, "VpcId": ACCEPTER_VPC}

    side = PeeringSide.from_api(info, REGION)

    assert side == PeeringSide(HUB, REGION, ACCEPTER_VPC, Cidrs())


def test_peering_from_api_reads_both_sides_status_and_tags() -> None:
    peering = Peering.from_api(describe_peering_item(), REGION)

    assert peering.peering_id == PEERING_ID
    assert peering.status == "pending-acceptance"
    assert peering.status_message == f"Pending Acceptance by {HUB}"
    assert peering.tags == {"Name": "member-to-hub"}
    assert peering.requester.account_id == MEMBER
    assert peering.requester.region == OTHER_REGION
    assert peering.accepter == PeeringSide(
        HUB, REGION, ACCEPTER_VPC, Cidrs.of(["10.0.0.0/16", "100.64.0.0/16", "2600:1f18:abcd:1200::/56"])
    )


def test_peering_from_api_without_status_is_unknown() -> None:
    item = describe_peering_item()
    del item["Status"], item["Tags"]

    peering = Peering.from_api(item, REGION)

    assert (peering.status, peering.status_message, dict(peering.tags)) == ("unknown", "", {})


def test_a_peering_read_from_the_api_feeds_decide() -> None:
    # GIVEN the peering and the accepter VPC as EC2 describes them, the requester's blocks disjoint
    peering = Peering.from_api(describe_peering_item(), REGION)
    vpc = Vpc.from_api(describe_vpcs_item(), REGION)

    decision = decide(peering, vpc, peering.requester.cidrs, SETTINGS)

    assert (decision.accept, decision.reasons, decision.overlaps) == (True, (Reason.APPROVED,), ())


def test_an_asked_request_that_could_carry_nothing_is_declined_for_a_reason_that_may_pass_first() -> None:
    # GIVEN a policy that asks about every request, and every peer block held on the accepter side
    asking = parse({"version": 1, "defaults": {"outcome": "ask"}}, SETTINGS.allowed_peer_cidrs)
    settings = replace(SETTINGS, policy=asking)
    peering = make_peering(MEMBER, PENDING, ["10.1.0.0/16"])
    vpc = make_accepter_vpc(["10.0.0.0/16"], "true")

    # WHEN it is decided without, then with, the held blocks
    asked = decide(peering, vpc, peering.requester.cidrs, settings)
    held = decide(peering, vpc, peering.requester.cidrs, settings, {"accepter": ["10.1.0.0/16 in rtb-1"]})

    # THEN alone, the ask is a person's to answer; held, the routes come first (retried with back-off),
    # and the person is asked once the routes have moved
    assert asked.asks and asked.code == "approval-required"
    assert not held.asks
    assert held.reasons == (Reason.ROUTED_ELSEWHERE, Reason.APPROVAL_REQUIRED)
    assert held.code == "routed-elsewhere" and Reason.ROUTED_ELSEWHERE.may_pass
