"""What the Lambda adapter logs and counts of a step's result, as each result declares it: the
message, the level, the places it could not act in and the metrics (names as the template's
dashboard and alarms use them)."""

from __future__ import annotations

from peering_autopilot import accept, cleanup, configure, connect, sweep, verify
from peering_autopilot.events import VpcPlace
from peering_autopilot.results import StepResult
from peering_autopilot.triggers import GroupRequestHint, PeeringHint, PeeringRequestHint, ScheduledSweep, VpcHint

PCX = "pcx-0f1e2d3c4b5a69788"


def test_a_step_result_logs_its_outcome_at_info_and_counts_it_as_its_step_declares() -> None:
    result = accept.AcceptResult(PCX, accept.Outcome.DECLINED, "not approved")
    assert (result.message, result.warning, result.problem_lines()) == ("peering declined", False, [])
    assert result.metrics() == {"PeeringsDeclined": 1}
    assert configure.ConfigureResult(PCX, configure.Outcome.SKIPPED, "").metrics() == {"ConfigureSkipped": 1}
    assert cleanup.CleanupResult(PCX, cleanup.Outcome.CLEANED_UP, "").metrics() == {"PeeringsCleanedUp": 1}
    assert connect.ConnectResult(PCX, connect.Outcome.WITHDRAWN, "").metrics() == {"PeeringsWithdrawn": 1}


def test_an_outcome_its_step_does_not_list_counts_nothing() -> None:
    assert cleanup.CleanupResult(PCX, cleanup.Outcome.NOTHING_TO_CLEAN, "").metrics() == {}
    assert connect.ConnectResult(PCX, connect.Outcome.PLANNED, "").metrics() == {}
    assert StepResult(PCX, accept.Outcome.ACCEPTED, "").metrics() == {}


def test_a_failed_verification_is_a_warning_and_a_verified_one_is_not() -> None:
    failed = verify.VerifyResult(PCX, verify.Outcome.FAILED, "blocked", verdict="blocked:network-acls")
    verified = verify.VerifyResult(PCX, verify.Outcome.VERIFIED, "ok", verdict="verified")
    assert (failed.warning, failed.metrics()) == (True, {"PeeringVerificationsFailed": 1})
    assert (verified.warning, verified.metrics()) == (False, {"PeeringsVerified": 1})
    assert verify.VerifyResult(PCX, verify.Outcome.NOT_ACTIVE, "").metrics() == {}


def test_the_sweeps_report_counts_work_and_places_not_swept_and_logs_each_of_those() -> None:
    problem = sweep.PlaceProblem("111111111111", "eu-west-1", "AccessDeniedError", "AccessDenied", "an SCP")
    work = sweep.Work(PCX, "configure", "111111111111", "us-east-1", "1 route(s) missing")
    report = sweep.SweepReport(sweep.Outcome.SWEPT, work=[work], problems=[problem])
    assert (report.message, report.warning) == ("sweep done", False)
    assert report.metrics() == {"WorkFound": 1, "SweepPlacesFailed": 1}
    assert report.problem_lines() == ["111111111111/eu-west-1 not swept: an SCP"]
    assert sweep.SweepReport(sweep.Outcome.OPT_OUT).metrics() == {"WorkFound": 0, "SweepPlacesFailed": 0}


def test_each_hint_names_the_subject_of_the_log_lines() -> None:
    place = VpcPlace("111111111111", "us-east-1", "vpc-0aaaaaaaaaaaaaaa1")
    other = VpcPlace("222222222222", "us-east-1", "vpc-0bbbbbbbbbbbbbbb2")
    assert PeeringHint(PCX, "111111111111", "us-east-1").subject == PCX
    assert PeeringRequestHint(PCX, "111111111111", "us-east-1", "111111111111").subject == PCX
    assert GroupRequestHint("prod", place, other).subject == "vpc-0aaaaaaaaaaaaaaa1->vpc-0bbbbbbbbbbbbbbb2"
    assert VpcHint("vpc-0aaaaaaaaaaaaaaa1", "111111111111", "us-east-1", True).subject == "vpc-0aaaaaaaaaaaaaaa1"
    assert ScheduledSweep().subject == "every managed account and region"
