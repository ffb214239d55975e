"""Step 3 of the runbook, planned: which routes each route table of a VPC still needs. Pure."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import field

from peering_autopilot.model import PEERING_TARGET, ROUTES_TAG, Cidrs, Described, Network, RouteTable, TableRoute
from peering_autopilot.settings import PeerCidrPolicy
from peering_autopilot.structs import struct


@struct(frozen=True)
class Route(Described):
    route_table_id: str
    destination: str


# The findings about one route below are a Route with one fact more: they name it the same way.


@struct(frozen=True)
class RouteConflict(Route):
    """Held: a live route of the table already sends (part of) this block elsewhere. Nothing is
    written for the block there; the older claim keeps its traffic, a person decides."""

    existing_target: str
    existing_destination: str  # the claiming route's destination (the block itself, or one overlapping it)


@struct(frozen=True)
class SkippedTable(Described):
    route_table_id: str
    reason: str


@struct(frozen=True)
class RouteReplacement(Route):
    """The table sends this destination to a target that is gone (State blackhole): replaced."""

    dead_target: str


@struct(frozen=True)
class RouteLeftAlone(Route):
    """A route through this peering that is no longer wanted but whose removal cannot be justified
    (routes carry no author): reported, not removed."""

    reason: str


@struct(frozen=True)
class PersonsRoute(Route):
    """A route the autopilot's record does not hold: a person's. It stays, whatever it is; where
    it sends a slice of a peer block somewhere other than this peering (`changes_path`), the
    verdict and the status command say so."""

    target: str
    reason: str
    changes_path: bool = False


@struct(frozen=True)
class RefusedBlock(Described):
    """A peer block the autopilot does not route or allow, and why."""

    cidr: str
    reason: str


@struct
class RoutePlan:
    add: list[Route] = field(default_factory=list)
    present: list[Route] = field(default_factory=list)
    conflicts: list[RouteConflict] = field(default_factory=list)
    skipped: list[SkippedTable] = field(default_factory=list)
    replace: list[RouteReplacement] = field(default_factory=list)
    remove: list[Route] = field(default_factory=list)
    left_alone: list[RouteLeftAlone] = field(default_factory=list)
    persons: list[PersonsRoute] = field(default_factory=list)  # not in the record: a person's, kept

    @property
    def path_changes(self) -> list[PersonsRoute]:
        return [p for p in self.persons if p.changes_path]

    @property
    def removal_candidates(self) -> bool:
        """Whether a route through the peering is no longer wanted: only the record can say
        whether it is the autopilot's to take away."""
        return bool(self.remove or self.left_alone or any(not p.changes_path for p in self.persons))


def excluded_by_owner(tags: Mapping[str, str]) -> bool:
    """A table is left out when its owner tagged it peering-autopilot:routes with any value other
    than `true` (any case): `false`, `False`, `no`, a typo. Fails safe; the member role's IAM
    condition says the same."""
    value = tags.get(ROUTES_TAG)
    return value is not None and value.lower() != "true"


RECORD_NOT_READ = "the autopilot's record was not read"
PERSONS = "not in the autopilot's record: a person's route"
PEER_UNPROVEN = "the peer VPC could not be read: it may still hold this block"


