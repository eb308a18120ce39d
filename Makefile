# Pitlane: `make demo` runs the local stack replaying a real session; `make test` runs every check.
# Both run `make setup` first, which is a no-op when .venv is current.

PYTHON ?= python3
VENV := .venv
TASKS_VENV := .venv-tasks
BIN := $(VENV)/bin
STAMP := $(VENV)/.pitlane-setup
TASKS_STAMP := $(TASKS_VENV)/.pitlane-setup
# The Cloud Tasks emulator pins protobuf<5, which clashes with google-cloud-*; it lives apart.
TASKS_EMULATOR := gcloud-tasks-emulator==0.6.2

.PHONY: setup demo test lint typecheck unit bench stack-up stack-down clean

setup: $(STAMP) $(TASKS_STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -e '.[dev]'
	touch $@

$(TASKS_STAMP):
	test -x $(TASKS_VENV)/bin/python || $(PYTHON) -m venv $(TASKS_VENV)
	$(TASKS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(TASKS_EMULATOR)
	touch $@

lint: setup
	$(BIN)/ruff check shared functions infra tests
	$(BIN)/ruff format --check shared functions infra tests

typecheck: setup
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/python -m pytest --cov --cov-report=term --cov-report=xml:.coverage.xml -p no:cacheprovider
	$(BIN)/python -m coverage report --include='shared/*' --fail-under=80

unit: setup
	$(BIN)/python -m pytest tests/unit -q

demo: setup
	$(BIN)/python -m infra.demo $(DEMO_ARGS)

bench: setup
	$(BIN)/python -m tests.bench

stack-up: setup
	$(BIN)/pitlane stack up

stack-down:
	$(BIN)/pitlane stack down

clean:
	-$(BIN)/pitlane stack down
	rm -rf $(VENV) $(TASKS_VENV) .pitlane .coverage .coverage.xml
