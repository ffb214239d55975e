"""The sweep and configure agree on one side of a peering (issue 19), over random sides.

For any side (route tables with and without the routes tag in any spelling, with a person's routes,
dead routes, routes to blocks the peer gave up; groups with allow tags good and bad, with a
person's rules and the autopilot's; remote DNS asked or not, on or off, marked or not; a Name or
none; the peer's VPC readable in its own account or not; the autopilot's record holding its routes
and rules, not holding a person's route through the peering or a person's rule with the marker,
or unreadable):
- the sweep reports configure work for the side exactly when configure changes something there;
- after configure has run, the sweep reports none.

Both run for real (`sweep.find_work`, `configure.configure_peering`) against an in-memory EC2 of
one peering that keeps AWS's semantics where they matter here: a duplicate route or rule is
refused, a revoke matches protocol, ports and range, a peering's description of a VPC lists its
current blocks (EC2 updates CidrBlockSet when a block is associated), each account has its own
tags on a peering. The record is an in-memory table with RecordStore's methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peering_autopilot.configure import configure_peering
from peering_autopilot.context import Context
from peering_autopilot.errors import (
    AlreadyPresentError,
    RecordConflictError,
    RecordUnavailableError,
    RoleAssumptionError,
    VpcNotFoundError,
)
from peering_autopilot.model import ACTIVE, STATUS_TAG, Cidrs, Peering, PeeringSide, RouteTable, SecurityGroup, Vpc
from peering_autopilot.places import vpc_reader
from peering_autopilot.record import MADE, OwnedRoute, OwnedRule, own_key, route_item, rule_item
from peering_autopilot.recorder import Recorder, RecordReads
from peering_autopilot.security_groups import Rule, rule_description
from peering_autopilot.sweep import find_work
from peering_autopilot.triggers import PeeringHint
from tests.support.domain import settings as domain_settings
from tests.support.world import HUB, MEMBER, REGION

PARTNER = "999999999999"  # an account the hub does not manage: its VPC cannot be read
PID = "pcx-0000000000000000a"
OWN_BLOCKS = ["10.0.0.0/16"]
PEER_PRIMARY, PEER_SECONDARY = "10.1.0.0/16", "10.2.0.0/16"
GIVEN_UP = "10.4.0.0/16"  # a block the peer no longer holds: routes to it are leftovers
PERSONS = "10.250.0.0/16"  # a block the peer never held: a person's route through the peering
MORE_SPECIFIC = "10.1.5.0/24"
DESTINATIONS = [PEER_PRIMARY, PEER_SECONDARY, GIVEN_UP, PERSONS, MORE_SPECIFIC]
NOW = 1_800_000_000.0


class FakeEc2:
    """One account-region's view of the in-memory EC2, as the gateway's methods answer."""

    def __init__(self, world: World, account_id: str, region: str) -> None:
        self.world, self.account_id, self.region = world, account_id, region
        self.changes: list[str] = []  # mutating calls, except the status tag

    # reads
    def find_peering(self, peering_id: str) -> Peering | None:
        return self.world.peering(self.account_id) if peering_id == PID else None

    def all_peerings(self, states: Any) -> list[Peering]:
        peering = self.world.peering(self.account_id)
        return [peering] if peering.status in set(states) else []

    def get_vpc(self, vpc_id: str) -> Vpc:
        vpc = self.world.vpcs.get(vpc_id)
        if vpc is None or vpc.account_id != self.account_id:
            raise VpcNotFoundError(vpc_id=vpc_id, account_id=self.account_id, region=self.region)
        return vpc

    def opted_in_vpcs(self) -> dict[str, Vpc]:
        return {k: v for k, v in self.world.vpcs.items() if v.account_id == self.account_id and v.opted_in}

    def route_tables(self, vpc_ids: Any) -> list[RouteTable]:
        return [RouteTable.from_api(t) for t in self.world.tables if t["VpcId"] in set(vpc_ids)]

    def vpc_security_groups(self, vpc_ids: Any) -> list[SecurityGroup]:
        return [SecurityGroup.from_api(g) for g in self.world.groups if g["VpcId"] in set(vpc_ids)]

    def gone_targets(self, targets: Any) -> frozenset[str]:
        # The NAT gateway was deleted: gone for good. A stopped instance is never asked about.
        return frozenset(target_id for _, target_id in targets if target_id in DELETED)

    # changes, with EC2's refusals
    def create_route(self, table_id: str, destination: str, peering_id: str) -> None:
        table = self._table(table_id)
        if any(_destination(r) == destination for r in table["Routes"]):
            raise AlreadyPresentError(code="RouteAlreadyExists", resource_id=table_id, message="exists")
        table["Routes"].append(
            {"DestinationCidrBlock": destination, "VpcPeeringConnectionId": peering_id, "State": "active"}
        )
        self.changes.append(f"create {table_id} {destination}")

    def replace_route(self, table_id: str, destination: str, peering_id: str) -> None:
        table = self._table(table_id)
        table["Routes"] = [r for r in table["Routes"] if _destination(r) != destination]
        table["Routes"].append(
            {"DestinationCidrBlock": destination, "VpcPeeringConnectionId": peering_id, "State": "active"}
        )
        self.changes.append(f"replace {table_id} {destination}")

    def delete_route(self, table_id: str, destination: str) -> None:
        table = self._table(table_id)
        table["Routes"] = [r for r in table["Routes"] if _destination(r) != destination]
        self.changes.append(f"delete {table_id} {destination}")

    def authorize_ingress(self, group_id: str, permissions: list[dict[str, Any]]) -> dict[tuple[Any, ...], str]:
        group = self._group(group_id)
        have = {_key(p, r["CidrIp"]) for p in group["IpPermissions"] for r in p.get("IpRanges", [])}
        new = [(p, r) for p in permissions for r in p.get("IpRanges", [])]
        if any(_key(p, r["CidrIp"]) in have for p, r in new):
            raise AlreadyPresentError(code="InvalidPermission.Duplicate", resource_id=group_id, message="duplicate")
        for p, r in new:
            group["IpPermissions"].append({**_ports(p), "IpRanges": [dict(r)]})
        self.changes.append(f"authorize {group_id}")
        return {_key(p, r["CidrIp"]): f"sgr-{n}" for n, (p, r) in enumerate(new)}  # the ids AWS answers with

    def revoke_ingress(self, group_id: str, permissions: list[dict[str, Any]]) -> None:
        group = self._group(group_id)
        gone = {_key(p, r["CidrIp"]) for p in permissions for r in p.get("IpRanges", [])}
        for p in group["IpPermissions"]:
            p["IpRanges"] = [r for r in p.get("IpRanges", []) if _key(p, r["CidrIp"]) not in gone]
        group["IpPermissions"] = [p for p in group["IpPermissions"] if p["IpRanges"]]
        self.changes.append(f"revoke {group_id}")

    def tag(self, resource_id: str, tags: dict[str, str]) -> None:
        self.world.view_tags.setdefault(self.account_id, {}).update(tags)
        if set(tags) != {STATUS_TAG}:
            self.changes.append(f"tag {sorted(tags)}")

    def untag(self, resource_id: str, keys: Any) -> None:
        view = self.world.view_tags.setdefault(self.account_id, {})
        for key in keys:
            view.pop(key, None)
        self.changes.append(f"untag {sorted(keys)}")

    def set_remote_dns(self, peering_id: str, role: str, allow: bool) -> None:
        self.world.remote_dns[role] = allow
        self.changes.append(f"remote DNS {role} {allow}")

    def _table(self, table_id: str) -> dict[str, Any]:
        return next(t for t in self.world.tables if t["RouteTableId"] == table_id)

    def _group(self, group_id: str) -> dict[str, Any]:
        return next(g for g in self.world.groups if g["GroupId"] == group_id)


def _destination(route: dict[str, Any]) -> str:
    return str(route.get("DestinationCidrBlock"))


def _ports(permission: dict[str, Any]) -> dict[str, Any]:
    return {k: permission[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in permission}


def _key(permission: dict[str, Any], cidr: str) -> tuple[str, int, int, str]:
    protocol = str(permission["IpProtocol"])
    if protocol == "-1":
        return protocol, -1, -1, cidr
    return protocol, int(permission.get("FromPort", -1)), int(permission.get("ToPort", -1)), cidr


class MemoryRecord:
    """The record table in memory, with RecordStore's methods; `down` makes every call fail as a
    table that does not answer."""

    table = "memory"

    def __init__(self, down: bool = False) -> None:
        self.items_by_key: dict[tuple[str, str], dict[str, Any]] = {}
        self.down = down

    def _check(self, operation: str) -> None:
        if self.down:
            raise RecordUnavailableError(table=self.table, operation=operation, reason="ResourceNotFoundException")

    def items(self, pk: str) -> list[dict[str, Any]]:
        self._check("Query")
        return [dict(v) for (p, _), v in sorted(self.items_by_key.items()) if p == pk]

    def last(self, pk: str) -> dict[str, Any] | None:
        found = self.items(pk)
        return found[-1] if found else None

    def put_new(self, item: dict[str, Any]) -> None:
        self._check("PutItem")
        if (item["pk"], item["sk"]) in self.items_by_key:
            raise RecordConflictError(table=self.table, operation="PutItem")
        self.items_by_key[(item["pk"], item["sk"])] = dict(item)

    def put_if(self, item: dict[str, Any], condition: str, values: Any) -> None:
        self._check("PutItem")
        self.items_by_key[(item["pk"], item["sk"])] = dict(item)

    def write(self, puts: Any = (), deletes: Any = ()) -> None:
        self._check("BatchWriteItem")
        for item in puts:
            self.items_by_key[(item["pk"], item["sk"])] = dict(item)
        for key in deletes:
            self.items_by_key.pop(tuple(key), None)

    def holds(self, kind: str) -> set[str]:
        return {sk for (pk, sk), item in self.items_by_key.items() if pk == own_key(PID) and item["kind"] == kind}


@dataclass
class World:
    """One peering from the hub's VPC (requester, opted in) to a peer VPC (accepter, not opted
    in), in a managed account (its VPC readable) or a partner's (not readable)."""

    peer_account: str
    status: str
    peer_blocks: list[str]
    vpcs: dict[str, Vpc]
    tables: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    view_tags: dict[str, dict[str, str]]
    remote_dns: dict[str, bool | None] = field(default_factory=dict)
    gateways: dict[tuple[str, str], FakeEc2] = field(default_factory=dict)
    record: MemoryRecord = field(default_factory=MemoryRecord)

    def peering(self, account_id: str) -> Peering:
        def dns(role: str) -> bool | None:
            return self.remote_dns.get(role) if self.status == ACTIVE else None

        requester = PeeringSide(HUB, REGION, "vpc-a", Cidrs.of(OWN_BLOCKS), remote_dns=dns("requester"))
        accepter = PeeringSide(
            self.peer_account, REGION, "vpc-b", Cidrs.of(self.peer_blocks), remote_dns=dns("accepter")
        )
        return Peering(PID, self.status, "", requester, accepter, dict(self.view_tags.get(account_id, {})))

    def ec2(self, account_id: str, region: str) -> FakeEc2:
        if account_id not in (HUB, MEMBER):
            raise RoleAssumptionError(role_arn="arn", account_id=account_id, reason="not managed")
        return self.gateways.setdefault((account_id, region), FakeEc2(self, account_id, region))

    def partition(self, region: str) -> str:
        return "aws"

    def publisher(self) -> Any:
        return _Publisher()

    def record_store(self) -> MemoryRecord:
        return self.record

    def backlog(self) -> None:
        return None


