# Artifact Review: the two commands a newcomer needs are `make run` and `make test`.
# `make test` installs what it needs when missing (Chromium and Node packages for the browser tests).

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test deps lint test-rust ops-deps test-browser browser-deps test-schema test-mcp screenshot bench release clean

## Run the server on its embedded defaults (127.0.0.1:8787, ./artifact-review.db).
run:
	$(CARGO) run --release --

## Everything CI runs: formatting and lints, unit and integration tests (including the reliability
## suite), browser tests, the OpenAPI conformance run, and the official MCP SDKs against /mcp.
## The test tools are installed while clippy compiles (one after the other: both may run apt-get);
## the suites then run one at a time (they share the machine's two cores and some wait on a clock).
test:
	$(MAKE) --no-print-directory -j2 --output-sync=target lint deps
	$(MAKE) --no-print-directory test-rust test-browser test-schema test-mcp

## What the suites need that cargo does not fetch: Chromium and Node packages, Litestream and moto.
deps:
	$(MAKE) --no-print-directory browser-deps
	$(MAKE) --no-print-directory ops-deps

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

## `cargo test` includes the operations suites: tests/replication.rs runs the real Litestream and an
## S3-compatible server (moto), both from PyPI into tests/litestream/.venv; tests/systemd.rs runs
## Debian's systemd-analyze on docs/artifact-review.service.
test-rust: ops-deps
	$(CARGO) test

ops-deps:
	scripts/install-ops-deps

test-browser: browser-deps
	$(CARGO) build
	cd tests/browser && node --test --test-concurrency=1 *.test.mjs

browser-deps:
	scripts/install-browser-deps

## Schemathesis (installed from PyPI into tests/schema/.venv) against the server's own openapi.json.
test-schema:
	$(CARGO) build
	tests/schema/run.py

## The official MCP SDKs (Python from PyPI into tests/mcp/.venv, TypeScript v1 and v2 from npm into
## tests/mcp/node_modules) against /mcp, both protocol generations.
test-mcp: browser-deps
	$(CARGO) build
	tests/mcp/run.py

## Refresh the README's screenshots (docs/keys-page.png, docs/review-page.png) from browser test runs.
screenshot: browser-deps
	$(CARGO) build
	cd tests/browser && UPDATE_DOCS_SCREENSHOT=1 node --test --test-concurrency=1 keys.test.mjs review.test.mjs

## Measure the release server against the speed and memory targets (issues 6 and 10, the review
## page in Chromium included); about 8 minutes after the build. Installs Debian's wrk if missing. Prints a Markdown table (also written to
## target/bench/last-run.md); `make bench BENCH_ARGS="--update BENCHMARKS.md"` also puts it in
## BENCHMARKS.md. See bench/README.md.
BENCH_ARGS ?=
bench: browser-deps ops-deps
	bench/install-wrk
	$(CARGO) build --release
	python3 bench/bench.py --binary target/release/artifact-review $(BENCH_ARGS)

## Build the release binary.
release:
	$(CARGO) build --release

clean:
	$(CARGO) clean
	rm -rf tests/browser/node_modules tests/schema/.venv tests/mcp/node_modules tests/mcp/.venv tests/litestream/.venv test-artifacts
