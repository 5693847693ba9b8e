# nginx-eip-failover: developer and CI entry points. `make help` lists the targets.
#
# Each tool lives in its own virtualenv, created on first use and refreshed when its inputs change:
#   .venv          the package in editable mode with its dev extras (tests, lint, lab, bench)
#   .venv-sam      AWS SAM CLI (sam validate --lint, sam build)
#   .venv-cfnlint  cfn-lint
#   .venv-checkov  checkov
#   .venv-parliament  parliament (IAM policy linter)
#   .venv-lock     uv, pinned (make lock: the functions' dependencies as exact versions with hashes)
#   .venv-contract python3.13 with only the Lambda runtime's boto3 and the test tools (make contract-test)
#   .venv-cdk      aws-cdk-lib and the construct library constructs/ (make cdk-test, make demo STACK=cdk)
# Nothing here calls AWS but `make aws-e2e`, opt-in: validate, lint and build work offline from AWS (PyPI is needed to install).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
CFNLINT_VENV := .venv-cfnlint
CHECKOV_VENV := .venv-checkov
PARLIAMENT_VENV := .venv-parliament
LOCK_VENV := .venv-lock
CONTRACT_VENV := .venv-contract
CDK_VENV := .venv-cdk
CDK_SYNTH_DIR := build/cdk-synth
# The lock tool is pinned too, so `make lock` on two machines writes the same file.
UV_VERSION := 0.13.9
FUNCTION_LOCK := src/requirements.txt
# The functions' dependencies are installed for this platform (src/Makefile), so they are locked for it.
LOCK_PLATFORM := --python-version 3.13 --python-platform aarch64-manylinux_2_17
# python3.13 for the contract suite (pyenv's, when there is one; else python3.13 on PATH).
PYTHON313 ?= $(if $(HAVE_PYENV),$(shell PYENV_VERSION=3.13.0 pyenv which python3.13 2>/dev/null),python3.13)
BUILD_DIR := .aws-sam/build
CONTRACT_LAB_DIR := build/contract-lab
IAM_POLICY_DIR := build/iam-policies
STAMP := .installed

# sam build needs the template's runtime (python3.13) on PATH; with pyenv, expose these versions.
PYENV_BUILD_VERSIONS ?= 3.11.7:3.12.1:3.13.0
HAVE_PYENV := $(shell command -v pyenv 2>/dev/null)

export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# sam validate --lint needs a region; none is ever contacted.
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install nginx test lint validate build cfn-lint checkov iam-lint iac-surface demo bench chaos soak check clean distclean \
	lock contract-test cdk-test release model-check model-check-ci docs docs-check aws-e2e

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# ----------------------------------------------------------------------------------- environments

install: $(VENV)/$(STAMP) ## create .venv (current python3) with the package and its dev extras

$(VENV)/$(STAMP): pyproject.toml
	@echo ">> $(VENV): pip install -e '.[dev]' with $$($(PYTHON) --version)"
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $@

$(SAM_VENV)/$(STAMP):
	@echo ">> $(SAM_VENV): pip install aws-sam-cli"
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli
	touch $@

$(CFNLINT_VENV)/$(STAMP):
	@echo ">> $(CFNLINT_VENV): pip install cfn-lint"
	test -x $(CFNLINT_VENV)/bin/python || $(PYTHON) -m venv $(CFNLINT_VENV)
	$(CFNLINT_VENV)/bin/python -m pip install --quiet cfn-lint
	touch $@

$(CHECKOV_VENV)/$(STAMP):
	@echo ">> $(CHECKOV_VENV): pip install checkov"
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov
	touch $@

$(PARLIAMENT_VENV)/$(STAMP):
	@echo ">> $(PARLIAMENT_VENV): pip install parliament"
	test -x $(PARLIAMENT_VENV)/bin/python || $(PYTHON) -m venv $(PARLIAMENT_VENV)
	$(PARLIAMENT_VENV)/bin/python -m pip install --quiet parliament
	touch $@

$(LOCK_VENV)/$(STAMP):
	@echo ">> $(LOCK_VENV): pip install uv==$(UV_VERSION)"
	test -x $(LOCK_VENV)/bin/python || $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)
	touch $@

