"""Issue 21, rules 1 and 2, over random route tables: what `plan_routes` plans never takes traffic
from a live route.

For any route tables (local routes, internet and virtual private gateways, NAT and transit
gateways, instances, network interfaces, other peerings' routes and this peering's, default routes;
each active or blackhole; prefixes inside 10.0.0.0/8 and a few IPv6 ones), any peer blocks and any
set of targets read as gone for good, once what the plan adds and replaces is applied to the tables:

(a) no route is written to a destination equal to or more specific than that of a live route of the
    table (not local, not default, not through this peering);
(b) for every address, the longest-prefix match before and after is the same route whenever
    before it was a live, non-default route not through this peering. A blackhole whose target is
    in `gone` is not live: only such a route, or one through this peering, may lose its traffic;
(c) rule 1 itself: nothing is written for a block that such a live route overlaps at any prefix
    length (a more specific one too: it keeps its own addresses by the longest prefix, so (a) and
    (b) alone would let a plan that ignores it through).

Addresses checked: the first and last address of every prefix in play and the ones just outside
them. Every stretch of addresses with one longest-prefix match starts at one of those, so (b) is
checked for every address, not a sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peering_autopilot.model import (
    PEERING_TARGET,
    ROUTES_TAG,
    Network,
    RouteTable,
    TableAssociation,
    TableRoute,
)
from peering_autopilot.routes import plan_routes

PID = "pcx-0000000000000000a"
OTHER_PEERINGS = ("pcx-0000000000000000b", "pcx-0000000000000000c")
VPC_ID = "vpc-0aaaaaaaaaaaaaaa1"
LOCAL_V4 = ip_network("10.0.0.0/16")
LOCAL_V6 = ip_network("2600:1f18:1111:2200::/56")
DEFAULTS = (ip_network("0.0.0.0/0"), ip_network("::/0"))

# Where a route may point, by kind: a few ids each, so that tables share targets and `gone` bites.
TARGETS: dict[str, tuple[str, ...]] = {
    "gateway": ("igw-0000000000000001", "vgw-0000000000000001"),
    "nat-gateway": ("nat-0000000000000001", "nat-0000000000000002"),
    "transit-gateway": ("tgw-0000000000000001",),
    "instance": ("i-0000000000000001",),
    "network-interface": ("eni-0000000000000001",),
    PEERING_TARGET: (PID, *OTHER_PEERINGS),
}
ALL_TARGET_IDS = sorted({t for ids in TARGETS.values() for t in ids})

# Prefixes that overlap often: 10.{0,1,2}.{0,1,2,128}.0 at lengths from /8 to /24.
v4_networks = st.builds(
    lambda second, third, length: ip_network(f"10.{second}.{third}.0/{length}", strict=False),
    st.sampled_from([0, 1, 2]),
    st.sampled_from([0, 1, 2, 128]),
    st.sampled_from([8, 12, 15, 16, 17, 20, 23, 24]),
)
v6_networks = st.builds(
    lambda hextet, length: ip_network(f"2600:1f18:1111:{hextet}::/{length}", strict=False),
    st.sampled_from(["2200", "2280", "2300", "2301"]),
    st.sampled_from([48, 52, 56, 60, 64]),
)
destinations = st.one_of(v4_networks, v4_networks, v4_networks, v6_networks, st.sampled_from(DEFAULTS))


@st.composite
def routes_of(draw: st.DrawFn, destination: Network) -> TableRoute:
    kind = draw(st.sampled_from(sorted(TARGETS)))
    target = draw(st.sampled_from(TARGETS[kind]))
    state = draw(st.sampled_from(["active", "active", "blackhole"]))
    return TableRoute(destination, kind, target, state)


@st.composite
def tables(draw: st.DrawFn, table_id: str) -> RouteTable:
    chosen = draw(st.lists(destinations, max_size=8, unique=True))
    locals_ = [LOCAL_V4, LOCAL_V6] if draw(st.booleans()) else [LOCAL_V4]
    routes = [TableRoute(block, "gateway", "local", "active") for block in locals_]
    routes += [draw(routes_of(d)) for d in chosen if d not in locals_]
    if draw(st.booleans()):  # a prefix-list destination: left alone by every planner
        routes.append(TableRoute(None, "gateway", "vgw-0000000000000001", "active", "pl-00000001"))
    where = draw(st.sampled_from(["main", "subnet", "subnet", "loose", "excluded"]))
    associations = (
        ()
        if where == "loose"
        else (TableAssociation(where == "main", "" if where == "main" else f"subnet-{table_id[4:]}", "associated"),)
    )
    tags = {ROUTES_TAG: "false"} if where == "excluded" else {}
    return RouteTable(table_id, VPC_ID, tags, associations, tuple(draw(st.permutations(routes))))


@st.composite
def peer_blocks(draw: st.DrawFn) -> list[Network]:
    """A peer VPC's blocks: disjoint, as a VPC's are."""
    candidates = draw(st.lists(st.one_of(v4_networks, v4_networks, v6_networks), min_size=1, max_size=4))
    blocks: list[Network] = []
    for block in candidates:
        if all(b.version != block.version or not b.overlaps(block) for b in blocks):
            blocks.append(block)
    return blocks


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[RouteTable], list[Network], frozenset[str]]:
    count = draw(st.integers(min_value=1, max_value=3))
    drawn = [draw(tables(f"rtb-000000000000000{i}")) for i in range(count)]
    gone = frozenset(draw(st.sets(st.sampled_from(ALL_TARGET_IDS))))
    return drawn, draw(peer_blocks()), gone


def applied(table: RouteTable, added: Iterable[str], replaced: Iterable[str]) -> RouteTable:
    """The table once the plan's writes are made, as EC2 makes them: CreateRoute refuses a
    destination the table already has; ReplaceRoute needs one."""
    routes = {r.destination: r for r in table.routes if r.destination is not None}
    for destination in added:
        network = ip_network(destination)
        assert network not in routes, f"CreateRoute for {network}, which {table.route_table_id} already has"
        routes[network] = TableRoute(network, PEERING_TARGET, PID, "active")
    for destination in replaced:
        network = ip_network(destination)
        assert network in routes, f"ReplaceRoute for {network}, which {table.route_table_id} does not have"
        routes[network] = TableRoute(network, PEERING_TARGET, PID, "active")
    kept = tuple(r for r in table.routes if r.destination is None)
    return table._replace(routes=kept + tuple(routes.values()))


def live(route: TableRoute, gone: frozenset[str]) -> bool:
    return not route.blackhole or route.target_id not in gone


def claims_traffic(route: TableRoute, gone: frozenset[str]) -> bool:
    """A route whose traffic the autopilot must never take: live, not default, not this peering's."""
    return (
        route.destination is not None
        and route.destination.prefixlen > 0
        and route.peering_id != PID
        and live(route, gone)
    )


