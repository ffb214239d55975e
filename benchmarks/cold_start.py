"""Cold-start import time of each Lambda function, measured the way a Lambda cold start pays it.

Every figure is the wall time (time.perf_counter) of one import statement inside a fresh Python subprocess whose
sys.path starts like Lambda's: the function's code dir, then the layer's python dir. Built artifacts
(.aws-sam/build) are preferred, and then the venv's site-packages is left out (python -S): only what the artifacts
ship is importable, as on Lambda. Without a build (or with --source) the source folders stand in, with the venv
behind them for the dependencies.

Bytecode: sam build ships no .pyc and Lambda's /var/task and /opt are read-only, so on Lambda every module of the
function and the layer is compiled from source on every cold start. The default (--bytecode none) reproduces that:
modules under the code and layer dirs (and, in source mode, the venv's site-packages) are compiled on each run even
if a __pycache__ lies beside them; the standard library keeps its bytecode, as on Lambda. --bytecode cached compiles
once into a temporary PYTHONPYCACHEPREFIX instead: what shipping .pyc in the artifacts would give.

Usage: python benchmarks/cold_start.py [--runs N] [--bytecode none|cached] [--source] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".aws-sam" / "build"
FUNCTIONS_DIR = ROOT / "functions"
LAYER_SRC = ROOT / "layers" / "peering_autopilot"
TEMPLATE = ROOT / "template.yaml"
REFERENCE = "import boto3"  # the row every other median is compared with

# The function environment of template.yaml (Globals.Function), the Lambda runtime's own variables (Tracer is only
# enabled, and aws_xray_sdk only loaded, when LAMBDA_TASK_ROOT is set) and dummy credentials. Nothing is inherited
# from this process but PATH: no PYTHONPATH, no ~/.aws.
TEMPLATE_ENV = {
    "POWERTOOLS_SERVICE_NAME": "peering-autopilot",
    "POWERTOOLS_METRICS_NAMESPACE": "PeeringAutopilot",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "LANG": "C.UTF-8",
    "TZ": ":UTC",
}

# What each baseline row executes; the function rows execute importlib.import_module("app").
BASELINES: list[tuple[str, str]] = [
    (REFERENCE, "import boto3"),
    ("import boto3 + boto3.client('ec2')", "import boto3\nboto3.client('ec2')"),
    ("from aws_lambda_powertools import Logger", "from aws_lambda_powertools import Logger"),
    ("  ... + Logger()", "from aws_lambda_powertools import Logger\nLogger()"),
    ("from aws_lambda_powertools import Metrics", "from aws_lambda_powertools import Metrics"),
    ("  ... + Metrics()", "from aws_lambda_powertools import Metrics\nMetrics()"),
    ("from aws_lambda_powertools import Tracer", "from aws_lambda_powertools import Tracer"),
    ("  ... + Tracer()", "from aws_lambda_powertools import Tracer\nTracer()"),
    (
        "from ...data_classes import EventBridgeEvent",
        "from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent",
    ),
    ("from ...parser import parse", "from aws_lambda_powertools.utilities.parser import parse"),
    ("import peering_autopilot.accept", "import peering_autopilot.accept"),
]
APP_CODE = 'importlib.import_module("app")'

# Runs in the fresh interpreter (python -P: nothing is prepended to sys.path but what the spec says). Prints the
# import's wall time and the top-level packages it loaded, with the file each came from. Under the spec's
# "compile" dirs a path hook makes the source loader ignore existing .pyc: those modules compile as on Lambda.
CHILD = """
import importlib, importlib.machinery as machinery, json, os, sys, time
spec = json.loads(sys.argv[1])

class CompilingLoader(machinery.SourceFileLoader):
    def get_data(self, path):
        if path.endswith(".pyc"):
            raise OSError("bytecode ignored")
        return super().get_data(path)

def compiling_hook(path, roots=tuple(spec["compile"])):
    if not any(path == root or path.startswith(root + os.sep) for root in roots):
        raise ImportError(path)
    return machinery.FileFinder(
        path,
        (machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),
        (CompilingLoader, machinery.SOURCE_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES),
    )

if spec["compile"]:
    sys.path_hooks.insert(0, compiling_hook)
    sys.path_importer_cache.clear()
