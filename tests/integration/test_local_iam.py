"""The harness refuses what IAM would: a call no grant names, a member role another function's."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.exceptions import ClientError

from autopilot_local.access import RECORD_CALLS_ENV
from autopilot_local.cloudtrail import Identity
from autopilot_local.harness import LocalAutopilot, LocalCloud, peering_context
from peering_autopilot.errors import AccessDeniedError
from tests.support.world import HUB, MEMBER, REGION, hub_parameters, make_vpc, peering_as_accepter, request_peering


@pytest.fixture(autouse=True)
def _not_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    # These calls are the test's, made to be refused: not calls of the functions' to hold the
    # templates against (tests/recorded).
    monkeypatch.delenv(RECORD_CALLS_ENV, raising=False)


def function(autopilot: Any, name: str) -> Any:
    return next(f for f in autopilot.functions if f.spec.logical_id == name)


def test_a_member_role_that_does_not_grant_a_call_refuses_it_as_ec2_would(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the accepter role as deployed, but without the right to accept
    autopilot = autopilot_factory()
    grant = autopilot.grants.member_roles["PeeringAutopilotMember-accepter"]
    object.__setattr__(grant, "actions", grant.actions - {"ec2:AcceptVpcPeeringConnection"})
    requester = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    accepter = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")

    peering_id = request_peering(cloud, requester, accepter)
    with pytest.raises(AccessDeniedError) as refused:
        autopilot.run_until_idle()

    # THEN the accept fails with EC2's refusal, naming the session and the action; nothing accepted
    assert refused.value.code == "UnauthorizedOperation"
    assert (
        f"arn:aws:sts::{MEMBER}:assumed-role/PeeringAutopilotMember-accepter/peering-autopilot is not authorized "
        "to perform: ec2:AcceptVpcPeeringConnection"
    ) in str(refused.value)
    assert peering_as_accepter(cloud, accepter, peering_id)["Status"]["Code"] == "pending-acceptance"


@pytest.mark.parametrize("role", ["reader", "configurer", "verifier", "cleaner"])
def test_a_function_cannot_assume_another_functions_member_role(
    cloud: LocalCloud, autopilot_factory: Any, role: str
) -> None:
    autopilot = autopilot_factory()
    accept = function(autopilot, "AcceptPeeringFunction")
    caller = accept.role.role_arn
    with pytest.raises(ClientError) as refused:
        autopilot.grants.check_assume_role(
            "AcceptPeeringFunction", caller, f"arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember-{role}"
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "the role's trust policy does not name the caller" in str(refused.value)
    # its own, it may
    autopilot.grants.check_assume_role(
        "AcceptPeeringFunction", caller, f"arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember-accepter"
    )


def test_a_hub_call_the_functions_policy_does_not_name_is_refused(cloud: LocalCloud, autopilot_factory: Any) -> None:
    autopilot = autopilot_factory()
    with pytest.raises(ClientError) as refused:
        autopilot.grants.check_hub_call("SweepFunction", "arn:aws:sts::x:assumed-role/r/s", "ec2:CreateRoute")
    assert refused.value.response["Error"]["Code"] == "UnauthorizedOperation"


# A person's role in a managed account, and one of the same name in an account outside the Organization.
ON_CALL = Identity(MEMBER, "NetworkOnCall", "alice")
STRANGER = Identity("444444444444", "NetworkOnCall", "mallory")


def test_the_reader_role_admits_read_only_principals_only_from_inside_the_organization(cloud: LocalCloud) -> None:
    # GIVEN a hub of an Organization whose member stacks trust two people's roles with the reader
    # role, one in a member account and one in an account outside the Organization
    autopilot = LocalAutopilot(
        cloud,
        hub_parameters(OrganizationId="o-exampleorg1"),
        region=REGION,
        member_accounts=(MEMBER,),
        log_stream=io.StringIO(),
        member_parameters={"ReadOnlyPrincipalArns": f"{ON_CALL.role_arn},{STRANGER.role_arn}"},
    )
    reader = f"arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember-reader"
    vpc = make_vpc(cloud, MEMBER, REGION, "10.1.0.0/16")

    # WHEN the outsider assumes the reader role: IAM refuses it (aws:PrincipalOrgID is not the Organization's)
    with pytest.raises(ClientError) as refused:
        autopilot.assume_member_role(STRANGER, reader)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert str(refused.value) == (
        "An error occurred (AccessDenied) when calling the AssumeRole operation: User: "
        f"{STRANGER.role_arn} is not authorized to perform: sts:AssumeRole on resource: {reader} "
        "because the caller is not in the Organization the role's trust requires"
    )

    # THEN the person inside the Organization may, and reads the member's networks with it
    session = autopilot.assume_member_role(ON_CALL, reader)
    vpcs = session.client("ec2").describe_vpcs(VpcIds=[vpc.vpc_id])["Vpcs"]
    assert [v["CidrBlock"] for v in vpcs] == ["10.1.0.0/16"]
    # and one the parameter does not name is refused whatever its Organization
    with pytest.raises(ClientError, match="the role's trust policy does not name the caller"):
        autopilot.assume_member_role(Identity(MEMBER, "Developer", "bob"), reader)


def test_read_only_principals_without_an_organization_are_refused_before_deploying(cloud: LocalCloud) -> None:
    # GIVEN a hub without an Organization: the reader's extra principals could not be held to one
    with pytest.raises(ValueError) as refused:
        LocalAutopilot(
            cloud,
            hub_parameters(OrganizationId=""),
            region=REGION,
            member_accounts=(MEMBER,),
            log_stream=io.StringIO(),
            member_parameters={"ReadOnlyPrincipalArns": ON_CALL.role_arn},
        )
    # THEN CloudFormation's rule refuses the member stack, saying why
    assert str(refused.value) == (
        "rule ReadOnlyPrincipalsNeedTheOrganization: ReadOnlyPrincipalArns needs OrganizationId "
        "(the reader role trusts them only from inside the Organization)."
    )


def test_the_connector_requests_only_into_the_managed_accounts(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN the hub managing its own account and MEMBER by id (no OUs)
    autopilot = autopilot_factory()
    connect = function(autopilot, "ConnectPeeringFunction")
    caller = connect.role.user_identity()["arn"]
    requester = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")

    def request_into(account: str) -> None:
        params = {
            "VpcId": requester.vpc_id,
            "PeerVpcId": "vpc-0123456789abcdef0",
            "PeerOwnerId": account,
            "TagSpecifications": [
                {
                    "ResourceType": "vpc-peering-connection",
                    "Tags": [{"Key": "peering-autopilot:created-for-group", "Value": "blue"}],
                }
            ],
        }
        resource, context = peering_context("CreateVpcPeeringConnection", params, HUB, REGION)
        autopilot.grants.check_peering_conditions(
            "ConnectPeeringFunction", "ec2:CreateVpcPeeringConnection", caller, resource, context
        )

    # WHEN it requests into a managed account's VPC, IAM allows it (ec2:AccepterVpc names MEMBER)
    request_into(MEMBER)
    request_into(HUB)
    # THEN into an account it does not manage, IAM refuses it, as EC2 words it
    with pytest.raises(ClientError) as refused:
        request_into("444444444444")
    assert refused.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert str(refused.value).endswith(
        f"User: {caller} is not authorized to perform: ec2:CreateVpcPeeringConnection on resource: "
        f"arn:aws:ec2:{REGION}:{HUB}:vpc-peering-connection/* because no identity-based policy allows the action"
    )


def test_remote_dns_is_set_only_on_a_peering_marked_for_it(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN an active peering in the hub's account that a person made, not marked by the autopilot
    autopilot = autopilot_factory()
    configure = function(autopilot, "ConfigurePeeringFunction")
    caller = configure.role.user_identity()["arn"]
    a, b = make_vpc(cloud, HUB, REGION, "10.0.0.0/16"), make_vpc(cloud, HUB, REGION, "10.1.0.0/16")
    peering_id = request_peering(cloud, a, b)
    ec2 = cloud.ec2(HUB, REGION)
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)

    def set_dns() -> None:
        resource, context = peering_context(
            "ModifyVpcPeeringConnectionOptions", {"VpcPeeringConnectionId": peering_id}, HUB, REGION
        )
        autopilot.grants.check_peering_conditions(
            "ConfigurePeeringFunction", "ec2:ModifyVpcPeeringConnectionOptions", caller, resource, context
        )

    # WHEN the configure function's role changes its options: IAM refuses (a person's peering's options)
    with pytest.raises(ClientError) as refused:
        set_dns()
    assert refused.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert f"on resource: arn:aws:ec2:{REGION}:{HUB}:vpc-peering-connection/{peering_id} because" in str(refused.value)
    # THEN once the peering carries the autopilot's mark for a side (as it writes it first), it may
    ec2.create_tags(Resources=[peering_id], Tags=[{"Key": "peering-autopilot:remote-dns:accepter", "Value": "on"}])
    set_dns()
    # and a mark of another value is no mark
    ec2.create_tags(Resources=[peering_id], Tags=[{"Key": "peering-autopilot:remote-dns:accepter", "Value": "off"}])
    with pytest.raises(ClientError):
        set_dns()
