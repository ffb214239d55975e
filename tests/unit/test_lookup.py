"""Re-reading a peering while EC2 catches up: backoff while unknown or not yet in the state wanted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pytest

from peering_autopilot import lookup
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.errors import PeeringNotFoundError
from peering_autopilot.lookup import BACKOFF_SECONDS, read_peering
from peering_autopilot.model import Peering

PEERING_ID = "pcx-0a1b2c3d4e5f60718"
ACCOUNT = "222222222222"
REGION = "us-west-2"
BACKOFF = (0.1, 0.2, 0.4)


def not_provisioning(peering: Peering) -> bool:
    return peering.status != "provisioning"


def peering(status: str) -> Peering:
    """A peering as DescribeVpcPeeringConnections returns it, at the given status."""
    item: dict[str, Any] = {
        "VpcPeeringConnectionId": PEERING_ID,
        "Status": {"Code": status, "Message": status.capitalize()},
        "RequesterVpcInfo": {
            "OwnerId": "333333333333",
            "VpcId": "vpc-0aaaaaaaaaaaaaaa1",
            "CidrBlock": "10.1.0.0/16",
            "Region": "us-east-1",
        },
        "AccepterVpcInfo": {
            "OwnerId": ACCOUNT,
            "VpcId": "vpc-0bbbbbbbbbbbbbbb2",
            "CidrBlock": "10.2.0.0/16",
            "Region": REGION,
        },
        "Tags": [],
    }
    return Peering.from_api(item, REGION)


class FakeGateway:
    """Answers find_peering from a script, one answer per call, and records the calls."""

    def __init__(self, *answers: Peering | None) -> None:
        self.account_id = ACCOUNT
        self.region = REGION
        self._answers = list(answers)
        self.asked: list[str] = []

    def find_peering(self, peering_id: str) -> Peering | None:
        self.asked.append(peering_id)
        if not self._answers:
            raise AssertionError("find_peering called more often than scripted")
        return self._answers.pop(0)


class Clock:
    """A sleep that only records how long it was asked to wait."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def read(gateway: FakeGateway, clock: Clock, backoff: Sequence[float] | None = BACKOFF, **kwargs: Any) -> Peering:
    return read_peering(cast(Ec2Gateway, gateway), PEERING_ID, clock, backoff, **kwargs)


# ------------------------------------------------------------------------------------- visibility


def test_a_visible_peering_is_returned_at_once() -> None:
    active = peering("active")
    gateway, clock = FakeGateway(active), Clock()

    assert read(gateway, clock) is active
    assert gateway.asked == [PEERING_ID]
    assert clock.slept == []


def test_without_until_a_provisioning_peering_is_returned_at_once() -> None:
    provisioning = peering("provisioning")
    gateway, clock = FakeGateway(provisioning), Clock()

    assert read(gateway, clock) is provisioning
    assert clock.slept == []


def test_retries_with_the_backoff_delays_while_not_visible() -> None:
    # GIVEN a peering EC2 only shows on the third read
    active = peering("active")
    gateway, clock = FakeGateway(None, None, active), Clock()

    # WHEN it is read
    found = read(gateway, clock)

    # THEN it is returned after waiting the first two delays, in order
    assert found is active
    assert clock.slept == [0.1, 0.2]
    assert gateway.asked == [PEERING_ID] * 3


def test_visible_on_the_last_try_is_returned() -> None:
    active = peering("active")
    gateway, clock = FakeGateway(None, None, None, active), Clock()

    assert read(gateway, clock) is active
    assert clock.slept == [0.1, 0.2, 0.4]


def test_never_visible_raises_not_found_after_the_last_try() -> None:
    gateway, clock = FakeGateway(None, None, None, None), Clock()

    with pytest.raises(PeeringNotFoundError) as raised:
        read(gateway, clock)

    # one try per delay and one last try, with no sleep after it
    assert gateway.asked == [PEERING_ID] * 4
    assert clock.slept == [0.1, 0.2, 0.4]
    error = raised.value
    assert str(error) == f"peering {PEERING_ID} not found in account {ACCOUNT} region {REGION}"
    assert (error.peering_id, error.account_id, error.region) == (PEERING_ID, ACCOUNT, REGION)


def test_an_empty_backoff_reads_once_without_sleeping() -> None:
    gateway, clock = FakeGateway(None), Clock()

    with pytest.raises(PeeringNotFoundError):
        read(gateway, clock, backoff=())

    assert gateway.asked == [PEERING_ID]
    assert clock.slept == []


def test_the_default_backoff_is_the_modules() -> None:
    # GIVEN a peering that never shows, read with no backoff given
    gateway, clock = FakeGateway(*[None] * (len(BACKOFF_SECONDS) + 1)), Clock()

    with pytest.raises(PeeringNotFoundError):
        read(gateway, clock, backoff=None)

    assert clock.slept == list(lookup.BACKOFF_SECONDS)
    assert lookup.BACKOFF_SECONDS == (0.5, 1.0, 2.0, 4.0)


def test_the_default_backoff_is_read_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    # the default is looked up at call time, so it can be shortened in one place
    monkeypatch.setattr(lookup, "BACKOFF_SECONDS", (0.01,))
    gateway, clock = FakeGateway(None, None), Clock()

    with pytest.raises(PeeringNotFoundError):
        read_peering(cast(Ec2Gateway, gateway), PEERING_ID, clock)

    assert clock.slept == [0.01]


# ------------------------------------------------------------------------------------------ until


def test_until_waits_while_provisioning_and_returns_the_active_peering() -> None:
    # GIVEN a peering unknown at first, then provisioning, then active
    active = peering("active")
    gateway, clock = FakeGateway(None, peering("provisioning"), peering("provisioning"), active), Clock()

    found = read(gateway, clock, until=not_provisioning)

    assert found is active
    assert clock.slept == [0.1, 0.2, 0.4]


def test_until_already_true_returns_at_once() -> None:
    pending = peering("pending-acceptance")
    gateway, clock = FakeGateway(pending), Clock()

    assert read(gateway, clock, until=not_provisioning) is pending
    assert clock.slept == []


def test_until_never_true_returns_the_last_state_read_without_raising() -> None:
    # GIVEN a peering that stays provisioning through every try
    states = [peering("provisioning") for _ in range(4)]
    gateway, clock = FakeGateway(*states), Clock()

    found = read(gateway, clock, until=not_provisioning)

    # THEN the last one read is returned for the caller to judge
    assert found is states[-1]
    assert found.status == "provisioning"
    assert clock.slept == [0.1, 0.2, 0.4]
    assert gateway.asked == [PEERING_ID] * 4


def test_until_is_only_asked_about_visible_peerings() -> None:
    asked: list[str] = []

    def until(p: Peering) -> bool:
        asked.append(p.status)
        return p.status == "active"

    gateway, clock = FakeGateway(None, peering("provisioning"), None, peering("active")), Clock()

    assert read(gateway, clock, until=until).status == "active"
    assert asked == ["provisioning", "active"]


def test_waiting_is_logged_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    gateway, clock = FakeGateway(None, peering("provisioning"), peering("active")), Clock()

    with caplog.at_level("INFO", logger=lookup.__name__):
        read(gateway, clock, until=not_provisioning)

    assert [r.getMessage() for r in caplog.records] == [
        f"peering {PEERING_ID}: waiting to become visible, retrying in 0.1s",
        f"peering {PEERING_ID}: waiting (status provisioning), retrying in 0.2s",
    ]
