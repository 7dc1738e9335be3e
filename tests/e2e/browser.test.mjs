// End-to-end in Debian's headless Chromium (playwright-core): the demo store through the edge
// worker in `wrangler dev`, and a plain static page that has only the script tag.
// Screenshots go to tests/artifacts/ (ignored by git). Run by `make test-e2e`.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ROOT, UA, DEBUG_TOKEN, startWorker, freePort, mintCookie } from "../edge/harness.mjs";
import { startStatic, shopPage, PLAIN_PAGE } from "./static.mjs";

const ARTIFACTS = join(ROOT, "tests/artifacts");
mkdirSync(ARTIFACTS, { recursive: true });
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
});

const heroVariant = (page) => page.getAttribute("[data-vt-slot=hero]", "data-vt-applied");
const gridSkus = (page) => page.$$eval("[data-vt-slot=grid] [data-vt-item]", (els) => els.map((e) => e.dataset.vtSku));

describe("the demo store through the worker", () => {
  let w;
  before(async () => {
    w = await startWorker({ config: "tests/edge/demo.wrangler.toml", port: await freePort(), inspectorPort: await freePort(), vars: { VITRINE_DEBUG_TOKEN: DEBUG_TOKEN } });
  });
  after(() => w?.stop());

  it("clicking two hiking products and adding one to the cart changes the home page", async () => {
    // NOTE: a regular Chrome user agent: the edge treats "HeadlessChrome" as a bot.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, userAgent: UA });
    // Visitor 07…07 is in the hero holdout's treatment arm (a random one is in control 1 in 10).
    await context.addCookies([{ name: "vt", value: mintCookie("07".repeat(16), ["/about"]), url: w.base, httpOnly: true }]);
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(w.base + "/");
    assert.equal(await heroVariant(page), "origin");
    assert.match(await page.textContent("[data-vt-slot=hero] h1"), /Gear for every trail/);
    await page.screenshot({ path: join(ARTIFACTS, "demo-before.png") });

    // Two hiking products, clicked in the grid (the module records the clicks in vt_e).
    const ready = () => page.waitForSelector("html[data-vt-ready]", { state: "attached" });
    for (const sku of ["hiking-ridgeline-mid", "hiking-summit-pack"]) {
      await ready();
      await page.click(`[data-vt-slot=grid] [data-vt-sku="${sku}"] a`);
      await page.waitForURL(`**/p/${sku}`);
    }
    await ready();
    // Each click was folded by the edge on the navigation it caused, and cleared; the
    // add-to-cart waits in vt_e for the next request.
    await page.click("[data-vt-add-to-cart]");
    const events = (await context.cookies(w.base)).find((c) => c.name === "vt_e");
    assert.match(events && events.value, /^ac:hiking-summit-pack:hiking:179:[0-9a-f]{16}$/, "the add-to-cart with its event id");

    await context.setExtraHTTPHeaders({ "x-vitrine-debug": DEBUG_TOKEN });
    const response = await page.goto(w.base + "/");
    const report = JSON.parse(response.headers()["x-vitrine-explain"]);
    // 2 product views (12 each, from the URLs) + 2 clicks (4 each) + add to cart (30) = 62,
    // less a few minutes of decay.
    const hiking = report.state.scores.hiking;
    assert.ok(hiking > 61.9 && hiking <= 62, `hiking=${hiking}`);
    assert.equal(await heroVariant(page), "hero-trail");
    assert.match(await page.textContent("[data-vt-slot=hero] h1"), /Trail-ready boots/);
    const skus = await gridSkus(page);
    assert.ok(skus.slice(0, 8).every((s) => s.startsWith("hiking-")), `grid starts ${skus.slice(0, 8)}`);
    assert.equal(await page.getAttribute("body", "data-vt-theme"), "hiking");
    // The events were folded by the edge and cleared in its response.
    assert.equal((await context.cookies(w.base)).find((c) => c.name === "vt_e"), undefined);
    // No double work: the edge decided every slot; the module keeps no browser-only state.
    assert.equal(await page.evaluate(() => localStorage.getItem("vitrine:vt")), null);
    assert.deepEqual(errors, []);
    await page.screenshot({ path: join(ARTIFACTS, "demo-after.png") });

    // The overlay on an edge page: with the debug token as a cookie, the edge's reasons.
    await context.addCookies([{ name: "vt_debug", value: DEBUG_TOKEN, url: w.base }]);
    await page.goto(w.base + "/?vt-debug");
    await page.waitForSelector("#vt-debug");
    const overlay = await page.textContent("#vt-debug");
    assert.match(overlay, /decided at the edge/);
    assert.match(overlay, /hero → hero-trail/);
    assert.match(overlay, /segment hiker \(score\.hiking=/);
    await context.close();
  });
});

describe("a plain page with only the script tag (no worker)", () => {
  let s;
  // Visitor 07…07 (hero holdout treatment): its state, unsigned as the browser keeps it.
  const signed = mintCookie("07".repeat(16), ["/about"]);
  const unsigned = Buffer.from(signed, "base64url").subarray(1, -16).toString("base64url");
  const pinned = async (opts = {}) => {
    const context = await browser.newContext(opts);
    await context.addInitScript((token) => { if (!localStorage.getItem("vitrine:vt")) localStorage.setItem("vitrine:vt", token); }, unsigned);
    return context;
  };
  before(async () => {
    s = await startStatic();
  });
  after(async () => {
    await s?.close();
  });

  it("a qualifying visitor never sees the generic hero, and the slots do not shift", async () => {
    const context = await pinned({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(s.url + "/?utm_campaign=trail-spring");
    await page.waitForFunction(() => document.querySelector("[data-vt-slot=hero]").hasAttribute("data-vt-applied"), null, { timeout: 10_000 });
    await page.waitForTimeout(300);
    const frames = await page.evaluate(() => window.__heroFrames);
    const shown = frames.filter((f) => f !== null);
    assert.ok(shown.length > 0, "the hero was shown");
    assert.ok(shown.every((f) => f.includes("Trail-ready")), `a frame showed: ${[...new Set(shown)]}`);
    const shifts = await page.evaluate(() => window.__shifts);
    const slotShift = shifts.filter((e) => e.sources.some((x) => x !== null)).reduce((a, e) => a + e.value, 0);
    assert.equal(slotShift, 0, JSON.stringify(shifts));
    // Reorder moved the existing nodes; state is kept, unsigned, in localStorage.
    assert.deepEqual(await gridSkus(page), ["hiking-ridgeline-mid", "hiking-summit-pack", "running-road-racer", "camping-dome-2p"]);
    assert.ok(await page.evaluate(() => localStorage.getItem("vitrine:vt")));
    assert.deepEqual(errors, []);
    await context.close();
  });

  it("head.html's preload hints start every file with the HTML, each fetched once and used", async () => {
    const context = await pinned({ userAgent: UA });
    const page = await context.newPage();
    const warnings = [];
    page.on("console", (m) => { if (/preload/i.test(m.text())) warnings.push(m.text()); });
    await page.goto(s.url + "/hinted.html?utm_campaign=trail-spring");
    await page.waitForFunction(() => document.querySelector("[data-vt-slot=hero]").hasAttribute("data-vt-applied"), null, { timeout: 10_000 });
    assert.equal(await heroVariant(page), "hero-trail");
    const fetched = await page.evaluate(() => performance.getEntriesByType("resource").map((r) => new URL(r.name).pathname).filter((p) => p.startsWith("/vitrine/")));
    assert.deepEqual([...fetched].sort(), [...new Set(fetched)].sort(), `a file fetched twice: ${fetched}`);
    assert.equal(fetched.length, 4, fetched.join(", "));
    await page.waitForTimeout(200);
    assert.deepEqual(warnings, [], "no preload left unused");
    await context.close();
  });

  it("refresh() decides a single-page app's next route: the module's own marks never make the page look decided at the edge", async () => {
    const context = await pinned({ userAgent: UA });
    const page = await context.newPage();
    await page.goto(s.url + "/");
    await page.waitForSelector("html[data-vt-ready]", { state: "attached", timeout: 10_000 });
    const after = await page.evaluate(async () => {
      const vitrine = await window.vitrine;
      history.pushState({}, "", "/c/hiking");
      const d = vitrine.refresh();
      return { slots: d ? d.slots.length : 0, edge: sessionStorage.getItem("vitrine:edge") };
    });
    assert.ok(after.slots > 0, "refresh() decided the new route");
    assert.equal(after.edge, null, "no worker is assumed");
    await context.close();
  });

  it("the browser build carries no signing code: state keys are refused", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(s.url + "/");
    const result = await page.evaluate(async () => {
      // The module the loader loaded (its wasm core initialized) exports the core's classes.
      const core = await window.vitrine;
      const configUrl = performance.getEntriesByType("resource").map((e) => e.name).find((n) => /\/config\.[0-9a-f]+\.bin$/.test(n));
      const config = new Uint8Array(await (await fetch(configUrl)).arrayBuffer());
      let refused = null;
      try { new core.Engine(config, "1:c2lnbmluZy1rZXktc2lnbmluZy1rZXktc2lnbmluZy1rZXk"); } catch (e) { refused = String(e.message || e); }
      const engine = new core.Engine(config);
      const req = new core.PageRequest(location.href + "?utm_campaign=trail-spring", Date.now());
      req.userAgent = navigator.userAgent;
      req.id = "07".repeat(16);
      const token = engine.decide(req).stateToken;
      req.free();
      return { refused, token };
    });
    assert.match(result.refused ?? "", /server-side build/);
    assert.ok(result.token, "the keyless engine decides and returns its unsigned state");
    await context.close();
  });

  it("the state carries over: a later visit without the campaign is still personalized", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(s.url + "/?utm_campaign=trail-spring");
    await page.waitForFunction(() => document.querySelector("[data-vt-slot=hero]").hasAttribute("data-vt-applied"));
    await page.goto(s.url + "/");
    await page.waitForFunction(() => document.querySelector("[data-vt-slot=hero]").hasAttribute("data-vt-applied"));
    // hiking=25 < 30 without the campaign: the hero is the generic one, but the grid still leads with hiking.
    assert.equal(await heroVariant(page), "origin");
    assert.deepEqual((await gridSkus(page)).slice(0, 2), ["hiking-ridgeline-mid", "hiking-summit-pack"]);
    await context.close();
  });

  it("exposures reach dataLayer once each and leave with a beacon when the page is left", async () => {
    // A person's browser: headless Chromium's own user agent is a bot's, and bots are not recorded.
    const context = await pinned({ userAgent: UA });
    const page = await context.newPage();
    await page.goto(s.url + "/?utm_campaign=trail-spring");
    await page.waitForFunction(() => document.querySelector("[data-vt-slot=hero]").hasAttribute("data-vt-applied"), null, { timeout: 10_000 });
    // A re-render (a single-page app's route change to the same page) announces nothing twice.
    await page.evaluate(async () => { const v = await window.vitrine; v.refresh(); });
    const layer = await page.evaluate(() => window.dataLayer.filter((e) => e.event === "experiment_viewed"));
    const ids = layer.map((e) => `${e.vitrine_slot}:${e.variation_id}`);
    assert.equal(new Set(ids).size, ids.length, `duplicates: ${ids}`);
    assert.ok(layer.some((e) => e.experiment_id === "hero-holdout" && e.variation_id === "hero-trail" && e.vitrine_arm === "treatment"), JSON.stringify(layer));
    // Origin content outside any experiment is no experiment viewed.
    assert.ok(!layer.some((e) => e.variation_id === "origin" && e.experiment_id.startsWith("vitrine:")), JSON.stringify(layer));
    assert.ok(!layer.some((e) => e.vitrine_slot === "newsletter"), "not on this page");
    const shownSlots = await page.evaluate(() => [...document.querySelectorAll("[data-vt-slot][data-vt-applied]")].filter((el) => el.dataset.vtApplied !== "origin").map((el) => el.dataset.vtSlot));
    for (const slot of shownSlots) assert.ok(layer.some((e) => e.vitrine_slot === slot), `${slot} not in dataLayer`);
    await page.evaluate(async () => { const v = await window.vitrine; v.track({ type: "purchase", sku: "hiking-summit-pack", value: 179, currency: "USD", order: "W-1" }); });
    const before = s.beacons.length;
    await page.goto("about:blank");
    const deadline = Date.now() + 5000;
    while (s.beacons.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const records = s.beacons.slice(before).join("").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const exposures = records.filter((r) => r.type === "exposure");
    assert.equal(exposures.length, new Set(exposures.map((e) => e.slot)).size, "one exposure per slot");
    // The plain page has no newsletter: its decision is no exposure.
    assert.ok(!exposures.some((e) => e.slot === "newsletter"), JSON.stringify(exposures.map((e) => e.slot)));
    assert.ok(exposures.length >= 4, "hero, grid, offer, cta and the body's theme are on the page");
    assert.ok(exposures.some((e) => e.slot === "hero" && e.variant === "hero-trail" && e.source === "browser" && e.trust === "unsigned"));
    assert.equal(new Set(exposures.map((e) => e.visitor)).size, 1);
    assert.equal(exposures[0].visitor, "07".repeat(16));
    const purchase = records.find((r) => r.type === "conversion");
    assert.deepEqual([purchase.kind, purchase.value, purchase.order, purchase.visitor], ["purchase", 179, "W-1", "07".repeat(16)]);
    await context.close();
  });

  it("the debug overlay explains every decision", async () => {
    const context = await pinned({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    await page.goto(s.url + "/?utm_campaign=trail-spring&vt-debug");
    await page.waitForSelector("#vt-debug");
    const text = await page.textContent("#vt-debug");
    assert.match(text, /hero → hero-trail/);
    assert.match(text, /segment trail_campaign \(query\.utm_campaign='trail-spring' ~ 'trail-\*'\)/);
    assert.match(text, /grid → reorder/);
    assert.match(text, /trail_campaign/);
    const width = await page.$eval("[data-vt-bar=hiking]", (el) => el.style.width);
    assert.equal(width, "25%");
    await page.screenshot({ path: join(ARTIFACTS, "debug-overlay.png") });
    await context.close();
  });

  it("Global Privacy Control: context-only, no state stored", async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }));
    const page = await context.newPage();
    await page.goto(s.url + "/?utm_campaign=trail-spring");
    await page.waitForFunction(() => document.querySelector("[data-vt-slot=hero]").hasAttribute("data-vt-applied"));
    assert.equal(await heroVariant(page), "hero-trail", "the campaign is context");
    assert.equal(await page.evaluate(() => localStorage.getItem("vitrine:vt")), null);
    assert.equal(await page.getAttribute("[data-vt-slot=grid]", "data-vt-applied"), "origin", "no behavioral reorder");
    await context.close();
  });
});

