"""Whether a peering request may be accepted. Pure: no AWS, so every case is a table row in tests."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import field
from datetime import UTC, datetime
from enum import Enum
from ipaddress import IPv4Network, IPv6Network

from peering_autopilot.model import ENABLED_TAG, STATUS_TAG, Cidrs, Peering, Vpc
from peering_autopilot.policy import ASK, PARAMETERS_RULE, REJECT, Party, Verdict
from peering_autopilot.settings import Settings
from peering_autopilot.structs import NamedTuple, struct

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
    POLICY_REJECTED = "policy-rejected"  # the network team's policy says reject (its rule is named)
    APPROVAL_REQUIRED = "approval-required"  # the policy says ask: a person decides

    @property
    def final(self) -> bool:
        """A reason that says no to the request itself (what UnapprovedRequestAction=reject may
        act on), not that the autopilot could not look."""
        return self not in (
            Reason.NOT_PENDING,
            Reason.REQUESTER_NOT_READ,
            Reason.ACCEPTER_NOT_OPTED_IN,
            Reason.ROUTED_ELSEWHERE,  # the estate's routes, not the request: a person may move them
            Reason.APPROVAL_REQUIRED,  # a person decides
        )

    @property
    def may_pass(self) -> bool:
        """A reason that can go away with nobody deciding anything about the request: the
        autopilot could not look (the requester's member role could not be assumed, or its VPC not
        read), or every peer block was held because other routes claim its range (they may be
        moved). A request declined for it is decided again, with back-off (`retry_state`). Not
        `accepter-not-opted-in`: opting in is a person's act, and sweeps the VPC at once
        (`reconsider`)."""
        return self in (Reason.REQUESTER_NOT_READ, Reason.ROUTED_ELSEWHERE)


@struct(frozen=True)
class Decision:
    accept: bool
    reasons: tuple[Reason, ...]
    explanation: str
    overlaps: tuple[tuple[str, str], ...] = field(default=())
    # What the network team's policy said of the pair (None: not asked, the requester is not managed
    # or the request not pending).
    verdict: Verdict | None = field(default=None, compare=False)

    @property
    def asks(self) -> bool:
        """Declined only because the policy asks a person: the approval flow's case."""
        return self.reasons == (Reason.APPROVAL_REQUIRED,)

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
    now: float = 0.0,
    requester_vpc: Vpc | None = None,
) -> Decision:
    """Accept only a pending request from an approved account into an opted-in VPC whose address
    space is disjoint from the requester's, both VPCs' blocks inside AllowedPeerCidrs. Every failing
    condition is reported, not just the first. `requester_cidrs` is None when the requester's VPC
    could not be read in its own account: overlap cannot be ruled out, so it is never accepted.
    `held`: for a side (requester, accepter) on which every peer block would be held (a live route
    there already sends it elsewhere: `side_plan.SidePlan.carries_nothing`), the held blocks in
    words: a peering that could carry nothing there is not accepted. The network team's policy
    (`Settings.current_policy`) is asked of a managed requester, with both VPCs' tags as their own
    accounts read them (`requester_vpc`; none when it could not be read) at `now`: its reject and ask
    are reasons like the others; every block must be inside its owner's ranges (`Settings.ranges_of`)."""
    if peering.status != PENDING:
        return Decision(
            accept=False,
            reasons=(Reason.NOT_PENDING,),
            explanation=f"status is {peering.status}, not {PENDING}: nothing to decide",
        )

    reasons: list[Reason] = []
    words: list[str] = []
    requester_account = peering.requester.account_id
    verdict = policy_verdict(peering, requester_vpc, accepter_vpc, settings, now)
    if not settings.is_managed_account(requester_account) and verdict is None:
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

    # Each side's blocks against its own owner's ranges, worded per set of ranges.
    outside: dict[tuple[str, str], list[str]] = {}
    for role, account, cidrs in (
        ("requester", requester_account, requester_cidrs),
        ("accepter", peering.accepter.account_id, accepter_cidrs),
    ):
        ranges = settings.ranges_of(account)
        for block in ranges.outside((*cidrs.ipv4, *cidrs.ipv6)):
            outside.setdefault((ranges.label, ranges.describe()), []).append(f"{role} block {block}")
    if outside:
        reasons.append(Reason.PEER_CIDR_NOT_ALLOWED)
        words += [f"{', '.join(found)} outside {label} ({ranges_})" for (label, ranges_), found in outside.items()]

    # Before the policy's word: a request asked about that could carry nothing is declined for a
    # reason that may pass (its code first), and asked about once the routes have moved.
    held_sides = {role: words_ for role, words_ in (held or {}).items() if words_}
    if held_sides:
        reasons.append(Reason.ROUTED_ELSEWHERE)
        words.append(
            "; ".join(
                f"every peer block would be held on the {role} side, already routed elsewhere: " + "; ".join(found)
                for role, found in sorted(held_sides.items())
            )
        )

    if verdict is not None:
        if verdict.outcome == REJECT:
            reasons.append(Reason.POLICY_REJECTED)
            words.append(f"the policy rejects it: {verdict.why}")
        elif verdict.outcome == ASK:
            reasons.append(Reason.APPROVAL_REQUIRED)
            words.append(f"the policy asks a person: {verdict.why}")

    if reasons:
        return Decision(
            accept=False,
            reasons=tuple(reasons),
            explanation="; ".join(words),
            overlaps=tuple(overlaps_v4 + overlaps_v6),
            verdict=verdict,
        )
    return Decision(
        accept=True,
        reasons=(Reason.APPROVED,),
        explanation=(
            f"requester account {requester_account} is approved, accepter VPC "
            f"{accepter_vpc.vpc_id} is opted in, no address blocks overlap, and every block is inside "
            + (
                "AllowedPeerCidrs"
                if verdict is None or verdict.rule == PARAMETERS_RULE
                else f"its owner's ranges; {verdict.why}"
            )
        ),
        verdict=verdict,
    )


