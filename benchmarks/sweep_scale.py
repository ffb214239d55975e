"""How the sweep's cost grows with the estate: AWS API calls, wall time and peak memory for 10, 100 and 1,000 peerings,
beside a naive per-peering detector.

Calls are the headline: EC2 throttles per account and per action (RequestLimitExceeded), and a sweep runs on a
schedule in every managed account and region. The autopilot's sweep (peering_autopilot.sweep.sweep) reads each resource
type once per account and region (paginated, filtered); its reads should grow with pages, not with peerings. The naive
approach, written below as the comparison (naive_detect: NOT the autopilot's code), checks peering by peering: one
DescribeVpcPeeringConnections by id, one DescribeVpcs per side, one DescribeRouteTables per route table, one
DescribeSecurityGroups per group. Its reads grow with peerings x tables.

The estate, in an in-process moto (mock_aws: no server, no network, fake credentials):
  hub account 123456789012 and approved member account 222222222222, both us-east-1, the hub's event bus;
  N pairs of VPCs, hub VPC i 10.a.b.0/20 <-> member VPC i 100.(64+a).b.0/20 (distinct, non-overlapping blocks),
  each tagged peering-autopilot:enabled=true, with its main route table plus one table associated with a subnet
  (the VPC's first /24), and one security group tagged peering-autopilot:allow=icmp;
  a peering requested from the hub VPC and accepted from the member account (autopilot_local.harness.LocalCloud).

Two scenarios per size, each in its own fresh estate:
  converged    the routes (every table, peer block, through the peering) and the ingress rules (icmp from the peer
               block, description "peering-autopilot <pcx-id>") are added directly with boto3 before the sweep:
               the sweep must find no work and make no mutating EC2 call;
  all missing  the peerings are active but no route or rule exists yet: both detectors must find exactly the N
               peerings. Headline: the sweep's own detection cost (reads, plus one PutEvents per 10 work items).
               Then, reported apart, the cost of doing the work: configure_peering for each work item the sweep
               published (the hint a "Peering Work Found" event gives), with one AwsAccess as a warm Lambda container
               keeps. That cost is per peering by nature (EC2 has no batch route API), and a last sweep checks that
               nothing is left to do.

Counting: every botocore call made during a run (autopilot_local.metering.count_calls, BaseClient._make_api_call: one
entry per operation and per page). A paginated read's call count IS its page count. moto ignores MaxResults on these
reads (checked below on each estate), so every read here is one page; on AWS a read gives more pages as resources
exceed the page size, and the sweep's calls would grow with those pages, still not with peerings.

Warm runs: every measured run starts warm, as in a Lambda container that has run before: the sweep's AwsAccess has
assumed the member role and loaded botocore's models, the naive detector gets its two clients made. The cold start
(1 sts AssumeRole per member account, and botocore's models loaded per session) is measured once and shown apart.

Time and memory: the sweep and the naive detector only read (the sweep also publishes), so each is run twice on the
same estate: once for calls and wall time, once under tracemalloc for the peak of memory allocated during the run.
The work (configure) changes the estate and runs once, untimed by tracemalloc: calls and wall time only. moto runs in
this process, so times and memory include the emulator's own work (filtering, building and parsing XML responses);
the time spent inside API calls is shown apart, the rest being the caller's own work. The figures compare the two
approaches; they do not predict AWS latencies.

Emulator speed-up: moto finds each EC2 resource's tags by scanning every tag of the account, so describing N tagged
resources is quadratic in the estate (minutes per sweep at 1,000 peerings, in moto only). index_moto_tags() replaces
that lookup, in this process only, with a direct one returning the same list, checked against moto's own scan on a
sample of every estate; --moto-tag-scan keeps moto's own. Calls are the same either way; only the times change.
Run time: about 12.5 minutes for the default sizes on 2 cores, over 90% of it at 1,000 peerings (each estate about
1 minute to build, each scenario's sweep and naive detector about 3 minutes with their traced re-runs, the configure
work about 3 minutes).

The script exits non-zero, naming the check, if a converged sweep finds work or makes a mutating EC2 call, if an
all-missing sweep does not find exactly N configure work items, if the two detectors disagree, if a configure run
does not end "configured", or if the sweep after the work still finds work.

Usage: python benchmarks/sweep_scale.py [--sizes 10,100,1000] [--json] [--moto-tag-scan]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import botocore.client
from moto import mock_aws

from autopilot_local.harness import LocalCloud, use_fake_credentials
from autopilot_local.metering import CallLog, count_calls
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.configure import Outcome, configure_peering
from peering_autopilot.context import Context
from peering_autopilot.settings import Settings
from peering_autopilot.sweep import Work, sweep
from peering_autopilot.triggers import PeeringHint

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

HUB = "123456789012"
MEMBER = "222222222222"
REGION = "us-east-1"
BUS = "peering-autopilot-bus"
ENABLED_TAG = "peering-autopilot:enabled"
ALLOW_TAG = "peering-autopilot:allow"
ALLOW = "icmp"
MAX_PAIRS = 1024  # the member address plan (100.64.0.0/10 in /20 blocks) holds 1,024 VPCs
FILTER_VALUES = 200  # EC2's limit on values in one filter: the sweep reads route tables and groups per 200 VPCs
MiB = 1024 * 1024

CONVERGED = "converged"
MISSING = "all missing"
READS = ("DescribeVpcPeeringConnections", "DescribeVpcs", "DescribeRouteTables", "DescribeSecurityGroups")
OTHER = (("sts", "AssumeRole"), ("events", "PutEvents"))
# How each action's count grows, for the sweep and for the naive detector.
SWEEP_GROWTH = {
    "DescribeVpcPeeringConnections": "pages, 1 read per account",
    "DescribeVpcs": "pages, 1 read per account (opted-in filter)",
    "DescribeRouteTables": f"pages, 1 read per account per {FILTER_VALUES} VPCs",
    "DescribeSecurityGroups": f"pages, 1 read per account per {FILTER_VALUES} VPCs",
    "sts AssumeRole": "0 warm (cached); cold: 1 per member account",
    "events PutEvents": "work items / 10",
}
NAIVE_GROWTH = {
    "DescribeVpcPeeringConnections": "1 per peering",
    "DescribeVpcs": "1 per side: 2 per peering",
    "DescribeRouteTables": "1 per table: peerings x tables (4)",
    "DescribeSecurityGroups": "1 per group: 2 per peering",
}


# ------------------------------------------------------------------------------------------------------------- world
@dataclass
class Net:
    account: str
    cidr: str
    vpc_id: str = ""
    tables: list[str] = field(default_factory=list)  # the main table first, then the subnet's table
    group_id: str = ""


@dataclass
class Pair:
    hub: Net
    member: Net
    peering_id: str = ""


@dataclass
class Estate:
    pairs: list[Pair]
    build_seconds: float = 0.0
    build_calls: int = 0
    converge_seconds: float = 0.0
    converge_calls: int = 0

    def peering_ids(self) -> frozenset[str]:
        return frozenset(p.peering_id for p in self.pairs)


def hub_cidr(index: int) -> str:
    return f"10.{index // 16}.{(index % 16) * 16}.0/20"


def member_cidr(index: int) -> str:
    return f"100.{64 + index // 16}.{(index % 16) * 16}.0/20"


def tagged(resource_type: str, key: str, value: str) -> Any:
    return [{"ResourceType": resource_type, "Tags": [{"Key": key, "Value": value}]}]


def chunks(values: Sequence[str], size: int = FILTER_VALUES) -> list[list[str]]:
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


def build_estate(cloud: LocalCloud, size: int) -> Estate:
    """N VPC pairs, each peered from the hub side and accepted from the member side; no routes, no rules."""
    estate = Estate([Pair(Net(HUB, hub_cidr(i)), Net(MEMBER, member_cidr(i))) for i in range(size)])
    start = time.perf_counter()
    with count_calls() as log:
        clients: dict[str, EC2Client] = {HUB: cloud.ec2(HUB, REGION), MEMBER: cloud.ec2(MEMBER, REGION)}
        nets = [net for pair in estate.pairs for net in (pair.hub, pair.member)]
        for net in nets:
            ec2 = clients[net.account]
            vpc = ec2.create_vpc(CidrBlock=net.cidr, TagSpecifications=tagged("vpc", ENABLED_TAG, "true"))
            net.vpc_id = vpc["Vpc"]["VpcId"]
            subnet = ec2.create_subnet(VpcId=net.vpc_id, CidrBlock=net.cidr.replace("/20", "/24"))["Subnet"]
            table_id = ec2.create_route_table(VpcId=net.vpc_id)["RouteTable"]["RouteTableId"]
            ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet["SubnetId"])
            net.tables = [table_id]
            net.group_id = ec2.create_security_group(
                GroupName="app",
                Description="app servers",
                VpcId=net.vpc_id,
                TagSpecifications=tagged("security-group", ALLOW_TAG, ALLOW),
            )["GroupId"]
        for account, ec2 in clients.items():  # the main tables, read in bulk rather than one call per VPC
            by_vpc = {n.vpc_id: n for n in nets if n.account == account}
            for chunk in chunks(sorted(by_vpc)):
                for table in ec2.describe_route_tables(
                    Filters=[{"Name": "vpc-id", "Values": chunk}, {"Name": "association.main", "Values": ["true"]}]
                )["RouteTables"]:
                    if table.get("VpcId") in by_vpc:
                        by_vpc[table["VpcId"]].tables.insert(0, table["RouteTableId"])
        for pair in estate.pairs:
            peering = clients[HUB].create_vpc_peering_connection(
                VpcId=pair.hub.vpc_id, PeerVpcId=pair.member.vpc_id, PeerOwnerId=MEMBER, PeerRegion=REGION
            )["VpcPeeringConnection"]
            pair.peering_id = peering["VpcPeeringConnectionId"]
            clients[MEMBER].accept_vpc_peering_connection(VpcPeeringConnectionId=pair.peering_id)
    estate.build_seconds, estate.build_calls = time.perf_counter() - start, len(log.calls)
    bad = [n.vpc_id for n in nets if len(n.tables) != 2]
    if bad:
        raise SystemExit(f"error: expected a main table and a subnet table in each VPC; not so in {bad[:5]}")
    return estate


def converge_directly(cloud: LocalCloud, estate: Estate) -> None:
    """What the autopilot would add, added with boto3: a route per table to the peer block, the icmp rule."""
    start = time.perf_counter()
    with count_calls() as log:
        clients: dict[str, EC2Client] = {HUB: cloud.ec2(HUB, REGION), MEMBER: cloud.ec2(MEMBER, REGION)}
        for pair in estate.pairs:
            for net, peer in ((pair.hub, pair.member), (pair.member, pair.hub)):
                ec2 = clients[net.account]
                for table in net.tables:
                    ec2.create_route(
                        RouteTableId=table, DestinationCidrBlock=peer.cidr, VpcPeeringConnectionId=pair.peering_id
                    )
                ec2.authorize_security_group_ingress(
                    GroupId=net.group_id,
                    IpPermissions=[
                        {
                            "IpProtocol": "icmp",
                            "FromPort": -1,
                            "ToPort": -1,
                            "IpRanges": [{"CidrIp": peer.cidr, "Description": f"peering-autopilot {pair.peering_id}"}],
                        }
                    ],
                )
    estate.converge_seconds, estate.converge_calls = time.perf_counter() - start, len(log.calls)


def emulator_paging(cloud: LocalCloud) -> dict[str, bool]:
    """Whether moto honours MaxResults=5 on each read the detectors make (True: it returned a NextToken)."""
    ec2: EC2Client = cloud.ec2(HUB, REGION)
    return {
        "DescribeVpcPeeringConnections": "NextToken" in ec2.describe_vpc_peering_connections(MaxResults=5),
        "DescribeVpcs": "NextToken" in ec2.describe_vpcs(MaxResults=5),
        "DescribeRouteTables": "NextToken" in ec2.describe_route_tables(MaxResults=5),
        "DescribeSecurityGroups": "NextToken" in ec2.describe_security_groups(MaxResults=5),
    }


# --------------------------------------------------------------------------------------------- emulator speed-up
def index_moto_tags() -> Callable[[], None]:
    """moto looks up each EC2 resource's tags by scanning every tag of the account (TaggedEC2Resource.get_tags ->
    TagBackend.describe_tags), so describing N tagged resources costs O(N x all tags): quadratic in the estate, minutes
    per sweep at 1,000 peerings, in the emulator only. This replaces it, in this process, with a direct lookup of the
    same dict returning the same list (same keys, order and resource type); ids with wildcard characters fall back to
    moto's own code. Returns the function that puts moto's back. Checked against moto's own on each estate."""
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    original = TaggedEC2Resource.get_tags

    def get_tags(resource: Any) -> list[dict[str, str]]:
        resource_id = resource.id
        if not resource_id:
            return []
        if any(c in resource_id for c in "*?[]"):
            return original(resource)
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
        return [
            {"resource_id": resource_id, "key": key, "value": value, "resource_type": kind}
            for key, value in resource.ec2_backend.tags.get(resource_id, {}).items()
        ]

    setattr(TaggedEC2Resource, "get_tags", get_tags)  # noqa: B010 (a method of a class mypy cannot see assigned)

    def restore() -> None:
        setattr(TaggedEC2Resource, "get_tags", original)  # noqa: B010

    return restore


