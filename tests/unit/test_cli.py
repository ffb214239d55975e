"""The doctor, status and history commands refuse bad input with a clear message and exit status 2, before
any AWS call."""

from __future__ import annotations

import os

import pytest

from autopilot_local.metering import CallLog
from peering_autopilot.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["doctor", "pcx-XYZ"], "'pcx-XYZ' is not a peering id", id="bad peering id"),
        pytest.param(["doctor", "vpc-0123456789abcdef0"], "is not a peering id", id="a VPC id instead"),
        pytest.param(
            ["doctor", "pcx-0123456789abcdef0", "--member-role-name", "bad role!"],
            "--member-role-name 'bad role!' is not a valid role name",
            id="bad role name",
        ),
    ],
)
def test_bad_input_is_refused_with_exit_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_peering_nobody_can_see_is_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, mocked_aws: None
) -> None:
    assert main(["doctor", "pcx-0123456789abcdef0", "--region", "us-east-1"]) == 2
    assert "pcx-0123456789abcdef0 is not visible to account 123456789012 in us-east-1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--accounts", "12345"], "--accounts: '12345' is not a 12-digit account id", id="short account"),
        pytest.param(
            ["--accounts", "111111111111,22222222222x"],
            "--accounts: '22222222222x' is not a 12-digit account id",
            id="one bad account of two",
        ),
        pytest.param(["--accounts", " , "], "--accounts lists nothing", id="no account"),
        pytest.param(["--regions", "us-east-1,Mars"], "--regions: 'Mars' is not a region name", id="bad region"),
        pytest.param(["--regions", ""], "--regions lists nothing", id="no region"),
        pytest.param(["--peering-quota", "0"], "--peering-quota must be a whole number", id="quota zero"),
        pytest.param(["--peering-quota", "ten"], "got 'ten'", id="quota not a number"),
        pytest.param(["--peering-quota", "-5"], "got '-5'", id="quota negative"),
        pytest.param(
            ["--member-role-name", "bad role!"],
            "--member-role-name 'bad role!' is not a valid role name",
            id="bad role name",
        ),
        pytest.param(
            ["--allowed-peer-cidrs", "10.0.0.1/8"],
            "--allowed-peer-cidrs holds values that are not CIDR blocks (network/prefix): ['10.0.0.1/8']",
            id="host bits in a block",
        ),
        pytest.param(
            ["--endpoint-url", "localhost:5000"],
            "--endpoint-url 'localhost:5000' is not an http(s) URL",
            id="no scheme",
        ),
        pytest.param(["--endpoint-url", "http://"], "--endpoint-url 'http://' is not an http(s) URL", id="no host"),
        pytest.param(
            ["--record-table", "a b", "--endpoint-url", "http://127.0.0.1:5000"],
            "--record-table 'a b' is not a DynamoDB table name",
            id="bad record table",
        ),
        pytest.param(
            ["--record-table", "peering-autopilot-record", "--record-role-arn", "arn:aws:iam::1:role/x"],
            "--record-role-arn 'arn:aws:iam::1:role/x' is not an IAM role ARN",
            id="bad reader role",
        ),
        pytest.param(
            ["--record-role-arn", "arn:aws:iam::123456789012:role/peering-autopilot-record-reader"],
            "--record-role-arn reads the record: give --record-table too",
            id="reader role without the table",
        ),
    ],
)
def test_status_refuses_a_bad_option_naming_it_with_exit_status_2_before_any_aws_call(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], api_calls: CallLog
) -> None:
    assert main(["status", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert api_calls.calls == []
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_status_without_a_region_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, api_calls: CallLog
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)

    assert main(["status"]) == 2
    assert capsys.readouterr().err == "error: no region: pass --regions or set AWS_REGION\n"
    assert api_calls.calls == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["pcx-XYZ"], "'pcx-XYZ' is not a peering id (pcx- and 8 to 17 hex digits)", id="bad peering id"),
        pytest.param(
            ["pcx-0123456789abcdef0", "--table", "ab"], "--table 'ab' is not a DynamoDB table name", id="table"
        ),
        pytest.param(
            ["pcx-0123456789abcdef0", "--role-arn", "arn:aws:iam::123456789012:user/jane"],
            "--role-arn 'arn:aws:iam::123456789012:user/jane' is not an IAM role ARN",
            id="a user, not a role",
        ),
        pytest.param(
            ["pcx-0123456789abcdef0", "--endpoint-url", "ftp://x"],
            "--endpoint-url 'ftp://x' is not an http(s) URL",
            id="not http",
        ),
    ],
)
def test_history_refuses_a_bad_option_naming_it_with_exit_status_2_before_any_aws_call(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], api_calls: CallLog
) -> None:
    assert main(["history", *argv]) == 2
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", f"error: {message}\n")
    assert api_calls.calls == []
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_history_without_a_region_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, api_calls: CallLog
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)

    assert main(["history", "pcx-0123456789abcdef0"]) == 2
    assert capsys.readouterr().err == "error: no region: pass --region or set AWS_REGION\n"
    assert api_calls.calls == []


@pytest.mark.parametrize("command", ["approve", "reject"])
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["pcx-nope", "--reason", "x"], "'pcx-nope' is not a peering id (pcx- and 8 to 17 hex digits)", id="id"
        ),
        pytest.param(
            ["pcx-0123456789abcdef0", "--reason", " \n\t "], "--reason must say why, in words", id="empty reason"
        ),
        pytest.param(
            ["pcx-0123456789abcdef0", "--reason", "x", "--role-arn", "arn:aws:iam::123456789012:user/jane"],
            "--role-arn 'arn:aws:iam::123456789012:user/jane' is not an IAM role ARN",
            id="a user, not a role",
        ),
        pytest.param(
            ["pcx-0123456789abcdef0", "--reason", "x", "--endpoint-url", "ftp://x"],
            "--endpoint-url 'ftp://x' is not an http(s) URL",
            id="not http",
        ),
        pytest.param(
            ["pcx-0123456789abcdef0", "--reason", "x", "--policy", "/nonexistent/policy.yaml"],
            "[Errno 2] No such file or directory: '/nonexistent/policy.yaml'",
            id="no policy file",
        ),
    ],
)
def test_approve_and_reject_refuse_bad_input_with_exit_status_2_before_any_aws_call(
    command: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str], api_calls: CallLog
) -> None:
    assert main([command, *argv]) == 2
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", f"error: {message}\n")
    assert api_calls.calls == []
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_approve_has_no_option_to_name_an_approver(capsys: pytest.CaptureFixture[str]) -> None:
    # Who approves is the identity AWS establishes for the call, never a name given on the command line.
    with pytest.raises(SystemExit) as exited:
        main(["approve", "pcx-0123456789abcdef0", "--reason", "x", "--approver", "arn:aws:iam::1:role/Boss"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --approver" in capsys.readouterr().err
