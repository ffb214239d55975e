"""The estate's table from the sweep's reads, judged without AWS: one row per peering, each side
as its own account and region show it, what is missing in the sweep's terms, quota headroom."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from peering_autopilot import estate
from peering_autopilot.errors import AccessDeniedError, RoleAssumptionError
from peering_autopilot.estate import (
    RECORD_NOT_READ,
    EstateReport,
    PeeringRow,
    SideRow,
    group_names,
    report_text,
    survey,
)
from peering_autopilot.holds import new_hold
from peering_autopilot.model import Cidrs, Peering, PeeringSide, RouteTable, SecurityGroup, Vpc
from peering_autopilot.places import LISTED_STATES, PlaceRead, UnreadPlace, read_estate, read_place
from peering_autopilot.record import MADE, OwnedRoute, OwnedRule, PeeringRecord
from peering_autopilot.security_groups import own_rules, rule_description
from peering_autopilot.settings import PeerCidrPolicy

HUB, MEMBER, PARTNER = "111111111111", "222222222222", "999999999999"
EAST, WEST = "us-east-1", "eu-west-1"
POLICY = PeerCidrPolicy.parse("10.0.0.0/8")
NOW = 1_800_000_000.0
P1, P2, P3 = "pcx-0000000000000000a", "pcx-0000000000000000b", "pcx-0000000000000000c"
A = PeeringSide(HUB, EAST, "vpc-a", Cidrs.of(["10.0.0.0/16"]))
B = PeeringSide(MEMBER, EAST, "vpc-b", Cidrs.of(["10.1.0.0/16"]))
C = PeeringSide(PARTNER, WEST, "vpc-c", Cidrs.of(["10.2.0.0/16"]))
STATUS = "peering-autopilot:status"


def vpc(side: PeeringSide, **tags: str) -> Vpc:
    blocks = Cidrs.of([*side.cidrs.as_strings()])
    return Vpc(side.vpc_id, side.account_id, side.region, blocks, {"peering-autopilot:enabled": "true", **tags})


def peering(pid: str, status: str, requester: PeeringSide, accepter: PeeringSide, **tags: str) -> Peering:
    # configure names every peering it configures: a converged one has its Name
    return Peering(pid, status, "", requester, accepter, {"Name": f"{pid} name", **tags})


def table(table_id: str, vpc_id: str, routed: dict[str, str]) -> RouteTable:
    """A main route table; `routed`: destination -> peering id."""
    routes = [{"DestinationCidrBlock": d, "VpcPeeringConnectionId": p, "State": "active"} for d, p in routed.items()]
    return RouteTable.from_api(
        {"RouteTableId": table_id, "VpcId": vpc_id, "Associations": [{"Main": True}], "Routes": routes}
    )


def group(group_id: str, vpc_id: str, allow: str | None, opened: dict[str, str]) -> SecurityGroup:
    """A group; `allow`: its allow tag; `opened`: ICMP from cidr -> the peering whose marker it carries."""
    ranges = [{"CidrIp": cidr, "Description": rule_description(pid)} for cidr, pid in opened.items()]
    permissions = [{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": ranges}] if ranges else []
    tags = [{"Key": "peering-autopilot:allow", "Value": allow}] if allow is not None else []
    return SecurityGroup.from_api({"GroupId": group_id, "VpcId": vpc_id, "Tags": tags, "IpPermissions": permissions})


def place(
    account: str,
    region: str,
    vpcs: list[Vpc],
    peerings: list[Peering],
    tables: Sequence[RouteTable] = (),
    groups: Sequence[SecurityGroup] = (),
) -> PlaceRead:
    by_vpc: dict[str, list[RouteTable]] = {}
    for table_read in tables:
        by_vpc.setdefault(table_read.vpc_id, []).append(table_read)
    groups_by_vpc: dict[str, list[SecurityGroup]] = {}
    for group_read in groups:
        groups_by_vpc.setdefault(group_read.vpc_id, []).append(group_read)
    return PlaceRead(account, region, {v.vpc_id: v for v in vpcs}, tuple(peerings), by_vpc, groups_by_vpc)


def made_all(*reads: PlaceRead) -> Any:
    """A record reader whose record holds every route through a peering and every rule marked
    for it in `reads`: all of it the autopilot's own making."""

    def read(pid: str) -> PeeringRecord:
        routes = {
            OwnedRoute(r.account_id, r.region, t.route_table_id, str(route.destination)): {"state": MADE}
            for r in reads
            for ts in r.tables.values()
            for t in ts
            for route in t.routes
            if route.peering_id == pid
        }
        rules = {
            OwnedRule(r.account_id, r.region, g.group_id, rule): {"state": MADE}
            for r in reads
            for gs in r.groups.values()
            for g in gs
            for rule in own_rules(g, pid)
        }
        return PeeringRecord(pid, routes, rules, None)

    return read


