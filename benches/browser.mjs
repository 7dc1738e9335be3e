// `make bench-browser`: browser-only mode in Debian's headless Chromium (playwright-core), on the
// demo's plain page (tests/e2e/static.mjs) served on loopback, for a visitor who qualifies for
// the trail hero. Each load is a fresh browser context (nothing cached: a first visit).
//
// - Idle machine, BENCH_LOADS (20) pairs, interleaved: the same page without Vitrine (its first
//   contentful paint is the bar's reference), then with the script tag: the time the hero is
//   first about to be painted (the first animation frame that finds it visible), FCP, and how
//   far apart the module's downloads started (one round trip: they all start together).
// - Loaded machine (a busy loop per core): BENCH_LOADS more loads; any frame that would paint
//   the generic hero counts, and so does the anti-flicker timeout firing.
// - The script tag's download: every file it made the page load, gzip -9 (as `make size`).
// Bars (SPEC §13, issue 24): visible ≤ FCP without Vitrine + 50 ms (medians); 0 generic paints loaded;
// ≤ 90 KB gzip in total. Prints a table; exits 1 when a bar is missed. Not a test.
import { execFileSync, spawn } from "node:child_process";
import { statSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ROOT, mintCookie } from "../tests/edge/harness.mjs";
import { startStatic } from "../tests/e2e/static.mjs";

const LOADS = Number(process.env.BENCH_LOADS || 20);
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
// Visitor 07…07 (the hero holdout's treatment arm), its state unsigned as the browser keeps it;
// the campaign makes it qualify for the trail hero.
const signed = mintCookie("07".repeat(16), ["/about"]);
const unsigned = Buffer.from(signed, "base64url").subarray(1, -16).toString("base64url");
const QUALIFYING = "/?utm_campaign=trail-spring";

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[s.length >> 1] : NaN; };
const ms = (x) => (Number.isFinite(x) ? x.toFixed(1) : "–");

async function load(browser, url, withState) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  try {
    if (withState) await context.addInitScript((t) => localStorage.setItem("vitrine:vt", t), unsigned);
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    if (withState) await page.waitForFunction(() => document.querySelector("[data-vt-slot=hero]").hasAttribute("data-vt-applied"), null, { timeout: 10_000 });
    await page.waitForFunction(() => window.__heroVisibleAt !== undefined && performance.getEntriesByName("first-contentful-paint").length > 0, null, { timeout: 10_000 });
    const m = await page.evaluate(() => {
      const fcp = performance.getEntriesByName("first-contentful-paint")[0];
      const files = performance.getEntriesByType("resource").filter((r) => r.name.includes("/vitrine/"));
      const starts = files.filter((r) => !r.name.endsWith("/vitrine.js")).map((r) => r.startTime);
      return {
        fcp: fcp ? fcp.startTime : NaN,
        visible: window.__heroVisibleAt,
        generic: window.__heroFrames.some((f) => f !== null && f.includes("Generic")),
        timeout: performance.getEntriesByName("vitrine:timeout").length > 0,
        startSpread: starts.length ? Math.max(...starts) - Math.min(...starts) : NaN,
        files: files.map((r) => new URL(r.name).pathname.split("/").pop()),
        hero: document.querySelector("[data-vt-slot=hero]").textContent.trim(),
      };
    });
    if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
    if (withState && !m.hero.includes("Trail-ready")) throw new Error(`the visitor did not get the trail hero: ${m.hero}`);
    return m;
  } finally {
    await context.close();
  }
}

function burners() {
  const procs = cpus().map(() => spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }));
  return () => procs.forEach((p) => p.kill("SIGKILL"));
}

const server = await startStatic();
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
const idle = { bare: [], vt: [] };
const loaded = [];
try {
  await load(browser, server.url + QUALIFYING, true); // warm-up: the server's file reads, Chromium's start
  for (let i = 0; i < LOADS; i++) {
    idle.bare.push(await load(browser, server.url + "/bare.html" + QUALIFYING.slice(1), false));
    idle.vt.push(await load(browser, server.url + QUALIFYING, true));
  }
  const stop = burners();
  try {
    for (let i = 0; i < LOADS; i++) loaded.push(await load(browser, server.url + QUALIFYING, true));
  } finally {
    stop();
  }
} finally {
  await browser.close();
  await server.close();
}

// What the script tag made the page download, as `make size` counts (GNU gzip -9).
const sizes = idle.vt[0].files.map((f) => {
  const path = join(ROOT, "www/store/vitrine", f);
  return { f, raw: statSync(path).size, gz: execFileSync("gzip", ["-9", "-c", path], { maxBuffer: 1 << 26 }).length };
});
const total = sizes.reduce((a, s) => a + s.gz, 0);
const bareFcp = median(idle.bare.map((m) => m.fcp));
const visible = median(idle.vt.map((m) => m.visible));
const generic = loaded.filter((m) => m.generic).length + idle.vt.filter((m) => m.generic).length;
const timeouts = loaded.filter((m) => m.timeout).length;
console.log(`\nbrowser-only mode, the demo's plain page on loopback, ${LOADS} loads each (medians, ms after navigation start)`);
console.log("| load | FCP | hero visible | module files started within | generic hero painted | anti-flicker timeout |");
console.log("|---|---|---|---|---|---|");
console.log(`| without Vitrine | ${ms(bareFcp)} | ${ms(median(idle.bare.map((m) => m.visible)))} | – | – | – |`);
console.log(`| with the script tag, idle | ${ms(median(idle.vt.map((m) => m.fcp)))} | ${ms(visible)} | ${ms(median(idle.vt.map((m) => m.startSpread)))} ms (${idle.vt[0].files.length - 1} files) | ${idle.vt.filter((m) => m.generic).length} of ${LOADS} | ${idle.vt.filter((m) => m.timeout).length} |`);
console.log(`| with the script tag, ${cpus().length} busy loops | ${ms(median(loaded.map((m) => m.fcp)))} | ${ms(median(loaded.map((m) => m.visible)))} | ${ms(median(loaded.map((m) => m.startSpread)))} ms | ${loaded.filter((m) => m.generic).length} of ${LOADS} | ${timeouts} |`);
console.log("\nthe script tag's download (gzip -9)");
console.log("| file | raw bytes | gzip bytes |");
console.log("|---|---|---|");
for (const s of sizes) console.log(`| ${s.f} | ${s.raw} | ${s.gz} |`);
console.log(`| total | ${sizes.reduce((a, s) => a + s.raw, 0)} | ${total} |`);

const bars = [
  [`hero visible ${ms(visible)} ms ≤ FCP without Vitrine ${ms(bareFcp)} + 50 ms`, visible <= bareFcp + 50],
  [`generic hero painted in ${generic} loads (bar 0)`, generic === 0],
  [`download ${(total / 1000).toFixed(1)} KB gzip ≤ 90 KB`, total <= 90_000],
];
console.log("");
for (const [what, ok] of bars) console.log(`${ok ? "met    " : "MISSED "} ${what}`);
if (bars.some(([, ok]) => !ok)) process.exitCode = 1;
