"""EC2 in one account and region, in the domain's terms: peerings, VPCs, route tables, security
groups, network ACLs and the resources a probe can start from.

Every read is filtered server-side and paginated, and checked again in code (emulators, and
filters in general, may return more than asked). Error codes with a domain meaning become named
exceptions; the rest become the classes of `calls.translated`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from peering_autopilot.aws.calls import error_code, error_message, translated
from peering_autopilot.errors import (
    AlreadyPresentError,
    ChangeRefusedError,
    PeeringNotFoundError,
    QuotaReachedError,
    VpcNotFoundError,
)
from peering_autopilot.model import ENABLED_TAG, PROBE_TAG, NetworkAcl, Peering, RouteTable, SecurityGroup, Vpc
from peering_autopilot.permissions import needs

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

_PEERING_NOT_FOUND = {"InvalidVpcPeeringConnectionID.NotFound", "InvalidVpcPeeringConnectionId.NotFound"}
_VPC_NOT_FOUND = {"InvalidVpcID.NotFound"}
# Refusals that concern one resource only: reported by name, never retried in a loop.
_REFUSALS: dict[str, type[ChangeRefusedError]] = {
    "RouteAlreadyExists": AlreadyPresentError,
    "InvalidPermission.Duplicate": AlreadyPresentError,
    "RouteLimitExceeded": QuotaReachedError,
    "RulesPerSecurityGroupLimitExceeded": QuotaReachedError,
}
_FILTER_VALUES = 200  # EC2 takes at most 200 values in one filter

Resource = dict[str, Any]


class Ec2Gateway:
    def __init__(self, client: EC2Client, account_id: str, region: str) -> None:
        self.client = client
        self.account_id = account_id
        self.region = region
        self.where = f"account {account_id} region {region}"
        self._place = {"account_id": account_id, "region": region}

    # ------------------------------------------------------------------ peerings
    @needs("ec2:DescribeVpcPeeringConnections")
    def find_peering(self, peering_id: str) -> Peering | None:
        """The peering as this account sees it, or None when EC2 does not know it (yet)."""
        with translated("ec2", self.where):
            try:
                response = self.client.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])
            except ClientError as e:
                if error_code(e) in _PEERING_NOT_FOUND:
                    return None
                raise
        for item in response.get("VpcPeeringConnections", []):
            if item.get("VpcPeeringConnectionId") == peering_id:
                return Peering.from_api(item, self.region)
        return None

    @needs("ec2:DescribeVpcPeeringConnections")
    def all_peerings(self, states: Iterable[str]) -> list[Peering]:
        """Every peering this account sees here in one of `states`: one paginated, filtered read
        per account and region."""
        wanted = sorted(set(states))
        with translated("ec2", self.where):
            pages = self.client.get_paginator("describe_vpc_peering_connections").paginate(
                Filters=[{"Name": "status-code", "Values": wanted}]
            )
            items = [item for page in pages for item in page["VpcPeeringConnections"]]
        return [
            Peering.from_api(item, self.region)
            for item in items
            if item.get("Status", {}).get("Code") in wanted  # emulators may ignore the filter
        ]

    @needs("ec2:DescribeVpcPeeringConnections")
    def peerings_between(self, vpc_id: str, peer_vpc_id: str) -> list[Peering]:
        """Every peering of the two VPCs, whichever requested it, as this account sees it here
        (one of them is in this account and region): one filtered read."""
        pair = sorted({vpc_id, peer_vpc_id})
        with translated("ec2", self.where):
            pages = self.client.get_paginator("describe_vpc_peering_connections").paginate(
                Filters=[
                    {"Name": "requester-vpc-info.vpc-id", "Values": pair},
                    {"Name": "accepter-vpc-info.vpc-id", "Values": pair},
                ]
            )
            items = [item for page in pages for item in page["VpcPeeringConnections"]]
        found = [Peering.from_api(item, self.region) for item in items]
        return [p for p in found if {p.requester.vpc_id, p.accepter.vpc_id} == set(pair)]

    @needs("ec2:CreateVpcPeeringConnection", "ec2:CreateTags")  # the tags at creation
    def request_peering(
        self, vpc_id: str, peer_vpc_id: str, peer_account_id: str, peer_region: str, tags: Mapping[str, str]
    ) -> str:
        """Send a peering request from this account's VPC, tagged at creation (one call)."""
        with translated("ec2", self.where):
            response = self.client.create_vpc_peering_connection(
                VpcId=vpc_id,
                PeerVpcId=peer_vpc_id,
                PeerOwnerId=peer_account_id,
                PeerRegion=peer_region,
                TagSpecifications=[
                    {
                        "ResourceType": "vpc-peering-connection",
                        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
                    }
                ],
            )
        return str(response["VpcPeeringConnection"]["VpcPeeringConnectionId"])

    @needs("ec2:ModifyVpcPeeringConnectionOptions")
    def set_remote_dns(self, peering_id: str, role: str, allow: bool) -> None:
        """This account's side (`role`: requester or accepter) of the peering: may the peer resolve
        its VPC's public DNS hostnames to private addresses. Each side only by its own account,
        in its own region; the peering must be active."""
        side = "RequesterPeeringConnectionOptions" if role == "requester" else "AccepterPeeringConnectionOptions"
        options: dict[str, Any] = {side: {"AllowDnsResolutionFromRemoteVpc": allow}}
        with translated("ec2", self.where):
            self.client.modify_vpc_peering_connection_options(VpcPeeringConnectionId=peering_id, **options)

    @needs("ec2:DeleteVpcPeeringConnection")
    def delete_peering(self, peering_id: str) -> None:
        with translated("ec2", self.where):
            try:
                self.client.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
            except ClientError as e:
                if error_code(e) in _PEERING_NOT_FOUND:
                    raise PeeringNotFoundError(peering_id=peering_id, **self._place) from e
                raise

    @needs("ec2:AcceptVpcPeeringConnection")
    def accept_peering(self, peering_id: str) -> str:
        with translated("ec2", self.where):
            try:
                response = self.client.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
            except ClientError as e:
                if error_code(e) in _PEERING_NOT_FOUND:
                    raise PeeringNotFoundError(peering_id=peering_id, **self._place) from e
                raise
        return response["VpcPeeringConnection"].get("Status", {}).get("Code", "unknown")

    @needs("ec2:RejectVpcPeeringConnection")
    def reject_peering(self, peering_id: str) -> None:
        with translated("ec2", self.where):
            try:
                self.client.reject_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
            except ClientError as e:
                if error_code(e) in _PEERING_NOT_FOUND:
                    raise PeeringNotFoundError(peering_id=peering_id, **self._place) from e
                raise

    # ------------------------------------------------------------------ VPCs
    @needs("ec2:DescribeVpcs")
    def get_vpc(self, vpc_id: str) -> Vpc:
        with translated("ec2", self.where):
            try:
                response = self.client.describe_vpcs(VpcIds=[vpc_id])
            except ClientError as e:
                if error_code(e) in _VPC_NOT_FOUND:
                    raise VpcNotFoundError(vpc_id=vpc_id, **self._place) from e
                raise
        for item in response.get("Vpcs", []):
            if item.get("VpcId") == vpc_id:
                return Vpc.from_api(item, self.region)
        raise VpcNotFoundError(vpc_id=vpc_id, **self._place)

    @needs("ec2:DescribeVpcs")
    def opted_in_vpcs(self) -> dict[str, Vpc]:
        with translated("ec2", self.where):
            pages = self.client.get_paginator("describe_vpcs").paginate(
                Filters=[{"Name": f"tag:{ENABLED_TAG}", "Values": ["true"]}]
            )
            vpcs = [Vpc.from_api(item, self.region) for page in pages for item in page["Vpcs"]]
        return {v.vpc_id: v for v in vpcs if v.opted_in}

    # ------------------------------------------------------------------ route tables, groups, ACLs
    @needs("ec2:DescribeRouteTables")
    def route_tables(self, vpc_ids: Iterable[str]) -> list[RouteTable]:
        """The route tables of the VPCs, in as few paginated reads as the filter allows, never one
        call per table."""
        return [RouteTable.from_api(t) for t in self._read_by_vpc("describe_route_tables", "RouteTables", vpc_ids)]

    @needs("ec2:DescribeSecurityGroups")
    def vpc_security_groups(self, vpc_ids: Iterable[str]) -> list[SecurityGroup]:
        """Every security group of the VPCs, filtered server-side by VPC (an unfiltered
        DescribeSecurityGroups falls into a smaller throttling bucket). All of them, not only the
        allow-tagged: a group whose tag was removed may still hold the autopilot's rules."""
        groups = self._read_by_vpc("describe_security_groups", "SecurityGroups", vpc_ids)
        return [SecurityGroup.from_api(g) for g in groups]

    @needs("ec2:DescribeSecurityGroups")
    def security_groups(self, group_ids: Iterable[str]) -> dict[str, SecurityGroup]:
        ids = sorted(set(group_ids))
        if not ids:
            return {}
        with translated("ec2", self.where):
            groups = self.client.describe_security_groups(GroupIds=ids)["SecurityGroups"]
        return {str(g["GroupId"]): SecurityGroup.from_api(g) for g in groups if g["GroupId"] in ids}

    @needs("ec2:DescribeNetworkAcls")
    def network_acls(self, vpc_id: str) -> list[NetworkAcl]:
        return [NetworkAcl.from_api(a) for a in self._read_by_vpc("describe_network_acls", "NetworkAcls", [vpc_id])]

    # ------------------------------------------------------------------ blackhole targets
    @needs(
        "ec2:DescribeVpcPeeringConnections",
        "ec2:DescribeNatGateways",
        "ec2:DescribeTransitGateways",
        "ec2:DescribeNetworkInterfaces",
    )
    def gone_targets(self, targets: Iterable[tuple[str, str]]) -> frozenset[str]:
        """Of the blackhole routes' targets (kind, id), those read as gone for good: a peering
        ended or no longer listed, a NAT gateway deleted, failed or no longer listed, a transit
        gateway deleted, a network interface no longer listed. A transit gateway not listed may be
        another account's, unshared: not proven gone. One filtered read per kind asked about."""
        by_kind: dict[str, set[str]] = {}
        for kind, target_id in targets:
            by_kind.setdefault(kind, set()).add(target_id)
        gone: set[str] = set()
        for kind, ids in by_kind.items():
            reader = _GONE_READERS.get(kind)
            if reader is None:
                continue
            operation, key, id_field, filter_name, dead, missing_is_gone = reader
            with translated("ec2", self.where):
                pages = self.client.get_paginator(operation).paginate(  # type: ignore[call-overload]
                    Filters=[{"Name": filter_name, "Values": sorted(ids)}]
                )
                found = {str(item[id_field]): item for page in pages for item in page[key] if item.get(id_field) in ids}
            for target_id in ids:
                item = found.get(target_id)
                if item is None:
                    if missing_is_gone:
                        gone.add(target_id)
                elif _state_of(item) in dead:
                    gone.add(target_id)
        return frozenset(gone)

    # ------------------------------------------------------------------ what a probe can start from
    @needs("ec2:DescribeInstances")
    def running_instances(self, vpc_id: str) -> list[Resource]:
        """Running instances of the VPC that have a private address, in id order."""
        with translated("ec2", self.where):
            pages = self.client.get_paginator("describe_instances").paginate(
                Filters=[
                    {"Name": "vpc-id", "Values": [vpc_id]},
                    {"Name": "instance-state-name", "Values": ["running"]},
                ]
            )
            instances = [i for page in pages for r in page["Reservations"] for i in r["Instances"]]
        found = [dict(i) for i in instances if i.get("PrivateIpAddress") and i.get("VpcId", vpc_id) == vpc_id]
        return sorted(found, key=lambda i: str(i["InstanceId"]))

    @needs("ec2:DescribeNetworkInterfaces")
    def probe_interfaces(self, vpc_id: str) -> list[Resource]:
        """Network interfaces of the VPC tagged peering-autopilot:probe=true, in id order."""
        with translated("ec2", self.where):
            interfaces = self.client.describe_network_interfaces(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": f"tag:{PROBE_TAG}", "Values": ["true"]}]
            )["NetworkInterfaces"]
        found = [dict(n) for n in interfaces if n.get("VpcId") == vpc_id]
        return sorted(found, key=lambda n: str(n["NetworkInterfaceId"]))

    @needs("ec2:DescribeSubnets")
    def subnets(self, vpc_id: str) -> list[Resource]:
        return self._read_by_vpc("describe_subnets", "Subnets", [vpc_id])

    # ------------------------------------------------------------------ changes
    @needs("ec2:CreateRoute")
    def create_route(self, route_table_id: str, destination: str, peering_id: str) -> None:
        params: dict[str, Any] = {"RouteTableId": route_table_id, _destination_key(destination): destination}
        self._change(route_table_id, lambda: self.client.create_route(**params, VpcPeeringConnectionId=peering_id))

    @needs("ec2:ReplaceRoute")
    def replace_route(self, route_table_id: str, destination: str, peering_id: str) -> None:
        """Point an existing (blackhole) route at the peering."""
        params: dict[str, Any] = {"RouteTableId": route_table_id, _destination_key(destination): destination}
        self._change(route_table_id, lambda: self.client.replace_route(**params, VpcPeeringConnectionId=peering_id))

    @needs("ec2:DeleteRoute")
    def delete_route(self, route_table_id: str, destination: str) -> None:
        params: dict[str, Any] = {"RouteTableId": route_table_id, _destination_key(destination): destination}
        self._change(route_table_id, lambda: self.client.delete_route(**params), gone="InvalidRoute.NotFound")

    @needs("ec2:AuthorizeSecurityGroupIngress")
    def authorize_ingress(self, group_id: str, permissions: list[Resource]) -> dict[tuple[str, int, int, str], str]:
        """Authorize; the rule ids AWS gave, by (protocol, from port, to port, CIDR), from the
        call's own answer (one SecurityGroupRule per range)."""
        answer: list[Resource] = []
        self._change(
            group_id,
            lambda: answer.append(
                self.client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=permissions)  # type: ignore[arg-type]
            ),
        )
        ids: dict[tuple[str, int, int, str], str] = {}
        for rule in (answer[0] if answer else {}).get("SecurityGroupRules", []):
            cidr = rule.get("CidrIpv4") or rule.get("CidrIpv6")
            if cidr and rule.get("SecurityGroupRuleId"):
                protocol = str(rule.get("IpProtocol", ""))
                ports = (-1, -1) if protocol == "-1" else (int(rule.get("FromPort", -1)), int(rule.get("ToPort", -1)))
                ids[(protocol, *ports, str(cidr))] = str(rule["SecurityGroupRuleId"])
        return ids

    @needs("ec2:RevokeSecurityGroupIngress")
    def revoke_ingress(self, group_id: str, permissions: list[Resource]) -> None:
        self._change(
            group_id,
            lambda: self.client.revoke_security_group_ingress(GroupId=group_id, IpPermissions=permissions),  # type: ignore[arg-type]
            gone="InvalidPermission.NotFound",
        )

    @needs("ec2:CreateTags")
    def tag(self, resource_id: str, tags: Mapping[str, str]) -> None:
        with translated("ec2", self.where):
            self.client.create_tags(Resources=[resource_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    @needs("ec2:DeleteTags")
    def untag(self, resource_id: str, keys: Iterable[str]) -> None:
        with translated("ec2", self.where):
            self.client.delete_tags(Resources=[resource_id], Tags=[{"Key": k} for k in keys])

    # ------------------------------------------------------------------ plumbing
    def _change(self, resource_id: str, call: Callable[[], Any], gone: str = "") -> None:
        """One change to one resource. `gone`: the code that says the thing to remove is already
        gone (the goal is reached). A refusal concerning only this resource is a ChangeRefusedError:
        AlreadyPresentError (another writer got there first) or QuotaReachedError."""
        with translated("ec2", self.where):
            try:
                call()
            except ClientError as e:
                code = error_code(e)
                if code == gone:
                    return
                refusal = _REFUSALS.get(code)
                if refusal is not None:
                    raise refusal(code=code, resource_id=resource_id, message=error_message(e)) from e
                raise

    def _read_by_vpc(
        self, operation: str, key: str, vpc_ids: Iterable[str], *extra_filters: Mapping[str, Any]
    ) -> list[Resource]:
        ids = sorted(set(vpc_ids))
        found: list[Resource] = []
        with translated("ec2", self.where):
            for start in range(0, len(ids), _FILTER_VALUES):
                chunk = ids[start : start + _FILTER_VALUES]
                pages = self.client.get_paginator(operation).paginate(  # type: ignore[call-overload]
                    Filters=[{"Name": "vpc-id", "Values": chunk}, *extra_filters]
                )
                found += [dict(r) for page in pages for r in page[key] if r.get("VpcId") in chunk]
        return found


# kind -> (operation, list key, id field, filter, states that are final, not listed means gone)
_GONE_READERS: dict[str, tuple[str, str, str, str, frozenset[str], bool]] = {
    "vpc-peering-connection": (
        "describe_vpc_peering_connections",
        "VpcPeeringConnections",
        "VpcPeeringConnectionId",
        "vpc-peering-connection-id",
        frozenset({"deleted", "deleting", "rejected", "expired", "failed"}),
        True,
    ),
    "nat-gateway": (
        "describe_nat_gateways",
        "NatGateways",
        "NatGatewayId",
        "nat-gateway-id",
        frozenset({"deleting", "deleted", "failed"}),
        True,
    ),
    "transit-gateway": (
        "describe_transit_gateways",
        "TransitGateways",
        "TransitGatewayId",
        "transit-gateway-id",
        frozenset({"deleting", "deleted"}),
        False,
    ),
    "network-interface": (
        "describe_network_interfaces",
        "NetworkInterfaces",
        "NetworkInterfaceId",
        "network-interface-id",
        frozenset(),
        True,
    ),
}


def _state_of(item: Mapping[str, Any]) -> str:
    status = item.get("Status")
    if isinstance(status, Mapping):  # a peering: Status.Code
        return str(status.get("Code", ""))
    return str(item.get("State", ""))


def _destination_key(destination: str) -> str:
    return "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
