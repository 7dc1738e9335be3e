// The HTTP layer around the engine, in real workerd (`wrangler dev`): safe key defaults, cache
// headers, conditional requests, charsets, and an origin that misbehaves in the ordinary ways
// (a fault origin this suite controls). Every case asserts what the shopper gets, and that no
// 5xx comes from Vitrine: origin faults are answered 502/504, everything else is the origin's.
// Run by `make test-edge`.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { execFileSync } from "node:child_process";
import { gzipSync, deflateSync } from "node:zlib";
import { join } from "node:path";
import { ROOT, UA, DEBUG_TOKEN, startWorker, freePort, mintCookie, Jar, get, applied } from "./harness.mjs";

const debug = { "x-vitrine-debug": DEBUG_TOKEN };
const explain = (res) => JSON.parse(res.headers.get("x-vitrine-explain"));
/** Waits (bounded) for the worker's log to match: wrangler prints console output a little later. */
async function logMatches(w, re, ms = 5000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !re.test(w.log())) await new Promise((r) => setTimeout(r, 100));
  return w.log();
}
const DEV_TRAITS_KEYS = "0:ZGV2ZWxvcG1lbnQtdHJhaXRzLWtleS1ub3QtZm9yLXByb2R1Y3Rpb24";

const page = (hero = "<h1>Origin hero</h1>") => `<!doctype html><html><head><title>t</title></head><body>
<section data-vt-test="hero">${hero}</section>
<ul data-vt-test="grid"><li data-vt-test-item data-cat="b">B1</li><li data-vt-test-item data-cat="a">A1</li><li data-vt-test-item data-cat="b">B2</li></ul>
</body></html>`;

