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

.PHONY: run test lint test-rust test-python proto proto-baseline bench lock clean
# The protoc plugins of buf.gen.yaml and the Go and TypeScript clients' dependencies, pinned by
# clients/go/go.{mod,sum} and clients/typescript/package-lock.json; the Go module and npm caches
# live outside the repository (the toolchains' defaults), so a second run downloads nothing.
CLIENT_TOOLS := $(VENV)/.client-tools
TS_DIR := clients/typescript

run: $(KERNEL)
	$(BIN)/adpulse serve

test: lint test-rust test-python

lint: $(KERNEL) $(CLIENT_TOOLS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/buf lint
	$(BIN)/buf build --exclude-source-info -o $(VENV)/api.binpb
	$(BIN)/buf breaking $(VENV)/api.binpb --against proto/baseline.binpb
	$(BIN)/python scripts/gen_proto.py --check
	test -z "$$(gofmt -l clients/go)" || { gofmt -l clients/go; exit 1; }
	cd clients/go && go vet ./...
	cd $(TS_DIR) && node_modules/.bin/tsc -p tsconfig.json --noEmit
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

test-rust:
	cargo test -p adpulse-core --locked

# Most tests wait on servers, workers and brokers rather than on a core, so even a 2-core machine
# runs more than two files at once; each worker starts its own session server.
PYTEST_WORKERS ?= 3
test-python: $(KERNEL) $(CLIENT_TOOLS)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

proto: $(CLIENT_TOOLS)
	$(BIN)/python scripts/gen_proto.py

# Moves the API baseline of `buf breaking` forward: run it only when a breaking change is meant.
proto-baseline: $(INSTALLED)
	$(BIN)/buf build --exclude-source-info -o proto/baseline.binpb

$(CLIENT_TOOLS): $(INSTALLED) clients/go/go.mod clients/go/go.sum $(TS_DIR)/package-lock.json
	cd clients/go && go build -o $(BIN)/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
	cd clients/go && go mod download
	cd $(TS_DIR) && npm ci --no-audit --no-fund --prefer-offline
	touch $@

bench: $(KERNEL)
	$(BIN)/python bench/kernel_kpis.py
	$(BIN)/python bench/ingest.py

# Re-resolves the pinned versions from requirements/top.txt.
lock:
	rm -rf /tmp/adpulse-lock && $(PYTHON) -m venv /tmp/adpulse-lock
	/tmp/adpulse-lock/bin/pip install -q -r requirements/top.txt
	/tmp/adpulse-lock/bin/pip freeze --all | grep -v -E '^(pip|setuptools|wheel)==' > requirements/lock.txt

# pip only bootstraps uv (pinned in the lock): uv installs the lock several times faster (parallel
# downloads, no byte-compiling), which is most of a fresh machine's set-up. --native-tls: the
# system's certificates, as pip uses; pip's find-links, when the machine sets some, apply too.
UV := VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install -q --native-tls $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS))
$(INSTALLED): requirements/lock.txt clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $$(grep '^uv==' requirements/lock.txt)
	$(UV) -r requirements/lock.txt
	$(UV) --no-deps --no-build-isolation -e clients/python
	touch $@

# A release build serves both `run` and the tests, so neither rebuilds after the other.
$(KERNEL): $(INSTALLED) $(KERNEL_INPUTS)
	VIRTUAL_ENV=$(VENV) PATH=$(BIN):$$PATH $(BIN)/maturin develop --uv --release --locked --quiet
	touch $@

clean:
	rm -rf $(VENV) target $(KERNEL) $(TS_DIR)/node_modules $(TS_DIR)/dist