class _Publisher:
    def publish(self, *args: Any, **kwargs: Any) -> None:
        return None

    def publish_many(self, *args: Any, **kwargs: Any) -> None:
        return None


ROUTES_TAG_SPELLINGS = [None, "true", "TRUE", "True", "false", "False", "no", "yes", ""]
# "ours": through the peering and in the record; "persons-through": through the peering, not in the
# record (a person's, whatever its destination)
ROUTE_KINDS = [
    "none",
    "ours",
    "ours-blackhole",
    "persons-through",
    "other-peering",
    "gateway",
    "dead-nat",
    "stopped-instance",
]
DELETED = {"nat-0123"}
ALLOW_TAGS = [None, "icmp", "tcp:443", "icmp,tcp:443", "icmp,bogus"]
# "ours": marked and in the record; "persons-marked": a person wrote the marker, not in the record
RULE_KINDS = ["none", "ours", "persons", "persons-marked"]
TRAFFIC = [{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1}, {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}]


def _route(destination: str, kind: str) -> dict[str, Any] | None:
    route: dict[str, Any] = {"DestinationCidrBlock": destination, "State": "active"}
    if kind in ("ours", "persons-through"):
        return {**route, "VpcPeeringConnectionId": PID}
    if kind == "ours-blackhole":  # while the peering provisions: still its own
        return {**route, "VpcPeeringConnectionId": PID, "State": "blackhole"}
    if kind == "other-peering":
        return {**route, "VpcPeeringConnectionId": "pcx-0000000000000000f"}
    if kind == "gateway":
        return {**route, "GatewayId": "vgw-0123"}
    if kind == "dead-nat":
        return {**route, "NatGatewayId": "nat-0123", "State": "blackhole"}
    if kind == "stopped-instance":  # may come back: its route keeps its range
        return {**route, "InstanceId": "i-0123", "State": "blackhole"}
    return None


