"""Issue 21, rule 6: a decline that can pass is retried. The pure rule (decision.py): which
reasons may pass, the back-off noted in `peering-autopilot:retry`, and the one judgement the sweep
(acceptance_due) and the status command (acceptance_summary, estate) both read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from peering_autopilot.decision import (
    FIRST_RETRY_SECONDS,
    MAX_RETRY_SECONDS,
    RETRY_TAG,
    Reason,
    Retry,
    declined_may_pass,
    next_retry,
    parse_retry,
    retry_state,
)
from peering_autopilot.estate import survey
from peering_autopilot.model import ACCEPTER, REQUESTER, STATUS_TAG, Cidrs, Peering, PeeringSide, Vpc
from peering_autopilot.places import PlaceRead
from peering_autopilot.settings import PeerCidrPolicy
from peering_autopilot.side_plan import acceptance_due, acceptance_summary

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00+00:00
NOW_ISO = datetime.fromtimestamp(NOW, UTC).isoformat()
MINUTE = 60.0
NOT_READ = "declined:requester-vpc-not-read"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def words(view_tags: dict[str, str], now: float) -> str:
    state = retry_state(view_tags, now)
    assert state is not None
    return state.describe()


def tags(status: str | None = NOT_READ, retry: str | None = None) -> dict[str, str]:
    found = {"Name": "x"}
    if status is not None:
        found[STATUS_TAG] = status
    if retry is not None:
        found[RETRY_TAG] = retry
    return found


# ---------------------------------------------------------------------------- which reasons
def test_only_a_reason_where_the_autopilot_could_not_look_or_the_estate_may_change_may_pass() -> None:
    assert [r.value for r in Reason if r.may_pass] == ["requester-vpc-not-read", "routed-elsewhere"]
    # a verdict on the request itself never passes by waiting, and opting in is a person's act
    # that sweeps the VPC at once (reconsider)
    for reason in (Reason.REQUESTER_NOT_APPROVED, Reason.IPV4_OVERLAP, Reason.PEER_CIDR_NOT_ALLOWED):
        assert reason.final and not reason.may_pass
    assert not Reason.ACCEPTER_NOT_OPTED_IN.may_pass
    assert not Reason.NOT_PENDING.may_pass


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (NOT_READ, True),
        ("declined:requester-not-approved", False),
        ("declined:accepter-not-opted-in", False),
        ("declined:ipv4-overlap", False),
        ("declined:peer-cidr-not-allowed", False),
        ("rejected:requester-vpc-not-read", False),  # never written; and a rejection is over
        ("accepted", False),
        ("declined:", False),
        ("declined:REQUESTER-VPC-NOT-READ", False),
        ("declined", False),
        ("", False),
        (None, False),
    ],
)
def test_only_a_status_tag_declined_for_a_reason_that_may_pass_is_retried(status: str | None, retried: bool) -> None:
    assert declined_may_pass(status) is retried
    assert (retry_state(tags(status), NOW) is not None) is retried


# ---------------------------------------------------------------------------- the back-off
@pytest.mark.parametrize(
    ("attempts", "minutes"),
    [(1, 15), (2, 30), (3, 60), (4, 120), (5, 240), (6, 360), (7, 360), (50, 360), (10**12, 360)],
)
def test_the_wait_doubles_from_15_minutes_up_to_6_hours(attempts: int, minutes: int) -> None:
    assert Retry(attempts, NOW).wait == minutes * MINUTE
    assert FIRST_RETRY_SECONDS == 15 * MINUTE and MAX_RETRY_SECONDS == 6 * 60 * MINUTE


def test_the_tag_value_is_attempts_and_the_utc_time_and_reads_back() -> None:
    retry = Retry(3, NOW + 0.7)
    assert retry.tag_value == f"3 {NOW_ISO}"
    assert parse_retry(retry.tag_value) == Retry(3, NOW)


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "3",
        NOW_ISO,
        f"0 {NOW_ISO}",
        f"-1 {NOW_ISO}",
        f"two {NOW_ISO}",
        f"٣ {NOW_ISO}",  # a digit, but not an ASCII one
        f"1.5 {NOW_ISO}",
        "3 yesterday",
        "3 2027-13-45T00:00:00+00:00",
        "3 2027-01-15T08:00:00",  # no zone: not UTC for certain
        f"3 {NOW_ISO} extra",
        f"3,{NOW_ISO}",
    ],
)
def test_a_retry_tag_that_does_not_parse_allows_a_decision_at_once_counted_from_1(value: str) -> None:
    assert parse_retry(value) is None
    # the sweep and the status command: due now, as the first attempt
    state = retry_state(tags(retry=value), NOW)
    assert state is not None and state.due and state.attempt == 1
    assert state.describe() == "retry due (attempt 1)"
    # the accept step, declining alike again: counts from 1
    assert next_retry(tags(retry=value), NOT_READ, NOW) == Retry(1, NOW)


def test_a_retry_tag_spelled_with_z_or_another_zone_is_read() -> None:
    assert parse_retry("2 2027-01-15T08:00:00Z") == Retry(2, NOW)
    assert parse_retry("2 2027-01-15T10:00:00+02:00") == Retry(2, NOW)
    assert parse_retry("2  2027-01-15T08:00:00+00:00") == Retry(2, NOW)  # split on any whitespace


def test_a_decline_without_a_retry_tag_is_due_at_once() -> None:
    # e.g. declined by an earlier version, which noted no attempts
    state = retry_state(tags(), NOW)
    assert state is not None and state.due and state.attempt == 1


def test_the_state_counts_down_the_wait_since_the_last_decline() -> None:
    after_one = tags(retry=f"1 {iso(NOW - 10 * MINUTE)}")
    state = retry_state(after_one, NOW)
    assert state is not None and not state.due
    assert state.wait == 5 * MINUTE and state.attempt == 2
    assert state.describe() == "retrying in 5 min (attempt 2)"
    assert words(after_one, NOW - 0.5 * MINUTE + 5 * MINUTE) == "retrying in 1 min (attempt 2)"
    assert words(after_one, NOW + 5 * MINUTE) == "retry due (attempt 2)"

    after_three = tags(retry=f"3 {iso(NOW - 59 * MINUTE)}")
    assert words(after_three, NOW) == "retrying in 1 min (attempt 4)"
    assert words(after_three, NOW + MINUTE) == "retry due (attempt 4)"


def test_a_last_decline_noted_in_the_future_waits_no_longer_than_one_full_wait() -> None:
    state = retry_state(tags(retry=f"1 {iso(NOW + 30 * 24 * 3600)}"), NOW)
    assert state is not None and state.wait == FIRST_RETRY_SECONDS


# ---------------------------------------------------------------------------- what the accept step notes
def test_the_same_decline_repeated_counts_one_more_attempt_and_any_other_decision_starts_over() -> None:
    first = next_retry(tags(status=None), NOT_READ, NOW)
    assert first is not None and first == Retry(1, NOW)
    again = next_retry(tags(retry=first.tag_value), NOT_READ, NOW + 20 * MINUTE)
    assert again == Retry(2, NOW + 20 * MINUTE)
    # a decline for a reason that may pass after another decision: the first attempt
    assert next_retry(tags("declined:accepter-not-opted-in", f"4 {NOW_ISO}"), NOT_READ, NOW) == Retry(1, NOW)
    # accepted, or declined for a reason that cannot pass: no retry tag (the step removes one)
    for status in ("accepted", "declined:ipv4-overlap", "rejected:requester-not-approved"):
        assert next_retry(tags(retry=f"2 {NOW_ISO}"), status, NOW) is None


# ---------------------------------------------------------------------------- the sweep and the status command
def view(**view_tags: str) -> Peering:
    requester = PeeringSide("222222222222", "us-east-1", "vpc-r", Cidrs.of(["10.1.0.0/16"]))
    accepter = PeeringSide("111111111111", "us-east-1", "vpc-a", Cidrs.of(["10.0.0.0/16"]))
    return Peering("pcx-0000000000000000a", "pending-acceptance", "", requester, accepter, view_tags)


@pytest.mark.parametrize(
    ("view_tags", "due", "words"),
    [
        ({}, True, "acceptance due"),
        ({STATUS_TAG: NOT_READ}, True, "retry due (attempt 1)"),
        ({STATUS_TAG: NOT_READ, RETRY_TAG: f"1 {iso(NOW - 14 * MINUTE)}"}, False, "retrying in 1 min (attempt 2)"),
        ({STATUS_TAG: NOT_READ, RETRY_TAG: f"1 {iso(NOW - 15 * MINUTE)}"}, True, "retry due (attempt 2)"),
        ({STATUS_TAG: NOT_READ, RETRY_TAG: f"6 {iso(NOW - 5 * 60 * MINUTE)}"}, False, "retrying in 60 min (attempt 7)"),
        ({STATUS_TAG: NOT_READ, RETRY_TAG: "garbage"}, True, "retry due (attempt 1)"),
        ({STATUS_TAG: "declined:requester-not-approved"}, False, "awaiting acceptance"),
        (
            {STATUS_TAG: "declined:requester-not-approved", RETRY_TAG: "1 2020-01-01T00:00:00+00:00"},
            False,
            "awaiting acceptance",
        ),
        ({STATUS_TAG: "declined:accepter-not-opted-in"}, False, "awaiting acceptance"),
    ],
)
def test_the_sweep_and_the_status_command_judge_a_pending_request_alike(
    view_tags: dict[str, str], due: bool, words: str
) -> None:
    pending = view(**view_tags)
    assert acceptance_due(pending, ACCEPTER, NOW) is due
    assert acceptance_summary(pending, ACCEPTER, NOW) == words
    # the requester's side never decides; reconsider (an opt-in) always asks
    assert not acceptance_due(pending, REQUESTER, NOW)
    assert acceptance_summary(pending, REQUESTER, NOW) == "awaiting acceptance"
    assert acceptance_due(pending, ACCEPTER, NOW, reconsider=True)


def test_the_status_command_shows_the_back_off_on_the_accepters_side() -> None:
    pending = view(**{STATUS_TAG: NOT_READ, RETRY_TAG: f"2 {iso(NOW - 10 * MINUTE)}"})
    vpcs = {
        side.vpc_id: Vpc(side.vpc_id, side.account_id, side.region, side.cidrs, {"peering-autopilot:enabled": "true"})
        for _, side in pending.sides()
    }
    hub = PlaceRead("111111111111", "us-east-1", {"vpc-a": vpcs["vpc-a"]}, [pending])
    member = PlaceRead("222222222222", "us-east-1", {"vpc-r": vpcs["vpc-r"]}, [pending])

    [row] = survey([hub, member], 50, PeerCidrPolicy.parse("10.0.0.0/8"), NOW)

    assert row.accepter.missing == "retrying in 20 min (attempt 3)"
    assert row.requester.missing == "awaiting acceptance"
