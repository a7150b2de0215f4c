# Two commands for a new user on a fresh Debian machine:
#   make demo   set everything up (venv, Docker engine, sandbox image) and grade the sample class
#   make test   the platform's own tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup system venv image demo lint test validate clean

setup: system venv image

# System packages and the Docker engine (root on Debian; otherwise explains what is missing).
system:
	@bash scripts/setup-system.sh

venv: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

# The sandbox image, built locally (no registry pull); skipped with a warning without Docker.
image: venv
	@if docker info >/dev/null 2>&1; then $(BIN)/grader image build; \
	else echo "WARNING: no Docker engine answers: grading will use the local backend"; fi

demo: setup
	$(BIN)/grader demo

# Lint, format and types (configured in pyproject.toml); `make test` runs them first.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: setup lint
	$(BIN)/python -m pytest -q -rP -p no:cacheprovider

validate: setup
	$(BIN)/grader validate

clean:
	rm -rf $(VENV) .cache demo-results graded
