"""What a step knows, at run time, of who the hub manages and what the network team's policy says:
the settings with their `membership` (the Organization's managed accounts and OU paths) and their
`policy` (the network team's document) filled in, for every step alike. Loaded here, judged in
`organization.py` and `policy.py`.

Without ManagedOrganizationalUnitIds there is no membership to load (ApprovedAccountIds and the hub
are managed, as before); without PolicyParameterName there is no document (the parameters act as a
one-rule policy).

The policy is read from its SSM parameter (`ParameterStore.read`, in the hub's account and region)
and kept per container for `POLICY_CACHE_SECONDS` (60 s): a new version is in force everywhere
within a minute of `policy deploy`. A document that cannot be read or does not validate (here, at
load, again, whatever `policy check` said before deploy) is never used in part and never replaced
by a guess: `PolicyUnavailableError` names the parameter, its version and every fault by rule and
field, and the Lambda adapter ends the step there ("cannot act"), before it changes anything.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections.abc import Iterable

from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.context import Context
from peering_autopilot.errors import AwsCallError, PolicyUnavailableError
from peering_autopilot.organization import Membership
from peering_autopilot.policy import Policy, PolicyError, check_units, from_json
from peering_autopilot.settings import Settings
from peering_autopilot.structs import NamedTuple

POLICY_CACHE_SECONDS = 60.0  # how long a container keeps the policy it read before reading it again


def with_authority(ctx: Context) -> Context:
    """The context with its settings' membership and policy known now."""
    settings = ctx.settings
    membership = load_membership(ctx)
    policy = load_policy(ctx, membership, known_units(membership))
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


def known_units(membership: Membership | None) -> frozenset[str] | None:
    """Every OU the Organization's walk saw (the policy may name only those); None when the
    Organization was not walked (then the policy's OUs are not checked against it)."""
    if membership is None or membership.unknown or not membership.seen_units:
        return None  # not walked, or not known now: an OU is not called unknown on no evidence
    return membership.seen_units


class _Cached(NamedTuple):
    name: str
    read_at: float
    policy: Policy


# Per container: keyed by the runtime's AwsAccess, so a new runtime (a new container) reads afresh.
_cache: weakref.WeakKeyDictionary[AwsAccess, _Cached] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def load_policy(ctx: Context, membership: Membership | None, known: Iterable[str] | None = None) -> Policy | None:
    """The network team's policy from its SSM parameter, validated; None when none is named (the
    parameters' one-rule policy). `known`: the Organization's OUs, when walked: a document naming
    any other OU is refused. Raises PolicyUnavailableError when it cannot be read or used."""
    settings = ctx.settings
    name = settings.policy_parameter
    if not name:
        return settings.policy
    now = ctx.clock()
    with _cache_lock:
        cached = _cache.get(ctx.aws)
    if cached is None or cached.name != name or now - cached.read_at > POLICY_CACHE_SECONDS:
        cached = _Cached(name, now, read_policy(ctx.aws, name, settings))
        with _cache_lock:
            _cache[ctx.aws] = cached
    policy = cached.policy
    if known is not None:
        try:
            check_units(policy, known)
        except PolicyError as e:
            raise PolicyUnavailableError(source=e.source, reason="; ".join(e.problems)) from e
    return policy


def read_policy(aws: AwsAccess, name: str, settings: Settings) -> Policy:
    """Read and validate the document stored in parameter `name` (JSON)."""
    try:
        stored = aws.parameters().read(name)
    except AwsCallError as e:
        raise PolicyUnavailableError(source=f"parameter {name}", reason=f"it cannot be read: {e}") from e
    if stored is None:
        raise PolicyUnavailableError(
            source=f"parameter {name}",
            reason="there is no such parameter in the hub's account and region (PolicyParameterName: "
            "deploy the document with `peering-autopilot policy deploy`, or set the parameter empty)",
        )
    source = f"parameter {name} version {stored.version}"
    try:
        return from_json(stored.value, settings.allowed_peer_cidrs, source)
    except PolicyError as e:
        raise PolicyUnavailableError(source=source, reason="; ".join(e.problems)) from e