def converged_hub(*peerings: Peering, a_tags: dict[str, str] | None = None) -> PlaceRead:
    """VPC-A with its table routing VPC-B's block through P1 and its group letting ICMP in from it."""
    return place(
        HUB,
        EAST,
        [vpc(A, **(a_tags or {}))],
        list(peerings),
        [table("rtb-a", "vpc-a", {"10.1.0.0/16": P1})],
        [group("sg-a", "vpc-a", "icmp", {"10.1.0.0/16": P1})],
    )


def converged_member(*peerings: Peering) -> PlaceRead:
    return place(
        MEMBER,
        EAST,
        [vpc(B)],
        list(peerings),
        [table("rtb-b", "vpc-b", {"10.0.0.0/16": P1})],
        [group("sg-b", "vpc-b", "icmp", {"10.0.0.0/16": P1})],
    )


def side_row(side: PeeringSide, **changes: Any) -> SideRow:
    values: dict[str, Any] = {
        "account_id": side.account_id,
        "region": side.region,
        "vpc_id": side.vpc_id,
        "cidrs": tuple(side.cidrs.as_strings()),
        "readable": True,
        "status": "verified",
        "groups": (),
        "missing": "nothing",
        "quota_headroom": 49,
    }
    values.update(changes)
    return SideRow(**values)


def test_a_converged_peering_read_from_both_sides_is_one_row_with_nothing_missing() -> None:
    p1 = peering(P1, "active", A, B, **{STATUS: "verified"})
    reads = [converged_hub(p1, a_tags={"peering-autopilot:group": "prod, shared"}), converged_member(p1)]

    rows = survey(reads, 50, POLICY, NOW)

    assert rows == [
        PeeringRow(P1, "active", "verified", side_row(A, groups=("prod", "shared")), side_row(B)),
    ]
    assert rows[0].describe() == {
        "peeringId": P1,
        "state": "active",
        "verdict": "verified",
        "requester": {
            "accountId": HUB,
            "region": EAST,
            "vpcId": "vpc-a",
            "cidrs": ["10.0.0.0/16"],
            "readable": True,
            "status": "verified",
            "groups": ["prod", "shared"],
            "missing": "nothing",
            "quotaHeadroom": 49,
        },
        "accepter": {
            "accountId": MEMBER,
            "region": EAST,
            "vpcId": "vpc-b",
            "cidrs": ["10.1.0.0/16"],
            "readable": True,
            "status": "verified",
            "groups": [],
            "missing": "nothing",
            "quotaHeadroom": 49,
        },
    }


