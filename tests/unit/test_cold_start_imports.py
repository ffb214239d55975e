"""What a handler imports at a cold start (README "Measurements", `make coldstart`): its own step and
what every invocation needs, never another function's step nor what only an option or a setting
uses; in a Lambda container, with the cyclic garbage collector paused while they load and what they
made frozen. Structural (sys.modules and the collector's state after `import app`), not timed: the
timings are `make coldstart`'s, on the built artifacts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[2]
LAYER = PROJECT / "layers" / "peering_autopilot"
FUNCTIONS = sorted(path.parent.name for path in (PROJECT / "functions").glob("*/app.py"))

# Each function's step module (lambda_adapter.STEPS): the other five are never imported.
STEP_OF = {
    "accept_peering": "accept",
    "configure_peering": "configure",
    "verify_peering": "verify",
    "cleanup_peering": "cleanup",
    "connect_peering": "connect",
    "sweep": "sweep",
}

# Imported only on the paths that use them, in any function:
ON_SOME_PATHS = {
    "membership": "the Organization's walk: only where ManagedOrganizationalUnitIds names OUs",
    "reachability": "Reachability Analyzer: verify's option, off by default",
    "live_ping": "the live ping: verify's option, off by default",
    "cli": "the command line",
    "estate": "the status command's estate",
    "policy_tools": "the policy commands",
}

# Gateways only some functions' steps name (their IAM_ACTIONS): the others never import them.
ONLY_IN = {
    "aws.network_insights": {"verify_peering"},  # Reachability Analyzer
    "aws.organizations": {"sweep"},  # the Organization's walk
    "aws.sns": {"accept_peering", "verify_peering"},  # the optional notification topic
}

# A fresh interpreter, as Lambda starts one: the function's code dir, then the layer (this
# checkout's sources), tracing off as the tests run.
CHILD = """
import gc, json, sys
sys.path[:0] = sys.argv[1:3]
import app
import peering_autopilot
print(json.dumps({
    "layer": peering_autopilot.__file__,
    "modules": sorted(sys.modules),
    "collector": {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()},
}))
"""


def import_app(function: str, in_lambda: bool = False) -> dict[str, Any]:
    code_dir = PROJECT / "functions" / function
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "peering-autopilot",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    if in_lambda:
        env["LAMBDA_TASK_ROOT"] = str(code_dir)  # the Lambda runtime sets it
    done = subprocess.run(
        [sys.executable, "-P", "-c", CHILD, str(code_dir), str(LAYER)],
        cwd=code_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def imported_by(function: str) -> tuple[str, set[str]]:
    result = import_app(function)
    return result["layer"], {
        name.removeprefix("peering_autopilot.") for name in result["modules"] if name.startswith("peering_autopilot.")
    }


def test_every_function_is_listed() -> None:
    assert sorted(STEP_OF) == FUNCTIONS


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_imports_its_own_step_and_nothing_only_some_paths_use(function: str) -> None:
    layer, modules = imported_by(function)
    assert Path(layer).is_relative_to(LAYER), layer  # this checkout's layer, not an installed copy
    own = STEP_OF[function]
    assert own in modules
    assert sorted(modules & (set(STEP_OF.values()) - {own})) == []  # no other function's step
    assert sorted(modules & set(ON_SOME_PATHS)) == []
    assert sorted(name for name, functions in ONLY_IN.items() if name in modules and function not in functions) == []


def test_in_lambda_the_cold_start_loads_without_collecting_and_freezes_what_it_made() -> None:
    collector = import_app("verify_peering", in_lambda=True)["collector"]
    assert collector["enabled"] is True  # collecting again once the handler is built
    assert collector["frozen"] > 10_000  # the modules, classes and functions loaded: never walked again


def test_outside_lambda_the_collector_is_left_as_it_is() -> None:
    assert import_app("verify_peering")["collector"] == {"enabled": True, "frozen": 0}