def check_tag_index(estate: Estate) -> list[str]:
    """The indexed lookup gives what moto's own scan gives, for a sample of the estate's resources."""
    from moto.backends import get_backend

    problems = []
    for pair in estate.pairs[:: max(1, len(estate.pairs) // 5)]:
        for net in (pair.hub, pair.member):
            backend: Any = get_backend("ec2")[net.account][REGION]
            resources = [
                backend.vpcs[net.vpc_id],
                backend.get_security_group_from_id(net.group_id),
                *(backend.get_route_table(t) for t in net.tables),
            ]
            for resource in resources:
                if resource.get_tags() != backend.describe_tags(filters={"resource-id": [resource.id]}):
                    problems.append(f"the indexed moto tag lookup differs from moto's own scan for {resource.id}")
    return problems


# ------------------------------------------------------------------------------------------- the naive comparison
def naive_detect(clients: dict[str, EC2Client], estate: Estate) -> frozenset[str]:
    """THE COMPARISON, not the autopilot: the peerings that miss a route or a rule, found peering by peering.

    It is handed an inventory (peering ids; per VPC its route-table ids and its allow-tagged group ids), as a CMDB or
    an IaC state would hand it; discovering those would cost it more calls, which are not charged here. Per peering:
    the peering by id, each side's VPC by id (opt-in tag), each route table by id, each group by id; reads everything
    (no early exit), so its count does not depend on what it finds. Same verdict as the sweep for this estate: a
    peering needs work when it is active and an opted-in side lacks a route to the peer block through the peering in
    any table, or an icmp rule from the peer block in its group.
    """
    inventory = {net.vpc_id: net for pair in estate.pairs for net in (pair.hub, pair.member)}
    needs_work: set[str] = set()
    for pair in estate.pairs:
        [peering] = clients[HUB].describe_vpc_peering_connections(VpcPeeringConnectionIds=[pair.peering_id])[
            "VpcPeeringConnections"
        ]
        if peering.get("Status", {}).get("Code") != "active":
            continue
        requester, accepter = peering["RequesterVpcInfo"], peering["AccepterVpcInfo"]
        for side, peer in ((requester, accepter), (accepter, requester)):
            ec2 = clients[side["OwnerId"]]
            net = inventory[side["VpcId"]]
            peer_cidr = peer["CidrBlock"]
            [vpc] = ec2.describe_vpcs(VpcIds=[net.vpc_id])["Vpcs"]
            opted_in = any(t["Key"] == ENABLED_TAG and t["Value"] == "true" for t in vpc.get("Tags", []))
            missing = False
            for table_id in net.tables:
                [table] = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
                missing |= not any(
                    r.get("DestinationCidrBlock") == peer_cidr and r.get("VpcPeeringConnectionId") == pair.peering_id
                    for r in table.get("Routes", [])
                )
            [group] = ec2.describe_security_groups(GroupIds=[net.group_id])["SecurityGroups"]
            missing |= not any(
                p.get("IpProtocol") == "icmp" and any(r.get("CidrIp") == peer_cidr for r in p.get("IpRanges", []))
                for p in group.get("IpPermissions", [])
            )
            if opted_in and missing:
                needs_work.add(pair.peering_id)
    return frozenset(needs_work)


# ---------------------------------------------------------------------------------------------------- measuring
@dataclass
class Measured:
    log: CallLog
    seconds: float
    seconds_in_calls: float  # inside botocore calls: serialising, the emulator, parsing
    peak_bytes: int | None  # None: not traced

    def ec2(self) -> Counter[str]:
        return self.log.by_action("ec2")

    def count(self, service: str, operation: str) -> int:
        return self.log.by_action(service)[operation]

    def ec2_reads(self) -> int:
        return sum(self.ec2().values()) - len(self.log.mutating())

    def describe(self) -> dict[str, Any]:
        return {
            "ec2": dict(sorted(self.ec2().items())),
            "other": {f"{s}:{op}": self.count(s, op) for s, op in OTHER if self.count(s, op)},
            "ec2Reads": self.ec2_reads(),
            "ec2Mutating": len(self.log.mutating()),
            "allCalls": len(self.log.calls),
            "seconds": round(self.seconds, 3),
            "secondsInCalls": round(self.seconds_in_calls, 3),
            "peakMiB": None if self.peak_bytes is None else round(self.peak_bytes / MiB, 2),
        }


@contextlib.contextmanager
def time_in_calls() -> Iterator[list[float]]:
    """Seconds spent inside botocore calls while the block runs (the rest is the caller's own work)."""
    spent = [0.0]
    client_class: Any = botocore.client.BaseClient  # _make_api_call is private: untyped on purpose
    inner = client_class._make_api_call

    def timed(self: Any, operation_name: str, api_params: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(self, operation_name, api_params)
        finally:
            spent[0] += time.perf_counter() - start

    client_class._make_api_call = timed
    try:
        yield spent
    finally:
        client_class._make_api_call = inner


def run[T](action: Callable[[], T], trace: bool) -> tuple[T, Measured]:
    """One run: its calls, wall time, time inside calls and, with `trace`, its tracemalloc peak."""
    gc.collect()
    if trace:
        tracemalloc.start()
    try:
        with count_calls() as log, time_in_calls() as spent:
            start = time.perf_counter()
            result = action()
            seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] if trace else None
    finally:
        if trace:
            tracemalloc.stop()
    return result, Measured(log, seconds, spent[0], peak)


def measure_twice[T](
    name: str, action: Callable[[], T], problems: list[str], same: Callable[[T, T], bool] = lambda a, b: a == b
) -> tuple[T, Measured]:
    """A read-only run: calls and times from a plain run, peak memory from a second one under tracemalloc."""
    result, plain = run(action, trace=False)
    again, traced = run(action, trace=True)
    if not same(again, result) or Counter(traced.log.calls) != Counter(plain.log.calls):
        problems.append(f"{name}: the traced re-run differed from the first run (result or calls)")
    plain.peak_bytes = traced.peak_bytes
    return result, plain


def settings_for_hub() -> Settings:
    return Settings(
        hub_account_id=HUB,
        hub_region=REGION,
        approved_account_ids=frozenset({MEMBER}),
        member_role_name="PeeringAutopilotMember",
        managed_regions=(REGION,),
        event_bus_name=BUS,
    )


def warm_up(aws: AwsAccess) -> EventPublisher:
    """What a container's first use pays once: the member role assumed (credentials cached in AwsAccess), botocore's
    service models loaded into each account's session. Measured apart; the runs measured after it are warm."""
    aws.session_for(MEMBER)
    for account in (HUB, MEMBER):
        aws.ec2(account, REGION)
    return aws.publisher()


def same_work(a: Sequence[Work], b: Sequence[Work]) -> bool:
    """The same work found: the same peerings and kinds. Places are swept in parallel and each one's
    work is published as soon as it is read, so when both sides of a peering find it, the item (the
    side it names, its words) is the first finisher's: either side is a valid hint."""
    return sorted((w.peering_id, w.work) for w in a) == sorted((w.peering_id, w.work) for w in b)


def run_sweep(settings: Settings, aws: AwsAccess, publisher: EventPublisher) -> tuple[Work, ...]:
    """The autopilot's sweep as its function runs it, every managed account and region, onto the hub's bus."""
    return tuple(sweep(Context(settings, aws)).work)


def do_work(settings: Settings, aws: AwsAccess, publisher: EventPublisher, work: Sequence[Work]) -> list[Outcome]:
    """configure_peering for each configure work item (the hint its event gives); the outcomes, in order."""
    return [
        configure_peering(PeeringHint(w.peering_id, w.account_id, w.region), Context(settings, aws)).outcome
        for w in work
        if w.work == "configure"
    ]


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    print(f"{time.perf_counter() - _STARTED:7.1f}s {message}", file=sys.stderr, flush=True)


def scenario(size: int, name: str, tag_index: bool) -> dict[str, Any]:
    """One fresh estate, one scenario: its figures and the checks that failed."""
    problems: list[str] = []
    label = f"{size} peerings, {name}"
    with mock_aws():
        cloud = LocalCloud(hub_account_id=HUB)
        boto3.client("events", region_name=REGION).create_event_bus(Name=BUS)
        progress(f"[{label}] building the estate ...")
        estate = build_estate(cloud, size)
        if name == CONVERGED:
            converge_directly(cloud, estate)
        paging = emulator_paging(cloud)
        if tag_index:
            problems += check_tag_index(estate)
        settings = settings_for_hub()
        aws = AwsAccess(settings)
        publisher, cold = run(lambda: warm_up(aws), trace=True)
        clients: dict[str, EC2Client] = {account: cloud.ec2(account, REGION) for account in (HUB, MEMBER)}

        progress(f"[{label}] sweep ...")
        work, swept = measure_twice(
            f"{label}: sweep", lambda: run_sweep(settings, aws, publisher), problems, same=same_work
        )
        progress(f"[{label}] naive detector ...")
        naive_found, naive = measure_twice(f"{label}: naive", lambda: naive_detect(clients, estate), problems)

        kinds = Counter(w.work for w in work)
        sweep_found = frozenset(w.peering_id for w in work if w.work == "configure")
        expected = frozenset() if name == CONVERGED else estate.peering_ids()
        if set(kinds) - {"configure"}:
            problems.append(f"{label}: the sweep found work other than configure: {dict(kinds)}")
        if sweep_found != expected:
            problems.append(
                f"{label}: the sweep found {len(sweep_found)} configure work item(s), expected {len(expected)}"
            )
        if naive_found != expected:
            problems.append(
                f"{label}: the naive detector found {len(naive_found)} peering(s), expected {len(expected)}"
            )
        if sweep_found != naive_found:
            problems.append(f"{label}: sweep and naive disagree on {len(sweep_found ^ naive_found)} peering(s)")
        for who, measured in (("sweep", swept), ("naive detector", naive)):
            if measured.log.mutating():
                problems.append(f"{label}: the {who} made mutating EC2 calls: {dict(Counter(measured.log.mutating()))}")

        figures: dict[str, Any] = {
            "size": size,
            "scenario": name,
            "estate": {
                "pairs": size,
                "vpcs": 2 * size,
                "routeTables": 4 * size,
                "securityGroups": 2 * size,
                "buildSeconds": round(estate.build_seconds, 2),
                "buildCalls": estate.build_calls,
                "convergeSeconds": round(estate.converge_seconds, 2),
                "convergeCalls": estate.converge_calls,
            },
            "emulatorHonoursMaxResults": paging,
            "coldStart": cold.describe(),
            "sweep": swept.describe()
            | {"workItems": len(work), "workKinds": dict(kinds), "peeringsNeedingWork": len(sweep_found)},
            "naive": naive.describe() | {"peeringsNeedingWork": len(naive_found)},
        }

        if name == MISSING:
            progress(f"[{label}] configure each work item ...")
            outcomes, worked = run(lambda: do_work(settings, aws, publisher, work), trace=False)
            not_done = Counter(o.value for o in outcomes if o is not Outcome.CONFIGURED)
            if len(outcomes) != len(expected) or not_done:
                problems.append(
                    f"{label}: {len(outcomes)} configure run(s), outcomes other than configured: {dict(not_done)}"
                )
            after = run_sweep(settings, aws, publisher)
            if after:
                problems.append(f"{label}: after the work, a sweep still found {len(after)} work item(s)")
            figures["work"] = worked.describe() | {
                "runs": len(outcomes),
                "outcomes": dict(Counter(o.value for o in outcomes)),
                "perPeering": {a: round(n / max(1, len(outcomes)), 2) for a, n in sorted(worked.ec2().items())},
                "sweepAfterWorkItems": len(after),
            }
    figures["problems"] = problems
    return figures


# ---------------------------------------------------------------------------------------------------------- report
def table(header: tuple[str, ...], body: Sequence[tuple[str, ...]], numeric: set[int]) -> list[str]:
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        parts = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return " | ".join(parts).rstrip()

    return [line(header), "-+-".join("-" * w for w in widths), *(line(cells) for cells in body)]


def action_rows(sweep_figures: dict[str, Any], naive_figures: dict[str, Any]) -> list[tuple[str, ...]]:
    ec2_actions = [*READS, *sorted((set(sweep_figures["ec2"]) | set(naive_figures["ec2"])) - set(READS))]
    rows: list[tuple[str, ...]] = [
        (
            action,
            str(sweep_figures["ec2"].get(action, 0)),
            str(naive_figures["ec2"].get(action, 0)),
            SWEEP_GROWTH.get(action, ""),
            NAIVE_GROWTH.get(action, ""),
        )
        for action in ec2_actions
    ]
    for service, operation in OTHER:
        key = f"{service}:{operation}"
        name = f"{service} {operation}"
        rows.append(
            (
                name,
                str(sweep_figures["other"].get(key, 0)),
                str(naive_figures["other"].get(key, 0)),
                SWEEP_GROWTH[name],
                "",
            )
        )
    return rows


def render_scenario(fig: dict[str, Any]) -> list[str]:
    est, sw, nv = fig["estate"], fig["sweep"], fig["naive"]
    lines = [
        f"== {fig['size']} peerings, {fig['scenario']} ==",
        f"estate: {est['vpcs']} VPCs, {est['routeTables']} route tables, {est['securityGroups']} tagged groups, "
        f"{est['pairs']} active peerings; built in {est['buildSeconds']:.1f} s ({est['buildCalls']} calls)"
        + (
            f"; routes and rules added directly in {est['convergeSeconds']:.1f} s ({est['convergeCalls']} calls)"
            if fig["scenario"] == CONVERGED
            else "; no routes, no rules"
        ),
    ]
    body = action_rows(sw, nv)
    body += [
        ("EC2 reads", str(sw["ec2Reads"]), str(nv["ec2Reads"]), "", ""),
        ("EC2 mutating calls", str(sw["ec2Mutating"]), str(nv["ec2Mutating"]), "", ""),
        ("all calls, all services", str(sw["allCalls"]), str(nv["allCalls"]), "", ""),
        ("wall time (s)", f"{sw['seconds']:.2f}", f"{nv['seconds']:.2f}", "", ""),
        ("  of which inside API calls", f"{sw['secondsInCalls']:.2f}", f"{nv['secondsInCalls']:.2f}", "", ""),
        ("peak memory (MiB)", f"{sw['peakMiB']:.2f}", f"{nv['peakMiB']:.2f}", "", ""),
        ("peerings needing work", str(sw["peeringsNeedingWork"]), str(nv["peeringsNeedingWork"]), "", ""),
    ]
    lines += table(("action", "sweep calls", "naive calls", "sweep grows with", "naive grows with"), body, {1, 2})
    cold = fig["coldStart"]
    lines.append(
        f"cold start of the sweep's AwsAccess, once per container, not in the figures above: "
        f"{', '.join(f'{k} {n}' for k, n in cold['other'].items()) or 'no calls'}, {cold['seconds']:.2f} s "
        f"(under tracemalloc), {cold['peakMiB']:.1f} MiB (botocore models for two sessions)"
    )
    if "work" in fig:
        wk = fig["work"]
        lines += [
            "",
            f"then the work (reported apart from detection): configure_peering for each of the {wk['runs']} work "
            "item(s) the sweep published; per peering by nature (EC2 has no batch route API), one warm AwsAccess",
        ]
        body = [(a, str(n), f"{wk['perPeering'][a]:g}") for a, n in sorted(wk["ec2"].items())]
        body += [(f"{k.replace(':', ' ')}", str(n), f"{n / max(1, wk['runs']):g}") for k, n in wk["other"].items()]
        body += [
            ("EC2 reads", str(wk["ec2Reads"]), f"{wk['ec2Reads'] / max(1, wk['runs']):g}"),
            ("EC2 mutating calls", str(wk["ec2Mutating"]), f"{wk['ec2Mutating'] / max(1, wk['runs']):g}"),
            ("all calls, all services", str(wk["allCalls"]), f"{wk['allCalls'] / max(1, wk['runs']):g}"),
        ]
        lines += table(("action", "calls", "per peering"), body, {1, 2})
        lines += [
            f"wall time {wk['seconds']:.2f} s ({wk['secondsInCalls']:.2f} s inside API calls); peak memory not "
            "measured (the work changes the estate, so it runs once, untraced); "
            f"outcomes {wk['outcomes']}; "
            f"a sweep after the work found {wk['sweepAfterWorkItems']} work item(s)",
            "moto keeps one tag set per peering (the requester's, shown in both accounts): the member side then "
            "reads the hub's fresh status tag and skips its CreateTags; on AWS expect 1 more CreateTags per peering",
        ]
    return lines


def readme_table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| peerings | scenario | sweep calls (EC2 reads + PutEvents) | naive calls (EC2 reads) | sweep s | naive s "
        "| sweep peak MiB | naive peak MiB | then configure: calls (per peering) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for fig in results:
        sw, nv = fig["sweep"], fig["naive"]
        work = fig.get("work")
        then = f"{work['allCalls']} ({work['allCalls'] / max(1, work['runs']):g})" if work else "—"
        lines.append(
            f"| {fig['size']:,} | {fig['scenario']} | {sw['allCalls']} | {nv['allCalls']} | {sw['seconds']:.2f} "
            f"| {nv['seconds']:.2f} | {sw['peakMiB']:.1f} | {nv['peakMiB']:.1f} | {then} |"
        )
    return lines


def render(figures: dict[str, Any]) -> str:
    results: list[dict[str, Any]] = figures["results"]
    lines = [
        "Peering Autopilot: what a sweep costs as the estate grows, beside a naive per-peering detector",
        f"estate: hub {HUB} and member {MEMBER}, {REGION}; per peering two VPCs (hub 10.x.y.0/20, member "
        f"100.64-127.x.y.0/20), each with its main table and one subnet table, one group tagged {ALLOW_TAG}={ALLOW}",
        "counting: botocore BaseClient._make_api_call during each run only (one per operation and per page); sweep "
        "calls include events PutEvents (work items, 10 per call); runs are warm (member role assumed, botocore "
        "models loaded, as in a warm container): the cold start is reported apart",
        "naive: naive_detect() in this script, the comparison: per peering 1 DescribeVpcPeeringConnections, "
        "1 DescribeVpcs per side, 1 DescribeRouteTables per table, 1 DescribeSecurityGroups per group",
        "",
    ]
    for fig in results:
        lines += [*render_scenario(fig), ""]
    paging = {a for fig in results for a, honoured in fig["emulatorHonoursMaxResults"].items() if honoured}
    lines += [
        "Pages: each call of a paginated read is one page, so the counts above are the pages seen per action. "
        + (
            "moto ignored MaxResults on every read here (no NextToken): each read is one page in the emulator."
            if not paging
            else f"moto honoured MaxResults on {sorted(paging)}; the code sets no page size, so its reads were 1 page."
        ),
        f"The sweep's reads grow with pages, not peerings: per account and region one peering read, one VPC read, and "
        f"one route-table and one group read per {FILTER_VALUES} opted-in VPCs (EC2's filter-value limit), each as "
        "many pages as AWS returns; its PutEvents grow with the work found (10 per call), by nature.",
        "The naive detector's reads grow with peerings x tables: 1 + 2 + (tables per side x 2) + (groups per side x 2) "
        "calls per peering, 9 per peering here.",
        "Times and memory are in-process moto's (emulator work included; the time inside API calls is shown apart): "
        "for comparison, not AWS latencies. Peak memory: tracemalloc peak of what the run allocated, measured on a "
        "second identical run. The sweep holds each account's VPCs, tables and groups at once, so its peak grows with "
        "the estate; the naive detector holds one resource at a time.",
        f"moto tag lookup: {figures['motoTagLookup']}.",
    ]
    builds = []
    for fig in results:
        est = fig["estate"]
        extra = f" + {est['convergeSeconds']:.1f} s adding routes and rules" if fig["scenario"] == CONVERGED else ""
        builds.append(f"{fig['size']} peerings {fig['scenario']} {est['buildSeconds']:.1f} s{extra}")
    lines.append(f"Estate build times: {'; '.join(builds)}. Whole benchmark: {figures['seconds']:.0f} s.")
    problems = [p for fig in results for p in fig["problems"]]
    lines.append("checks: " + ("all passed" if not problems else f"{len(problems)} FAILED"))
    lines += ["", "README table:", *readme_table(results)]
    return "\n".join(lines)


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not sizes or any(not 1 <= n <= MAX_PAIRS for n in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be between 1 and {MAX_PAIRS}: {text!r}")
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default=[10, 100, 1000], help="peerings per estate (10,100,1000)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--moto-tag-scan",
        action="store_true",
        help="keep moto's own tag lookup (a scan of all tags per resource: quadratic, very slow at 1,000)",
    )
    args = parser.parse_args()
    use_fake_credentials(REGION)
    start = time.perf_counter()
    restore = index_moto_tags() if not args.moto_tag_scan else (lambda: None)
    try:
        results = [scenario(size, name, not args.moto_tag_scan) for size in args.sizes for name in (CONVERGED, MISSING)]
    finally:
        restore()
    figures = {
        "results": results,
        "seconds": round(time.perf_counter() - start, 1),
        "motoTagLookup": "moto's own scan of all tags per resource (--moto-tag-scan)"
        if args.moto_tag_scan
        else "indexed by this script (index_moto_tags), checked equal to moto's own scan on a sample of each estate",
    }
    print(json.dumps(figures, indent=2) if args.json else render(figures))
    problems = [p for fig in results for p in fig["problems"]]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
