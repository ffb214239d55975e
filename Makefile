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
TEMPLATES := template.yaml member/template.yaml org-reader/template.yaml
comma := ,
.DEFAULT_GOAL := help

.PHONY: help demo test lint typecheck imports templates build pytest clean coldstart calls peering-calls group-calls scale \
	emulator invoke member-stackset write-budget checkov parliament policy-check policy-deploy \
	org-scale org-reader org-delegate

$(STAMP): requirements-dev.txt constraints.txt pyproject.toml
	@py=$$(scripts/find-python) && echo "creating $(VENV) with $$py" && "$$py" -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 24

demo: $(STAMP) ## the whole automation, narrated, against an embedded AWS emulator
	$(BIN)/python -m autopilot_local.demo

# The checks run two at a time (each is mostly one process), each one's output kept together; then the tests.
CHECKS := lint typecheck imports templates checkov parliament build
test: $(STAMP) ## every check and test (what CI runs)
	$(MAKE) --no-print-directory -j2 --output-sync=target $(CHECKS)
	$(MAKE) --no-print-directory pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	for f in functions/*/app.py; do $(BIN)/mypy --strict "$$f" || exit 1; done

imports: $(STAMP)
	PYTHONPATH=layers/peering_autopilot:. $(BIN)/lint-imports --no-cache

templates: $(STAMP)
	$(BIN)/cfn-lint --include-checks I -- $(TEMPLATES)  # informational rules too
	for t in $(TEMPLATES); do $(BIN)/sam validate --lint --template-file $$t || exit 1; done

# checkov reads plain CloudFormation: the hub template after the SAM transform (the roles and
# permissions SAM generates included), and the member template as it is. Findings left are
# suppressed in the templates (Metadata: checkov: skip) with the reason; a new one fails the build.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@py=$$(scripts/find-python) && "$$py" -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

checkov: $(STAMP) $(CHECKOV_VENV)/.installed ## checkov on both templates (the hub's SAM-transformed)
	$(BIN)/python -m autopilot_local.sam_transform template.yaml build/template.cfn.json
	$(CHECKOV_VENV)/bin/checkov --framework cloudformation -f build/template.cfn.json -f member/template.yaml -f org-reader/template.yaml \
		--compact --quiet --skip-download

# parliament audits every IAM policy of both templates, the SAM-generated ones included
# (autopilot_local.iam_audit writes them out resolved); findings that are right as they are are
# explained in parliament.yaml, any other fails the build.
PARLIAMENT_VENV := .venv-parliament
$(PARLIAMENT_VENV)/.installed: requirements-parliament.txt
	@py=$$(scripts/find-python) && "$$py" -m venv $(PARLIAMENT_VENV)
	$(PARLIAMENT_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-parliament.txt
	@touch $@

parliament: $(STAMP) $(PARLIAMENT_VENV)/.installed ## parliament on every IAM policy (SAM's included)
	$(BIN)/python -m autopilot_local.iam_audit build/iam
	$(PARLIAMENT_VENV)/bin/python scripts/parliament-check build/iam parliament.yaml

build: $(STAMP) ## sam build into .aws-sam/build (the venv's python3.13 on PATH)
	$(BIN)/sam build --template-file template.yaml --build-dir .aws-sam/build

# One pytest-xdist worker per core, up to 4 (CI has 2); worksteal keeps both busy to the end
# (the default split left one worker idle for half the run: 250 s against 164 s).
# The suite records each function's AWS calls (autopilot_local/access.py); tests/recorded then holds
# the templates' grants against them.
pytest: $(STAMP)
	rm -rf build/recorded-calls
	AUTOPILOT_RECORD_CALLS=build/recorded-calls $(BIN)/pytest -n auto --maxprocesses 4 --dist worksteal \
		--ignore=tests/recorded
	AUTOPILOT_RECORD_CALLS=build/recorded-calls $(BIN)/pytest -p no:xdist -q tests/recorded

coldstart: $(STAMP) build ## import time of each built handler against a bare boto3
	$(BIN)/python benchmarks/cold_start.py

calls: $(STAMP) ## EC2 calls to configure one cross-account peering
	$(BIN)/python benchmarks/configure_calls.py

# The AWS calls of one cross-account peering from request to verdict, per function.
domain-import: $(STAMP) ## the domain's own import time per handler, against AGAINST=<git ref>
	@test -n "$(AGAINST)" || { echo "error: name the ref to compare with: make domain-import AGAINST=<tag or commit>" >&2; exit 2; }
	$(BIN)/python benchmarks/domain_import.py --against $(AGAINST)

group-calls: $(STAMP) ## EC2 calls of a peering group of 5 VPCs to converge and to re-sweep
	$(BIN)/python benchmarks/group_calls.py

peering-calls: $(STAMP) ## EC2 and record (DynamoDB, SQS) calls of one peering from request to verdict, per function; a sweep
	$(BIN)/python benchmarks/peering_calls.py

write-budget: $(STAMP) ## EC2 writes per second of a burst of new peerings at the reserved concurrency
	$(BIN)/python -m autopilot_local.write_budget

scale: $(STAMP) ## sweep reads and events at 1,000 peerings
	$(BIN)/python benchmarks/sweep_scale.py

org-scale: $(STAMP) ## the Organization's walk and its cache at 10,000 accounts in 500 OUs (takes minutes)
	$(BIN)/python benchmarks/org_scale.py

# The read-only role the sweep assumes in the management account (docs/governance.md "Managed by the
# Organization"): run with the management account's credentials. Or instead make the hub account
# a delegated administrator: `make org-delegate HUB_ACCOUNT=…` (management account's credentials).
org-reader: $(STAMP) ## deploy org-reader/template.yaml in the management account: SWEEP_ROLE_ARN=<hub output SweepFunctionRoleArn>
	@test -n "$(SWEEP_ROLE_ARN)" || { echo "usage: make org-reader SWEEP_ROLE_ARN=arn:aws:iam::HUB:role/peering-autopilot/..." >&2; exit 2; }
	aws cloudformation deploy --template-file org-reader/template.yaml --stack-name peering-autopilot-org-reader \
		--capabilities CAPABILITY_NAMED_IAM --parameter-overrides SweepFunctionRoleArn=$(SWEEP_ROLE_ARN)
	aws cloudformation describe-stacks --stack-name peering-autopilot-org-reader \
		--query "Stacks[0].Outputs[?OutputKey=='OrganizationsReadRoleArn'].OutputValue" --output text

org-delegate: ## let the hub account read the Organization as a delegated administrator: HUB_ACCOUNT=<12 digits>
	@test -n "$(HUB_ACCOUNT)" || { echo "usage: make org-delegate HUB_ACCOUNT=123456789012" >&2; exit 2; }
	aws organizations put-resource-policy --content "$$(sed "s/HUB_ACCOUNT/$(HUB_ACCOUNT)/" org-reader/delegation-policy.json)"

# The demo's world in an emulator that keeps running: its endpoint and what to try are printed.
emulator: $(STAMP) ## keep a seeded AWS emulator running for invoke and the doctor (EMULATOR_PORT=5000)
	$(BIN)/python -m autopilot_local.emulator

# Against the emulator (AWS_ENDPOINT_URL set) DryRun is off; REAL_AWS=1 is the only way to reach the
# account your credentials name, and then events/env.json keeps DryRun on.
invoke: $(STAMP) build ## run a built function on an event: FN=<function> EVENT=<file> [REAL_AWS=1 PROFILE=]
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=AcceptPeeringFunction EVENT=events/accept_peering/create-cross-account.json [REAL_AWS=1]" >&2; exit 2; }
	$(BIN)/python -m autopilot_local.invoke_built $(FN) $(EVENT) --env-vars events/env.json \
		$(if $(REAL_AWS),--real-aws,--env-vars events/env.emulator.json) $(if $(PROFILE),--profile $(PROFILE))

# Reads the deployed hub stack with your credentials; prints the commands, runs none.
member-stackset: $(STAMP) ## the StackSet commands for the members, from the hub's outputs: OU=ou-… [HUB_STACK= REGION= CALL_AS= READ_ONLY= ROLE_REGION= ADD_REGIONS=]
	@test -n "$(OU)" || { echo "usage: make member-stackset OU=ou-abcd-12345678 [HUB_STACK=peering-autopilot] [REGION=us-east-1] [CALL_AS=DELEGATED_ADMIN] [READ_ONLY=arn,arn|none] [ROLE_REGION=region] [ADD_REGIONS=\"region …\"]" >&2; exit 2; }
	@$(BIN)/python -m autopilot_local.deploy $(foreach ou,$(OU),--org-unit $(ou)) --hub-stack $(or $(HUB_STACK),peering-autopilot) \
		$(if $(REGION),--region $(REGION)) --call-as $(or $(CALL_AS),SELF) \
		$(if $(READ_ONLY),--read-only-principals '$(READ_ONLY)') $(if $(ROLE_REGION),--role-region $(ROLE_REGION)) \
		$(if $(ADD_REGIONS),--add-regions $(subst $(comma), ,$(ADD_REGIONS)))

# The network team's policy (docs/governance.md "Policy"): checked as the functions check it at load, by this
# checkout's command.
POLICY_CLI := PYTHONPATH=$(CURDIR)/layers/peering_autopilot $(BIN)/python -m peering_autopilot.cli policy
policy-check: $(STAMP) ## validate a policy document: POLICY=<file> [CASES=<file>: also its expected outcomes]
	@test -n "$(POLICY)" || { echo "usage: make policy-check POLICY=examples/policy.yaml [CASES=examples/policy-cases.yaml]" >&2; exit 2; }
	$(POLICY_CLI) check $(POLICY)
	$(if $(CASES),$(POLICY_CLI) test $(POLICY) $(CASES))

# Checked first (nothing written on any fault), then stored with your credentials, a new version.
policy-deploy: $(STAMP) ## check and store a policy: POLICY=<file> [PARAMETER=/peering-autopilot/policy PROFILE= REGION=]
	@test -n "$(POLICY)" || { echo "usage: make policy-deploy POLICY=examples/policy.yaml [PARAMETER=/peering-autopilot/policy] [PROFILE=…] [REGION=…]" >&2; exit 2; }
	$(POLICY_CLI) deploy $(POLICY) --parameter-name $(or $(PARAMETER),/peering-autopilot/policy) \
		$(if $(PROFILE),--profile $(PROFILE)) $(if $(REGION),--region $(REGION))

clean: ## remove the build and the venv
	rm -rf .aws-sam $(VENV) $(CHECKOV_VENV) $(PARLIAMENT_VENV)
