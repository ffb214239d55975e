"""What the templates grant, held against what the functions called in the integration suite.

`make pytest` runs the whole suite with AUTOPILOT_RECORD_CALLS set: the harness records each
distinct (function, where, action) it let through (autopilot_local/access.py: in the hub with the
function's execution role, or in a member account with a member role). This module then runs on
those records alone: every action a function's role or member role grants was called in some
run, and nothing was called that they do not grant (the harness would have refused it, as IAM
does). No list is kept by hand: an unused grant is taken out of the template, or a run is added
that needs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autopilot_local.access import PLUMBING_ACTIONS, RECORD_CALLS_ENV, CallRecord, recorded_calls, statement_actions
from autopilot_local.template import load_yaml

PROJECT = Path(__file__).resolve().parents[2]
HUB = load_yaml(PROJECT / "template.yaml")["Resources"]
MEMBER = load_yaml(PROJECT / "member" / "template.yaml")["Resources"]
FUNCTIONS = sorted(k for k, r in HUB.items() if r["Type"] == "AWS::Serverless::Function")
ORG_READER = load_yaml(PROJECT / "org-reader" / "template.yaml")["Resources"]
MEMBER_ROLES = sorted(k for k, r in MEMBER.items() if r["Type"] == "AWS::IAM::Role" and "RoleName" in r["Properties"])


@pytest.fixture(scope="module")
def recorded() -> set[CallRecord]:
    directory = os.environ.get(RECORD_CALLS_ENV)
    if not directory:
        pytest.skip(f"runs after the suite has recorded its calls: `make pytest` sets {RECORD_CALLS_ENV}")
    calls = recorded_calls(Path(directory))
    assert calls, f"no calls recorded in {directory}: did the integration suite run with {RECORD_CALLS_ENV} set?"
    return calls


def _granted_to_function(function: str) -> frozenset[str]:
    policies = HUB[function]["Properties"]["Policies"]
    return statement_actions(s for p in policies for s in p["Statement"]) - PLUMBING_ACTIONS


def _granted_to_member_role(role: str) -> frozenset[str]:
    policies = (MEMBER.get(role) or ORG_READER[role])["Properties"]["Policies"]
    return statement_actions(s for p in policies for s in p["PolicyDocument"]["Statement"])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_role_grants_exactly_what_the_function_called_in_the_hub(
    recorded: set[CallRecord], function: str
) -> None:
    # Plumbing (the failed-events queue's SendMessage) is out of both sides: the record's backlog
    # queue is sent to with the same action, so a call to it cannot tell the two grants apart.
    called = {c.action for c in recorded if c.function == function and c.where == "hub"} - PLUMBING_ACTIONS
    granted = _granted_to_function(function)
    assert {"unused grants": sorted(granted - called), "calls not granted": sorted(called - granted)} == {
        "unused grants": [],
        "calls not granted": [],
    }


@pytest.mark.parametrize("role", [*MEMBER_ROLES, "OrganizationsReaderRole"])
def test_each_member_role_grants_exactly_what_its_function_called_in_member_accounts(
    recorded: set[CallRecord], role: str
) -> None:
    called = {c.action for c in recorded if c.where == role}
    granted = _granted_to_member_role(role)
    assert {"unused grants": sorted(granted - called), "calls not granted": sorted(called - granted)} == {
        "unused grants": [],
        "calls not granted": [],
    }
    # and only one function used it: the one whose role it trusts
    assert len({c.function for c in recorded if c.where == role}) == 1


def test_history_is_only_ever_added_to_never_overwritten_or_taken_out(recorded: set[CallRecord]) -> None:
    """Every write a function made to a `history#` key in the recorded runs was a PutItem on the
    condition that the item does not exist: no overwrite, no UpdateItem, DeleteItem or batch
    (the harness refuses those as the template's HistoryIsAppendOnly Deny does, and records them)."""
    writes = {(c.function, c.history_write) for c in recorded if c.history_write}
    assert writes, "no history written in the recorded runs"
    assert {how for _, how in writes} == {"PutItem if attribute_not_exists(pk)"}
    # every step that decides something wrote its history
    assert {function for function, _ in writes} >= {
        "AcceptPeeringFunction",
        "ConfigurePeeringFunction",
        "VerifyPeeringFunction",
        "CleanupPeeringFunction",
        "ConnectPeeringFunction",
    }