@st.composite
def worlds(draw: st.DrawFn) -> World:
    peer_readable = draw(st.booleans())
    peer_account = MEMBER if peer_readable else PARTNER
    peer_blocks = [PEER_PRIMARY, *([PEER_SECONDARY] if draw(st.booleans()) else [])]
    status = draw(st.sampled_from([ACTIVE, "provisioning"]))
    own_tags = {"peering-autopilot:enabled": "true", "Name": "own"}
    if draw(st.booleans()):
        own_tags["peering-autopilot:dns"] = "true"
    vpcs = {"vpc-a": Vpc("vpc-a", HUB, REGION, Cidrs.of(OWN_BLOCKS), own_tags)}
    if peer_readable:  # readable in its own account, not opted in: configure reads it, never changes it
        vpcs["vpc-b"] = Vpc("vpc-b", MEMBER, REGION, Cidrs.of(peer_blocks), {"Name": "peer"})
    record = MemoryRecord(down=draw(st.booleans()) and draw(st.booleans()))  # a quarter: unreadable
    tables = []
    for n in range(draw(st.integers(1, 3))):
        association = {"Main": True} if n == 0 else draw(st.sampled_from([{"SubnetId": f"subnet-{n}"}, {}]))
        spelling = draw(st.sampled_from(ROUTES_TAG_SPELLINGS))
        local = {"DestinationCidrBlock": OWN_BLOCKS[0], "GatewayId": "local", "State": "active"}
        routes = [local]
        for destination in DESTINATIONS:
            kind = draw(st.sampled_from(ROUTE_KINDS))
            route = _route(destination, kind)
            if route:
                routes.append(route)
            if kind in ("ours", "ours-blackhole"):
                owned = OwnedRoute(HUB, REGION, f"rtb-{n}", destination)
                record.items_by_key[(own_key(PID), owned.sort_key)] = route_item(PID, owned, MADE, "t", "created")
        tables.append(
            {
                "RouteTableId": f"rtb-{n}",
                "VpcId": "vpc-a",
                "Tags": [] if spelling is None else [{"Key": "peering-autopilot:routes", "Value": spelling}],
                "Associations": [association] if association else [],
                "Routes": routes,
            }
        )
    groups = []
    for n in range(draw(st.integers(0, 2))):
        allow = draw(st.sampled_from(ALLOW_TAGS))
        permissions = []
        for traffic in TRAFFIC:
            for cidr in (PEER_PRIMARY, PEER_SECONDARY, GIVEN_UP):
                kind = draw(st.sampled_from(RULE_KINDS))
                if kind == "none":
                    continue
                described = {"Description": rule_description(PID)} if kind in ("ours", "persons-marked") else {}
                permissions.append({**traffic, "IpRanges": [{"CidrIp": cidr, **described}]})
                if kind == "ours":
                    ports = (traffic["FromPort"], traffic["ToPort"])
                    owned_rule = OwnedRule(HUB, REGION, f"sg-{n}", Rule(str(traffic["IpProtocol"]), *ports, cidr))
                    item = rule_item(PID, owned_rule, MADE, "t", "created", "sgr-1")
                    record.items_by_key[(own_key(PID), owned_rule.sort_key)] = item
        groups.append(
            {
                "GroupId": f"sg-{n}",
                "VpcId": "vpc-a",
                "Tags": [] if allow is None else [{"Key": "peering-autopilot:allow", "Value": allow}],
                "IpPermissions": permissions,
            }
        )
    hub_view: dict[str, str] = {STATUS_TAG: "configured"}
    if draw(st.booleans()):
        hub_view["Name"] = "a person's name"
    if draw(st.booleans()):
        hub_view["peering-autopilot:remote-dns:requester"] = "on"
    remote_dns: dict[str, bool | None] = {"requester": draw(st.booleans()), "accepter": False}
    return World(peer_account, status, peer_blocks, vpcs, tables, groups, {HUB: hub_view}, remote_dns, record=record)