describe("a shop's own page, no markers: only the script tag and selectors on its markup", () => {
  // docs/examples/category.html with docs/examples/real-markup.json, shipped as `make browser`
  // and `vitrine compile --browser` ship it; the script tag's attributes vary by `?tag=`.
  let s, dir;
  const TAGS = {
    collect: '<script src="/vitrine/vitrine.js" data-collect="/vitrine/collect" data-search-form="form.finder"></script>',
    plain: '<script src="/vitrine/vitrine.js"></script>',
    badconfig: '<script src="/vitrine/vitrine.js" data-config="/vitrine/missing.bin"></script>',
  };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "vitrine-shop-"));
    cpSync(join(ROOT, "target/browser"), dir, { recursive: true });
    execFileSync(join(ROOT, "target/debug/vitrine"), ["compile", "docs/examples/real-markup.json", "--browser", dir], { cwd: ROOT, stdio: "ignore" });
    s = await startStatic({ vitrine: dir, page: (url) => shopPage(TAGS[url.searchParams.get("tag") || "collect"]) });
  });
  after(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ready = (page) => page.waitForSelector("html[data-vt-ready]", { state: "attached", timeout: 10_000 });
  const pending = async (context) => (await context.cookies(s.url)).find((c) => c.name === "vt_e")?.value ?? "";

  it("a hiker never sees the generic hero; clicks on product links and searches are captured; exposures only for what was shown", async () => {
    const context = await browser.newContext({ userAgent: UA, viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    // Four hiking category views (10 points each, from the URL): a hiker from the fourth on.
    for (let i = 0; i < 4; i++) {
      await page.goto(s.url + "/c/hiking/");
      await ready(page);
    }
    const frames = await page.evaluate(() => window.__heroFrames);
    const shown = frames.filter((f) => f !== null);
    assert.ok(shown.length > 0, "the hero was shown");
    assert.ok(shown.every((f) => f.includes("Trail-ready")), `a frame showed: ${[...new Set(shown)]}`);
    assert.equal(await page.getAttribute("section.hero-banner", "data-vt-applied"), "hero-hiking");
    const hrefs = await page.$$eval("ul.product-grid a.product-link", (as) => as.map((a) => a.getAttribute("href")));
    assert.deepEqual(hrefs.slice(0, 2), ["/p/hiking-ridge-boot", "/p/hiking-summit-pack"]);

    // Clicks and submits stay on the page (the capture listener runs first).
    await page.evaluate(() => {
      document.addEventListener("click", (e) => e.preventDefault());
      document.addEventListener("submit", (e) => e.preventDefault());
    });
    await page.click('a.product-link[href="/p/camping-dome-tent"]');
    assert.match(await pending(context), /^pc:camping-dome-tent:camping/);
    await page.fill("header input[name=q]", "rain jacket");
    await page.evaluate(() => document.querySelector("header form").requestSubmit());
    assert.match(await pending(context), /^se:rain%20jacket\|pc:/, "the header's role=search form");
    await page.fill("form.footer-search input", "gaiters");
    await page.evaluate(() => document.querySelector("form.footer-search").requestSubmit());
    assert.match(await pending(context), /^se:gaiters\|/, "a plain GET form to the search page type");
    await page.fill("form.finder input", "stove");
    await page.evaluate(() => document.querySelector("form.finder").requestSubmit());
    assert.match(await pending(context), /^se:stove\|/, "the form data-search-form names");

    const before = s.beacons.length;
    await page.goto("about:blank");
    const deadline = Date.now() + 5000;
    while (s.beacons.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const exposures = s.beacons.slice(before).join("").split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.type === "exposure");
    assert.deepEqual(exposures.map((e) => `${e.slot}:${e.variant}`).sort(), ["grid:reorder", "hero:hero-hiking", "offer:free-shipping"], "the newsletter is not on this page");
    assert.deepEqual(errors, []);
    await context.close();
  });

  it("without data-collect nothing is sent, and the console says so once", async () => {
    const context = await browser.newContext({ userAgent: UA });
    const page = await context.newPage();
    const notes = [];
    page.on("console", (m) => notes.push(m.text()));
    const posts = [];
    page.on("request", (r) => { if (r.method() === "POST") posts.push(r.url()); });
    await page.goto(s.url + "/c/hiking/?tag=plain");
    await ready(page);
    await page.goto("about:blank");
    assert.equal(notes.filter((n) => n.includes("no data-collect")).length, 1, notes.join("\n"));
    assert.deepEqual(posts, []);
    await context.close();
  });

  it("a configuration that cannot be loaded is one console error naming its URL, and the page shows", async () => {
    const context = await browser.newContext({ userAgent: UA });
    const page = await context.newPage();
    const errors = [];
    page.on("console", (m) => { if (m.type() === "error" && m.text().startsWith("vitrine")) errors.push(m.text()); });
    await page.goto(s.url + "/c/hiking/?tag=badconfig");
    await page.waitForFunction(() => !document.getElementById("vt-anti-flicker"), null, { timeout: 10_000 });
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0], /\/vitrine\/missing\.bin: HTTP 404/);
    assert.notEqual(await page.evaluate(() => getComputedStyle(document.querySelector("section.hero-banner")).visibility), "hidden");
    await context.close();
  });

  it("?vt-force shows a variant for QA, marked as forced and never recorded; a headless browser is told it is a bot", async () => {
    const context = await browser.newContext({ userAgent: UA });
    const page = await context.newPage();
    await page.goto(s.url + "/c/hiking/?vt-debug&vt-force=hero:hero-hiking");
    await page.waitForSelector("#vt-debug");
    assert.equal(await page.getAttribute("section.hero-banner", "data-vt-applied"), "hero-hiking", "a first visit is no hiker: forced");
    const overlay = await page.textContent("#vt-debug");
    assert.match(overlay, /hero → hero-hiking[^]*forced by \?vt-force=hero:hero-hiking/);
    assert.match(overlay, /newsletter → origin[^]*not on this page/);
    const before = s.beacons.length;
    await page.goto("about:blank");
    const deadline = Date.now() + 5000;
    while (s.beacons.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const slots = s.beacons.slice(before).join("").split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.type === "exposure").map((e) => e.slot);
    assert.ok(!slots.includes("hero"), JSON.stringify(slots));
    assert.ok(slots.includes("offer"), JSON.stringify(slots));
    await context.close();

    // Headless Chromium's own user agent: personalized, nothing recorded, and said so.
    const headless = await browser.newContext();
    const bot = await headless.newPage();
    const notes = [];
    bot.on("console", (m) => notes.push(m.text()));
    await bot.goto(s.url + "/c/hiking/?vt-debug");
    await bot.waitForSelector("#vt-debug [data-vt-unrecorded]");
    assert.match(await bot.textContent("#vt-debug [data-vt-unrecorded]"), /bot user agent: nothing recorded/);
    assert.ok(notes.some((n) => n.includes("bot user agent: nothing recorded")), notes.join("\n"));
    await headless.close();
  });
});

