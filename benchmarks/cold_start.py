"""Cold-start import time of each built Lambda function, against the Lambda runtime's own `import boto3`.

The layer ships no AWS SDK: the functions import the runtime's boto3, which the runtime ships precompiled. So the
yardstick is what a bare `import boto3` costs there, and the target is every handler's import at most 1.3x that.

Method (printed in the output's header too):
  runtime SDK  the python3.13 runtime ships boto3 and what it requires, with their bytecode, outside the layer
               (/var/runtime). Laid out the same way in a temporary dir: the files of the venv's boto3 and of every
               distribution it requires, extras aside (the versions the tests run with), copied as installed, then
               compiled with compileall (timestamp-checked .pyc, as an installer writes them).
  baseline     a function whose handler module does nothing but `import boto3`, with only that dir on sys.path,
               imported as the handlers are (below): what a bare `import boto3` costs a Lambda cold start.
  handlers     `import app` of each built function, sys.path in Lambda's order: its code dir (/var/task), the built
               layer's python dir (/opt/python), the runtime SDK dir (/var/runtime). The layer's bytecode as
               `sam build` made it (layers/peering_autopilot/Makefile compiles it); the function's own app.py
               compiled from source on every run (sam build ships no .pyc for it and /var/task is read-only).
               Imported with importlib.import_module, as the runtime's bootstrap imports a handler.
               Twice: tracing on, as deployed (Tracing: Active; Powertools traces when LAMBDA_TASK_ROOT is set),
               and tracing off (POWERTOOLS_TRACE_DISABLED=true, as the local runner and the tests run).
  call depth   each round runs every row from another call depth: 0 to 120 frames in steps of 8 (round n at
               8 * (n mod 16)). CPython 3.13 keeps the frames of Python calls in 16 KiB chunks and unmaps a chunk as
               soon as the calls return below it, so an import tree that recurses back and forth across a chunk's
               edge maps and unmaps it again each time: with strace, 1,243 to 6,164 mmap calls for the same handler
               by the depth it started at; the baseline's page faults ranged 5,700 to 9,700 and a handler's 6,800 to
               12,600 over depths 0 to 196. The runtime's bootstrap, not the function, sets that depth, and no depth
               here is the runtime's. A padding frame takes about 120 bytes, so the 16 depths place the import at
               offsets spread over a whole chunk; the median is over them all, the same for every row.
  extensions   on a machine that is not arm64, the layer's arm64 extension modules (wrapt's) cannot load, and wrapt
               would run its pure-Python fallback, which Lambda never does. The rows then use a temporary copy of
               the layer with the same version's extension built for this machine, taken from the venv beside it
               (said in a note; if the venv's version differs, the fallback runs and the note says so).
  figures      the CPU time of the process (time.process_time: user + system) over the one statement inside a fresh
               interpreter started with -S -P (no site-packages, no PYTHONPATH: only the dirs above are importable),
               the template's environment; N measured runs per row (default 32) in interleaved rounds after one
               discarded warm-up round; median and p90; ratio = median / baseline median. The CPU time is the import's own work: on a
               machine other work shares, the wall time also counts the time the process waited for a CPU, which
               moves the ratio from run to run (--clock wall judges by it instead; both are printed).

--bytecode none ignores the layer's .pyc and compiles the layer on every run instead, as the layer cost before it
shipped bytecode. Exit status 1 if a handler misses the target or a module loads from the wrong place.

Usage: python benchmarks/cold_start.py [--runs N] [--target X] [--bytecode built|none] [--clock cpu|wall] [--json]
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import filecmp
import importlib.machinery
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".aws-sam" / "build"
FUNCTIONS_DIR = ROOT / "functions"
LAYER_SRC = ROOT / "layers" / "peering_autopilot"
TEMPLATE = ROOT / "template.yaml"
REFERENCE = "import boto3"  # the row every ratio is taken against
TARGET = 1.3  # issue 23: headroom, so that the gate holds on a loaded machine

# The function environment of template.yaml (Globals.Function), the Lambda runtime's own variables and dummy
# credentials. Nothing is inherited from this process but PATH: no PYTHONPATH, no ~/.aws.
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
    "PYTHONDONTWRITEBYTECODE": "1",  # leave the build as sam built it
}
TRACING_OFF = {"POWERTOOLS_TRACE_DISABLED": "true"}
CLOCKS = {"cpu": "CPU time (user + system) of the process", "wall": "wall time"}
OTHER_CLOCK = {"cpu": "wall", "wall": "cpu"}

APP_CODE = 'importlib.import_module("app")'
BASELINE_APP = "import boto3\n"  # the baseline function's handler module
DEPTHS, DEPTH_STEP = 16, 8  # round n runs every row DEPTH_STEP * (n mod DEPTHS) frames deep (see "call depth")
# Two rounds per depth: with 16 runs a row's median still moved by up to 0.2x from one run to the next on a loaded
# machine (the worst handler read 1.37x in one run, 1.25x in the next with 32).
RUNS = 2 * DEPTHS

# Runs in the fresh interpreter (python -S -P: nothing on sys.path but the stdlib and what the spec says), from the
# spec's call depth. Prints the statement's wall time and CPU time and the top-level packages it loaded, with the file
# each came from. Under the spec's "compile" dirs a path hook makes the source loader ignore existing .pyc: those
# modules compile on every run.
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

def at_depth(frames):  # the statement runs `frames` Python calls deeper than the top
    if frames:
        return at_depth(frames - 1)
    before = set(sys.modules)
    start, cpu_start = time.perf_counter(), time.process_time()
    exec(code, {"importlib": importlib})
    return time.perf_counter() - start, time.process_time() - cpu_start, set(sys.modules) - before

elapsed, cpu, new = at_depth(spec["depth"])
files = {}
for top in sorted({name.partition(".")[0] for name in new}):
    module = sys.modules.get(top)
    files[top] = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])), None)
print(json.dumps({"wall": elapsed * 1000, "cpu": cpu * 1000, "modules": len(new), "files": files}))
"""