def _sweep_finds_configure_work(world: World) -> list[str]:
    ec2 = world.ec2(HUB, REGION)
    records = RecordReads(Recorder(world.record, None))  # type: ignore[arg-type]
    found = find_work(ec2, CONFIG.allowed_peer_cidrs, NOW, read_vpc=vpc_reader(world, CONFIG), read_record=records)  # type: ignore[arg-type]
    return [w.why for w in found if w.peering_id == PID and w.work == "configure"]


CONFIG = domain_settings(managed_regions=(REGION,))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_the_sweep_finds_work_exactly_where_configure_changes_something_and_none_after(world: World) -> None:
    # GIVEN a random side; WHEN the sweep looks, then configure runs, then the sweep looks again
    before = _sweep_finds_configure_work(world)
    persons = _live_routes_elsewhere(world) | _persons_through(world)
    persons_rules = _persons_marked_rules(world)
    ctx = Context(CONFIG, world, sleep=lambda _: None, backoff=(0.0,), now=lambda: NOW)  # type: ignore[arg-type]
    configure_peering(PeeringHint(PID, HUB, REGION), ctx)
    changed = world.ec2(HUB, REGION).changes
    after = _sweep_finds_configure_work(world)

    # THEN the sweep found work exactly where configure changed something, and none is left
    assert bool(before) == bool(changed), f"sweep said {before}, configure changed {changed}"
    assert after == [], f"after configure the sweep still finds {after}"
    # and a live route to another target is never taken over, nor a person's route through the
    # peering or a person's rule with the marker removed
    assert persons <= _live_routes_elsewhere(world) | _persons_through(world)
    assert persons_rules <= _persons_marked_rules(world)
    # and the record holds exactly the routes and rules through the peering configure made or kept
    if not world.record.down:
        routes = {OwnedRoute(HUB, REGION, t, d).sort_key for t, d in _routes_through(world)}
        assert world.record.holds("route") <= routes, "the record holds a route that is not there"
        made = {
            OwnedRoute(HUB, REGION, *c.split()[1:]).sort_key for c in changed if c.split()[0] in ("create", "replace")
        }
        assert made <= world.record.holds("route"), f"configure made {made} but the record does not hold them"


