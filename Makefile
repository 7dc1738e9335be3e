# Vitrine: the README's two commands are `make demo` and `make test`; both bootstrap first.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export WRANGLER_SEND_METRICS := false

.PHONY: bench-analyze demo test bootstrap test-native test-wasm-core test-wasm test-e2e test-edge test-size bench check-demo store worker size wasm-node bench-wasm browser fuzz test-fuzz bench-edge bench-collect bench-browser bench-learn

# worker-build fetches its tools from the internet unless told where they are.
WORKER_BUILD_ENV := WASM_BINDGEN_BIN=$(HOME)/.cargo/bin/wasm-bindgen WASM_OPT_BIN=$(CURDIR)/node_modules/.bin/wasm-opt ESBUILD_BIN=$(CURDIR)/node_modules/.bin/esbuild

# The shipped wasm (edge worker, browser module, the V8 benches' module) leaves out where each
# possible panic is (`-Zlocation-detail=none`: file, line and column, 4.3 KB gzip of the edge
# bundle); panics abort, and no shopper sees the message. A -Z flag on the pinned stable
# compiler, through RUSTC_BOOTSTRAP=1 as the fuzz targets use it; added to .cargo/config.toml's
# wasm32 flags.
WASM_SHIP_ENV := RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS=-Zlocation-detail=none

bootstrap:
	@.ci/bootstrap

## Runs the demo: the edge worker in `wrangler dev` in front of the demo store, http://127.0.0.1:8787,
## with the local event collector on 127.0.0.1:8788 writing to events/ (the demo origin on :8789
## states purchases in X-Vitrine-Conversion). Signs with the public development keys, which only
## VITRINE_ALLOW_DEV_KEYS=1 makes trusted.
## Ports and the events directory can be moved: `make demo DEMO_PORT=9000 EVENTS_DIR=/tmp/ev`.
DEMO_PORT ?= 8787
COLLECT_PORT ?= 8788
ORIGIN_PORT ?= 8789
INSPECTOR_PORT ?= 9229
EVENTS_DIR ?= events
# The demo collector's token (the worker sends it; only its records keep their trust).
DEMO_COLLECT_TOKEN := demo-collect-token-not-a-secret
demo: bootstrap store
	cargo build --quiet --features cli
	@trap 'kill 0' EXIT; \
	./target/debug/vitrine collect --listen 127.0.0.1:$(COLLECT_PORT) --out $(EVENTS_DIR) --token $(DEMO_COLLECT_TOKEN) & \
	node www/demo-origin.mjs $(ORIGIN_PORT) & \
	wrangler dev --ip 127.0.0.1 --port $(DEMO_PORT) --inspector-port $(INSPECTOR_PORT) \
	  --var VITRINE_ALLOW_DEV_KEYS:1 --var ORIGIN_URL:http://127.0.0.1:$(ORIGIN_PORT) \
	  --var VITRINE_COLLECT_URL:http://127.0.0.1:$(COLLECT_PORT)/collect --var VITRINE_COLLECT_TOKEN:$(DEMO_COLLECT_TOKEN)

## The demo store's static pages (www/store), with the browser module at /vitrine/.
store: browser
	cargo build --quiet --features cli
	node www/build-store.mjs

## The browser module's shipping folder, target/browser: the wasm core (no rewriter, smallest
## code) and the ES module, content-hashed; `vitrine compile SITE --browser target/browser` adds
## the configuration and the loader (docs/browser.md).
browser:
	$(WASM_SHIP_ENV) CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_PANIC=abort wasm-pack build --release --target web --out-dir target/wasm-web --out-name vitrine_core --no-typescript . -- --no-default-features --features browser
	node www/build-browser.mjs

## The edge worker (build/index.js + wasm) with the compiled site config ($(VITRINE_CONFIG));
## wrangler's [build] runs this too. Skipped when neither the sources nor the compiled config
## changed since the last build: wrangler 4.86 runs [build] twice per `wrangler dev` start
## (workers-sdk#7934), and the second run then costs a second, not a wasm build.
VITRINE_CONFIG ?= src/config/demo.json
worker:
	cargo build --quiet --features cli
	mkdir -p build && ./target/debug/vitrine compile $(VITRINE_CONFIG) -o build/config.next
	@if cmp -s build/config.next build/config.bin && [ -f build/index.js ] && \
	    [ -z "$$(find src .cargo Cargo.toml Cargo.lock build.rs Makefile -newer build/index.js | head -1)" ]; then \
	  rm build/config.next; echo "worker: up to date (no source or config change since build/index.js)"; \
	else \
	  mv build/config.next build/config.bin && \
	  VITRINE_COMPILED_CONFIG=$(CURDIR)/build/config.bin $(WORKER_BUILD_ENV) $(WASM_SHIP_ENV) worker-build --profile wasm --no-default-features --features edge; \
	fi

## Runs every test suite.
test: bootstrap test-native test-wasm-core test-wasm test-edge test-e2e test-size test-fuzz

