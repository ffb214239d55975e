"""Where moto's EC2 differs from AWS in ways the autopilot's decisions depend on, make it do what
AWS does. Applied once, by importing the harness; each patch says what AWS does and moto does not.

- A route whose target is gone (a deleted NAT gateway, a stopped or terminated instance, a
  peering that ended, a deleted transit gateway) stays in its table with State `blackhole`;
  moto reports every route `active`.
- A peering describes each side's IPv4 and IPv6 blocks (`CidrBlockSet`, `Ipv6CidrBlockSet`, as the
  VPC holds them now); moto gives only the primary `CidrBlock`.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models.route_tables import Route
from moto.ec2.models.vpc_peering_connections import VPCPeeringConnection

_DEAD_PEERING = {"deleted", "deleting", "rejected", "expired", "failed"}
_LIVE_BLOCK = {"associated", "associating"}


def _route_state(route: Any) -> str:
    nat = route.nat_gateway
    if nat is not None and getattr(nat, "state", "available") in ("deleting", "deleted", "failed"):
        return "blackhole"
    instance = route.instance
    if instance is not None and getattr(getattr(instance, "_state", None), "name", "running") != "running":
        return "blackhole"
    pcx = route.vpc_pcx
    if pcx is not None and pcx._status.code in _DEAD_PEERING:
        return "blackhole"
    tgw = route.transit_gateway
    if tgw is not None and str(getattr(tgw, "state", "available")) in ("deleting", "deleted"):
        return "blackhole"
    return "active"


def _vpc_info(original: property, side: str) -> property:
    def info(self: Any) -> dict[str, Any]:
        described = dict(original.fget(self))  # type: ignore[misc]
        vpc = getattr(self, side)
        blocks = [a for a in vpc.get_cidr_block_association_set() if a["cidr_block_state"]["state"] in _LIVE_BLOCK]
        v6 = [a for a in vpc.get_cidr_block_association_set(ipv6=True) if a["cidr_block_state"]["state"] in _LIVE_BLOCK]
        described["CidrBlockSet"] = [{"CidrBlock": a["cidr_block"]} for a in blocks]
        described["Ipv6CidrBlockSet"] = [{"Ipv6CidrBlock": a["cidr_block"]} for a in v6]
        return described

    return property(info)


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    Route.state = property(_route_state)  # type: ignore[assignment,method-assign]
    VPCPeeringConnection.requester_vpc_info = _vpc_info(VPCPeeringConnection.requester_vpc_info, "vpc")  # type: ignore[assignment,method-assign,arg-type]
    VPCPeeringConnection.accepter_vpc_info = _vpc_info(VPCPeeringConnection.accepter_vpc_info, "peer_vpc")  # type: ignore[assignment,method-assign,arg-type]
    _applied = True