# Where each package of a handler row must come from: the SDK from the runtime, never the layer.
EXPECTED_ORIGIN = {
    "app": "code",
    "peering_autopilot": "layer",
    "aws_lambda_powertools": "layer",
    "aws_xray_sdk": "layer",
    "boto3": "runtime SDK",
    "botocore": "runtime SDK",
}


@dataclass(frozen=True)
class Layout:
    built_layer_dir: Path  # as sam built it
    layer_dir: Path  # as the rows import it: the built one, or its copy with this machine's extension modules
    sdk_dir: Path
    baseline_dir: Path  # the baseline function's code dir
    sdk_versions: dict[str, str]  # distribution -> version, as laid out in sdk_dir
    sdk_packages: list[str]  # the top-level import names they provide
    code_dirs: dict[str, Path]  # function folder name -> built code dir
    function_names: dict[str, str]  # function folder name -> logical id (AWS_LAMBDA_FUNCTION_NAME)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    label: str
    code: str
    path: tuple[Path, ...]  # prepended to sys.path, in order
    code_dir: Path  # LAMBDA_TASK_ROOT and the child's cwd
    function_name: str
    env: tuple[tuple[str, str], ...] = ()
    function: str | None = None  # the function folder, for the handler rows
    tracing: bool = True


@dataclass
class Row:
    case: Case
    samples: list[float] = field(default_factory=list)  # by the clock the target is judged by
    other: list[float] = field(default_factory=list)  # by the other clock, printed beside it
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