# The CDK (jsii runs aws-cdk-lib on node, which must be on PATH); synth is offline.
$(CDK_VENV)/$(STAMP): constructs/pyproject.toml
	@echo ">> $(CDK_VENV): pip install -e './constructs[test]' (aws-cdk-lib, constructs)"
	test -x $(CDK_VENV)/bin/python || $(PYTHON) -m venv $(CDK_VENV)
	$(CDK_VENV)/bin/python -m pip install --quiet -e './constructs[test]'
	touch $@

# Function code is NOT installed here: the contract suite imports it from the sam build output
# (PYTHONPATH), next to boto3/botocore at the Lambda runtime's versions (requirements/lambda-runtime.txt
# constrains everything the test tools pull in, so nothing upgrades them).
$(CONTRACT_VENV)/$(STAMP): requirements/lambda-runtime.txt requirements/contract-tests.in
	@echo ">> $(CONTRACT_VENV): python3.13 with the Lambda runtime's boto3 and the test tools"
	@test -n "$(PYTHON313)" && "$(PYTHON313)" -c 'import sys; assert sys.version_info[:2] == (3, 13)' \
	  || { echo "python3.13 is needed (pyenv install 3.13.0, or PYTHON313=/path/to/python3.13)" >&2; exit 1; }
	rm -rf $(CONTRACT_VENV)
	"$(PYTHON313)" -m venv $(CONTRACT_VENV)
	$(CONTRACT_VENV)/bin/python -m pip install --quiet -r requirements/lambda-runtime.txt
	$(CONTRACT_VENV)/bin/python -m pip install --quiet -c requirements/lambda-runtime.txt -r requirements/contract-tests.in
	touch $@

nginx: ## make sure an nginx binary exists (the lab and integration tests run real nginx on 127.0.0.1)
	@if nginx_bin=$$(command -v nginx || ls /usr/sbin/nginx /usr/local/sbin/nginx 2>/dev/null | head -n 1) \
	    && [ -n "$$nginx_bin" ]; then \
	  echo ">> nginx: $$nginx_bin"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo ">> nginx is missing: apt-get install nginx-light (or nginx)"; \
	  export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1; \
	  apt-get update -q; \
	  apt-get install -y -q --no-install-recommends nginx-light || apt-get install -y -q --no-install-recommends nginx; \
	else \
	  echo "nginx is not installed, and this is not root (or not Debian): install it first, e.g." >&2; \
	  echo "  sudo apt-get update && sudo apt-get install -y nginx-light   (or: nginx)" >&2; \
	  echo "  (Fedora/RHEL: sudo dnf install -y nginx; macOS: brew install nginx)" >&2; \
	  exit 1; \
	fi

# ---------------------------------------------------------------------------------------- checks

# The suite in TEST_WORKERS processes (pytest-xdist; `make test TEST_WORKERS=0`: one process). A test
# file goes to one worker whole (--dist loadfile), with its module fixtures; each worker has its own
# moto server and takes its own share of 127.0.0.1's free ports (nginx_eip_failover_lab.processes).
TEST_WORKERS ?= 2
test: install nginx ## run the whole test suite (TEST_WORKERS=2 processes)
	$(VENV)/bin/pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile) tests

lint: install ## ruff check, ruff format --check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

validate: $(SAM_VENV)/$(STAMP) ## sam validate --lint
	$(SAM_VENV)/bin/sam validate --lint --template-file template.yaml

cfn-lint: $(CFNLINT_VENV)/$(STAMP) ## cfn-lint (settings in .cfnlintrc): the stack and the e2e test's nodes stack
	$(CFNLINT_VENV)/bin/cfn-lint template.yaml tests/e2e/aws/nodes.yaml

# --skip-download: no call to the Prisma Cloud API (no network here; it only fetches guideline links).
checkov: $(CHECKOV_VENV)/$(STAMP) ## checkov (suppressions are justified in template.yaml Metadata)
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download

# The Terraform module (issue #28); suppressions are `#checkov:skip=ID:reason` lines in terraform/*.tf.
.PHONY: checkov-terraform terraform-validate function-zip
checkov-terraform: $(CHECKOV_VENV)/$(STAMP) ## checkov on terraform/ (suppressions justified inline)
	$(CHECKOV_VENV)/bin/checkov -d terraform --framework terraform --quiet --compact --skip-download

