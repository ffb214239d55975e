"""Refusals that would fail alike if retried at once (a route table or a security group at its
quota) are held back: noted on the peering, in the account of the resource, as a tag
`peering-autopilot:held:<resource id>` = `<code> <time> <size>`. The resource is tried again after
an hour, or sooner when its size (routes in the table, rules in the group) changed, for then a
person may have made room. Pure: the steps read and write the tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from peering_autopilot.model import Described, RouteTable, SecurityGroup
from peering_autopilot.structs import struct

HOLD_PREFIX = "peering-autopilot:held:"
RETRY_AFTER_SECONDS = 3600.0


@struct(frozen=True)
class Hold(Described):
    resource_id: str
    code: str
    since: str  # ISO 8601, UTC
    size: int  # routes in the table or rules in the group when it was refused

    @property
    def tag(self) -> tuple[str, str]:
        return f"{HOLD_PREFIX}{self.resource_id}", f"{self.code} {self.since} {self.size}"

    def applies(self, now: float, size: int) -> bool:
        """Still held: refused less than an hour ago, and the resource has not changed size."""
        since = datetime.fromisoformat(self.since).timestamp()
        return now - since < RETRY_AFTER_SECONDS and size == self.size


def holds_in(tags: Mapping[str, str]) -> dict[str, Hold]:
    """The holds a peering's tags carry, by resource id; a tag that does not parse holds nothing."""
    found = {}
    for key, value in tags.items():
        if not key.startswith(HOLD_PREFIX):
            continue
        parts = value.split(" ")
        if len(parts) != 3 or not parts[2].isdigit():
            continue
        try:
            datetime.fromisoformat(parts[1])
        except ValueError:
            continue
        resource = key.removeprefix(HOLD_PREFIX)
        found[resource] = Hold(resource, parts[0], parts[1], int(parts[2]))
    return found


def new_hold(resource_id: str, code: str, now: float, size: int) -> Hold:
    since = datetime.fromtimestamp(now, UTC).replace(microsecond=0).isoformat()
    return Hold(resource_id, code, since, size)


def sizes_of(tables: Iterable[RouteTable], groups: Iterable[SecurityGroup]) -> dict[str, int]:
    """What a hold compares: routes per route table, rules (CIDR ranges) per security group."""
    sizes = {t.route_table_id: len(t.routes) for t in tables}
    for group in groups:
        sizes[group.group_id] = sum(len(p.ranges) for p in group.ingress)
    return sizes


def holding(holds: Mapping[str, Hold], sizes: Mapping[str, int], now: float) -> set[str]:
    """The resources (among those read) still held back."""
    return {rid for rid, hold in holds.items() if rid in sizes and hold.applies(now, sizes[rid])}
