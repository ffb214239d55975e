"""The harness refuses what IAM would: a call no grant names, a member role another function's."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from autopilot_local.access import RECORD_CALLS_ENV
from autopilot_local.harness import LocalCloud
from peering_autopilot.errors import AccessDeniedError
from tests.support.world import HUB, MEMBER, REGION, make_vpc, peering_as_accepter, request_peering


@pytest.fixture(autouse=True)
def _not_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    # These calls are the test's, made to be refused: not calls of the functions' to hold the
    # templates against (tests/recorded).
    monkeypatch.delenv(RECORD_CALLS_ENV, raising=False)


def function(autopilot: Any, name: str) -> Any:
    return next(f for f in autopilot.functions if f.spec.logical_id == name)


def test_a_member_role_that_does_not_grant_a_call_refuses_it_as_ec2_would(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the accepter role as deployed, but without the right to accept
    autopilot = autopilot_factory()
    grant = autopilot.grants.member_roles["PeeringAutopilotMember-accepter"]
    object.__setattr__(grant, "actions", grant.actions - {"ec2:AcceptVpcPeeringConnection"})
    requester = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    accepter = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")

    peering_id = request_peering(cloud, requester, accepter)
    with pytest.raises(AccessDeniedError) as refused:
        autopilot.run_until_idle()

    # THEN the accept fails with EC2's refusal, naming the session and the action; nothing accepted
    assert refused.value.code == "UnauthorizedOperation"
    assert (
        f"arn:aws:sts::{MEMBER}:assumed-role/PeeringAutopilotMember-accepter/peering-autopilot is not authorized "
        "to perform: ec2:AcceptVpcPeeringConnection"
    ) in str(refused.value)
    assert peering_as_accepter(cloud, accepter, peering_id)["Status"]["Code"] == "pending-acceptance"


@pytest.mark.parametrize("role", ["reader", "configurer", "verifier", "cleaner"])
def test_a_function_cannot_assume_another_functions_member_role(
    cloud: LocalCloud, autopilot_factory: Any, role: str
) -> None:
    autopilot = autopilot_factory()
    accept = function(autopilot, "AcceptPeeringFunction")
    caller = accept.role.role_arn
    with pytest.raises(ClientError) as refused:
        autopilot.grants.check_assume_role(
            "AcceptPeeringFunction", caller, f"arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember-{role}"
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "the role's trust policy does not name the caller" in str(refused.value)
    # its own, it may
    autopilot.grants.check_assume_role(
        "AcceptPeeringFunction", caller, f"arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember-accepter"
    )


def test_a_hub_call_the_functions_policy_does_not_name_is_refused(cloud: LocalCloud, autopilot_factory: Any) -> None:
    autopilot = autopilot_factory()
    with pytest.raises(ClientError) as refused:
        autopilot.grants.check_hub_call("SweepFunction", "arn:aws:sts::x:assumed-role/r/s", "ec2:CreateRoute")
    assert refused.value.response["Error"]["Code"] == "UnauthorizedOperation"