sys.path[:0] = spec["path"]
code = compile(spec["code"], "<cold-start>", "exec")
before = set(sys.modules)
start = time.perf_counter()
exec(code, {"importlib": importlib})
elapsed = time.perf_counter() - start
new = set(sys.modules) - before
files = {}
for top in sorted({name.partition(".")[0] for name in new}):
    module = sys.modules.get(top)
    files[top] = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])), None)
print(json.dumps({"ms": elapsed * 1000, "modules": len(new), "files": files}))
"""

SITE_PACKAGES = sorted({sysconfig.get_paths()[key] for key in ("purelib", "platlib")})


@dataclass(frozen=True)
class Layout:
    mode: str  # "built artifacts" or "source"
    layer_dir: Path
    code_dirs: dict[str, Path]  # function folder name -> code dir
    function_names: dict[str, str]  # function folder name -> logical id (AWS_LAMBDA_FUNCTION_NAME)
    notes: list[str] = field(default_factory=list)

    @property
    def built(self) -> bool:
        return self.mode == "built artifacts"


@dataclass(frozen=True)
class Case:
    label: str
    code: str
    code_dir: Path
    function_name: str
    function: str | None = None  # the function folder, for the app rows


@dataclass
class Row:
    case: Case
    samples: list[float] = field(default_factory=list)
    modules: int = 0
    files: dict[str, str | None] = field(default_factory=dict)
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        if len(self.samples) < 2:
            return self.samples[0]
        return statistics.quantiles(self.samples, n=10, method="inclusive")[-1]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def template_logical_ids(template: Path) -> dict[str, str]:
    """Folder of each CodeUri/ContentUri in the template -> the logical id of its resource (a plain line scan)."""
    ids: dict[str, str] = {}
    current: str | None = None
    for line in template.read_text().splitlines():
        if resource := re.match(r"^  ([A-Za-z0-9]+):\s*(#.*)?$", line):
            current = resource.group(1)
        elif (uri := re.match(r"^\s+(?:CodeUri|ContentUri):\s*[\"']?([^\"'\s#]+)", line)) and current:
            ids[uri.group(1).rstrip("/")] = current
    return ids


def stale_files(source: Path, built: Path) -> list[str]:
    """Source files that are missing from the build or differ from their built copy."""
    return [
        rel(path)
        for path in sorted(source.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and not (
            (built / path.relative_to(source)).is_file()
            and filecmp.cmp(path, built / path.relative_to(source), shallow=False)
        )
    ]


def discover(force_source: bool) -> Layout:
    functions = sorted(path.parent.name for path in FUNCTIONS_DIR.glob("*/app.py"))
    if not functions:
        raise SystemExit(f"no functions/*/app.py under {ROOT}")
    ids = template_logical_ids(TEMPLATE)
    names = {name: ids.get(f"functions/{name}", name) for name in functions}
    source_layout = Layout(
        mode="source",
        layer_dir=LAYER_SRC,
        code_dirs={name: FUNCTIONS_DIR / name for name in functions},
        function_names=names,
        notes=[
            "source mode: the dependencies come from the venv, which also holds packages the layer does not ship and "
            "that botocore (awscrt, pyOpenSSL) and aws_xray_sdk (requests) use when importable: figures run high"
        ],
    )
    if force_source:
        return source_layout
    layer_id = ids.get(rel(LAYER_SRC))
    built_layer = BUILD_DIR / (layer_id or "DomainLayer") / "python"
    built_code = {name: BUILD_DIR / names[name] for name in functions}
    missing = [rel(path) for path in [built_layer, *built_code.values()] if not path.is_dir()]
    if missing:
        source_layout.notes.insert(0, f"no built artifacts ({', '.join(missing)} missing): measuring the source dirs")
        return source_layout
    stale = stale_files(LAYER_SRC, built_layer)
    for name in functions:
        stale += stale_files(FUNCTIONS_DIR / name, built_code[name])
    notes = [f"STALE BUILD: differs from source: {', '.join(stale)} (run `make build`)"] if stale else []
    pyc = sum(1 for path in [built_layer, *built_code.values()] for _ in path.rglob("*.pyc"))
    if pyc:
        notes.append(
            f"{pyc} .pyc files lie in the artifacts (not from sam build, which writes none; sam deploy "
            "would ship them); --bytecode none ignores them"
        )
    return Layout("built artifacts", built_layer, built_code, names, notes)


def measure_once(case: Case, layout: Layout, pycache: Path | None) -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", os.defpath), **TEMPLATE_ENV}
    env["LAMBDA_TASK_ROOT"] = str(case.code_dir)
    env["AWS_LAMBDA_FUNCTION_NAME"] = case.function_name
    compile_dirs: list[str] = []
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        compile_dirs = [str(case.code_dir), str(layout.layer_dir)] + ([] if layout.built else SITE_PACKAGES)
    else:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    spec = json.dumps({"path": [str(case.code_dir), str(layout.layer_dir)], "code": case.code, "compile": compile_dirs})
    flags = ["-P", "-S"] if layout.built else ["-P"]
    done = subprocess.run(
        [sys.executable, *flags, "-c", CHILD, spec],
        cwd=case.code_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit code {done.returncode}"
        raise RuntimeError(last)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def origin(file: str | None, layout: Layout, code_dir: Path) -> str:
    """Where a loaded package came from: code, layer, stdlib or venv (anything else: its path)."""
    if file is None:
        return "stdlib"  # built-in or frozen
    path = Path(file).resolve()
    stdlib = {Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "platstdlib")}
    site = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    for where, roots in (
        ("code", {code_dir.resolve()}),
        ("layer", {layout.layer_dir.resolve()}),
        ("venv", site),
        ("stdlib", stdlib),
    ):
        if any(path.is_relative_to(root) for root in roots):
            return where
    return rel(path)


def run(layout: Layout, runs: int, pycache: Path | None) -> list[Row]:
    first = next(iter(layout.code_dirs))
    cases = [Case(label, code, layout.code_dirs[first], layout.function_names[first]) for label, code in BASELINES] + [
        Case(f"import app  [{name}]", APP_CODE, code_dir, layout.function_names[name], name)
        for name, code_dir in layout.code_dirs.items()
    ]
    rows = [Row(case) for case in cases]
    print(f"measuring {len(rows)} cases x {runs} runs (+1 warm-up each) ...", file=sys.stderr)
    # Rounds over all cases rather than one case at a time, so that drift in machine load spreads over every row.
    for round_no in range(runs + 1):
        for row in rows:
            if row.error is not None:
                continue
            try:
                result = measure_once(row.case, layout, pycache)
            except RuntimeError as e:
                missing = re.search(r"ModuleNotFoundError: (.*)", str(e))
                row.error = f"not installed ({missing.group(1)})" if missing else f"failed: {e}"
                continue
            if round_no > 0:  # round 0 warms the OS file cache (and, with --bytecode cached, the .pyc cache)
                row.samples.append(result["ms"])
            row.modules, row.files = result["modules"], result["files"]
    return rows


def check_domain_origin(rows: list[Row], layout: Layout) -> list[str]:
    """peering_autopilot must come from the chosen layer dir, never from the project's editable install."""
    problems = []
    for row in rows:
        if row.error is not None or (row.case.function is None and "peering_autopilot" not in row.case.code):
            continue
        file = row.files.get("peering_autopilot")
        if file is None or not Path(file).resolve().is_relative_to(layout.layer_dir.resolve()):
            problems.append(f"{row.case.label}: peering_autopilot loaded from {file}, not from {rel(layout.layer_dir)}")
    return problems