def runtime_distributions() -> list[importlib.metadata.Distribution]:
    """boto3 and every distribution it requires, extras aside, as installed in this venv: what the runtime ships."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = ["boto3"]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        found[name] = dist = importlib.metadata.distribution(name)
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return [found[name] for name in sorted(found)]


def lay_out_runtime_sdk(target: Path) -> tuple[dict[str, str], list[str]]:
    """Copy the runtime's distributions into target as installed (no stale bytecode), then compile them."""
    versions: dict[str, str] = {}
    tops: set[str] = set()
    for dist in runtime_distributions():
        versions[dist.metadata["Name"]] = dist.version
        for file in dist.files or []:
            if "__pycache__" in file.parts or file.parts[0] == "..":  # bytecode is compiled below; scripts
                continue
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(str(dist.locate_file(file))), destination)
            if not file.parts[0].endswith((".dist-info", ".data")):
                tops.add(file.parts[0].removesuffix(".py"))
    if not compileall.compile_dir(str(target), quiet=1, workers=0):
        raise SystemExit(f"compileall failed in {target}")
    return versions, sorted(tops)


def extension_stand_ins(layer_dir: Path, copy_dir: Path) -> tuple[Path, list[str]]:
    """The layer as its extension modules run on Lambda: on a machine that cannot load them (not arm64), a copy of
    the layer with the same version of each built for this machine, from this venv. Returns the dir to import from."""
    ours = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    foreign = [
        path
        for path in sorted(layer_dir.rglob("*.so"))
        if not any((path.parent / (path.name.partition(".")[0] + suffix)).exists() for suffix in ours)
    ]
    if not foreign:
        return layer_dir, []
    owners: dict[Path, importlib.metadata.Distribution] = {}
    for info in layer_dir.glob("*.dist-info"):
        dist = importlib.metadata.PathDistribution(info)
        owners.update({layer_dir / file: dist for file in dist.files or []})
    stand_ins: dict[Path, Path] = {}
    notes = []
    for path in foreign:
        module = path.relative_to(layer_dir).with_name(path.name.partition(".")[0])
        dist = owners.get(path)
        try:
            here = importlib.metadata.distribution(dist.metadata["Name"]) if dist is not None else None
        except importlib.metadata.PackageNotFoundError:
            here = None
        same_version = here is not None and dist is not None and here.version == dist.version
        built = next(
            (
                Path(str(here.locate_file(file)))
                for file in (here.files or [] if here is not None and same_version else [])
                if file.parent.as_posix() == module.parent.as_posix()
                and file.name in {module.name + suffix for suffix in ours}
            ),
            None,
        )
        if built is None:
            notes.append(
                f"{rel(path)} cannot load on {platform.machine()} and this venv has no build of the same version: "
                "its package runs without it here, as it never does on Lambda"
            )
            continue
        stand_ins[copy_dir / module.parent / built.name] = built
        notes.append(
            f"{rel(path)} cannot load on {platform.machine()}: the rows use the same version's {built.name} "
            f"({dist.metadata['Name']} {dist.version} from this venv) in a copy of the layer, as Lambda loads its own"  # type: ignore[union-attr]
        )
    if not stand_ins:
        return layer_dir, notes
    shutil.copytree(layer_dir, copy_dir, symlinks=True)
    for destination, built in stand_ins.items():
        shutil.copy2(built, destination)
    return copy_dir, notes


