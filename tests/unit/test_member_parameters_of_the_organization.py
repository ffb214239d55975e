"""The member parameters the security review added (OrganizationId for the reader's read-only
principals; ApprovedAccountIds and ManagedOrganizationalUnitIds for the connector's accepter) are
the hub's parameters of the same names, so `make member-stackset` fills them from the hub
(deploy.member_parameters), as it does the others."""

from __future__ import annotations

from pathlib import Path

from autopilot_local import deploy
from autopilot_local.template import load_yaml

PROJECT = Path(__file__).resolve().parents[2]
HUB = load_yaml(PROJECT / "template.yaml")
MEMBER = load_yaml(PROJECT / "member" / "template.yaml")
FROM_THE_HUB = ("OrganizationId", "ApprovedAccountIds", "ManagedOrganizationalUnitIds")


def test_the_organizations_member_parameters_are_the_hubs_of_the_same_names() -> None:
    for name in FROM_THE_HUB:
        assert MEMBER["Parameters"][name]["Type"] == HUB["Parameters"][name]["Type"], name
        assert MEMBER["Parameters"][name]["Default"] == HUB["Parameters"][name]["Default"] == "", name
    assert (
        MEMBER["Parameters"]["OrganizationId"]["AllowedPattern"]
        == HUB["Parameters"]["OrganizationId"]["AllowedPattern"]
    )


def test_make_member_stackset_fills_them_from_the_hub_stack() -> None:
    outputs = {name: f"value-of-{name}" for name in MEMBER["Parameters"] if "Default" not in MEMBER["Parameters"][name]}
    parameters = {
        "OrganizationId": "o-abc123def4",
        "ApprovedAccountIds": "222222222222,333333333333",
        "ManagedOrganizationalUnitIds": "ou-ab12-34cd56ef",
    }
    hub = deploy.HubStack("peering-autopilot", "123456789012", "us-east-1", parameters, outputs)
    given = {p["ParameterKey"]: p["ParameterValue"] for p in deploy.member_parameters(hub)}
    assert {name: given[name] for name in FROM_THE_HUB} == parameters
