"""Convergence: whatever happens to the events and the calls on the way (throttling, a crash
halfway, duplicates, reordering, events lost altogether), the estate ends where a clean run ends
it, and a sweep over a converged estate changes nothing. State is read back from the emulator:
routes by table, rules by group, the peering's status and tags."""

from __future__ import annotations

import io
import itertools
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import botocore.endpoint
import botocore.loaders
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from autopilot_local.harness import Delivery, LocalAutopilot, LocalCloud
from autopilot_local.metering import count_calls
from autopilot_local.world import ENABLED, Network, build_network
from tests.support.domain import ec2_error
from tests.support.faults import record_backoff
from tests.support.world import (
    HUB,
    MEMBER,
    OTHER_REGION,
    OUTSIDER,
    REGION,
    ApiCalls,
    Net,
    Side,
    build_net,
    hub_parameters,
    make_vpc,
    request_peering,
    tags_of,
)

STATUS = "peering-autopilot:status"
MARK = "peering-autopilot {pcx}"  # the autopilot's rule description, with the peering id as {pcx}
PEERING = "this peering"  # a route's target, when it is the peering under test


# ---------------------------------------------------------------------------------------- views
@dataclass(frozen=True)
class View:
    """One VPC as the assertions read it: where it is, and a readable name for each route table."""

    account: str
    region: str
    vpc_id: str
    table_names: Mapping[str, str]  # route table id -> name

    @property
    def side(self) -> Side:
        return Side(self.account, self.region, self.vpc_id)


def view_of_network(cloud: LocalCloud, net: Network) -> View:
    """A VPC of autopilot_local.world: its main table, and the table of its one subnet."""
    ec2 = cloud.ec2(net.account, net.region)
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["RouteTables"]
    main = next(t["RouteTableId"] for t in tables if any(a.get("Main") for a in t.get("Associations", [])))
    return View(net.account, net.region, net.vpc_id, {main: "main", net.route_table_id: "subnet"})


def view_of_net(net: Net) -> View:
    """A VPC of test_configure_flow.build_net: main, two subnet tables, an excluded and a loose one."""
    names = {net.main_table: "main", net.excluded_table: "excluded", net.loose_table: "loose"}
    names.update(zip(net.subnet_tables, ("app", "data"), strict=True))
    return View(net.side.account, net.side.region, net.side.vpc_id, names)


def routes_by_table(cloud: LocalCloud, view: View, peering_id: str) -> dict[str, list[tuple[str, str]]]:
    """Every route of every table of the VPC as (destination, target), the peering under test named
    PEERING; a list, so that a duplicated route would show twice."""
    ec2 = cloud.ec2(view.account, view.region)
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [view.vpc_id]}])["RouteTables"]
    out: dict[str, list[tuple[str, str]]] = {}
    for table in tables:
        routes = []
        for route in table["Routes"]:
            destination = route.get("DestinationCidrBlock") or route["DestinationIpv6CidrBlock"]
            target = route.get("VpcPeeringConnectionId") or route.get("GatewayId") or "?"
            routes.append((destination, PEERING if target == peering_id else target))
        out[view.table_names.get(table["RouteTableId"], table["RouteTableId"])] = sorted(routes)
    return out


def rules_by_group(cloud: LocalCloud, view: View, peering_id: str) -> dict[str, list[tuple[str, int, int, str, str]]]:
    """Every ingress rule of every group of the VPC, by group name, as (protocol, from, to, block,
    description); the peering's id in a description written as {pcx}."""
    ec2 = cloud.ec2(view.account, view.region)
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [view.vpc_id]}])["SecurityGroups"]
    out: dict[str, list[tuple[str, int, int, str, str]]] = {}
    for group in groups:
        rules = []
        for p in group["IpPermissions"]:
            ranges = [(r["CidrIp"], r.get("Description", "")) for r in p.get("IpRanges", [])]
            ranges += [(r["CidrIpv6"], r.get("Description", "")) for r in p.get("Ipv6Ranges", [])]
            for block, description in ranges:
                rules.append(
                    (
                        p["IpProtocol"],
                        p.get("FromPort", -1),
                        p.get("ToPort", -1),
                        block,
                        description.replace(peering_id, "{pcx}") if peering_id else description,
                    )
                )
        out[group["GroupName"]] = sorted(rules)
    return out


def peering_status(cloud: LocalCloud, view: View, peering_id: str) -> str:
    ec2 = cloud.ec2(view.account, view.region)
    items = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])["VpcPeeringConnections"]
    return str(next(i for i in items if i["VpcPeeringConnectionId"] == peering_id)["Status"]["Code"])


def end_state(cloud: LocalCloud, requester: View, accepter: View, peering_id: str) -> dict[str, Any]:
    """Everything the autopilot may change, for both sides, free of ids that differ between runs."""
    return {
        "peering": peering_status(cloud, accepter, peering_id),
        "tags": {
            role: {
                key: value.replace(requester.side.vpc_id, "{requester-vpc}").replace(
                    accepter.side.vpc_id, "{accepter-vpc}"
                )
                for key, value in tags_of(cloud, view.side, peering_id).items()
            }
            for role, view in (("requester", requester), ("accepter", accepter))
        },
        "routes": {
            "requester": routes_by_table(cloud, requester, peering_id),
            "accepter": routes_by_table(cloud, accepter, peering_id),
        },
        "rules": {
            "requester": rules_by_group(cloud, requester, peering_id),
            "accepter": rules_by_group(cloud, accepter, peering_id),
        },
    }


