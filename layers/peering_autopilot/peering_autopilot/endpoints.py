"""Where the probe starts and ends in a VPC, chosen from what EC2 describes. Pure.

In order of preference: an instance tagged `peering-autopilot:probe` = `true`, an interface tagged
so, a representative running instance, a representative subnet (then no security group can be
judged). Never one in a subnet its owner kept out of peering routes (`kept_out`, from the judge of
a side: its table is tagged `peering-autopilot:routes` with any value but `true`): no path the
autopilot configures leads there, so the probe tests only paths it configured.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Container, Mapping, Sequence
from typing import Any

from peering_autopilot.model import PROBE_TAG
from peering_autopilot.probe import Endpoint

Resources = Sequence[Mapping[str, Any]]
_RESERVED_PER_SUBNET = 4  # AWS keeps .0 to .3 of every subnet


def tagged_probe_instance(instances: Resources, kept_out: Container[str] = ()) -> Endpoint | None:
    for instance in instances:
        if _tags(instance).get(PROBE_TAG) == "true" and instance["SubnetId"] not in kept_out:
            return _instance_endpoint(instance, "probe instance")
    return None


def tagged_probe_interface(interfaces: Resources, kept_out: Container[str] = ()) -> Endpoint | None:
    for interface in interfaces:
        if _tags(interface, "TagSet").get(PROBE_TAG) == "true" and interface["SubnetId"] not in kept_out:
            return Endpoint(
                "probe interface",
                str(interface["NetworkInterfaceId"]),
                str(interface["PrivateIpAddress"]),
                str(interface["SubnetId"]),
                tuple(str(g["GroupId"]) for g in interface.get("Groups", [])),
            )
    return None


def representative_instance(instances: Resources, kept_out: Container[str] = ()) -> Endpoint | None:
    usable = [i for i in instances if i["SubnetId"] not in kept_out]
    return _instance_endpoint(usable[0], "instance") if usable else None


def representative_subnet(subnets: Resources, kept_out: Container[str] = ()) -> Endpoint | None:
    candidates = [s for s in subnets if s["SubnetId"] not in kept_out]
    if not candidates:
        return None
    first = min(candidates, key=lambda s: str(s["SubnetId"]))
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
