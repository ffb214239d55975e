"""Step 3 of the runbook, planned: which routes each route table of a VPC still needs. Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from peering_autopilot.model import ROUTES_TAG, Cidrs, Described

# Where a route can point; the first one present names the target in a conflict report.
_TARGET_KEYS = (
    "VpcPeeringConnectionId",
    "GatewayId",
    "NatGatewayId",
    "TransitGatewayId",
    "NetworkInterfaceId",
    "InstanceId",
    "EgressOnlyInternetGatewayId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "CoreNetworkArn",
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Route(Described):
    route_table_id: str
    destination: str


@dataclass(frozen=True)
class RouteConflict(Described):
    """The table already sends this destination elsewhere: left alone, reported."""

    route_table_id: str
    destination: str
    existing_target: str


@dataclass(frozen=True)
class SkippedTable(Described):
    route_table_id: str
    reason: str


@dataclass
class RoutePlan:
    add: list[Route] = field(default_factory=list)
    present: list[Route] = field(default_factory=list)
    conflicts: list[RouteConflict] = field(default_factory=list)
    skipped: list[SkippedTable] = field(default_factory=list)


def plan_routes(
    route_tables: Sequence[Mapping[str, Any]], destinations: Sequence[Network], peering_id: str
) -> RoutePlan:
    """Every managed table (main or subnet-associated, not tagged routes=false) needs a route to
    each destination through the peering. A route already there counts as done; one to another
    target is a conflict, never overwritten."""
    plan = RoutePlan()
    for table in sorted(route_tables, key=lambda t: str(t["RouteTableId"])):
        table_id = str(table["RouteTableId"])
        tags = {t["Key"]: t["Value"] for t in table.get("Tags", [])}
        if tags.get(ROUTES_TAG) == "false":
            plan.skipped.append(SkippedTable(table_id, f"tagged {ROUTES_TAG}=false"))
            continue
        associations = [a for a in table.get("Associations", []) if _live(a)]
        if not any(a.get("Main") or a.get("SubnetId") for a in associations):
            plan.skipped.append(SkippedTable(table_id, "neither the main table nor associated with a subnet"))
            continue
        existing = _routes_by_destination(table)
        for destination in destinations:
            route = Route(table_id, str(destination))
            found = existing.get(destination)
            if found is None:
                plan.add.append(route)
            elif found.get("VpcPeeringConnectionId") == peering_id:
                plan.present.append(route)
            else:
                plan.conflicts.append(RouteConflict(table_id, str(destination), _target(found)))
    return plan


def _live(association: Mapping[str, Any]) -> bool:
    state = association.get("AssociationState", {}).get("State", "associated")
    return state in ("associated", "associating")


def _routes_by_destination(table: Mapping[str, Any]) -> dict[Network, Mapping[str, Any]]:
    routes: dict[Network, Mapping[str, Any]] = {}
    for route in table.get("Routes", []):
        block = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
        if block:
            routes[ipaddress.ip_network(block, strict=False)] = route
    return routes


def route_target(route: Mapping[str, Any]) -> str:
    """Where a route sends traffic: the first target it names."""
    return next((str(route[key]) for key in _TARGET_KEYS if route.get(key)), "unknown target")


def _target(route: Mapping[str, Any]) -> str:
    target = route_target(route)
    return f"{target} (blackhole)" if route.get("State") == "blackhole" else target


def destinations(peer_cidrs: Cidrs, with_ipv6: bool) -> list[Network]:
    """What a side routes through the peering: only the peer VPC's own blocks (peering is not
    transitive), IPv6 only when both VPCs have it."""
    return [*peer_cidrs.ipv4, *(peer_cidrs.ipv6 if with_ipv6 else ())]


def peerings_routed(tables: Iterable[Mapping[str, Any]]) -> set[str]:
    """The peerings the tables hold routes through."""
    return {
        str(r["VpcPeeringConnectionId"]) for t in tables for r in t.get("Routes", []) if r.get("VpcPeeringConnectionId")
    }


def routes_through(tables: Iterable[Mapping[str, Any]], peering_id: str) -> list[Route]:
    """Every route the tables send through the peering."""
    return [
        Route(
            str(table["RouteTableId"]), str(route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock"))
        )
        for table in tables
        for route in table.get("Routes", [])
        if route.get("VpcPeeringConnectionId") == peering_id
    ]