# Only where a terraform binary is: fmt -check, init, validate on the module and the example, then
# `terraform test` (plans under a mocked provider: no AWS, no credentials): terraform/tests/, and in
# build/terraform-parity a copy of the module with the test nginx_eip_failover_lab.terraform.test_file
# writes, where Terraform itself compares the module's IAM statements with template.yaml's. init
# needs the aws provider: from TF_PLUGIN_DIR when that directory exists (offline), else the registry.
TF_PLUGIN_DIR ?= /opt/tf-plugins
TF_TEST_ZIP := $(CURDIR)/build/terraform-test/function.zip
terraform-validate: $(VENV)/$(STAMP) ## terraform fmt/validate/test on terraform/ and examples/terraform (skipped without terraform)
	@set -e; if ! command -v terraform >/dev/null; then echo ">> terraform-validate: no terraform binary here, skipped"; exit 0; fi; \
	plugins=$$([ -d "$(TF_PLUGIN_DIR)" ] && echo "-plugin-dir=$(TF_PLUGIN_DIR)" || true); \
	terraform fmt -check -recursive terraform examples/terraform; \
	mkdir -p "$$(dirname $(TF_TEST_ZIP))"; \
	$(PYTHON) -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w").writestr("placeholder.txt", "")' $(TF_TEST_ZIP); \
	$(VENV)/bin/python -m nginx_eip_failover_lab.terraform.test_file build/terraform-parity >/dev/null; \
	for dir in terraform examples/terraform build/terraform-parity; do \
	  terraform -chdir=$$dir init -backend=false -input=false -no-color $$plugins >/dev/null; \
	  terraform -chdir=$$dir validate -no-color; \
	done; \
	for dir in terraform build/terraform-parity; do \
	  terraform -chdir=$$dir test -no-color -var "function_zip=$(TF_TEST_ZIP)"; \
	done

# The one deployment package both functions run, for the Terraform module's function_zip: the sam
# build output (make build) zipped, not a copy of src/.
function-zip: ## zip .aws-sam/build/MonitorFunction (make build first) to build/function.zip
	@test -d $(BUILD_DIR)/MonitorFunction/nginx_eip_failover || { echo "no $(BUILD_DIR)/MonitorFunction: run make build first" >&2; exit 1; }
	mkdir -p build && rm -f build/function.zip
	cd $(BUILD_DIR)/MonitorFunction && $(PYTHON) -m zipfile -c $(CURDIR)/build/function.zip *
	@echo ">> build/function.zip: $$(du -h build/function.zip | cut -f1)"

# The template's policies resolved as deployed (both pair shapes; nginx_eip_failover_lab.iam.policy_documents),
# refusing any granted resource that an action of its statement is never authorized against (parliament
# checks only that some resource fits each action); then parliament: unknown actions, actions no
# resource of their statement fits, condition keys an action does not support. One narrow exception: in the KMS key policy "Resource": "*" means
# "this key" (AWS's documented form, the only one a key policy takes), which parliament reports as
# RESOURCE_STAR (LOW); the key policy is linted from MEDIUM up, everything else from LOW up.
iam-lint: $(VENV)/$(STAMP) $(PARLIAMENT_VENV)/$(STAMP) ## parliament on the template's resolved IAM policies
	rm -rf $(IAM_POLICY_DIR)
	$(VENV)/bin/python -m nginx_eip_failover_lab.iam.policy_documents $(IAM_POLICY_DIR) >/dev/null
	$(PARLIAMENT_VENV)/bin/parliament --minimum_severity LOW \
	  --files "$$(ls $(IAM_POLICY_DIR)/*.json | grep -v '\.resource-kms-' | paste -sd, -)"
	$(PARLIAMENT_VENV)/bin/parliament --minimum_severity MEDIUM \
	  --files "$$(ls $(IAM_POLICY_DIR)/*.resource-kms-*.json | paste -sd, -)"
	@echo ">> parliament: $$(ls $(IAM_POLICY_DIR)/*.json | wc -l) policy documents clean"

# What a deployment grants and runs (IAM statements, environments, schedules; physical names as
# ${LogicalId}), read from template.yaml for both pair shapes x both profiles: the reference a CDK
# construct or Terraform module must match (issue #28). Under a second; tests/iac checks it.
iac-surface: $(VENV)/$(STAMP) ## template.yaml's IAM, environments and schedules as JSON, in build/iac-surface/
	mkdir -p build/iac-surface
	for variant in instance-lean instance-full eni-lean eni-full; do \
	  $(VENV)/bin/python -m nginx_eip_failover_lab.iac_surface --variant $$variant >build/iac-surface/$$variant.json || exit 1; \
	done
	@echo ">> build/iac-surface: $$(ls build/iac-surface/*.json | wc -l) surfaces"

