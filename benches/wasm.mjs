// The core compiled to wasm, measured in V8 (Node): the decide path on the demo config and
// rewrite throughput on the real pages. SPEC §13 bars: decide ≤ 15 µs, rewrite ≥ 100 MB/s.
// `make bench-wasm` builds target/wasm-node and runs this.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { Engine, PageRequest } = createRequire(import.meta.url)(join(root, "target/wasm-node/vitrine.js"));
const pages = join(root, "../shared/corpora/pages");
const UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
const T0 = 1_763_805_600_000;

/** A PageRequest from a plain object, as www/vitrine/vitrine.mjs builds it: each grid's items in one `setItems` call. */
function pageRequest({ url, nowMs, cookie, userAgent, referrer, country, id, explain, items = {} }) {
  const r = new PageRequest(url, nowMs);
  r.cookie = cookie; r.userAgent = userAgent; r.referrer = referrer; r.country = country; r.id = id;
  r.explain = !!explain;
  for (const [slot, list] of Object.entries(items)) r.setItems(slot, list.map((i) => `${i.sku ?? ""}\x1f${i.attr ?? ""}`).join("\x1e"));
  return r;
}
/** One call with a request built for it and freed after. */
function decide(engine, o) { const r = pageRequest(o); try { return engine.decide(r); } finally { r.free(); } }

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
function timePerCall(fn, calls, batches) {
  for (let i = 0; i < calls; i++) fn(); // warm-up
  const per = [];
  for (let b = 0; b < batches; b++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    per.push(Number(process.hrtime.bigint() - t) / calls);
  }
  return median(per); // ns per call
}

// Decide path, as the native bench: a returning visitor's signed cookie with pending events.
const demo = readFileSync(join(root, "src/config/demo.json"), "utf8");
const engine = Engine.fromJson(demo, "2:YmVuY2gtc3RhdGUta2V5LWJlbmNoLXN0YXRlLWtleQ");
let token = "";
["/c/hiking", "/p/hiking-ridgeline-mid", "/?sort=price-desc", "/p/camping-dome-2p", "/c/hiking"].forEach((path, i) => {
  token = decide(engine, { url: "https://shop.example" + path, cookie: `vt=${token}`, userAgent: UA, nowMs: T0 + i * 60_000, id: "07".repeat(16) }).stateToken;
});
const request = {
  url: "https://shop.example/p/hiking-trail-runner-gtx?utm_source=mail",
  cookie: `_ga=GA1.2.3; vt=${token}; vt_e=pc:hiking-summit-pack:hiking:189|ac:hiking-summit-pack:hiking:189|se:trail%20boots`,
  userAgent: UA, referrer: "https://www.google.com/", country: "DE", nowMs: T0 + 3_600_000, id: "09".repeat(16),
  // The demo store's 40 products, as its home page grid lists them.
  items: { grid: JSON.parse(readFileSync(join(root, "www/store/assets/products.json"), "utf8")).products.map((p) => ({ sku: p.sku, attr: p.category })) },
};
const check = decide(engine, { ...request, explain: true });
if (check.report.state.fresh) throw new Error("the bench cookie must verify");
const grid = check.slots.find((s) => s.name === "grid");
if (!grid.order || grid.order.length !== 40 || grid.order.every((x, i) => x === i)) throw new Error("the grid of 40 must be reordered");
const lean = () => engine.decideToken(request.url, request.cookie, UA, request.nowMs, request.id);
if (!lean()) throw new Error("decideToken must return a token");
// Interleaved: each round times decideToken and the object API back to back, so the ratio is
// of two measurements made under the same load.
const rounds = { lean: [], object: [], ratio: [] };
for (let round = 0; round < 15; round++) {
  const l = timePerCall(lean, 200, 5);
  const o = timePerCall(() => decide(engine, request), 200, 5);
  rounds.lean.push(l); rounds.object.push(o); rounds.ratio.push(o / l);
}
const us = (ns) => (ns / 1000).toFixed(2);
console.log(`decide path, decideToken (strings in, the new state token out): ${us(median(rounds.lean))} µs median per call (SPEC §13 bar ≤ 15 µs)`);
console.log(`decide(), the object API (a PageRequest with the 40 grid items in one setItems call; slots, order, exposures out as JS objects): ${us(median(rounds.object))} µs — ${median(rounds.ratio).toFixed(2)}× decideToken (bar ≤ 1.3×)`);
const explainNs = timePerCall(() => decide(engine, { ...request, explain: true }), 200, 20);
console.log(`  with the full explain report (scores, segments, reasons) as well: ${us(explainNs)} µs (no bar)`);

// Rewrite throughput on the real pages (hero + offer + every grid container reordered).
const manifest = JSON.parse(readFileSync(join(pages, "manifest.json"), "utf8"));
let totalBytes = 0, totalNs = 0;
for (const page of manifest.pages) {
  const html = readFileSync(join(pages, page.file), "utf8");
  const slots = { grid: { selector: page.grid, action: "reorder", items: page.item, max_buffer_bytes: 4000000, rank: { by_attr: "class" } } };
  if (page.hero) slots.hero = { selector: page.hero, action: "replace_inner", variants: [{ id: "h", html: "<h2>Trail-ready boots</h2>" }] };
  if (page.offer) slots.offer = { selector: page.offer, action: "prepend", variants: [{ id: "o", html: "<p>10% off today</p>" }] };
  const cfg = { version: 1, site: "bench", dimensions: { hiking: { half_life_hours: 72 } }, signals: [{ on: "page_view", add: { hiking: 40 } }], slots };
  const e = Engine.fromJson(JSON.stringify(cfg));
  const req = pageRequest({ url: "https://shop.example/", userAgent: UA, nowMs: T0, id: "07".repeat(16) });
  const out = e.rewrite(html, req);
  if (!out.includes('data-vt-applied="reorder"')) throw new Error(`${page.file}: not rewritten`);
  const bytes = Buffer.byteLength(html);
  const ns = timePerCall(() => e.rewrite(html, req), 3, 15);
  totalBytes += bytes; totalNs += ns;
  console.log(`rewrite ${page.file.padEnd(32)} ${(bytes / 1024).toFixed(0).padStart(5)} KiB  ${(bytes / ns * 1e9 / 1048576).toFixed(0).padStart(4)} MiB/s`);
}
console.log(`rewrite, all pages: ${(totalBytes / totalNs * 1e9 / 1048576).toFixed(0)} MiB/s (bar ≥ 100 MB/s)`);
