"""Account tags within a sweep's time, through the harness (moto's Organizations, the policy in its
SSM parameter): each walk reads the tags of at most AccountTagReadsPerSweep accounts, those never
read first, then those read longest ago; an account is matched by a rule on account tags only once
its tags were read, a retag is seen when its turn comes again, and tags older than
AccountTagsMaxAgeHours are not known (docs/governance.md "Managed by the Organization")."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.organizations.models import OrganizationsBackend

from autopilot_local.harness import LocalAutopilot, LocalCloud
from autopilot_local.organizations import LocalOrganization
from peering_autopilot.model import STATUS_TAG
from tests.support.governance import deploy_policy, governed_hub
from tests.support.world import HUB, REGION, Side, make_vpc, request_peering, tags_of

FIRST, SECOND, THIRD = "444444444444", "555555555555", "666666666666"  # the order of their ids
RECORD = "peering-autopilot-record"
POLICY: dict[str, Any] = {
    "version": 1,
    "defaults": {"outcome": "reject"},
    "rules": [{"name": "from-prod-accounts", "requester": {"account_tags": {"env": "prod"}}, "outcome": "accept"}],
}


def deploy(cloud: LocalCloud, **parameters: str) -> tuple[LocalOrganization, LocalAutopilot]:
    """root ─ workloads (FIRST, SECOND, THIRD: each tagged env=prod by the management account); the
    hub manages the workloads OU through the management account's reader role, with the policy
    from-prod-accounts (else reject) stored as `policy deploy` stores it."""
    organization = LocalOrganization(cloud)
    workloads = organization.ou("workloads")
    for account in (FIRST, SECOND, THIRD):
        organization.add_account(account, workloads)
        organization.tag_account(account, env="prod")
    autopilot = governed_hub(cloud, organization, workloads, (FIRST, SECOND, THIRD), POLICY, **parameters)
    return organization, autopilot


@pytest.fixture
def tag_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The accounts whose tags Organizations was asked for (ListTagsForResource), in call order."""
    asked: list[str] = []
    original = OrganizationsBackend.list_tags_for_resource

    def recorded(self: Any, **kwargs: Any) -> Any:
        asked.append(str(kwargs.get("ResourceId")))
        return original(self, **kwargs)

    monkeypatch.setattr(OrganizationsBackend, "list_tags_for_resource", recorded)
    return asked


def cached(cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    """Each account item of the record's membership partition: its tags and when they were read."""
    table = cloud.session(HUB).client("dynamodb", region_name=REGION)
    items = table.query(
        TableName=RECORD,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "membership"}},
    )["Items"]
    return {item["sk"]["S"].removeprefix("account#"): item for item in items if item["sk"]["S"].startswith("account#")}


def tags_in(item: dict[str, Any]) -> dict[str, str] | None:
    return {k: v["S"] for k, v in item["tags"]["M"].items()} if "tags" in item else None


def organization_report(deliveries: list[Any]) -> dict[str, Any]:
    [sweep] = [d.result for d in deliveries if d.function == "SweepFunction"]
    return dict(sweep["organization"])


def ask(cloud: LocalCloud, autopilot: LocalAutopilot, account: str, hub_vpc: Side, cidr: str) -> tuple[str, str]:
    """A new VPC of `account` asks to peer with the hub's: the state the peering ends in (`active`
    when accepted, else `rejected:` with the reason the autopilot tagged), and what the autopilot
    published about it."""
    peering_id = request_peering(cloud, make_vpc(cloud, account, REGION, cidr), hub_vpc)
    autopilot.run_until_idle()
    [seen] = cloud.ec2(hub_vpc.account, hub_vpc.region).describe_vpc_peering_connections(
        VpcPeeringConnectionIds=[peering_id]
    )["VpcPeeringConnections"]
    state = str(seen["Status"]["Code"])
    if state == "rejected":
        state = tags_of(cloud, hub_vpc, peering_id).get(STATUS_TAG, "")
    said = json.dumps([e for e in autopilot.published if e["detail"].get("peeringId") == peering_id])
    return state, said