# Fuzz targets (fuzz/, cargo-fuzz + libFuzzer with AddressSanitizer) on this stable toolchain.
FUZZ_TARGETS := cookie_decide state_tokens events_cookie expression compiled_config rewrite_chunks
FUZZ_SECONDS ?= 300
## Runs each fuzz target for FUZZ_SECONDS (default 300); a finding stops with its input in fuzz/artifacts/.
fuzz:
	@for t in $(FUZZ_TARGETS); do echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 2>&1 | grep -E 'Done|stat::number_of_executed_units|SUMMARY|panicked' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; done

# Each fuzz target briefly, so that a regression shows in CI.
test-fuzz:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15

## analyze: event records read per second (bar 1,000,000) and bytes per visitor (bar 200);
## simulate: synthetic requests replayed per second (bar 300,000); on this machine's cores.
## simulate --events-out: resident memory for 200,000 visitors written as the run goes (bar 300 MB).
bench-analyze:
	cargo bench --features cli --bench analyze
	cargo build --quiet --release --features cli
	@rm -rf target/bench-simulate; python3 -c 'import resource, subprocess, sys; \
	  subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); \
	  print("simulate --events-out, 200,000 visitors: %.0f MB max resident (bar 300 MB)" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))' \
	  ./target/release/vitrine simulate --synthetic 200000 --seed 3 --purchase-rate 0.3 --events-out target/bench-simulate
	@printf 'events written: %s bytes\n' $$(stat -c %s target/bench-simulate/simulate-3.ndjson); rm -rf target/bench-simulate

## The collector's ingest rate on loopback (events/s; the bar is 50,000).
bench-collect:
	cargo build --quiet --release --features cli
	node benches/collect.mjs

## A load smoke of the worker (wrk on loopback): requests/s, p50/p99, non-2xx (BENCH_SECONDS, default 60).
bench-edge: worker store
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	cargo build --quiet --features cli
	node benches/edge/load.mjs

## Browser-only mode in headless Chromium, the demo's plain page on loopback: when the slots
## become visible against the first paint of the page without Vitrine, generic paints with the
## machine loaded, and the script tag's download (BENCH_LOADS, default 20).
bench-browser: bootstrap store
	node benches/browser.mjs

## `vitrine learn recs` throughput on a synthetic 2M-view click log (release build).
bench-learn: bootstrap
	cargo build --quiet --release --features cli
	node benches/learn.mjs

test-native:
	cargo fmt --check
	cargo clippy --quiet --features cli --all-targets -- -D warnings
	cargo clippy --quiet --target wasm32-unknown-unknown --no-default-features --features edge -- -D warnings
	cargo clippy --quiet --target wasm32-unknown-unknown --no-default-features --features browser,rewrite -- -D warnings
	cargo doc --quiet --no-deps --features cli
	cargo test --features cli --all-targets

# The core builds for wasm32 with no platform crate (STYLE invariant 1).
test-wasm-core:
	cargo build --quiet --lib --target wasm32-unknown-unknown

# Parity: the golden decision vectors in headless Chromium (wasm-bindgen-test), with the default
# features and with the browser module's (its own base64 codec, substring search and allocator).
WASM_TEST_ENV := CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(HOME)/.cargo/bin/wasm-bindgen-test-runner CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_ONLY_WEB=1
test-wasm:
	$(WASM_TEST_ENV) cargo test --target wasm32-unknown-unknown --test wasm_parity
	$(WASM_TEST_ENV) cargo test --target wasm32-unknown-unknown --test wasm_parity --no-default-features --features browser

# The browser module in Debian's headless Chromium (playwright-core), with and without the worker.
test-e2e: worker store
	cargo build --quiet --features cli
	node --test --test-concurrency=1 tests/e2e/

# The worker in real workerd (wrangler dev) over HTTP on 127.0.0.1: tests/edge/*.test.mjs.
test-edge: worker store
	cargo build --quiet --features cli
	node --test --test-concurrency=1 tests/edge/

# The bundle-size bars (SPEC §13) as tests on fresh builds.
test-size: worker browser
	node --test tests/size/

## Sizes of the wasm bundles after wasm-opt (SPEC §13: edge ≤ 380 KB gzip; browser wasm ≤ 80 KB, our guard within the 90 KB script-tag download).
size: worker browser
	@printf 'edge wasm:    %s bytes raw, %s bytes gzip -9\n' $$(stat -c %s build/index_bg.wasm) $$(gzip -9 -c build/index_bg.wasm | wc -c)
	@printf 'browser wasm: %s bytes raw, %s bytes gzip -9\n' $$(stat -c %s target/wasm-web/vitrine_core_bg.wasm) $$(gzip -9 -c target/wasm-web/vitrine_core_bg.wasm | wc -c)

# The core as a Node wasm module (release profile), for the V8 benches.
wasm-node:
	$(WASM_SHIP_ENV) wasm-pack build --release --target nodejs --out-dir target/wasm-node --out-name vitrine --no-typescript . -- --no-default-features --features browser,rewrite

## Decide path and rewrite throughput in V8 (wasm under Node).
bench-wasm: wasm-node
	node benches/wasm.mjs

bench:
	cargo bench --bench decide

check-demo:
	cargo run --quiet --features cli -- check src/config/demo.json
