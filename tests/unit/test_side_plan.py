"""The judge of a side (side_plan), on EC2's shapes: one rule per fact, in words the status command
and the sweep share. The agreement of the sweep and configure over random sides is
test_one_judge_property.py; the stories through the harness are tests/integration/test_one_judge.py."""

from __future__ import annotations

from typing import Any

import pytest

from peering_autopilot.model import Cidrs, Peering, PeeringSide, RouteTable, SecurityGroup, Vpc
from peering_autopilot.record import NOT_READ, Owned
from peering_autopilot.settings import PeerCidrPolicy
from peering_autopilot.side_plan import SideFacts, kept_out_subnets, leftovers, plan_side

POLICY = PeerCidrPolicy.parse("10.0.0.0/8")
NOW = 1_800_000_000.0
PID = "pcx-0000000000000000a"
OWN = PeeringSide("111111111111", "us-east-1", "vpc-a", Cidrs.of(["10.0.0.0/16"]))
PEER = PeeringSide("999999999999", "us-east-1", "vpc-b", Cidrs.of(["10.1.0.0/16"]))
MARK = "peering-autopilot:remote-dns:requester"


def table(table_id: str, routes: dict[str, str], tags: dict[str, str] | None = None, **association: Any) -> RouteTable:
    return RouteTable.from_api(
        {
            "RouteTableId": table_id,
            "VpcId": "vpc-a",
            "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
            "Associations": [association or {"Main": True}],
            "Routes": [
                {"DestinationCidrBlock": d, "VpcPeeringConnectionId": p, "State": "active"} for d, p in routes.items()
            ],
        }
    )


def facts(
    tables: list[RouteTable],
    peer_vpc: Vpc | None = None,
    vpc_tags: dict[str, str] | None = None,
    owned: Owned | None = None,
    **view: Any,
) -> SideFacts:
    dns = view.pop("dns", None)
    own = PeeringSide(OWN.account_id, OWN.region, OWN.vpc_id, OWN.cidrs, remote_dns=dns)
    peering = Peering(PID, "active", "", own, PEER, {"Name": "named", **view})
    vpc = Vpc("vpc-a", OWN.account_id, OWN.region, OWN.cidrs, {"peering-autopilot:enabled": "true", **(vpc_tags or {})})
    if owned is None:  # the record holds every route through the peering: all the autopilot's making
        owned = Owned(frozenset((t.route_table_id, str(r.destination)) for t in tables for r in t.routes))
    return SideFacts("requester", peering, vpc, tables, (), peer_vpc, owned)


@pytest.mark.parametrize(
    ("spelling", "kept_out"),
    [("false", True), ("False", True), ("no", True), ("", True), ("true", False), ("TRUE", False)],
    ids=lambda v: repr(v) if isinstance(v, str) else str(v),
)
def test_a_subnet_behind_a_table_tagged_anything_but_true_is_kept_out(spelling: str, kept_out: bool) -> None:
    tables = [table("rtb-db", {}, {"peering-autopilot:routes": spelling}, SubnetId="subnet-db")]
    assert ("subnet-db" in kept_out_subnets(tables)) is kept_out


def test_subnets_without_a_table_of_their_own_follow_the_main_table() -> None:
    tables = [
        table("rtb-main", {}, {"peering-autopilot:routes": "no"}, Main=True),
        table("rtb-app", {}, SubnetId="subnet-app"),
    ]
    kept_out = kept_out_subnets(tables)
    assert "subnet-implicit" in kept_out
    assert "subnet-app" not in kept_out


def test_a_route_to_a_block_the_unread_peer_may_hold_is_left_alone_and_no_work() -> None:
    # GIVEN a converged table with a person's route through the peering to a block the peering's
    # description of the peer does not list, and the peer's VPC not read in its own account
    side = facts([table("rtb-main", {"10.1.0.0/16": PID, "10.250.0.0/16": PID})])

    plan = plan_side(side, POLICY, NOW)

    # THEN nothing proves the peer gave it up: left alone, reported, and no work for the sweep
    assert [(r.destination, r.reason) for r in plan.routes.left_alone] == [
        ("10.250.0.0/16", "the peer VPC could not be read: it may still hold this block")
    ]
    assert plan.routes.remove == [] and not plan.has_work and plan.summary() == "nothing"


