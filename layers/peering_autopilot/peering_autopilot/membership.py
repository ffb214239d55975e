"""Who the hub manages through the Organization, cached in the autopilot's record with a bound on
its staleness (docs/governance.md "Managed by the Organization").

The sweep walks the Organization at the start of every scheduled run (`refresh`) and writes only
the difference to the record's `membership` partition: one item per managed account (`account#ID`,
its OU path, and its tags in the Organization with when they were read, when the policy in force
names account tags) and one item on the walk (`walk`:
when it ran, whether it read everything, and when the last complete walk was). Every other
function reads that partition (`cached`), at most once a minute per container: one Query of about
10,000 small items (~80 bytes each, more with tags; one or a few pages) costs less and fails in fewer ways than a lookup per account per question, and the
steps ask about several accounts each (the requester, the accepter, the group's members).

Account tags cost one ListTagsForResource call per account, so a walk reads them for at most
ACCOUNT_TAG_READS_PER_SWEEP accounts (parameter AccountTagReadsPerSweep): first those never read
(new, moved in, or tags newly needed), then those read longest ago (`organization.pick_tag_reads`);
the others keep their cached tags. Tags read longer ago than ACCOUNT_TAGS_MAX_AGE_HOURS (parameter
AccountTagsMaxAgeHours) are not known: no rule naming account tags matches that account, and the
policy's words say when they were last read.

An account moved out of a managed OU is dropped only by a complete walk, so the cache is as stale
as its last complete walk: older than MEMBERSHIP_MAX_AGE_MINUTES (parameter
MembershipMaxAgeMinutes, three sweep intervals by default), or unreadable, it is not known, and
only the hub and ApprovedAccountIds are managed until a complete walk is written again (logged,
and counted by the Lambda adapter as MembershipUnknown). Fail safe: an account never gains a right
on a guess.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from peering_autopilot.aws.dynamodb import RecordStore
from peering_autopilot.aws.organizations import OrganizationsGateway
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.context import Context
from peering_autopilot.errors import AutopilotError, RecordUnavailableError
from peering_autopilot.organization import Membership, OrgSnapshot, fresh_tags, membership_changes, pick_tag_reads
from peering_autopilot.permissions import actions_of
from peering_autopilot.settings import Settings
from peering_autopilot.structs import struct

logger = logging.getLogger(__name__)

MEMBERSHIP = "membership"  # the record's partition
ACCOUNT = "account#"  # an account's item: sk account#ID
WALK = "walk"  # the last walk's item
CONTAINER_CACHE_SECONDS = 60.0

# What reading the cache needs (every function), and what the sweep's refresh needs besides.
READ_ACTIONS = actions_of(RecordStore.items)
REFRESH_ACTIONS = actions_of(
    AwsAccess.organizations,
    OrganizationsGateway.walk,
    OrganizationsGateway.account_tags,  # when the policy matches by account tags (`tags_of`)
    RecordStore.items,
    RecordStore.write,
)

# Per container (one AwsAccess per Lambda container, `runtime()`): when the cache was read, and
# what it said.
_containers: weakref.WeakKeyDictionary[AwsAccess, tuple[float, Membership]] = weakref.WeakKeyDictionary()


@struct(frozen=True)
class Cache:
    """The membership partition as read: each account's OU path (and tags with when they were read,
    where a walk read them), and the last walk."""

    paths: Mapping[str, tuple[str, ...]]
    walked_at: float = 0.0  # the last walk, complete or not
    complete_at: float = 0.0  # the last complete walk; 0: none yet
    complete: bool = False  # the last walk read everything
    seen_units: frozenset[str] = frozenset()  # every OU and root the walks met
    tags: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    tags_read_at: Mapping[str, float] = dataclasses.field(default_factory=lambda: MappingProxyType({}))


EMPTY = Cache(MappingProxyType({}))


def read_cache(store: RecordStore) -> Cache:
    """The membership partition (RecordUnavailableError when the table does not answer)."""
    paths: dict[str, tuple[str, ...]] = {}
    tags: dict[str, Mapping[str, str]] = {}
    read_at: dict[str, float] = {}
    walk: dict[str, Any] = {}
    for item in store.items(MEMBERSHIP):
        sk = str(item.get("sk", ""))
        if sk.startswith(ACCOUNT):
            account_id = sk[len(ACCOUNT) :]
            paths[account_id] = tuple(str(u) for u in item.get("path", []))
            if isinstance(item.get("tags"), Mapping):
                tags[account_id] = MappingProxyType({str(k): str(v) for k, v in item["tags"].items()})
                if "tagsReadAt" in item:
                    read_at[account_id] = float(item["tagsReadAt"])
        elif sk == WALK:
            walk = item
    # An item written before tags had a read time: every walk then read every account's tags, so
    # they are as old as the last walk.
    for account_id in tags.keys() - read_at.keys():
        read_at[account_id] = float(walk.get("walked_at", 0))
    return Cache(
        MappingProxyType(paths),
        float(walk.get("walked_at", 0)),
        float(walk.get("complete_at", 0)),
        bool(walk.get("complete", False)),
        frozenset(str(u) for u in walk.get("seen_units", [])),
        MappingProxyType(tags),
        MappingProxyType(read_at),
    )


def account_item(
    account_id: str, path: Sequence[str], tags: Mapping[str, str] | None = None, tags_read_at: float = 0.0
) -> dict[str, Any]:
    """An account's item: its OU path, and its tags with when a walk read them (none: not known)."""
    item: dict[str, Any] = {"pk": MEMBERSHIP, "sk": f"{ACCOUNT}{account_id}", "path": list(path)}
    if tags is not None:
        item["tags"] = dict(tags)
        item["tagsReadAt"] = int(tags_read_at)
    return item