def _routes_through(world: World) -> set[tuple[str, str]]:
    return {
        (t["RouteTableId"], _destination(r))
        for t in world.tables
        for r in t["Routes"]
        if r.get("VpcPeeringConnectionId") == PID
    }


def _persons_through(world: World) -> set[tuple[str, str, str]]:
    """Routes through the peering the record does not hold: a person's."""
    held = world.record.holds("route")
    return {
        (table, destination, PID)
        for table, destination in _routes_through(world)
        if OwnedRoute(HUB, REGION, table, destination).sort_key not in held
    }


def _persons_marked_rules(world: World) -> set[tuple[str, str, str]]:
    """Marked rules the record does not hold: a person's."""
    held = world.record.holds("rule")
    mark = rule_description(PID)
    return {
        (g["GroupId"], str(p["IpProtocol"]), r["CidrIp"])
        for g in world.groups
        for p in g["IpPermissions"]
        for r in p.get("IpRanges", [])
        if r.get("Description") == mark
        and OwnedRule(
            HUB, REGION, g["GroupId"], Rule(str(p["IpProtocol"]), int(p["FromPort"]), int(p["ToPort"]), r["CidrIp"])
        ).sort_key
        not in held
    }


def _live_routes_elsewhere(world: World) -> set[tuple[str, str, str]]:
    return {
        (t["RouteTableId"], _destination(r), str(r.get("GatewayId") or r.get("VpcPeeringConnectionId")))
        for t in world.tables
        for r in t["Routes"]
        if r["State"] == "active" and r.get("VpcPeeringConnectionId") != PID
    }


def test_the_fake_refuses_a_duplicate_route_as_ec2_does() -> None:
    world = World(
        MEMBER, ACTIVE, [PEER_PRIMARY], {}, [{"RouteTableId": "rtb-0", "VpcId": "vpc-a", "Routes": []}], [], {}
    )
    ec2 = world.ec2(HUB, REGION)
    ec2.create_route("rtb-0", PEER_PRIMARY, PID)
    try:
        ec2.create_route("rtb-0", PEER_PRIMARY, PID)
    except AlreadyPresentError as e:
        assert e.code == "RouteAlreadyExists"
    else:
        raise AssertionError("a second route to the same destination must be refused")
