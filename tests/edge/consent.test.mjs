// Consent before state (privacy.consent, docs/privacy.md) in real workerd (`wrangler dev`),
// records into the real collector (`vitrine collect` on 127.0.0.1): a CMP cookie toggled across
// a journey, IAB TCF v2 strings (published examples, made with the IAB's encoder at iabtcf.com)
// with and without the needed purposes, and /vitrine/collect without consent. Run by
// `make test-edge`.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, DEBUG_TOKEN, startWorker, startCollector, COLLECT_TOKEN, freePort, Jar, get, records, awaitRecords } from "./harness.mjs";

/** Purposes 1, 3, 6, 7, 8 and 10 have consent. */
const TC_1_3_6_7_8_10 = "COvzTO5OvzTO5B7ABCENAPCYAKdAADkAAIqIFhwBAAGAAXAFGAsMAhYAgAMAAegBYAEKAAA.IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw.QE5QAwCvgHyATkA";
/** Purposes 1, 3, 4 and 7: not 6. */
const TC_1_3_4_7 = "COvzTO5OvzTO5BRAAAENAPCoALIAADgAAAAAAewAwABAAlAB6ABBFADBQAQA9hAAAcAA";

const page = `<!doctype html><html><body><section data-vt-test="hero"><h1>Origin hero</h1></section>
<ul data-vt-test="grid"><li data-vt-test-item data-cat="a">A1</li><li data-vt-test-item data-cat="b">B1</li></ul></body></html>`;

async function startOrigin() {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(page);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

const hero = (html) => html.match(/<section data-vt-test="hero"[^>]*>(.*?)<\/section>/s)[1];
const setCookies = (r) => r.headers.getSetCookie();
const visitorOf = (token) => Buffer.from(token, "base64url").subarray(3, 19).toString("hex");

describe("consent before state, in workerd", () => {
  let o, c, w, out;
  before(async () => {
    out = mkdtempSync(join(tmpdir(), "vitrine-consent-"));
    o = await startOrigin();
    c = await startCollector(out);
    w = await startWorker({
      config: "tests/edge/origin.wrangler.toml", port: await freePort(), inspectorPort: await freePort(),
      vars: { ORIGIN_URL: o.url, VITRINE_COLLECT_URL: `${c.url}/collect`, VITRINE_COLLECT_TOKEN: COLLECT_TOKEN, VITRINE_DEBUG_TOKEN: DEBUG_TOKEN },
      kvConfig: join(ROOT, "tests/edge/consent.config.json"),
    });
  });
  after(async () => {
    w?.stop();
    c?.stop();
    await o?.close();
    rmSync(out, { recursive: true, force: true });
  });

  it("a CMP cookie toggled across a journey: context only, then state and records, then deleted", async () => {
    const jar = new Jar();
    // Before consent: decided from the context (the campaign), no cookie set, nothing recorded.
    const first = await get(w.base + "/?utm_campaign=spring", { jar, headers: { "x-vitrine-debug": DEBUG_TOKEN } });
    assert.equal(first.status, 200);
    assert.equal(hero(first.text), "<h1>Spring sale</h1>");
    assert.deepEqual(setCookies(first), [], "no state cookie before consent");
    const explain = JSON.parse(first.headers.get("x-vitrine-explain"));
    assert.equal(explain.context_only, "no consent: context only");
    assert.equal(explain.state, null);
    const again = await get(w.base + "/", { jar, headers: { cookie: "vt_e=pv:x:a:1" } });
    assert.ok(setCookies(again).some((s) => /^vt_e=;.*Max-Age=0/.test(s)), "a click stream sent before consent is deleted");
    assert.ok(!setCookies(again).some((s) => /^vt=[^;]/.test(s)));

    // Consent: the state starts; a second view is a returning visitor's; both are recorded.
    jar.cookies.set("cmp", "yes");
    const granted = await get(w.base + "/", { jar });
    assert.ok(jar.cookies.get("vt"), setCookies(granted).join("\n"));
    const visitor = visitorOf(jar.cookies.get("vt"));
    const second = await get(w.base + "/", { jar });
    assert.equal(hero(second.text), "<h1>Welcome back</h1>");
    const mine = (r) => r.type === "exposure" && r.visitor === visitor;
    assert.equal((await awaitRecords(out, mine, 4)).length, 4, "two views × two slots");

    // Withdrawn: both cookies expire, the state is not read, nothing more is recorded.
    jar.cookies.set("cmp", "no");
    const withdrawn = await get(w.base + "/", { jar });
    const expired = setCookies(withdrawn);
    for (const name of ["vt", "vt_e"]) {
      assert.ok(expired.some((s) => new RegExp(`^${name}=; Path=/; Max-Age=0`).test(s)), `${name} expires: ${expired.join("\n")}`);
    }
    assert.equal(hero(withdrawn.text), "<h1>Origin hero</h1>", "no longer a returning visitor");
    assert.equal(jar.cookies.get("vt"), undefined);
    await new Promise((r) => setTimeout(r, 1000));
    // The pages before consent and after the withdrawal left no record at all.
    assert.deepEqual(records(out).filter((r) => r.type === "exposure").map((r) => r.visitor), Array(4).fill(visitor));
  });

  it("a TC string grants with every needed purpose (1 and 6) and not without", async () => {
    const yes = await get(w.base + "/", { headers: { cookie: `euconsent-v2=${TC_1_3_6_7_8_10}` } });
    assert.ok(setCookies(yes).some((s) => /^vt=[^;]+;/.test(s)), "purposes 1 and 6 have consent");
    for (const tc of [TC_1_3_4_7, "not-a-tc-string"]) {
      const no = await get(w.base + "/", { headers: { cookie: `euconsent-v2=${tc}` } });
      assert.equal(no.status, 200);
      assert.deepEqual(setCookies(no), [], tc);
    }
  });

  it("/vitrine/collect records nothing without consent", async () => {
    const jar = new Jar();
    jar.cookies.set("cmp", "yes");
    await get(w.base + "/", { jar });
    const body = JSON.stringify({ type: "conversion", v: 1, kind: "add_to_cart", sku: "consent-sku" }) + "\n";
    jar.cookies.set("cmp", "no");
    const refused = await get(w.base + "/vitrine/collect", { method: "POST", body, jar, headers: { "content-type": "text/plain" } });
    assert.equal(refused.status, 204);
    jar.cookies.set("cmp", "yes");
    const taken = await get(w.base + "/vitrine/collect", { method: "POST", body: body.replace("consent-sku", "consented-sku"), jar, headers: { "content-type": "text/plain" } });
    assert.equal(taken.status, 204);
    assert.equal((await awaitRecords(out, (r) => r.sku === "consented-sku", 1)).length, 1);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(records(out).filter((r) => r.sku === "consent-sku").length, 0);
  });
});