def walk_item(snapshot: OrgSnapshot, complete_at: float, accounts: int, seen: frozenset[str]) -> dict[str, Any]:
    return {
        "pk": MEMBERSHIP,
        "sk": WALK,
        "walked_at": int(snapshot.read_at),
        "complete": snapshot.complete,
        "complete_at": int(complete_at),
        "accounts": accounts,
        "units": sorted(snapshot.units),
        "seen_units": sorted(seen),  # tens of KB at thousands of OUs: well inside an item's 400 KB
        "problems": list(snapshot.problems),
    }


def judged(settings: Settings, cache: Cache, now: float) -> Membership:
    """The cache as the steps may use it: known while its last complete walk is within the bound."""
    explicit, units = settings.approved_account_ids, settings.managed_units
    bound = settings.membership_max_age_seconds
    if not cache.complete_at:
        why = "no complete walk of the Organization is recorded yet"
    elif now - cache.complete_at > bound:
        why = (
            f"the last complete walk of the Organization is {int(now - cache.complete_at)} s old,"
            f" past the bound of {int(bound)} s"
        )
    else:
        tags, tags_unknown = fresh_tags(cache.tags, cache.tags_read_at, now, settings.account_tags_max_age_seconds)
        return Membership(
            settings.hub_account_id,
            explicit,
            units,
            cache.paths,
            seen_units=cache.seen_units,
            tags=tags,
            tags_unknown=tags_unknown,
        )
    return unknown(settings, why)


def unknown(settings: Settings, why: str) -> Membership:
    """Only the hub and the explicit accounts: the Organization's part is not known now."""
    return Membership(
        settings.hub_account_id,
        settings.approved_account_ids,
        settings.managed_units,
        unknown=f"{why}: only the hub and ApprovedAccountIds are managed",
    )