def discover(work_dir: Path) -> Layout:
    functions = sorted(path.parent.name for path in FUNCTIONS_DIR.glob("*/app.py"))
    if not functions:
        raise SystemExit(f"no functions/*/app.py under {ROOT}")
    ids = template_logical_ids(TEMPLATE)
    names = {name: ids.get(f"functions/{name}", name) for name in functions}
    layer_dir = BUILD_DIR / ids.get(rel(LAYER_SRC), "DomainLayer") / "python"
    code_dirs = {name: BUILD_DIR / names[name] for name in functions}
    missing = [rel(path) for path in [layer_dir, *code_dirs.values()] if not path.is_dir()]
    if missing:
        raise SystemExit(f"no built artifacts ({', '.join(missing)} missing): run `make build` (sam build) first")
    stale = stale_files(LAYER_SRC / "peering_autopilot", layer_dir / "peering_autopilot")
    for name in functions:
        stale += stale_files(FUNCTIONS_DIR / name, code_dirs[name])
    notes = [f"STALE BUILD: differs from source: {', '.join(stale)} (run `make build`)"] if stale else []
    sdk_dir, baseline_dir = work_dir / "runtime-sdk", work_dir / "baseline-function"
    versions, tops = lay_out_runtime_sdk(sdk_dir)
    baseline_dir.mkdir()
    (baseline_dir / "app.py").write_text(BASELINE_APP)
    imported_layer_dir, extension_notes = extension_stand_ins(layer_dir, work_dir / "layer" / "python")
    return Layout(
        layer_dir,
        imported_layer_dir,
        sdk_dir,
        baseline_dir,
        versions,
        tops,
        code_dirs,
        names,
        notes + extension_notes,
    )


def cases(layout: Layout) -> list[Case]:
    first = next(iter(layout.code_dirs))
    sdk, layer = (layout.sdk_dir,), (layout.layer_dir, layout.sdk_dir)
    where = {"code_dir": layout.code_dirs[first], "function_name": layout.function_names[first]}
    listed = [
        Case(REFERENCE, APP_CODE, (layout.baseline_dir, *sdk), layout.baseline_dir, "Baseline"),
        Case(
            "  ... + boto3.client('ec2')  (paid at the first call)", "import boto3\nboto3.client('ec2')", sdk, **where
        ),
        Case(
            "Powertools Logger() + Metrics()",
            "from aws_lambda_powertools import Logger, Metrics\nLogger(); Metrics()",
            layer,
            **where,
        ),
        Case("Powertools Tracer()  [tracing on]", "from aws_lambda_powertools import Tracer\nTracer()", layer, **where),
    ]
    for tracing in (True, False):
        listed += [
            Case(
                f"import app  [{name}]  tracing {'on' if tracing else 'off'}",
                APP_CODE,
                (code_dir, *layer),
                code_dir,
                layout.function_names[name],
                () if tracing else tuple(TRACING_OFF.items()),
                name,
                tracing,
            )
            for name, code_dir in layout.code_dirs.items()
        ]
    return listed


def measure_once(case: Case, layout: Layout, bytecode: str, depth: int) -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", os.defpath), **TEMPLATE_ENV, **dict(case.env)}
    env["LAMBDA_TASK_ROOT"] = str(case.code_dir)
    env["AWS_LAMBDA_FUNCTION_NAME"] = case.function_name
    compile_dirs = [str(case.code_dir)] + ([str(layout.layer_dir)] if bytecode == "none" else [])
    spec = json.dumps(
        {"path": [str(path) for path in case.path], "code": case.code, "compile": compile_dirs, "depth": depth}
    )
    done = subprocess.run(
        [sys.executable, "-S", "-P", "-c", CHILD, spec],
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
    """Where a loaded package came from: code, layer, runtime SDK or stdlib (anything else: its path)."""
    if file is None:
        return "stdlib"  # built-in or frozen
    path = Path(file).resolve()
    stdlib = {Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "platstdlib")}
    for where, roots in (
        ("code", {code_dir.resolve()}),
        ("layer", {layout.layer_dir.resolve()}),
        ("runtime SDK", {layout.sdk_dir.resolve()}),
        ("stdlib", stdlib),
    ):
        if any(path.is_relative_to(root) for root in roots):
            return where
    return rel(path)


