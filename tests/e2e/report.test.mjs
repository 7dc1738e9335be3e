// The `vitrine analyze --html` report in Debian's headless Chromium: synthetic traffic with a
// planted uplift through the real pipeline (`vitrine simulate --events-out`), analyzed; the
// page draws a forest plot per experiment and metric and the cumulative uplift, loads nothing
// from the network, and is saved as a screenshot in tests/artifacts/report.png.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ROOT } from "../edge/harness.mjs";

const ARTIFACTS = join(ROOT, "tests/artifacts");
mkdirSync(ARTIFACTS, { recursive: true });
const VITRINE = join(ROOT, "target/debug/vitrine");

describe("the HTML report", () => {
  let browser, dir;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "vitrine-report-"));
    execFileSync(VITRINE, ["simulate", "--synthetic", "6000", "--seed", "2", "--purchase-rate", "0.3", "--plant", "hero-holdout:treatment=+25%", "--events-out", dir]);
    execFileSync(VITRINE, ["analyze", dir, "--metric", "purchase,revenue", "--html", join(dir, "report.html")]);
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("draws intervals and the cumulative view, self-contained", async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 1200 } });
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto("file://" + join(dir, "report.html"));
    assert.ok(requests.every((u) => u.startsWith("file://")), `network requests: ${requests}`);
    const sections = await page.$$eval("section h2", (hs) => hs.map((h) => h.textContent));
    assert.ok(sections.some((t) => t.startsWith("hero-holdout purchase")), sections.join("\n"));
    // Each row with enough data is a dot on its interval, inside the plot.
    const holdout = page.locator("section", { hasText: "hero-holdout purchase" });
    const dots = await holdout.locator("svg.forest circle").count();
    assert.equal(dots, 1, "treatment vs control, whole population");
    const svg = await holdout.locator("svg.forest").boundingBox();
    const dot = await holdout.locator("svg.forest circle").boundingBox();
    assert.ok(dot.x >= svg.x && dot.x + dot.width <= svg.x + svg.width && dot.y >= svg.y && dot.y <= svg.y + svg.height);
    const title = await holdout.locator("svg.forest circle title").textContent();
    assert.match(title, /^treatment: \+\d+\.\d% \[/);
    assert.equal(await holdout.locator("svg.timeline polyline").count(), 1, "the cumulative uplift over the days");
    await page.screenshot({ path: join(ARTIFACTS, "report.png"), fullPage: true });
  });
});
