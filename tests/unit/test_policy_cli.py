"""`peering-autopilot policy check|test|explain|deploy`: their output and exit status."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from peering_autopilot.cli import main

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLE = PROJECT / "examples" / "policy.yaml"
CASES = PROJECT / "examples" / "policy-cases.yaml"

GOOD = """
version: 1
defaults: {outcome: reject}
rules:
  - name: freeze
    window: {start: "2026-12-18T00:00:00Z", end: "2027-01-04T00:00:00Z"}
    outcome: reject
  - name: prod-with-prod
    requester: {vpc_tags: {env: prod}}
    accepter: {vpc_tags: {env: prod}}
    outcome: accept
ranges:
  - {ous: [ou-ab12-produnit], cidrs: [10.0.0.0/12]}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_example_policy_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{EXAMPLE}: valid: 7 rule(s) (change-freeze, prod-with-prod,")
    assert "default outcome ask, 3 range entries, 1 group(s);" in out
    assert out.count("\n") == 1


def test_the_example_cases_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", str(EXAMPLE), str(CASES)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "7 case(s): 7 passed, 0 failed"
    assert out[1] == (
        "PASS  case 2 'the freeze stops even prod': 222222222222 [env=prod] -> 444444444444 [env=prod]: "
        "reject (rule 'change-freeze')"
    )


@pytest.mark.parametrize(
    ("text", "faults"),
    [
        pytest.param(
            "version: 1\nrules:\n  - name: a\n    outcome: accept\n    colour: blue\n",
            ["rules[0] 'a': unknown field(s) ['colour'] (allowed: "],
            id="unknown field",
        ),
        pytest.param(
            "version: 1\nranges:\n  - {accounts: ['222222222222'], cidrs: [10.0.0.1/8]}\n",
            ["ranges[0]: field 'cidrs': not CIDR blocks (network/prefix, host bits zero): ['10.0.0.1/8']"],
            id="bad CIDR",
        ),
        pytest.param(
            "version: 1\nrules:\n  - name: a\n    outcome: maybe\n  - name: a\n    outcome: accept\n",
            [
                "rules[0] 'a': field 'outcome': must be one of accept, ask, reject, got 'maybe'",
                "rules[1] 'a': field 'name': used by an earlier rule",
            ],
            id="every fault at once",
        ),
        pytest.param(
            "version: 1\nrules:\n  - name: a\n    requester: {accounts: [222222222222]}\n    outcome: accept\n",
            ["rules[0] 'a': field 'requester'.accounts: not 12-digit account ids: [222222222222]"],
            id="an unquoted account id",
        ),
    ],
)
def test_a_bad_document_exits_2_naming_each_rule_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, faults: list[str]
) -> None:
    path = write(tmp_path, "policy.yaml", text)
    assert main(["policy", "check", path]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0] == f"error: {path}: {len(faults)} fault(s), nothing used:"
    assert len(lines) == len(faults) + 1
    for line, fault in zip(lines[1:], faults, strict=True):
        assert line.startswith(f"  - {fault}")


