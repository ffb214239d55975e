"""Verification with Reachability Analyzer and the live ping on, through the harness, each side in
its own account: the hub's with the verify function's role, the member's with its verifier role.

moto has neither service: tests/support/missing_services.py answers in AWS's shapes and keeps what
was asked, so these tests check what the autopilot asks each account for and what it leaves there.
"""

from __future__ import annotations

from typing import Any

import pytest

from autopilot_local.harness import LocalCloud
from autopilot_local.world import Network, build_network
from peering_autopilot.aws.ssm import PING_DOCUMENT
from tests.support.missing_services import MissingServices, install_missing_services
from tests.support.world import HUB, MEMBER, REGION, Side, request_peering

ENABLED = {"peering-autopilot:enabled": "true"}
PROBE = {"Key": "peering-autopilot:probe", "Value": "true"}
MANAGED = {"Key": "peering-autopilot:managed", "Value": "true"}


def probe_networks(cloud: LocalCloud) -> tuple[Network, Network]:
    """The seed's VPC-A (hub) and VPC-B (member), each server tagged as its owner's probe."""
    nets = (
        build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED))),
        build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED))),
    )
    for net in nets:
        cloud.ec2(net.account, REGION).create_tags(Resources=[net.instance_id], Tags=[PROBE])
    return nets


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch, cloud: LocalCloud) -> MissingServices:
    return install_missing_services(monkeypatch, cloud)


def verified(autopilot: Any) -> dict[str, Any]:
    [event] = [e for e in autopilot.published if e["detail-type"] == "Peering Verified"]
    return dict(event["detail"])


def test_each_side_analyses_and_pings_from_its_own_probe_in_its_own_account_and_leaves_nothing(
    cloud: LocalCloud, autopilot_factory: Any, services: MissingServices
) -> None:
    a, b = probe_networks(cloud)
    services.online |= {a.instance_id, b.instance_id}
    autopilot = autopilot_factory(OrganizationId="o-exampleorg1", ReachabilityAnalyzer="true", LivePing="true")

    request_peering(cloud, Side(HUB, REGION, a.vpc_id), Side(MEMBER, REGION, b.vpc_id))
    autopilot.run_until_idle()

    detail = verified(autopilot)
    assert detail["outcome"] == "verified"
    by_direction = {d["direction"]: d for d in detail["directions"]}
    for name, source, destination in (("requester -> accepter", a, b), ("accepter -> requester", b, a)):
        assert by_direction[name]["reachabilityAnalyzer"]["status"] == "reachable", name
        assert by_direction[name]["livePing"]["status"] == "replied", name
        place = services.place(source.account, REGION)
        # one path from this side's probe to the peer's, tagged at creation, analysed, then deleted
        [path] = place.created_paths
        assert (path["Source"], path["Destination"]) == (
            source.instance_id,
            destination.instance_id,
        )
        assert path["Tags"] == [MANAGED]
        [analysis] = place.created_analyses
        assert analysis["Tags"] == [MANAGED]
        assert place.paths == {} and place.analyses == {}
        # the project's own document, on this side's probe, to the peer's address only
        [command] = place.commands
        assert command["DocumentName"] == PING_DOCUMENT
        assert command["InstanceIds"] == [source.instance_id]
        assert command["Parameters"] == {"TargetIp": [destination.private_ip]}


def test_a_path_the_analyzer_does_not_find_keeps_the_peering_from_reading_verified(
    cloud: LocalCloud, autopilot_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = install_missing_services(monkeypatch, cloud, path_found=False)
    a, b = probe_networks(cloud)
    services.online |= {a.instance_id, b.instance_id}
    autopilot = autopilot_factory(OrganizationId="o-exampleorg1", ReachabilityAnalyzer="true", LivePing="false")

    request_peering(cloud, Side(HUB, REGION, a.vpc_id), Side(MEMBER, REGION, b.vpc_id))
    autopilot.run_until_idle()

    [event] = [e for e in autopilot.published if e["detail-type"].startswith("Peering Verif")]
    assert event["detail"]["outcome"] != "verified"
    assert {d["reachabilityAnalyzer"]["status"] for d in event["detail"]["directions"]} == {"blocked"}
    assert all(services.place(n.account, REGION).commands == [] for n in (a, b))  # LivePing off: no command