def test_what_is_missing_counts_the_route_and_rule_changes_the_sweep_would_send_configure_for() -> None:
    # GIVEN VPC-A's side with a second table lacking the route and a group whose rule is gone,
    # and VPC-B's side whose table routes a block VPC-A no longer holds (to take back)
    p1 = peering(P1, "active", A, B, **{STATUS: "verified"})
    hub = place(
        HUB,
        EAST,
        [vpc(A)],
        [p1],
        [table("rtb-a", "vpc-a", {"10.1.0.0/16": P1}), table("rtb-a2", "vpc-a", {})],
        [group("sg-a", "vpc-a", "icmp,tcp:443", {"10.1.0.0/16": P1})],
    )
    member = place(
        MEMBER,
        EAST,
        [vpc(B)],
        [p1],
        [table("rtb-b", "vpc-b", {"10.0.0.0/16": P1, "10.9.0.0/16": P1})],
        [group("sg-b", "vpc-b", "icmp", {"10.0.0.0/16": P1})],
    )

    [row] = survey([hub, member], 50, POLICY, NOW, read_record=made_all(hub, member))

    assert row.requester.missing == "1 route, 1 rule due in vpc-a"
    assert row.accepter.missing == "1 route due in vpc-b"
    # without the record nothing is the autopilot's: the route to take back is left alone, said so
    [unread] = survey([hub, member], 50, POLICY, NOW)
    assert unread.accepter.missing == (
        "1 removal left alone: the record could not be read (the autopilot's record was not read)"
    )
    # and a route the record does not hold is a person's: nothing due
    [persons] = survey([hub, member], 50, POLICY, NOW, read_record=lambda pid: PeeringRecord(pid, {}, {}, None))
    assert persons.accepter.missing == "nothing"
    assert row.verdict == "verified"  # the tag says what the probe found then; the table says what is due now


def test_a_side_outside_the_places_read_is_not_readable_and_described_as_the_peering_describes_it() -> None:
    p1 = peering(P1, "active", A, C, **{STATUS: "partially-configured"})

    [row] = survey([converged_hub(p1)], 50, POLICY, NOW)

    assert row.accepter == SideRow(
        PARTNER, WEST, "vpc-c", ("10.2.0.0/16",), False, None, None, "side not readable", None
    )
    assert row.requester.status == "partially-configured"
    assert row.verdict is None  # "partially-configured" is not the probe's verdict


def test_a_pending_request_is_due_for_acceptance_until_decided_then_awaits_a_person() -> None:
    undecided = peering(P1, "pending-acceptance", A, B)
    declined = peering(P2, "pending-acceptance", A, B, **{STATUS: "declined:requester-not-approved"})
    hub = place(HUB, EAST, [vpc(A)], [undecided, declined])
    member = place(MEMBER, EAST, [vpc(B)], [undecided, declined])

    first, second = survey([hub, member], 50, POLICY, NOW)

    assert (first.requester.missing, first.accepter.missing) == ("awaiting acceptance", "acceptance due")
    assert (second.requester.missing, second.accepter.missing) == ("awaiting acceptance", "awaiting acceptance")
    assert second.accepter.status == "declined:requester-not-approved"
    assert first.verdict is second.verdict is None


def test_a_side_whose_vpc_has_not_opted_in_is_read_but_not_the_autopilots_to_change() -> None:
    p1 = peering(P1, "active", A, B)
    member = place(MEMBER, EAST, [], [p1])  # VPC-B is not among the opted-in VPCs

    [row] = survey([converged_hub(p1), member], 50, POLICY, NOW)

    assert row.accepter == side_row(B, status=None, groups=None, missing="not opted in")