def plan_routes(
    route_tables: Sequence[RouteTable],
    destinations: Sequence[Network],
    peering_id: str,
    peer_blocks: Cidrs | None = None,
    owns: Callable[[str, str], bool] | None = None,
    unreadable: str = RECORD_NOT_READ,
    gone: Container[str] = frozenset(),
) -> RoutePlan:
    """Every managed table (main or subnet-associated, not excluded by its owner) needs a route to
    each destination through the peering, unless the table already sends any of that range
    elsewhere (`claim_elsewhere`): then the block is held there (`conflicts`), never written. A
    route already through the peering counts as done; a blackhole route to exactly the block is
    replaced only when its target is gone for good (`gone`: target ids read as ended or deleted).
    A route through this peering that is no longer wanted is removed only when the
    autopilot's record holds it (`owns(table, destination)`) and `peer_blocks` (the peer VPC as
    read from its own account) proves the peer gave the block up; one the record does not hold is
    a person's (kept, in `persons`); with no record to ask (`owns` None: `unreadable` says why) or
    no proof, it is left alone, reported. A route the record does not hold to a slice of a block
    routed through the peering is a person's too; where it goes elsewhere, it changes the path
    (reported, and the verdict is not `verified`)."""
    plan = RoutePlan()
    wanted = set(destinations)
    for table in sorted(route_tables, key=lambda t: t.route_table_id):
        table_id = table.route_table_id
        tags = table.tags
        if excluded_by_owner(tags):
            plan.skipped.append(SkippedTable(table_id, f"tagged {ROUTES_TAG}={tags[ROUTES_TAG]!r} (not 'true')"))
            continue
        associations = [a for a in table.associations if a.live]
        if not any(a.main or a.subnet_id for a in associations):
            plan.skipped.append(SkippedTable(table_id, "neither the main table nor associated with a subnet"))
            continue
        existing = _routes_by_destination(table)
        for destination in destinations:
            route = Route(table_id, str(destination))
            found = existing.get(destination)
            if found is not None and found.peering_id == peering_id:
                plan.present.append(route)  # blackhole too while the peering provisions: it is ours
                continue
            claim = claim_elsewhere(table, destination, peering_id, gone)
            if claim is not None:
                plan.conflicts.append(RouteConflict(table_id, str(destination), _target(claim), str(claim.destination)))
            elif found is None:
                plan.add.append(route)
            else:  # to exactly this block, through a target gone for good
                plan.replace.append(RouteReplacement(table_id, str(destination), route_target(found)))
        for network, found in existing.items():
            if network in wanted:
                continue
            if found.peering_id != peering_id:
                # The record holds routes through the peering only: any other route is a person's.
                # One to a slice of a peer block this table routes through the peering (made
                # before it) changes where that slice goes.
                covering = _covering(network, destinations)
                routed = existing.get(covering) if covering is not None else None
                if routed is not None and routed.peering_id == peering_id and _live(found, gone):
                    why = f"sends {network}, inside the peer's {covering}, to {_target(found)} instead of this peering"
                    plan.persons.append(PersonsRoute(table_id, str(network), _target(found), why, True))
                continue
            if owns is None:
                why = f"the record could not be read: {unreadable}"
                plan.left_alone.append(RouteLeftAlone(table_id, str(network), why))
            elif not owns(table_id, str(network)):
                covering = _covering(network, destinations)
                why = PERSONS + (f" (more specific, inside the peer's {covering})" if covering else "")
                plan.persons.append(PersonsRoute(table_id, str(network), peering_id, why))
            elif peer_blocks is None:
                plan.left_alone.append(RouteLeftAlone(table_id, str(network), PEER_UNPROVEN))
            elif network in (*peer_blocks.ipv4, *peer_blocks.ipv6):
                why = "the peer still holds this block, but it is not routed (see refusedBlocks)"
                plan.left_alone.append(RouteLeftAlone(table_id, str(network), why))
            else:
                plan.remove.append(Route(table_id, str(network)))
    return plan


# ---------------------------------------------------------------------- who already claims a range
# Targets whose blackhole is final, and which a read can prove gone: a peering that ended, a NAT
# gateway or transit gateway deleted, a network interface deleted. Any other blackhole (a stopped
# instance, a detached internet or virtual private gateway) may come back with its traffic.
GONE_FOR_GOOD_KINDS = frozenset({PEERING_TARGET, "nat-gateway", "transit-gateway", "network-interface"})


def _live(route: TableRoute, gone: Container[str]) -> bool:
    """Whether a route still claims its range: active, or a blackhole whose target may come back."""
    return not route.blackhole or route.target_id not in gone