def run(layout: Layout, runs: int, bytecode: str, clock: str) -> list[Row]:
    rows = [Row(case) for case in cases(layout)]
    print(f"measuring {len(rows)} cases x {runs} runs (+1 warm-up each) ...", file=sys.stderr)
    # Rounds over all cases rather than one case at a time, so that drift in machine load spreads over every row;
    # every row of a round runs from the same call depth, and each round from the next one.
    for round_no in range(runs + 1):
        depth = DEPTH_STEP * ((round_no - 1) % DEPTHS)
        for row in rows:
            if row.error is not None:
                continue
            try:
                result = measure_once(row.case, layout, bytecode, depth)
            except RuntimeError as e:
                row.error = f"failed: {e}"
                continue
            if round_no > 0:  # round 0 warms the OS file cache
                row.samples.append(result[clock])
                row.other.append(result[OTHER_CLOCK[clock]])
            row.modules, row.files = result["modules"], result["files"]
    return rows


def layout_problems(rows: list[Row], layout: Layout) -> list[str]:
    """The layer must not ship the SDK, and each handler must load each package from where Lambda would."""
    problems = [
        f"the layer ships {top} ({rel(layout.built_layer_dir / top)}): it would shadow the runtime's SDK"
        for top in layout.sdk_packages
        if (layout.built_layer_dir / top).exists() or (layout.built_layer_dir / f"{top}.py").exists()
    ]
    for row in rows:
        if row.case.function is None or not row.files:
            continue
        for top, expected in EXPECTED_ORIGIN.items():
            if top == "aws_xray_sdk" and not row.case.tracing and top not in row.files:
                continue
            got = origin(row.files.get(top), layout, row.case.code_dir) if top in row.files else "not loaded"
            if got != expected:
                problems.append(f"{row.case.label}: {top} from {got}, not from the {expected}")
    return problems