def report(rows: list[Row], layout: Layout, runs: int, bytecode: str) -> dict[str, Any]:
    reference = next(row for row in rows if row.case.label == REFERENCE)
    base = reference.median if reference.samples else None
    app_rows = [row for row in rows if row.case.function is not None and row.files]
    loaded_from = {
        row.case.function or "": {
            top: origin(row.files.get(top), layout, row.case.code_dir)
            for top in ("peering_autopilot", "boto3", "botocore", "aws_lambda_powertools", "aws_xray_sdk")
        }
        for row in app_rows
    }
    notes = list(layout.notes)
    if platform.machine().lower() not in ("aarch64", "arm64"):
        notes.append(
            f"this machine is {platform.machine()}; the functions run on arm64 (Graviton): absolute figures differ"
        )
    return {
        "machine": platform.machine(),
        "system": platform.system(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "mode": layout.mode,
        "bytecode": bytecode,
        "runs": runs,
        "layer_dir": rel(layout.layer_dir),
        "code_dirs": {name: rel(path) for name, path in layout.code_dirs.items()},
        "loaded_from": loaded_from,
        "reference": REFERENCE,
        "reference_median_ms": base,
        "notes": notes,
        "rows": [
            {
                "label": row.case.label,
                "code": row.case.code,
                "function": row.case.function,
                "status": row.error or "ok",
                "median_ms": row.median if row.samples else None,
                "p90_ms": row.p90 if row.samples else None,
                "delta_vs_reference_ms": row.median - base if row.samples and base is not None else None,
                "modules_imported": row.modules if row.samples else None,
                "samples_ms": row.samples,
            }
            for row in rows
        ],
    }


def render(figures: dict[str, Any]) -> str:
    bytecode = {
        "none": "none: function, layer and third-party modules compile on every run, as on Lambda; stdlib has .pyc",
        "cached": "cached: every module's .pyc compiled once, by the warm-up run, into a temporary PYTHONPYCACHEPREFIX",
    }[figures["bytecode"]]
    lines = [
        "Peering Autopilot cold-start import time (wall time inside a fresh interpreter; ms)",
        f"machine: {figures['machine']} {figures['system']}, {figures['implementation']} {figures['python']}",
        f"mode: {figures['mode']}; layer {figures['layer_dir']}; "
        + ", ".join(f"{name}: {path}" for name, path in figures["code_dirs"].items()),
        f"bytecode: {bytecode}",
        f"runs: {figures['runs']} per row (+1 warm-up, discarded), median and p90; delta = median - median of "
        f"`{figures['reference']}`",
    ]
    for function, origins in figures["loaded_from"].items():
        lines.append(f"import app [{function}] loaded " + ", ".join(f"{top} from {o}" for top, o in origins.items()))
    lines += [f"note: {note}" for note in figures["notes"]]

    header = ("case", "median", "p90", "delta", "modules", "")
    table = [header]
    for row in figures["rows"]:
        if row["median_ms"] is None:
            table.append((row["label"], "-", "-", "-", "-", row["status"]))
            continue
        table.append(
            (
                row["label"],
                f"{row['median_ms']:.1f}",
                f"{row['p90_ms']:.1f}",
                "(ref)" if row["label"] == figures["reference"] else f"{row['delta_vs_reference_ms']:+.1f}",
                str(row["modules_imported"]),
                "",
            )
        )
    widths = [max(len(cells[i]) for cells in table) for i in range(len(header) - 1)]
    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    lines.append("")
    for i, cells in enumerate(table):
        text = cells[0].ljust(widths[0]) + "".join(
            "  " + cell.rjust(width) for cell, width in zip(cells[1:-1], widths[1:], strict=True)
        )
        lines.append(f"{text}  {cells[-1]}".rstrip())
        if i == 0:
            lines.append(rule)
    return "\n".join(lines)


@contextlib.contextmanager
def xray_touch_file_removed() -> Iterator[None]:
    """aws_xray_sdk drops /tmp/.aws-xray/initialized when it sees LAMBDA_TASK_ROOT: remove it if we created it."""
    directory = Path("/tmp/.aws-xray")
    existed = directory.exists()
    try:
        yield
    finally:
        if not existed and directory.is_dir():
            with contextlib.suppress(OSError):
                (directory / "initialized").unlink(missing_ok=True)
                directory.rmdir()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="measured runs per row (default 15)")
    parser.add_argument("--bytecode", choices=["none", "cached"], default="none", help="see above (default none)")
    parser.add_argument("--source", action="store_true", help="measure the source dirs even if a build exists")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    layout = discover(args.source)
    with tempfile.TemporaryDirectory(prefix="cold-start-pycache-") as pycache, xray_touch_file_removed():
        rows = run(layout, args.runs, Path(pycache) if args.bytecode == "cached" else None)
    figures = report(rows, layout, args.runs, args.bytecode)
    problems = check_domain_origin(rows, layout)
    problems += [f"{row.case.label}: {row.error}" for row in rows if row.case.function is not None and row.error]
    figures["problems"] = problems

    print(json.dumps(figures, indent=2) if args.json else render(figures))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