def test_quota_headroom_counts_the_vpcs_pending_provisioning_and_active_peerings_only() -> None:
    c_in_member = PeeringSide(MEMBER, EAST, "vpc-c", Cidrs.of(["10.2.0.0/16"]))
    peerings = [
        peering(P1, "active", A, B),
        peering(P2, "pending-acceptance", c_in_member, A),
        peering(P3, "provisioning", A, C),
        peering("pcx-0000000000000000d", "deleted", A, B),
        peering("pcx-0000000000000000e", "rejected", B, A),
        peering("pcx-0000000000000000f", "failed", A, C),
    ]
    hub = place(HUB, EAST, [vpc(A)], peerings)
    member = place(
        MEMBER, EAST, [vpc(B), vpc(c_in_member)], [p for p in peerings if C not in (p.requester, p.accepter)]
    )

    rows = {row.peering_id: row for row in survey([hub, member], 5, POLICY, NOW)}

    assert rows[P1].requester.quota_headroom == 5 - 3  # P1, P2, P3
    assert rows[P1].accepter.quota_headroom == 5 - 1  # P1 only: its deleted and rejected ones hold no slot
    assert rows[P2].requester.quota_headroom == 5 - 1
    assert rows[P3].accepter.quota_headroom is None


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        ("prod", ("prod",)),
        (" prod , shared ", ("prod", "shared")),
        ("prod,,shared,", ("prod", "shared")),
        ("prod,prod", ("prod",)),
        ("", ()),
        (" , ", ()),
        # what the group planner refuses is no group: the plan lists the tag as unclear
        ("_shared", ()),
        ("good,.x", ("good",)),
    ],
)
def test_the_group_tag_is_read_as_comma_separated_names(value: str, groups: tuple[str, ...]) -> None:
    assert group_names(value) == groups


def test_an_ended_peering_with_routes_or_rules_left_shows_them_to_clean_up() -> None:
    p1 = peering(P1, "deleted", A, B)

    reads = [converged_hub(p1), place(MEMBER, EAST, [vpc(B)], [p1])]
    [row] = survey(reads, 50, POLICY, NOW, read_record=made_all(*reads))

    assert row.requester.missing == "1 route, 1 rule to clean up in vpc-a"
    assert row.accepter.missing == "nothing"
    assert (row.requester.quota_headroom, row.accepter.quota_headroom) == (50, 50)


def test_changes_held_back_after_a_quota_refusal_are_not_due_but_shown() -> None:
    hold = new_hold("rtb-a2", "RouteLimitExceeded", NOW - 60, 0)
    p1 = peering(P1, "active", A, B, **dict([hold.tag]))
    hub = place(
        HUB,
        EAST,
        [vpc(A)],
        [p1],
        [table("rtb-a", "vpc-a", {}), table("rtb-a2", "vpc-a", {})],
        [group("sg-a", "vpc-a", "icmp", {"10.1.0.0/16": P1})],
    )

    [row] = survey([hub], 50, POLICY, NOW)

    assert row.requester.missing == "1 route due in vpc-a; 1 change held back after a quota refusal"
    # an hour later the hold has ended: both routes are due again
    [later] = survey([hub], 50, POLICY, NOW + 3600)
    assert later.requester.missing == "2 routes due in vpc-a"