check: lint test validate cfn-lint checkov checkov-terraform terraform-validate iam-lint ## everything CI checks except sam build

build: $(SAM_VENV)/$(STAMP) ## sam build (needs python3.13 on PATH)
ifneq ($(HAVE_PYENV),)
	PYENV_VERSION=$(PYENV_BUILD_VERSIONS) $(SAM_VENV)/bin/sam build
else
	$(SAM_VENV)/bin/sam build
endif

lock: $(LOCK_VENV)/$(STAMP) ## refresh src/requirements.txt (the functions' dependencies, exact and hashed)
	$(LOCK_VENV)/bin/uv pip compile requirements/function.in --quiet --generate-hashes $(LOCK_PLATFORM) \
	  --no-header --upgrade -o $(FUNCTION_LOCK)
	@sed -i '1i # Generated by `make lock` from requirements/function.in (uv $(UV_VERSION), python3.13 arm64): do not edit.\n# src/Makefile installs exactly these files (--require-hashes). boto3 is the Lambda runtime'"'"'s (docs/dependencies.md).' $(FUNCTION_LOCK)
	@echo ">> $(FUNCTION_LOCK): $$(grep -c '==' $(FUNCTION_LOCK)) pinned packages"

# The contract suite on what `sam build` produced, under python3.13 with only the runtime's boto3:
# the function code comes from .aws-sam/build/MonitorFunction (the CLI is not in it, nor src/), the lab
# from a copy of the lab package alone. tests/contract asserts both, so a stray src/ import fails.
# The contract: the build's own checks, then failover (the invariants) and the control actions on the lab.
CONTRACT_TESTS ?= tests/contract tests/integration/test_lab_failover.py tests/integration/test_lab_control.py
contract-test: $(CONTRACT_VENV)/$(STAMP) nginx ## the contract suite on the sam build output (run make build first)
	@test -d $(BUILD_DIR)/MonitorFunction/nginx_eip_failover || { echo "no $(BUILD_DIR)/MonitorFunction: run make build first" >&2; exit 1; }
	rm -rf $(CONTRACT_LAB_DIR) && mkdir -p $(CONTRACT_LAB_DIR)
	cp -R src/nginx_eip_failover_lab $(CONTRACT_LAB_DIR)/
	NGINX_EIP_FAILOVER_CONTRACT_BUILD="$(CURDIR)/$(BUILD_DIR)/MonitorFunction" \
	  PYTHONPATH="$(CURDIR)/$(BUILD_DIR)/MonitorFunction:$(CURDIR)/$(CONTRACT_LAB_DIR)" \
	  $(CONTRACT_VENV)/bin/python -m pytest -q $(CONTRACT_TESTS)

# The CDK construct (constructs/, issue #28) on the sam build output it packages: aws_cdk.assertions on its
# resources and every IAM statement, after mypy on the package and the example app (.venv-cdk, no conftest: it needs neither the lab nor moto), then,
# in .venv, the parity with template.yaml (props, IAM/environments/schedules per variant, resources,
# outputs) and the lab run from the synthesized template, both on one synth (support/cdk_synth.py).
# jsii prints a screenful on a node release past its end of life (this machine's node 20): once is in the docs.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
cdk-test: $(VENV)/$(STAMP) $(CDK_VENV)/$(STAMP) nginx ## the CDK construct: assertions, parity with template.yaml, the lab on its synth (run make build first)
	@test -d $(BUILD_DIR)/MonitorFunction/nginx_eip_failover || { echo "no $(BUILD_DIR)/MonitorFunction: run make build first" >&2; exit 1; }
	cd constructs && ../$(CDK_VENV)/bin/python -m mypy --strict nginx_eip_failover_cdk ../examples/cdk/app.py
	$(CDK_VENV)/bin/python -m pytest -q --noconftest -p no:cacheprovider tests/iac/test_cdk_construct.py
	NGINX_EIP_FAILOVER_CDK_PYTHON="$(CURDIR)/$(CDK_VENV)/bin/python" \
	  $(VENV)/bin/python -m pytest -q tests/iac/test_cdk_parity.py tests/integration/test_lab_cdk.py

