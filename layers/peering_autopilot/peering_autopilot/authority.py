"""What a step knows, at run time, of who the hub manages and what the network team's policy says:
the settings with their `membership` (the Organization's managed accounts and OU paths) and their
`policy` (the network team's document) filled in, for every step alike. Loaded here, judged in
`organization.py` and `policy.py`.

Without ManagedOrganizationalUnitIds there is no membership to load (ApprovedAccountIds and the hub
are managed, as before); without PolicyParameterName there is no document (the parameters act as a
one-rule policy).
"""

from __future__ import annotations

import dataclasses

from peering_autopilot.context import Context
from peering_autopilot.organization import Membership
from peering_autopilot.policy import Policy


def with_authority(ctx: Context) -> Context:
    """The context with its settings' membership and policy known now."""
    settings = ctx.settings
    membership = load_membership(ctx)
    policy = load_policy(ctx, membership)
    if membership is settings.membership and policy is settings.policy:
        return ctx
    return dataclasses.replace(ctx, settings=dataclasses.replace(settings, membership=membership, policy=policy))


def load_membership(ctx: Context) -> Membership | None:
    """The managed accounts under ManagedOrganizationalUnitIds with their OU paths; None when no
    units are named."""
    if not ctx.settings.managed_units:
        return ctx.settings.membership
    from peering_autopilot.membership import cached  # only where OUs are named: not at every cold start

    return cached(ctx)  # the sweep's walk, cached in the record with a bound on staleness


def load_policy(ctx: Context, membership: Membership | None) -> Policy | None:
    """The network team's policy from its SSM parameter, validated; None when none is named."""
    return ctx.settings.policy  # the SSM parameter: issue 22, part 2
