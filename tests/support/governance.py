"""A hub governed as the network team deploys it, for the harness tests: its policy document in
the SSM parameter (as `peering-autopilot policy deploy` stores it) and its accounts managed through
the Organization's units, read with the management account's reader role."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from autopilot_local.harness import LocalAutopilot, LocalCloud
from autopilot_local.organizations import LocalOrganization
from tests.support.world import HUB, REGION, hub_parameters

POLICY_PARAMETER = "/peering-autopilot/policy"


def deploy_policy(cloud: LocalCloud, document: str | dict[str, Any]) -> None:
    """The document in the hub's parameter (a string is stored as it is: a broken one too)."""
    text = document if isinstance(document, str) else json.dumps(document)
    ssm = cloud.session(HUB).client("ssm", region_name=REGION)
    ssm.put_parameter(Name=POLICY_PARAMETER, Value=text, Type="String", Overwrite=True)


def governed_hub(
    cloud: LocalCloud,
    organization: LocalOrganization,
    units: str,
    members: Sequence[str],
    document: dict[str, Any],
    **parameters: str,
) -> LocalAutopilot:
    """The policy deployed, then a hub managing `units` (no explicit accounts) through the
    management account's reader role, with member stacks in `members`."""
    deploy_policy(cloud, document)
    params = hub_parameters(
        ApprovedAccountIds="",
        ManagedRegions=REGION,
        OrganizationId=organization.id,
        ManagedOrganizationalUnitIds=units,
        OrganizationsReadRoleArn=organization.reader_role_arn,
        PolicyParameterName=POLICY_PARAMETER,
        **parameters,
    )
    return LocalAutopilot(cloud, params, region=REGION, member_accounts=tuple(members), log_stream=io.StringIO())