# One version source, pyproject.toml; the release also writes __version__ and the template's
# SemanticVersion, moves CHANGELOG.md's Unreleased entries under the version, commits and tags (no push).
release: ## cut a release: make release VERSION=x.y.z (clean tree; commit + annotated tag vX.Y.Z, never pushed)
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z" >&2; exit 1; }
	$(PYTHON) tools/release.py "$(VERSION)"

# ------------------------------------------------------------------------------------------- run

# The one target that calls AWS, and only when asked: creates, measures and deletes billed resources in
# the account NGINX_EIP_FAILOVER_E2E_ACCOUNT names (docs/aws-e2e.md); unset, it prints why it skipped.
aws-e2e: install ## opt-in real-account end-to-end test (NGINX_EIP_FAILOVER_E2E_ACCOUNT=<account id>; docs/aws-e2e.md)
	@if [ -n "$${NGINX_EIP_FAILOVER_E2E_ACCOUNT:-}" ]; then $(MAKE) --no-print-directory build; fi
	@$(VENV)/bin/python -m nginx_eip_failover_e2e $(E2E_ARGS)

# STACK=cdk: the lab runs the CDK construct's synthesized stack instead of template.yaml (after make build).
STACK ?= sam
demo: install nginx ## run the local lab: two real nginx nodes, a moto AWS, the functions (STACK=cdk: from the CDK synth)
ifeq ($(STACK),cdk)
	$(MAKE) $(CDK_VENV)/$(STAMP)
	$(CDK_VENV)/bin/python -m nginx_eip_failover_cdk.synth --lab $(CDK_SYNTH_DIR)
	NGINX_EIP_FAILOVER_TEMPLATE=$(CDK_SYNTH_DIR)/nginx-eip-failover-lab.template.json $(VENV)/bin/python -m nginx_eip_failover_lab
else
	$(VENV)/bin/python -m nginx_eip_failover_lab
endif

# The chaos soak's seed (chooses every fault, node, duration and request) and minutes of faults.
SEED ?= 1
MINUTES ?= 5

chaos: install nginx ## chaos soak on the real lab, checked by the simulator's invariants (SEED=N MINUTES=M)
	$(VENV)/bin/python -m nginx_eip_failover_lab.chaos --seed $(SEED) --minutes $(MINUTES)

bench: install nginx ## run the benchmarks
	$(VENV)/bin/python -m bench

SEEDS ?= 1000
SOAK_JOBS ?= 0
docs: install ## regenerate docs/parameters.md (template.yaml), docs/cli.md (the CLI's parser), docs/figures.md (docs/figures.json)
	$(VENV)/bin/python -m nginx_eip_failover_docs generate

docs-check: install ## fail on a stale generated page, a doc naming what does not exist, a fact the code contradicts, or a quoted figure docs/figures.json does not hold
	$(VENV)/bin/python -m nginx_eip_failover_docs check

model-check: install ## the exhaustive small-scope check of the decision core at its deep bound (minutes), then the re-injected #25 rule
	$(VENV)/bin/python -m nginx_eip_failover_sim.model_check --deep
	$(VENV)/bin/python -m nginx_eip_failover_sim.model_check --fault streak_by_time_gap

model-check-ci: install ## the model checker's CI bound (about a minute), then the re-injected #25 rule caught
	$(VENV)/bin/python -m nginx_eip_failover_sim.model_check
	$(VENV)/bin/python -m nginx_eip_failover_sim.model_check --fault streak_by_time_gap

soak: install ## the deterministic simulator over seeds 1..SEEDS (make soak SEEDS=10000; SOAK_JOBS=0: a process per CPU)
	$(VENV)/bin/python -m nginx_eip_failover_sim --seeds 1..$(SEEDS) --jobs $(SOAK_JOBS)

clean: ## remove build output and caches (keeps the virtualenvs)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
	find . -path ./.git -prune -o -path './.venv*' -prune -o \
	  \( -name __pycache__ -o -name '*.egg-info' -o -name .mypy_cache \) -type d -print0 | xargs -0 rm -rf

distclean: clean ## clean, and remove the virtualenvs too
	rm -rf $(VENV) $(SAM_VENV) $(CFNLINT_VENV) $(CHECKOV_VENV) $(PARLIAMENT_VENV) $(CDK_VENV)
