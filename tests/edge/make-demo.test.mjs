// `make demo` itself, as the README tells a newcomer to run it: the worker in `wrangler dev` in
// front of the demo store, with the local collector. Browse, buy, and the exposures, the page
// records and the purchase are in the events directory under one visitor id. Ports and the
// events directory are moved (make variables) so that a running demo is left alone.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, UA, freePort, Jar, get, applied, awaitRecords } from "./harness.mjs";

describe("make demo", () => {
  let child, base, out, log = "";
  before(async () => {
    out = mkdtempSync(join(tmpdir(), "vitrine-make-demo-"));
    const [port, collect, origin, inspector] = [await freePort(), await freePort(), await freePort(), await freePort()];
    child = spawn("make", ["--no-print-directory", "demo", `DEMO_PORT=${port}`, `COLLECT_PORT=${collect}`, `ORIGIN_PORT=${origin}`, `INSPECTOR_PORT=${inspector}`, `EVENTS_DIR=${out}`], {
      cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (d) => (log += d));
    child.stderr.on("data", (d) => (log += d));
    base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const r = await fetch(base + "/", { headers: { "user-agent": UA }, signal: AbortSignal.timeout(30_000) });
        await r.arrayBuffer();
        if (r.status === 200) return;
      } catch {}
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`make demo did not serve ${base}:\n${log}`);
  });
  after(async () => {
    // `make demo` stops its collector and origin with it (trap 'kill 0'); the group is killed
    // outright if it does not stop within 10 s.
    if (child && child.exitCode === null) {
      try { process.kill(-child.pid, "SIGTERM"); } catch {}
      const stopped = await Promise.race([new Promise((r) => child.once("exit", () => r(true))), new Promise((r) => setTimeout(() => r(false), 10_000))]);
      if (!stopped) try { process.kill(-child.pid, "SIGKILL"); } catch {}
    }
    rmSync(out, { recursive: true, force: true });
  });

  it("browse and buy: exposures, page records and the purchase under one visitor id", async () => {
    const jar = new Jar();
    const home = await get(base + "/?utm_campaign=trail-fall", { jar });
    assert.equal(home.status, 200);
    assert.equal(applied(home.text, 'data-vt-slot="grid"'), "reorder");
    for (const p of ["/c/hiking", "/p/hiking-summit-pack", "/cart"]) assert.equal((await get(base + p, { jar })).status, 200, p);
    const thanks = await get(base + "/order/thanks?order=D-1&total=189.00", { jar });
    assert.match(thanks.text, /Thank you for your order/);
    const [purchase] = await awaitRecords(out, (r) => r.type === "conversion" && r.order === "D-1", 1, 20_000);
    assert.ok(purchase, `no purchase in ${out}:\n${log}`);
    assert.deepEqual([purchase.value, purchase.currency, purchase.trust, purchase.source], [189, "USD", "signed", "origin"]);
    // An exposure per slot on each page: 6 on the home and category pages, 5 on the product
    // page (no cta), 3 on the cart and the confirmation page (no hero, grid or cta).
    const exposures = await awaitRecords(out, (r) => r.type === "exposure" && r.visitor === purchase.visitor, 6 + 6 + 5 + 3 + 3, 20_000);
    assert.equal(exposures.length, 6 + 6 + 5 + 3 + 3);
    assert.equal(exposures.filter((e) => e.slot === "grid").length, 3, "the grid where the page has it");
    const pages = await awaitRecords(out, (r) => r.type === "page" && r.visitor === purchase.visitor, 5, 20_000);
    assert.equal(pages.length, 5);
    assert.ok(pages.some((p) => p.query.some(([k, v]) => k === "utm_campaign" && v === "trail-fall")));
  });
});
