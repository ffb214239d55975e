"""The AWS gateway against stubbed botocore clients: not-found handling, role assumption, credential cache."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from ipaddress import ip_network
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from peering_autopilot.aws.calls import BOTO_CONFIG
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.errors import (
    AccessDeniedError,
    AlreadyPresentError,
    AwsCallError,
    ChangeRefusedError,
    QuotaReachedError,
    RoleAssumptionError,
    VpcNotFoundError,
)
from peering_autopilot.model import (
    AclEntry,
    Cidrs,
    IpRange,
    NetworkAcl,
    Permission,
    RouteTable,
    SecurityGroup,
    TableAssociation,
    TableRoute,
)
from peering_autopilot.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_sts import STSClient

HUB = "111111111111"
MEMBER = "222222222222"
OTHER_MEMBER = "333333333333"
REGION = "us-east-1"
PEERING_ID = "pcx-0a1b2c3d4e5f60718"
OTHER_PEERING_ID = "pcx-0fedcba987654321f"
VPC_ID = "vpc-0bbbbbbbbbbbbbbb2"
MEMBER_ROLE_ARN = f"arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember"

SETTINGS = Settings(
    hub_account_id=HUB,
    hub_region=REGION,
    approved_account_ids=frozenset({MEMBER, OTHER_MEMBER}),
    member_role_name="PeeringAutopilotMember",
    managed_regions=(REGION,),
    event_bus_name="peering-autopilot-bus",
)


# ---------------------------------------------------------------------------------- Ec2Gateway


@pytest.fixture
def ec2_client() -> EC2Client:
    return boto3.client("ec2", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def ec2_stub(ec2_client: EC2Client) -> Iterator[Stubber]:
    with Stubber(ec2_client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()  # every stubbed call was made


@pytest.fixture
def gateway(ec2_client: EC2Client, ec2_stub: Stubber) -> Ec2Gateway:
    return Ec2Gateway(ec2_client, HUB, REGION)


def peering_item(peering_id: str) -> dict[str, Any]:
    return {
        "VpcPeeringConnectionId": peering_id,
        "Status": {"Code": "pending-acceptance", "Message": f"Pending Acceptance by {HUB}"},
        "RequesterVpcInfo": {
            "OwnerId": MEMBER,
            "VpcId": "vpc-0aaaaaaaaaaaaaaa1",
            "Region": "us-west-2",
            "CidrBlock": "10.1.0.0/16",
            "CidrBlockSet": [{"CidrBlock": "10.1.0.0/16"}, {"CidrBlock": "10.2.0.0/16"}],
            "Ipv6CidrBlockSet": [{"Ipv6CidrBlock": "2600:1f14:1234:5600::/56"}],
        },
        "AccepterVpcInfo": {"OwnerId": HUB, "VpcId": VPC_ID, "Region": REGION},
        "ExpirationTime": datetime(2025, 3, 11, 10, 15, 30, tzinfo=UTC),
        "Tags": [],
    }


def vpc_item(vpc_id: str) -> dict[str, Any]:
    return {
        "VpcId": vpc_id,
        "OwnerId": HUB,
        "State": "available",
        "CidrBlock": "10.0.0.0/16",
        "CidrBlockAssociationSet": [
            {
                "AssociationId": "vpc-cidr-assoc-0aaaaaaaaaaaaaaa1",
                "CidrBlock": "10.0.0.0/16",
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "Tags": [{"Key": "peering-autopilot:enabled", "Value": "true"}],
    }


@pytest.mark.parametrize(
    "code",
    ["InvalidVpcPeeringConnectionID.NotFound", "InvalidVpcPeeringConnectionId.NotFound"],
    ids=["ID", "Id"],
)
def test_find_peering_is_none_when_ec2_does_not_know_the_id(gateway: Ec2Gateway, ec2_stub: Stubber, code: str) -> None:
    # GIVEN EC2 answers that the peering does not exist (yet: it is eventually consistent)
    ec2_stub.add_client_error(
        "describe_vpc_peering_connections",
        service_error_code=code,
        service_message=f"The vpcPeeringConnection ID '{PEERING_ID}' does not exist",
        http_status_code=400,
        expected_params={"VpcPeeringConnectionIds": [PEERING_ID]},
    )

    assert gateway.find_peering(PEERING_ID) is None


@pytest.mark.parametrize(
    "listed",
    [pytest.param([OTHER_PEERING_ID], id="another-id"), pytest.param([], id="nothing")],
)
def test_find_peering_is_none_when_the_answer_lists_only_other_ids(
    gateway: Ec2Gateway, ec2_stub: Stubber, listed: list[str]
) -> None:
    ec2_stub.add_response(
        "describe_vpc_peering_connections",
        {"VpcPeeringConnections": [peering_item(i) for i in listed]},
        expected_params={"VpcPeeringConnectionIds": [PEERING_ID]},
    )

    assert gateway.find_peering(PEERING_ID) is None


def test_find_peering_picks_the_asked_id_out_of_a_longer_answer(gateway: Ec2Gateway, ec2_stub: Stubber) -> None:
    ec2_stub.add_response(
        "describe_vpc_peering_connections",
        {"VpcPeeringConnections": [peering_item(OTHER_PEERING_ID), peering_item(PEERING_ID)]},
        expected_params={"VpcPeeringConnectionIds": [PEERING_ID]},
    )

    peering = gateway.find_peering(PEERING_ID)

    assert peering is not None
    assert (peering.peering_id, peering.status) == (PEERING_ID, "pending-acceptance")
    assert peering.requester.cidrs == Cidrs.of(["10.1.0.0/16", "10.2.0.0/16", "2600:1f14:1234:5600::/56"])
    assert (peering.accepter.account_id, peering.accepter.vpc_id) == (HUB, VPC_ID)


def test_find_peering_lets_other_errors_through(gateway: Ec2Gateway, ec2_stub: Stubber) -> None:
    ec2_stub.add_client_error(
        "describe_vpc_peering_connections",
        service_error_code="UnauthorizedOperation",
        service_message="You are not authorized to perform this operation.",
        http_status_code=403,
    )

    with pytest.raises(AccessDeniedError) as caught:
        gateway.find_peering(PEERING_ID)

    assert caught.value.code == "UnauthorizedOperation"
    assert str(caught.value) == (
        f"ec2 DescribeVpcPeeringConnections failed in account {HUB} region {REGION}: "
        "UnauthorizedOperation: You are not authorized to perform this operation."
    )
    assert isinstance(caught.value.__cause__, ClientError)


def test_get_vpc_raises_vpc_not_found_when_ec2_does_not_know_it(gateway: Ec2Gateway, ec2_stub: Stubber) -> None:
    ec2_stub.add_client_error(
        "describe_vpcs",
        service_error_code="InvalidVpcID.NotFound",
        service_message=f"The vpc ID '{VPC_ID}' does not exist",
        http_status_code=400,
        expected_params={"VpcIds": [VPC_ID]},
    )

    with pytest.raises(VpcNotFoundError) as caught:
        gateway.get_vpc(VPC_ID)

    assert caught.value.vpc_id == VPC_ID
    assert str(caught.value) == f"VPC {VPC_ID} not found in account {HUB} region {REGION}"
    assert isinstance(caught.value.__cause__, ClientError)


def test_get_vpc_raises_vpc_not_found_when_the_answer_lists_only_other_vpcs(
    gateway: Ec2Gateway, ec2_stub: Stubber
) -> None:
    ec2_stub.add_response(
        "describe_vpcs", {"Vpcs": [vpc_item("vpc-0ccccccccccccccc3")]}, expected_params={"VpcIds": [VPC_ID]}
    )

    with pytest.raises(VpcNotFoundError, match=f"^VPC {VPC_ID} not found in account {HUB} region {REGION}$"):
        gateway.get_vpc(VPC_ID)


def test_get_vpc_reads_the_asked_vpc(gateway: Ec2Gateway, ec2_stub: Stubber) -> None:
    ec2_stub.add_response(
        "describe_vpcs",
        {"Vpcs": [vpc_item("vpc-0ccccccccccccccc3"), vpc_item(VPC_ID)]},
        expected_params={"VpcIds": [VPC_ID]},
    )

    vpc = gateway.get_vpc(VPC_ID)

    assert (vpc.vpc_id, vpc.account_id, vpc.region, vpc.opted_in) == (VPC_ID, HUB, REGION, True)
    assert vpc.cidrs.as_strings() == ["10.0.0.0/16"]


def test_get_vpc_lets_other_errors_through(gateway: Ec2Gateway, ec2_stub: Stubber) -> None:
    ec2_stub.add_client_error("describe_vpcs", service_error_code="UnauthorizedOperation", http_status_code=403)

    with pytest.raises(AccessDeniedError, match="UnauthorizedOperation"):
        gateway.get_vpc(VPC_ID)


# ---------------------------------------------------------------------------------- changes refused


@pytest.mark.parametrize(
    ("code", "refusal"),
    [
        pytest.param("RouteAlreadyExists", AlreadyPresentError, id="route-already-exists"),
        pytest.param("RouteLimitExceeded", QuotaReachedError, id="route-limit"),
    ],
)
def test_a_refused_route_is_an_exception_of_its_class_with_the_facts(
    gateway: Ec2Gateway, ec2_stub: Stubber, code: str, refusal: type[ChangeRefusedError]
) -> None:
    ec2_stub.add_client_error(
        "create_route",
        service_error_code=code,
        service_message="refused",
        http_status_code=400,
        expected_params={
            "RouteTableId": "rtb-0aaaaaaaaaaaaaaa1",
            "DestinationCidrBlock": "10.1.0.0/16",
            "VpcPeeringConnectionId": PEERING_ID,
        },
    )

    with pytest.raises(refusal) as caught:
        gateway.create_route("rtb-0aaaaaaaaaaaaaaa1", "10.1.0.0/16", PEERING_ID)

    assert isinstance(caught.value, ChangeRefusedError)
    assert (caught.value.code, caught.value.resource_id, caught.value.message) == (
        code,
        "rtb-0aaaaaaaaaaaaaaa1",
        "refused",
    )
    assert str(caught.value) == f"{code} on rtb-0aaaaaaaaaaaaaaa1: refused"
    assert isinstance(caught.value.__cause__, ClientError)


@pytest.mark.parametrize(
    ("code", "refusal"),
    [
        pytest.param("InvalidPermission.Duplicate", AlreadyPresentError, id="duplicate"),
        pytest.param("RulesPerSecurityGroupLimitExceeded", QuotaReachedError, id="rules-limit"),
    ],
)
def test_a_refused_rule_is_an_exception_of_its_class_with_the_facts(
    gateway: Ec2Gateway, ec2_stub: Stubber, code: str, refusal: type[ChangeRefusedError]
) -> None:
    permissions = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}]
    ec2_stub.add_client_error(
        "authorize_security_group_ingress",
        service_error_code=code,
        service_message="refused",
        http_status_code=400,
        expected_params={"GroupId": "sg-0aaaaaaaaaaaaaaa1", "IpPermissions": permissions},
    )

    with pytest.raises(refusal) as caught:
        gateway.authorize_ingress("sg-0aaaaaaaaaaaaaaa1", permissions)

    assert (caught.value.code, caught.value.resource_id) == (code, "sg-0aaaaaaaaaaaaaaa1")


def test_the_two_refusal_classes_are_distinct_change_refusals() -> None:
    assert issubclass(AlreadyPresentError, ChangeRefusedError)
    assert issubclass(QuotaReachedError, ChangeRefusedError)
    assert not issubclass(AlreadyPresentError, QuotaReachedError)
    assert not issubclass(QuotaReachedError, AlreadyPresentError)


def test_a_change_failing_otherwise_is_no_refusal(gateway: Ec2Gateway, ec2_stub: Stubber) -> None:
    ec2_stub.add_client_error("create_route", service_error_code="InvalidRouteTableID.NotFound", http_status_code=400)

    with pytest.raises(AwsCallError) as caught:
        gateway.create_route("rtb-0aaaaaaaaaaaaaaa1", "10.1.0.0/16", PEERING_ID)

    assert not isinstance(caught.value, ChangeRefusedError)
    assert caught.value.code == "InvalidRouteTableID.NotFound"


def test_removing_a_route_already_gone_is_done(gateway: Ec2Gateway, ec2_stub: Stubber) -> None:
    ec2_stub.add_client_error("delete_route", service_error_code="InvalidRoute.NotFound", http_status_code=400)

    gateway.delete_route("rtb-0aaaaaaaaaaaaaaa1", "2600:1f18:abcd:1200::/56")


# ---------------------------------------------------------------------------------- typed reads
BY_VPC = {"Filters": [{"Name": "vpc-id", "Values": [VPC_ID]}]}


def test_route_tables_are_read_as_typed_tables(gateway: Ec2Gateway, ec2_stub: Stubber) -> None:
    table = {
        "RouteTableId": "rtb-0aaaaaaaaaaaaaaa1",
        "VpcId": VPC_ID,
        "OwnerId": HUB,
        "Tags": [{"Key": "peering-autopilot:routes", "Value": "true"}],
        "Associations": [
            {"Main": True, "RouteTableAssociationId": "rtbassoc-01", "AssociationState": {"State": "associated"}},
            {
                "Main": False,
                "SubnetId": "subnet-0aaaaaaaaaaaaaaa1",
                "RouteTableAssociationId": "rtbassoc-02",
                "AssociationState": {"State": "disassociating"},
            },
            {"Main": False, "GatewayId": "igw-0aaaaaaaaaaaaaaa1", "RouteTableAssociationId": "rtbassoc-03"},
        ],
        "Routes": [
            {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
            {"DestinationCidrBlock": "10.1.0.0/16", "VpcPeeringConnectionId": PEERING_ID, "State": "active"},
            {"DestinationCidrBlock": "10.2.0.0/16", "NatGatewayId": "nat-0aaaaaaaaaaaaaaa1", "State": "blackhole"},
            {
                "DestinationIpv6CidrBlock": "2600:1f18:abcd:1200::/56",
                "EgressOnlyInternetGatewayId": "eigw-0aaaaaaaaaaaaaaa1",
                "State": "active",
            },
            {
                "DestinationCidrBlock": "10.3.0.0/16",
                "InstanceId": "i-0aaaaaaaaaaaaaaa1",
                "InstanceOwnerId": HUB,
                "NetworkInterfaceId": "eni-0aaaaaaaaaaaaaaa1",
                "State": "active",
            },
            {
                "DestinationPrefixListId": "pl-0aaaaaaaaaaaaaaa1",
                "GatewayId": "vpce-0aaaaaaaaaaaaaaa1",
                "State": "active",
            },
        ],
    }
    other_vpc = {"RouteTableId": "rtb-0ccccccccccccccc3", "VpcId": "vpc-0ccccccccccccccc3"}
    ec2_stub.add_response("describe_route_tables", {"RouteTables": [table, other_vpc]}, expected_params=BY_VPC)

    [read] = gateway.route_tables([VPC_ID])

    assert read == RouteTable(
        route_table_id="rtb-0aaaaaaaaaaaaaaa1",
        vpc_id=VPC_ID,
        tags={"peering-autopilot:routes": "true"},
        associations=(
            TableAssociation(main=True, subnet_id="", state="associated"),
            TableAssociation(main=False, subnet_id="subnet-0aaaaaaaaaaaaaaa1", state="disassociating"),
            TableAssociation(main=False, subnet_id="", state="associated"),
        ),
        routes=(
            TableRoute(ip_network("10.0.0.0/16"), "gateway", "local", "active"),
            TableRoute(ip_network("10.1.0.0/16"), "vpc-peering-connection", PEERING_ID, "active"),
            TableRoute(ip_network("10.2.0.0/16"), "nat-gateway", "nat-0aaaaaaaaaaaaaaa1", "blackhole"),
            TableRoute(
                ip_network("2600:1f18:abcd:1200::/56"),
                "egress-only-internet-gateway",
                "eigw-0aaaaaaaaaaaaaaa1",
                "active",
            ),
            TableRoute(ip_network("10.3.0.0/16"), "network-interface", "eni-0aaaaaaaaaaaaaaa1", "active"),
            TableRoute(None, "gateway", "vpce-0aaaaaaaaaaaaaaa1", "active", prefix_list_id="pl-0aaaaaaaaaaaaaaa1"),
        ),
    )
    assert [a.live for a in read.associations] == [True, False, True]
    assert [r.peering_id for r in read.routes] == ["", PEERING_ID, "", "", "", ""]
    assert [r.blackhole for r in read.routes] == [False, False, True, False, False, False]


def test_no_vpcs_read_no_route_tables(gateway: Ec2Gateway) -> None:
    assert gateway.route_tables([]) == []


SECURITY_GROUP = {
    "GroupId": "sg-0aaaaaaaaaaaaaaa1",
    "GroupName": "app",
    "Description": "app",
    "OwnerId": HUB,
    "VpcId": VPC_ID,
    "Tags": [{"Key": "peering-autopilot:allow", "Value": "tcp:443"}],
    "IpPermissions": [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": f"peering-autopilot {PEERING_ID}"}],
            "Ipv6Ranges": [{"CidrIpv6": "2600:1f18:abcd:1200::/56"}],
            "PrefixListIds": [],
            "UserIdGroupPairs": [],
        },
        {
            "IpProtocol": "-1",
            "IpRanges": [],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
            "UserIdGroupPairs": [{"GroupId": "sg-0bbbbbbbbbbbbbbb2", "UserId": MEMBER}],
        },
    ],
    "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
}
TYPED_GROUP = SecurityGroup(
    group_id="sg-0aaaaaaaaaaaaaaa1",
    vpc_id=VPC_ID,
    tags={"peering-autopilot:allow": "tcp:443"},
    ingress=(
        Permission(
            "tcp",
            443,
            443,
            ipv4_ranges=(IpRange("10.1.0.0/16", f"peering-autopilot {PEERING_ID}"),),
            ipv6_ranges=(IpRange("2600:1f18:abcd:1200::/56"),),
        ),
        Permission("-1", group_ids=("sg-0bbbbbbbbbbbbbbb2",)),
    ),
    egress=(Permission("-1", ipv4_ranges=(IpRange("0.0.0.0/0"),)),),
)


def test_security_groups_of_vpcs_are_read_as_typed_groups(gateway: Ec2Gateway, ec2_stub: Stubber) -> None:
    ec2_stub.add_response("describe_security_groups", {"SecurityGroups": [SECURITY_GROUP]}, expected_params=BY_VPC)

    [group] = gateway.vpc_security_groups([VPC_ID])

    assert group == TYPED_GROUP
    assert group.ingress[0].ranges == (
        IpRange("10.1.0.0/16", f"peering-autopilot {PEERING_ID}"),
        IpRange("2600:1f18:abcd:1200::/56"),
    )


def test_security_groups_by_id_are_read_as_typed_groups(gateway: Ec2Gateway, ec2_stub: Stubber) -> None:
    ec2_stub.add_response(
        "describe_security_groups",
        {"SecurityGroups": [SECURITY_GROUP]},
        expected_params={"GroupIds": ["sg-0aaaaaaaaaaaaaaa1"]},
    )

    assert gateway.security_groups(["sg-0aaaaaaaaaaaaaaa1"]) == {"sg-0aaaaaaaaaaaaaaa1": TYPED_GROUP}
    assert gateway.security_groups([]) == {}


def test_network_acls_are_read_as_typed_acls(gateway: Ec2Gateway, ec2_stub: Stubber) -> None:
    acl = {
        "NetworkAclId": "acl-0aaaaaaaaaaaaaaa1",
        "VpcId": VPC_ID,
        "IsDefault": True,
        "OwnerId": HUB,
        "Associations": [{"NetworkAclAssociationId": "aclassoc-01", "SubnetId": "subnet-0aaaaaaaaaaaaaaa1"}],
        "Entries": [
            {
                "RuleNumber": 90,
                "Egress": False,
                "Protocol": "1",
                "RuleAction": "deny",
                "CidrBlock": "10.1.0.0/16",
                "IcmpTypeCode": {"Type": 8, "Code": -1},
            },
            {
                "RuleNumber": 100,
                "Egress": True,
                "Protocol": "6",
                "RuleAction": "allow",
                "Ipv6CidrBlock": "::/0",
                "PortRange": {"From": 1024, "To": 65535},
            },
            {"RuleNumber": 32767, "Egress": False, "Protocol": "-1", "RuleAction": "deny", "CidrBlock": "0.0.0.0/0"},
        ],
    }
    ec2_stub.add_response("describe_network_acls", {"NetworkAcls": [acl]}, expected_params=BY_VPC)

    assert gateway.network_acls(VPC_ID) == [
        NetworkAcl(
            network_acl_id="acl-0aaaaaaaaaaaaaaa1",
            vpc_id=VPC_ID,
            is_default=True,
            subnet_ids=("subnet-0aaaaaaaaaaaaaaa1",),
            entries=(
                AclEntry(90, False, "1", "deny", ip_network("10.1.0.0/16"), icmp_type=8),
                AclEntry(100, True, "6", "allow", ip_network("::/0"), from_port=1024, to_port=65535),
                AclEntry(32767, False, "-1", "deny", ip_network("0.0.0.0/0")),
            ),
        )
    ]


# ---------------------------------------------------------------------------------- AwsAccess


class FakeSession:
    """Stands in for the hub's boto3.Session: hands out prepared clients and records each request."""

    def __init__(self, **clients: Any) -> None:
        self.clients = clients
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def client(self, service_name: str, **kwargs: Any) -> Any:
        self.requests.append((service_name, kwargs))
        return self.clients[service_name]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


