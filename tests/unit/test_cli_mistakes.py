"""Every-day mistakes with the command line's credentials and options: one line on stderr naming
what is wrong, nothing on stdout, no traceback, exit status 2 (issue 23, item 6).

Expired or unrecognised credentials are AWS's answers: a small HTTP server on 127.0.0.1
(tests/support/stub_aws.py) answers each service in its own protocol's error shape, as AWS does,
and botocore parses them as it parses AWS's. An unknown profile and no credentials at all
are botocore's own refusals, before any request.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopilot_local.metering import CallLog
from peering_autopilot.cli import main
from tests.support.stub_aws import StubAws, serving

PCX = "pcx-0123456789abcdef0"
EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "examples" / "policy.yaml"
REGION = "us-east-1"
# One command of each kind that talks to AWS, with what it needs besides the credentials.
COMMANDS = {
    "status": ["status"],
    "doctor": ["doctor", PCX],
    "history": ["history", PCX],
    "approve": ["approve", PCX, "--reason", "change 42"],
    "reject": ["reject", PCX, "--reason", "change 42"],
    "policy explain": [
        "policy", "explain", "--from", "111111111111/us-east-1/vpc-0123456789abcdef0",
        "--to", "222222222222/us-east-1/vpc-0fedcba9876543210", "--parameter-name", "/peering-autopilot/policy",
    ],
}  # fmt: skip

UNKNOWN_PROFILE = (
    "error: the AWS profile 'nope' ({source}) is not in your AWS config files: "
    "`aws configure list-profiles` lists those there are\n"
)
NO_CREDENTIALS = "error: no AWS credentials found: pass --profile or set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)\n"


def expired(code: str) -> str:
    return f"your AWS credentials have expired ({code}): renew them (`aws sso login`, or new keys) and try again"


def unrecognised(code: str) -> str:
    return f"AWS does not recognise your credentials ({code}): check the access key, or the profile, you use"


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """No config or credentials files, no instance metadata: only what the test sets."""
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in (
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)


def refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the command; assert exit 2, nothing on stdout, one line on stderr; that line."""
    code = main(argv)
    out = capsys.readouterr()
    assert (code, out.out) == (2, ""), out.err
    assert out.err.count("\n") == 1 and "Traceback" not in out.err, out.err
    return out.err


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_aws_profile_is_named_with_where_it_came_from(
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_aws_config: None,
    api_calls: CallLog,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nope")
    assert refused(capsys, COMMANDS[command]) == UNKNOWN_PROFILE.format(source="AWS_PROFILE")
    monkeypatch.delenv("AWS_PROFILE")
    assert refused(capsys, [*COMMANDS[command], "--profile", "nope"]) == UNKNOWN_PROFILE.format(source="--profile")
    assert api_calls.calls == []


@pytest.mark.parametrize("command", COMMANDS)
def test_no_credentials_at_all_say_how_to_give_them(
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_aws_config: None,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert refused(capsys, COMMANDS[command]) == NO_CREDENTIALS


# ---------------------------------------------------------------------- AWS's answers, from a stub
@pytest.fixture
def stub_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubAws]:
    with serving() as stub:
        monkeypatch.setenv("AWS_ENDPOINT_URL", stub.url)
        yield stub


@pytest.mark.parametrize(
    ("command", "errors", "line"),
    [
        pytest.param("status", {"sts": "ExpiredToken"}, expired("ExpiredToken"), id="status, STS ExpiredToken"),
        pytest.param("doctor", {"sts": "ExpiredToken"}, expired("ExpiredToken"), id="doctor, STS ExpiredToken"),
        pytest.param("approve", {"sts": "ExpiredToken"}, expired("ExpiredToken"), id="approve, STS ExpiredToken"),
        pytest.param("doctor", {"ec2": "RequestExpired"}, expired("RequestExpired"), id="doctor, EC2 RequestExpired"),
        pytest.param(
            "history",
            {"dynamodb": "ExpiredTokenException"},
            expired("ExpiredTokenException"),
            id="history, DynamoDB ExpiredTokenException",
        ),
        pytest.param(
            "history",
            {"dynamodb": "UnrecognizedClientException"},
            unrecognised("UnrecognizedClientException"),
            id="history, DynamoDB UnrecognizedClientException",
        ),
        pytest.param(
            "status",
            {"sts": "InvalidClientTokenId"},
            unrecognised("InvalidClientTokenId"),
            id="status, STS InvalidClientTokenId",
        ),
        pytest.param(
            "policy explain", {"ssm": "ExpiredTokenException"}, expired("ExpiredTokenException"), id="explain, SSM"
        ),
    ],
)
def test_expired_or_unrecognised_credentials_are_one_line_naming_aws_s_answer(
    command: str,
    errors: dict[str, str],
    line: str,
    stub_aws: StubAws,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stub_aws.errors.update(errors)
    assert refused(capsys, COMMANDS[command]) == f"error: {line}\n"
    assert set(errors) <= set(stub_aws.asked)


# ---------------------------------------------------------------------- the options
@pytest.mark.parametrize(
    ("argv", "line"),
    [
        pytest.param(
            ["doctor", PCX, "--endpoint-url", "127.0.0.1:5000"],
            "--endpoint-url '127.0.0.1:5000' is not an http(s) URL",
            id="doctor: endpoint without a scheme (as status says)",
        ),
        pytest.param(
            ["doctor", PCX, "--region", "Mars"], "--region 'Mars' is not a region name (like us-east-1)", id="doctor"
        ),
        pytest.param(
            ["history", PCX, "--region", "us east 1"],
            "--region 'us east 1' is not a region name (like us-east-1)",
            id="history",
        ),
        pytest.param(
            ["approve", PCX, "--reason", "x", "--region", "useast1"],
            "--region 'useast1' is not a region name (like us-east-1)",
            id="approve",
        ),
        pytest.param(["status", "--profile", ""], "--profile is empty: give a profile's name", id="empty profile"),
        pytest.param(
            [*COMMANDS["policy explain"], "--endpoint-url", "localhost:4566"],
            "--endpoint-url 'localhost:4566' is not an http(s) URL",
            id="policy explain",
        ),
        pytest.param(
            [
                "policy",
                "deploy",
                str(EXAMPLE_POLICY),
                "--parameter-name",
                "/peering-autopilot/policy",
                "--region",
                "EU",
            ],
            "--region 'EU' is not a region name (like us-east-1)",
            id="policy deploy",
        ),
    ],
)
def test_a_bad_shared_option_is_named_before_any_aws_call(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str], api_calls: CallLog
) -> None:
    assert refused(capsys, argv) == f"error: {line}\n"
    assert api_calls.calls == []
    assert "AWS_ENDPOINT_URL" not in os.environ


@pytest.mark.parametrize(
    "command", ["status", "doctor", "history", "approve", "reject", "policy explain", "policy deploy"]
)
def test_every_command_that_talks_to_aws_takes_profile_and_endpoint_url(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command.split(), "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "--profile PROFILE" in text and "--endpoint-url ENDPOINT_URL" in text
    assert ("--region REGION" in text) is (command != "status")  # status: --regions, a list
