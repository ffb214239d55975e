# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when needed.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# sam build looks for the runtime's interpreter (python3.13) on PATH: the venv's own bin has it.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0
# autopilot_local (the harness, the demo) is not installed: it runs from the checkout.
export PYTHONPATH := $(CURDIR)
export AWS_DEFAULT_REGION ?= us-east-1
TEMPLATES := template.yaml member/template.yaml

.PHONY: demo test lint typecheck imports templates build pytest clean coldstart calls peering-calls scale

$(STAMP): requirements-dev.txt constraints.txt pyproject.toml
	@py=$$(scripts/find-python) && echo "creating $(VENV) with $$py" && "$$py" -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m autopilot_local.demo

test: lint typecheck imports templates build pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	for f in functions/*/app.py; do $(BIN)/mypy --strict "$$f" || exit 1; done

imports: $(STAMP)
	PYTHONPATH=layers/peering_autopilot $(BIN)/lint-imports --no-cache

templates: $(STAMP)
	$(BIN)/cfn-lint $(TEMPLATES)
	for t in $(TEMPLATES); do $(BIN)/sam validate --lint --template-file $$t || exit 1; done

build: $(STAMP)
	$(BIN)/sam build --template-file template.yaml --build-dir .aws-sam/build

# One pytest-xdist worker per core, up to 4 (CI has 2); worksteal keeps both busy to the end
# (the default split left one worker idle for half the run: 250 s against 164 s).
pytest: $(STAMP)
	$(BIN)/pytest -n auto --maxprocesses 4 --dist worksteal

coldstart: $(STAMP) build
	$(BIN)/python benchmarks/cold_start.py

calls: $(STAMP)
	$(BIN)/python benchmarks/configure_calls.py

# The AWS calls of one cross-account peering from request to verdict, per function.
peering-calls: $(STAMP)
	$(BIN)/python benchmarks/peering_calls.py

scale: $(STAMP)
	$(BIN)/python benchmarks/sweep_scale.py

clean:
	rm -rf .aws-sam $(VENV)