/** The fault origin: every route misbehaves in one way; `seen` keeps the request headers by path. */
async function startFaultOrigin() {
  const seen = new Map();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://origin");
    const p = url.pathname;
    seen.set(p, req.headers);
    const html = { "content-type": "text/html; charset=utf-8" };
    switch (p) {
      case "/cached.html":
        res.writeHead(200, {
          ...html,
          "cache-control": "public, max-age=600",
          "cdn-cache-control": "max-age=3600",
          "cloudflare-cdn-cache-control": "max-age=86400",
          "surrogate-control": "max-age=3600",
          expires: "Thu, 01 Jan 2037 00:00:00 GMT",
          "last-modified": "Mon, 01 Dec 2025 00:00:00 GMT",
          "accept-ranges": "bytes",
          etag: '"v1"',
        });
        return res.end(page());
      case "/account.html":
        res.writeHead(200, { ...html, "cache-control": "no-store, max-age=0" });
        return res.end(page());
      case "/revalidate.html":
      case "/logo.png": {
        // Answers 304 to any conditional request, as a real origin does.
        const conditional = req.headers["if-none-match"] || req.headers["if-modified-since"];
        const type = p.endsWith(".png") ? "image/png" : "text/html; charset=utf-8";
        if (conditional) {
          res.writeHead(304, { etag: '"v1"' });
          return res.end();
        }
        res.writeHead(200, { "content-type": type, etag: '"v1"', "last-modified": "Mon, 01 Dec 2025 00:00:00 GMT" });
        return res.end(p.endsWith(".png") ? Buffer.from([0x89, 0x50, 0x4e, 0x47]) : page());
      }
      case "/cp1252.html":
        res.writeHead(200, { "content-type": "text/html; charset=windows-1252" });
        return res.end(Buffer.from(page("<h1>D\xe9j\xe0 vu</h1>"), "latin1"));
      case "/sjis.html": {
        // 日本 in Shift_JIS, the charset declared only in <meta>.
        res.writeHead(200, { "content-type": "text/html" });
        const [head, tail] = page("<h1>@</h1>").split("@");
        return res.end(Buffer.concat([Buffer.from('<meta charset="shift_jis">' + head), Buffer.from([0x93, 0xfa, 0x96, 0x7b]), Buffer.from(tail)]));
      }
      case "/cut.html":
        res.writeHead(200, html);
        res.write(page().replace("</body></html>", "") + "<p>filler</p>".repeat(4000));
        return setTimeout(() => res.socket.destroy(), 100);
      case "/cut-length.html": {
        const body = Buffer.from(page().replace("</body></html>", "") + "<p>filler</p>".repeat(4000));
        res.writeHead(200, { ...html, "content-length": String(body.length * 2) });
        res.write(body);
        return setTimeout(() => res.socket.destroy(), 100);
      }
      case "/deflate.html":
        res.writeHead(200, { ...html, "content-encoding": "deflate" });
        return res.end(deflateSync(page()));
      case "/gzip.html":
        res.writeHead(200, { ...html, "content-encoding": "gzip" });
        return res.end(gzipSync(page()));
      case "/reset":
        return req.socket.destroy();
      case "/garbled":
        req.socket.end("HTTP/1.1 ??? not http\r\n\r\n\x00\x01garbage");
        return;
      case "/stall":
        return; // never answers; closed by stop()
      case "/bytes.html": {
        // One byte per write, each flushed on its own.
        res.writeHead(200, html);
        req.socket.setNoDelay(true);
        for (const b of Buffer.from(page())) {
          res.write(Buffer.from([b]));
          await new Promise((r) => setImmediate(r));
        }
        return res.end();
      }
      case "/redirect-cookie":
        res.writeHead(302, { location: "/cached.html", "set-cookie": "session=abc; Path=/; HttpOnly" });
        return res.end();
      case "/huge-tag.html":
        // A tag over lol_html's 4 MiB memory limit inside the hero.
        res.writeHead(200, html);
        return res.end(page(`<h1>Origin hero</h1><img alt="${"x".repeat(5 * 1024 * 1024)}"><p>rest of the hero</p>`));
      case "/huge-grid.html": {
        // 400,000 grid items: far past the 256 KiB reorder buffer.
        res.writeHead(200, html);
        res.write('<!doctype html><html><body><section data-vt-test="hero"><h1>Origin hero</h1></section><ul data-vt-test="grid">');
        const block = Array.from({ length: 1000 }, (_, i) => `<li data-vt-test-item data-cat="${i % 2 ? "a" : "b"}">${i}</li>`).join("");
        for (let i = 0; i < 400; i++) {
          if (!res.write(block)) await new Promise((r) => res.once("drain", r));
        }
        return res.end("</ul></body></html>");
      }
      default:
        res.writeHead(200, html);
        return res.end(page());
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

describe("a deployment without secrets trusts nothing", () => {
  let w;
  before(async () => {
    w = await startWorker({ config: "tests/edge/demo.wrangler.toml", port: await freePort(), inspectorPort: await freePort(), devKeys: false, vars: { VITRINE_DEBUG_TOKEN: DEBUG_TOKEN } });
  });
  after(() => w?.stop());

  it("state and traits signed with the public development keys are not trusted", async () => {
    const traits = execFileSync(join(ROOT, "target/debug/vitrine"), ["sign-traits", "--keys", DEV_TRAITS_KEYS, "--purchases", "5", "--aov", "220"]).toString().trim();
    const state = mintCookie("07".repeat(16), ["/c/hiking", "/c/hiking", "/c/hiking"]);
    const r = await get(w.base + "/", { headers: { cookie: `vt=${state}; vt_t=${traits}`, ...debug } });
    assert.equal(r.status, 200);
    const report = explain(r);
    assert.equal(report.trust, "unsigned");
    assert.ok(!report.segments.includes("loyal_high_value"), `segments: ${report.segments}`);
    assert.notEqual(applied(r.text, 'data-vt-slot="offer"'), "loyal-10");
    assert.equal(report.state.fresh, true, "a cookie signed with the public key is not read");
    assert.match(await logMatches(w, /VITRINE_STATE_KEYS is not set/), /VITRINE_STATE_KEYS is not set: state is unsigned/);
  });

  it("still personalizes from behaviour, with an unsigned state", async () => {
    const jar = new Jar();
    for (const p of ["/c/hiking", "/c/hiking", "/c/hiking", "/p/hiking-summit-pack"]) await get(w.base + p, { jar });
    const r = await get(w.base + "/", { jar, headers: debug });
    assert.equal(explain(r).trust, "unsigned");
    assert.ok(explain(r).state.scores.hiking > 30, JSON.stringify(explain(r).state.scores));
    assert.ok(explain(r).segments.includes("hiker"));
  });
});

describe("origin faults behind the worker", () => {
  let o, w;
  before(async () => {
    o = await startFaultOrigin();
    w = await startWorker({
      config: "tests/edge/origin.wrangler.toml",
      port: await freePort(),
      inspectorPort: await freePort(),
      vars: { ORIGIN_URL: o.url, VITRINE_DEBUG_TOKEN: DEBUG_TOKEN, VITRINE_ORIGIN_TIMEOUT_MS: "5000", VITRINE_TEST_PANIC: "1" },
      kvConfig: join(ROOT, "tests/edge/faults.config.json"),
    });
  });
  after(async () => {
    w?.stop();
    await o?.close();
  });

  it("personalized pages drop CDN cache directives, validators and Accept-Ranges", async () => {
    const r = await get(w.base + "/cached.html");
    assert.equal(r.status, 200);
    assert.equal(applied(r.text, 'data-vt-test="hero"'), "test-hero");
    assert.equal(r.headers.get("cache-control"), "private, no-cache");
    for (const h of ["cdn-cache-control", "cloudflare-cdn-cache-control", "surrogate-control", "expires", "last-modified", "accept-ranges", "etag", "content-length"]) {
      assert.equal(r.headers.get(h), null, h);
    }
  });

  it("an origin's no-store stays no-store", async () => {
    const r = await get(w.base + "/account.html");
    assert.equal(applied(r.text, 'data-vt-test="hero"'), "test-hero");
    assert.equal(r.headers.get("cache-control"), "private, no-store");
  });

  it("conditional requests for a page reach the origin unconditional; an image's stay conditional", async () => {
    const conditional = { "if-none-match": '"v1"', "if-modified-since": "Mon, 01 Dec 2025 00:00:00 GMT", "if-range": '"v1"', accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
    const r = await get(w.base + "/revalidate.html", { headers: conditional });
    assert.equal(r.status, 200, "a fresh personalized page, not the origin's 304");
    assert.equal(applied(r.text, 'data-vt-test="hero"'), "test-hero");
    for (const h of ["if-none-match", "if-modified-since", "if-range"]) assert.equal(o.seen.get("/revalidate.html")[h], undefined, h);
    const img = await get(w.base + "/logo.png", { headers: { ...conditional, accept: "image/avif,image/webp,image/*" } });
    assert.equal(img.status, 304);
    assert.equal(o.seen.get("/logo.png")["if-none-match"], '"v1"');
  });

  it("variants are written in the page's encoding: windows-1252 by header, Shift_JIS by <meta>", async () => {
    const cp = await get(w.base + "/cp1252.html");
    assert.equal(cp.headers.get("content-type"), "text/html; charset=windows-1252");
    const latin = cp.body.toString("latin1");
    assert.ok(latin.includes("<h1>Caf\xe9 \x96 20 \x80 &#26085;&#26412;</h1>"), latin.slice(0, 400));
    const sj = await get(w.base + "/sjis.html");
    const text = new TextDecoder("shift_jis", { fatal: true }).decode(sj.body);
    assert.ok(text.includes("<h1>Caf&#233; &#8211; 20 &#8364; 日本</h1>"), text.slice(0, 400));
    // NOTE: UTF-16 pages, which pass through untouched, are tested natively (tests/rewrite.rs):
    // workerd's fetch fails on a UTF-16 response from Node ("Network connection lost").
  });

  it("a Content-Encoding the runtime did not decode passes through untouched", async () => {
    const direct = await fetch(o.url + "/deflate.html", { headers: { "user-agent": UA } });
    const via = await fetch(w.base + "/deflate.html", { headers: { "user-agent": UA } });
    assert.equal(via.status, 200);
    assert.equal(via.headers.get("content-encoding"), "deflate");
    assert.deepEqual(via.headers.getSetCookie(), []);
    assert.equal(via.headers.get("server-timing"), null);
    assert.equal(via.headers.get("cache-control"), direct.headers.get("cache-control"));
    assert.equal(await via.text(), await direct.text());
    // gzip is decoded by the runtime, so that page is personalized.
    const gz = await get(w.base + "/gzip.html");
    assert.equal(applied(gz.text, 'data-vt-test="hero"'), "test-hero");
  });

  it("an origin that resets or is not HTTP gets 502, one that stalls 504, never Vitrine's 500", async () => {
    for (const path of ["/reset", "/garbled"]) {
      const r = await get(w.base + path);
      assert.equal(r.status, 502, path);
      assert.match(r.text, /502 Bad Gateway/, path);
      assert.equal(r.headers.get("cache-control"), "no-store", path);
    }
    const t0 = Date.now();
    const stalled = await get(w.base + "/stall");
    const took = Date.now() - t0;
    assert.equal(stalled.status, 504);
    assert.match(stalled.text, /504 Gateway Timeout/);
    assert.ok(took >= 4900 && took < 30_000, `answered after ${took} ms (timeout 5000 ms)`);
  });

  it("the debug token, its cookie and Vitrine's headers never reach the origin", async () => {
    const r = await get(w.base + "/headers.html", { headers: { ...debug, cookie: `a=1; vt_debug=${DEBUG_TOKEN}; b=2`, "x-vitrine-country": "DE" } });
    assert.equal(r.status, 200);
    assert.ok(r.headers.get("x-vitrine-explain"), "the token still works at the worker");
    const seen = o.seen.get("/headers.html");
    assert.equal(seen["x-vitrine-debug"], undefined);
    assert.equal(seen["x-vitrine-country"], undefined);
    assert.equal(seen.cookie, "a=1; b=2");
    assert.ok(!JSON.stringify(seen).includes(DEBUG_TOKEN));
  });

  it("a body cut mid-stream is not completed by the worker", async () => {
    for (const path of ["/cut.html", "/cut-length.html"]) {
      let outcome;
      try {
        const r = await fetch(w.base + path, { headers: { "user-agent": UA, "accept-encoding": "identity" } });
        const body = await r.text();
        outcome = { status: r.status, body };
      } catch (e) {
        outcome = { error: e };
      }
      if (outcome.error) continue; // the cut is visible to the client: what we want
      // FIXME(workerd#6818): workerd ends an errored response stream cleanly, so the client
      // sees a clean (truncated) end. The worker errors the stream: its log says so, and the
      // page is never completed (no closing tags that the origin did not send).
      assert.equal(outcome.status, 200, path);
      assert.ok(!outcome.body.includes("</html>"), `${path}: completed`);
      assert.match(await logMatches(w, /aborting the response/), /origin body failed mid-stream .*aborting the response/, path);
    }
  });

  it("1-byte chunks give the same page as one write", async () => {
    const whole = await get(w.base + "/page.html", { headers: debug });
    const bytes = await get(w.base + "/bytes.html", { headers: debug });
    assert.equal(applied(bytes.text, 'data-vt-test="hero"'), "test-hero");
    assert.equal(bytes.text, whole.text);
  });

  it("redirects pass through with the origin's cookies and none of Vitrine's", async () => {
    const r = await get(w.base + "/redirect-cookie");
    assert.equal(r.status, 302);
    assert.equal(r.headers.get("location"), "/cached.html");
    assert.deepEqual(r.headers.getSetCookie(), ["session=abc; Path=/; HttpOnly"]);
  });

  it("a hero holding a tag over the parser's limit is left as the origin sent it", async () => {
    const direct = await get(o.url + "/huge-tag.html");
    const r = await get(w.base + "/huge-tag.html");
    assert.equal(r.status, 200);
    assert.ok(!r.text.includes("Café"), "no variant in a slot left as origin");
    assert.equal(applied(r.text, 'data-vt-test="hero"'), "origin");
    const unmarked = r.text.replace(' data-vt-applied="origin"', "");
    assert.equal(unmarked.length, direct.text.length);
    assert.ok(unmarked === direct.text, "the origin's bytes");
  });

  it("400,000 grid items past the buffer keep the origin order and bounded memory", async () => {
    const memory = async () => Number((await get(w.base + "/page.html", { headers: debug })).headers.get("x-vitrine-memory"));
    const before = await memory();
    const r = await get(w.base + "/huge-grid.html");
    assert.equal(r.status, 200);
    const items = [...r.text.matchAll(/<li data-vt-test-item data-cat="[ab]">(\d+)<\/li>/g)].map((m) => m[1]);
    assert.equal(items.length, 400_000);
    assert.deepEqual(items.slice(0, 3), ["0", "1", "2"], "origin order");
    const grown = (await memory()) - before;
    assert.ok(grown <= 4 * 1024 * 1024, `wasm memory grew by ${grown} bytes`);
  });

  it("a panic with streams in flight: the worker recovers; cut streams end as the platform ends them", async () => {
    const streams = Array.from({ length: 4 }, () =>
      fetch(w.base + "/huge-grid.html", { headers: { "user-agent": UA, "accept-encoding": "identity" } })
        .then((r) => r.text())
        .catch(() => null),
    );
    await new Promise((r) => setTimeout(r, 100));
    const panicked = await get(w.base + "/page.html", { headers: { ...debug, "x-vitrine-test-panic": "1" } });
    assert.equal(panicked.status, 200, "the panicking request gets the origin page");
    // FIXME(workerd#6818): a stream cut by the panic ends cleanly at the client instead of with
    // an error. None may look complete without being complete.
    for (const text of await Promise.all(streams)) {
      if (text === null || !text.endsWith("</html>")) continue;
      assert.equal([...text.matchAll(/<li data-vt-test-item/g)].length, 400_000, "a complete-looking page holds every item");
    }
    const next = await get(w.base + "/page.html", { headers: debug });
    assert.equal(next.status, 200);
    assert.equal(applied(next.text, 'data-vt-test="hero"'), "test-hero");
  });
});
