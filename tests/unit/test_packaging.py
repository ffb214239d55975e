"""`pip install .` gives the domain and a working `peering-autopilot` command, without moto and
without the local harness (which runs from a checkout only)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

PROJECT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter with only the installed wheel: moto and the harness cannot be imported.
CHECK = """
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("moto", "autopilot_local"):
            raise ImportError(f"{name} is not installed with the wheel")
sys.meta_path.insert(0, Refuse())
import peering_autopilot
assert peering_autopilot.__file__.startswith(sys.path[0]), peering_autopilot.__file__
from importlib.metadata import entry_points
[script] = [e for e in entry_points(group="console_scripts") if e.name == "peering-autopilot"]
sys.exit(script.load()(["doctor", "not-a-peering"]))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), "."],
        cwd=PROJECT,
        check=True,
        capture_output=True,
    )
    [built] = out.glob("peering_autopilot-*.whl")
    return built


def test_the_wheel_holds_the_domain_and_not_the_harness(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "peering_autopilot/aws/ec2.py" in names
    assert "peering_autopilot/cli.py" in names
    assert not [n for n in names if n.startswith(("autopilot_local/", "tests/"))]


def test_the_installed_command_runs_without_moto(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    # -I: isolated (no PYTHONPATH, no user site, no cwd); the wheel's files and the SDK it depends on.
    site_packages = next(p for p in sys.path if p.endswith("site-packages"))
    completed = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path[:0] = [{str(target)!r}, {site_packages!r}]\n" + CHECK],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert completed.returncode == 2, completed.stderr
    assert "'not-a-peering' is not a peering id" in completed.stderr


def test_the_layer_ships_exactly_the_versions_the_tests_run_with_and_no_aws_sdk() -> None:
    root = Path(__file__).resolve().parents[2]
    pins = {
        canonicalize_name(name): version
        for name, version in (
            line.split("==", 1)
            for line in (root / "constraints.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#")
        )
    }
    layer = dict(
        line.split("==", 1)
        for line in (root / "layers/peering_autopilot/requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert layer and {name: pins.get(name) for name in layer} == layer
    # the Lambda runtime's own, precompiled: a copy in the layer would shadow it and compile at every cold start
    assert not {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"} & set(layer)