def test_the_peer_vpc_read_in_its_own_account_proves_a_block_given_up_and_is_read_only_when_needed() -> None:
    peer_vpc = Vpc("vpc-b", PEER.account_id, PEER.region, Cidrs.of(["10.1.0.0/16"]), {})
    reads: list[str] = []

    def read_peer() -> Vpc:
        reads.append("vpc-b")
        return peer_vpc

    converged = plan_side(facts([table("rtb-main", {"10.1.0.0/16": PID})]), POLICY, NOW, read_peer)
    leftover = plan_side(facts([table("rtb-main", {"10.1.0.0/16": PID, "10.4.0.0/16": PID})]), POLICY, NOW, read_peer)

    assert not converged.has_work and reads == ["vpc-b"]  # a converged side needs no proof: one read, for the other
    assert [r.destination for r in leftover.routes.remove] == ["10.4.0.0/16"]
    assert leftover.summary() == "1 route due in vpc-a"


def test_the_record_is_read_only_when_something_would_be_removed_and_decides_whose_it_is() -> None:
    peer_vpc = Vpc("vpc-b", PEER.account_id, PEER.region, Cidrs.of(["10.1.0.0/16"]), {})
    reads: list[str] = []

    def read_owned(holds: set[tuple[str, str]]) -> Any:
        def read() -> Owned:
            reads.append("record")
            return Owned(frozenset(holds))

        return read

    converged = [table("rtb-main", {"10.1.0.0/16": PID})]
    person = [table("rtb-main", {"10.1.0.0/16": PID, "10.1.5.0/24": PID, "10.4.0.0/16": PID})]
    quiet = plan_side(facts(converged, peer_vpc, owned=NOT_READ), POLICY, NOW, None, read_owned(set()))
    assert reads == [] and not quiet.has_work  # nothing to remove: the record is not read

    persons = plan_side(facts(person, peer_vpc, owned=NOT_READ), POLICY, NOW, None, read_owned(set()))
    assert reads == ["record"] and not persons.has_work and persons.summary() == "nothing"
    assert [p.destination for p in persons.routes.persons] == ["10.1.5.0/24", "10.4.0.0/16"]

    ours = plan_side(
        facts(person, peer_vpc, owned=NOT_READ), POLICY, NOW, None, read_owned({("rtb-main", "10.4.0.0/16")})
    )
    assert [r.destination for r in ours.routes.remove] == ["10.4.0.0/16"]
    assert [p.destination for p in ours.routes.persons] == ["10.1.5.0/24"]

    unread = plan_side(facts(person, peer_vpc, owned=Owned(unreadable="AccessDenied")), POLICY, NOW)
    assert unread.routes.remove == [] and not unread.has_work
    assert unread.summary() == "2 removals left alone: the record could not be read (AccessDenied)"


def test_a_persons_route_sending_a_slice_of_the_peer_block_elsewhere_is_reported_as_a_path_change() -> None:
    routes = RouteTable.from_api(
        {
            "RouteTableId": "rtb-main",
            "VpcId": "vpc-a",
            "Associations": [{"Main": True}],
            "Routes": [
                {"DestinationCidrBlock": "10.1.0.0/16", "VpcPeeringConnectionId": PID, "State": "active"},
                {"DestinationCidrBlock": "10.1.5.0/24", "TransitGatewayId": "tgw-1", "State": "active"},
            ],
        }
    )
    plan = plan_side(facts([routes]), POLICY, NOW)

    assert not plan.has_work
    assert plan.summary() == "a person's route changes the path (10.1.5.0/24 not through the peering)"


def test_a_remote_dns_option_a_person_turned_on_is_never_the_autopilots() -> None:
    routed = [table("rtb-main", {"10.1.0.0/16": PID})]
    # on before the owner asked, unmarked: nothing to do, and no mark that would claim it
    asked = plan_side(facts(routed, vpc_tags={"peering-autopilot:dns": "true"}, dns=True), POLICY, NOW)
    # the tag gone, still unmarked: it stays on
    gone = plan_side(facts(routed, dns=True), POLICY, NOW)

    assert asked.dns is not None and (asked.dns.turn, asked.dns.mark) == (None, None) and not asked.has_work
    assert gone.dns is not None and (gone.dns.turn, gone.dns.mark) == (None, None) and not gone.has_work