def du(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def report(rows: list[Row], layout: Layout, runs: int, bytecode: str, target: float, clock: str) -> dict[str, Any]:
    reference = next(row for row in rows if row.case.label == REFERENCE)
    base = reference.median if reference.samples else None
    notes = list(layout.notes)
    if platform.machine().lower() not in ("aarch64", "arm64"):
        notes.append(
            f"this machine is {platform.machine()}; the functions run on arm64 (Graviton): absolute figures differ"
        )

    def verdict(row: Row) -> str | None:
        if row.case.function is None or base is None:
            return None
        if not row.samples:
            return "FAIL"
        return "PASS" if row.median <= target * base else "FAIL"

    return {
        "machine": platform.machine(),
        "system": platform.system(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "bytecode": bytecode,
        "clock": clock,
        "runs": runs,
        "target": target,
        "layer_dir": rel(layout.built_layer_dir),
        "layer_bytes": du(layout.built_layer_dir.parent),
        "runtime_sdk": layout.sdk_versions,
        "code_dirs": {name: rel(path) for name, path in layout.code_dirs.items()},
        "reference": REFERENCE,
        "reference_median_ms": base,
        "notes": notes,
        "rows": [
            {
                "label": row.case.label,
                "code": row.case.code,
                "function": row.case.function,
                "tracing": row.case.tracing,
                "status": row.error or "ok",
                "median_ms": row.median if row.samples else None,
                "p90_ms": row.p90 if row.samples else None,
                "ratio": row.median / base if row.samples and base else None,
                "verdict": verdict(row),
                "modules_imported": row.modules if row.samples else None,
                "samples_ms": row.samples,
                f"{OTHER_CLOCK[clock]}_median_ms": statistics.median(row.other) if row.other else None,
                f"{OTHER_CLOCK[clock]}_samples_ms": row.other,
            }
            for row in rows
        ],
    }


def render(figures: dict[str, Any]) -> str:
    layer_bytecode = {
        "built": "the layer's .pyc as built (unchecked-hash); app.py compiled on each run",
        "none": "the layer's .pyc ignored: the layer and app.py compile on every run",
    }[figures["bytecode"]]
    sdk = ", ".join(f"{name} {version}" for name, version in figures["runtime_sdk"].items())
    lines = [
        f"Peering Autopilot cold-start import time ({CLOCKS[figures['clock']]} inside a fresh interpreter; ms)",
        "method: runtime SDK = the venv's boto3 and its requirements copied into a temporary dir and precompiled "
        "(compileall), as the Lambda runtime ships them;",
        f"        baseline = a function whose app.py is `{BASELINE_APP.strip()}`, from that dir alone; handler = the built "
        "function's app.py with sys.path = built code dir, built layer, runtime SDK (Lambda's order);",
        "        both imported with importlib.import_module, as the runtime imports a handler, each round from another "
        f"call depth (0-{DEPTH_STEP * (DEPTHS - 1)} frames in steps of {DEPTH_STEP}, the same for every row);",
        f"        fresh `python -S -P` per run, template environment; {figures['runs']} runs per row (+1 warm-up, "
        f"discarded), interleaved; ratio = median / baseline median; target <= {figures['target']}x",
        f"machine: {figures['machine']} {figures['system']}, {figures['implementation']} {figures['python']}",
        f"runtime SDK: {sdk}",
        f"layer: {figures['layer_dir']} ({figures['layer_bytes'] / 2**20:.1f} MiB unzipped); bytecode: {layer_bytecode}",
        "tracing on: as deployed (Tracing: Active, LAMBDA_TASK_ROOT set); off: POWERTOOLS_TRACE_DISABLED=true",
    ]
    lines += [f"note: {note}" for note in figures["notes"]]

    other = OTHER_CLOCK[figures["clock"]]
    header = ("case", "median", "p90", "ratio", f"{other} median", "modules", "")
    table = [header]
    for row in figures["rows"]:
        if row["median_ms"] is None:
            table.append((row["label"], "-", "-", "-", "-", "-", row["status"]))
            continue
        table.append(
            (
                row["label"],
                f"{row['median_ms']:.1f}",
                f"{row['p90_ms']:.1f}",
                "(ref)" if row["label"] == figures["reference"] else f"{row['ratio']:.2f}x",
                f"{row[f'{other}_median_ms']:.1f}",
                str(row["modules_imported"]),
                row["verdict"] or "",
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
    handlers = [row for row in figures["rows"] if row["function"] is not None]
    for tracing in (True, False):
        subset = [row for row in handlers if row["tracing"] is tracing]
        worst = max((row["ratio"] or float("inf") for row in subset), default=float("nan"))
        passed = all(row["verdict"] == "PASS" for row in subset)
        lines.append(
            f"tracing {'on ' if tracing else 'off'}: worst handler {worst:.2f}x bare boto3: "
            + ("PASS" if passed else "FAIL")
            + f" (target <= {figures['target']}x)"
        )
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
    parser.add_argument(
        "--runs",
        type=int,
        default=RUNS,
        help=f"measured runs per row, round n from depth {DEPTH_STEP} * (n mod {DEPTHS}) (default {RUNS})",
    )
    parser.add_argument("--target", type=float, default=TARGET, help=f"ratio each handler must meet (default {TARGET})")
    parser.add_argument("--bytecode", choices=["built", "none"], default="built", help="see above (default built)")
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu", help="the clock the target is judged by (default cpu)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    with tempfile.TemporaryDirectory(prefix="cold-start-") as work_dir, xray_touch_file_removed():
        layout = discover(Path(work_dir))
        rows = run(layout, args.runs, args.bytecode, args.clock)
        figures = report(rows, layout, args.runs, args.bytecode, args.target, args.clock)
        problems = layout_problems(rows, layout)
    problems += [f"{row.case.label}: {row.error}" for row in rows if row.error]
    problems += [
        f"{row['label']}: {row['ratio']:.2f}x bare boto3, over the {args.target}x target"
        for row in figures["rows"]
        if row["verdict"] == "FAIL" and row["ratio"] is not None
    ]
    figures["problems"] = problems

    print(json.dumps(figures, indent=2) if args.json else render(figures))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