def policy_verdict(
    peering: Peering, requester_vpc: Vpc | None, accepter_vpc: Vpc | None, settings: Settings, now: float
) -> Verdict | None:
    """What the network team's policy says of the pair now: the one place a request's parties are
    made (`decide`, configure's approval check, and the sweep asking whether an awaiting request's
    answer changed). A requester the hub does not manage is spoken for only by a rule naming its
    account (`Policy.verdict_for_outsider`); None when none does."""
    policy = settings.current_policy()
    requester = _party(peering.requester.account_id, peering.requester.vpc_id, requester_vpc, settings)
    accepter = _party(peering.accepter.account_id, peering.accepter.vpc_id, accepter_vpc, settings)
    if not settings.is_managed_account(peering.requester.account_id):
        return policy.verdict_for_outsider(requester, accepter, now)
    return policy.verdict(requester, accepter, now)


def _party(account_id: str, vpc_id: str, vpc: Vpc | None, settings: Settings) -> Party:
    """A side as the policy sees it: its account, OU path and tags in the Organization (as the
    sweep's walk read them; None when not read, or read too long ago and why), and its VPC tags
    (as its own account read them; none when the VPC could not be read, so no tag-matching rule
    matches it)."""
    return Party(
        account_id,
        settings.ou_path(account_id),
        vpc_id,
        vpc.tags if vpc is not None else {},
        settings.account_tags(account_id),
        settings.account_tags_unknown(account_id),
    )


# ---------------------------------------------------------------------- a decline that can pass
# A request declined for a reason that may pass is decided again, with back-off: attempts and the
# time of the last one are noted on the peering, in the accepter's account, as
# `peering-autopilot:retry` = `<attempts> <ISO-8601 UTC time>`. The wait doubles from 15 minutes
# after each decline, up to 6 hours. Pure: the accept step writes the tag, the sweep and the status
# command read it, all through the functions below.
RETRY_TAG = "peering-autopilot:retry"
DECLINED = "declined"
FIRST_RETRY_SECONDS = 15 * 60.0
MAX_RETRY_SECONDS = 6 * 3600.0


class Retry(NamedTuple):
    """The declines noted so far for a reason that may pass, and when the last one was."""

    attempts: int  # decisions that declined so far, at least 1
    at: float  # the last one, seconds since the epoch

    @property
    def wait(self) -> float:
        """Seconds from the last decline until the next decision: 15 minutes doubled per decline
        after the first, at most 6 hours."""
        doublings = min(max(self.attempts - 1, 0), 16)  # past the cap long before: no huge powers
        return min(FIRST_RETRY_SECONDS * (1 << doublings), MAX_RETRY_SECONDS)

    @property
    def due_at(self) -> float:
        return self.at + self.wait

    @property
    def tag_value(self) -> str:
        return f"{self.attempts} {datetime.fromtimestamp(self.at, UTC).replace(microsecond=0).isoformat()}"


def parse_retry(value: str | None) -> Retry | None:
    """The retry tag's value; None when there is none or it does not parse (any spelling: a
    person's edit, a truncated value), which allows a decision at once, counted from 1."""
    if value is None:
        return None
    parts = value.split()
    if len(parts) != 2 or not parts[0].isascii() or not parts[0].isdigit() or int(parts[0]) < 1:
        return None
    try:
        at = datetime.fromisoformat(parts[1])
        if at.tzinfo is None:
            return None  # a time without its zone is not UTC for certain
        return Retry(int(parts[0]), at.timestamp())
    except (ValueError, OverflowError):
        return None


def declined_may_pass(status: str | None) -> bool:
    """Whether a status tag value says: declined for a reason that may pass."""
    kind, _, code = (status or "").partition(":")
    return kind == DECLINED and any(r.value == code and r.may_pass for r in Reason)


class RetryState(NamedTuple):
    """Where a request declined for a reason that may pass stands."""

    attempt: int  # the decision due next, as the retry tag will count it: 1 + the declines noted
    wait: float  # seconds until it is due; 0 when due now

    @property
    def due(self) -> bool:
        return self.wait <= 0

    def describe(self) -> str:
        """The status command's words."""
        if self.due:
            return f"retry due (attempt {self.attempt})"
        return f"retrying in {math.ceil(self.wait / 60)} min (attempt {self.attempt})"


def retry_state(tags: Mapping[str, str], now: float) -> RetryState | None:
    """For a peering view's tags: None unless its status tag says declined for a reason that may
    pass; then when the next decision is due: a missing or unparseable retry tag, now (counted
    afresh); a last decline noted in the future (a clock or a person's edit), no later than one
    full wait from now."""
    if not declined_may_pass(tags.get(STATUS_TAG)):
        return None
    retry = parse_retry(tags.get(RETRY_TAG))
    if retry is None:
        return RetryState(1, 0.0)
    return RetryState(retry.attempts + 1, max(0.0, min(retry.due_at - now, retry.wait)))


def next_retry(tags: Mapping[str, str], status: str, now: float) -> Retry | None:
    """The retry tag a decision with status tag value `status` leaves, given the peering's tags
    before it: None unless it declines for a reason that may pass; one more attempt when the same
    decline is repeated (an unparseable tag counts as none), else the first."""
    if not declined_may_pass(status):
        return None
    before = parse_retry(tags.get(RETRY_TAG)) if tags.get(STATUS_TAG) == status else None
    return Retry(before.attempts + 1 if before else 1, now)
