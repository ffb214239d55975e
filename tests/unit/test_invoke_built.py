"""The local paths never reach real AWS unless asked: `invoke_built` (and `make invoke`) refuse to
run without an emulator endpoint, and the env-vars file `sam local invoke` uses keeps DryRun on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.client
import pytest

from autopilot_local import invoke_built
from autopilot_local.template import Stack
from tests.support.stub_aws import serving

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_without_an_emulator_endpoint_it_refuses_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2"):
        monkeypatch.delenv(name, raising=False)
    calls: list[str] = []

    def no_call(self: Any, operation: str, params: Any) -> Any:
        calls.append(operation)
        raise AssertionError(f"{operation} was called")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", no_call)

    with pytest.raises(SystemExit) as exited:
        invoke_built.main(["AcceptPeeringFunction", str(EVENTS / "accept_peering/create-cross-account.json")])

    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "AWS_ENDPOINT_URL is not set" in error
    assert "make emulator" in error and "--real-aws" in error
    assert calls == []


@pytest.mark.parametrize(
    ("environ", "real_aws", "refused"),
    [
        ({}, False, True),
        ({"AWS_ENDPOINT_URL": ""}, False, True),  # set but empty: botocore would still go to AWS
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, False, False),
        ({"AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:5000"}, False, False),
        ({}, True, False),
    ],
)
def test_only_an_endpoint_or_an_explicit_real_aws_lets_it_run(
    environ: dict[str, str], real_aws: bool, refused: bool
) -> None:
    assert bool(invoke_built.real_aws_refusal(environ, real_aws)) is refused


def test_the_env_vars_file_for_sam_local_invoke_changes_nothing_in_a_real_account() -> None:
    # sam local invoke cannot be pointed at an emulator (it passes only the template's variables):
    # with the user's credentials it reads their account, so the file keeps DryRun on ...
    assert json.loads((EVENTS / "env.json").read_text())["Parameters"]["DRY_RUN"] == "true"
    # ... and only the emulator's overlay turns it off
    assert json.loads((EVENTS / "env.emulator.json").read_text()) == {"Parameters": {"DRY_RUN": "false"}}


def test_every_variable_the_env_vars_files_set_is_one_the_template_declares() -> None:
    # sam local invoke passes a container only the variables the template declares: any other
    # name in the file would be silently dropped there (and honoured here), so there is none.
    declared = {
        name
        for spec in Stack(EVENTS.parent / "template.yaml", {}, "123456789012", "us-east-1").functions()
        for name in spec.environment
    }
    for path in (EVENTS / "env.json", EVENTS / "env.emulator.json"):
        assert set(json.loads(path.read_text())["Parameters"]) <= declared, path.name


# ---------------------------------------------------------------------- every-day mistakes (issue 23, item 6)
PROJECT = EVENTS.parent
EVENT = str(EVENTS / "accept_peering/create-cross-account.json")
TEMPLATE = ["--template", str(PROJECT / "template.yaml")]
SHAPE = '{"Parameters": {"NAME": "value", ...}} and/or {"<FunctionLogicalId>": {"NAME": "value", ...}}'


def refusal(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """invoke_built's one line on stderr, having exited 2 before anything ran."""
    with pytest.raises(SystemExit) as exited:
        invoke_built.main(argv)
    out = capsys.readouterr()
    assert (exited.value.code, out.out) == (2, "")
    assert out.err.count("\n") == 1 and "Traceback" not in out.err
    return out.err


@pytest.fixture
def emulator_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never reached: each case stops before


@pytest.mark.parametrize(
    ("content", "why"),
    [
        pytest.param(None, "{path}: not found", id="missing"),
        pytest.param("", "{path} is empty: it must hold a JSON object", id="empty"),
        pytest.param(" \n", "{path} is empty: it must hold a JSON object", id="blank"),
        pytest.param('{"detail": ', "{path} is not JSON: Expecting value at line 1 column 12", id="not JSON"),
    ],
)
@pytest.mark.parametrize("which", ["event file", "env-vars file"])
def test_a_missing_empty_or_non_json_file_is_named_in_one_line(
    which: str,
    content: str | None,
    why: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    emulator_endpoint: None,
) -> None:
    path = tmp_path / "given.json"
    if content is not None:
        path.write_text(content)
    argv = (
        ["AcceptPeeringFunction", str(path), *TEMPLATE]
        if which == "event file"
        else [
            "AcceptPeeringFunction",
            EVENT,
            *TEMPLATE,
            "--env-vars",
            str(EVENTS / "env.json"),
            "--env-vars",
            str(path),
        ]
    )
    assert refusal(capsys, argv) == f"error: {which} {why.format(path=path)}\n"


