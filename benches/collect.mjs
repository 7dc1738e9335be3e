// `make bench-collect`: `vitrine collect` ingesting on loopback. 4 concurrent clients POST
// batches of 500 exposure records for BENCH_SECONDS (default 10); prints events/s (the bar is
// 50,000) and checks that every accepted line is on disk.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const ROOT = join(import.meta.dirname, "..");
const seconds = Number(process.env.BENCH_SECONDS || 10);
const out = mkdtempSync(join(tmpdir(), "vitrine-collect-bench-"));
// The worker's path: its token keeps the records as sent (no re-statement).
const TOKEN = "bench-collect-token";
const child = spawn(join(ROOT, "target/release/vitrine"), ["collect", "--listen", "127.0.0.1:0", "--out", out, "--token", TOKEN], { stdio: ["ignore", "pipe", "inherit"] });
const first = await new Promise((r) => createInterface({ input: child.stdout }).once("line", r));
const base = first.match(/http:\/\/[^,]+/)[0];
const line = (c, i) => JSON.stringify({ type: "exposure", v: 1, ts: 1764633600000 + i, site: "demo", visitor: c.toString(16).padStart(32, "0"), session: "1764633600", request: i.toString(16).padStart(16, "0"), slot: "hero", variant: "hero-trail", experiment: "hero-holdout", arm: "treatment", segments: ["hiker", "returning"], page_type: "home", device: "desktop", country: "DE", trust: "signed", source: "edge" });
const BATCH = 500;
let accepted = 0;
const deadline = Date.now() + seconds * 1000;
const t0 = performance.now();
await Promise.all([0, 1, 2, 3].map(async (c) => {
  let i = 0;
  while (Date.now() < deadline) {
    const body = Array.from({ length: BATCH }, () => line(c, i++)).join("\n") + "\n";
    const r = await fetch(base + "/collect", { method: "POST", body, headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${TOKEN}` } });
    await r.arrayBuffer();
    if (r.status !== 204) throw new Error(`status ${r.status}`);
    accepted += BATCH;
  }
}));
const elapsed = (performance.now() - t0) / 1000;
child.kill("SIGTERM");
await new Promise((r) => child.once("exit", r));
const lines = Number(execFileSync("sh", ["-c", 'find "$1" -name "*.ndjson" -exec cat {} + | wc -l', "sh", out]).toString().trim());
rmSync(out, { recursive: true, force: true });
console.log(`vitrine collect: ${accepted} events in ${elapsed.toFixed(1)} s = ${Math.round(accepted / elapsed)} events/s (4 clients, batches of ${BATCH}); ${lines} lines on disk`);
if (lines !== accepted) { console.error("lines on disk differ from accepted"); process.exitCode = 1; }
