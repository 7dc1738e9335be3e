// SPEC §13 bundle sizes, after wasm-opt, compressed with `gzip -9` (GNU gzip, as `make size`
// reports; 1 KB = 1,000 bytes): the edge worker ≤ 380 KB; the browser's script-tag download —
// the files the loader fetches, as `make browser` and `vitrine compile --browser` ship them for
// the demo's configuration — ≤ 90 KB, and within it the wasm ≤ 80 KB (this project's guard).
// `make test-size` builds both first (`make worker browser`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
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

test("the script tag's whole download (loader, module, wasm, configuration) is at most 90 KB gzip", () => {
  const dir = mkdtempSync(join(tmpdir(), "vitrine-ship-"));
  try {
    cpSync(join(root, "target/browser"), dir, { recursive: true });
    execFileSync(join(root, "target/debug/vitrine"), ["compile", join(root, "src/config/demo.json"), "--browser", dir]);
    const loader = readFileSync(join(dir, "vitrine.js"), "utf8");
    const site = JSON.parse(loader.split("/*vitrine:site*/")[1]);
    const files = ["vitrine.js", site.module, site.wasm, site.config];
    assert.deepEqual(files.filter((f) => !readdirSync(dir).includes(f)), [], "the loader names the folder's files");
    let total = 0;
    for (const f of files) {
      const size = execFileSync("gzip", ["-9", "-c", join(dir, f)], { maxBuffer: 1 << 26 }).length;
      console.log(`${f}: ${size} bytes gzip`);
      total += size;
    }
    console.log(`script-tag download: ${total} bytes gzip in ${files.length} files`);
    assert.ok(total <= 90_000, `${total} bytes`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
