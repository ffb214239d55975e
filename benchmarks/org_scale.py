"""The Organization at scale: 10,000 accounts in 500 OUs, walked as the sweep walks it and cached as
the sweep caches it (docs/governance.md "Managed by the Organization").

The Organization, in an in-process moto (mock_aws, fake credentials):
  a management account 999999999999 with the Organization; 500 OUs three levels deep under the root
  (10 top-level OUs, 7 under each, 6 under each of those: 10 + 70 + 420), made through moto's
  Organizations API; 10,000 ACTIVE accounts spread evenly over the 500 OUs (20 each).
  The accounts are put straight into moto's Organizations backend, not made with CreateAccount:
  moto's CreateAccount builds an IAM backend per new account (its managed policies loaded each
  time), which at 10,000 accounts costs far more than the walk being measured. What the walk reads
  goes through the API, as in AWS.

Measured, each on its own:
  walk      OrganizationsGateway.walk([root]) through the reader role (the hub's sweep assumes it):
            Organizations calls by API, wall time, peak memory allocated (tracemalloc, a second run);
  write     membership.record(): the difference written to the record (DynamoDB calls by API, wall
            time, peak memory) for the first walk (every account new), an unchanged Organization, and a
            lightly changed one (50 accounts moved to another OU, 10 closed: SUSPENDED).
  read      membership.cached(): what every other function reads, once a minute per container.
  tags      the same with a policy that matches by account tags (docs/governance.md "Policy"): one walk reads
            the tags of at most the budget's accounts (AccountTagReadsPerSweep, `--tag-budget`,
            default 200; ListTagsForResource, one call per account), those never read first, then
            the longest ago; its write rewrites those accounts' items (tags and when they were read),
            as does the next walk's for the next budget's accounts; the walks a full refresh takes
            (every account's tags read once: the pick run over the read times, pure, not walked);
            the read of the cache with tags. Every account carries two tags (env, team).

Pages: moto answers ListAccountsForParent and ListOrganizationalUnitsForParent 20 items a page, as
AWS does, so the call counts are AWS's. Times and memory include moto's own work in this process
(moto scans every account of the Organization for each ListAccountsForParent): they compare runs,
they do not predict AWS latency. On AWS the walk's time is set by Organizations' throttling (a few
requests a second per account): the calls divided by that rate.

Usage: python benchmarks/org_scale.py [--accounts 10000] [--ous 500] [--tag-budget 200] [--json] [--no-tags]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1]),
    str(Path(__file__).resolve().parents[1] / "layers" / "peering_autopilot"),
]

from autopilot_local.harness import LocalCloud, use_fake_credentials  # noqa: E402
from autopilot_local.metering import count_calls  # noqa: E402
from autopilot_local.organizations import LocalOrganization  # noqa: E402

REGION = "us-east-1"
HUB = "123456789012"
TABLE = "peering-autopilot-record"


def build(organization: LocalOrganization, accounts: int, ous: int) -> list[str]:
    """500 OUs three levels deep (10 x 7 x 6 by default), then the accounts spread over them."""
    top = max(1, round(ous / 50))
    tree: list[str] = []
    level1 = [organization.ou(f"top-{i}") for i in range(top)]
    tree += level1
    level2 = [organization.ou(f"mid-{i}-{j}", parent) for i, parent in enumerate(level1) for j in range(7)]
    tree += level2
    left = ous - len(tree)
    per = max(1, left // max(1, len(level2)))
    for i, parent in enumerate(level2):
        for j in range(per if i < len(level2) - 1 else left - per * (len(level2) - 1)):
            tree.append(organization.ou(f"leaf-{i}-{j}", parent))
    _populate(organization, accounts, tree)
    return tree


def _populate(organization: LocalOrganization, count: int, units: list[str]) -> None:
    """Accounts straight into moto's backend (see the docstring), ACTIVE, spread over `units`."""
    from moto.core.utils import utcnow
    from moto.organizations.models import FakeAccount, organizations_backends

    backend = organizations_backends[organization.management_account]["aws"]
    org = backend.org
    now = utcnow()
    for n in range(count):
        account = FakeAccount.__new__(FakeAccount)
        account.type = "ACCOUNT"
        account.region = org.region
        account.organization_id = org.id
        account.master_account_id = org.master_account_id
        account.create_account_status_id = f"car-{n:032d}"
        account.id = f"{300000000000 + n:012d}"
        account.name = f"account-{n}"
        account.email = f"account-{n}@example.com"
        account.create_time = now
        account.status = account.state = "ACTIVE"
        account.joined_method = "CREATED"
        account.parent_id = units[n % len(units)]
        account.attached_policies = []
        account.tags = {"env": ("prod", "dev", "test")[n % 3], "team": f"team-{n % 50}"}
        backend.accounts.append(account)
        organizations_backends.master_accounts[account.id] = (organization.management_account, "aws")


