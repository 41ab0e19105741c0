# The two commands a fresh machine needs: `make dev-hub` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
REPOS ?=

.PHONY: dev-hub test bench lint screenshots clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

dev-hub: $(STAMP)
	$(BIN)/devhub demo --port $(PORT) $(REPOS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check devhub relay tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The dashboard screenshots docs/ and the README show, from a demo daemon (needs /usr/bin/chromium).
screenshots: $(STAMP)
	$(BIN)/python -m tests.support.screenshots --out docs

clean-venv:
	rm -rf $(VENV)
