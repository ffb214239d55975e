"""Issue 19: the sweep, configure, verify and the status command must judge alike. One test per
symptom, through the local harness: each fails today for the reason the issue gives, and passes
once one judge decides what is due.

1. a partner the hub does not manage: a person's route to a block the partner may hold is left
   alone and reported, and the sweep goes quiet;
2. a table excluded in any spelling is never the probe's path;
3. a person's remote DNS option is theirs, even when the owner's tag asks for it later;
4. the status command shows the planner's groups, and its `missing` is the sweep's work.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from autopilot_local.harness import Delivery, LocalAutopilot, LocalCloud
from peering_autopilot import cli
from peering_autopilot.model import DNS_TAG, GROUP_TAG, REMOTE_DNS_TAG, ROUTES_TAG
from tests.support.world import (
    HUB,
    MEMBER,
    OTHER_REGION,
    REGION,
    Net,
    Side,
    build_net,
    make_vpc,
    peering_routes,
    request_peering,
    tags_of,
)

STATUS = "peering-autopilot:status"
PARTNER = "444444444444"  # outside the organization: no member stack, its events never reach the hub
WORK_FOUND = "Peering Work Found"
VERDICT_EVENTS = ("Peering Verified", "Peering Verification Failed")


def invoked(deliveries: list[Delivery]) -> list[tuple[str, str, str]]:
    return [(d.function, d.rule.split(".")[-1], str(d.result.get("status"))) for d in deliveries]


def work_for(autopilot: LocalAutopilot, peering_id: str, since: int = 0) -> list[dict[str, Any]]:
    """The "Peering Work Found" details published for `peering_id` since `since` events."""
    return [
        e["detail"]
        for e in autopilot.published[since:]
        if e["detail-type"] == WORK_FOUND and e["detail"].get("peeringId") == peering_id
    ]


def status_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    code = cli.main(["status", *argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    report: dict[str, Any] = json.loads(out)
    return report


def status_row(report: dict[str, Any], peering_id: str) -> dict[str, Any]:
    [found] = [r for r in report["peerings"] if r["peeringId"] == peering_id]
    return dict(found)


def options(cloud: LocalCloud, side: Side, peering_id: str) -> dict[str, bool]:
    """Each side's AllowDnsResolutionFromRemoteVpc, as `side`'s account sees the peering."""
    [p] = cloud.ec2(side.account, side.region).describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])[
        "VpcPeeringConnections"
    ]
    return {
        role: p[f"{role.capitalize()}VpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"]
        for role in ("requester", "accepter")
    }


# ---------------------------------------------------------------------- 1. an unmanaged partner


def test_a_persons_route_to_a_block_an_unmanaged_partner_may_hold_is_left_alone_and_the_sweep_goes_quiet(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    """GIVEN the hub's VPC peered with a partner's VPC in an account the hub does not manage (the
    partner accepted out of sight; the sweep configured the hub's side; verify could not read the
    partner's side), and a person then routes 10.250.0.0/16 through the peering from the hub's main
    table: the partner's VPC cannot be read, so nothing proves the partner does not hold it
    WHEN the sweep runs three times
    THEN the person's route is still there, and from the second sweep on the sweep publishes no
    work for the peering and nothing but the sweep is invoked (no configure, no verify, forever)."""
    autopilot: LocalAutopilot = autopilot_factory()
    hub = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    partner = build_net(cloud, PARTNER, REGION, "10.8.0.0/16")
    peering_id = request_peering(cloud, hub.side, partner.side)
    autopilot.run_until_idle()
    cloud.ec2(PARTNER, REGION, record=True).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    autopilot.run_until_idle()
    converged = autopilot.tick()
    assert invoked(converged)[-1] == ("VerifyPeeringFunction", "Configured", "unverified:side-not-readable"), invoked(
        converged
    )
    assert invoked(autopilot.tick()) == [("SweepFunction", "Schedule", "sweep")], "setup: the peering did not converge"

    # a person's route, through the peering, to a block the partner's peering description does not list
    cloud.ec2(HUB, REGION).create_route(
        RouteTableId=hub.main_table, DestinationCidrBlock="10.250.0.0/16", VpcPeeringConnectionId=peering_id
    )

    sweeps = []
    for _ in range(3):
        since = len(autopilot.published)
        deliveries = autopilot.tick()
        sweeps.append((invoked(deliveries), work_for(autopilot, peering_id, since)))

    assert "10.250.0.0/16" in peering_routes(cloud, hub, peering_id)[hub.main_table], (
        "the person's route to 10.250.0.0/16 was removed, though the partner's VPC cannot be read and "
        "nothing proves the partner does not hold that block"
    )
    # the issue asks the 2nd and 3rd to be quiet; with one judge the 1st is too
    for number, (calls, work) in enumerate(sweeps, start=1):
        assert (calls, work) == ([("SweepFunction", "Schedule", "sweep")], []), (
            f"sweep {number} after the person's route still finds work for {peering_id} the configure "
            f"function declines (the sweep counts removing a route to a block only the peering's own "
            f"description of the unreadable partner rules out): invoked {calls}, published {work}"
        )


# ---------------------------------------------------------------------- 2. the probe's path


def excluded_instance_vpc(cloud: LocalCloud, spelling: str) -> tuple[Side, str, str]:
    """A hub VPC, opted in, with two subnets: one on the main table (managed, no instance), one on a
    table its owner tagged peering-autopilot:routes=`spelling`, where its only instance runs."""
    side = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    ec2 = cloud.ec2(HUB, REGION)
    ec2.create_subnet(VpcId=side.vpc_id, CidrBlock="10.0.1.0/24")  # stays on the main table
    isolated = ec2.create_subnet(VpcId=side.vpc_id, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=side.vpc_id)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=isolated)
    ec2.create_tags(Resources=[table], Tags=[{"Key": ROUTES_TAG, "Value": spelling}])
    group = ec2.create_security_group(GroupName="app", Description="app servers", VpcId=side.vpc_id)["GroupId"]
    ec2.create_tags(Resources=[group], Tags=[{"Key": "peering-autopilot:allow", "Value": "icmp"}])
    instance = ec2.run_instances(
        ImageId="ami-12c6146b",
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=isolated,
        SecurityGroupIds=[group],
    )["Instances"][0]["InstanceId"]
    return side, table, instance


@pytest.mark.parametrize("spelling", ["false", "False", "no"], ids=["false", "False", "no"])
def test_a_table_its_owner_excluded_in_any_spelling_is_not_the_probes_path(
    cloud: LocalCloud, autopilot_factory: Any, spelling: str
) -> None:
    """GIVEN a managed, opted-in hub VPC whose only running instance sits in a subnet whose route
    table its owner tagged peering-autopilot:routes=`spelling` (left out of peering routes), while
    its other subnet uses the main table, which the autopilot manages; and a member's VPC
    WHEN the hub's VPC asks to peer and the autopilot accepts, configures and verifies
    THEN the probe takes the path the autopilot configured, not the excluded table: the verdict on
    the status tag and in the published verdict event is `verified`."""
    autopilot: LocalAutopilot = autopilot_factory()
    hub, excluded, instance = excluded_instance_vpc(cloud, spelling)
    member = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")

    peering_id = request_peering(cloud, hub, member.side)
    deliveries = autopilot.run_until_idle()

    assert ("VerifyPeeringFunction", "Configured") in [d[:2] for d in invoked(deliveries)], invoked(deliveries)
    verdicts = [e for e in autopilot.published if e["detail-type"] in VERDICT_EVENTS]
    assert verdicts, f"no verdict published: {invoked(deliveries)}"
    tag = tags_of(cloud, hub, peering_id).get(STATUS)
    last = verdicts[-1]
    report = str(last["detail"].get("report", ""))
    assert (tag, last["detail-type"]) == ("verified", "Peering Verified"), (
        f"the probe took the path of {instance} behind {excluded} (tagged {ROUTES_TAG}={spelling!r}, which "
        f"configure leaves out of peering routes) instead of the managed main table's subnet: status tag "
        f"{tag!r}, event {last['detail-type']!r}\n{report}"
    )


# ---------------------------------------------------------------------- 3. a person's DNS option


@pytest.mark.parametrize("role", ["requester", "accepter"])
def test_remote_dns_a_person_turned_on_before_the_tag_asked_survives_the_tags_removal(
    cloud: LocalCloud, autopilot_factory: Any, role: str
) -> None:
    """GIVEN an active peering the autopilot converged between the hub's VPC (requester) and a
    member's VPC (accepter), and a person turning on AllowDnsResolutionFromRemoteVpc on `role`'s
    side, with that side's account, before the VPC's owner tags the VPC peering-autopilot:dns=true;
    the autopilot runs (the tag's event, then a sweep)
    WHEN the owner removes the dns tag and the autopilot runs again (the tag's event, a sweep)
    THEN the option is still on: it was the person's, never the autopilot's."""
    autopilot: LocalAutopilot = autopilot_factory()
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, OTHER_REGION, "10.1.0.0/16")
    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    net = a if role == "requester" else b
    where = net.side
    assert options(cloud, where, peering_id) == {"requester": False, "accepter": False}

    # a person turns it on, by their side's own account
    cloud.ec2(where.account, where.region).modify_vpc_peering_connection_options(
        VpcPeeringConnectionId=peering_id,
        **{f"{role.capitalize()}PeeringConnectionOptions": {"AllowDnsResolutionFromRemoteVpc": True}},
    )
    # ... then the owner asks for it by tag; the autopilot runs
    cloud.tag_vpc(where.account, where.region, where.vpc_id, {DNS_TAG: "true"})
    autopilot.run_until_idle()
    autopilot.tick()
    assert options(cloud, where, peering_id)[role] is True
    marked = tags_of(cloud, where, peering_id).get(f"{REMOTE_DNS_TAG}:{role}")

    # WHEN the owner removes the tag, and the autopilot runs again
    cloud.untag_vpc(where.account, where.region, where.vpc_id, [DNS_TAG])
    autopilot.run_until_idle()
    autopilot.tick()

    assert options(cloud, where, peering_id)[role] is True, (
        f"the {role}'s remote DNS a person turned on was turned off when the {DNS_TAG} tag went: the "
        f"autopilot had marked the person's option as its own ({REMOTE_DNS_TAG}:{role}={marked!r} while "
        f"the tag asked)"
    )


# ---------------------------------------------------------------------- 4. status agrees with the sweep


@pytest.mark.parametrize(
    ("value", "rejected"),
    [("_shared", "_shared"), ("good,.x", ".x")],
    ids=["underscore-first", "dot-first-after-a-good-name"],
)
def test_the_status_command_shows_only_group_names_the_planner_accepts(
    cloud: LocalCloud, autopilot_factory: Any, capsys: pytest.CaptureFixture[str], value: str, rejected: str
) -> None:
    """GIVEN a converged peering whose hub VPC's owner tagged it into groups `value`, where
    `rejected` is no name the group planner accepts (it reports it as unclear, and plans nothing
    for it)
    WHEN the operator asks for the status, as JSON and as the table
    THEN the VPC's GROUPS do not show `rejected` as a group."""
    autopilot: LocalAutopilot = autopilot_factory()
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    cloud.ec2(HUB, REGION).create_tags(Resources=[a.side.vpc_id], Tags=[{"Key": GROUP_TAG, "Value": value}])

    report = status_json(capsys, "--accounts", f"{HUB},{MEMBER}", "--regions", REGION)
    capsys.readouterr()
    assert cli.main(["status", "--accounts", f"{HUB},{MEMBER}", "--regions", REGION, "--wide"]) == 0  # with GROUPS
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith(peering_id)]

    groups = status_row(report, peering_id)["requester"]["groups"]
    shown = {piece for token in line.split() for piece in token.split(",")}
    assert rejected not in (groups or []) and rejected not in shown, (
        f"the status command shows {rejected!r} (from {GROUP_TAG}={value!r}) as a group of "
        f"{a.side.vpc_id}, a name the group planner rejects: JSON groups {groups}, table row {line!r}"
    )


def drop_name(cloud: LocalCloud, side: Side, peering_id: str) -> str:
    cloud.ec2(side.account, side.region).delete_tags(Resources=[peering_id], Tags=[{"Key": "Name"}])
    return f"no Name on {side.account}'s view"


def stale_dns_mark(cloud: LocalCloud, side: Side, peering_id: str, role: str) -> str:
    cloud.ec2(side.account, side.region).create_tags(
        Resources=[peering_id], Tags=[{"Key": f"{REMOTE_DNS_TAG}:{role}", "Value": "on"}]
    )
    return f"{role}'s remote DNS mark with the option off and no {DNS_TAG} tag"


def dns_asked(cloud: LocalCloud, net: Net) -> str:
    # tagged without a tag event: only the sweep finds it
    cloud.ec2(net.side.account, net.side.region).create_tags(
        Resources=[net.side.vpc_id], Tags=[{"Key": DNS_TAG, "Value": "true"}]
    )
    return f"{DNS_TAG}=true on {net.side.vpc_id}, the option off"


def test_the_status_commands_missing_is_the_sweeps_work_for_each_side(
    cloud: LocalCloud, autopilot_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a peering the autopilot converged between the hub's VPC (requester) and a member's
    VPC (accepter), then, one after the other (the sweep converging each before the next): nothing
    changed; a stale remote DNS mark on the requester's view (mark tag there, option off, the tag
    not asking); the accepter's view without a Name; the requester's VPC asking for remote DNS
    WHEN the operator asks for the status, and the sweep then runs, in each situation
    THEN for each side, the status command's `missing` is `nothing` exactly when the sweep
    publishes no work for that side, and names the remote DNS or the Name the sweep found due."""
    autopilot: LocalAutopilot = autopilot_factory()
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    sides = {"requester": a.side, "accepter": b.side}

    situations: list[Callable[[], str]] = [
        lambda: "all converged",
        lambda: stale_dns_mark(cloud, a.side, peering_id, "requester"),
        lambda: drop_name(cloud, b.side, peering_id),
        lambda: dns_asked(cloud, a),
    ]
    disagreements = []
    for make in situations:
        situation = make()
        row = status_row(status_json(capsys, "--accounts", f"{HUB},{MEMBER}", "--regions", REGION), peering_id)
        since = len(autopilot.published)
        autopilot.tick()
        work = work_for(autopilot, peering_id, since)
        for role, where in sides.items():
            missing = str(row[role]["missing"])
            found = [w for w in work if (w["accountId"], w["region"]) == (where.account, where.region)]
            whys = [str(w["why"]) for w in found]
            agrees = missing == "nothing" if not found else missing != "nothing"
            if any("remote DNS" in why for why in whys):
                agrees = agrees and "remote DNS" in missing
            if any("Name" in why for why in whys):
                agrees = agrees and "Name due" in missing
            if not agrees:
                disagreements.append(f"{situation}: {role} status missing {missing!r}, sweep's work {whys}")

    assert not disagreements, "the status command and the sweep disagree on what is due:\n" + "\n".join(disagreements)