def claim_elsewhere(
    table: RouteTable, block: Network, peering_id: str, gone: Container[str] = frozenset()
) -> TableRoute | None:
    """The route of `table` that already sends some of `block` somewhere other than `peering_id`:
    live (or a blackhole whose target may come back), not a default route (0.0.0.0/0, ::/0: the
    catch-all every peering route is meant to be more specific than), overlapping the block at any
    prefix length. (The VPC's own `local` routes claim its own blocks, which `peer_destinations`
    refuses before any table is asked.) The exact destination first, then the most
    specific. None when the range is nobody's: then, and only then, the peering may take it. The
    one rule for configure, the sweep, verify, the status command, the accept step and groups."""
    claims = [
        route
        for route in table.routes
        if route.destination is not None
        and route.destination.version == block.version
        and route.destination.prefixlen > 0
        and route.peering_id != peering_id
        and route.destination.overlaps(block)
        and _live(route, gone)
    ]
    if not claims:
        return None
    return min(claims, key=lambda r: (r.destination != block, -r.destination.prefixlen, str(r.destination)))  # type: ignore[union-attr]


def blackholes_to_judge(tables: Iterable[RouteTable]) -> set[tuple[str, str]]:
    """(kind, target id) of every blackhole route whose target a read may prove gone for good."""
    return {
        (route.target_kind, route.target_id)
        for table in tables
        for route in table.routes
        if route.blackhole and route.target_kind in GONE_FOR_GOOD_KINDS and route.target_id
    }


def _covering(network: Network, destinations: Sequence[Network]) -> Network | None:
    """The wanted block `network` is a strict slice of, if any."""
    return next(
        (d for d in destinations if d.version == network.version and d != network and network.subnet_of(d)),  # type: ignore[arg-type]
        None,
    )


def _routes_by_destination(table: RouteTable) -> dict[Network, TableRoute]:
    """The table's routes by CIDR destination (prefix-list destinations are left out)."""
    return {route.destination: route for route in table.routes if route.destination is not None}


def route_target(route: TableRoute) -> str:
    """Where a route sends traffic: the target it names."""
    return route.target_id or "unknown target"


def _target(route: TableRoute) -> str:
    target = route_target(route)
    return f"{target} (blackhole)" if route.blackhole else target


def peer_destinations(
    own: Cidrs, peer: Cidrs, policy: PeerCidrPolicy, with_ipv6: bool
) -> tuple[list[Network], list[RefusedBlock]]:
    """What a side routes through the peering: only the peer VPC's own blocks (peering is not
    transitive), IPv6 only when both VPCs have it; never a block outside AllowedPeerCidrs or one
    that overlaps this side's own (a block added after acceptance gets the same look)."""
    wanted: list[Network] = []
    refused: list[RefusedBlock] = []
    blocks: list[Network] = [*peer.ipv4, *(peer.ipv6 if with_ipv6 else ())]
    own_blocks: list[Network] = [*own.ipv4, *own.ipv6]
    for block in blocks:
        clash = next((str(o) for o in own_blocks if o.version == block.version and o.overlaps(block)), None)
        if not policy.allows(block):
            refused.append(RefusedBlock(str(block), f"outside {policy.label} ({policy.describe()})"))
        elif clash:
            refused.append(RefusedBlock(str(block), f"overlaps this VPC's own block {clash}"))
        else:
            wanted.append(block)
    return wanted, refused


def peerings_routed(tables: Iterable[RouteTable]) -> set[str]:
    """The peerings the tables hold routes through."""
    return {r.peering_id for t in tables for r in t.routes if r.peering_id}


def routes_through(tables: Iterable[RouteTable], peering_id: str) -> list[Route]:
    """Every route the tables send through the peering (to a CIDR: prefix-list destinations are
    left alone)."""
    return [
        Route(table.route_table_id, str(route.destination))
        for table in tables
        for route in table.routes
        if route.peering_id == peering_id and route.destination is not None
    ]
