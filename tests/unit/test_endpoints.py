"""Choosing where the probe starts and ends in a VPC, on DescribeInstances / NetworkInterfaces /
Subnets shapes: the tagged probe first, then a representative of the subnets that get peering routes."""

from __future__ import annotations

from typing import Any

from peering_autopilot.endpoints import (
    isolated_subnets,
    representative_instance,
    representative_subnet,
    tagged_probe_instance,
    tagged_probe_interface,
)
from peering_autopilot.model import RouteTable
from peering_autopilot.probe import Endpoint

PROBE = {"Key": "peering-autopilot:probe", "Value": "true"}


def instance(instance_id: str, subnet: str, ip: str, *tags: dict[str, str]) -> dict[str, Any]:
    return {
        "InstanceId": instance_id,
        "SubnetId": subnet,
        "PrivateIpAddress": ip,
        "SecurityGroups": [{"GroupId": "sg-0aaa000000000001", "GroupName": "app"}],
        "Tags": list(tags),
    }


def test_only_an_instance_tagged_exactly_true_is_the_probe() -> None:
    instances = [
        instance("i-01", "subnet-a", "10.0.1.4", {"Key": "peering-autopilot:probe", "Value": "True"}),
        instance("i-02", "subnet-a", "10.0.1.5", PROBE),
    ]

    assert tagged_probe_instance(instances) == Endpoint(
        "probe instance", "i-02", "10.0.1.5", "subnet-a", ("sg-0aaa000000000001",)
    )
    assert tagged_probe_instance(instances[:1]) is None


def test_a_tagged_interface_carries_its_own_groups() -> None:
    interface = {
        "NetworkInterfaceId": "eni-01",
        "PrivateIpAddress": "10.0.2.9",
        "SubnetId": "subnet-b",
        "Groups": [{"GroupId": "sg-0bbb000000000002"}],
        "TagSet": [PROBE],
    }

    assert tagged_probe_interface([interface]) == Endpoint(
        "probe interface", "eni-01", "10.0.2.9", "subnet-b", ("sg-0bbb000000000002",)
    )
    assert tagged_probe_interface([{**interface, "TagSet": []}]) is None


def test_a_representative_instance_comes_from_a_routed_subnet_when_there_is_one() -> None:
    instances = [instance("i-01", "subnet-isolated", "10.0.9.4"), instance("i-02", "subnet-app", "10.0.1.4")]

    chosen = representative_instance(instances, frozenset({"subnet-isolated"}))
    only_isolated = representative_instance(instances[:1], frozenset({"subnet-isolated"}))

    assert chosen is not None and (chosen.kind, chosen.resource_id) == ("instance", "i-02")
    assert only_isolated is not None and only_isolated.resource_id == "i-01"  # better than nothing
    assert representative_instance([], frozenset()) is None


def test_a_representative_subnet_is_the_first_routed_one_at_its_first_usable_address() -> None:
    subnets = [
        {"SubnetId": "subnet-0a", "CidrBlock": "10.0.9.0/24"},
        {"SubnetId": "subnet-0c", "CidrBlock": "10.0.3.0/24"},
        {"SubnetId": "subnet-0b", "CidrBlock": "10.0.2.0/24"},
    ]

    assert representative_subnet(subnets, frozenset({"subnet-0a"})) == Endpoint(
        "subnet", "subnet-0b", "10.0.2.4", "subnet-0b"
    )
    assert representative_subnet([], frozenset()) is None


def test_isolated_subnets_are_those_of_tables_tagged_routes_false() -> None:
    tables = [
        RouteTable.from_api(
            {
                "RouteTableId": "rtb-01",
                "Tags": [{"Key": "peering-autopilot:routes", "Value": "false"}],
                "Associations": [{"SubnetId": "subnet-db"}, {"Main": True}],
            }
        ),
        RouteTable.from_api({"RouteTableId": "rtb-02", "Tags": [], "Associations": [{"SubnetId": "subnet-app"}]}),
    ]

    assert isolated_subnets(tables) == frozenset({"subnet-db"})
