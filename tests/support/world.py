"""The test world in the emulator: accounts, VPCs as the runbook sees them, peerings requested as
people request them, and reading back what EC2 holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autopilot_local.harness import LocalCloud
from autopilot_local.metering import CallLog
from autopilot_local.world import Network

HUB = "123456789012"
MEMBER = "222222222222"  # approved account with a member stack
OUTSIDER = "333333333333"  # in the organization (forwards events) but not approved
REGION = "us-east-1"
OTHER_REGION = "us-west-2"
ApiCalls = CallLog  # every AWS API call made in the process while a test runs (the api_calls fixture)


@dataclass
class Side:
    account: str
    region: str
    vpc_id: str


def make_vpc(
    cloud: LocalCloud,
    account: str,
    region: str,
    cidr: str,
    *,
    opted_in: bool = True,
    secondary: tuple[str, ...] = (),
    ipv6: bool = False,
    tags: dict[str, str] | None = None,
) -> Side:
    ec2 = cloud.ec2(account, region)
    vpc_id = ec2.create_vpc(CidrBlock=cidr, AmazonProvidedIpv6CidrBlock=ipv6)["Vpc"]["VpcId"]
    for block in secondary:
        ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=block)
    all_tags = dict(tags or {})
    if opted_in:
        all_tags.setdefault("peering-autopilot:enabled", "true")
    if all_tags:
        ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": k, "Value": v} for k, v in all_tags.items()])
    return Side(account, region, vpc_id)


def request_peering(cloud: LocalCloud, requester: Side, accepter: Side) -> str:
    """Send a peering request as a person would; CloudTrail records it in the requester's account."""
    ec2 = cloud.ec2(requester.account, requester.region, record=True)
    response = ec2.create_vpc_peering_connection(
        VpcId=requester.vpc_id,
        PeerVpcId=accepter.vpc_id,
        PeerOwnerId=accepter.account,
        PeerRegion=accepter.region,
    )
    return str(response["VpcPeeringConnection"]["VpcPeeringConnectionId"])


def peering_as_accepter(cloud: LocalCloud, accepter: Side, peering_id: str) -> dict[str, Any]:
    ec2 = cloud.ec2(accepter.account, accepter.region)
    items = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])["VpcPeeringConnections"]
    return next(i for i in items if i["VpcPeeringConnectionId"] == peering_id)


def tags_of(cloud: LocalCloud, side: Side, resource_id: str) -> dict[str, str]:
    ec2 = cloud.ec2(side.account, side.region)
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def hub_parameters(**overrides: str) -> dict[str, str]:
    params = {
        "ApprovedAccountIds": MEMBER,
        "ManagedRegions": f"{REGION},{OTHER_REGION}",
        "OrganizationId": "o-exampleorg1",
    }
    params.update(overrides)
    return params


@dataclass
class Net:
    """A VPC as the runbook sees it: main table, two subnet tables, one excluded, one loose."""

    side: Side
    main_table: str
    subnet_tables: list[str]
    excluded_table: str
    loose_table: str
    tagged_group: str
    untagged_group: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def managed_tables(self) -> list[str]:
        return sorted([self.main_table, *self.subnet_tables])


def build_net(
    cloud: LocalCloud,
    account: str,
    region: str,
    cidr: str,
    *,
    allow: str = "icmp,tcp:443",
    opted_in: bool = True,
    secondary: tuple[str, ...] = (),
    ipv6: bool = False,
) -> Net:
    side = make_vpc(cloud, account, region, cidr, opted_in=opted_in, secondary=secondary, ipv6=ipv6)
    ec2 = cloud.ec2(account, region)
    vpc = side.vpc_id
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    main = next(t["RouteTableId"] for t in tables if any(a.get("Main") for a in t.get("Associations", [])))
    base = cidr.rsplit(".", 2)[0]
    subnet_tables = []
    for index in range(3):  # app, data, and the excluded one
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base}.{index + 1}.0/24")["Subnet"]["SubnetId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        subnet_tables.append(table)
    excluded = subnet_tables.pop()
    ec2.create_tags(Resources=[excluded], Tags=[{"Key": "peering-autopilot:routes", "Value": "false"}])
    loose = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    tagged = ec2.create_security_group(GroupName="app", Description="app servers", VpcId=vpc)["GroupId"]
    ec2.create_tags(Resources=[tagged], Tags=[{"Key": "peering-autopilot:allow", "Value": allow}])
    untagged = ec2.create_security_group(GroupName="db", Description="databases", VpcId=vpc)["GroupId"]
    return Net(side, main, subnet_tables, excluded, loose, tagged, untagged)


def peering_routes(cloud: LocalCloud, net: Net, peering_id: str) -> dict[str, set[str]]:
    """Every route through the peering, by route table, in the VPC."""
    ec2 = cloud.ec2(net.side.account, net.side.region)
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net.side.vpc_id]}])["RouteTables"]
    return {
        t["RouteTableId"]: {
            r.get("DestinationCidrBlock") or r["DestinationIpv6CidrBlock"]
            for r in t["Routes"]
            if r.get("VpcPeeringConnectionId") == peering_id
        }
        for t in tables
    }


def ingress(cloud: LocalCloud, net: Net, group_id: str) -> set[tuple[str, int, int, str, str]]:
    """The group's ingress rules as (protocol, from, to, cidr, description)."""
    ec2 = cloud.ec2(net.side.account, net.side.region)
    [group] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    rules = set()
    for p in group["IpPermissions"]:
        for r in p.get("IpRanges", []):
            rules.add(
                (p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1), r["CidrIp"], r.get("Description", ""))
            )
        for r in p.get("Ipv6Ranges", []):
            rules.add(
                (p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1), r["CidrIpv6"], r.get("Description", ""))
            )
    return rules


def expected_routes(net: Net, destinations: set[str]) -> dict[str, set[str]]:
    routes = {key: set[str]() for key in [net.excluded_table, net.loose_table]}
    routes.update(dict.fromkeys(net.managed_tables, destinations))
    return routes


def subnet_acl(cloud: LocalCloud, net: Network) -> str:
    """The network ACL of the network's subnet."""
    ec2 = cloud.ec2(net.account, net.region)
    [acl] = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [net.subnet_id]}])[
        "NetworkAcls"
    ]
    return str(acl["NetworkAclId"])


def deny_ping_in(cloud: LocalCloud, net: Network, from_cidr: str) -> str:
    """Rule 90 of the subnet's ACL denies ICMP in from `from_cidr`, before the default allow; the ACL's id."""
    acl_id = subnet_acl(cloud, net)
    cloud.ec2(net.account, net.region).create_network_acl_entry(
        NetworkAclId=acl_id,
        RuleNumber=90,
        Protocol="1",
        RuleAction="deny",
        Egress=False,
        CidrBlock=from_cidr,
        IcmpTypeCode={"Type": -1, "Code": -1},
    )
    return acl_id
