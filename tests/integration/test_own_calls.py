"""Whose calls are the autopilot's own: the rules' patterns drop them, and the code ignores them if
one reaches a function anyway (settings.is_own_role). Both pin the hub's account for the functions'
role path, so no member can name a role in its own account to have a person's call there taken for
the autopilot's (and dropped), and a role in the hub's account named like a member role is a
person's. The patterns are the template's, matched as EventBridge does (moto's EventPattern)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from autopilot_local.cloudtrail import Identity, cloudtrail_event
from peering_autopilot import lambda_adapter
from peering_autopilot.lookup import BACKOFF_SECONDS
from tests.support.world import HUB, MEMBER, REGION

PEERING = "pcx-0123456789abcdef0"  # none such: the code reads it only for a call not its own
FUNCTION_PATH = "/peering-autopilot/"
# The rules that take a person's call, by the call they take.
PERSONS_CALLS = {
    "CreateVpcPeeringConnection": "AcceptPeeringFunction.PeeringRequested",
    "AcceptVpcPeeringConnection": "ConfigurePeeringFunction.AcceptedByPerson",
    "DeleteVpcPeeringConnection": "CleanupPeeringFunction.PeeringEnded",
}
HUB_FUNCTION = Identity(HUB, "peering-autopilot-AcceptPeeringFunctionRole-LOCAL0000", "s", FUNCTION_PATH)
MEMBER_ROLE = Identity(MEMBER, "PeeringAutopilotMember-accepter", "peering-autopilot")

OWN = {
    "a hub function's role": HUB_FUNCTION,
    "a member role in a member account": MEMBER_ROLE,
}
PERSONS = {
    "a person": Identity(MEMBER, "NetworkAdmin", "alice"),
    # a member naming a role under the functions' path in its own account
    "the functions' path in a member account": Identity(MEMBER, "Impostor", "alice", FUNCTION_PATH),
    # ... or under a path that spells the hub's account, for a pattern with a wildcard before it
    "a path spelling the hub's role path": Identity(
        MEMBER, "Impostor", "alice", f"/x:iam::{HUB}:role/peering-autopilot/"
    ),
    # the hub's account has no member roles: one named like them there is a person's
    "a member role's name in the hub's account": Identity(HUB, "PeeringAutopilotMember-accepter", "bob"),
}


def call_by(caller: Identity, event_name: str) -> dict[str, Any]:
    return cloudtrail_event(
        event_name, caller.account_id, REGION, {"VpcPeeringConnectionId": PEERING}, {}, caller=caller
    )


@pytest.mark.parametrize("caller", OWN.values(), ids=OWN.keys())
@pytest.mark.parametrize("event_name", PERSONS_CALLS)
def test_the_autopilots_own_calls_match_no_rule(autopilot_factory: Any, caller: Identity, event_name: str) -> None:
    autopilot = autopilot_factory()
    assert autopilot.rules_matching(call_by(caller, event_name)) == []


@pytest.mark.parametrize("caller", PERSONS.values(), ids=PERSONS.keys())
@pytest.mark.parametrize("event_name", PERSONS_CALLS)
def test_a_persons_call_is_taken_whatever_their_role_is_named(
    autopilot_factory: Any, caller: Identity, event_name: str
) -> None:
    autopilot = autopilot_factory()
    assert PERSONS_CALLS[event_name] in autopilot.rules_matching(call_by(caller, event_name))


@pytest.mark.parametrize("caller", PERSONS.values(), ids=PERSONS.keys())
def test_the_code_takes_a_persons_call_for_no_own_one(
    autopilot_factory: Any, caller: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a person's accept handed to the configure function (the code's check behind the pattern),
    # whose waits for the peering to become visible are recorded, not slept (7.5 s a case)
    waits: list[float] = []
    built = lambda_adapter.runtime
    monkeypatch.setattr(lambda_adapter, "runtime", lambda: dataclasses.replace(built(), sleep=waits.append))
    autopilot = autopilot_factory()
    configure = next(f for f in autopilot.functions if f.spec.logical_id == "ConfigurePeeringFunction")
    result = configure.invoke(call_by(caller, "AcceptVpcPeeringConnection"))
    # THEN it is not ignored as the autopilot's own (it goes on to read the peering, which is not there)
    assert result == {
        "status": "error",
        "peeringId": PEERING,
        "error": f"peering {PEERING} not found in account {caller.account_id} region {REGION}",
    }
    assert waits == list(BACKOFF_SECONDS)  # it read the peering, and waited for it as for a new one
    # while the member role's own call is
    own = configure.invoke(call_by(MEMBER_ROLE, "AcceptVpcPeeringConnection"))
    assert own == {"status": "ignored", "reason": f"the call was the autopilot's own ({MEMBER_ROLE.role_arn})"}
