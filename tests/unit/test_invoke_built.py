"""The local paths never reach real AWS unless asked: `invoke_built` (and `make invoke`) refuse to
run without an emulator endpoint, and the env-vars file `sam local invoke` uses keeps DryRun on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.client
import pytest

from autopilot_local import invoke_built
from autopilot_local.template import Stack

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
