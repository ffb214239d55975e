"""approval.py: whether a person's accept counts, when a reminder and an expiry are due, and the
message people get (email text; Amazon Q Developer in chat applications' custom notification)."""

from __future__ import annotations

import json

from peering_autopilot import approval
from peering_autopilot.decision import Decision, Reason
from peering_autopilot.model import Cidrs, Peering, PeeringSide
from peering_autopilot.policy import ASK, REJECT, Verdict

APPROVER = "arn:aws:iam::222222222222:role/NetworkApprover"
OTHER = "arn:aws:iam::222222222222:role/NetworkAdmin"
ASKED = Verdict(ASK, "into-prod", "rule 'into-prod' matches: ask", (APPROVER,))
PCX = "pcx-0f1e2d3c4b5a69788"
DAY = 86400.0


def decision(*reasons: Reason, verdict: Verdict | None = ASKED, words: str = "why") -> Decision:
    return Decision(False, reasons, words, verdict=verdict)


def test_an_approval_counts_only_for_an_allowed_approver_when_the_ask_is_all_that_stands() -> None:
    asks = decision(Reason.APPROVAL_REQUIRED)
    assert approval.check_approval(asks, APPROVER) == (
        True,
        f"approved by {APPROVER} under rule 'into-prod'",
        "into-prod",
    )
    assert approval.check_approval(asks, OTHER) == (
        False,
        f"{OTHER} is not an approver of rule 'into-prod' (approvers: {APPROVER})",
        "into-prod",
    )
    assert approval.check_approval(asks, "") == (False, "the call's identity is unknown: no approver", "into-prod")
    # no approvers listed: whoever could accept in the accepter account
    anyone = decision(Reason.APPROVAL_REQUIRED, verdict=ASKED._replace(approvers=()))
    assert approval.check_approval(anyone, OTHER).ok


def test_any_other_failing_gate_or_a_policy_that_no_longer_asks_refuses_the_approval() -> None:
    overlap = decision(Reason.IPV4_OVERLAP, Reason.APPROVAL_REQUIRED, words="IPv4 blocks overlap: a with b")
    assert approval.check_approval(overlap, APPROVER) == (
        False,
        "a gate fails at approval time: IPv4 blocks overlap: a with b",
        "into-prod",
    )
    rejected = decision(Reason.POLICY_REJECTED, verdict=ASKED._replace(outcome=REJECT), words="the policy rejects it")
    assert not approval.check_approval(rejected, APPROVER).ok
    accepted = Decision(True, (Reason.APPROVED,), "fine", verdict=Verdict("accept", "open", "open"))
    assert approval.check_approval(accepted, APPROVER) == (
        False,
        "the policy does not ask a person about this request",
        "open",
    )


def peering(status: str, tags: dict[str, str], expires: float | None) -> Peering:
    side = PeeringSide("111111111111", "us-east-1", "vpc-0aaaaaaaaaaaaaaa1", Cidrs.of(["10.0.0.0/16"]))
    other = PeeringSide("222222222222", "us-east-1", "vpc-0bbbbbbbbbbbbbbb2", Cidrs.of(["10.1.0.0/16"]))
    return Peering(PCX, status, "", side, other, tags, expires)


def test_a_reminder_is_due_once_within_a_day_of_expiry_and_an_expiry_once() -> None:
    waiting = {"peering-autopilot:status": "awaiting-approval:into-prod"}
    at = 10 * DAY
    assert not approval.reminder_due(peering("pending-acceptance", waiting, at), at - DAY - 1)
    assert approval.reminder_due(peering("pending-acceptance", waiting, at), at - DAY)
    reminded = waiting | {approval.REMINDED_TAG: "2026-12-06T09:00:00+00:00"}
    assert not approval.reminder_due(peering("pending-acceptance", reminded, at), at - 60)
    assert not approval.reminder_due(peering("pending-acceptance", {}, at), at - 60)  # not asked
    assert not approval.reminder_due(peering("pending-acceptance", waiting, None), at)  # no expiry known
    assert approval.expiry_due(peering("expired", waiting, None))
    assert not approval.expiry_due(peering("expired", {"peering-autopilot:status": "expired:into-prod"}, None))
    assert not approval.expiry_due(peering("expired", {"peering-autopilot:status": "declined:x"}, None))


def test_the_status_tag_names_the_rule_and_a_reason_is_one_clean_line() -> None:
    assert approval.status_for("into-prod") == "awaiting-approval:into-prod"
    assert approval.awaiting("awaiting-approval:into-prod") == "into-prod"
    assert approval.awaiting("awaiting-approval:") is None
    assert approval.awaiting("declined:approval-required") is None
    assert approval.clean_reason("  CHG-1\n\tmigration\x07 ") == "CHG-1 migration"
    assert len(approval.clean_reason("x" * 1000)) == 256


def test_the_message_is_a_chat_custom_notification_by_default_and_plain_text_by_email() -> None:
    ask = approval.Ask(
        PCX,
        {
            "accountId": "111111111111",
            "region": "us-east-1",
            "vpcId": "vpc-a",
            "ouPath": ["r-1", "ou-1"],
            "cidrs": ["10.0.0.0/16"],
        },
        {"accountId": "222222222222", "region": "us-east-1", "vpcId": "vpc-b", "ouPath": [], "cidrs": ["10.1.0.0/16"]},
        "into-prod",
        "rule 'into-prod' matches: ask",
        (APPROVER,),
        (
            {
                "accountId": "222222222222",
                "region": "us-east-1",
                "vpcId": "vpc-b",
                "routes": ["rtb-b 10.0.0.0/16"],
                "rules": ["sg-b icmp from 10.0.0.0/16"],
            },
        ),
        "2026-12-14T09:00:00+00:00",
    )
    subject, message = approval.notification(ask)
    assert subject == f"Peering {PCX} awaits your approval"
    per_protocol = json.loads(message)
    assert set(per_protocol) == {"default", "email"}
    chat = json.loads(per_protocol["default"])
    assert chat["version"] == "1.0" and chat["source"] == "custom"
    assert chat["content"]["textType"] == "client-markdown"
    assert chat["content"]["title"] == subject
    assert chat["metadata"]["threadId"] == PCX
    description = chat["content"]["description"]
    assert "From (requester): vpc-a in account 111111111111 (OU r-1/ou-1), us-east-1, blocks 10.0.0.0/16" in description
    assert "Rule: into-prod (rule 'into-prod' matches: ask)" in description
    assert "  - route rtb-b 10.0.0.0/16" in description
    assert "  - security-group rule sg-b icmp from 10.0.0.0/16" in description
    assert chat["content"]["nextSteps"][2] == f"Who may approve: {APPROVER}"
    email = per_protocol["email"]
    assert email.startswith(f"{subject}\n\nFrom (requester): vpc-a")
    assert f"peering-autopilot approve {PCX} --region us-east-1 --reason" in email
    expired, _ = approval.notification(ask, approval.APPROVAL_EXPIRED)
    assert expired == f"Peering {PCX} expired: nobody approved it within 7 days"