def test_a_destination_routed_elsewhere_and_a_refused_peer_block_are_missing_too() -> None:
    public = PeeringSide(MEMBER, EAST, "vpc-b", Cidrs.of(["10.1.0.0/16", "8.8.0.0/16"]))
    p1 = peering(P1, "active", A, public)
    elsewhere = RouteTable.from_api(
        {
            "RouteTableId": "rtb-a",
            "VpcId": "vpc-a",
            "Associations": [{"Main": True}],
            "Routes": [{"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "vgw-1", "State": "active"}],
        }
    )
    hub = place(HUB, EAST, [vpc(A)], [p1], [elsewhere])

    [row] = survey([hub], 50, POLICY, NOW)

    held = "held (routed-elsewhere): 10.1.0.0/16 in rtb-a: 10.1.0.0/16 already goes to vgw-1"
    assert row.requester.missing == f"{held}; 1 peer block refused"


def test_differing_verdicts_of_the_two_sides_are_both_shown() -> None:
    p1_hub = peering(P1, "active", A, B, **{STATUS: "verified"})
    p1_member = peering(P1, "active", A, B, **{STATUS: "blocked:network-acls"})

    [row] = survey([converged_hub(p1_hub), converged_member(p1_member)], 50, POLICY, NOW)

    assert row.verdict == "verified, blocked:network-acls"
    assert (row.requester.status, row.accepter.status) == ("verified", "blocked:network-acls")


def test_the_wide_text_report_is_the_places_then_one_table_with_every_column_then_the_places_not_read() -> None:
    # (--wide: the table as it was before issue 23's default of 120 columns, after the places line)
    p1 = peering(P1, "active", A, B, **{STATUS: "configured"})
    report = EstateReport(
        [(HUB, EAST)],
        survey([converged_hub(p1, a_tags={"peering-autopilot:group": "prod"})], 50, POLICY, NOW),
        [UnreadPlace(MEMBER, EAST, "AccessDeniedError", "UnauthorizedOperation", "ec2 DescribeVpcs failed: denied")],
        record_read=True,
    )

    assert report_text(report, wide=True).splitlines() == [
        f"Read 1 place: {HUB} us-east-1.",
        f"Not read 1 place (why: below): {MEMBER} us-east-1.",
        "",
        "PEERING                STATE   REQUESTER                                 ACCEPTER                                  STATUS TAG      VERDICT  GROUPS    MISSING                      HEADROOM",
        "pcx-0000000000000000a  active  111111111111 us-east-1 vpc-a 10.0.0.0/16  222222222222 us-east-1 vpc-b 10.1.0.0/16  configured / ?  -        prod / ?  nothing / side not readable  49 / ?",
        "",
        "Per-side columns read requester / accepter; ? not readable, - none.",
        "",
        "Not read:",
        f"  {MEMBER} {EAST}: ec2 DescribeVpcs failed: denied",
    ]


def test_a_report_without_peerings_says_how_many_places_it_read() -> None:
    assert (
        report_text(EstateReport([(HUB, EAST), (HUB, WEST)], [], [], record_read=True))
        == f"Read 2 places: {HUB} {EAST}, {WEST}.\n\nNo peerings in the 2 places read."
    )


def test_the_default_text_fits_120_columns_with_realistic_ids_and_wide_shows_every_column() -> None:
    # GIVEN an estate with full-length ids, 12-digit accounts, long region names, two blocks a
    # side, long verdicts and long missing work, a group plan, a place not read and the record
    sydney, frankfurt = "ap-southeast-2", "eu-central-1"
    sides = [
        PeeringSide(HUB, sydney, "vpc-0123456789abcdef0", Cidrs.of(["10.0.0.0/16", "10.10.0.0/16"])),
        PeeringSide(MEMBER, frankfurt, "vpc-0fedcba9876543210", Cidrs.of(["10.1.0.0/16", "10.11.0.0/16"])),
        PeeringSide(PARTNER, sydney, "vpc-0a1b2c3d4e5f60718", Cidrs.of(["10.2.0.0/16"])),
    ]
    ids = ["pcx-0123456789abcdef0", "pcx-0fedcba9876543210", "pcx-0a1b2c3d4e5f60718"]
    verdicts = ["blocked:security-groups", "unverified:not-active", "held:routed-elsewhere"]
    rows = [
        PeeringRow(
            pid,
            "active" if n != 1 else "pending-acceptance",
            verdict,
            *(
                SideRow(
                    s.account_id, s.region, s.vpc_id, tuple(str(b) for b in s.cidrs.ipv4), True, verdict,
                    ("shared-services", "prod"), f"12 routes, 4 rules due in {s.vpc_id}, 1 peer block refused", 47,
                )
                for s in (sides[n], sides[(n + 1) % 3])
            ),
        )
        for n, (pid, verdict) in enumerate(zip(ids, verdicts, strict=True))
    ]  # fmt: skip
    places = [(HUB, sydney), (HUB, frankfurt), (MEMBER, sydney), (MEMBER, frankfurt), (PARTNER, sydney)]
    unread = [
        UnreadPlace(PARTNER, frankfurt, "AccessDeniedError", "OptInRequired", "ec2 DescribeVpcs failed: " + "x" * 150)
    ]
    report = EstateReport(places, rows, unread, record_read=True, decisions={})

    # WHEN it is printed by default
    lines = report_text(report).splitlines()

    # THEN no line is wider than 120 columns; each side shows its VPC, the row its verdict and
    # what is missing on each side, shortened (its own VPC not named again)
    assert max(len(line) for line in lines) <= 120
    assert lines[:5] == [  # (one line would be wider than 120: a line per account)
        "Read 5 places:",
        f"  {HUB} {sydney}, {frankfurt}",
        f"  {MEMBER} {sydney}, {frankfurt}",
        f"  {PARTNER} {sydney}",
        f"Not read 1 place (why: below): {PARTNER} {frankfurt}.",
    ]
    header, first, second, third = lines[6:10]
    assert header.split() == ["PEERING", "STATE/VERDICT", "REQUESTER", "VPC", "ACCEPTER", "VPC", "MISSING"]
    assert first.startswith(
        f"{ids[0]}  blocked:security-groups  vpc-0123456789abcdef0  vpc-0fedcba9876543210  12 routes"
    )
    assert first.endswith("  12 routes,… / 12 routes,…") and "due in" not in first  # each side keeps its share
    assert second.startswith(f"{ids[1]}  pending-acceptance       vpc-0fedcba9876543210  vpc-0a1b2c3d4e5f60718")
    assert third.startswith(f"{ids[2]}  held:routed-elsewhere    vpc-0a1b2c3d4e5f60718  vpc-0123456789abcdef0")
    assert (
        lines[12] == "Every column (accounts, regions, blocks, status tags, groups, headroom, last decision): --wide."
    )
    assert lines[-2].startswith(f"  {PARTNER} {frankfurt}: ec2 DescribeVpcs failed: xxx")  # wrapped, indented
    assert lines[-1].startswith("      xxx")

    # WHEN it is printed --wide: every column, nothing shortened
    wide = report_text(report, wide=True).splitlines()
    assert wide[6].split() == [
        "PEERING", "STATE", "REQUESTER", "ACCEPTER", "STATUS", "TAG", "VERDICT", "GROUPS", "MISSING", "HEADROOM",
        "LAST", "DECISION",
    ]  # fmt: skip
    assert f"{HUB} {sydney} vpc-0123456789abcdef0 10.0.0.0/16,10.10.0.0/16" in wide[7]
    assert "12 routes, 4 rules due in vpc-0123456789abcdef0, 1 peer block refused" in wide[7]
    assert "shared-services,prod / shared-services,prod" in wide[7] and "47 / 47" in wide[7]
    assert max(len(line) for line in wide) > 200
    assert "--wide" not in "\n".join(wide)


def test_a_report_judged_without_the_record_says_so() -> None:
    text = report_text(EstateReport([(HUB, EAST)], [], []))
    assert text.splitlines()[-2:] == [  # wrapped to fit 120 columns (--wide: one line)
        "The autopilot's record was not read: nothing counts as the autopilot's, so no route or rule is shown as due"
        " for removal",
        "    (such removals are listed as left alone).",
    ]
    assert report_text(EstateReport([(HUB, EAST)], [], []), wide=True).splitlines()[-1] == RECORD_NOT_READ


class FakeGateway:
    """The four reads of the sweep, recorded."""

    def __init__(self, account_id: str, region: str, fail: Exception | None = None) -> None:
        self.account_id, self.region, self.fail = account_id, region, fail
        self.calls: list[str] = []

    def opted_in_vpcs(self) -> dict[str, Vpc]:
        self.calls.append("opted_in_vpcs")
        if self.fail:
            raise self.fail
        return {"vpc-a": vpc(A)} if self.account_id == HUB else {}

    def all_peerings(self, states: Any) -> list[Peering]:
        self.calls.append("all_peerings")
        return [peering(P1, "active", A, B)]

    def route_tables(self, vpcs: Any) -> list[RouteTable]:
        self.calls.append("route_tables")
        return [table("rtb-a", "vpc-a", {})] if vpcs else []

    def vpc_security_groups(self, vpcs: Any) -> list[SecurityGroup]:
        self.calls.append("vpc_security_groups")
        return []


class FakeAccess:
    def __init__(self, failing: dict[tuple[str, str], Exception], assume_fails: set[str]) -> None:
        self.failing, self.assume_fails = failing, assume_fails
        self.gateways: dict[tuple[str, str], FakeGateway] = {}

    def ec2(self, account_id: str, region: str) -> FakeGateway:
        if account_id in self.assume_fails:
            raise RoleAssumptionError(account_id=account_id, role_arn="arn:aws:iam::x:role/r", reason="AccessDenied")
        gateway = FakeGateway(account_id, region, self.failing.get((account_id, region)))
        self.gateways[(account_id, region)] = gateway
        return gateway


def test_each_place_is_read_with_the_sweeps_four_reads_and_one_that_fails_is_listed_not_read() -> None:
    denied = AccessDeniedError(service="ec2", operation="DescribeVpcs", code="OptInRequired", message="not enabled")
    access = FakeAccess({(HUB, WEST): denied}, assume_fails={MEMBER})

    reads, unread = read_estate(access, [(HUB, EAST), (HUB, WEST), (MEMBER, EAST)])  # type: ignore[arg-type]

    assert [r.place for r in reads] == [(HUB, EAST)]
    assert access.gateways[(HUB, EAST)].calls == [
        "opted_in_vpcs",
        "all_peerings",
        "route_tables",
        "vpc_security_groups",
    ]
    assert reads[0].tables == {"vpc-a": [table("rtb-a", "vpc-a", {})]}
    assert unread == [
        UnreadPlace(
            HUB, WEST, "AccessDeniedError", "OptInRequired", "ec2 DescribeVpcs failed: OptInRequired: not enabled"
        ),
        UnreadPlace(
            MEMBER,
            EAST,
            "RoleAssumptionError",
            "",
            f"cannot assume role arn:aws:iam::x:role/r in account {MEMBER}: AccessDenied",
        ),
    ]


def test_a_place_without_opted_in_vpcs_still_lists_its_peerings() -> None:
    read = read_place(FakeGateway(MEMBER, EAST), LISTED_STATES, always_peerings=True)  # type: ignore[arg-type]

    assert (read.vpcs, [p.peering_id for p in read.peerings], read.tables, read.groups) == ({}, [P1], {}, {})


def test_a_peering_without_a_name_or_with_remote_dns_due_shows_it_missing() -> None:
    p1 = Peering("pcx-0000000000000000a", "active", "", A, B, {"peering-autopilot:status": "verified"})
    reads = [converged_hub(p1, a_tags={"peering-autopilot:dns": "true"})]
    [row] = survey(reads, 50, POLICY, NOW)
    assert row.requester.missing == "remote DNS on due; Name due"


@pytest.mark.parametrize(
    ("requester", "accepter", "width", "shown"),
    [
        pytest.param("nothing", "side not readable", 40, "nothing / side not readable", id="fits"),
        pytest.param("nothing", "12 routes, 4 rules due, 1 peer block refused", 30, "nothing / 12 routes, 4 rules…", id="short first"),
        pytest.param("12 routes, 4 rules due, 1 peer block refused", "nothing", 30, "12 routes, 4 rules… / nothing", id="short last"),
        pytest.param("12 routes due", "4 rules due", 21, "12 route… / 4 rules…", id="both shortened"),
    ],
)  # fmt: skip
def test_the_default_table_keeps_each_side_s_share_of_what_is_missing(
    requester: str, accepter: str, width: int, shown: str
) -> None:
    assert estate._both(requester, accepter, width) == shown
    assert len(shown) <= width
