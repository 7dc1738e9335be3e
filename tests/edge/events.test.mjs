// Events from the worker in real workerd (`wrangler dev`) into the real collector
// (`vitrine collect` on 127.0.0.1): exposures of every decided slot (the control arm's
// included), conversions from the origin's header, the browser's /vitrine/collect, and nothing
// for GPC or bots. A dead collector leaves the shopper's page as it is. Run by `make test-edge`.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { execFileSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startWorker, startCollector, COLLECT_TOKEN, freePort, Jar, get, applied, records, awaitRecords } from "./harness.mjs";

const page = `<!doctype html><html><body><section data-vt-test="hero"><h1>Origin hero</h1></section>
<ul data-vt-test="grid"><li data-vt-test-item data-cat="b">B1</li><li data-vt-test-item data-cat="a">A1</li></ul></body></html>`;

async function startOrigin() {
  const server = createServer((req, res) => {
    const p = new URL(req.url, "http://o").pathname;
    const headers = { "content-type": "text/html; charset=utf-8" };
    if (p === "/order/thanks") headers["x-vitrine-conversion"] = "purchase; value=129.90; currency=EUR; order=A-1042";
    if (p === "/order/bad") headers["x-vitrine-conversion"] = "buy it now; value=-1";
    if (p === "/bare") {
      res.writeHead(200, headers);
      return res.end(page.replaceAll(/ data-cat="[ab]"/g, ""));
    }
    if (p === "/data.json") {
      res.writeHead(200, { "content-type": "application/json", "x-vitrine-conversion": "purchase; order=J-1" });
      return res.end("{}");
    }
    res.writeHead(200, headers);
    res.end(page);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

describe("events from the worker into the collector", () => {
  let o, c, w, out;
  before(async () => {
    out = mkdtempSync(join(tmpdir(), "vitrine-events-"));
    o = await startOrigin();
    c = await startCollector(out);
    w = await startWorker({
      config: "tests/edge/origin.wrangler.toml", port: await freePort(), inspectorPort: await freePort(),
      vars: { ORIGIN_URL: o.url, VITRINE_COLLECT_URL: `${c.url}/collect`, VITRINE_COLLECT_TOKEN: COLLECT_TOKEN },
      kvConfig: join(ROOT, "tests/edge/events.config.json"),
    });
  });
  after(async () => {
    w?.stop();
    c?.stop();
    await o?.close();
    rmSync(out, { recursive: true, force: true });
  });

  it("a journey: one exposure per decided slot and view, the control arm included, and the purchase", async () => {
    const visitors = [];
    for (let v = 0; v < 8; v++) {
      const jar = new Jar();
      for (const p of ["/", "/c/boots"]) assert.equal((await get(w.base + p, { jar })).status, 200);
      const thanks = await get(w.base + "/order/thanks", { jar });
      assert.equal(thanks.status, 200);
      assert.equal(thanks.headers.get("x-vitrine-conversion"), null, "the conversion header never reaches the shopper");
      visitors.push(jar);
    }
    // (The harness's readiness probe is a visitor of one view: left out.)
    const exposures = await awaitRecords(out, (r) => r.type === "exposure", 8 * 3 * 2 + 2);
    const byVisitor = new Map();
    for (const e of exposures) byVisitor.set(e.visitor, [...(byVisitor.get(e.visitor) || []), e]);
    for (const [v, list] of byVisitor) if (list.length === 2 && list.every((e) => e.request === list[0].request)) byVisitor.delete(v);
    assert.equal(byVisitor.size, 8);
    assert.ok([...byVisitor.values()].every((l) => l.length === 6), "3 views × 2 slots each");
    const arms = new Set();
    for (const [visitor, list] of byVisitor) {
      assert.match(visitor, /^[0-9a-f]{32}$/);
      assert.equal(new Set(list.map((e) => e.request)).size, 3, "one request id per view");
      for (const e of list) {
        assert.equal(e.v, 1);
        assert.equal(e.site, "events-test");
        assert.equal(e.trust, "signed");
        assert.equal(e.source, "edge");
        assert.equal(e.device, "desktop");
        if (e.slot === "hero") {
          assert.equal(e.experiment, "hero-holdout");
          arms.add(e.arm);
          if (e.arm === "control") assert.deepEqual([e.variant, e.held_back], ["control", "test-hero"]);
          else assert.equal(e.variant, "test-hero");
        } else {
          assert.equal(e.slot, "grid");
          assert.equal(e.variant, "reorder");
        }
      }
      assert.equal(new Set(list.filter((e) => e.slot === "hero").map((e) => e.arm)).size, 1, "an arm per visitor");
    }
    assert.deepEqual([...arms].sort(), ["control", "treatment"], "both arms among 8 visitors");
    // The same order id from 8 visitors: the collector keeps the first purchase of order A-1042.
    const purchases = await awaitRecords(out, (r) => r.type === "conversion", 1);
    assert.equal(purchases.length, 1);
    assert.deepEqual(
      { ...purchases[0], ts: 0, visitor: "" },
      { type: "conversion", v: 1, ts: 0, site: "events-test", visitor: "", kind: "purchase", value: 129.9, currency: "EUR", order: "A-1042", source: "origin", trust: "signed" },
    );
    assert.ok(byVisitor.has(purchases[0].visitor), "the purchase is one of the visitors'");
  });

  it("a grid whose items carry no key is marked origin and records no reorder exposure", async () => {
    const jar = new Jar();
    const r = await get(w.base + "/bare", { jar });
    assert.equal(r.status, 200);
    assert.equal(applied(r.text, 'data-vt-test="grid"'), "origin");
    assert.match(r.text, /B1<\/li><li data-vt-test-item>A1/, "origin order");
    // The visitor id is in the sealed state: key id, version, consent, then 16 bytes.
    const visitor = Buffer.from(jar.cookies.get("vt"), "base64url").subarray(3, 19).toString("hex");
    const mine = (r) => r.type === "exposure" && r.visitor === visitor;
    assert.equal((await awaitRecords(out, mine, 1)).length, 1);
    await new Promise((done) => setTimeout(done, 500));
    assert.deepEqual(records(out).filter(mine).map((e) => e.slot), ["hero"]);
  });

  it("a malformed conversion header, GPC and bots record nothing; the header never reaches the shopper", async () => {
    const before = records(out).length;
    const bad = await get(w.base + "/order/bad");
    assert.equal(bad.headers.get("x-vitrine-conversion"), null);
    const json = await get(w.base + "/data.json");
    assert.equal(json.headers.get("x-vitrine-conversion"), null, "also on a page that is not personalized");
    await get(w.base + "/", { headers: { "sec-gpc": "1" } });
    const bot = await get(w.base + "/order/thanks", { headers: { "user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1)" } });
    assert.equal(bot.headers.get("x-vitrine-conversion"), null, "not to a bot either (the origin page as it came, less that header)");
    const gpc = await get(w.base + "/order/thanks", { headers: { "sec-gpc": "1" } });
    assert.equal(gpc.headers.get("x-vitrine-conversion"), null);
    // Only the bad-header page view's two exposures arrive.
    await awaitRecords(out, () => true, before + 2, 3000);
    await new Promise((r) => setTimeout(r, 1000));
    const now = records(out);
    assert.equal(now.length, before + 2, JSON.stringify(now.slice(before)));
    assert.ok(now.slice(before).every((r) => r.type === "exposure"));
  });

  it("/vitrine/collect records under the cookie's visitor, whatever the body says", async () => {
    const jar = new Jar();
    const home = await get(w.base + "/", { jar });
    const other = "f".repeat(32);
    const body = JSON.stringify({ type: "conversion", v: 1, ts: 1, site: "evil", visitor: other, kind: "add_to_cart", sku: "boot-1", source: "edge", trust: "signed" }) + "\n";
    const r = await get(w.base + "/vitrine/collect", { method: "POST", body, jar, headers: { "content-type": "text/plain" } });
    assert.equal(r.status, 204);
    const carts = await awaitRecords(out, (x) => x.kind === "add_to_cart", 1);
    assert.equal(carts.length, 1);
    assert.notEqual(carts[0].visitor, other);
    assert.equal(carts[0].site, "events-test");
    assert.deepEqual([carts[0].trust, carts[0].source], ["unsigned", "browser"]);
    const views = records(out).filter((x) => x.type === "exposure" && x.visitor === carts[0].visitor);
    assert.ok(views.length >= 2, "the cart belongs to the visitor whose page views were recorded");
    assert.equal(applied(home.text, 'data-vt-test="grid"'), "reorder");
    // Bad bodies get a precise 4xx; without a state cookie nothing is recorded.
    const bad = await get(w.base + "/vitrine/collect", { method: "POST", body: "{\"type\":\"click\"}\n", jar });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /line 1: unknown type `click`/);
    const big = await get(w.base + "/vitrine/collect", { method: "POST", body: "x".repeat(70_000), jar });
    assert.equal(big.status, 413);
    // One visitor cannot post any purchase: a value beyond the bound, or more than ten
    // conversions in a body, is refused whole.
    const purchase = (order, value) => JSON.stringify({ type: "conversion", v: 1, kind: "purchase", value, order }) + "\n";
    const huge = await get(w.base + "/vitrine/collect", { method: "POST", body: purchase("EVIL-1", 1e12), jar });
    assert.equal(huge.status, 400);
    assert.match(huge.text, /line 1: value is not a number from 0 to 1000000; nothing was recorded/);
    const many = Array.from({ length: 11 }, (_, i) => purchase(`EVIL-${i}`, 10)).join("");
    const flood = await get(w.base + "/vitrine/collect", { method: "POST", body: many, jar });
    assert.equal(flood.status, 400);
    assert.match(flood.text, /11 conversions in one body \(at most 10\); nothing was recorded/);
    const anonymous = await get(w.base + "/vitrine/collect", { method: "POST", body: body.replace("boot-1", "anon-1") });
    assert.equal(anonymous.status, 204);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(records(out).filter((x) => x.sku === "anon-1").length, 0);
    assert.equal(records(out).filter((x) => String(x.order).startsWith("EVIL-")).length, 0);
  });
});

describe("a dead collector", () => {
  let o, w;
  before(async () => {
    o = await startOrigin();
    w = await startWorker({
      config: "tests/edge/origin.wrangler.toml", port: await freePort(), inspectorPort: await freePort(),
      vars: { ORIGIN_URL: o.url, VITRINE_COLLECT_URL: `http://127.0.0.1:${await freePort()}/collect` },
      kvConfig: join(ROOT, "tests/edge/events.config.json"),
    });
  });
  after(async () => {
    w?.stop();
    await o?.close();
  });

  it("leaves the shopper's page and its latency as they are", async () => {
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      const r = await get(w.base + "/order/thanks");
      assert.equal(r.status, 200);
      assert.match(r.text, /data-vt-applied/);
      assert.ok(Date.now() - t0 < 3000, "not held by the sink");
    }
  });
});

describe("the demo as `make demo` runs it: browse, buy, find it in events/", () => {
  let origin, c, w, out;
  before(async () => {
    const { startDemoOrigin } = await import("../../www/demo-origin.mjs");
    origin = await startDemoOrigin(0);
    out = mkdtempSync(join(tmpdir(), "vitrine-demo-events-"));
    c = await startCollector(out);
    w = await startWorker({
      config: "tests/edge/demo.wrangler.toml", port: await freePort(), inspectorPort: await freePort(),
      vars: { ORIGIN_URL: `http://127.0.0.1:${origin.address().port}`, VITRINE_COLLECT_URL: `${c.url}/collect`, VITRINE_COLLECT_TOKEN: COLLECT_TOKEN },
    });
  });
  after(async () => {
    w?.stop();
    c?.stop();
    await new Promise((r) => origin?.close(r));
    rmSync(out, { recursive: true, force: true });
  });

  it("the exposures and the purchase are under one visitor id", async () => {
    const jar = new Jar();
    for (const p of ["/", "/c/hiking", "/p/hiking-summit-pack"]) assert.equal((await get(w.base + p, { jar })).status, 200, p);
    // An add-to-cart as the browser module records it: a beacon and, in vt_e, the same event id
    // that the edge folds on the next request. One record.
    const cart = { type: "conversion", v: 1, ts: 1, site: "", visitor: "0".repeat(32), kind: "add_to_cart", sku: "summit-pack", value: 149, event: "c0ffee01", source: "browser", trust: "unsigned" };
    assert.equal((await get(w.base + "/vitrine/collect", { method: "POST", body: JSON.stringify(cart) + "\n", jar })).status, 204);
    jar.cookies.set("vt_e", "ac:summit-pack:hiking:149:c0ffee01|pv:summit-pack:hiking:149");
    assert.equal((await get(w.base + "/cart", { jar })).status, 200);
    assert.equal(jar.cookies.has("vt_e"), false, "the folded click stream is cleared");
    const thanks = await get(w.base + "/order/thanks?order=T-TEST1&total=179.00", { jar });
    assert.equal(thanks.status, 200);
    assert.match(thanks.text, /Thank you for your order/);
    assert.equal(thanks.headers.get("x-vitrine-conversion"), null);
    const [purchase] = await awaitRecords(out, (r) => r.type === "conversion" && r.kind === "purchase", 1);
    assert.deepEqual([purchase.kind, purchase.value, purchase.currency, purchase.order, purchase.trust], ["purchase", 179, "USD", "T-TEST1", "signed"]);
    // An exposure per slot on each page: 6 on the home and category pages, 5 on the product
    // page (no cta), 3 on the cart and the confirmation page (no hero, grid or cta).
    const mine = await awaitRecords(out, (r) => r.type === "exposure" && r.visitor === purchase.visitor, 6 + 6 + 5 + 3 + 3);
    assert.equal(mine.length, 6 + 6 + 5 + 3 + 3, `${mine.length} exposures of the buyer`);
    assert.equal(mine.filter((e) => e.slot === "grid").length, 3, "the grid where the page has it");
    const heroes = mine.filter((e) => e.slot === "hero");
    assert.equal(heroes.length, 3, "one hero exposure per view of a page with the hero");
    // The holdout buckets a visitor when there is something to hold back; origin views carry no arm.
    for (const e of heroes) {
      if (e.variant === "origin") assert.equal(e.arm, undefined);
      else assert.ok(e.experiment === "hero-holdout" && ["treatment", "control"].includes(e.arm), JSON.stringify(e));
    }
    const carts = records(out).filter((r) => r.kind === "add_to_cart");
    assert.equal(carts.length, 1, JSON.stringify(carts));
    assert.deepEqual([carts[0].visitor, carts[0].event], [purchase.visitor, "c0ffee01"]);
    // The demo samples every visitor's page views (events.page_sample: 1): the click stream
    // `vitrine simulate` replays, with the folded add-to-cart and no unread query parameter.
    const pages = (await awaitRecords(out, (r) => r.type === "page" && r.visitor === purchase.visitor, 5)).sort((a, b) => a.ts - b.ts);
    assert.deepEqual(pages.map((p) => p.path), ["/", "/c/hiking", "/p/hiking-summit-pack", "/cart", "/order/thanks"]);
    assert.deepEqual(pages[3].events.map((e) => [e.kind, e.id]), [["product_view", undefined], ["add_to_cart", "c0ffee01"]]);
    assert.deepEqual(pages[4].query, [], "order and total are not parameters the config reads");
  });
});

describe("the production path: Queue → R2, in wrangler dev's local Queues and R2", () => {
  let o, w;
  before(async () => {
    o = await startOrigin();
    w = await startWorker({
      config: "tests/edge/queue.wrangler.toml", port: await freePort(), inspectorPort: await freePort(),
      vars: { ORIGIN_URL: o.url },
      kvConfig: join(ROOT, "tests/edge/events.config.json"),
    });
  });
  after(async () => {
    w?.stop();
    await o?.close();
  });

  /** The bucket's keys (from the local R2's own index) and each object read back through R2. */
  function objects() {
    const dir = join(w.persist, "v3/r2/miniflare-R2BucketObject");
    const db = readdirSync(dir).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
    if (!db) return [];
    const keys = JSON.parse(execFileSync("python3", ["-c", "import sqlite3,sys,json; print(json.dumps([r[0] for r in sqlite3.connect(sys.argv[1]).execute('select key from _mf_objects')]))", join(dir, db)]).toString());
    return keys.map((key) => {
      const bytes = execFileSync(join(ROOT, "node_modules/.bin/wrangler"), ["r2", "object", "get", `vitrine-events/${key}`, "--local", "--persist-to", w.persist, "--pipe", "-c", "tests/edge/queue.wrangler.toml"], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, maxBuffer: 1 << 26 });
      return { key, records: gunzipSync(bytes).toString().split("\n").filter(Boolean).map((l) => JSON.parse(l)) };
    });
  }

  it("a journey's exposures and purchase arrive as gzipped NDJSON under events/dt=…/hour=…/", async () => {
    const jar = new Jar();
    for (const p of ["/", "/c/boots", "/order/thanks"]) assert.equal((await get(w.base + p, { jar })).status, 200);
    let found = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      found = objects();
      const records = found.flatMap((x) => x.records);
      if (records.some((r) => r.type === "conversion") && records.filter((r) => r.type === "exposure").length >= 8) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(found.length >= 1, "an object in R2");
    for (const { key } of found) assert.match(key, /^events\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[0-9a-f-]{36}\.ndjson\.gz$/);
    const records = found.flatMap((x) => x.records);
    const purchase = records.find((r) => r.type === "conversion");
    assert.ok(purchase, "the purchase");
    assert.deepEqual([purchase.kind, purchase.order, purchase.value], ["purchase", "A-1042", 129.9]);
    const mine = records.filter((r) => r.type === "exposure" && r.visitor === purchase.visitor);
    assert.equal(mine.length, 6, "3 views × 2 slots of the buyer");
  });
});
