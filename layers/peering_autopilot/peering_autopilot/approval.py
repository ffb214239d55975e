"""A request the network team's policy asks a person about: the status it waits in, the words people
are sent (email and chat), when a reminder and an expiry are due, and whether a person's decision
counts. Pure: the accept, configure and sweep steps and the CLI ask these functions.

The flow (docs/governance.md "Asking a person"): the accept step leaves an `ask` request pending, tagged
`awaiting-approval:<rule>`, records it and tells people once ("Peering Approval Requested" and the
topic). A person decides with their own AWS identity, in the accepter account: AcceptVpcPeeringConnection
(console, CLI, or `peering-autopilot approve`) or RejectVpcPeeringConnection. CloudTrail carries
the identity AWS established to the hub; configure counts the accept only when every gate still
holds and that identity is one of the rule's approvers (`approver_allowed`). Nothing a caller
writes (a tag, an event's detail) names an approver.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from peering_autopilot.decision import Decision, Reason
from peering_autopilot.model import STATUS_TAG, Peering
from peering_autopilot.structs import NamedTuple

AWAITING = "awaiting-approval"  # status tag `awaiting-approval:<rule>`: pending, a person decides
REFUSED = "blocked:approval-refused"  # a person accepted it, but the approval did not count
UNPROVEN = "blocked:approval-not-recorded"  # accepted, and no person's approval has reached the hub (yet)
EXPIRED = "expired"  # status tag `expired:<rule>`: nobody decided within AWS's 7 days
REMINDED_TAG = "peering-autopilot:approval-reminded"  # the reminder went out (its time): sent once
REASON_TAG = "peering-autopilot:approval-reason"  # the reason a person gave with `approve`/`reject`
REMIND_BEFORE_SECONDS = 24 * 3600.0  # a reminder 24 hours before the request expires
EXPIRY_SECONDS = 7 * 24 * 3600.0  # AWS expires an unaccepted request after 7 days
MAX_REASON = 256  # a tag value's limit

# The decisions a person's approval leaves in the record (HistoryEntry.kind).
APPROVED, PERSON_REJECTED, APPROVAL_REFUSED = "approved", "rejected", "approval-refused"
ASKED, REMINDED, APPROVAL_EXPIRED = "approval-requested", "approval-reminder", "approval-expired"


def awaiting(status: str | None) -> str | None:
    """The rule that asked, when a status tag value says the request waits for a person; else None."""
    kind, _, rule = (status or "").partition(":")
    return rule if kind == AWAITING and rule else None


def status_for(rule: str) -> str:
    return f"{AWAITING}:{rule}"


def expires_at(peering: Peering) -> float | None:
    """When AWS expires the pending request (DescribeVpcPeeringConnections' ExpirationTime)."""
    return peering.expiration_time


def reminder_due(peering: Peering, now: float) -> bool:
    """Awaiting a person, within 24 hours of its expiry, and not reminded yet."""
    at = expires_at(peering)
    return (
        peering.pending
        and awaiting(peering.tags.get(STATUS_TAG)) is not None
        and REMINDED_TAG not in peering.tags
        and at is not None
        and now >= at - REMIND_BEFORE_SECONDS
    )


def expiry_due(peering: Peering) -> bool:
    """Expired while it awaited a person, and not reported yet (the status tag still says awaiting)."""
    return peering.status == EXPIRED and awaiting(peering.tags.get(STATUS_TAG)) is not None


def clean_reason(text: str) -> str:
    """A person's reason as a tag value: printable, one line, at most 256 characters."""
    one_line = " ".join(text.split())
    kept = "".join(c for c in one_line if c.isprintable())
    return kept[:MAX_REASON]


# ---------------------------------------------------------------------- does a person's accept count
class ApprovalCheck(NamedTuple):
    """Whether a person's acceptance of an asked request counts: `ok`, or the refusal's words."""

    ok: bool
    why: str
    rule: str = ""


def check_approval(decision: Decision, approver: str) -> ApprovalCheck:
    """`decision`: decide() of the request as if it were still pending, at approval time. It counts
    only when the policy's ask is the one thing standing (every other gate holds: managed, opted in,
    no overlap, each block in its owner's ranges, the policy not `reject`) and `approver` (the
    identity CloudTrail gave: an assumed role's issuer ARN, an IAM user's ARN) is one of the rule's
    approvers (none listed: anyone who may accept in the accepter account)."""
    verdict = decision.verdict
    rule = verdict.rule if verdict is not None else ""
    if any(r not in (Reason.APPROVAL_REQUIRED, Reason.APPROVED) for r in decision.reasons):
        return ApprovalCheck(False, f"a gate fails at approval time: {decision.explanation}", rule)
    if not decision.asks or verdict is None:
        return ApprovalCheck(False, "the policy does not ask a person about this request", rule)
    if not approver:
        return ApprovalCheck(False, "the call's identity is unknown: no approver", rule)
    if not verdict.approver_allowed(approver):
        return ApprovalCheck(
            False,
            f"{approver} is not an approver of rule {rule!r} (approvers: {', '.join(verdict.approvers)})",
            rule,
        )
    return ApprovalCheck(True, f"approved by {approver} under rule {rule!r}", rule)


# ---------------------------------------------------------------------- what people are told
class Ask(NamedTuple):
    """What a person is asked to decide, in facts: the request, the rule, and what it would add."""

    peering_id: str
    requester: Mapping[str, Any]  # accountId, region, vpcId, ouPath, cidrs
    accepter: Mapping[str, Any]
    rule: str
    why: str
    approvers: tuple[str, ...]
    # Per managed side: {"accountId", "region", "vpcId", "routes": ["rtb-… 10.1.0.0/16"], "rules": ["sg-… icmp from …"]}
    adds: tuple[Mapping[str, Any], ...]
    expires: str = ""  # ISO 8601 UTC, "" when unknown

    def describe(self) -> dict[str, Any]:
        return {
            "peeringId": self.peering_id,
            "requester": dict(self.requester),
            "accepter": dict(self.accepter),
            "rule": self.rule,
            "why": self.why,
            "approvers": list(self.approvers),
            "wouldAdd": [dict(a) for a in self.adds],
            "expirationTime": self.expires or None,
        }


def _place(side: Mapping[str, Any]) -> str:
    ou = "/".join(side.get("ouPath") or ())
    where = f"account {side.get('accountId')}" + (f" (OU {ou})" if ou else "")
    return f"{side.get('vpcId')} in {where}, {side.get('region')}"


def _how_to_decide(ask: Ask) -> list[str]:
    region, account = ask.accepter.get("region"), ask.accepter.get("accountId")
    who = ", ".join(ask.approvers) if ask.approvers else f"anyone who may accept peerings in account {account}"
    return [
        f"Approve, with your own AWS identity in account {account}: "
        f"peering-autopilot approve {ask.peering_id} --region {region} --reason '…' "
        f"(or accept it in the VPC console)",
        f"Reject: peering-autopilot reject {ask.peering_id} --region {region} --reason '…'",
        f"Who may approve: {who}",
    ]


def _lines(ask: Ask, headline: str) -> list[str]:
    lines = [
        headline,
        "",
        f"From (requester): {_place(ask.requester)}, blocks {', '.join(ask.requester.get('cidrs') or ()) or '?'}",
        f"To (accepter):    {_place(ask.accepter)}, blocks {', '.join(ask.accepter.get('cidrs') or ()) or '?'}",
        f"Rule: {ask.rule} ({ask.why})",
    ]
    if ask.expires:
        lines.append(f"Expires: {ask.expires}")
    lines += ["", "If approved, the autopilot adds:"]
    for side in ask.adds:
        lines.append(f"- in {side.get('vpcId')} ({side.get('accountId')}, {side.get('region')}):")
        lines += [f"  - route {r}" for r in side.get("routes", ())] or ["  - no route"]
        lines += [f"  - security-group rule {r}" for r in side.get("rules", ())]
    if not ask.adds:
        lines.append("- nothing the autopilot may change on either side")
    return lines


def notification(ask: Ask, kind: str = ASKED) -> tuple[str, str]:
    """(subject, message) for SNS with MessageStructure='json': `default` is an Amazon Q Developer in
    chat applications custom notification, which chat channels render and any other protocol
    receives as JSON; `email` is the same in plain text. The custom notification's schema is the one
    the service's administrator guide documents ("Custom notifications using Amazon Q Developer in
    chat applications"): `version` "1.0", `source` "custom", `content` with `textType`
    "client-markdown", `title`, `description`, `nextSteps` and `keywords`; optional `id` and
    `metadata` (`threadId`: the reminder and the expiry follow the request in one chat thread,
    `summary`, `eventType`, `relatedResources`, `additionalContext`). Checked with the docs search:
    it found the guide's "Customizing" page and its link to that page, not the page's text; the
    fields above are the guide's."""
    headline = {
        ASKED: f"Peering {ask.peering_id} awaits your approval",
        REMINDED: f"Reminder: peering {ask.peering_id} expires within 24 hours unless approved",
        APPROVAL_EXPIRED: f"Peering {ask.peering_id} expired: nobody approved it within 7 days",
    }[kind]
    steps = _how_to_decide(ask) if kind != APPROVAL_EXPIRED else ["Ask the requester to request it again"]
    body = _lines(ask, headline)
    chat = {
        "version": "1.0",
        "source": "custom",
        "id": f"{ask.peering_id}:{kind}",
        "content": {
            "textType": "client-markdown",
            "title": headline,
            "description": "\n".join(_markdown(line) for line in body[2:]),
            "nextSteps": steps,
            "keywords": ["peering-autopilot", ask.rule],
        },
        "metadata": {
            "threadId": ask.peering_id,
            "summary": headline,
            "eventType": kind,
            "relatedResources": [ask.peering_id, str(ask.requester.get("vpcId")), str(ask.accepter.get("vpcId"))],
            "additionalContext": {"rule": ask.rule, "requesterAccount": str(ask.requester.get("accountId"))},
        },
    }
    email = "\n".join([*body, "", "To decide:", *(f"- {s}" for s in steps)]) + "\n"
    return headline, json.dumps({"default": json.dumps(chat), "email": email})


def _markdown(line: str) -> str:
    return line.replace("`", "'")


def iso(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at, UTC).replace(microsecond=0).isoformat()


def additions(side: Mapping[str, Any], routes: Sequence[Any], rules: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """One side's would-be additions in words, for `Ask.adds`."""
    return {
        **side,
        "routes": [f"{r.route_table_id} {r.destination}" for r in routes],
        "rules": [f"{group} {rule}" for group, rs in sorted(rules.items()) for rule in rs],
    }
