// SPEC §13 bundle sizes (the edge cap 380 KB; the browser module's wasm ≤ 80 KB is this project's guard within SPEC §13's 90 KB for the whole script-tag download, which `make bench-browser` reports), after wasm-opt, compressed with `gzip -9` (GNU gzip, as `make size`
// reports; 1 KB = 1,000 bytes): the browser module ≤ 80 KB, the edge worker ≤ 380 KB.
// `make test-size` builds both first (`make worker browser`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const gzipped = (path) => execFileSync("gzip", ["-9", "-c", join(root, path)], { maxBuffer: 1 << 26 }).length;

test("the browser module's wasm is at most 80 KB gzip", () => {
  const size = gzipped("target/wasm-web/vitrine_core_bg.wasm");
  console.log(`browser wasm: ${size} bytes gzip`);
  assert.ok(size <= 80_000, `${size} bytes`);
});

test("the edge worker's wasm is at most 380 KB gzip", () => {
  const size = gzipped("build/index_bg.wasm");
  console.log(`edge wasm: ${size} bytes gzip`);
  assert.ok(size <= 380_000, `${size} bytes`);
});