T0 = 1_750_000_000.0  # an arbitrary "now"
LIFETIME = 3600.0  # AssumeRole's default session duration
MARGIN = 300.0  # credentials are renewed this long before they expire


@pytest.fixture
def sts_client() -> STSClient:
    return boto3.client("sts", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def sts_stub(sts_client: STSClient) -> Iterator[Stubber]:
    with Stubber(sts_client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def base(sts_client: STSClient) -> FakeSession:
    return FakeSession(sts=sts_client)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def access(base: FakeSession, clock: Clock) -> AwsAccess:
    return AwsAccess(SETTINGS, base_session=cast(boto3.Session, base), clock=clock)


def expect_assume_role(stub: Stubber, role_arn: str, key_id: str, expires_at: float) -> None:
    stub.add_response(
        "assume_role",
        {
            "Credentials": {
                "AccessKeyId": key_id,
                "SecretAccessKey": "secret-" + key_id,
                "SessionToken": "token-" + key_id,
                "Expiration": datetime.fromtimestamp(expires_at, UTC),
            },
            "AssumedRoleUser": {
                "AssumedRoleId": "AROAEXAMPLEID:peering-autopilot",
                "Arn": role_arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/peering-autopilot",
            },
        },
        expected_params={"RoleArn": role_arn, "RoleSessionName": "peering-autopilot"},
    )


def access_key(session: boto3.Session) -> str:
    credentials = session.get_credentials()
    assert credentials is not None
    return str(credentials.access_key)


def test_the_hubs_own_account_uses_the_base_session_without_sts(
    access: AwsAccess, base: FakeSession, sts_stub: Stubber
) -> None:
    session = access.session_for(HUB)

    assert session is cast(boto3.Session, base)
    assert base.requests == []  # no STS client made, hence no AssumeRole


def test_a_member_account_assumes_the_member_role_from_the_hub_region(
    access: AwsAccess, base: FakeSession, sts_stub: Stubber
) -> None:
    expect_assume_role(sts_stub, MEMBER_ROLE_ARN, "ASIAMEMBERKEY00001", T0 + LIFETIME)

    session = access.session_for(MEMBER)

    assert access_key(session) == "ASIAMEMBERKEY00001"
    assert session.get_credentials().token == "token-ASIAMEMBERKEY00001"  # type: ignore[union-attr]
    assert base.requests == [("sts", {"region_name": REGION, "config": BOTO_CONFIG})]


def test_access_denied_raises_role_assumption_error_naming_account_and_role(
    access: AwsAccess, sts_stub: Stubber
) -> None:
    # GIVEN the member account's role does not trust the hub
    message = (
        f"User: arn:aws:sts::{HUB}:assumed-role/peering-autopilot-accept/fn is not authorized to perform: "
        f"sts:AssumeRole on resource: {MEMBER_ROLE_ARN}"
    )
    sts_stub.add_client_error(
        "assume_role",
        service_error_code="AccessDenied",
        service_message=message,
        http_status_code=403,
        expected_params={"RoleArn": MEMBER_ROLE_ARN, "RoleSessionName": "peering-autopilot"},
    )

    # WHEN the hub asks for a session there
    with pytest.raises(RoleAssumptionError) as caught:
        access.session_for(MEMBER)

    # THEN the error names the account and the role, and carries AWS's reason
    error = caught.value
    assert (error.account_id, error.role_arn) == (MEMBER, MEMBER_ROLE_ARN)
    assert error.reason == f"AccessDenied: {message}"
    assert str(error) == f"cannot assume role {MEMBER_ROLE_ARN} in account {MEMBER}: AccessDenied: {message}"
    assert isinstance(error.__cause__, ClientError)


def test_a_failed_assumption_is_not_cached(access: AwsAccess, sts_stub: Stubber) -> None:
    sts_stub.add_client_error("assume_role", service_error_code="AccessDenied", http_status_code=403)
    expect_assume_role(sts_stub, MEMBER_ROLE_ARN, "ASIAMEMBERKEY00002", T0 + LIFETIME)

    with pytest.raises(RoleAssumptionError):
        access.session_for(MEMBER)

    assert access_key(access.session_for(MEMBER)) == "ASIAMEMBERKEY00002"


def test_assumed_credentials_are_cached_until_shortly_before_they_expire(
    access: AwsAccess, base: FakeSession, clock: Clock, sts_stub: Stubber
) -> None:
    # GIVEN a session assumed at T0 whose credentials expire an hour later
    expect_assume_role(sts_stub, MEMBER_ROLE_ARN, "ASIAMEMBERKEY00001", T0 + LIFETIME)
    first = access.session_for(MEMBER)

    # WHEN asked again up to one second before the renewal margin THEN the same session is handed out
    clock.now = T0 + LIFETIME - MARGIN - 1
    assert access.session_for(MEMBER) is first  # the stub holds no second AssumeRole answer yet

    # WHEN asked at the start of the margin THEN the role is assumed again, and that session cached
    expect_assume_role(sts_stub, MEMBER_ROLE_ARN, "ASIAMEMBERKEY00003", T0 + 2 * LIFETIME)
    clock.now = T0 + LIFETIME - MARGIN
    renewed = access.session_for(MEMBER)

    assert renewed is not first
    assert access_key(renewed) == "ASIAMEMBERKEY00003"
    assert access.session_for(MEMBER) is renewed
    assert base.requests == [("sts", {"region_name": REGION, "config": BOTO_CONFIG})]  # one STS client, reused


def test_credentials_are_cached_per_account(access: AwsAccess, base: FakeSession, sts_stub: Stubber) -> None:
    other_role_arn = f"arn:aws:iam::{OTHER_MEMBER}:role/PeeringAutopilotMember"
    expect_assume_role(sts_stub, MEMBER_ROLE_ARN, "ASIAMEMBERKEY00001", T0 + LIFETIME)
    expect_assume_role(sts_stub, other_role_arn, "ASIAOTHERKEY000001", T0 + LIFETIME)

    member = access.session_for(MEMBER)
    other = access.session_for(OTHER_MEMBER)

    assert (access_key(member), access_key(other)) == ("ASIAMEMBERKEY00001", "ASIAOTHERKEY000001")
    assert access.session_for(MEMBER) is member
    assert access.session_for(OTHER_MEMBER) is other
    assert [name for name, _ in base.requests] == ["sts"]  # both assumed with the one STS client


def test_ec2_in_the_hub_account_is_a_gateway_on_the_base_session(base: FakeSession, clock: Clock) -> None:
    ec2 = boto3.client("ec2", region_name="us-west-2", aws_access_key_id="testing", aws_secret_access_key="testing")
    base.clients["ec2"] = ec2
    access = AwsAccess(SETTINGS, base_session=cast(boto3.Session, base), clock=clock)

    gateway = access.ec2(HUB, "us-west-2")

    assert (gateway.client, gateway.account_id, gateway.region) == (ec2, HUB, "us-west-2")
    assert base.requests == [("ec2", {"region_name": "us-west-2", "config": BOTO_CONFIG})]


def test_clients_are_made_once_per_account_service_and_region(base: FakeSession, clock: Clock) -> None:
    base.clients["ec2"] = boto3.client(
        "ec2", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    access = AwsAccess(SETTINGS, base_session=cast(boto3.Session, base), clock=clock)

    first, again, elsewhere = access.ec2(HUB, REGION), access.ec2(HUB, REGION), access.ec2(HUB, "eu-west-1")

    assert first.client is again.client
    assert [kwargs["region_name"] for _, kwargs in base.requests] == [REGION, "eu-west-1"]
    assert elsewhere.region == "eu-west-1"