def cached(ctx: Context) -> Membership:
    """The membership the record holds, judged against the bound; read at most once a minute per
    container."""
    hit = _containers.get(ctx.aws)
    if hit is not None and ctx.clock() - hit[0] < CONTAINER_CACHE_SECONDS:
        return hit[1]
    settings = ctx.settings
    store = ctx.aws.record_store()
    if store is None:
        membership = unknown(settings, "no record table is configured")
    else:
        try:
            membership = judged(settings, read_cache(store), ctx.now())
        except RecordUnavailableError as e:
            membership = unknown(settings, f"the record's membership is unreadable ({e})")
    if membership.unknown:
        logger.warning("Organization membership not known", extra={"reason": membership.unknown})
    _containers[ctx.aws] = (ctx.clock(), membership)
    return membership


@struct
class Refresh:
    """What the sweep's walk read and wrote, for its report."""

    accounts: int = 0  # ACTIVE accounts under the managed units, as walked
    complete: bool = True
    written: int = 0  # account items written (new or moved)
    dropped: int = 0  # account items deleted (gone from a complete walk)
    problems: list[str] = dataclasses.field(default_factory=list)
    # While the policy matches by account tags: the accounts whose tags this walk read (at most
    # AccountTagReadsPerSweep), and those whose tags are older than AccountTagsMaxAgeHours (not known).
    reads_tags: bool = False
    tags_read: int = 0
    tags_stale: int = 0

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "accounts": self.accounts,
            "complete": self.complete,
            "written": self.written,
            "dropped": self.dropped,
            "problems": self.problems,
        }
        if self.reads_tags:
            described.update(tagsRead=self.tags_read, tagsStale=self.tags_stale)
        return described


def refresh(ctx: Context) -> tuple[Membership, Refresh]:
    """Walk the Organization, write the difference to the record, and give the membership this
    sweep acts on (`record`). The cache is read once: it says whose tags to read, and what changed."""
    cache = _cache_of(ctx)
    return record(ctx, walk(ctx, cache if isinstance(cache, Cache) else EMPTY), cache)


def _cache_of(ctx: Context) -> Cache | RecordUnavailableError:
    store = ctx.aws.record_store()
    try:
        if store is None:
            raise RecordUnavailableError(table="", operation="Query", reason="no record table is configured")
        return read_cache(store)
    except RecordUnavailableError as e:
        return e


def walk(ctx: Context, cache: Cache | None = None) -> OrgSnapshot:
    """The Organization under the managed units, as it is now (incomplete where a part failed);
    when the policy in force (loaded before the sweep, `authority.py`) matches by account tags, with
    the tags of at most AccountTagReadsPerSweep accounts, picked against `cache` (read when not
    given; an unreadable cache has no tags read yet)."""
    settings = ctx.settings
    try:
        organizations = ctx.aws.organizations()
        snapshot = organizations.walk(settings.managed_units)
    except AutopilotError as e:  # the reader role not assumed: nothing read
        return OrgSnapshot(read_at=ctx.now(), complete=False, units=settings.managed_units, problems=(str(e),))
    if not settings.current_policy().uses_account_tags():
        return snapshot
    if cache is None:
        found = _cache_of(ctx)
        cache = found if isinstance(found, Cache) else EMPTY
    # An account new to the cache (it joined, or moved in from outside the managed units) has no
    # read time: it is read first.
    picked = pick_tag_reads(snapshot.paths, cache.tags_read_at, settings.account_tag_reads_per_sweep)
    return organizations.tags_of(snapshot, picked)


def _tag_states(
    cache: Cache, snapshot: OrgSnapshot, reading: bool
) -> tuple[dict[str, Mapping[str, str]], dict[str, float]]:
    """Each walked account's tags and their read time after this walk: read now, or a read failed
    (not known), or kept from the cache while the policy uses account tags (none otherwise)."""
    tags: dict[str, Mapping[str, str]] = {}
    read_at: dict[str, float] = {}
    if not reading:
        return tags, read_at
    for account in snapshot.paths:
        if account in snapshot.tags:
            tags[account], read_at[account] = snapshot.tags[account], snapshot.read_at
        elif account not in snapshot.tags_failed and account in cache.tags:
            tags[account], read_at[account] = cache.tags[account], cache.tags_read_at.get(account, 0.0)
    return tags, read_at


