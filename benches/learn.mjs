// `make bench-learn`: `vitrine learn recs` (release build) on a synthetic click log of
// BENCH_CLICKS (2,000,000) product views — 5,000 items, sessions of 2–12 views with a planted
// successor per item — generated here from a fixed seed. Reports the median of three runs in
// click events per second and the peak memory (GNU time's maximum resident set size).
// Bar (issue 25): ≥ 1,000,000 click events/s on 2 cores. Prints a line; exits 1 when missed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../tests/edge/harness.mjs";

const CLICKS = Number(process.env.BENCH_CLICKS || 2_000_000);
let seed = 7;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const pick = (n) => Math.floor(random() * n);
const successor = Array.from({ length: 5000 }, () => pick(5000));
const rows = ["session\titem\ttime"];
for (let s = 0, n = 0; n < CLICKS; s++) {
  let item = pick(5000);
  for (let t = 0, len = 2 + pick(11); t < len && n < CLICKS; t++, n++) {
    rows.push(`s${s}\ti${item}\t${1_700_000_000 + t}`);
    item = random() < 0.7 ? successor[item] : pick(5000);
  }
}
const dir = mkdtempSync(join(tmpdir(), "vitrine-bench-learn-"));
try {
  const log = join(dir, "clicks.tsv");
  writeFileSync(log, rows.join("\n") + "\n");
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const r = spawnSync("/usr/bin/time", ["-f", "%e %M", join(ROOT, "target/release/vitrine"), "learn", "recs", log, "-o", join(dir, "recs.bin")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`learn recs failed: ${r.stderr}`);
    const [secs, kb] = r.stderr.trim().split("\n").pop().split(" ").map(Number);
    runs.push({ secs, kb });
  }
  runs.sort((a, b) => a.secs - b.secs);
  const { secs, kb } = runs[1];
  const rate = CLICKS / secs;
  console.log(`learn recs: ${CLICKS} click events in ${secs.toFixed(2)} s (median of 3) = ${(rate / 1e6).toFixed(2)} M/s, peak ${(kb / 1024).toFixed(0)} MiB (bar ≥ 1.00 M/s: ${rate >= 1e6 ? "met" : "MISSED"})`);
  if (rate < 1e6) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
