"""Rules that match the accounts' tags in the Organization (written only by its management, unlike a
VPC's tags, which its own account writes): parsed and validated by rule and field, matched with
words saying why not, not known (so not matching) where the walk did not read them; read by the
walk only when the policy uses them, and cached as a difference."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from autopilot_local.harness import LocalCloud
from autopilot_local.organizations import LocalOrganization
from peering_autopilot.aws.organizations import OrganizationsGateway
from peering_autopilot.cli import main
from peering_autopilot.decision import PENDING, Reason, decide
from peering_autopilot.model import Cidrs, Peering, PeeringSide, Vpc
from peering_autopilot.organization import Membership, OrgSnapshot, membership_changes
from peering_autopilot.policy import ACCEPT, DEFAULT_RULE, REJECT, Party, PolicyError, parse
from peering_autopilot.settings import DEFAULT_PEER_CIDRS, PeerCidrPolicy, Settings

HUB, PROD, PROD2, DEV = "111111111111", "222222222222", "555555555555", "333333333333"
ROOT = "r-ab12"
PARAMS = PeerCidrPolicy.parse(DEFAULT_PEER_CIDRS)
PROD_RULE: dict[str, Any] = {
    "name": "prod-accounts-only",
    "requester": {"account_tags": {"env": "prod"}},
    "accepter": {"account_tags": {"env": "prod"}},
    "outcome": "accept",
}


def policy(*rules: dict[str, Any], default: str = "reject") -> Any:
    return parse({"version": 1, "defaults": {"outcome": default}, "rules": list(rules)}, PARAMS)


def party(account: str, tags: dict[str, str] | None, **vpc_tags: str) -> Party:
    return Party(account, (ROOT,), "vpc-0aaaaaaaaaaaaaaa1", vpc_tags, None if tags is None else MappingProxyType(tags))


# ------------------------------------------------------------------------------------ the document
def test_account_tags_are_parsed_into_each_side_and_the_policy_says_it_uses_them() -> None:
    parsed = policy(PROD_RULE)
    [rule] = parsed.rules
    assert dict(rule.requester.account_tags) == {"env": "prod"} and dict(rule.accepter.account_tags) == {"env": "prod"}
    assert parsed.uses_account_tags()
    assert not policy(
        {"name": "vpcs", "requester": {"vpc_tags": {"env": "prod"}}, "outcome": "accept"}
    ).uses_account_tags()
    assert policy({"name": "same", "same_account_tags": ["env"], "outcome": "accept"}).uses_account_tags()


def test_bad_account_tags_are_named_by_rule_and_field() -> None:
    with pytest.raises(PolicyError) as raised:
        policy(
            {"name": "numbers", "requester": {"account_tags": {"tier": 1}}, "outcome": "accept"},
            {"name": "a-list", "accepter": {"account_tags": ["env"]}, "outcome": "accept"},
            {"name": "same", "same_account_tags": "env", "outcome": "accept"},
        )
    assert raised.value.problems == (
        "rules[0] 'numbers': field 'requester'.account_tags: must map tag keys to string values "
        "(quote numbers and booleans)",
        "rules[1] 'a-list': field 'accepter'.account_tags: must map tag keys to string values "
        "(quote numbers and booleans)",
        "rules[2] 'same': field 'same_account_tags': must be a list of tag keys",
    )


def test_ranges_and_groups_do_not_take_account_tags() -> None:
    with pytest.raises(PolicyError) as raised:
        parse({"version": 1, "groups": {"shared": {"accounts": [PROD], "account_tags": {"env": "prod"}}}}, PARAMS)
    assert raised.value.problems == ("groups 'shared': unknown field(s) ['account_tags'] (allowed: accounts, ous)",)


# ------------------------------------------------------------------------------------ matching
def test_both_prod_accounts_match_and_a_dev_account_with_a_prod_vpc_does_not() -> None:
    parsed = policy(PROD_RULE)
    accepted = parsed.verdict(party(PROD, {"env": "prod"}), party(PROD2, {"env": "prod", "team": "a"}), 0)
    assert (accepted.outcome, accepted.rule) == (ACCEPT, "prod-accounts-only")
    forged = parsed.verdict(party(DEV, {"env": "dev"}, env="prod"), party(PROD2, {"env": "prod"}, env="prod"), 0)
    assert (forged.outcome, forged.rule) == (REJECT, DEFAULT_RULE)
    assert parsed.explain(party(DEV, {"env": "dev"}, env="prod"), party(PROD2, {"env": "prod"}), 0) == [
        ("prod-accounts-only", f"requester: account {DEV} has env='dev', not env='prod'"),
        (DEFAULT_RULE, "no rule matched: reject"),
    ]


def test_explain_says_a_tag_is_missing_or_not_known() -> None:
    parsed = policy(PROD_RULE)
    assert parsed.explain(party(PROD, {"env": "prod"}), party(PROD2, {}), 0)[0] == (
        "prod-accounts-only",
        f"accepter: account {PROD2} has no tag env, not env='prod'",
    )
    # not read from the Organization (an explicit account outside the walked OUs): fail safe
    assert parsed.explain(party(PROD, None), party(PROD2, {"env": "prod"}), 0)[0] == (
        "prod-accounts-only",
        f"requester: account {PROD}: account tags not known (not read from the Organization)",
    )


def test_a_rule_without_account_tags_matches_an_account_whose_tags_are_not_known() -> None:
    parsed = policy({"name": "vpcs", "requester": {"vpc_tags": {"env": "prod"}}, "outcome": "accept"})
    assert parsed.verdict(party(DEV, None, env="prod"), party(PROD, None), 0).outcome == ACCEPT


def test_same_account_tags_needs_both_accounts_to_carry_the_same_value() -> None:
    parsed = policy({"name": "same-env", "same_account_tags": ["env"], "outcome": "accept"})
    assert parsed.verdict(party(PROD, {"env": "prod"}), party(PROD2, {"env": "prod"}), 0).rule == "same-env"
    assert parsed.explain(party(PROD, {"env": "prod"}), party(DEV, {"env": "dev"}), 0)[0] == (
        "same-env",
        "the accounts' env tags differ ('prod', 'dev')",
    )
    assert parsed.explain(party(PROD, {}), party(DEV, {}), 0)[0] == (
        "same-env",
        "the accounts' env tags differ (None, None)",
    )
    assert parsed.explain(party(PROD, {"env": "prod"}), party(DEV, None), 0)[0] == (
        "same-env",
        f"accepter: account {DEV}: account tags not known (not read from the Organization)",
    )


# ------------------------------------------------------------------------------------ membership
def test_the_membership_knows_the_tags_the_walk_read_and_no_others() -> None:
    snapshot = OrgSnapshot({PROD: (ROOT,), DEV: (ROOT,)}, tags={PROD: {"env": "prod"}, DEV: {}})
    membership = Membership.of(HUB, {PROD2}, {ROOT}, snapshot)
    assert membership.account_tags(PROD) == {"env": "prod"}
    assert membership.account_tags(DEV) == {}  # read: it has none
    assert membership.account_tags(PROD2) is None  # explicit, outside the walk: not known
    assert Membership(HUB).account_tags(PROD) is None


def test_the_difference_writes_accounts_whose_tags_changed_or_were_read_or_no_longer_are() -> None:
    before = {PROD: (ROOT,), DEV: (ROOT,), PROD2: (ROOT,)}
    tags_before = {PROD: {"env": "prod"}, DEV: {"env": "dev"}}
    after = OrgSnapshot(
        dict(before), complete=True, tags={PROD: {"env": "prod"}, DEV: {"env": "prod"}, PROD2: {"env": "prod"}}
    )
    assert membership_changes(before, after, tags_before) == ({DEV: (ROOT,), PROD2: (ROOT,)}, [])
    not_read = OrgSnapshot(dict(before), complete=True)  # the policy no longer uses account tags
    assert membership_changes(before, not_read, tags_before) == ({PROD: (ROOT,), DEV: (ROOT,)}, [])
    assert membership_changes(before, not_read) == ({}, [])  # without tags to compare: paths only


def test_decide_fills_each_side_with_its_account_tags() -> None:
    settings = Settings(
        hub_account_id=HUB,
        hub_region="us-east-1",
        approved_account_ids=frozenset({DEV}),
        member_role_name="PeeringAutopilotMember",
        managed_regions=("us-east-1",),
        event_bus_name="bus",
        membership=Membership.of(
            HUB,
            {DEV},
            {ROOT},
            OrgSnapshot({PROD: (ROOT,), PROD2: (ROOT,)}, tags={PROD: {"env": "prod"}, PROD2: {"env": "prod"}}),
        ),
        policy=policy(PROD_RULE),
    )
    assert settings.account_tags(PROD) == {"env": "prod"} and settings.account_tags(DEV) is None

    def judge(requester: str) -> Any:
        peering = Peering(
            "pcx-0123456789abcdef0",
            PENDING,
            "",
            PeeringSide(requester, "us-east-1", "vpc-0aaaaaaaaaaaaaaa1", Cidrs.of(["10.1.0.0/16"])),
            PeeringSide(PROD2, "us-east-1", "vpc-0bbbbbbbbbbbbbbb2", Cidrs()),
        )
        accepter = Vpc(
            "vpc-0bbbbbbbbbbbbbbb2",
            PROD2,
            "us-east-1",
            Cidrs.of(["10.2.0.0/16"]),
            {"peering-autopilot:enabled": "true"},
        )
        mine = Vpc("vpc-0aaaaaaaaaaaaaaa1", requester, "us-east-1", Cidrs.of(["10.1.0.0/16"]), {"env": "prod"})
        return decide(peering, accepter, Cidrs.of(["10.1.0.0/16"]), settings, None, 0, mine)

    assert judge(PROD).accept
    declined = judge(DEV)
    assert declined.reasons == (Reason.POLICY_REJECTED,)
    assert declined.verdict is not None and declined.verdict.rule == DEFAULT_RULE


# ------------------------------------------------------------------------------------ the walk
@pytest.fixture
def organization(cloud: LocalCloud) -> LocalOrganization:
    org = LocalOrganization(cloud)
    for account in (PROD, DEV):
        org.add_account(account)
    org.tag_account(PROD, env="prod", team="payments")
    return org


def test_the_walk_reads_each_accounts_tags_only_when_asked(organization: LocalOrganization) -> None:
    gateway = OrganizationsGateway(organization.client, clock=lambda: 1000.0)
    plain = gateway.walk([organization.root_id])
    assert dict(plain.tags) == {}
    tagged = gateway.walk([organization.root_id], read_tags=True)
    assert tagged.complete and tagged.problems == ()
    assert {a: dict(t) for a, t in tagged.tags.items()} == {
        PROD: {"env": "prod", "team": "payments"},
        DEV: {},
        organization.management_account: {},
    }


def test_a_tag_read_that_fails_leaves_that_account_unknown_and_the_walk_complete(
    organization: LocalOrganization, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    gateway = OrganizationsGateway(organization.client, clock=lambda: 1000.0)
    real = gateway.account_tags

    def refuse(account_id: str) -> dict[str, str]:
        if account_id == DEV:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListTagsForResource")
        return real(account_id)

    monkeypatch.setattr(gateway, "account_tags", refuse)
    snapshot = gateway.walk([organization.root_id], read_tags=True)
    assert snapshot.complete and DEV in snapshot.paths and DEV not in snapshot.tags
    assert snapshot.problems == (f"{DEV}: its account tags not read (AccessDeniedException: no)",)


def test_the_tag_read_declares_its_call() -> None:
    assert OrganizationsGateway.account_tags.iam_actions == {"organizations:ListTagsForResource"}  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------ policy explain|test
PROD_POLICY = """
version: 1
defaults: {outcome: reject}
rules:
  - name: prod-accounts-only
    requester: {account_tags: {env: prod}}
    accepter: {account_tags: {env: prod}}
    outcome: accept
