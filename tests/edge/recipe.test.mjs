// docs/edge.md, "Try it locally in front of your own origin", run as written: the worker in
// `wrangler dev` (the repository's wrangler.toml, its [build] compiling VITRINE_CONFIG into the
// worker), keys and the debug token from `.dev.vars`, in front of a local origin that knows
// nothing of Vitrine and serves an unmodified page (docs/examples/category.html) with the
// config written for its markup (docs/examples/real-markup.json).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, rmSync, mkdtempSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, UA, freePort, Jar, get, applied } from "./harness.mjs";

const TOKEN = "letmesee";
const CATEGORY = readFileSync(join(ROOT, "docs/examples/category.html"), "utf8");
const product = (slug) => `<!doctype html><html><body><section class="hero-banner"><h1>${slug}</h1></section></body></html>`;

describe("docs/edge.md: try it locally in front of your own origin", () => {
  let origin, child, base, log = "", devVars = null, scratch;
  const devVarsPath = join(ROOT, ".dev.vars");
  const build = join(ROOT, "build");
  before(async () => {
    // The recipe's [build] compiles its config into build/: the demo's worker that the other
    // suites of this `make` run use is put back afterwards.
    scratch = mkdtempSync(join(tmpdir(), "vitrine-recipe-"));
    if (existsSync(build)) cpSync(build, join(scratch, "build"), { recursive: true, preserveTimestamps: true });
    origin = createServer((req, res) => {
      const p = new URL(req.url, "http://o").pathname;
      if (p.startsWith("/c/")) {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        return res.end(CATEGORY);
      }
      if (p.startsWith("/p/")) {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        return res.end(product(p.slice(3)));
      }
      res.writeHead(404, { "content-type": "text/plain", "x-from-origin": "yes" });
      res.end("origin: not found");
    });
    await new Promise((r) => origin.listen(0, "127.0.0.1", r));
    // The recipe's `.dev.vars`; a developer's own is put back afterwards.
    if (existsSync(devVarsPath)) devVars = readFileSync(devVarsPath);
    writeFileSync(devVarsPath, `VITRINE_ALLOW_DEV_KEYS=1\nVITRINE_DEBUG_TOKEN=${TOKEN}\n`);
    const [port, inspector] = [await freePort(), await freePort()];
    child = spawn(join(ROOT, "node_modules/.bin/wrangler"), [
      "dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
      "--var", `ORIGIN_URL:http://127.0.0.1:${origin.address().port}`,
      "--persist-to", scratch, "--show-interactive-dev-session=false",
    ], {
      cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, VITRINE_CONFIG: "docs/examples/real-markup.json", WRANGLER_SEND_METRICS: "false" },
    });
    child.stdout.on("data", (d) => (log += d));
    child.stderr.on("data", (d) => (log += d));
    base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 400_000;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const r = await fetch(base + "/c/hiking/", { headers: { "user-agent": UA }, signal: AbortSignal.timeout(30_000) });
        await r.arrayBuffer();
        if (r.status === 200) return;
      } catch {}
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`wrangler dev did not serve ${base}:\n${log}`);
  });
  after(async () => {
    if (child && child.exitCode === null) {
      try { process.kill(-child.pid, "SIGTERM"); } catch {}
      const stopped = await Promise.race([new Promise((r) => child.once("exit", () => r(true))), new Promise((r) => setTimeout(() => r(false), 10_000))]);
      if (!stopped) try { process.kill(-child.pid, "SIGKILL"); } catch {}
    }
    if (devVars) writeFileSync(devVarsPath, devVars);
    else rmSync(devVarsPath, { force: true });
    await new Promise((r) => origin?.close(r));
    if (scratch && existsSync(join(scratch, "build"))) {
      rmSync(build, { recursive: true, force: true });
      cpSync(join(scratch, "build"), build, { recursive: true, preserveTimestamps: true });
    }
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("personalizes the unmodified page: hero, offer, and the grid reordered by keys from its links", async () => {
    const jar = new Jar();
    for (const p of ["/p/hiking-ridge-boot", "/p/hiking-summit-pack"]) assert.equal((await get(base + p, { jar })).status, 200, p);
    const r = await get(base + "/c/hiking/", { jar });
    assert.equal(r.status, 200);
    assert.equal(applied(r.text, 'class="hero-banner"'), "hero-hiking");
    assert.match(r.text, /Trail-ready boots &amp; packs/);
    assert.equal(applied(r.text, 'id="promo-strip"'), "free-shipping");
    assert.equal(applied(r.text, 'class="product-grid"'), "reorder");
    const order = [...r.text.matchAll(/href="\/p\/([a-z-]+)"/g)].map((m) => m[1]);
    assert.deepEqual(order, ["hiking-ridge-boot", "hiking-summit-pack", "running-tempo-shoe", "camping-dome-tent", "running-trail-vest"]);
    // Outside the slots, the origin's bytes.
    const strip = (html) => html.replace(/<section class="hero-banner".*?<\/section>|<div id="promo-strip".*?<\/div>|<ul class="product-grid".*?<\/ul>/gs, "");
    assert.equal(strip(r.text), strip(CATEGORY));
  });

  it("curl gets the origin's page, and with the debug token the reason; a browser's user agent gets the report", async () => {
    const curl = await get(base + "/c/hiking/", { headers: { "user-agent": "curl/8.5.0", "x-vitrine-debug": TOKEN } });
    assert.equal(curl.text, CATEGORY);
    assert.match(JSON.parse(curl.headers.get("x-vitrine-explain")).why, /^bot user agent/);
    const browser = await get(base + "/c/hiking/", { headers: { "x-vitrine-debug": TOKEN } });
    const report = JSON.parse(browser.headers.get("x-vitrine-explain"));
    assert.equal(report.page.type, "category");
    assert.match(report.decisions.find((d) => d.slot === "grid").reason.text, /^reorder by href of a\.product-link: hiking=10/);
  });

  it("serves the script tag's files itself, with the config it runs", async () => {
    const js = await get(base + "/vitrine/vitrine.js");
    assert.equal(js.status, 200);
    assert.equal(js.headers.get("x-from-origin"), null);
    assert.ok(js.body.equals(readFileSync(join(ROOT, "www/store/vitrine/vitrine.js"))));
    const bin = await get(base + "/vitrine/config.bin");
    const file = join(scratch, "expected.bin");
    execFileSync(join(ROOT, "target/debug/vitrine"), ["compile", "docs/examples/real-markup.json", "-o", file], { cwd: ROOT, stdio: "ignore" });
    assert.ok(bin.body.equals(readFileSync(file)), "docs/examples/real-markup.json, compiled");
    // Whatever configuration the loader was built with, the name it asks for is the worker's.
    const site = JSON.parse(js.text.split("/*vitrine:site*/")[1]);
    assert.ok((await get(base + "/vitrine/" + site.config)).body.equals(bin.body));
  });

  it("builds the worker once per start", () => {
    // wrangler 4.86 runs [build] twice (workers-sdk#7934): the second `make worker` finds
    // nothing changed and skips the wasm build.
    assert.equal((log.match(/Compiling to Wasm/g) || []).length, 1, log);
  });
});
