# The two commands of a fresh machine: `make demo` and `make test`. Both install what is missing.
SHELL := /bin/bash
CARGO ?= cargo
# `cargo test` with clippy's lints (-D warnings) on the workspace's own crates: the same lints as
# `cargo clippy --all-targets -- -D warnings` (make lint), in the build the tests need anyway.
CLIPPY_WHILE_BUILDING = RUSTC_WORKSPACE_WRAPPER="$$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)" CLIPPY_ARGS=-Dwarnings
# Where cargo puts the release binary; follows CARGO_TARGET_DIR like cargo itself.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

.PHONY: demo test deps pydeps browser dashboard model build cuda gpu-check-pack lint fmt clean-demo

## Install Debian build packages (cmake, clang, libclang-dev) and the bundled model when missing.
deps:
	@bash scripts/install-deps.sh

model: deps
	@bash scripts/fetch-model.sh >/dev/null

## Python oracles the tests compare against (DuckDB).
pydeps:
	@bash scripts/install-python-deps.sh

## Chromium, Node.js and dashboards/node_modules for the dashboard's browser tests.
browser:
	@bash scripts/install-browser.sh

## Rebuilds dashboards/dist from its sources (commit the result: the binary embeds it).
dashboard: browser
	cd dashboards && npm run build


build: deps
	$(CARGO) build --release --locked --bin blendlab

## target/cuda/release/blendlab with llama.cpp's CUDA backend (default sm_90; BLENDLAB_CUDA_ARCH),
## built here without a GPU from the PyPI CUDA wheels, then checked (docs/gpu.md). Not in `make test`.
cuda: deps
	@bash scripts/build-cuda.sh

## .gpu-check/: what scripts/gpu-check.sh run needs on a GPU machine (docs/gpu.md).
gpu-check-pack: cuda
	@bash scripts/gpu-check.sh pack

## The example experiment live: server on the embedded SQLite file, a scripted blended conversation.
demo: model build
	$(TARGET_DIR)/release/blendlab demo

## Formatting, lints, unit and end-to-end tests (real model, SQLite, PostgreSQL, HTTP and browser).
test: model pydeps browser
	$(CARGO) fmt --all -- --check
	cd dashboards && node scripts/check-dist.mjs
	# No import circles between the modules of any crate (docs/architecture.md, layout).
	python3 scripts/import-graph.py
	# The committed test vectors reproduce from their generators, in a pinned Python environment.
	bash scripts/check-vectors.sh
	# Clippy lints every workspace target while the tests build: clippy-driver is the workspace's
	# compiler wrapper (what `cargo clippy` does over `cargo check`), so the dependencies are
	# compiled once, not also checked in a separate pass. Any lint fails the build (-D warnings).
	$(CLIPPY_WHILE_BUILDING) $(CARGO) test --locked --workspace --no-run
	# PostgreSQL for the store tests: TEST_DATABASE_URL, 127.0.0.1:5432, or one started here.
	# The assignment keeps the script's exit status, so its failure stops the run with its message.
	url="$$(bash scripts/ensure-postgres.sh)" && [ -n "$$url" ] && \
		TEST_DATABASE_URL="$$url" $(CLIPPY_WHILE_BUILDING) $(CARGO) test --locked --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-demo:
	rm -f blendlab-demo.db blendlab-demo.db-wal blendlab-demo.db-shm blendlab-demo-report.html
