"""Whether a peering request may be accepted. Pure: no AWS, so every case is a table row in tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv4Network, IPv6Network

from peering_autopilot.model import ENABLED_TAG, Cidrs, Peering, Vpc
from peering_autopilot.settings import Settings

PENDING = "pending-acceptance"


class Reason(Enum):
    """Why a request is or is not accepted; the value is the stable code used in tags and events."""

    APPROVED = "approved"
    NOT_PENDING = "not-pending"
    REQUESTER_NOT_APPROVED = "requester-not-approved"
    ACCEPTER_NOT_OPTED_IN = "accepter-not-opted-in"
    IPV4_OVERLAP = "ipv4-overlap"
    IPV6_OVERLAP = "ipv6-overlap"


@dataclass(frozen=True)
class Decision:
    accept: bool
    reasons: tuple[Reason, ...]
    explanation: str
    overlaps: tuple[tuple[str, str], ...] = field(default=())

    @property
    def code(self) -> str:
        """The first reason: what the status tag and metrics carry."""
        return self.reasons[0].value


def find_overlaps(
    ours: Sequence[IPv4Network] | Sequence[IPv6Network],
    theirs: Sequence[IPv4Network] | Sequence[IPv6Network],
) -> list[tuple[str, str]]:
    """Every pair of blocks, one from each side, that share an address."""
    return [(str(a), str(b)) for a in ours for b in theirs if a.overlaps(b)]


def decide(
    peering: Peering,
    accepter_vpc: Vpc,
    requester_cidrs: Cidrs,
    settings: Settings,
) -> Decision:
    """Accept only a pending request from an approved account into an opted-in VPC whose address
    space is disjoint from the requester's. Every failing condition is reported, not just the first."""
    if peering.status != PENDING:
        return Decision(
            accept=False,
            reasons=(Reason.NOT_PENDING,),
            explanation=f"status is {peering.status}, not {PENDING}: nothing to decide",
        )

    reasons: list[Reason] = []
    words: list[str] = []
    requester_account = peering.requester.account_id
    if not settings.is_managed_account(requester_account):
        reasons.append(Reason.REQUESTER_NOT_APPROVED)
        words.append(f"requester account {requester_account} is not in ApprovedAccountIds")
    if not accepter_vpc.opted_in:
        reasons.append(Reason.ACCEPTER_NOT_OPTED_IN)
        found = accepter_vpc.tags.get(ENABLED_TAG)
        seen = "is missing" if found is None else f"is {found!r}"
        words.append(f"accepter VPC {accepter_vpc.vpc_id} tag {ENABLED_TAG} {seen}, not 'true'")

    accepter_cidrs = accepter_vpc.cidrs
    overlaps_v4 = find_overlaps(requester_cidrs.ipv4, accepter_cidrs.ipv4)
    overlaps_v6 = find_overlaps(requester_cidrs.ipv6, accepter_cidrs.ipv6)
    if overlaps_v4:
        reasons.append(Reason.IPV4_OVERLAP)
        words.append("IPv4 blocks overlap: " + ", ".join(f"{a} with {b}" for a, b in overlaps_v4))
    if overlaps_v6:
        reasons.append(Reason.IPV6_OVERLAP)
        words.append("IPv6 blocks overlap: " + ", ".join(f"{a} with {b}" for a, b in overlaps_v6))

    if reasons:
        return Decision(
            accept=False,
            reasons=tuple(reasons),
            explanation="; ".join(words),
            overlaps=tuple(overlaps_v4 + overlaps_v6),
        )
    return Decision(
        accept=True,
        reasons=(Reason.APPROVED,),
        explanation=(
            f"requester account {requester_account} is approved, accepter VPC "
            f"{accepter_vpc.vpc_id} is opted in, and no address blocks overlap"
        ),
    )
