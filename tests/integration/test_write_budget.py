"""The reserved concurrency keeps a burst of new peerings under EC2's write refill: the calls the
budget model assumes per invocation are the ones a cross-account peering really makes through the
harness, and the template's concurrency, put through the model, stays under 5 writes per second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autopilot_local import write_budget
from autopilot_local.harness import LocalCloud
from autopilot_local.world import Network, build_network
from tests.support.world import HUB, MEMBER, REGION

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
ENABLED = {"peering-autopilot:enabled": "true"}


def test_the_model_counts_the_ec2_calls_a_cross_account_peering_makes(
    cloud: LocalCloud, autopilot_factory: Any
) -> None:
    # GIVEN the benchmark's world: one VPC each side, a main and a subnet table, one tagged group
    autopilot = autopilot_factory()
    a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
    b = build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED)))

    # WHEN a person requests a peering and the autopilot runs until idle
    cloud.ec2(HUB, REGION, record=True).create_vpc_peering_connection(
        VpcId=a.vpc_id, PeerVpcId=b.vpc_id, PeerOwnerId=MEMBER
    )
    deliveries = autopilot.run_until_idle()

    # THEN each step made the reads and writes the model assumes
    measured = {}
    for d in deliveries:
        calls = d.calls.by_action("ec2")
        writes = len(d.calls.mutating("ec2"))
        measured[d.function] = (sum(calls.values()) - writes, writes)
    assert measured == {name: (step.reads, step.writes) for name, step in write_budget.BURST.items()}


def test_the_templates_reserved_concurrency_keeps_a_burst_under_the_write_refill() -> None:
    concurrency = write_budget.reserved(TEMPLATE)
    assert write_budget.burst_writes_per_second(concurrency) <= write_budget.REFILL_PER_S
    # ... with little to spare: one more configure at a time would not be
    more = {**concurrency, "ConfigurePeeringFunction": concurrency["ConfigurePeeringFunction"] + 1}
    assert write_budget.burst_writes_per_second(more) > write_budget.REFILL_PER_S


def test_make_write_budget_prints_the_arithmetic_and_says_it_fits(capsys: Any) -> None:
    assert write_budget.main() == 0
    out = capsys.readouterr().out
    assert "burst of new peerings: 3.92 writes/s in one account, under the refill of 5/s" in out
    assert "a peering group of 10 VPCs joined at once: 45 requests sent in 25 s, the burst borrows 18 of" in out


def test_a_group_at_the_mesh_advisors_threshold_borrows_well_under_ec2s_bucket() -> None:
    concurrency = write_budget.reserved(TEMPLATE)
    requests, _, borrowed = write_budget.group_burst(10, concurrency)
    assert requests == 45 and borrowed < write_budget.BUCKET / 4


def test_the_model_counts_the_ec2_calls_of_a_group_request(cloud: LocalCloud, autopilot_factory: Any) -> None:
    # GIVEN two VPCs of one group in two accounts
    autopilot = autopilot_factory()
    a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
    b = build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED)))
    for net in (a, b):
        cloud.tag_vpc(net.account, REGION, net.vpc_id, {"peering-autopilot:group": "shared"})

    deliveries = autopilot.run_until_idle()

    # THEN the request read as the model assumes and wrote once (each tag change planned it: the
    # second finds the pair peered after the same reads)
    [connect] = [d for d in deliveries if d.function == "ConnectPeeringFunction" and d.result["status"] == "requested"]
    writes = len(connect.calls.mutating("ec2"))
    assert (sum(connect.calls.by_action("ec2").values()) - writes, writes) == (
        write_budget.CONNECT.reads,
        write_budget.CONNECT.writes,
    )