def longest_match(routes: Sequence[TableRoute], address: IPv4Address | IPv6Address) -> TableRoute | None:
    matching = [
        r
        for r in routes
        if r.destination is not None and r.destination.version == address.version and address in r.destination
    ]
    return max(matching, key=lambda r: r.destination.prefixlen, default=None)  # type: ignore[union-attr]


def boundary_addresses(networks: Iterable[Network]) -> set[IPv4Address | IPv6Address]:
    """The first and last address of each network and the ones just outside it."""
    found: set[IPv4Address | IPv6Address] = set()
    for network in networks:
        first, last = int(network.network_address), int(network.broadcast_address)
        top = 2**network.max_prefixlen - 1
        for value in (first - 1, first, last, last + 1):
            if 0 <= value <= top:
                found.add(ip_address(value) if network.version == 4 else IPv6Address(value))
    return found


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_a_plan_never_takes_traffic_from_a_live_route(
    world: tuple[list[RouteTable], list[Network], frozenset[str]],
) -> None:
    route_tables, blocks, gone = world
    plan = plan_routes(route_tables, blocks, PID, gone=gone)

    managed = {
        t.route_table_id
        for t in route_tables
        if t.tags.get(ROUTES_TAG) is None and any(a.main or a.subnet_id for a in t.associations)
    }
    written = [(r.route_table_id, r.destination) for r in [*plan.add, *plan.replace]]
    assert {table for table, _ in written} <= managed, "a route planned in a table the autopilot may not touch"
    assert {ip_network(d) for _, d in written} <= set(blocks), "a route planned to something not a peer block"

    for table in route_tables:
        table_id = table.route_table_id
        added = [r.destination for r in plan.add if r.route_table_id == table_id]
        replaced = [r.destination for r in plan.replace if r.route_table_id == table_id]
        after = applied(table, added, replaced)

        # (a) nothing written equal to or more specific than a live route's destination
        for destination in map(ip_network, [*added, *replaced]):
            for route in table.routes:
                if route.target_id == "local" or not claims_traffic(route, gone):
                    continue
                assert route.destination is not None
                if route.destination.version == destination.version:
                    assert not destination.subnet_of(route.destination), (  # type: ignore[arg-type]
                        f"{table_id}: {destination} written inside {route.destination} -> {route.target_id} ({route.state})"
                    )

        # (c) rule 1 as the issue words it: nothing written where a live route overlaps the block at
        # any prefix length, a more specific one included (it would keep its own traffic by the
        # longest prefix, but the block is then split between two paths: held for a person)
        for destination in map(ip_network, [*added, *replaced]):
            overlapping = [
                r
                for r in table.routes
                if r.target_id != "local"
                and claims_traffic(r, gone)
                and r.destination is not None
                and r.destination.version == destination.version
                and r.destination.overlaps(destination)
            ]
            assert not overlapping, f"{table_id}: {destination} written over {overlapping}"

        # (b) every address a live route carried still goes where it went
        networks = [r.destination for r in table.routes if r.destination is not None] + list(blocks)
        for address in boundary_addresses(networks):
            before = longest_match(table.routes, address)
            if before is None or not claims_traffic(before, gone):
                continue
            now = longest_match(after.routes, address)
            assert now == before, f"{table_id}: {address} went to {before}, now to {now}"