def test_bad_yaml_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "policy.yaml", "version: 1\nrules:\n  - name: a\n   outcome: [accept\n")
    assert main(["policy", "check", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: not YAML at line 4 column")


def test_bad_json_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "policy.json", '{"version": 1,\n "rules": [}')
    assert main(["policy", "check", path]) == 2
    assert capsys.readouterr().err == f"error: {path}: not JSON: Expecting value at line 2 column 12\n"


def test_an_ou_the_organization_does_not_have_is_a_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "policy.yaml", GOOD)
    assert main(["policy", "check", path, "--known-ous", "r-ab12,ou-ab12-produnit"]) == 0
    capsys.readouterr()
    assert main(["policy", "check", path, "--known-ous", "r-ab12,ou-ab12-other001"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {path}: 1 fault(s), nothing used:",
        "  - unknown OU ou-ab12-produnit: not in the managed part of the Organization",
    ]


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot read {tmp_path / 'nope.yaml'}:")


def test_a_failing_case_exits_1_saying_what_decided(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(tmp_path, "policy.yaml", GOOD)
    cases = write(
        tmp_path,
        "cases.json",
        json.dumps(
            [
                {
                    "from": {"account": "222222222222", "vpc_tags": {"env": "prod"}},
                    "to": {"account": "333333333333", "vpc_tags": {"env": "prod"}},
                    "at": "2026-12-20T00:00:00Z",
                    "expect": "accept",
                },
                {
                    "name": "outside the freeze",
                    "from": {"account": "222222222222", "vpc_tags": {"env": "prod"}},
                    "to": {"account": "333333333333", "vpc_tags": {"env": "prod"}},
                    "at": "2027-01-04T00:00:00Z",
                    "expect": "accept",
                },
            ]
        ),
    )
    assert main(["policy", "test", policy, cases]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "FAIL  case 1: 222222222222 [env=prod] -> 333333333333 [env=prod]: expected accept, got reject: "
        "rule 'freeze' matches: reject",
        "PASS  case 2 'outside the freeze': 222222222222 [env=prod] -> 333333333333 [env=prod]: "
        "accept (rule 'prod-with-prod')",
        "2 case(s): 1 passed, 1 failed",
    ]


def test_a_bad_cases_file_exits_2_naming_the_case_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(tmp_path, "policy.yaml", GOOD)
    cases = write(
        tmp_path,
        "cases.yaml",
        "- from: {account: 222222222222}\n  to: {account: '333333333333'}\n  expect: yes\n",
    )
    assert main(["policy", "test", policy, cases]) == 2
    err = capsys.readouterr().err
    assert "case 1: field 'expect': must be one of accept, ask, reject, got True" in err
    assert "case 1: field 'from'.account: must be a 12-digit account id in quotes, got 222222222222" in err


def status_file(tmp_path: Path) -> str:
    vpcs = [
        {
            "accountId": "222222222222",
            "region": "us-east-1",
            "vpcId": "vpc-0a0a0a0a",
            "cidrs": ["10.1.0.0/16"],
            "tags": {"env": "prod"},
            "ouPath": ["r-ab12", "ou-ab12-produnit"],
        },
        {
            "accountId": "333333333333",
            "region": "us-west-2",
            "vpcId": "vpc-0b0b0b0b",
            "cidrs": ["10.200.0.0/16"],
            "tags": {"env": "prod"},
            "ouPath": [],
        },
    ]
    return write(tmp_path, "status.json", json.dumps({"places": [], "peerings": [], "vpcs": vpcs}))


def test_explain_says_rule_by_rule_why_and_each_sides_ranges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write(tmp_path, "policy.yaml", GOOD)
    argv = [
        "policy",
        "explain",
        "--from",
        "222222222222/us-east-1/vpc-0a0a0a0a",
        "--to",
        "333333333333/us-west-2/vpc-0b0b0b0b",
        "--policy",
        policy,
        "--status-json",
        status_file(tmp_path),
        "--at",
        "2026-11-01T00:00:00Z",
    ]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "Requester: account 222222222222 VPC vpc-0a0a0a0a",
        "  OU path: r-ab12/ou-ab12-produnit",
        "  tags: env=prod",
        "  blocks: 10.1.0.0/16",
        "  ranges (the policy's ranges[0]): 10.0.0.0/12; any IPv6: every block inside",
        "Accepter: account 333333333333 VPC vpc-0b0b0b0b",
        "  OU path: unknown (not given: rules by OU do not match it)",
        "  tags: env=prod",
        "  blocks: 10.200.0.0/16",
        "  ranges (AllowedPeerCidrs): 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10; any IPv6: "
        "every block inside",
        "Rules, in order:",
        "  1. freeze: outside its window 2026-12-18T00:00:00Z to 2027-01-04T00:00:00Z",
        "  2. prod-with-prod: matches: accept",
        "Outcome: accept (rule 'prod-with-prod')",
    ]
    # in the freeze, and with the accepter's account put where its block is outside its ranges
    argv[-1] = "2026-12-20T00:00:00Z"
    assert main([*argv, "--ou-path", "333333333333=r-ab12/ou-ab12-produnit"]) == 0
    out = capsys.readouterr().out
    assert "  1. freeze: matches: reject\nOutcome: reject (rule 'freeze')\n" in out
    assert "OUTSIDE: 10.200.0.0/16: never accepted, routed or allowed" in out
    assert out.endswith(
        "But a block is outside its owner's ranges: the request is not accepted whatever the rules say.\n"
    )


def test_explain_without_the_vpcs_in_the_status_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = write(tmp_path, "status.json", json.dumps({"places": [], "peerings": []}))
    argv = [
        "policy",
        "explain",
        "--from",
        "222222222222/us-east-1/vpc-0a0a0a0a",
        "--to",
        "333333333333/us-west-2/vpc-0b0b0b0b",
    ]
    assert main([*argv, "--status-json", saved]) == 2
    assert "no VPCs listed: save it with `peering-autopilot status --json --with-vpcs`" in capsys.readouterr().err
    assert main(["policy", "explain", "--from", "2222/us-east-1/vpc-0a0a0a0a", "--to", argv[-1]]) == 2
    assert "--from '2222/us-east-1/vpc-0a0a0a0a' is not ACCOUNT/REGION/VPC" in capsys.readouterr().err


def test_deploy_validates_first_then_stores_json_a_new_version_each_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mocked_aws: None
) -> None:
    name = "/peering-autopilot/policy"
    ssm = boto3.client("ssm", region_name="us-east-1")
    bad = write(tmp_path, "bad.yaml", "version: 2\n")
    assert main(["policy", "deploy", bad, "--parameter-name", name, "--region", "us-east-1"]) == 2
    assert "field 'version': must be 1, got 2" in capsys.readouterr().err
    assert ssm.describe_parameters()["Parameters"] == []  # nothing written

    assert main(["policy", "deploy", str(EXAMPLE), "--parameter-name", name, "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{EXAMPLE}: deployed to {name} version 1 in us-east-1 (Standard tier, ")
    assert out.endswith("In force within 60 seconds.\n")
    stored = ssm.get_parameter(Name=name)["Parameter"]
    document = json.loads(stored["Value"])
    assert document["rules"][0]["name"] == "change-freeze"
    assert stored["Type"] == "String"

    assert main(["policy", "deploy", str(EXAMPLE), "--parameter-name", name, "--region", "us-east-1"]) == 0
    assert f"deployed to {name} version 2" in capsys.readouterr().out


def test_a_large_document_goes_to_the_advanced_tier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mocked_aws: None
) -> None:
    rules = "".join(
        f"  - {{name: rule-{i:03d}, requester: {{accounts: ['{i:012d}']}}, outcome: accept}}\n" for i in range(90)
    )
    path = write(tmp_path, "policy.yaml", f"version: 1\nrules:\n{rules}")
    assert main(["policy", "deploy", path, "--parameter-name", "/p", "--region", "us-east-1"]) == 0
    assert "(Advanced tier, " in capsys.readouterr().out
    [described] = boto3.client("ssm", region_name="us-east-1").describe_parameters()["Parameters"]
    assert described["Tier"] == "Advanced"


