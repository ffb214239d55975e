"""`peering-autopilot status` over a world the autopilot converged in moto: one row per peering
(pending, verified, one missing a route), a place that cannot be read listed as such while the
others are still shown, and no more EC2 calls per place than the sweep makes."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from autopilot_local.harness import PROJECT, Delivery, LocalAutopilot, LocalCloud
from autopilot_local.template import SCHEDULE
from peering_autopilot import cli
from peering_autopilot.estate import RECORD_NOT_READ
from tests.support.domain import Body, ec2_error
from tests.support.faults import Request, install_fault
from tests.support.world import (
    HUB,
    MEMBER,
    OTHER_REGION,
    REGION,
    Net,
    Side,
    build_net,
    make_vpc,
    request_peering,
)

BOTH_ACCOUNTS = f"{HUB},{MEMBER}"
SCP_DENY = "You are not authorized to perform this operation (explicit deny in a service control policy)"

# VPC-A is tagged into groups no other VPC is in: nothing to request, nothing skipped, no advice.
ALONE_IN_ITS_GROUPS = {
    "requests": [],
    "withdrawals": [],
    "skipped": [],
    "advice": [],
    "unclearTags": [],
    "kept": [],
    "notAdmitted": [],
}


def status(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli.main(["status", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def row(
    peering_id: str, state: str, verdict: str | None, requester: dict[str, Any], accepter: dict[str, Any]
) -> dict[str, Any]:
    return {"peeringId": peering_id, "state": state, "verdict": verdict, "requester": requester, "accepter": accepter}


def side(
    where: Side,
    cidr: str,
    missing: str,
    headroom: int | None,
    status: str | None = None,
    groups: list[str] | None = None,
    readable: bool = True,
) -> dict[str, Any]:
    return {
        "accountId": where.account,
        "region": where.region,
        "vpcId": where.vpc_id,
        "cidrs": [cidr],
        "readable": readable,
        "status": status,
        "groups": groups,
        "missing": missing,
        "quotaHeadroom": headroom,
    }


def unreadable(where: Side, cidr: str) -> dict[str, Any]:
    return side(where, cidr, "side not readable", None, readable=False)


def places(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"accountId": account, "region": region} for account, region in pairs]


def outcomes(deliveries: list[Delivery]) -> list[tuple[str, str]]:
    return [(d.function, d.result["status"]) for d in deliveries]


class World:
    """VPC-A (hub) and VPC-B (member) peered and converged by the autopilot: verified; VPC-C (hub)
    with a request into VPC-D (member, not opted in), declined, and one into VPC-B whose events
    were lost: nobody decided on it yet."""

    def __init__(self, cloud: LocalCloud, autopilot: LocalAutopilot) -> None:
        self.autopilot = autopilot
        self.a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
        self.b = build_net(cloud, MEMBER, REGION, "10.1.0.0/16")
        self.verified = request_peering(cloud, self.a.side, self.b.side)
        assert outcomes(autopilot.run_until_idle())[-1] == ("VerifyPeeringFunction", "verified")
        self.c = build_net(cloud, HUB, REGION, "10.2.0.0/16")
        self.d = make_vpc(cloud, MEMBER, REGION, "10.3.0.0/16", opted_in=False)
        self.declined = request_peering(cloud, self.c.side, self.d)
        assert outcomes(autopilot.run_until_idle()) == [("AcceptPeeringFunction", "declined")]
        self.undecided = request_peering(cloud, self.c.side, self.b.side)
        cloud.trail.clear()  # its events never reached the hub

    def rows(self, a_missing: str = "nothing", b_readable: bool = True) -> list[dict[str, Any]]:
        """The table's rows; VPC-B and VPC-D unreadable when the member account was not read."""
        a, b, c, d = self.a.side, self.b.side, self.c.side, self.d

        def member(where: Side, cidr: str, **values: Any) -> dict[str, Any]:
            return side(where, cidr, **values) if b_readable else unreadable(where, cidr)

        rows = [
            row(
                self.verified,
                "active",
                "verified",
                side(a, "10.0.0.0/16", a_missing, 49, "verified", ["prod", "shared"]),
                member(b, "10.1.0.0/16", missing="nothing", headroom=48, status="verified", groups=[]),
            ),
            row(
                self.declined,
                "pending-acceptance",
                None,
                side(c, "10.2.0.0/16", "awaiting acceptance", 48, groups=[]),
                # the decline is noted in the accepter's own view of the peering (each account has its own tags)
                member(d, "10.3.0.0/16", missing="not opted in", headroom=49, status="declined:accepter-not-opted-in"),
            ),
            row(
                self.undecided,
                "pending-acceptance",
                None,
                side(c, "10.2.0.0/16", "awaiting acceptance", 48, groups=[]),
                member(b, "10.1.0.0/16", missing="acceptance due", headroom=48, groups=[]),
            ),
        ]
        return sorted(rows, key=lambda r: str(r["peeringId"]))