def record(
    ctx: Context, snapshot: OrgSnapshot, cache: Cache | RecordUnavailableError | None = None
) -> tuple[Membership, Refresh]:
    """Write what `snapshot` changes in the cache (only the difference: new or moved accounts, and
    those whose tags were read or are no longer kept), and give the membership this sweep acts on:
    the walk's own when it is complete; with an incomplete walk, the cache updated by what the walk
    read (while the cache is within its bound), else only what it read. `cache`: as read before
    the walk (`refresh`); read here when not given."""
    settings = ctx.settings
    report = Refresh(len(snapshot.paths), snapshot.complete, problems=list(snapshot.problems))
    report.tags_read = len(snapshot.tags)
    store = ctx.aws.record_store()
    if cache is None:
        cache = _cache_of(ctx)
    reading = bool(snapshot.tags) or bool(snapshot.tags_failed)
    if store is None or isinstance(cache, RecordUnavailableError):
        why = cache if isinstance(cache, RecordUnavailableError) else "no record table is configured"
        report.problems.append(f"membership not cached: {why}")
        walked = Membership.of(settings.hub_account_id, settings.approved_account_ids, settings.managed_units, snapshot)
        return dataclasses.replace(walked, seen_units=snapshot.seen_units), report
    reading = reading or settings.current_policy().uses_account_tags()
    report.reads_tags = reading
    tags_after, read_at_after = _tag_states(cache, snapshot, reading)
    moved, dropped = membership_changes(cache.paths, snapshot)
    written = {
        a: p
        for a, p in snapshot.paths.items()
        if a in moved
        or cache.tags.get(a) != tags_after.get(a)
        or (a in tags_after and cache.tags_read_at.get(a) != read_at_after.get(a))
    }
    complete_at = snapshot.read_at if snapshot.complete else cache.complete_at
    kept = {a: p for a, p in cache.paths.items() if a not in dropped}
    merged = {**kept, **written}
    # The accounts the walk did not meet (an incomplete walk) keep the tags the cache holds.
    merged_tags = {a: t for a, t in cache.tags.items() if a in merged and a not in snapshot.paths}
    merged_read_at = {a: cache.tags_read_at.get(a, 0.0) for a in merged_tags}
    merged_tags.update(tags_after)
    merged_read_at.update(read_at_after)
    seen = snapshot.seen_units if snapshot.complete else cache.seen_units | snapshot.seen_units
    try:
        # The accounts first, the walk's item last: a write that fails part-way leaves the walk's
        # time as it was, so the bound still holds.
        store.write(
            puts=[account_item(a, p, tags_after.get(a), read_at_after.get(a, 0.0)) for a, p in sorted(written.items())],
            deletes=[(MEMBERSHIP, f"{ACCOUNT}{a}") for a in dropped],
        )
        store.write(puts=[walk_item(snapshot, complete_at, len(merged), seen)])
        report.written, report.dropped = len(written), len(dropped)
    except RecordUnavailableError as e:
        report.problems.append(f"membership not cached: {e}")
    tags: Mapping[str, Mapping[str, str]] = tags_after
    read_at: Mapping[str, float] = read_at_after
    if snapshot.complete:
        paths: Mapping[str, tuple[str, ...]] = snapshot.paths
    elif complete_at and ctx.now() - complete_at <= settings.membership_max_age_seconds:
        paths, tags, read_at = merged, merged_tags, merged_read_at  # nothing dropped on an incomplete walk's word
    else:
        paths = snapshot.paths  # the cache is past its bound: only what this walk read
    fresh, stale = fresh_tags(tags, read_at, ctx.now(), settings.account_tags_max_age_seconds)
    report.tags_stale = len(stale)
    membership = Membership(
        settings.hub_account_id,
        settings.approved_account_ids,
        settings.managed_units,
        MappingProxyType(dict(paths)),
        seen_units=seen,
        tags=MappingProxyType(dict(fresh)),
        tags_unknown=stale,
    )
    _containers[ctx.aws] = (ctx.clock(), membership)
    return membership, report
