"""Remote DNS and Names on both sides, through the harness. The emulator holds the peering's
options; the harness makes it refuse, as EC2 does, a side's options set by the other side's
account or in another region, and any before the peering is active (autopilot_local.aws_semantics)."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot_local.harness import LocalAutopilot, LocalCloud
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.model import DNS_TAG, REMOTE_DNS_TAG
from tests.support.world import HUB, MEMBER, OTHER_REGION, REGION, Net, Side, build_net, request_peering


def seen_by(cloud: LocalCloud, side: Side, peering_id: str) -> dict[str, Any]:
    """The peering as `side`'s account sees it in its region."""
    [p] = cloud.ec2(side.account, side.region).describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])[
        "VpcPeeringConnections"
    ]
    return dict(p)


def options(cloud: LocalCloud, side: Side, peering_id: str) -> dict[str, bool]:
    """Each side's AllowDnsResolutionFromRemoteVpc, as `side`'s account sees the peering."""
    p = seen_by(cloud, side, peering_id)
    return {
        role: p[f"{role.capitalize()}VpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"]
        for role in ("requester", "accepter")
    }


def view_tags(cloud: LocalCloud, side: Side, peering_id: str) -> dict[str, str]:
    p = seen_by(cloud, side, peering_id)
    return {t["Key"]: t["Value"] for t in p.get("Tags", [])}


def name(cloud: LocalCloud, net: Net, value: str) -> None:
    cloud.ec2(net.side.account, net.side.region).create_tags(
        Resources=[net.side.vpc_id], Tags=[{"Key": "Name", "Value": value}]
    )


@pytest.fixture
def pair(cloud: LocalCloud) -> tuple[Net, Net]:
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, OTHER_REGION, "10.1.0.0/16")
    name(cloud, a, "shared-services")
    return a, b


def converge(cloud: LocalCloud, autopilot: LocalAutopilot, a: Net, b: Net) -> str:
    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    return peering_id


@pytest.mark.parametrize("asking", ["requester", "accepter"])
def test_the_side_whose_vpc_asks_gets_remote_dns_set_by_its_own_account_in_its_region_and_no_other(
    cloud: LocalCloud, autopilot_factory: Any, pair: tuple[Net, Net], asking: str
) -> None:
    a, b = pair
    owner = a if asking == "requester" else b
    cloud.ec2(owner.side.account, owner.side.region).create_tags(
        Resources=[owner.side.vpc_id], Tags=[{"Key": DNS_TAG, "Value": "true"}]
    )
    autopilot = autopilot_factory()

    peering_id = converge(cloud, autopilot, a, b)

    expected = {"requester": asking == "requester", "accepter": asking == "accepter"}
    assert options(cloud, a.side, peering_id) == expected
    assert options(cloud, b.side, peering_id) == expected
    assert view_tags(cloud, owner.side, peering_id)[f"{REMOTE_DNS_TAG}:{asking}"] == "on"
    other = b if owner is a else a
    assert not any(k.startswith(REMOTE_DNS_TAG) for k in view_tags(cloud, other.side, peering_id))


# The requester's side in the hub (the function's own role), the accepter's in a member account
# (its configurer role), each changed by its own account in its own region.
@pytest.mark.parametrize("role", ["requester", "accepter"])
def test_the_tag_going_turns_it_off_at_once_and_the_sweep_repairs_drift(
    cloud: LocalCloud, autopilot_factory: Any, pair: tuple[Net, Net], role: str
) -> None:
    a, b = pair
    net = a if role == "requester" else b
    ec2 = cloud.ec2(net.side.account, net.side.region)
    ec2.create_tags(Resources=[net.side.vpc_id], Tags=[{"Key": DNS_TAG, "Value": "true"}])
    autopilot = autopilot_factory()
    peering_id = converge(cloud, autopilot, a, b)
    assert options(cloud, net.side, peering_id)[role] is True

    # WHEN someone turns it off by hand while the tag still asks: the sweep turns it back on
    ec2.modify_vpc_peering_connection_options(
        VpcPeeringConnectionId=peering_id,
        **{f"{role.capitalize()}PeeringConnectionOptions": {"AllowDnsResolutionFromRemoteVpc": False}},
    )
    autopilot.tick()
    autopilot.run_until_idle()
    assert options(cloud, net.side, peering_id)[role] is True

    # WHEN the owner removes the tag: off at once (the tag change), and the mark goes
    cloud.untag_vpc(net.side.account, net.side.region, net.side.vpc_id, [DNS_TAG])
    autopilot.run_until_idle()
    assert options(cloud, net.side, peering_id) == {"requester": False, "accepter": False}
    assert f"{REMOTE_DNS_TAG}:{role}" not in view_tags(cloud, net.side, peering_id)


