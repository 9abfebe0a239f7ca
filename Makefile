# Two entry points matter: `make run` serves on the embedded defaults, `make test` runs every test.
# Everything else here is what those two need, each step skipped when its inputs are unchanged.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
KERNEL := server/adpulse/_kernel.abi3.so
KERNEL_INPUTS := Cargo.toml Cargo.lock pyproject.toml $(shell find kernel proto -type f \( -name '*.rs' -o -name 'Cargo.toml' -o -name '*.proto' \))

.PHONY: run test lint test-rust test-python proto bench lock clean

run: $(KERNEL)
	$(BIN)/adpulse serve

test: lint test-rust test-python

lint: $(KERNEL)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python scripts/gen_proto.py --check
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

test-rust:
	cargo test -p adpulse-core --locked

test-python: $(KERNEL)
	$(BIN)/pytest

proto: $(INSTALLED)
	$(BIN)/python scripts/gen_proto.py

bench: $(KERNEL)
	$(BIN)/python bench/kernel_kpis.py
	$(BIN)/python bench/ingest.py

# Re-resolves the pinned versions from requirements/top.txt.
lock:
	rm -rf /tmp/adpulse-lock && $(PYTHON) -m venv /tmp/adpulse-lock
	/tmp/adpulse-lock/bin/pip install -q -r requirements/top.txt
	/tmp/adpulse-lock/bin/pip freeze --all | grep -v -E '^(pip|setuptools|wheel)==' > requirements/lock.txt

$(INSTALLED): requirements/lock.txt clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/lock.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e clients/python
	touch $@

# A release build serves both `run` and the tests, so neither rebuilds after the other.
$(KERNEL): $(INSTALLED) $(KERNEL_INPUTS)
	VIRTUAL_ENV=$(VENV) PATH=$(BIN):$$PATH $(BIN)/maturin develop --release --locked --quiet
	touch $@

clean:
	rm -rf $(VENV) target $(KERNEL)
