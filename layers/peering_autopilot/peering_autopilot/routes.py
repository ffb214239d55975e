"""Step 3 of the runbook, planned: which routes each route table of a VPC still needs. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from peering_autopilot.model import ROUTES_TAG, Cidrs, Described, Network, RouteTable, TableRoute
from peering_autopilot.settings import PeerCidrPolicy


@dataclass(frozen=True)
class Route(Described):
    route_table_id: str
    destination: str


# The findings about one route below are a Route with one fact more: they name it the same way.


@dataclass(frozen=True)
class RouteConflict(Route):
    """The table already sends this destination elsewhere: left alone, reported."""

    existing_target: str


@dataclass(frozen=True)
class SkippedTable(Described):
    route_table_id: str
    reason: str


@dataclass(frozen=True)
class RouteReplacement(Route):
    """The table sends this destination to a target that is gone (State blackhole): replaced."""

    dead_target: str


@dataclass(frozen=True)
class RouteLeftAlone(Route):
    """A route through this peering that is no longer wanted but whose removal cannot be justified
    (routes carry no author): reported, not removed."""

    reason: str


@dataclass(frozen=True)
class PersonsRoute(Route):
    """A route the autopilot's record does not hold: a person's. It stays, whatever it is; where
    it sends a slice of a peer block somewhere other than this peering (`changes_path`), the
    verdict and the status command say so."""

    target: str
    reason: str
    changes_path: bool = False


@dataclass(frozen=True)
class ShadowWarning(Route):
    """A route the autopilot makes is more specific than a live route to a gateway: traffic to
    that slice leaves through the peering instead (on-premises or a TGW may have served it)."""

    covering_destination: str
    gateway: str


@dataclass(frozen=True)
class RefusedBlock(Described):
    """A peer block the autopilot does not route or allow, and why."""

    cidr: str
    reason: str


@dataclass
class RoutePlan:
    add: list[Route] = field(default_factory=list)
    present: list[Route] = field(default_factory=list)
    conflicts: list[RouteConflict] = field(default_factory=list)
    skipped: list[SkippedTable] = field(default_factory=list)
    replace: list[RouteReplacement] = field(default_factory=list)
    remove: list[Route] = field(default_factory=list)
    left_alone: list[RouteLeftAlone] = field(default_factory=list)
    shadowed: list[ShadowWarning] = field(default_factory=list)
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
) -> RoutePlan:
    """Every managed table (main or subnet-associated, not excluded by its owner) needs a route to
    each destination through the peering. A route already there counts as done; a blackhole route
    (its target is gone) is replaced; a live route to another target is a conflict, never
    overwritten. A route through this peering that is no longer wanted is removed only when the
    autopilot's record holds it (`owns(table, destination)`) and `peer_blocks` (the peer VPC as
    read from its own account) proves the peer gave the block up; one the record does not hold is
    a person's (kept, in `persons`); with no record to ask (`owns` None: `unreadable` says why) or
    no proof, it is left alone, reported. A route the record does not hold to a slice of a wanted
    block is a person's too; where it goes elsewhere, it changes the path (reported)."""
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
            if found is None:
                plan.add.append(route)
            elif found.peering_id == peering_id:
                plan.present.append(route)  # blackhole too while the peering provisions: it is ours
            elif found.blackhole:
                plan.replace.append(RouteReplacement(table_id, str(destination), route_target(found)))
            else:
                plan.conflicts.append(RouteConflict(table_id, str(destination), _target(found)))
                continue
            plan.shadowed += _shadows(table_id, destination, existing)
        for network, found in existing.items():
            if network in wanted:
                continue
            if found.peering_id != peering_id:
                # The record holds routes through the peering only: any other route is a person's.
                # One to a slice of a peer block this table routes through the peering changes
                # where that slice goes.
                covering = _covering(network, destinations)
                routed = existing.get(covering) if covering is not None else None
                if covering is not None and (routed is None or routed.peering_id == peering_id or routed.blackhole):
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


def _covering(network: Network, destinations: Sequence[Network]) -> Network | None:
    """The wanted block `network` is a strict slice of, if any."""
    return next(
        (d for d in destinations if d.version == network.version and d != network and network.subnet_of(d)),  # type: ignore[arg-type]
        None,
    )


# Targets whose routes carry traffic somewhere other than a peering: a more specific peering route
# takes that slice away from them.
_GATEWAY_KINDS = ("gateway", "transit-gateway", "nat-gateway")


def _shadows(table_id: str, destination: Network, existing: Mapping[Network, TableRoute]) -> list[ShadowWarning]:
    """Live gateway routes (VGW, TGW, NAT, IGW) that cover `destination` with a shorter prefix.
    Default routes are left out: every peering route is more specific than 0.0.0.0/0, by design."""
    found = []
    for network, route in existing.items():
        if network.version != destination.version or network.prefixlen == 0 or network == destination:
            continue
        if route.blackhole or not destination.subnet_of(network):  # type: ignore[arg-type]
            continue
        if route.target_kind in _GATEWAY_KINDS and route.target_id != "local":
            found.append(ShadowWarning(table_id, str(destination), str(network), route.target_id))
    return found


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
            refused.append(RefusedBlock(str(block), f"outside AllowedPeerCidrs ({policy.describe()})"))
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