@pytest.fixture
def world(cloud: LocalCloud, autopilot_factory: Any) -> World:
    built = World(cloud, autopilot_factory())
    # VPC-A's owner names its groups (whitespace and empty entries are not names)
    cloud.ec2(HUB, REGION).create_tags(
        Resources=[built.a.side.vpc_id], Tags=[{"Key": "peering-autopilot:group", "Value": " prod, shared,, "}]
    )
    return built


def delete_route(cloud: LocalCloud, net: Net, destination: str) -> None:
    cloud.ec2(net.side.account, net.side.region).delete_route(
        RouteTableId=net.main_table, DestinationCidrBlock=destination
    )


def test_every_peering_is_one_row_pending_verified_and_what_a_deleted_route_leaves_missing(
    cloud: LocalCloud, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN someone deleted VPC-A's route to VPC-B from its main table
    delete_route(cloud, world.a, "10.1.0.0/16")

    # WHEN the operator asks for the status of both accounts in both regions
    code, report = status(capsys, "--accounts", BOTH_ACCOUNTS, "--regions", f"{REGION},{OTHER_REGION}")

    # THEN every place was read, each peering is one row (the verified one though both sides are
    # managed), and the missing route shows on VPC-A's side while its tag still says verified
    assert code == 0
    assert report == {
        "places": places((HUB, REGION), (HUB, OTHER_REGION), (MEMBER, REGION), (MEMBER, OTHER_REGION)),
        "peerings": world.rows(a_missing=f"1 route due in {world.a.side.vpc_id}"),
        "notRead": [],
        "groups": ALONE_IN_ITS_GROUPS,
        "record": RECORD_NOT_READ,  # the command reads no record yet: nothing counts as the autopilot's
    }


def test_a_place_that_cannot_be_read_is_listed_and_the_rest_is_still_shown(
    cloud: LocalCloud, world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an SCP denying EC2 in the member account
    denied = install_fault(
        monkeypatch,
        cloud,
        lambda r: ec2_error(403, "UnauthorizedOperation", SCP_DENY) if r.account_id == MEMBER else None,
    )

    # WHEN the operator asks for both accounts
    code, report = status(capsys, "--accounts", BOTH_ACCOUNTS, "--regions", REGION)

    # THEN the member's place is listed as not read, with the error, and the hub's rows are shown
    # with the member's sides not readable; exit status 1
    assert code == 1
    assert denied.answered_by_fault
    assert report == {
        "places": places((HUB, REGION)),
        "peerings": world.rows(b_readable=False),
        "notRead": [
            {
                "accountId": MEMBER,
                "region": REGION,
                "error": "AccessDeniedError",
                "code": "UnauthorizedOperation",
                "message": f"ec2 DescribeVpcs failed in account {MEMBER} region {REGION}: UnauthorizedOperation: {SCP_DENY}",
            }
        ],
        "groups": ALONE_IN_ITS_GROUPS,
        "record": RECORD_NOT_READ,  # the command reads no record yet: nothing counts as the autopilot's
    }


def test_an_account_whose_reader_role_cannot_be_assumed_is_listed_naming_the_role(
    cloud: LocalCloud, world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the member's reader role does not trust the operator (not in ReadOnlyPrincipalArns)
    body = b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>not trusted</Message></Error></ErrorResponse>"
    deny = AWSResponse("https://sts.amazonaws.com/", 403, {}, Body(body))  # type: ignore[arg-type]
    install_fault(monkeypatch, cloud, lambda r: deny if r.operation == "AssumeRole" else None, services=("sts",))

    # WHEN the operator asks for both accounts, with the role name of their deployment
    code, report = status(
        capsys, "--accounts", BOTH_ACCOUNTS, "--regions", REGION, "--member-role-name", "NetOpsMember-reader"
    )

    # THEN that account is not read, and the message names the role that could not be assumed
    assert code == 1
    role = f"arn:aws:iam::{MEMBER}:role/NetOpsMember-reader"
    assert report["notRead"] == [
        {
            "accountId": MEMBER,
            "region": REGION,
            "error": "RoleAssumptionError",
            "code": "AccessDenied",
            "message": f"cannot assume role {role} in account {MEMBER}: AccessDenied: not trusted",
        }
    ]
    assert report["peerings"] == world.rows(b_readable=False)


def test_status_makes_the_sweeps_ec2_calls_per_place_and_none_per_peering(
    cloud: LocalCloud,
    world: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN every EC2 request on the wire recorded with the account and region it was made in
    wire = install_fault(monkeypatch, cloud, lambda r: None)

    # WHEN the sweep runs over the managed places (hub and member, both regions), alone: the work
    # it publishes (accept the undecided request) is left on the bus ...
    result = sweep_alone(world.autopilot)
    assert (result["places"], result["work"], result["problems"]) == (4, {"accept": 1}, [])
    by_sweep = calls_per_place(wire.sent)
    wire.sent.clear()
    # ... and the status command over the same places
    code, _ = status(capsys, "--accounts", BOTH_ACCOUNTS, "--regions", f"{REGION},{OTHER_REGION}")
    by_status = calls_per_place(wire.sent)

    # THEN where VPCs opted in, the same calls: one paginated read of each resource type, whatever
    # the number of peerings (three in the hub's us-east-1, three in the member's)
    assert code == 0
    reads = Counter(
        {"DescribeVpcs": 1, "DescribeVpcPeeringConnections": 1, "DescribeRouteTables": 1, "DescribeSecurityGroups": 1}
    )
    for place in [(HUB, REGION), (MEMBER, REGION)]:
        assert by_status[place] == by_sweep[place] == reads
    # ... and where none opted in, where the sweep stops after the VPCs, one peering read more to
    # list what is there
    for place in [(HUB, OTHER_REGION), (MEMBER, OTHER_REGION)]:
        assert by_sweep[place] == Counter({"DescribeVpcs": 1})
        assert by_status[place] == Counter({"DescribeVpcs": 1, "DescribeVpcPeeringConnections": 1})
    assert set(by_status) == set(by_sweep)


def sweep_alone(autopilot: LocalAutopilot) -> dict[str, Any]:
    """The schedule fires the sweep, and nothing else is delivered."""
    event = json.loads((PROJECT / "events" / "sweep" / "scheduled.json").read_text())
    [sweep] = [f for f in autopilot.functions if any(rule.bus == SCHEDULE for rule in f.spec.rules)]
    result: dict[str, Any] = sweep.invoke(event)
    return result


def calls_per_place(sent: list[Request]) -> dict[tuple[str, str], Counter[str]]:
    found: dict[tuple[str, str], Counter[str]] = {}
    for request in sent:
        found.setdefault((request.account_id, request.region), Counter())[request.operation] += 1
    return found


def test_by_default_only_your_account_in_your_region_is_read_as_a_table_which_wide_shows_whole(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN the operator runs the command bare (the session's region is us-east-1), --wide
    capsys.readouterr()
    code = cli.main(["status", "--wide"])
    out = capsys.readouterr().out.splitlines()

    # THEN one table: a header, a row per peering seen from the hub's us-east-1, the member's
    # sides not readable (its account was not listed), and the legend; then the peering groups
    # (VPC-A's groups have no other member: nothing to do)
    assert code == 0
    assert out[-5:] == [
        "",
        "Peering groups:",
        "  converged: every pair that shares a group is peered",
        "",
        RECORD_NOT_READ,  # the command reads no record yet: nothing counts as the autopilot's
    ]
    places, blank_after_places, header, *rows, blank, legend = out[:-5]
    assert (places, blank_after_places) == (f"Read 1 place: {HUB} {REGION}.", "")
    assert header.split() == [
        "PEERING", "STATE", "REQUESTER", "ACCEPTER", "STATUS", "TAG", "VERDICT", "GROUPS", "MISSING", "HEADROOM"
    ]  # fmt: skip
    a, b = world.a.side, world.b.side
    assert [line.split() for line in rows] == sorted(
        [
            [world.verified, "active", HUB, REGION, a.vpc_id, "10.0.0.0/16", MEMBER, REGION, b.vpc_id, "10.1.0.0/16",
             "verified", "/", "?", "verified", "prod,shared", "/", "?", "nothing", "/", "side", "not", "readable",
             "49", "/", "?"],
            [world.declined, "pending-acceptance", HUB, REGION, world.c.side.vpc_id, "10.2.0.0/16", MEMBER, REGION,
             world.d.vpc_id, "10.3.0.0/16", "-", "/", "?", "-", "-", "/", "?", "awaiting", "acceptance", "/", "side",
             "not", "readable", "48", "/", "?"],
            [world.undecided, "pending-acceptance", HUB, REGION, world.c.side.vpc_id, "10.2.0.0/16", MEMBER, REGION,
             b.vpc_id, "10.1.0.0/16", "-", "/", "?", "-", "-", "/", "?", "awaiting", "acceptance", "/", "side",
             "not", "readable", "48", "/", "?"],
        ]
    )  # fmt: skip
    assert (blank, legend) == ("", "Per-side columns read requester / accepter; ? not readable, - none.")


def test_the_default_table_fits_120_columns_and_names_the_places_read(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    # WHEN the operator lists both accounts and two regions (no --wide)
    code = cli.main(["status", "--accounts", BOTH_ACCOUNTS, "--regions", f"{REGION},{OTHER_REGION}"])
    out = capsys.readouterr().out.splitlines()

    # THEN the first line says the four places read; the table fits 120 columns: the VPCs, each
    # row's verdict (its state when not active) and what is missing
    assert code == 0
    assert out[0] == f"Read 4 places: {HUB} {REGION}, {OTHER_REGION}; {MEMBER} {REGION}, {OTHER_REGION}."
    assert max(len(line) for line in out) <= 120
    assert out[2].split() == ["PEERING", "STATE/VERDICT", "REQUESTER", "VPC", "ACCEPTER", "VPC", "MISSING"]
    rows = {line.split()[0]: line.split() for line in out[3:6]}
    assert rows[world.verified][:4] == [world.verified, "verified", world.a.side.vpc_id, world.b.side.vpc_id]
    assert rows[world.undecided][:4] == [
        world.undecided,
        "pending-acceptance",
        world.c.side.vpc_id,
        world.b.side.vpc_id,
    ]
    assert "Every column (accounts, regions, blocks, status tags, groups, headroom): --wide." in out


# ---------------------------------------------------------------------- the doctor, on the same estate
def test_the_doctor_exits_0_on_a_verified_peering_and_1_on_one_it_cannot_verify(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # (README: 0 verified, 1 blocked or not verifiable, 2 the peering could not be read)
    assert cli.main(["doctor", world.verified, "--region", REGION]) == 0
    assert "Verdict: verified" in capsys.readouterr().out
    assert cli.main(["doctor", world.undecided, "--region", REGION]) == 1
    assert "Verdict: unverified:not-active" in capsys.readouterr().out


def test_the_doctor_says_in_one_line_what_the_analyzer_s_api_answered_and_exits_2(
    world: World, cloud: LocalCloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a probe instance on each side, and an account where Reachability Analyzer is not allowed
    for net, app in ((world.a, "10.0.1.0/24"), (world.b, "10.1.1.0/24")):  # the subnets with managed tables
        ec2 = cloud.ec2(net.side.account, REGION)
        [subnet] = ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": [app]}])["Subnets"]
        ec2.run_instances(
            ImageId="ami-12c6146b",
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet["SubnetId"],
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "peering-autopilot:probe", "Value": "true"}]}
            ],
        )
    message = "You are not authorized to perform this operation."

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": message}}, "CreateNetworkInsightsPath")

    handlers = [*botocore.handlers.BUILTIN_HANDLERS, ("before-call.ec2.CreateNetworkInsightsPath", refuse)]
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", handlers)
    capsys.readouterr()

    # WHEN the operator asks the doctor for the analyzer too
    code = cli.main(["doctor", world.verified, "--region", REGION, "--reachability-analyzer"])

    # THEN the checklist is still printed, and one line names the API's answer: exit status 2
    out = capsys.readouterr()
    assert code == 2
    assert "reachability" in out.out and "UNAVAILABLE" in out.out
    assert out.err == (
        "error: --reachability-analyzer: the API answered UnauthorizedOperation to ec2 CreateNetworkInsightsPath: "
        f"{message}\n"
    )