@pytest.mark.parametrize(
    ("document", "why"),
    [
        pytest.param(
            {"DRY_RUN": "true"},
            "'DRY_RUN' is neither Parameters nor a function of the template (is 'DRY_RUN' a variable without its"
            f" wrapper?); expected {SHAPE}",
            id="variables without their wrapper",
        ),
        pytest.param(
            {"Parameter": {"DRY_RUN": "true"}},
            f"'Parameter' is neither Parameters nor a function of the template; expected {SHAPE}",
            id="a misspelt wrapper",
        ),
        pytest.param([{"DRY_RUN": "true"}], f"expected {SHAPE}", id="a list"),
        pytest.param({}, f"expected {SHAPE}", id="nothing"),
        pytest.param(
            {"Parameters": "DRY_RUN=true"},
            f"'Parameters' must be an object of NAME: \"value\"; expected {SHAPE}",
            id="a string for the variables",
        ),
        pytest.param(
            {"Parameters": {"DRY_RUN": True}}, "Parameters.DRY_RUN must be a string, got true", id="not a string"
        ),
    ],
)
def test_an_env_vars_file_not_in_sam_s_shape_is_refused_naming_the_file_and_the_shape(
    document: Any, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], emulator_endpoint: None
) -> None:
    # (before issue 23 a file without its wrapper was ignored: DryRun fell back to the template's false)
    path = tmp_path / "env.json"
    path.write_text(json.dumps(document))
    argv = ["AcceptPeeringFunction", EVENT, *TEMPLATE, "--env-vars", str(path)]
    assert refusal(capsys, argv) == f"error: env-vars file {path}: {why}\n"


def test_an_env_vars_file_may_set_another_function_s_variables(tmp_path: Path) -> None:
    # sam local invoke's file is shared by the functions: another function's object is not a fault
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"Parameters": {"DRY_RUN": "true"}, "SweepFunction": {"LIVE_PING": "false"}}))
    assert invoke_built.env_vars(path, "AcceptPeeringFunction", {"AcceptPeeringFunction", "SweepFunction"}) == {
        "DRY_RUN": "true"
    }


def test_an_unknown_function_is_named_with_those_the_template_has(
    capsys: pytest.CaptureFixture[str], emulator_endpoint: None
) -> None:
    err = refusal(capsys, ["AcceptFunction", EVENT, *TEMPLATE])
    assert err.startswith(f"error: {PROJECT / 'template.yaml'} has no function 'AcceptFunction' (it has: ")
    assert "AcceptPeeringFunction" in err


def run_invoke(tmp_path: Path, *argv: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """In a process of its own: the settings and credentials checks import the domain, as the built
    layer would be imported (here the source layer), which this test process has already done."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(PROJECT), str(PROJECT / "layers" / "peering_autopilot")]),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **environ,
    }
    env = {k: v for k, v in env.items() if v}
    command = [sys.executable, "-m", "autopilot_local.invoke_built", "AcceptPeeringFunction", EVENT, *TEMPLATE, *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False, cwd=PROJECT)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        pytest.param("yes", "DRY_RUN must be 'true' or 'false', got 'yes'", id="DryRun yes"),
        pytest.param("1", "DRY_RUN must be 'true' or 'false', got '1'", id="DryRun 1"),
    ],
)
def test_a_value_the_functions_settings_refuse_is_named_with_its_file(value: str, why: str, tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"Parameters": {"DRY_RUN": value}}))
    done = run_invoke(tmp_path, "--env-vars", str(EVENTS / "env.json"), "--env-vars", str(path))
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"error: env-vars file {path}: {why}\n")


def test_a_bad_value_of_another_variable_is_named_too(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"AcceptPeeringFunction": {"UNAPPROVED_REQUEST_ACTION": "delete"}}))
    done = run_invoke(tmp_path, "--env-vars", str(path))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: env-vars file {path}: UNAPPROVED_REQUEST_ACTION must be one of leave-pending, reject, got 'delete'\n"
    )


def test_an_unknown_aws_profile_or_no_credentials_stop_it_in_one_line(tmp_path: Path) -> None:
    done = run_invoke(tmp_path, "--env-vars", str(EVENTS / "env.json"), AWS_PROFILE="nope")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: the AWS profile 'nope' (AWS_PROFILE) is not in your AWS config files: "
        "`aws configure list-profiles` lists those there are\n"
    )
    done = run_invoke(tmp_path, "--env-vars", str(EVENTS / "env.json"), AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: no AWS credentials found: pass --profile or set AWS_PROFILE "
        "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)\n"
    )


def test_with_real_aws_expired_credentials_stop_it_before_the_handler(tmp_path: Path) -> None:
    # GIVEN no endpoint in the environment (--real-aws), but the config file sends every service
    # this function calls to a stand-in that answers as AWS does for an expired session token
    with serving() as stub:
        stub.errors["sts"] = "ExpiredToken"
        config = tmp_path / "config"
        services = "".join(f"{name} =\n  endpoint_url = {stub.url}\n" for name in ("sts", "ec2", "events", "dynamodb"))
        config.write_text(f"[default]\nservices = stand-in\n\n[services stand-in]\n{services}")

        # WHEN make invoke … REAL_AWS=1 runs
        done = run_invoke(
            tmp_path,
            "--env-vars",
            str(EVENTS / "env.json"),
            "--real-aws",
            AWS_ENDPOINT_URL="",
            AWS_CONFIG_FILE=str(config),
        )

    # THEN one line says so, and the handler never ran (STS was the only service asked)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: your AWS credentials have expired (ExpiredToken): renew them (`aws sso login`, or new keys) and try again\n"
    )
    assert stub.asked == ["sts"]


def test_a_profile_option_names_itself_when_unknown(tmp_path: Path) -> None:
    done = run_invoke(tmp_path, "--env-vars", str(EVENTS / "env.json"), "--profile", "nope")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: the AWS profile 'nope' (--profile) is not in your AWS config files: "
        "`aws configure list-profiles` lists those there are\n"
    )
