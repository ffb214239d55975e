"""`make emulator` twice: the second says in one line that the port is taken (exit status 2), rather
than building its world in the first one's emulator (issue 23, item 6: every-day mistakes)."""

from __future__ import annotations

import socket

import pytest

from autopilot_local import emulator


def test_a_port_in_use_is_one_line_and_exit_2_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as first:
        first.bind(("127.0.0.1", 0))
        first.listen()
        port = first.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            emulator.main(["--port", str(port)])
    out = capsys.readouterr()
    assert (exited.value.code, out.out) == (2, "")
    assert out.err == (
        f"error: port {port} on 127.0.0.1 is in use (Address already in use): another `make emulator`? "
        "Stop it, or choose another port: make emulator EMULATOR_PORT=5001\n"
    )


def test_a_port_out_of_range_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        emulator.main(["--port", "70000"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: --port 70000 is not a TCP port (0 to 65535; 0: any free one)\n"


def test_a_free_port_or_any_port_is_fine() -> None:
    assert emulator.port_in_use(0) == ""
