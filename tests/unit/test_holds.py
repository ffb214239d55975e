"""Quota refusals held back: retried after an hour, or sooner when the resource changed size."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from peering_autopilot.holds import HOLD_PREFIX, RETRY_AFTER_SECONDS, Hold, holding, holds_in, new_hold, sizes_of
from peering_autopilot.model import RouteTable, SecurityGroup

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC).timestamp()


def test_a_hold_is_a_tag_that_reads_back_as_itself() -> None:
    hold = new_hold("rtb-0aaa000000000001", "RouteLimitExceeded", NOW + 0.7, 50)

    key, value = hold.tag
    assert (key, value) == (f"{HOLD_PREFIX}rtb-0aaa000000000001", "RouteLimitExceeded 2026-12-03T08:00:00+00:00 50")
    assert holds_in({key: value, "Name": "x"}) == {"rtb-0aaa000000000001": hold}


@pytest.mark.parametrize(
    ("later", "size", "held"),
    [
        pytest.param(60, 50, True, id="a-minute-later-unchanged"),
        pytest.param(RETRY_AFTER_SECONDS - 1, 50, True, id="just-under-an-hour"),
        pytest.param(RETRY_AFTER_SECONDS, 50, False, id="an-hour-later"),
        pytest.param(60, 49, False, id="a-route-was-removed"),
        pytest.param(60, 51, False, id="a-route-was-added"),
    ],
)
def test_a_hold_applies_for_an_hour_while_the_resource_keeps_its_size(later: float, size: int, held: bool) -> None:
    hold = new_hold("rtb-0aaa000000000001", "RouteLimitExceeded", NOW, 50)

    assert hold.applies(NOW + later, size) is held
    assert holding({"rtb-0aaa000000000001": hold}, {"rtb-0aaa000000000001": size}, NOW + later) == (
        {"rtb-0aaa000000000001"} if held else set()
    )


@pytest.mark.parametrize(
    "value", ["", "RouteLimitExceeded", "RouteLimitExceeded yesterday 50", "X 2026-12-03T08:00:00 many"]
)
def test_a_tag_that_does_not_parse_holds_nothing(value: str) -> None:
    assert holds_in({f"{HOLD_PREFIX}rtb-0aaa000000000001": value}) == {}


def test_a_hold_on_a_resource_not_read_holds_nothing() -> None:
    hold = new_hold("sg-0aaa000000000001", "RulesPerSecurityGroupLimitExceeded", NOW, 60)
    assert holding({"sg-0aaa000000000001": hold}, {}, NOW) == set()


def test_sizes_count_routes_per_table_and_cidr_ranges_per_group() -> None:
    routes = [{"DestinationCidrBlock": f"10.{n}.0.0/16", "GatewayId": "local", "State": "active"} for n in range(3)]
    tables = [RouteTable.from_api({"RouteTableId": "rtb-1", "Routes": routes})]
    permissions = [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "10.1.0.0/16"}, {"CidrIp": "10.2.0.0/16"}],
            "Ipv6Ranges": [{"CidrIpv6": "2600:1f18::/56"}],
        },
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.3.0.0/16"}]},
    ]
    groups = [SecurityGroup.from_api({"GroupId": "sg-1", "IpPermissions": permissions})]
    assert sizes_of(tables, groups) == {"rtb-1": 3, "sg-1": 4}
    assert isinstance(Hold("r", "c", "2026-12-03T08:00:00+00:00", 1).describe(), dict)