def test_the_autopilot_marks_an_option_before_it_turns_it_on_and_clears_a_stale_mark() -> None:
    routed = [table("rtb-main", {"10.1.0.0/16": PID})]
    turn_on = plan_side(facts(routed, vpc_tags={"peering-autopilot:dns": "true"}, dns=False), POLICY, NOW)
    turn_off = plan_side(facts(routed, dns=True, **{MARK: "on"}), POLICY, NOW)
    stale = plan_side(facts(routed, dns=False, **{MARK: "on"}), POLICY, NOW)

    assert turn_on.dns is not None and (turn_on.dns.turn, turn_on.dns.mark) == (True, True)
    assert turn_on.summary() == "remote DNS on due"
    assert turn_off.dns is not None and (turn_off.dns.turn, turn_off.dns.mark) == (False, False)
    assert stale.dns is not None and (stale.dns.turn, stale.dns.mark) == (None, False)
    assert stale.has_work and stale.summary() == "remote DNS mark to clear"


def test_the_summary_names_only_what_is_there() -> None:
    bare = plan_side(facts([table("rtb-main", {}), table("rtb-2", {}, SubnetId="subnet-2")]), POLICY, NOW)
    excluded = plan_side(facts([table("rtb-main", {}, {"peering-autopilot:routes": "False"})]), POLICY, NOW)

    assert bare.summary() == "2 routes due in vpc-a"
    assert excluded.summary() == "nothing" and not excluded.has_work
    assert [(t.route_table_id, t.reason) for t in excluded.routes.skipped] == [
        ("rtb-main", "tagged peering-autopilot:routes='False' (not 'true')")
    ]


@pytest.mark.parametrize("spelling", ["false", "No", "", "ture"])
def test_leftovers_never_touch_a_table_its_owner_kept_out_whatever_the_record_holds(spelling: str) -> None:
    # GIVEN the peering ended; the record holds its routes in both tables (the autopilot made them),
    # then one table's owner kept it out
    kept = table("rtb-kept", {"10.1.0.0/16": PID}, {"peering-autopilot:routes": spelling}, SubnetId="subnet-1")
    other = table("rtb-main", {"10.1.0.0/16": PID})
    owned = Owned(frozenset({("rtb-kept", "10.1.0.0/16"), ("rtb-main", "10.1.0.0/16")}))

    left = leftovers([kept, other], [], PID, owned)

    assert [r.route_table_id for r in left.routes] == ["rtb-main"]
    assert [r.route_table_id for r in left.kept_out] == ["rtb-kept"]
    assert left.summary("vpc-a") == "1 route to clean up in vpc-a; 1 route left in tables their owner kept out"
    # ... and with only the kept-out table left, there is no clean-up work at all
    assert not leftovers([kept], [], PID, owned)


def test_no_group_is_opened_for_a_block_held_in_every_table_of_the_side() -> None:
    # GIVEN the only managed table already sends the peer's 10.1.0.0/16 to a transit gateway, and
    # a group tagged to allow icmp
    held = RouteTable.from_api(
        {
            "RouteTableId": "rtb-main",
            "VpcId": "vpc-a",
            "Associations": [{"Main": True}],
            "Routes": [{"DestinationCidrBlock": "10.0.0.0/8", "TransitGatewayId": "tgw-1", "State": "active"}],
        }
    )
    group = SecurityGroup.from_api(
        {"GroupId": "sg-1", "VpcId": "vpc-a", "Tags": [{"Key": "peering-autopilot:allow", "Value": "icmp"}]}
    )
    plan = plan_side(facts([held])._replace(groups=(group,)), POLICY, NOW)

    # THEN the block is held, and the group gets no rule for it
    assert plan.held_code == "routed-elsewhere" and plan.carries_nothing
    assert plan.rule_additions == {} and not plan.has_work
    # ... while a table that may route it opens the group as before
    free = table("rtb-free", {}, SubnetId="subnet-1")
    opened = plan_side(facts([held, free])._replace(groups=(group,)), POLICY, NOW)
    assert [str(rule) for rule in opened.rule_additions["sg-1"]] == ["icmp from 10.1.0.0/16"]