"""


def test_explain_takes_the_account_tags_from_the_status_file_or_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "policy.yaml").write_text(PROD_POLICY)
    vpcs = [
        {"accountId": DEV, "region": "us-east-1", "vpcId": "vpc-0a0a0a0a", "cidrs": ["10.1.0.0/16"],
         "tags": {"env": "prod"}, "accountTags": {"env": "dev"}},
        {"accountId": PROD, "region": "us-east-1", "vpcId": "vpc-0b0b0b0b", "cidrs": ["10.2.0.0/16"], "tags": {}},
    ]  # fmt: skip
    (tmp_path / "status.json").write_text(json.dumps({"places": [], "peerings": [], "vpcs": vpcs}))
    argv = [
        "policy",
        "explain",
        "--from",
        f"{DEV}/us-east-1/vpc-0a0a0a0a",
        "--to",
        f"{PROD}/us-east-1/vpc-0b0b0b0b",
        "--policy",
        str(tmp_path / "policy.yaml"),
        "--status-json",
        str(tmp_path / "status.json"),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "  account tags: env=dev\n  tags: env=prod\n" in out
    assert "  account tags: not known (not given: rules by account tags do not match it)\n" in out
    assert f"  1. prod-accounts-only: requester: account {DEV} has env='dev', not env='prod'\n" in out
    assert out.endswith("Outcome: reject (rule 'defaults')\n")

    # the management retags DEV's account env=prod, and PROD's is given: the rule matches
    assert main([*argv, "--account-tags", f"{DEV}=env=prod", "--account-tags", f"{PROD}=env=prod,team=a"]) == 0
    out = capsys.readouterr().out
    assert "  account tags: env=prod, team=a\n" in out
    assert out.endswith("Outcome: accept (rule 'prod-accounts-only')\n")

    assert main([*argv, "--account-tags", "env=prod"]) == 2
    assert capsys.readouterr().err == (
        "error: --account-tags 'env=prod' is not ACCOUNT=KEY=VALUE,KEY=VALUE (the account's tags in the Organization)\n"
    )


def test_cases_take_account_tags_and_name_a_bad_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "policy.yaml").write_text(PROD_POLICY)
    cases = [
        {"from": {"account": PROD, "account_tags": {"env": "prod"}},
         "to": {"account": PROD2, "account_tags": {"env": "prod"}}, "expect": "accept"},
        {"name": "not read", "from": {"account": PROD}, "to": {"account": PROD2, "account_tags": {"env": "prod"}},
         "expect": "reject"},
    ]  # fmt: skip
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    assert main(["policy", "test", str(tmp_path / "policy.yaml"), str(tmp_path / "cases.json")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"PASS  case 1: {PROD} {{env=prod}} -> {PROD2} {{env=prod}}: accept (rule 'prod-accounts-only')",
        f"PASS  case 2 'not read': {PROD} -> {PROD2} {{env=prod}}: reject (rule 'defaults')",
        "2 case(s): 2 passed, 0 failed",
    ]
    (tmp_path / "bad.json").write_text(
        json.dumps(
            [{"from": {"account": PROD, "account_tags": {"env": 1}}, "to": {"account": PROD2}, "expect": "accept"}]
        )
    )
    assert main(["policy", "test", str(tmp_path / "policy.yaml"), str(tmp_path / "bad.json")]) == 2
    assert "case 1: field 'from'.account_tags: must map tag keys to string values" in capsys.readouterr().err
