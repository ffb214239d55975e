"""The domain's own import time per handler, against an earlier commit: steadier than `make coldstart`,
whose ratio moves with this machine's `import boto3` from run to run.

Each run is a fresh interpreter that has already imported boto3, botocore and Powertools (what the
runtime and the layer bring whatever the domain does), then times importing the Lambda adapter and
the handler's step module from the layer's sources (bytecode written on the first run). The median
of `--runs` runs per handler, for the working tree and for `--against` (a git ref, checked out in a
temporary worktree).

    python benchmarks/domain_import.py --against d424a9c [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
LAYER = Path("layers") / "peering_autopilot"
STEPS = ("accept", "configure", "verify", "cleanup", "connect", "sweep")
CHILD = r"""
import importlib, os, sys, time
sys.path.insert(0, sys.argv[1])
os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
import boto3, botocore.session, aws_lambda_powertools.logging, aws_lambda_powertools.metrics, aws_lambda_powertools.tracing
start = time.perf_counter()
importlib.import_module("peering_autopilot.lambda_adapter")
importlib.import_module("peering_autopilot." + sys.argv[2])
print((time.perf_counter() - start) * 1000)
"""


def median_ms(layer: Path, step: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(layer), step],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="the git ref to compare with (a tag, a commit)")
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        earlier = Path(tmp) / "earlier"
        subprocess.run(["git", "-C", str(PROJECT), "worktree", "add", "-q", str(earlier), args.against], check=True)
        try:
            print(f"domain import, median of {args.runs} runs (ms): {args.against} -> working tree")
            for step in STEPS:
                before = median_ms(earlier / LAYER, step, args.runs)
                now = median_ms(PROJECT / LAYER, step, args.runs)
                print(f"  {step:<10} {before:6.1f} -> {now:6.1f}  ({now - before:+.1f})")
        finally:
            subprocess.run(["git", "-C", str(PROJECT), "worktree", "remove", "--force", str(earlier)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
