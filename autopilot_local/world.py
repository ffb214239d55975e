"""The seed's world in the emulator: two accounts, VPC-A and VPC-B with subnets, route tables and
an instance each, opted in by tag; plus the VPCs the demo's declined requests go to."""

from __future__ import annotations

from dataclasses import dataclass, field

from autopilot_local.harness import LocalCloud

HUB_ACCOUNT = "123456789012"  # the network team's account: runs the hub stack, owns VPC-A
MEMBER_ACCOUNT = "222222222222"  # an application account, approved, with a member stack: VPC-B
OUTSIDER_ACCOUNT = "333333333333"  # in the organization (forwards events) but not approved: VPC-C
THIRD_ACCOUNT = "444444444444"  # another approved application account: the peering group's third VPC
REGION = "us-east-1"
ENABLED = {"peering-autopilot:enabled": "true"}


@dataclass
class Network:
    """One VPC and what the runbook touches in it."""

    name: str
    account: str
    region: str
    cidr: str
    vpc_id: str = ""
    subnet_id: str = ""
    route_table_id: str = ""
    security_group_id: str = ""
    instance_id: str = ""
    private_ip: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def opted_in(self) -> bool:
        return self.tags.get("peering-autopilot:enabled") == "true"


def build_network(cloud: LocalCloud, net: Network) -> Network:
    ec2 = cloud.ec2(net.account, net.region)
    net.vpc_id = ec2.create_vpc(CidrBlock=net.cidr)["Vpc"]["VpcId"]
    tags = [{"Key": "Name", "Value": net.name}] + [{"Key": k, "Value": v} for k, v in net.tags.items()]
    ec2.create_tags(Resources=[net.vpc_id], Tags=tags)
    subnet_cidr = net.cidr.replace(".0.0/16", ".1.0/24")
    net.subnet_id = ec2.create_subnet(VpcId=net.vpc_id, CidrBlock=subnet_cidr)["Subnet"]["SubnetId"]
    net.route_table_id = ec2.create_route_table(VpcId=net.vpc_id)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=net.route_table_id, SubnetId=net.subnet_id)
    net.security_group_id = ec2.create_security_group(
        GroupName=f"{net.name}-app", Description=f"{net.name} application servers", VpcId=net.vpc_id
    )["GroupId"]
    ec2.create_tags(Resources=[net.security_group_id], Tags=[{"Key": "peering-autopilot:allow", "Value": "icmp"}])
    instance = ec2.run_instances(
        ImageId="ami-12c6146b",
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=net.subnet_id,
        SecurityGroupIds=[net.security_group_id],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"server1-{net.name}"}]}],
    )["Instances"][0]
    net.instance_id = instance["InstanceId"]
    net.private_ip = instance["PrivateIpAddress"]
    return net


@dataclass
class SeedWorld:
    vpc_a: Network
    vpc_b: Network
    vpc_c: Network  # in the outsider account: its request must be declined
    vpc_d: Network  # in the member account, not opted in: a request into it must be declined


def build_seed_world(cloud: LocalCloud) -> SeedWorld:
    return SeedWorld(
        vpc_a=build_network(cloud, Network("VPC-A", HUB_ACCOUNT, REGION, "10.0.0.0/16", tags=dict(ENABLED))),
        vpc_b=build_network(cloud, Network("VPC-B", MEMBER_ACCOUNT, REGION, "10.1.0.0/16", tags=dict(ENABLED))),
        vpc_c=build_network(cloud, Network("VPC-C", OUTSIDER_ACCOUNT, REGION, "10.2.0.0/16", tags=dict(ENABLED))),
        vpc_d=build_network(cloud, Network("VPC-D", MEMBER_ACCOUNT, REGION, "10.3.0.0/16")),
    )
