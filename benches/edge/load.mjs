// `make bench-edge`: a load smoke of the worker in `wrangler dev` (workerd) in front of the demo
// store, on loopback. wrk runs BENCH_SECONDS (default 60) with a mixed request mix: new
// visitors, signed returning visitors, tampered/oversized/garbage `vt` cookies, forged `vt_e`
// events, GPC, and bots; then the same time with bots only (pass-through), for comparison.
// Prints requests/s, p50/p99 and the count of non-2xx answers (none is intended). Not a test.
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, UA, startWorker, freePort, mintCookie } from "../../tests/edge/harness.mjs";

const seconds = Number(process.env.BENCH_SECONDS || 60);
const BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const hiker = mintCookie("07".repeat(16), ["/c/hiking", "/c/hiking", "/p/hiking-summit-pack"]);
const flipped = hiker.slice(0, 20) + (hiker[20] === "A" ? "B" : "A") + hiker.slice(21);
const paths = ["/", "/c/hiking", "/c/running", "/p/hiking-summit-pack", "/search?q=trail+boots", "/?utm_campaign=trail-fall"];
const cookies = ["", `vt=${hiker}`, `vt=${flipped}`, `vt=${"A".repeat(3000)}`, "vt=%%%%", `vt=${hiker}; vt_e=${Array(16).fill("ac:x:climbing:10").join("|")}`, "vt_e=garbage|||"];
const mixed = [];
for (const p of paths) for (const c of cookies) mixed.push([p, UA, c]);
for (const p of paths) mixed.push([p, BOT, ""]);
const bots = paths.map((p) => [p, BOT, ""]);

const dir = mkdtempSync(join(tmpdir(), "vitrine-bench-"));
const run = (name, rows, w) => {
  const file = join(dir, `${name}.txt`);
  writeFileSync(file, rows.map((r) => r.join("\t")).join("\n") + "\n");
  const out = spawnSync("wrk", ["-t1", "-c8", `-d${seconds}s`, "--latency", "-s", join(ROOT, "benches/edge/load.lua"), w.base], {
    env: { ...process.env, VITRINE_REQUESTS: file }, encoding: "utf8",
  });
  const m = out.stdout.match(/RESULT requests=(\d+) duration_us=(\d+) non2xx=(\d+) errors=(\d+) p50_us=(\d+) p99_us=(\d+)/);
  if (!m) throw new Error(`wrk failed:\n${out.stdout}\n${out.stderr}`);
  const [, n, dur, non2xx, errors, p50, p99] = m.map(Number);
  return { name, rps: n / (dur / 1e6), p50: p50 / 1000, p99: p99 / 1000, non2xx, errors, n };
};

const w = await startWorker({ config: "tests/edge/demo.wrangler.toml", port: await freePort(), inspectorPort: await freePort() });
try {
  const results = [run("mixed", mixed, w), run("bots (pass-through)", bots, w)];
  console.log(`\nwrk -t1 -c8 for ${seconds} s each, wrangler dev on 127.0.0.1 (demo store, ${mixed.length} request kinds in the mix)`);
  console.log("| run | requests | req/s | p50 ms | p99 ms | non-2xx | socket errors |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of results) console.log(`| ${r.name} | ${r.n} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.non2xx} | ${r.errors} |`);
  const bad = results.filter((r) => r.non2xx > 0 || r.errors > 0);
  if (bad.length) {
    console.error("unexpected non-2xx answers or socket errors");
    process.exitCode = 1;
  }
} finally {
  w.stop();
}
