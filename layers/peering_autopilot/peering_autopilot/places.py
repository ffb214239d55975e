"""One read of an account and region, the fan-out over many, and the faults that stop one place.

The sweep and the status command read a place the same way: one paginated, filtered read each of
its opted-in VPCs, its peerings, those VPCs' route tables and their security groups, never one call
per peering. Places are read on their own, several at once: one that fails with one of
PLACE_FAULTS (an SCP, a region not enabled, throttling past the retries, a member role that cannot
be assumed) is reported with its account, region and error, and the others still answer.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import field
from typing import Self

from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.service_quotas import ServiceQuotasGateway
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.errors import AutopilotError, AwsCallError, RoleAssumptionError, VpcNotFoundError
from peering_autopilot.mesh import GroupPlan, plan_groups
from peering_autopilot.model import (
    CREATED_FOR_TAG,
    GROUP_TAG,
    SWEPT_STATES,
    Described,
    Peering,
    PeeringSide,
    RouteTable,
    SecurityGroup,
    Vpc,
)
from peering_autopilot.permissions import actions_of
from peering_autopilot.settings import Ranges, Settings
from peering_autopilot.structs import struct

IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    Ec2Gateway.opted_in_vpcs,
    Ec2Gateway.all_peerings,
    Ec2Gateway.route_tables,
    Ec2Gateway.vpc_security_groups,
    Ec2Gateway.get_vpc,
    ServiceQuotasGateway.applied,  # the status command's budgets, where a default would be passed
)

# Every state EC2 reports, the transient `deleting` too: what the status command lists. The sweep
# reads SWEPT_STATES (no work is ever due in `deleting`). Either is one filtered read.
LISTED_STATES = SWEPT_STATES | {"deleting"}
# What stops one place, not the others: AWS refusing the caller there (an SCP, a region not
# enabled: AccessDeniedError), throttling past the retries, any other AWS error, a role that
# cannot be assumed.
PLACE_FAULTS = (AwsCallError, RoleAssumptionError)
# Places read at once. EC2 throttles per account and region, so places in parallel do not compete
# for the same limits; the bound keeps memory and connections in check.
MAX_PARALLEL_PLACES = 8

Place = tuple[str, str]  # account, region
# Which of the blackhole routes' targets (kind, id) are gone for good (`Ec2Gateway.gone_targets`).
GoneRead = Callable[[set[tuple[str, str]]], frozenset[str]]


def gone_once(read: GoneRead) -> GoneRead:
    """`read` for one place and one run, each target asked about once however many peerings'
    plans ask (the judge's `read_gone`): a VPC with one blackhole in the way of several peerings
    costs one read, not one per peering."""
    known: dict[tuple[str, str], bool] = {}

    def read_gone(targets: set[tuple[str, str]]) -> frozenset[str]:
        unknown = {t for t in targets if t not in known}
        if unknown:
            found = read(unknown)
            known.update((t, t[1] in found) for t in unknown)
        return frozenset(t[1] for t in targets if known[t])

    return read_gone


@struct(frozen=True)
class PlaceRead:
    """What one account and region holds, from one read of each resource type."""

    account_id: str
    region: str
    vpcs: Mapping[str, Vpc]  # the opted-in ones, by id
    peerings: Sequence[Peering]  # as this account sees them here (its own tags)
    tables: Mapping[str, Sequence[RouteTable]] = field(default_factory=dict)  # by VPC id
    groups: Mapping[str, Sequence[SecurityGroup]] = field(default_factory=dict)  # by VPC id

    @property
    def place(self) -> Place:
        return self.account_id, self.region


@struct(frozen=True, order=True)
class UnreadPlace(Described):
    """An account and region that could not be read, and why."""

    account_id: str
    region: str
    error: str  # the error's class: AccessDeniedError, RoleAssumptionError, ...
    code: str  # AWS's error code, if any
    message: str

    @classmethod
    def of(cls, account_id: str, region: str, error: AutopilotError) -> Self:
        return cls(account_id, region, type(error).__name__, str(getattr(error, "code", "")), str(error))


def read_place(
    ec2: Ec2Gateway, states: Iterable[str] = SWEPT_STATES, only_vpc: str | None = None, always_peerings: bool = False
) -> PlaceRead:
    """The place's opted-in VPCs (only `only_vpc`, when given), its peerings in `states`, and those
    VPCs' route tables and security groups. Where no VPC opted in there can be no work, so the
    peerings are read only when `always_peerings` asks (the status command lists them anyway)."""
    vpcs = ec2.opted_in_vpcs()
    if only_vpc is not None:
        vpcs = {k: v for k, v in vpcs.items() if k == only_vpc}
    if not vpcs and not always_peerings:
        return PlaceRead(ec2.account_id, ec2.region, vpcs, ())
    peerings = tuple(ec2.all_peerings(states))
    if not vpcs:
        return PlaceRead(ec2.account_id, ec2.region, vpcs, peerings)
    return PlaceRead(
        ec2.account_id,
        ec2.region,
        vpcs,
        peerings,
        by_vpc(ec2.route_tables(vpcs)),
        by_vpc(ec2.vpc_security_groups(vpcs)),
    )


VpcReader = Callable[[PeeringSide], Vpc | None]


def vpc_reader(aws: AwsAccess, settings: Settings) -> VpcReader:
    """Reads a peer's VPC in its own account and region, where the hub manages them (as configure
    does when it opens a side); None where it cannot: not managed, the role refused, the VPC gone,
    or AWS failing there (then nothing is proven, and nothing is taken away)."""

    def read(peer: PeeringSide) -> Vpc | None:
        if not (settings.is_managed_account(peer.account_id) and settings.is_managed_region(peer.region)):
            return None
        try:
            return aws.ec2(peer.account_id, peer.region).get_vpc(peer.vpc_id)
        except (*PLACE_FAULTS, VpcNotFoundError):
            return None

    return read


class PeerVpcs:
    """The peers' VPCs as read in their own accounts: the judge's only proof of the blocks a peer
    holds. Taken from the places read when the peer's place is among them and its VPC opted in,
    else read once on demand (`read_vpc`), only for a side whose plan needs the proof."""

    def __init__(self, reads: Sequence[PlaceRead], read_vpc: VpcReader | None = None) -> None:
        self._known = {(r.place, vpc_id): vpc for r in reads for vpc_id, vpc in r.vpcs.items()}
        self._read_vpc = read_vpc
        self._read: dict[str, Vpc | None] = {}
        self._lock = threading.Lock()

    def known(self, peer: PeeringSide) -> Vpc | None:
        return self._known.get(((peer.account_id, peer.region), peer.vpc_id))

    def read(self, peer: PeeringSide) -> Vpc | None:
        found = self.known(peer)
        if found is not None or self._read_vpc is None:
            return found
        with self._lock:
            if peer.vpc_id not in self._read:
                self._read[peer.vpc_id] = self._read_vpc(peer)
            return self._read[peer.vpc_id]


def for_each_place[T](
    aws: AwsAccess, places: Sequence[Place], visit: Callable[[Ec2Gateway], T], name: str = "place"
) -> tuple[list[T], list[UnreadPlace]]:
    """`visit` each place (account, region) with its gateway, up to MAX_PARALLEL_PLACES at once,
    each as soon as a worker is free. A place that fails with PLACE_FAULTS is returned as unread;
    anything else (a bug, the bus refusing events) is raised after every place had its turn."""

    def one(place: Place) -> T | UnreadPlace:
        account, region = place
        try:
            return visit(aws.ec2(account, region))
        except PLACE_FAULTS as e:
            return UnreadPlace.of(account, region, e)

    workers = max(1, min(MAX_PARALLEL_PLACES, len(places)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        futures = [pool.submit(one, place) for place in places]
    results = [f.result() for f in futures]  # re-raises what was not one place's fault
    done = [r for r in results if not isinstance(r, UnreadPlace)]
    return done, sorted(r for r in results if isinstance(r, UnreadPlace))


def read_estate(aws: AwsAccess, places: Sequence[Place]) -> tuple[list[PlaceRead], list[UnreadPlace]]:
    """Every place read as the status command lists it: every peering, opted-in VPCs or not."""
    return for_each_place(aws, places, lambda ec2: read_place(ec2, LISTED_STATES, always_peerings=True), "status")


def group_plan(
    reads: Sequence[PlaceRead],
    quota: int,
    policy: Ranges,
    threshold: int,
    admission: Callable[[str, str], str] | None = None,
) -> GroupPlan | None:
    """The peering groups planned from what the places hold (the sweep acts on it, the status
    command shows it); None when no VPC is in a group and no group peering is left to withdraw."""
    vpcs = [v for r in reads for v in r.vpcs.values()]
    peerings = [p for r in reads for p in r.peerings]
    if not any(GROUP_TAG in v.tags for v in vpcs) and not any(CREATED_FOR_TAG in p.tags for p in peerings):
        return None
    tables = {vpc_id: list(t) for r in reads for vpc_id, t in r.tables.items()}
    return plan_groups(vpcs, peerings, tables, policy, quota, threshold, admission)


def by_vpc[T: (RouteTable, SecurityGroup)](resources: Iterable[T]) -> defaultdict[str, list[T]]:
    """Resources by their VPC id; a VPC with none reads as an empty list."""
    grouped: defaultdict[str, list[T]] = defaultdict(list)
    for resource in resources:
        grouped[resource.vpc_id].append(resource)
    return grouped