@pytest.mark.parametrize("name", ["policy", "/peering-autopilot-no-policy", "/a/*"])
def test_deploy_refuses_a_name_the_template_would_not_grant(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "deploy", str(EXAMPLE), "--parameter-name", name]) == 2
    assert f"--parameter-name {name!r} is not the hub's PolicyParameterName" in capsys.readouterr().err


def test_status_refuses_a_policy_it_cannot_use_naming_the_fault(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mocked_aws: None
) -> None:
    path = write(tmp_path, "policy.yaml", "version: 1\nrules: [{name: a}]\n")
    assert main(["status", "--regions", "us-east-1", "--policy", path]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}: rules[0] 'a': field 'outcome': required (accept, ask or reject)\n"
    )
    assert main(["status", "--regions", "us-east-1", "--policy-parameter-name", "/nope"]) == 2
    assert capsys.readouterr().err == "error: no parameter /nope in region us-east-1\n"


def test_explain_reads_the_live_vpcs_and_the_deployed_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mocked_aws: None
) -> None:
    # GIVEN the deployed document and two VPCs of the operator's own account
    policy = write(tmp_path, "policy.yaml", GOOD)
    assert main(["policy", "deploy", policy, "--parameter-name", "/pa/policy", "--region", "us-east-1"]) == 0
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ids = []
    for cidr, env in (("10.1.0.0/16", "prod"), ("10.2.0.0/16", "dev")):
        vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "env", "Value": env}])
        ids.append(vpc)
    capsys.readouterr()

    # WHEN explained against the live estate
    argv = [
        "policy",
        "explain",
        "--from",
        f"123456789012/us-east-1/{ids[0]}",
        "--to",
        f"123456789012/us-east-1/{ids[1]}",
    ]
    assert main([*argv, "--parameter-name", "/pa/policy", "--region", "us-east-1", "--at", "2026-11-01T00:00:00Z"]) == 0

    # THEN the tags and blocks are EC2's, the policy the parameter's version
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Policy: parameter /pa/policy version 1; at " + lines[0].split("; at ")[1]
    assert "  tags: env=dev" in lines
    assert "  blocks: 10.2.0.0/16" in lines
    assert "  2. prod-with-prod: accepter: VPC " + ids[1] + " has env='dev', not env='prod'" in lines
    assert lines[-1] == "Outcome: reject (rule 'defaults')"