def measure(run: Callable[[], Any]) -> dict[str, Any]:
    """Calls by service and API, wall time, then the peak memory of a second run under tracemalloc
    (the second run of a write finds nothing more to write: its peak is shown only for reads)."""
    with count_calls() as log:
        start = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - start
    calls = Counter(f"{service}:{operation}" for service, operation in log.calls)
    return {"result": result, "seconds": round(seconds, 2), "calls": dict(sorted(calls.items()))}


def peak(run: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        run()
        return round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--ous", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-tags", action="store_true", help="skip the run with a policy using account tags")
    parser.add_argument(
        "--tag-budget", type=int, default=200, help="accounts whose tags one walk reads (AccountTagReadsPerSweep)"
    )
    args = parser.parse_args(argv)
    use_fake_credentials(REGION)
    from moto import mock_aws

    from peering_autopilot import membership
    from peering_autopilot.context import Context
    from peering_autopilot.organization import pick_tag_reads
    from peering_autopilot.policy import parse
    from peering_autopilot.settings import Settings

    figures: dict[str, Any] = {"accounts": args.accounts, "ous": args.ous}
    with mock_aws():
        cloud = LocalCloud(HUB)
        organization = LocalOrganization(cloud)
        start = time.perf_counter()
        tree = build(organization, args.accounts, args.ous)
        figures["build_seconds"] = round(time.perf_counter() - start, 1)
        dynamodb = cloud.session(HUB).client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        settings = Settings(
            hub_account_id=HUB,
            hub_region=REGION,
            approved_account_ids=frozenset(),
            member_role_name="PeeringAutopilotMember-reader",
            managed_regions=(REGION,),
            event_bus_name="bus",
            record_table=TABLE,
            managed_units=frozenset({organization.root_id}),
            organizations_role_arn=organization.reader_role_arn,
        )
        ctx = Context.of(settings)
        ctx.aws.organizations()  # the role assumed once, as in a warm container: not in the figures

        walked = measure(lambda: membership.walk(ctx))
        snapshot = walked.pop("result")
        assert snapshot.complete and len(snapshot.paths) == args.accounts + 1, "the walk missed accounts"
        walked["peak_mib"] = peak(lambda: membership.walk(ctx))
        walked["accounts_read"] = len(snapshot.paths)
        walked["ous_seen"] = len(snapshot.seen_units)
        figures["walk"] = walked

        def write(name: str, snap: Any) -> None:
            written = measure(lambda: membership.record(ctx, snap))
            report = written.pop("result")[1]
            written["written"], written["dropped"] = report.written, report.dropped
            figures[name] = written

        write("write_first", snapshot)
        again = membership.walk(ctx)
        write("write_unchanged", again)
        figures["write_unchanged"]["peak_mib"] = peak(lambda: membership.record(ctx, again))
        accounts = sorted(a for a in snapshot.paths if a != organization.management_account)
        for account in accounts[:50]:
            organization.move(account, tree[-1] if snapshot.paths[account][-1] != tree[-1] else tree[0])
        for account in accounts[50:60]:
            organization.suspend(account)
        changed = membership.walk(ctx)
        write("write_light_change", changed)
        assert (figures["write_light_change"]["written"], figures["write_light_change"]["dropped"]) == (50, 10)

        membership._containers.clear()
        read = measure(lambda: membership.cached(ctx))
        assert read.pop("result").is_managed(accounts[100])
        membership._containers.clear()
        read["peak_mib"] = peak(lambda: membership.cached(ctx))
        figures["read"] = read

        if not args.no_tags:
            document = {
                "version": 1,
                "rules": [
                    {
                        "name": "prod-accounts-only",
                        "requester": {"account_tags": {"env": "prod"}},
                        "accepter": {"account_tags": {"env": "prod"}},
                        "outcome": "accept",
                    }
                ],
            }
            policy = parse(document, settings.allowed_peer_cidrs, "benchmark")
            tagged = dataclasses.replace(settings, policy=policy, account_tag_reads_per_sweep=args.tag_budget)
            tagged_ctx = dataclasses.replace(ctx, settings=tagged)
            walked = measure(lambda: membership.walk(tagged_ctx))
            snapshot = walked.pop("result")
            budget = min(args.tag_budget, len(snapshot.paths))
            assert snapshot.complete and len(snapshot.tags) == budget, "the walk read other than its budget"
            walked["peak_mib"] = peak(lambda: membership.walk(tagged_ctx))
            walked["accounts_read"], walked["tags_read"] = len(snapshot.paths), len(snapshot.tags)
            figures["tags_walk"] = walked

            def write_tags(name: str, snap: Any) -> None:
                written = measure(lambda: membership.record(tagged_ctx, snap))
                report = written.pop("result")[1]
                written["written"], written["dropped"] = report.written, report.dropped
                figures[name] = written

            write_tags("tags_write_first", snapshot)
            first_read = sorted(snapshot.tags)
            following = membership.walk(tagged_ctx)
            assert not set(following.tags) & set(first_read), "the next walk read again what the first read"
            write_tags("tags_write_next", following)
            assert figures["tags_write_next"]["written"] == len(following.tags)

            # A full refresh: the pick, run over the read times as the walks leave them (pure: every
            # walk reads its budget at its own time), until every account's tags were read once.
            read_at: dict[str, float] = {}
            walks = 0
            while len(read_at) < len(snapshot.paths):
                walks += 1
                for account in pick_tag_reads(snapshot.paths, read_at, args.tag_budget):
                    read_at[account] = float(walks)
            figures["tags_full_refresh"] = {"accounts": len(snapshot.paths), "budget": args.tag_budget, "walks": walks}

            membership._containers.clear()
            read = measure(lambda: membership.cached(tagged_ctx))
            known = read.pop("result")
            assert known.account_tags(first_read[0]) is not None and len(known.tags) == len(first_read) + len(
                following.tags
            )
            membership._containers.clear()
            read["peak_mib"] = peak(lambda: membership.cached(tagged_ctx))
            figures["tags_read"] = read

    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{args.accounts:,} accounts in {args.ous} OUs (built in {figures['build_seconds']} s)")
    names = ["walk", "write_first", "write_unchanged", "write_light_change", "read"]
    if not args.no_tags:
        names += ["tags_walk", "tags_write_first", "tags_write_next", "tags_read"]
    for name in names:
        row = figures[name]
        extra = {k: v for k, v in row.items() if k not in ("calls", "seconds")}
        print(f"  {name:<23} {row['seconds']:>7} s  {sum(row['calls'].values()):>5} calls {row['calls']}  {extra}")
    if not args.no_tags:
        full = figures["tags_full_refresh"]
        print(
            f"  tags_full_refresh       {full['walks']} walks of {full['budget']} tag reads read every one of"
            f" {full['accounts']:,} accounts' tags once"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