describe("consent in the page (privacy.consent), browser-only mode", () => {
  // The demo's configuration with consent asked: a CMP cookie, an IAB TCF v2 string (purposes 1
  // and 6; published examples made with the IAB's encoder) or Google Consent Mode grants it.
  const TC_1_3_6_7_8_10 = "COvzTO5OvzTO5B7ABCENAPCYAKdAADkAAIqIFhwBAAGAAXAFGAsMAhYAgAMAAegBYAEKAAA.IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw.QE5QAwCvgHyATkA";
  const TC_1_3_4_7 = "COvzTO5OvzTO5BRAAAENAPCoALIAADgAAAAAAewAwABAAlAB6ABBFADBQAQA9hAAAcAA";
  let s, dir;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "vitrine-consent-"));
    cpSync(join(ROOT, "target/browser"), dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(ROOT, "src/config/demo.json"), "utf8"));
    config.privacy = { ...config.privacy, consent: { cookie: { name: "cmp", equals: "yes" }, tcf: { purposes: [1, 6] }, consent_mode: ["analytics_storage", "personalization_storage"] } };
    writeFileSync(join(dir, "site.json"), JSON.stringify(config));
    execFileSync(join(ROOT, "target/debug/vitrine"), ["compile", join(dir, "site.json"), "--browser", dir], { cwd: ROOT, stdio: "ignore" });
    s = await startStatic({ vitrine: dir, page: PLAIN_PAGE });
  });
  after(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ready = (page) => page.waitForSelector("html[data-vt-ready]", { state: "attached", timeout: 10_000 });
  const stored = (page) => page.evaluate(() => localStorage.getItem("vitrine:vt"));
  const pending = async (context) => (await context.cookies(s.url)).find((c) => c.name === "vt_e")?.value ?? "";
  const viewed = (page) => page.evaluate(() => (window.dataLayer || []).filter((e) => e && e.event === "experiment_viewed").length);
  const records = (from) => s.beacons.slice(from).join("").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const leave = async (page, from) => {
    await page.goto("about:blank");
    const deadline = Date.now() + 3000;
    while (s.beacons.length === from && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  };

  it("a CMP cookie toggled across a journey: context only, then state and records, then deleted", async () => {
    const context = await browser.newContext({ userAgent: UA });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const from = s.beacons.length;
    // Before consent: decided from the context (the campaign), nothing stored, captured or sent.
    await page.goto(s.url + "/?utm_campaign=trail-spring");
    await ready(page);
    assert.equal(await heroVariant(page), "hero-trail");
    await page.evaluate(async () => (await window.vitrine).track({ type: "add_to_cart", sku: "hiking-summit-pack", category: "hiking", price: 189 }));
    assert.equal(await stored(page), null);
    assert.equal(await pending(context), "");
    assert.equal(await viewed(page), 0, "no experiment_viewed before consent");
    await leave(page, from);
    assert.deepEqual(records(from), [], "no beacon before consent");

    // The CMP sets its cookie and calls back: capture and the state start.
    await page.goto(s.url + "/");
    await ready(page);
    await context.addCookies([{ name: "cmp", value: "yes", url: s.url }]);
    await page.evaluate(async () => (await window.vitrine).consentChanged());
    assert.ok(await stored(page), "the state starts with consent");
    await page.evaluate(async () => (await window.vitrine).track({ type: "add_to_cart", sku: "hiking-summit-pack", category: "hiking", price: 189 }));
    assert.match(await pending(context), /^ac:hiking-summit-pack/);
    const granted = s.beacons.length;
    await page.goto(s.url + "/c/hiking");
    await ready(page);
    assert.ok((await viewed(page)) > 0, "exposures announced after consent");
    await leave(page, granted);
    const sent = records(from);
    assert.ok(sent.some((r) => r.type === "conversion" && r.kind === "add_to_cart"), JSON.stringify(sent));
    assert.ok(sent.some((r) => r.type === "exposure"), JSON.stringify(sent));

    // Withdrawn: the state and the click stream go at once.
    await page.goto(s.url + "/");
    await ready(page);
    await page.evaluate(async () => (await window.vitrine).track({ type: "product_click", sku: "camping-dome-2p", category: "camping" }));
    assert.notEqual(await pending(context), "");
    await context.addCookies([{ name: "cmp", value: "no", url: s.url }]);
    await page.evaluate(async () => (await window.vitrine).consentChanged());
    assert.equal(await stored(page), null);
    assert.equal(await pending(context), "");
    assert.deepEqual(errors, []);
    await context.close();
  });

  it("Google Consent Mode updates in the page start and end the state", async () => {
    const context = await browser.newContext({ userAgent: UA });
    await context.addInitScript(() => {
      window.dataLayer = window.dataLayer || [];
      window.gtag = function () { window.dataLayer.push(arguments); };
      window.gtag("consent", "default", { analytics_storage: "denied", personalization_storage: "denied", ad_storage: "denied" });
    });
    const page = await context.newPage();
    await page.goto(s.url + "/");
    await ready(page);
    assert.equal(await stored(page), null);
    await page.evaluate(() => window.gtag("consent", "update", { analytics_storage: "granted" }));
    assert.equal(await stored(page), null, "one of the two types is not enough");
    await page.evaluate(() => window.gtag("consent", "update", { personalization_storage: "granted" }));
    assert.ok(await stored(page), "both granted: the state starts");
    await page.evaluate(() => window.gtag("consent", "update", { analytics_storage: "denied" }));
    assert.equal(await stored(page), null, "withdrawn: the state is deleted");
    await context.close();
  });

  it("the CMP's __tcfapi: a TC string without purpose 6 grants nothing, one with it grants", async () => {
    const context = await browser.newContext({ userAgent: UA });
    await context.addInitScript((tc) => {
      window.__tcfapi = (command, version, callback) => {
        if (command !== "addEventListener") return;
        window.__tcfListener = callback;
        callback({ tcString: tc, eventStatus: "tcloaded" }, true);
      };
    }, TC_1_3_4_7);
    const page = await context.newPage();
    await page.goto(s.url + "/");
    await ready(page);
    assert.equal(await stored(page), null);
    await page.evaluate((tc) => window.__tcfListener({ tcString: tc, eventStatus: "useractioncomplete" }, true), TC_1_3_6_7_8_10);
    assert.ok(await stored(page));
    await context.close();
  });
});
