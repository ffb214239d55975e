"""Which accounts the hub manages, and where each sits in the Organization. Pure: the gateway
(`aws/organizations.py`) reads AWS Organizations; this module answers questions about what it read.

The hub's parameters name the scope: explicit accounts (`ApprovedAccountIds`), and OUs or the
Organization's root (`ManagedOrganizationalUnitIds`: `ou-…`, nested OUs included, or `r-…` for the
whole Organization). An account is managed when it is the hub's, named explicitly, or ACTIVE in the
Organization under one of the named OUs (at any depth). Its OU path (root first, its parent last) is
what the policy's rules and ranges match OUs against.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import field
from types import MappingProxyType

from peering_autopilot.errors import SettingsError
from peering_autopilot.structs import struct

OU_ID = re.compile(r"ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}", re.ASCII)
ROOT_ID = re.compile(r"r-[0-9a-z]{4,32}", re.ASCII)
ACCOUNT_ID = re.compile(r"[0-9]{12}", re.ASCII)


def parse_units(text: str, name: str = "MANAGED_OU_IDS") -> frozenset[str]:
    """A comma list of OU ids (`ou-…`) or root ids (`r-…`); anything else names the variable."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    bad = [item for item in items if not (OU_ID.fullmatch(item) or ROOT_ID.fullmatch(item))]
    if bad:
        raise SettingsError(f"{name} holds values that are not OU ids (ou-…) or a root id (r-…): {bad}")
    return frozenset(items)


@struct(frozen=True)
class OrgSnapshot:
    """What one walk of the Organization read: each ACTIVE account under the walked units with its
    OU path (the root first, the account's parent last), and when. `complete` is False when a part
    of the walk failed: then nothing may be dropped on its word (an account it missed is not gone).
    `tags`: each account's tags in the Organization, for the accounts whose tags the walk read (only
    when the policy matches by account tags, and at most the sweep's budget of accounts a walk:
    `pick_tag_reads`); `tags_failed`: the accounts whose tag read was tried and failed."""

    paths: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    read_at: float = 0.0
    complete: bool = True
    units: frozenset[str] = frozenset()  # the units walked (the scope's)
    seen_units: frozenset[str] = frozenset()  # every OU and root the walk met (policy.check_units)
    problems: tuple[str, ...] = ()  # what part of the walk failed, and why (complete is False)
    tags: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    tags_failed: frozenset[str] = frozenset()

    def accounts(self) -> frozenset[str]:
        return frozenset(self.paths)


@struct(frozen=True)
class Membership:
    """The managed accounts and their OU paths, as the hub knows them now: the explicit list (its
    accounts have no known path unless the walk read one) and the Organization's snapshot."""

    hub_account_id: str
    explicit: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()
    paths: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # Why the Organization's part is not known now ("" when it is): the cache is older than its
    # bound or unreadable; then only the hub and the explicit accounts are managed.
    unknown: str = ""
    # Every OU and root the walks met (policy.check_units: the OUs a policy may name); empty when
    # the Organization's part is not known.
    seen_units: frozenset[str] = frozenset()
    # Each account's tags in the Organization, where the last walk read them (the policy matches by
    # account tags); an account not in it has no known tags.
    tags: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    # Why an account's tags are not known although they were read once (older than the bound on
    # their staleness: `fresh_tags`), in words; an account not in it is not known for no such reason.
    tags_unknown: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def is_managed(self, account_id: str) -> bool:
        if account_id == self.hub_account_id or account_id in self.explicit:
            return True
        path = self.paths.get(account_id)
        return path is not None and any(unit in self.units for unit in path)

    def ou_path(self, account_id: str) -> tuple[str, ...]:
        """The account's OU path, root first; () when the Organization was not read for it."""
        return self.paths.get(account_id, ())

    def account_tags(self, account_id: str) -> Mapping[str, str] | None:
        """The account's tags in the Organization (written only by its management); None when the
        walk did not read them (an explicit account outside the walked units, the Organization not
        walked, or the policy matching by no account tag): no rule naming account tags matches it."""
        return self.tags.get(account_id)

    def account_tags_unknown(self, account_id: str) -> str:
        """Why the account's tags are not known when they were read too long ago ("" otherwise)."""
        return self.tags_unknown.get(account_id, "")

    def accounts(self) -> frozenset[str]:
        """Every managed account: the hub's, the explicit ones, and the walk's under a managed unit."""
        walked = {a for a, path in self.paths.items() if any(u in self.units for u in path)}
        return frozenset({self.hub_account_id, *self.explicit, *walked})

    @classmethod
    def of(
        cls, hub_account_id: str, explicit: Iterable[str], units: Iterable[str], snapshot: OrgSnapshot | None
    ) -> Membership:
        paths = MappingProxyType(dict(snapshot.paths)) if snapshot is not None else MappingProxyType({})
        tags = MappingProxyType(dict(snapshot.tags)) if snapshot is not None else MappingProxyType({})
        return cls(hub_account_id, frozenset(explicit), frozenset(units), paths, tags=tags)


def membership_changes(
    before: Mapping[str, tuple[str, ...]],
    after: OrgSnapshot,
    before_tags: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """What a new walk changes in the cached paths: accounts to write (new, moved, or with tags
    other than `before_tags` holds, read or no longer read) and accounts to drop (gone from the
    walk). An incomplete walk drops nothing."""
    old_tags = before_tags or {}
    written = {
        a: p
        for a, p in after.paths.items()
        if before.get(a) != p or (before_tags is not None and old_tags.get(a) != after.tags.get(a))
    }
    dropped = [] if not after.complete else sorted(set(before) - set(after.paths))
    return written, dropped


def pick_tag_reads(accounts: Iterable[str], read_at: Mapping[str, float], budget: int) -> list[str]:
    """The accounts whose tags a walk reads, at most `budget` of them: first those never read (new,
    moved in, or tags newly needed), then those read longest ago; ties by account id (stable)."""
    never = sorted(a for a in accounts if a not in read_at)
    if len(never) >= budget:
        return never[: max(budget, 0)]
    read = sorted((a for a in accounts if a in read_at), key=lambda a: (read_at[a], a))
    return [*never, *read[: budget - len(never)]]


def fresh_tags(
    tags: Mapping[str, Mapping[str, str]], read_at: Mapping[str, float], now: float, max_age: float
) -> tuple[Mapping[str, Mapping[str, str]], Mapping[str, str]]:
    """The tags read within `max_age` seconds of `now` (an account without a read time counts as
    read now: the walk that gives it is this one), and for the others why they are not known."""
    fresh: dict[str, Mapping[str, str]] = {}
    unknown: dict[str, str] = {}
    for account, account_tags in tags.items():
        age = now - read_at.get(account, now)
        if age > max_age:
            unknown[account] = f"account tags not known (last read {_span(age)} ago, older than {_span(max_age)})"
        else:
            fresh[account] = account_tags
    return MappingProxyType(fresh), MappingProxyType(unknown)


def _span(seconds: float) -> str:
    """A duration in words: whole hours from two hours up, else whole minutes."""
    if seconds >= 7200:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 60)} min"
