"""AWS Organizations, read only: which ACTIVE accounts sit under the hub's managed units, and each
one's OU path (`organization.OrgSnapshot`).

The walk starts at each named unit (an OU `ou-…`, or the root `r-…` for the whole Organization)
and goes down breadth-first, nested OUs included, with boto3's paginators over
ListOrganizationalUnitsForParent and ListAccountsForParent. A starting OU below the root gets its
own path from ListParents first (the path is root first, an account's parent last). Organizations
throttles at a few requests per second per account: the client's `standard` retries absorb that.

Account tags are read with ListTagsForResource (paginated), one call per account: Organizations
has no call that lists many accounts' tags. The sweep reads them only when the policy matches by
account tags, and then for at most a budget of accounts a walk (`tags_of`, the accounts picked by
`organization.pick_tag_reads`); `walk(read_tags=True)` reads every walked account's. A tag read
that fails leaves that account's tags unknown (no rule naming account tags matches it) and is
reported in `problems`, without making the walk incomplete: its structure was read.

A failure part-way (throttling past the retries, a unit that is gone, access refused) does not
raise: the snapshot comes back with `complete=False` and the failure in `problems`, holding every
account the walk did read. Nothing may be dropped on an incomplete walk's word
(`organization.membership_changes`), and an account it did read is truly there.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from peering_autopilot.aws.calls import error_code, error_message
from peering_autopilot.organization import ROOT_ID, OrgSnapshot
from peering_autopilot.permissions import needs

_PARENT_DEPTH = 6  # OUs nest at most five levels under the root (AWS's limit)


class OrganizationsGateway:
    """The Organization's structure, read with `client` (the management account's reader role, or
    the hub's own credentials where the hub is a delegated administrator)."""

    def __init__(self, client: Any, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.clock = clock

    @needs(
        "organizations:ListParents",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListAccountsForParent",
    )
    def walk(self, units: Iterable[str], read_tags: bool = False) -> OrgSnapshot:
        """Every ACTIVE account under `units` (nested OUs included) with its OU path, every OU seen,
        and whether every call answered; with `read_tags`, each account's tags (`account_tags`)."""
        units = frozenset(units)
        paths: dict[str, tuple[str, ...]] = {}
        seen: set[str] = set()
        problems: list[str] = []
        queue: deque[tuple[str, ...]] = deque()  # each entry: the path to an OU, the OU last
        for unit in sorted(units):
            try:
                above = () if ROOT_ID.fullmatch(unit) else self.path_of(unit)
            except (ClientError, BotoCoreError) as e:
                problems.append(f"{unit}: its place in the Organization not read ({_why(e)})")
                continue
            seen.update(above)
            queue.append((*above, unit))
        visited: set[str] = set()
        while queue:
            path = queue.popleft()
            unit = path[-1]
            if unit in visited:  # a unit named besides one of its ancestors: walked once
                continue
            visited.add(unit)
            seen.add(unit)
            try:
                for account in self._accounts(unit):
                    if _active(account):
                        paths[account["Id"]] = path
                for child in self._children(unit):
                    queue.append((*path, child))
            except (ClientError, BotoCoreError) as e:
                problems.append(f"{unit}: not read to the end ({_why(e)})")
        complete = not problems
        snapshot = OrgSnapshot(
            paths=MappingProxyType(paths),
            read_at=self.clock(),
            complete=complete,
            units=units,
            seen_units=frozenset(seen),
            problems=tuple(problems),
        )
        return self.tags_of(snapshot, sorted(paths)) if read_tags else snapshot

    def tags_of(self, snapshot: OrgSnapshot, account_ids: Iterable[str]) -> OrgSnapshot:
        """`snapshot` with the tags of `account_ids` read (in that order, one call each); a read that
        fails is in `problems` and `tags_failed`, and leaves the walk as complete as it was."""
        tags: dict[str, Mapping[str, str]] = dict(snapshot.tags)
        problems = list(snapshot.problems)
        failed = set(snapshot.tags_failed)
        for account_id in account_ids:
            try:
                tags[account_id] = MappingProxyType(self.account_tags(account_id))
            except (ClientError, BotoCoreError) as e:
                problems.append(f"{account_id}: its account tags not read ({_why(e)})")
                failed.add(account_id)
        return replace(snapshot, tags=MappingProxyType(tags), problems=tuple(problems), tags_failed=frozenset(failed))

    @needs("organizations:ListTagsForResource")
    def account_tags(self, account_id: str) -> dict[str, str]:
        """The account's tags in the Organization (written only from the management account or a
        delegated administrator), every page."""
        pages = self.client.get_paginator("list_tags_for_resource").paginate(ResourceId=account_id)
        return {tag["Key"]: tag["Value"] for page in pages for tag in page.get("Tags", [])}

    @needs("organizations:ListParents")
    def path_of(self, unit: str) -> tuple[str, ...]:
        """The OUs above `unit`, the root first (ListParents, one level a call)."""
        above: list[str] = []
        child = unit
        for _ in range(_PARENT_DEPTH):
            parents = self.client.list_parents(ChildId=child).get("Parents", [])
            if not parents:
                break
            child = parents[0]["Id"]
            above.append(child)
            if parents[0].get("Type") == "ROOT" or ROOT_ID.fullmatch(child):
                break
        return tuple(reversed(above))

    def _accounts(self, parent: str) -> Iterable[dict[str, Any]]:
        for page in self.client.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
            yield from page.get("Accounts", [])

    def _children(self, parent: str) -> list[str]:
        pages = self.client.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent)
        return [ou["Id"] for page in pages for ou in page.get("OrganizationalUnits", [])]


def _active(account: dict[str, Any]) -> bool:
    """ACTIVE by `State` (Organizations' newer field), else by `Status`: a suspended or closing
    account is not managed."""
    state = account.get("State") or account.get("Status")
    return state == "ACTIVE"


def _why(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{error_code(error)}: {error_message(error)}"
    return f"{type(error).__name__}: {error}"
