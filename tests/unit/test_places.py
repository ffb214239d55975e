"""A peer's VPC read on demand as the judge's proof (places.vpc_reader, PeerVpcs): only where the
hub manages the peer's place, once per VPC, and a peer place that fails proves nothing while the
place being judged carries on."""

from __future__ import annotations

from typing import Any

import pytest

from peering_autopilot.errors import AccessDeniedError, RoleAssumptionError, ThrottledError, VpcNotFoundError
from peering_autopilot.model import Cidrs, PeeringSide, Vpc
from peering_autopilot.places import PeerVpcs, PlaceRead, vpc_reader
from tests.support.domain import settings
from tests.support.world import HUB, MEMBER, REGION

PARTNER = "999999999999"
PEER = PeeringSide(MEMBER, REGION, "vpc-b", Cidrs.of(["10.1.0.0/16"]))
PEER_VPC = Vpc("vpc-b", MEMBER, REGION, Cidrs.of(["10.1.0.0/16"]), {})


class FakeAccess:
    """Answers `ec2(account, region).get_vpc(vpc)` with the VPC, or raises `fault`."""

    def __init__(self, fault: Exception | None = None) -> None:
        self.fault = fault
        self.calls: list[tuple[str, str, str]] = []

    def ec2(self, account_id: str, region: str) -> Any:
        access = self

        class Gateway:
            def get_vpc(self, vpc_id: str) -> Vpc:
                access.calls.append((account_id, region, vpc_id))
                if access.fault is not None:
                    raise access.fault
                return PEER_VPC

        return Gateway()


def test_a_peer_in_a_place_the_hub_does_not_manage_is_never_read() -> None:
    access = FakeAccess()
    read = vpc_reader(access, settings())  # type: ignore[arg-type]

    assert read(PeeringSide(PARTNER, REGION, "vpc-p", Cidrs.of(["10.9.0.0/16"]))) is None
    assert access.calls == []


@pytest.mark.parametrize(
    "fault",
    [
        RoleAssumptionError(role_arn="arn", account_id=MEMBER, reason="AccessDenied"),
        AccessDeniedError(service="ec2", operation="DescribeVpcs", code="UnauthorizedOperation", message="SCP"),
        ThrottledError(service="ec2", operation="DescribeVpcs", code="RequestLimitExceeded", message="slow down"),
        VpcNotFoundError(vpc_id="vpc-b", account_id=MEMBER, region=REGION),
    ],
    ids=["role refused", "SCP", "throttled past retries", "VPC gone"],
)
def test_a_peer_place_that_fails_proves_nothing_and_raises_nothing(fault: Exception) -> None:
    # the place being judged carries on: its routes are left alone, not its sweep failed
    read = vpc_reader(FakeAccess(fault), settings())  # type: ignore[arg-type]
    assert read(PEER) is None


def test_a_peer_vpc_is_taken_from_the_places_read_else_read_once() -> None:
    access = FakeAccess()
    here = PlaceRead(HUB, REGION, {}, ())
    vpcs = PeerVpcs([here], vpc_reader(access, settings()))  # type: ignore[arg-type]

    assert vpcs.known(PEER) is None
    assert vpcs.read(PEER) == PEER_VPC and vpcs.read(PEER) == PEER_VPC
    assert access.calls == [(MEMBER, REGION, "vpc-b")]
    assert PeerVpcs([PlaceRead(MEMBER, REGION, {"vpc-b": PEER_VPC}, ())]).known(PEER) == PEER_VPC


def test_a_places_blackhole_targets_are_read_once_however_many_plans_ask() -> None:
    from peering_autopilot.places import gone_once

    asked: list[set[tuple[str, str]]] = []

    def read(targets: set[tuple[str, str]]) -> frozenset[str]:
        asked.append(set(targets))
        return frozenset({"nat-1"}) & {t for _, t in targets}

    read_gone = gone_once(read)
    nat, eni = ("nat-gateway", "nat-1"), ("network-interface", "eni-1")
    assert read_gone({nat, eni}) == {"nat-1"}
    assert read_gone({nat, eni}) == {"nat-1"}  # a second peering of the VPC: nothing read again
    assert read_gone({eni, ("transit-gateway", "tgw-1")}) == frozenset()
    assert asked == [{nat, eni}, {("transit-gateway", "tgw-1")}]
