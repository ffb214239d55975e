"""Where the probe starts and ends in a VPC, chosen from what EC2 describes. Pure.

In order of preference: an instance tagged `peering-autopilot:probe` = `true`, an interface tagged
so, a representative running instance, a representative subnet (then no security group can be
judged). Representatives come from subnets whose route table gets peering routes, when there are
any, so the probe tests the path the autopilot configured.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from peering_autopilot.model import PROBE_TAG, ROUTES_TAG, RouteTable
from peering_autopilot.probe import Endpoint

Resources = Sequence[Mapping[str, Any]]
_RESERVED_PER_SUBNET = 4  # AWS keeps .0 to .3 of every subnet


def isolated_subnets(route_tables: Iterable[RouteTable]) -> frozenset[str]:
    """Subnets whose table its owner kept out of peering routes (peering-autopilot:routes=false)."""
    return frozenset(
        a.subnet_id
        for table in route_tables
        if table.tags.get(ROUTES_TAG) == "false"
        for a in table.associations
        if a.subnet_id
    )


def tagged_probe_instance(instances: Resources) -> Endpoint | None:
    for instance in instances:
        if _tags(instance).get(PROBE_TAG) == "true":
            return _instance_endpoint(instance, "probe instance")
    return None


def tagged_probe_interface(interfaces: Resources) -> Endpoint | None:
    for interface in interfaces:
        if _tags(interface, "TagSet").get(PROBE_TAG) == "true":
            return Endpoint(
                "probe interface",
                str(interface["NetworkInterfaceId"]),
                str(interface["PrivateIpAddress"]),
                str(interface["SubnetId"]),
                tuple(str(g["GroupId"]) for g in interface.get("Groups", [])),
            )
    return None


def representative_instance(instances: Resources, isolated: frozenset[str]) -> Endpoint | None:
    if not instances:
        return None
    preferred = [i for i in instances if i["SubnetId"] not in isolated] or list(instances)
    return _instance_endpoint(preferred[0], "instance")


def representative_subnet(subnets: Resources, isolated: frozenset[str]) -> Endpoint | None:
    if not subnets:
        return None
    first = min(subnets, key=lambda s: (s["SubnetId"] in isolated, str(s["SubnetId"])))
    usable = ipaddress.ip_network(first["CidrBlock"]).network_address + _RESERVED_PER_SUBNET
    return Endpoint("subnet", str(first["SubnetId"]), str(usable), str(first["SubnetId"]))


def _instance_endpoint(instance: Mapping[str, Any], kind: str) -> Endpoint:
    return Endpoint(
        kind,
        str(instance["InstanceId"]),
        str(instance["PrivateIpAddress"]),
        str(instance["SubnetId"]),
        tuple(str(g["GroupId"]) for g in instance.get("SecurityGroups", [])),
    )


def _tags(resource: Mapping[str, Any], key: str = "Tags") -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get(key, [])}