def mutating(deliveries: list[Delivery]) -> dict[str, list[str]]:
    """The mutating EC2 calls of each delivery, by function and rule."""
    return {f"{d.function} via {d.rule}": d.calls.mutating() for d in deliveries}


def outcomes(deliveries: list[Delivery]) -> list[tuple[str, str]]:
    return [(d.function, d.result["status"]) for d in deliveries]


# ---------------------------------------------------------------------------------------- worlds
def world_pair(cloud: LocalCloud, a_cidr: str = "10.0.0.0/16", b_cidr: str = "10.1.0.0/16") -> tuple[View, View]:
    """The runbook's world: VPC-A in the hub, VPC-B in the member account, both opted in, each with a
    subnet, a route table, an instance and a group tagged peering-autopilot:allow=icmp."""
    a = build_network(cloud, Network("VPC-A", HUB, REGION, a_cidr, tags=dict(ENABLED)))
    b = build_network(cloud, Network("VPC-B", MEMBER, REGION, b_cidr, tags=dict(ENABLED)))
    return view_of_network(cloud, a), view_of_network(cloud, b)


def converged_world_state(a_cidr: str, b_cidr: str) -> dict[str, Any]:
    """The end state of a world_pair once peered and converged."""
    return {
        "peering": "active",
        "tags": {
            "requester": {STATUS: "verified", "Name": "VPC-A <-> VPC-B"},
            "accepter": {STATUS: "verified", "Name": "VPC-B <-> VPC-A"},
        },
        "routes": {
            "requester": {
                "main": sorted([(a_cidr, "local"), (b_cidr, PEERING)]),
                "subnet": sorted([(a_cidr, "local"), (b_cidr, PEERING)]),
            },
            "accepter": {
                "main": sorted([(b_cidr, "local"), (a_cidr, PEERING)]),
                "subnet": sorted([(b_cidr, "local"), (a_cidr, PEERING)]),
            },
        },
        "rules": {
            "requester": {"default": [], "VPC-A-app": [("icmp", -1, -1, b_cidr, MARK)]},
            "accepter": {"default": [], "VPC-B-app": [("icmp", -1, -1, a_cidr, MARK)]},
        },
    }


def local_autopilot(cloud: LocalCloud, **overrides: str) -> LocalAutopilot:
    """The hub stack deployed into `cloud`, as the autopilot_factory fixture does (which is bound
    to the in-process emulator; the server-mode tests need the same against the HTTP server)."""
    return LocalAutopilot(
        cloud,
        hub_parameters(**overrides),
        region=REGION,
        member_accounts=(MEMBER, OUTSIDER),
        log_stream=io.StringIO(),
    )


# ---------------------------------------------------------------------------------------- faults
class _Crash(Exception):
    """The function's process dies mid-call (a timeout, an out-of-memory kill): not a ClientError,
    so neither the gateway nor botocore's retries absorb it."""


@dataclass
class WireLog:
    """What reached the HTTP layer: every EC2 request (attempts, not calls: a retry counts again),
    as (operation, access key id of the credentials that signed it)."""

    sent: list[tuple[str, str]]
    answered_by_fault: list[tuple[str, str]]


Fault = Callable[[str, int], AWSResponse | None]  # (operation, n-th EC2 request) -> answer, None to send, or raise
Wire = Callable[[Fault], WireLog]


