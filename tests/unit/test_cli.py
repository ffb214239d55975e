"""The doctor command refuses bad input with a clear message and exit status 2, before any AWS call."""

from __future__ import annotations

import pytest

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