@pytest.mark.parametrize("value", ["True", "yes", "1", " true"])
def test_an_odd_spelling_never_turns_it_on(
    cloud: LocalCloud, autopilot_factory: Any, pair: tuple[Net, Net], value: str
) -> None:
    a, b = pair
    cloud.ec2(HUB, REGION).create_tags(Resources=[a.side.vpc_id], Tags=[{"Key": DNS_TAG, "Value": value}])
    peering_id = converge(cloud, autopilot_factory(), a, b)
    assert options(cloud, a.side, peering_id) == {"requester": False, "accepter": False}


def test_remote_dns_a_person_turned_on_without_the_tag_is_left_as_it_is(
    cloud: LocalCloud, autopilot_factory: Any, pair: tuple[Net, Net]
) -> None:
    a, b = pair
    autopilot = autopilot_factory()
    peering_id = converge(cloud, autopilot, a, b)
    cloud.ec2(MEMBER, OTHER_REGION).modify_vpc_peering_connection_options(
        VpcPeeringConnectionId=peering_id, AccepterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True}
    )
    autopilot.tick()
    autopilot.run_until_idle()
    assert options(cloud, b.side, peering_id)["accepter"] is True


def test_each_side_gets_a_name_from_both_vpcs_and_a_persons_name_is_kept(
    cloud: LocalCloud, autopilot_factory: Any, pair: tuple[Net, Net]
) -> None:
    a, b = pair
    autopilot = autopilot_factory()
    peering_id = converge(cloud, autopilot, a, b)
    assert view_tags(cloud, a.side, peering_id)["Name"] == f"shared-services <-> {b.side.vpc_id}"
    assert view_tags(cloud, b.side, peering_id)["Name"] == f"{b.side.vpc_id} <-> shared-services"

    # a person renames one side's view; the sweep keeps it
    cloud.ec2(MEMBER, OTHER_REGION).create_tags(Resources=[peering_id], Tags=[{"Key": "Name", "Value": "to-shared"}])
    autopilot.tick()
    autopilot.run_until_idle()
    assert view_tags(cloud, b.side, peering_id)["Name"] == "to-shared"


def test_the_emulator_refuses_a_side_set_by_the_other_account_as_ec2_does(
    cloud: LocalCloud, autopilot_factory: Any, pair: tuple[Net, Net]
) -> None:
    a, b = pair
    peering_id = converge(cloud, autopilot_factory(), a, b)
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as refused:
        cloud.ec2(HUB, REGION).modify_vpc_peering_connection_options(
            VpcPeeringConnectionId=peering_id,
            AccepterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True},
        )
    assert refused.value.response["Error"]["Code"] == "OperationNotPermitted"


def test_without_its_mark_on_the_peering_iam_refuses_the_autopilot_the_option(
    cloud: LocalCloud, autopilot_factory: Any, pair: tuple[Net, Net], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the accepter's VPC asks for remote DNS, but its mark never reaches the peering (a write
    # lost, or a code path that forgot it): IAM allows the option only on a peering marked for it
    a, b = pair
    cloud.ec2(b.side.account, b.side.region).create_tags(
        Resources=[b.side.vpc_id], Tags=[{"Key": DNS_TAG, "Value": "true"}]
    )
    original = Ec2Gateway.tag

    def tag_without_marks(self: Ec2Gateway, resource_id: str, tags: Any) -> None:
        kept = {k: v for k, v in tags.items() if not k.startswith(REMOTE_DNS_TAG)}
        if kept:
            original(self, resource_id, kept)

    monkeypatch.setattr(Ec2Gateway, "tag", tag_without_marks)
    autopilot = autopilot_factory()

    # WHEN the autopilot configures the peering
    peering_id = converge(cloud, autopilot, a, b)

    # THEN the member's configurer role is refused the call, as EC2 would refuse it, and says so;
    # the option stays off on both sides
    assert options(cloud, b.side, peering_id) == {"requester": False, "accepter": False}
    [configured] = [e for e in autopilot.published if e["detail-type"] == "Peering Configured"]
    [accepter] = [s for s in configured["detail"]["sides"] if s["role"] == "accepter"]
    [error] = accepter["remoteDns"]["errors"]
    assert error.startswith("UnauthorizedOperation: ")
    assert (
        f"assumed-role/PeeringAutopilotMember-configurer/peering-autopilot is not authorized to perform: "
        f"ec2:ModifyVpcPeeringConnectionOptions on resource: "
        f"arn:aws:ec2:{OTHER_REGION}:{MEMBER}:vpc-peering-connection/{peering_id}"
    ) in error
