"""Whether a peering request may be accepted. Pure: no AWS, so every case is a table row in tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    REQUESTER_NOT_READ = "requester-vpc-not-read"
    IPV4_OVERLAP = "ipv4-overlap"
    IPV6_OVERLAP = "ipv6-overlap"
    PEER_CIDR_NOT_ALLOWED = "peer-cidr-not-allowed"
    ROUTED_ELSEWHERE = "routed-elsewhere"  # every peer block held on a side: live routes send them elsewhere

    @property
    def final(self) -> bool:
        """A reason that says no to the request itself (what UnapprovedRequestAction=reject may
        act on), not that the autopilot could not look."""
        return self not in (
            Reason.NOT_PENDING,
            Reason.REQUESTER_NOT_READ,
            Reason.ACCEPTER_NOT_OPTED_IN,
            Reason.ROUTED_ELSEWHERE,  # the estate's routes, not the request: a person may move them
        )


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
    requester_cidrs: Cidrs | None,
    settings: Settings,
    held: Mapping[str, Sequence[str]] | None = None,
) -> Decision:
    """Accept only a pending request from an approved account into an opted-in VPC whose address
    space is disjoint from the requester's, both VPCs' blocks inside AllowedPeerCidrs. Every failing
    condition is reported, not just the first. `requester_cidrs` is None when the requester's VPC
    could not be read in its own account: overlap cannot be ruled out, so it is never accepted.
    `held`: for a side (requester, accepter) on which every peer block would be held (a live route
    there already sends it elsewhere: `side_plan.SidePlan.carries_nothing`), the held blocks in
    words: a peering that could carry nothing there is not accepted."""
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

    if requester_cidrs is None:
        reasons.append(Reason.REQUESTER_NOT_READ)
        words.append(
            f"requester VPC {peering.requester.vpc_id} could not be read in account {requester_account}: "
            "overlap cannot be ruled out from the peering's own CIDR list"
        )
        requester_cidrs = Cidrs()

    accepter_cidrs = accepter_vpc.cidrs
    overlaps_v4 = find_overlaps(requester_cidrs.ipv4, accepter_cidrs.ipv4)
    overlaps_v6 = find_overlaps(requester_cidrs.ipv6, accepter_cidrs.ipv6)
    if overlaps_v4:
        reasons.append(Reason.IPV4_OVERLAP)
        words.append("IPv4 blocks overlap: " + ", ".join(f"{a} with {b}" for a, b in overlaps_v4))
    if overlaps_v6:
        reasons.append(Reason.IPV6_OVERLAP)
        words.append("IPv6 blocks overlap: " + ", ".join(f"{a} with {b}" for a, b in overlaps_v6))

    policy = settings.allowed_peer_cidrs
    outside = [
        f"{role} block {block}"
        for role, cidrs in (("requester", requester_cidrs), ("accepter", accepter_cidrs))
        for block in policy.outside((*cidrs.ipv4, *cidrs.ipv6))
    ]
    if outside:
        reasons.append(Reason.PEER_CIDR_NOT_ALLOWED)
        words.append(f"{', '.join(outside)} outside AllowedPeerCidrs ({policy.describe()})")

    held_sides = {role: words_ for role, words_ in (held or {}).items() if words_}
    if held_sides:
        reasons.append(Reason.ROUTED_ELSEWHERE)
        words.append(
            "; ".join(
                f"every peer block would be held on the {role} side, already routed elsewhere: " + "; ".join(found)
                for role, found in sorted(held_sides.items())
            )
        )

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
            f"{accepter_vpc.vpc_id} is opted in, no address blocks overlap, and every block is inside "
            "AllowedPeerCidrs"
        ),
    )