@pytest.fixture
def ec2_wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    """Put a fault on the wire for EC2, for EVERY client in the process.

    `botocore.endpoint.Endpoint._send` is where a prepared, signed request leaves for the network,
    after the before-send hooks and before the bytes are sent; its result goes through botocore's
    usual parsing and retry handling (`needs-retry`, then `botocore.endpoint.time.sleep`). Patching
    it on the class reaches every client whatever made it: the functions' own sessions, the
    member-role sessions AwsAccess creates and caches, sessions created before the patch, and
    clients made by code the test does not control. A `before-send` hook would have to be
    registered on each botocore session (patching Session.__init__ misses the sessions that already
    exist, and the runtime keeps them across invocations). In server mode nothing answered here
    ever reaches moto.

    The fault gets (operation, n): n counts the EC2 requests so far, from 1. It returns an
    AWSResponse to answer in the server's place, None to send the request, or raises. Installing
    another fault replaces it; the test's end restores botocore."""
    original = botocore.endpoint.Endpoint._send  # type: ignore[attr-defined]  # private: no stub

    def install(fault: Fault) -> WireLog:
        log = WireLog([], [])

        def send(self: botocore.endpoint.Endpoint, request: AWSPreparedRequest) -> Any:
            if self._endpoint_prefix != "ec2":  # type: ignore[attr-defined]
                return original(self, request)
            body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
            operation = parse_qs(body).get("Action", ["?"])[0]
            auth = request.headers.get("Authorization", "")
            auth = auth.decode() if isinstance(auth, bytes) else str(auth)
            signed_by = auth.split("Credential=")[-1].split("/")[0]
            log.sent.append((operation, signed_by))
            answer = fault(operation, len(log.sent))
            if answer is None:
                return original(self, request)
            log.answered_by_fault.append((operation, signed_by))
            return answer

        monkeypatch.setattr(botocore.endpoint.Endpoint, "_send", send)
        return log

    return install


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's back-off waits between attempts (`botocore.endpoint.time.sleep`), recorded
    instead of slept. `botocore.endpoint.time` IS the time module: setting its `sleep` would stop
    every sleep in the process (the moto server's threads included) and record them too, so the
    module's name in botocore.endpoint is pointed at a recording stand-in instead."""
    return record_backoff(monkeypatch)


# ---------------------------------------------------------------------------------------- 1. throttling
def test_a_cross_account_request_converges_while_a_third_of_ec2_calls_are_throttled(
    server_cloud: LocalCloud,
    ec2_wire: Wire,
    waits: list[float],
) -> None:
    # GIVEN the runbook's world across accounts, in moto's server, and a request made by a person
    cloud = server_cloud
    a, b = world_pair(cloud)
    autopilot = local_autopilot(cloud)  # deploys the hub's bus itself
    peering_id = request_peering(cloud, a.side, b.side)
    # ... and EC2 answering every third request (the 1st, 4th, 7th, ...) with RequestLimitExceeded
    throttle = ec2_error(503, "RequestLimitExceeded", "Request limit exceeded.")
    wire = ec2_wire(lambda operation, n: throttle if n % 3 == 1 else None)

    # WHEN the automation runs, and the sweep after it
    with count_calls() as calls:
        delivered = autopilot.run_until_idle()
        swept = autopilot.tick()
    ec2_wire(lambda operation, n: None)  # the fault off: the assertions read the emulator as it is

    # THEN the retries alone carried the whole pipeline through, and the sweep found nothing left
    assert outcomes(delivered) == [
        ("AcceptPeeringFunction", "accepted"),
        ("ConfigurePeeringFunction", "configured"),
        ("VerifyPeeringFunction", "verified"),
    ]
    assert outcomes(swept) == [("SweepFunction", "sweep")]
    assert swept[0].result["work"] == {}
    assert end_state(cloud, a, b, peering_id) == converged_world_state("10.0.0.0/16", "10.1.0.0/16")
    # ... a third of the EC2 requests were throttled, each retried once after a back-off wait
    assert len(wire.answered_by_fault) * 3 >= len(wire.sent)
    assert len(wire.answered_by_fault) >= 10
    ec2_calls = [op for service, op in calls.calls if service == "ec2"]
    assert len(ec2_calls) + len(wire.answered_by_fault) == len(wire.sent)
    assert len(waits) == len(wire.answered_by_fault)
    assert sum(waits) > 0
    # ... on every client: the hub's own session and the member-role sessions the functions assumed
    signers = {signed_by for _, signed_by in wire.answered_by_fault}
    assert "testing" in signers and len(signers) > 1
    assert {"CreateRoute", "AuthorizeSecurityGroupIngress", "CreateTags"} <= {op for op, _ in wire.answered_by_fault}


# ---------------------------------------------------------------------------------------- 2. a crash halfway
def net_pair(cloud: LocalCloud, a_cidr: str = "10.0.0.0/16", b_cidr: str = "10.1.0.0/16") -> tuple[View, View]:
    """VPC-A in the hub, VPC-B in the member account, each with a main table, two subnet tables
    (app, data), one excluded by tag and one loose table; a group tagged allow=icmp,tcp:443 (app)
    and an untagged one (db)."""
    a = build_net(cloud, HUB, REGION, a_cidr)
    b = build_net(cloud, MEMBER, REGION, b_cidr)
    return view_of_net(a), view_of_net(b)


def configured_net_state(a_cidr: str, b_cidr: str, status: str = "verified") -> dict[str, Any]:
    """The end state of a net_pair once peered and converged: three managed tables a side."""

    def tables(own: str, peer: str) -> dict[str, list[tuple[str, str]]]:
        managed = sorted([(own, "local"), (peer, PEERING)])
        return {
            "main": managed,
            "app": managed,
            "data": managed,
            "excluded": [(own, "local")],
            "loose": [(own, "local")],
        }

    def groups(peer: str) -> dict[str, list[tuple[str, int, int, str, str]]]:
        return {
            "default": [],
            "db": [],
            "app": [("icmp", -1, -1, peer, MARK), ("tcp", 443, 443, peer, MARK)],
        }

    return {
        "peering": "active",
        "tags": {
            "requester": {STATUS: status, "Name": "{requester-vpc} <-> {accepter-vpc}"},
            "accepter": {STATUS: status, "Name": "{accepter-vpc} <-> {requester-vpc}"},
        },
        "routes": {"requester": tables(a_cidr, b_cidr), "accepter": tables(b_cidr, a_cidr)},
        "rules": {"requester": groups(b_cidr), "accepter": groups(a_cidr)},
    }


def local_only(own: str) -> dict[str, list[tuple[str, str]]]:
    """The tables of a net_pair VPC with nothing routed through any peering."""
    return {name: [(own, "local")] for name in ("main", "app", "data", "excluded", "loose")}


def through_peering(routes: Mapping[str, list[tuple[str, str]]]) -> dict[str, list[str]]:
    return {table: [d for d, target in found if target == PEERING] for table, found in routes.items()}


@pytest.mark.parametrize("recovery", ["redelivery", "next sweep"])
def test_a_configure_step_that_dies_halfway_is_finished_by_the_next_delivery_or_sweep(
    server_cloud: LocalCloud,
    ec2_wire: Wire,
    recovery: str,
) -> None:
    # GIVEN three managed route tables a side, in moto's server, and a request made by a person
    cloud = server_cloud
    a, b = net_pair(cloud)
    autopilot = local_autopilot(cloud)
    peering_id = request_peering(cloud, a.side, b.side)
    # ... and the configure function's process dying on its second CreateRoute, before it is sent
    create_routes = itertools.count(1)

    def crash_once(operation: str, n: int) -> AWSResponse | None:
        if operation == "CreateRoute" and next(create_routes) == 2:
            raise _Crash("the function's container died during CreateRoute")
        return None

    wire = ec2_wire(crash_once)

    # WHEN the automation runs: accepted, then the configure step dies (Lambda would retry the event)
    with pytest.raises(_Crash, match="died during CreateRoute"):
        autopilot.run_until_idle()

    # THEN it died after the first route of the requester's three, with nothing else done
    assert wire.answered_by_fault == []
    assert [op for op, _ in wire.sent].count("CreateRoute") == 2
    # (tables are configured in id order, and ids are random: which managed table got it varies)
    routed_a = {t: d for t, d in through_peering(routes_by_table(cloud, a, peering_id)).items() if d}
    assert list(routed_a.values()) == [["10.1.0.0/16"]]
    assert set(routed_a) <= {"main", "app", "data"}
    assert through_peering(routes_by_table(cloud, b, peering_id)) == {
        "main": [],
        "app": [],
        "data": [],
        "excluded": [],
        "loose": [],
    }
    assert rules_by_group(cloud, a, peering_id)["app"] == []
    assert rules_by_group(cloud, b, peering_id)["app"] == []
    assert tags_of(cloud, a.side, peering_id) == {}
    assert tags_of(cloud, b.side, peering_id) == {STATUS: "accepted"}

    # WHEN the event is delivered again, or the next sweep runs instead
    if recovery == "redelivery":
        [accepted] = [e for e in autopilot.published if e["detail-type"] == "Peering Accepted"]
        autopilot.put(accepted, via="Lambda's retry of the async invocation")
        recovered = autopilot.run_until_idle()
        assert outcomes(recovered) == [
            ("ConfigurePeeringFunction", "configured"),
            ("VerifyPeeringFunction", "verified"),
        ]
    else:
        recovered = autopilot.tick()
        assert outcomes(recovered) == [
            ("SweepFunction", "sweep"),
            ("ConfigurePeeringFunction", "configured"),
            ("VerifyPeeringFunction", "verified"),
        ]
        assert recovered[0].result["work"] == {"configure": 1}

    # THEN every managed table has its route once (the one made before the crash not made again)
    [configuring] = [d for d in recovered if d.function == "ConfigurePeeringFunction"]
    assert configuring.calls.by_action()["CreateRoute"] == 5
    assert end_state(cloud, a, b, peering_id) == configured_net_state("10.0.0.0/16", "10.1.0.0/16")

    # WHEN a further sweep runs, THEN it finds nothing and changes nothing
    again = autopilot.tick()
    assert outcomes(again) == [("SweepFunction", "sweep")]
    assert mutating(again) == {"SweepFunction via SweepFunction.Schedule": []}
    assert end_state(cloud, a, b, peering_id) == configured_net_state("10.0.0.0/16", "10.1.0.0/16")


# ---------------------------------------------------------------------------------------- 3. duplicates, reordering
def trail_events(cloud: LocalCloud) -> list[dict[str, Any]]:
    """What CloudTrail recorded so far, taken off the trail: the test delivers it, in its order."""
    events = list(cloud.trail)
    cloud.trail.clear()
    return events


def event_names(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail"]["eventName"] for e in events]


def clean_run(cloud: LocalCloud, autopilot: LocalAutopilot, *, delete: bool = False) -> dict[str, Any]:
    """The same scenario with every event delivered once, in order: the state to end in."""
    a, b = net_pair(cloud)
    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    if delete:
        cloud.ec2(HUB, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
        autopilot.run_until_idle()
    return end_state(cloud, a, b, peering_id)


@pytest.mark.parametrize("when", ["back to back", "after the first was handled"])
def test_the_same_request_event_delivered_twice_ends_as_a_clean_run(
    cloud: LocalCloud, autopilot_factory: Any, when: str
) -> None:
    # GIVEN the state a clean run ends in, and the same world built again
    autopilot = autopilot_factory()
    clean = clean_run(cloud, autopilot)
    assert clean == configured_net_state("10.0.0.0/16", "10.1.0.0/16")
    a, b = net_pair(cloud)

    # WHEN a person's request is delivered twice (EventBridge delivers at least once)
    peering_id = request_peering(cloud, a.side, b.side)
    [created] = trail_events(cloud)
    autopilot.put(created)
    if when == "back to back":
        autopilot.put(created)
        deliveries = autopilot.run_until_idle()
    else:
        deliveries = autopilot.run_until_idle()
        autopilot.put(created)
        deliveries += autopilot.run_until_idle()

    # THEN the second copy is seen to be decided already and changes nothing
    assert sorted(outcomes(deliveries)) == [
        ("AcceptPeeringFunction", "accepted"),
        ("AcceptPeeringFunction", "skipped"),
        ("ConfigurePeeringFunction", "configured"),
        ("VerifyPeeringFunction", "verified"),
    ]
    [duplicate] = [d for d in deliveries if d.result["status"] == "skipped"]
    assert duplicate.calls.mutating() == []
    assert end_state(cloud, a, b, peering_id) == clean


def test_a_persons_accept_delivered_before_the_request_ends_as_a_clean_run(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the state a clean run ends in, and the same world built again
    autopilot = autopilot_factory()
    clean = clean_run(cloud, autopilot)
    a, b = net_pair(cloud)
    # ... where a person requests the peering and a person in the member account accepts it
    peering_id = request_peering(cloud, a.side, b.side)
    cloud.ec2(MEMBER, REGION, record=True).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    events = trail_events(cloud)
    assert event_names(events) == ["CreateVpcPeeringConnection", "AcceptVpcPeeringConnection"]

    # WHEN CloudTrail's events reach the hub in reverse order
    for event in reversed(events):
        autopilot.put(event)
    deliveries = autopilot.run_until_idle()

    # THEN the accept configures, the late request finds nothing to decide, and the end is the same
    assert [(d.function, d.rule, d.result["status"]) for d in deliveries] == [
        ("ConfigurePeeringFunction", "ConfigurePeeringFunction.AcceptedByPerson", "configured"),
        ("AcceptPeeringFunction", "AcceptPeeringFunction.PeeringRequested", "skipped"),
        ("VerifyPeeringFunction", "VerifyPeeringFunction.Configured", "verified"),
    ]
    assert deliveries[1].calls.mutating() == []
    assert end_state(cloud, a, b, peering_id) == clean


def network_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """What (c) compares with the clean run: routes by table, rules by group, the peering's status."""
    return {key: state[key] for key in ("peering", "routes", "rules")}


DELETED_NET_STATE = {
    "peering": "deleted",
    "routes": {"requester": local_only("10.0.0.0/16"), "accepter": local_only("10.1.0.0/16")},
    "rules": {side: {"default": [], "db": [], "app": []} for side in ("requester", "accepter")},
}


def test_an_accept_event_that_arrives_only_after_the_delete_adds_nothing(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the state a clean run ends in: requested, accepted, configured, then deleted and cleaned up
    autopilot = autopilot_factory()
    clean = clean_run(cloud, autopilot, delete=True)
    assert network_state(clean) == DELETED_NET_STATE
    # ... and the same world, where the request is accepted but its "Peering Accepted" is held up
    a, b = net_pair(cloud)
    peering_id = request_peering(cloud, a.side, b.side)
    [create] = trail_events(cloud)
    [accept_function] = [f for f in autopilot.functions if f.spec.logical_id == "AcceptPeeringFunction"]
    assert accept_function.invoke(create)["status"] == "accepted"  # published; not yet delivered

    # WHEN the peering is deleted, and its Delete event is delivered before the older Accept event
    cloud.ec2(HUB, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    deliveries = autopilot.run_until_idle()

    # THEN the clean-up finds nothing, the late accept finds a deleted peering, and nothing is added
    assert [(d.function, d.event["detail-type"], d.result["status"]) for d in deliveries] == [
        ("CleanupPeeringFunction", "AWS API Call via CloudTrail", "nothing-to-clean"),
        ("ConfigurePeeringFunction", "Peering Accepted", "skipped"),
    ]
    assert mutating(deliveries) == {
        "CleanupPeeringFunction via CleanupPeeringFunction.PeeringEnded": [],
        "ConfigurePeeringFunction via ConfigurePeeringFunction.AcceptedByAutopilot": [],
    }
    # (the status tags differ, and should: this peering was never configured, so never verified)
    assert network_state(end_state(cloud, a, b, peering_id)) == network_state(clean)
    assert tags_of(cloud, b.side, peering_id) == {STATUS: "accepted"}


@pytest.mark.parametrize(
    "accepted_by",
    [
        pytest.param("autopilot", id="the autopilot's Peering Accepted"),
        pytest.param("person", id="a person's AcceptVpcPeeringConnection"),
    ],
)
def test_an_accept_event_redelivered_after_the_delete_re_adds_nothing(
    cloud: LocalCloud, autopilot_factory: Any, accepted_by: str
) -> None:
    # GIVEN the state a clean run ends in: requested, accepted, configured, then deleted and cleaned up
    autopilot = autopilot_factory()
    clean = clean_run(cloud, autopilot, delete=True)
    assert network_state(clean) == DELETED_NET_STATE
    # ... and the same world, configured after an accept by the autopilot or by a person
    a, b = net_pair(cloud)
    peering_id = request_peering(cloud, a.side, b.side)
    if accepted_by == "person":
        cloud.ec2(MEMBER, REGION, record=True).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    [create, *accept] = trail_events(cloud)
    for event in (create, *accept):
        autopilot.put(event)
    autopilot.run_until_idle()
    assert end_state(cloud, a, b, peering_id) == configured_net_state("10.0.0.0/16", "10.1.0.0/16")
    if accepted_by == "autopilot":
        [late] = [
            e
            for e in autopilot.published
            if e["detail-type"] == "Peering Accepted" and e["detail"]["peeringId"] == peering_id
        ]
    else:
        [late] = accept

    # WHEN the peering is deleted, its Delete event handled, and then the older Accept event comes again
    cloud.ec2(HUB, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    [deleted] = trail_events(cloud)
    autopilot.put(deleted)
    cleaned = autopilot.run_until_idle()
    autopilot.put(late, via="a late redelivery")
    after = autopilot.run_until_idle()

    # THEN the clean-up removed the routes and the autopilot's rules on both sides, the late accept
    # found a deleted peering and changed nothing, and the end is the clean run's
    assert outcomes(cleaned) == [("CleanupPeeringFunction", "cleaned-up")]
    assert outcomes(after) == [("ConfigurePeeringFunction", "skipped")]
    assert mutating(after) == {f"ConfigurePeeringFunction via {after[0].rule}": []}
    assert end_state(cloud, a, b, peering_id) == clean  # the status tags too: the last verdict stays


# ---------------------------------------------------------------------------------------- 4. every event lost
def test_a_peering_made_by_hand_with_every_event_lost_is_configured_by_one_sweep(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the runbook's world, and a peering requested and accepted by hand; no event reaches the hub
    a, b = world_pair(cloud)
    autopilot = autopilot_factory()
    peering_id = request_peering(cloud, a.side, b.side)
    cloud.ec2(MEMBER, REGION, record=True).accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert event_names(trail_events(cloud)) == ["CreateVpcPeeringConnection", "AcceptVpcPeeringConnection"]

    # WHEN the sweep runs once
    deliveries = autopilot.tick()

    # THEN it finds the work and the functions it hands it to converge both sides
    assert outcomes(deliveries) == [
        ("SweepFunction", "sweep"),
        ("ConfigurePeeringFunction", "configured"),
        ("VerifyPeeringFunction", "verified"),
    ]
    assert deliveries[0].result == {"status": "sweep", "places": 4, "work": {"configure": 1}, "problems": []}
    assert end_state(cloud, a, b, peering_id) == converged_world_state("10.0.0.0/16", "10.1.0.0/16")


def test_a_pending_request_whose_events_were_lost_is_accepted_by_one_sweep(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the runbook's world, and a request whose event never reached the hub
    a, b = world_pair(cloud)
    autopilot = autopilot_factory()
    peering_id = request_peering(cloud, a.side, b.side)
    trail_events(cloud)
    assert peering_status(cloud, b, peering_id) == "pending-acceptance"

    # WHEN the sweep runs once
    deliveries = autopilot.tick()

    # THEN the request is decided, accepted, configured and verified
    assert outcomes(deliveries) == [
        ("SweepFunction", "sweep"),
        ("AcceptPeeringFunction", "accepted"),
        ("ConfigurePeeringFunction", "configured"),
        ("VerifyPeeringFunction", "verified"),
    ]
    assert deliveries[0].result["work"] == {"accept": 1}
    assert end_state(cloud, a, b, peering_id) == converged_world_state("10.0.0.0/16", "10.1.0.0/16")


def test_a_peering_deleted_with_its_events_lost_is_cleaned_up_by_one_sweep_and_a_persons_rule_stays(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the runbook's world, peered and converged through events
    a, b = world_pair(cloud)
    autopilot = autopilot_factory()
    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    assert end_state(cloud, a, b, peering_id) == converged_world_state("10.0.0.0/16", "10.1.0.0/16")
    # ... rules a person wrote in the same allow-tagged groups for the peer's bastion: ssh, and a ping
    # that shares its permission (protocol icmp) with the autopilot's own rule
    for view, bastion in ((a, "10.1.1.10/32"), (b, "10.0.1.10/32")):
        ec2 = cloud.ec2(view.account, view.region)
        [group] = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [view.vpc_id]}, {"Name": "group-name", "Values": ["VPC-*-app"]}]
        )["SecurityGroups"]
        ec2.authorize_security_group_ingress(
            GroupId=group["GroupId"],
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": bastion, "Description": "ssh from bastion"}],
                },
                {
                    "IpProtocol": "icmp",
                    "FromPort": -1,
                    "ToPort": -1,
                    "IpRanges": [{"CidrIp": bastion, "Description": "ping from bastion"}],
                },
            ],
        )
    # ... and the peering deleted by hand, the event lost
    cloud.ec2(HUB, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert event_names(trail_events(cloud)) == ["DeleteVpcPeeringConnection"]

    # WHEN the sweep runs once
    deliveries = autopilot.tick()

    # THEN the peering's routes and the autopilot's rules are gone on both sides; the person's rule stays
    assert outcomes(deliveries) == [("SweepFunction", "sweep"), ("CleanupPeeringFunction", "cleaned-up")]
    assert deliveries[0].result["work"] == {"clean-up": 1}
    state = end_state(cloud, a, b, peering_id)
    assert state["peering"] == "deleted"
    assert state["routes"] == {
        "requester": {"main": [("10.0.0.0/16", "local")], "subnet": [("10.0.0.0/16", "local")]},
        "accepter": {"main": [("10.1.0.0/16", "local")], "subnet": [("10.1.0.0/16", "local")]},
    }
    assert state["rules"] == {
        "requester": {
            "default": [],
            "VPC-A-app": [
                ("icmp", -1, -1, "10.1.1.10/32", "ping from bastion"),
                ("tcp", 22, 22, "10.1.1.10/32", "ssh from bastion"),
            ],
        },
        "accepter": {
            "default": [],
            "VPC-B-app": [
                ("icmp", -1, -1, "10.0.1.10/32", "ping from bastion"),
                ("tcp", 22, 22, "10.0.1.10/32", "ssh from bastion"),
            ],
        },
    }
    # ... and the next sweep finds nothing more
    again = autopilot.tick()
    assert outcomes(again) == [("SweepFunction", "sweep")]
    assert mutating(again) == {"SweepFunction via SweepFunction.Schedule": []}


def forget_peering(peering_id: str) -> None:
    """EC2 lists a deleted peering only for a while, then forgets it: drop it from moto's backends
    (the in-process emulator), in every account and region that held it."""
    from moto.ec2.models import ec2_backends

    for account in ec2_backends.values():
        for backend in account.values():
            backend.vpc_pcxs.pop(peering_id, None)


def end_state_without_peering(cloud: LocalCloud, requester: View, accepter: View, peering_id: str) -> dict[str, Any]:
    """end_state() for a peering EC2 no longer knows: routes and rules only."""
    return {
        "routes": {
            "requester": routes_by_table(cloud, requester, peering_id),
            "accepter": routes_by_table(cloud, accepter, peering_id),
        },
        "rules": {
            "requester": rules_by_group(cloud, requester, peering_id),
            "accepter": rules_by_group(cloud, accepter, peering_id),
        },
    }


def test_leftovers_of_a_peering_ec2_no_longer_lists_are_cleaned_up_by_one_sweep(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the runbook's world, peered and converged through events
    a, b = world_pair(cloud)
    autopilot = autopilot_factory()
    peering_id = request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    # ... then deleted with the event lost, and gone from EC2's listings before any sweep ran
    cloud.ec2(HUB, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    trail_events(cloud)
    forget_peering(peering_id)

    # WHEN the sweep runs once
    deliveries = autopilot.tick()

    # THEN each account finds the routes that lead nowhere (neither sees the peering any more, so
    # each cleans its own side), and they and the autopilot's rules are removed
    assert outcomes(deliveries) == [
        ("SweepFunction", "sweep"),
        ("CleanupPeeringFunction", "cleaned-up"),
        ("CleanupPeeringFunction", "cleaned-up"),
    ]
    assert deliveries[0].result["work"] == {"clean-up": 2}
    state = end_state_without_peering(cloud, a, b, peering_id)
    assert state == {
        "routes": {
            "requester": {"main": [("10.0.0.0/16", "local")], "subnet": [("10.0.0.0/16", "local")]},
            "accepter": {"main": [("10.1.0.0/16", "local")], "subnet": [("10.1.0.0/16", "local")]},
        },
        "rules": {"requester": {"default": [], "VPC-A-app": []}, "accepter": {"default": [], "VPC-B-app": []}},
    }


# ---------------------------------------------------------------------------------------- 5. a converged estate
def view_of(side: Side) -> View:
    return View(side.account, side.region, side.vpc_id, {})


def estate_state(cloud: LocalCloud, vpcs: Mapping[str, Side], peerings: Mapping[str, str]) -> dict[str, Any]:
    """Routes and rules of every VPC; status and tags of every peering, on both sides."""
    return {
        "vpcs": {
            name: (routes_by_table(cloud, view_of(side), ""), rules_by_group(cloud, view_of(side), ""))
            for name, side in vpcs.items()
        },
        "peerings": {
            pair: (
                peering_status(cloud, view_of(vpcs[pair[2]]), pid),
                tags_of(cloud, vpcs[pair[0]], pid),
                tags_of(cloud, vpcs[pair[2]], pid),
            )
            for pair, pid in peerings.items()
        },
    }


def test_a_sweep_over_a_converged_estate_makes_no_mutating_call(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN an estate the autopilot converged through its events: A and B with every kind of table and
    # group, C to be deleted, D not opted in, E's blocks overlapping A's, F in another region
    autopilot = autopilot_factory()
    vpcs = {
        "A": build_net(cloud, HUB, REGION, "10.0.0.0/16", allow="icmp,tcp:443,tcp:99999").side,  # one bad entry
        "B": build_net(cloud, MEMBER, REGION, "10.1.0.0/16").side,
        "C": make_vpc(cloud, MEMBER, REGION, "10.2.0.0/16"),
        "D": make_vpc(cloud, MEMBER, REGION, "10.3.0.0/16", opted_in=False),
        "E": make_vpc(cloud, HUB, REGION, "10.4.0.0/16", secondary=("10.0.128.0/20",)),
        "F": make_vpc(cloud, HUB, OTHER_REGION, "10.5.0.0/16"),
    }
    pairs = [
        "A-B",  # across accounts: partially configured (A's bad allow entry), then verified
        "A-C",  # across accounts: deleted below, and cleaned up
        "D-A",  # from a VPC not opted in: configured on A's side only
        "E-A",  # overlapping blocks: declined, left pending
        "A-F",  # across regions
    ]
    peerings = {pair: request_peering(cloud, vpcs[pair[0]], vpcs[pair[2]]) for pair in pairs}
    autopilot.run_until_idle()
    cloud.ec2(HUB, REGION, record=True).delete_vpc_peering_connection(VpcPeeringConnectionId=peerings["A-C"])
    autopilot.run_until_idle()
    assert {
        pair: (peering_status(cloud, view_of(vpcs[pair[2]]), pid), tags_of(cloud, vpcs[pair[2]], pid).get(STATUS))
        for pair, pid in peerings.items()
    } == {
        "A-B": ("active", "verified"),
        "A-C": ("deleted", "unverified:no-endpoint"),
        "D-A": ("active", "unverified:no-endpoint"),
        "E-A": ("pending-acceptance", "declined:ipv4-overlap"),
        "A-F": ("active", "unverified:no-endpoint"),
    }
    before = estate_state(cloud, vpcs, peerings)

    # WHEN the sweep runs
    deliveries = autopilot.tick()

    # THEN it reads every managed account and region, finds nothing to do, and changes nothing
    assert outcomes(deliveries) == [("SweepFunction", "sweep")]
    # (It is the places' first full read: adoption finds nothing to adopt, configure recorded it all.)
    assert deliveries[0].result == {"status": "sweep", "places": 4, "work": {}, "problems": []}
    assert [d.calls.mutating() for d in deliveries] == [[]]
    assert estate_state(cloud, vpcs, peerings) == before


# ---------------------------------------------------------------------------------------- 6. its own echo
def test_the_autopilots_own_calls_come_back_through_cloudtrail_and_trigger_nothing(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN a cross-account request a person sends
    autopilot = autopilot_factory()
    a, b = net_pair(cloud)
    peering_id = request_peering(cloud, a.side, b.side)

    # WHEN the autopilot accepts it, through the member role in the accepter's account
    deliveries = autopilot.run_until_idle()

    # THEN CloudTrail recorded that accept in the member account with the member role's identity
    [accept] = [e for e in cloud.history if e["detail"]["eventName"] == "AcceptVpcPeeringConnection"]
    identity = accept["detail"]["userIdentity"]
    assert (accept["account"], identity["type"]) == (MEMBER, "AssumedRole")
    assert (
        identity["sessionContext"]["sessionIssuer"]["arn"]
        == f"arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember-accepter"
    )
    assert identity["arn"] == f"arn:aws:sts::{MEMBER}:assumed-role/PeeringAutopilotMember-accepter/peering-autopilot"
    # ... and the echo, forwarded to the hub like anyone's call, triggered no function
    assert [d.rule for d in deliveries if d.event is accept] == []
    assert outcomes(deliveries) == [
        ("AcceptPeeringFunction", "accepted"),
        ("ConfigurePeeringFunction", "configured"),
        ("VerifyPeeringFunction", "verified"),
    ]
    assert end_state(cloud, a, b, peering_id) == configured_net_state("10.0.0.0/16", "10.1.0.0/16")


def test_an_accept_by_a_hub_function_is_recorded_with_its_execution_role(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    autopilot = autopilot_factory()
    a = build_net(cloud, HUB, REGION, "10.0.0.0/16")
    b = build_net(cloud, HUB, REGION, "10.1.0.0/16")
    request_peering(cloud, a.side, b.side)

    deliveries = autopilot.run_until_idle()

    [accept] = [e for e in cloud.history if e["detail"]["eventName"] == "AcceptVpcPeeringConnection"]
    issuer = accept["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
    assert issuer == f"arn:aws:iam::{HUB}:role/peering-autopilot/peering-autopilot-AcceptPeeringFunctionRole-LOCAL0000"
    assert [d.function for d in deliveries] == [
        "AcceptPeeringFunction",
        "ConfigurePeeringFunction",
        "VerifyPeeringFunction",
    ]


def test_an_echo_that_reaches_a_function_anyway_is_ignored_without_an_aws_call(
    cloud: LocalCloud, autopilot_factory: Any, api_calls: ApiCalls
) -> None:
    # GIVEN the autopilot's own accept, as CloudTrail recorded it (the rule would have dropped it)
    autopilot = autopilot_factory()
    a, b = net_pair(cloud)
    request_peering(cloud, a.side, b.side)
    autopilot.run_until_idle()
    [accept] = [e for e in cloud.history if e["detail"]["eventName"] == "AcceptVpcPeeringConnection"]
    configure = next(f for f in autopilot.functions if f.spec.logical_id == "ConfigurePeeringFunction")
    api_calls.clear()

    # WHEN it is handed to the configure function directly (a rule edited by hand, a replay)
    result = configure.invoke(accept)

    # THEN the function sees its own call and does nothing
    assert result == {
        "status": "ignored",
        # another function's member role (accept's): the configure function knows it as its own too
        "reason": f"the call was the autopilot's own (arn:aws:iam::{MEMBER}:role/PeeringAutopilotMember-accepter)",
    }
    assert api_calls.calls == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_delivery_twice_and_in_a_shuffled_order_ends_as_a_clean_run(
    cloud: LocalCloud, autopilot_factory: Any, seed: int
) -> None:
    # GIVEN EventBridge delivering at least once and in no order: each delivery twice, shuffled
    autopilot = autopilot_factory()
    autopilot.redeliver = lambda event, rule: 1
    autopilot.shuffle = random.Random(seed)
    a, b = net_pair(cloud)

    # WHEN a person requests a peering and everything runs until nothing is pending
    peering_id = request_peering(cloud, a.side, b.side)
    deliveries = autopilot.run_until_idle()

    # THEN every delivery came twice, and the estate is where a clean run leaves it
    by_rule = Counter(d.rule for d in deliveries)
    assert by_rule["AcceptPeeringFunction.PeeringRequested"] == 2
    assert all(count % 2 == 0 for count in by_rule.values()), by_rule
    assert end_state(cloud, a, b, peering_id) == configured_net_state("10.0.0.0/16", "10.1.0.0/16")