def test_a_budget_of_one_reads_one_accounts_tags_a_sweep_never_read_first_then_the_oldest(
    cloud: LocalCloud, tag_reads: list[str]
) -> None:
    # GIVEN three accounts tagged env=prod, the rule from-prod-accounts, and a budget of one read a sweep
    organization, autopilot = deploy(cloud, AccountTagReadsPerSweep="1")
    hub_vpc = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")

    # WHEN the schedule fires once
    report = organization_report(autopilot.tick())

    # THEN the walk read only FIRST's tags (never read, lowest id); the others are cached without tags
    assert tag_reads == [FIRST]
    assert report["accounts"] == 3 and report["tagsRead"] == 1 and report["tagsStale"] == 0
    items = cached(cloud)
    assert {a: tags_in(i) for a, i in items.items()} == {FIRST: {"env": "prod"}, SECOND: None, THIRD: None}
    assert "tagsReadAt" in items[FIRST]

    # AND the rule matches FIRST; SECOND's tags are not known yet: the rule does not match it, the default rejects
    assert ask(cloud, autopilot, FIRST, hub_vpc, "10.1.0.0/16")[0] == "active"
    status, said = ask(cloud, autopilot, SECOND, hub_vpc, "10.2.0.0/16")
    assert status == "rejected:policy-rejected"
    assert (
        "no rule matches: the default outcome, reject (rule 'from-prod-accounts' not matched: requester: account"
        f" {SECOND}: account tags not known (not read from the Organization))"
    ) in said

    # WHEN the schedule fires twice more
    autopilot.tick()
    assert tag_reads == [FIRST, SECOND]
    assert ask(cloud, autopilot, SECOND, hub_vpc, "10.3.0.0/16")[0] == "active"
    assert ask(cloud, autopilot, THIRD, hub_vpc, "10.4.0.0/16")[0] == "rejected:policy-rejected"
    autopilot.tick()

    # THEN each account's tags were read once, in order, and the rule now matches THIRD too
    assert tag_reads == [FIRST, SECOND, THIRD]
    assert {a: tags_in(i) for a, i in cached(cloud).items()} == {a: {"env": "prod"} for a in (FIRST, SECOND, THIRD)}
    assert ask(cloud, autopilot, THIRD, hub_vpc, "10.5.0.0/16")[0] == "active"

    # WHEN the management account retags FIRST env=dev
    organization.tag_account(FIRST, env="dev")

    # THEN until its turn comes again FIRST is judged by the tags read (the ones cached) ...
    assert ask(cloud, autopilot, FIRST, hub_vpc, "10.6.0.0/16")[0] == "active"

    # ... and the next sweep re-reads the oldest, FIRST's: its new tag no longer passes the rule
    autopilot.tick()
    assert tag_reads == [FIRST, SECOND, THIRD, FIRST]
    assert tags_in(cached(cloud)[FIRST]) == {"env": "dev"}
    assert ask(cloud, autopilot, FIRST, hub_vpc, "10.7.0.0/16")[0] == "rejected:policy-rejected"


def test_tags_read_longer_ago_than_the_bound_are_not_known(cloud: LocalCloud, tag_reads: list[str]) -> None:
    # GIVEN every account's tags read by a sweep (the default budget covers them)
    _, autopilot = deploy(cloud, AccountTagsMaxAgeHours="24")
    hub_vpc = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    autopilot.tick()
    assert sorted(tag_reads) == [FIRST, SECOND, THIRD]

    # WHEN FIRST's tags in the record were read 25 hours ago (its item as a sweep wrote it, older)
    dynamodb = cloud.session(HUB).client("dynamodb", region_name=REGION)
    item = cached(cloud)[FIRST]
    read_at = int(item["tagsReadAt"]["N"])
    dynamodb.put_item(TableName=RECORD, Item={**item, "tagsReadAt": {"N": str(read_at - 25 * 3600)}})

    # THEN FIRST's tags are not known: the rule does not match it, and the decision says why
    status, said = ask(cloud, autopilot, FIRST, hub_vpc, "10.1.0.0/16")
    assert status == "rejected:policy-rejected"
    assert "account tags not known (last read 25 h ago, older than 24 h)" in said

    # AND the next sweep reads FIRST's first (the oldest), and the rule matches it again
    autopilot.tick()
    assert tag_reads[3] == FIRST
    assert ask(cloud, autopilot, FIRST, hub_vpc, "10.2.0.0/16")[0] == "active"


def test_tags_no_longer_needed_are_cleared_and_when_needed_again_are_read_as_never_read(
    cloud: LocalCloud, tag_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from peering_autopilot import authority

    monkeypatch.setattr(authority, "POLICY_CACHE_SECONDS", -1.0)  # each function reads the parameter afresh
    # GIVEN a budget of two, and two sweeps: every account's tags read (FIRST's twice, the oldest)
    _, autopilot = deploy(cloud, AccountTagReadsPerSweep="2")
    autopilot.tick()
    autopilot.tick()
    assert tag_reads == [FIRST, SECOND, THIRD, FIRST]

    # WHEN the policy stops naming account tags and the schedule fires
    vpcs_only = {**POLICY, "rules": [{"name": "vpcs", "requester": {"vpc_tags": {"env": "prod"}}, "outcome": "accept"}]}
    deploy_policy(cloud, vpcs_only)
    report = organization_report(autopilot.tick())

    # THEN no tags are read and every item is rewritten without its tags and read time
    assert len(tag_reads) == 4 and "tagsRead" not in report and report["written"] == 3
    assert all("tags" not in item and "tagsReadAt" not in item for item in cached(cloud).values())

    # WHEN the policy names them again: they are read as never read, in id order, two a sweep
    deploy_policy(cloud, POLICY)
    autopilot.tick()
    assert tag_reads[4:] == [FIRST, SECOND]
